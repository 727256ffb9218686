"""agents/curves.py read_scalars on hand-written event files: the tag asked for only, tensor scalars,
a step going back (a resume, with or without a session start) replacing the points from it on, files
read in name order, and minutes counted by session whatever the file names; plot_curve's figure (both
panels, baseline, title, legend)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util.tensor_util import make_tensor_proto

from agents.curves import read_scalars
from tests.conftest import ROOT

TAG = "rollout/score_mean"


def write_events(run: Path, name: str, start: float, events: list[Event]) -> None:
    (run / "tb").mkdir(exist_ok=True)
    with open(run / "tb" / f"events.out.tfevents.{name}", "wb") as f:
        writer = RecordWriter(f)
        writer.write(Event(wall_time=start, file_version="brain.Event:2").SerializeToString())
        for event in events:
            writer.write(event.SerializeToString())


def scalar(wall: float, step: int, value: float, tag: str = TAG) -> Event:
    value_pb = Summary.Value(tag=tag, simple_value=value)
    return Event(wall_time=wall, step=step, summary=Summary(value=[value_pb]))


def tensor_scalar(wall: float, step: int, value: float, tag: str = TAG) -> Event:
    """A scalar as TF2's summaries write it: a tensor with the scalars plugin's metadata."""
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    value_pb = Summary.Value(tag=tag, metadata=meta, tensor=make_tensor_proto(np.float32(value)))
    return Event(wall_time=wall, step=step, summary=Summary(value=[value_pb]))


def test_only_the_tag_asked_for_with_tensor_scalars(tmp_path):
    write_events(tmp_path, "1000.host", 1000.0, [
        scalar(1010.0, 100, 1.0), scalar(1010.0, 100, 99.0, tag="time/sps"), scalar(1020.0, 200, 2.0),
        tensor_scalar(1030.0, 300, 3.0), tensor_scalar(1030.0, 300, 77.0, tag="train/value_loss")])
    steps, values, _ = read_scalars(tmp_path, TAG)
    assert steps.tolist() == [100, 200, 300] and values.tolist() == [1.0, 2.0, 3.0]
    assert read_scalars(tmp_path, "train/value_loss")[1].tolist() == [77.0]


@pytest.mark.parametrize(("first", "expected"), [(200, ([100, 200, 300], [1.0, 20.0, 30.0])),
                                               (250, ([100, 250, 300], [1.0, 25.0, 30.0]))])
def test_a_resume_drops_the_points_at_and_past_its_step(tmp_path, first, expected):
    # A session start at step 200 hides the earlier session's points at 200 and past, which it logs again;
    # the point at 200 too where the resumed session's first point comes after it (TensorBoard's purge drops
    # it: the crashed session's value there stayed on the curve, no rule on steps going back caught it).
    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0), scalar(1120.0, 200, 2.0),
                                                 scalar(1180.0, 300, 3.0)])
    write_events(tmp_path, "5000.host", 5000.0, [
        Event(wall_time=5000.0, step=200, session_log=SessionLog(status=SessionLog.START)),
        scalar(5060.0, first, first / 10.0), scalar(5120.0, 300, 30.0)])
    steps, values, _ = read_scalars(tmp_path, TAG)
    assert (steps.tolist(), values.tolist()) == expected


def test_minutes_count_sessions_in_time_order_whatever_the_file_names(tmp_path):
    # The later session's file sorts first by name (and so is read first: it holds the lower steps, or
    # the other file's would replace them). A point logged as a session starts (wall == its start) counts
    # the earlier sessions' training only.
    write_events(tmp_path, "a", 5000.0, [scalar(5000.0, 100, 1.0), scalar(5060.0, 200, 2.0)])
    write_events(tmp_path, "b", 1000.0, [scalar(1060.0, 300, 3.0), scalar(1120.0, 400, 4.0)])
    steps, _, minutes = read_scalars(tmp_path, TAG)
    assert steps.tolist() == [100, 200, 300, 400]
    assert minutes.tolist() == pytest.approx([2.0, 3.0, 1.0, 2.0])


# What `tensorboard --logdir` (its data server) showed for these files: a step that goes back replaces
# the tag's points from that step on, with or without a session start (runs resumed before 0c9399f wrote
# none; the curve zigzagged between the two sessions' points).
@pytest.mark.parametrize("second, shown", [
    ([(200, 20.0), (300, 30.0)], [(100, 1.0), (200, 20.0), (300, 30.0)]),
    ([(250, 25.0), (350, 35.0)], [(100, 1.0), (200, 2.0), (250, 25.0), (350, 35.0)]),
])
def test_a_step_going_back_replaces_the_points_from_it_on(tmp_path, second, shown):
    first = [scalar(1000.0 + 60 * k, 100 * k, float(k)) for k in (1, 2, 3, 4)]
    write_events(tmp_path, "1000.host", 1000.0, first)
    write_events(tmp_path, "5000.host", 5000.0, [scalar(5060.0 + k, *p) for k, p in enumerate(second)])
    steps, values, _ = read_scalars(tmp_path, TAG)
    assert list(zip(steps.tolist(), values.tolist(), strict=True)) == shown


def test_a_step_logged_twice_keeps_its_last_value(tmp_path):
    points = [(100, 1.0), (200, 2.0), (200, 20.0), (300, 3.0)]
    write_events(tmp_path, "1000.host", 1000.0, [scalar(1000.0 + k, *p) for k, p in enumerate(points)])
    steps, values, _ = read_scalars(tmp_path, TAG)
    assert steps.tolist() == [100, 200, 300] and values.tolist() == [1.0, 20.0, 3.0]


def test_sessions_are_read_in_file_name_order_whatever_the_folder_lists_first(tmp_path):
    # Six sessions, each resumed at its own step and logging past the next one's: only the files read in
    # name order (TensorBoard's, the time order of their names) leave each step's latest value.
    for i in range(6):
        resume = SessionLog(status=SessionLog.START)
        start = [Event(wall_time=1000.0 * (i + 1), step=100 * i, session_log=resume)]
        points = [scalar(1000.0 * (i + 1) + j, 100 * (i + j), float(i)) for j in range(3)]
        write_events(tmp_path, f"{1000 * (i + 1)}.host", 1000.0 * (i + 1), (start if i else []) + points)
    steps, values, _ = read_scalars(tmp_path, TAG)
    assert steps.tolist() == [0, 100, 200, 300, 400, 500, 600, 700]
    assert values.tolist() == [0, 1, 2, 3, 4, 5, 5, 5]


# A baseline of 0 (a random agent that never scores) is drawn too, not taken for "no baseline".
@pytest.mark.parametrize("title, baseline", [("Snake 10x10", 0.25), (None, None), (None, 0.0)])
def test_the_figure_draws_score_against_steps_and_minutes_with_its_baseline_and_title(
        tmp_path, monkeypatch, title, baseline):
    import matplotlib.figure

    from agents.curves import plot_curve

    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100_000, 1.0), scalar(1120.0, 200_000, 2.0)])
    write_events(tmp_path, "5000.host", 5000.0, [scalar(5060.0, 300_000, 3.0)])
    figures = []

    def savefig(self, fname, *args, **kwargs):
        figures.append(self)
        Path(fname).write_bytes(b"\x89PNG")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    plot_curve(tmp_path, tmp_path / "curve.png", TAG, title, baseline)
    (fig,) = figures
    steps_ax, time_ax = fig.axes
    assert fig._suptitle.get_text() == (title or str(tmp_path))
    assert (steps_ax.get_xlabel(), time_ax.get_xlabel()) == ("env steps (millions)", "wall clock (minutes)")
    curve, *rest = steps_ax.get_lines()
    assert curve.get_xdata().tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert curve.get_ydata().tolist() == [1.0, 2.0, 3.0] and curve.get_label() == "score_mean"
    assert curve.get_marker() == "None"  # a line, its points unmarked (one point alone is a dot)
    assert time_ax.get_lines()[0].get_xdata().tolist() == pytest.approx([1.0, 2.0, 3.0])  # the pause left out
    if baseline is None:
        assert rest == [] and len(time_ax.get_lines()) == 1
    else:
        for ax in (steps_ax, time_ax):
            line = ax.get_lines()[1]
            assert set(line.get_ydata()) == {baseline} and line.get_label() == "random agent"


def test_a_title_that_is_not_utf8_is_drawn_with_a_replacement_character(tmp_path):
    # A Latin-1 byte in --title reaches Python as a lone surrogate, which matplotlib's font code refused:
    # a TypeError traceback, and no PNG.
    from agents.curves import plot_curve

    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100_000, 1.0), scalar(1120.0, 200_000, 2.0)])
    out = plot_curve(tmp_path, tmp_path / "curve.png", TAG, "caf\udce9 run")
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("points, marker", [(1, "o"), (2, "None")])
def test_one_point_is_drawn_as_a_dot_and_two_as_a_line(tmp_path, monkeypatch, points, marker):
    # A line needs two points: a run's first logged point alone left both panels empty. Two make a line.
    import matplotlib.figure

    from agents.curves import plot_curve

    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0 + k, 100_000 * (k + 1), 1.0)
                                                 for k in range(points)])
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, fname, *a, **k: figures.append(self) or Path(fname).write_bytes(b""))
    plot_curve(tmp_path, tmp_path / "curve.png", TAG)
    assert [ax.get_lines()[0].get_marker() for ax in figures[0].axes] == [marker, marker]


def test_read_scalars_says_what_is_wrong_with_the_run_folder(tmp_path):
    with pytest.raises(ValueError, match="no such run folder"):
        read_scalars(tmp_path / "nope", TAG)
    (tmp_path / "model.zip").write_bytes(b"x")
    with pytest.raises(ValueError, match=re.escape(f"model.zip is a file; give the run folder ({tmp_path})")):
        read_scalars(tmp_path / "model.zip", TAG)
    with pytest.raises(ValueError, match="no TensorBoard folder tb/"):  # no tb/ at all
        read_scalars(tmp_path, TAG)
    (tmp_path / "tb").write_bytes(b"")
    with pytest.raises(ValueError, match="no TensorBoard folder tb/"):  # tb a file, not a folder
        read_scalars(tmp_path, TAG)
    (tmp_path / "tb").unlink()
    (tmp_path / "tb").mkdir()
    # A run copied without its events (a partial copy, a sync that skipped them) was told "(none logged yet)".
    said = f"{tmp_path}: tb/ holds no TensorBoard events file (events.out.tfevents.*): was the run copied"
    with pytest.raises(ValueError, match=re.escape(said)):
        read_scalars(tmp_path, TAG)


def test_a_folder_in_or_above_a_run_is_refused_naming_the_run_to_give(tmp_path):
    # The TensorBoard folder given as for `tensorboard --logdir` ("a/tb: no TensorBoard folder tb/"), or the
    # folder of runs: the other scripts name the run to give, plot_curve named none.
    run = tmp_path / "snake" / "tiny-s0"
    (run / "tb").mkdir(parents=True)
    (run / "config.yaml").write_text("env: snake\n")
    (run / "command.txt").write_text("cd . && python scripts/train_ppo.py --env snake\n")
    with pytest.raises(ValueError, match=re.escape(f"; it is inside the run folder {run}: give that")):
        read_scalars(run / "tb", TAG)
    newest = re.escape(f"; it holds run folders: give one, e.g. the newest, {run}")
    with pytest.raises(ValueError, match=newest):
        read_scalars(tmp_path, TAG)
    # A file of the run (its model, a checkpoint) was "not a folder (give a run folder ...)", naming none.
    (run / "checkpoints").mkdir()
    for file in (run / "model.zip", run / "checkpoints" / "step_8.zip"):
        file.write_bytes(b"PK")
        with pytest.raises(ValueError, match=re.escape(f"{file} is a file; give the run folder ({run})")):
            read_scalars(file, TAG)


def test_a_tag_not_logged_names_the_tags_that_were(tmp_path):
    write_events(tmp_path, "1000.host", 1000.0, [])
    with pytest.raises(ValueError, match=r"--tag takes one of: \(none logged yet\)"):
        read_scalars(tmp_path, TAG)
    write_events(tmp_path, "2000.host", 2000.0, [scalar(2010.0, 100, 1.0, tag="time/sps"),
                                                 tensor_scalar(2020.0, 100, 2.0, tag="train/loss")])
    with pytest.raises(ValueError, match=r"no scalar 'rollout/score_mean'.*one of: time/sps, train/loss$"):
        read_scalars(tmp_path, TAG)


def test_an_episode_figure_before_any_episode_ended_says_so(tmp_path):
    # A tiny Sokoban hard run (200-step episodes, 128 steps a board) logs rollouts with no episode ended:
    # the refusal listed time/sps and the video's score, not why rollout/score_mean was missing.
    rollout = [scalar(1010.0, 512, 30.0, tag="time/sps"), scalar(1011.0, 512, 0.0, tag="rollout/video_score")]
    write_events(tmp_path, "1000.host", 1000.0, rollout)
    said = ("no scalar 'rollout/score_mean' in its TensorBoard events (no episode has ended in its logged "
            "rollouts yet: the episode figures come once one has; train it further); --tag takes one of: "
            "rollout/video_score, time/sps")
    with pytest.raises(ValueError, match=re.escape(said) + "$"):
        read_scalars(tmp_path, TAG)
    # Episodes have ended: a tag the game does not log is no sign of too short a run.
    write_events(tmp_path, "2000.host", 2000.0, [scalar(2010.0, 1024, 9.0, tag="rollout/ep_len_mean")])
    with pytest.raises(ValueError, match=r"no scalar 'rollout/won_mean' in its TensorBoard events; --tag"):
        read_scalars(tmp_path, "rollout/won_mean")


def test_an_empty_event_file_is_passed_over(tmp_path):
    # A run stopped as its writer opened the file leaves it empty: it holds no session to count.
    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0)])
    (tmp_path / "tb" / "events.out.tfevents.2000.host").write_bytes(b"")
    steps, _, minutes = read_scalars(tmp_path, TAG)
    assert steps.tolist() == [100] and minutes.tolist() == pytest.approx([1.0])


def test_a_folder_that_cannot_be_made_closes_the_figure(tmp_path):
    # pyplot keeps every figure not closed: a caller drawing many curves would hold them all.
    import matplotlib.pyplot as plt

    from agents.curves import FolderError, plot_curve

    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0)])
    (tmp_path / "taken").write_bytes(b"")
    before = plt.get_fignums()
    with pytest.raises(FolderError, match=r"its folder .*taken cannot be made"):
        plot_curve(tmp_path, tmp_path / "taken" / "curve.png", TAG)
    assert plt.get_fignums() == before


def test_a_curve_the_full_disk_refuses_leaves_no_folder_made_for_it(tmp_path, monkeypatch):
    # --out new/deep/curve.png on a full disk: the error said nothing was written, and new/deep stayed.
    import errno

    from matplotlib.figure import Figure

    from agents.curves import OutputError, plot_curve

    run = tmp_path / "run"
    run.mkdir()
    write_events(run, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0)])

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    with pytest.raises(OutputError, match=r"new/deep/curve.png could not be written \(No space left"):
        plot_curve(run, tmp_path / "new" / "deep" / "curve.png", TAG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]

    def stopped(*args, **kwargs):  # a stop signal during the write: the stop, and no folder left either
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", stopped)
    with pytest.raises(KeyboardInterrupt):
        plot_curve(run, tmp_path / "new" / "deep" / "curve.png", TAG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_curve_not_written_removes_only_the_folders_it_made(tmp_path, monkeypatch):
    # A stop during the save, and a disk full half-way through making the folders, left them behind too;
    # an empty folder the user gave was there before, and stays.
    import errno
    import pathlib

    from matplotlib.figure import Figure

    from agents.curves import FolderError, plot_curve

    run = tmp_path / "run"
    run.mkdir()
    write_events(run, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0)])

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(Figure, "savefig", stopped)
        with pytest.raises(KeyboardInterrupt):
            plot_curve(run, tmp_path / "new" / "deep" / "curve.png", TAG)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
        (tmp_path / "mine").mkdir()
        with pytest.raises(KeyboardInterrupt):
            plot_curve(run, tmp_path / "mine" / "curve.png", TAG)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "run"]
    real = pathlib.Path.mkdir

    def full_at_deep(self, *args, **kwargs):  # once new/ is made: full half-way
        if self.name == "deep" and self.parent.exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", full_at_deep)
    with pytest.raises(FolderError, match=r"its folder .*deep cannot be made \(No space left"):
        plot_curve(run, tmp_path / "new" / "deep" / "curve.png", TAG)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "run"]


def test_a_run_folder_whose_name_is_not_utf8_is_read(tmp_path):
    # TensorBoard's reader encodes the path as UTF-8: a Latin-1 folder name (a lone surrogate to Python)
    # ended plot_curve with exit 2 and "'utf-8' codec can't encode character '\udce9'".
    run = tmp_path / "caf\udce9 run"
    run.mkdir()
    write_events(run, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0), scalar(1120.0, 200, 2.0)])
    steps, values, _ = read_scalars(run, TAG)
    assert steps.tolist() == [100, 200] and values.tolist() == [1.0, 2.0]


def test_a_run_folder_not_in_utf8_given_relative_to_the_current_folder_is_read(tmp_path, monkeypatch):
    # plot_curve.py runs/<name>: the link made for such a folder sits in a temporary folder, where a relative
    # target would point at nothing.
    run = tmp_path / "caf\udce9 run"
    run.mkdir()
    write_events(run, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0), scalar(1120.0, 200, 2.0)])
    monkeypatch.chdir(tmp_path)
    steps, values, _ = read_scalars(Path("caf\udce9 run"), TAG)
    assert steps.tolist() == [100, 200] and values.tolist() == [1.0, 2.0]


def run_plot_curve(*args: str) -> subprocess.CompletedProcess:
    """scripts/plot_curve.py run as the program (agents.startup sets its streams' error handler) with
    PYTHONIOENCODING=ascii:strict, on stdout and stderr alike."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii:strict",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "plot_curve.py"), *args], env=env,
                          capture_output=True, timeout=120)


@pytest.mark.parametrize("name", ["caf\u00e9.png", "caf\udce9.png"])  # UTF-8, and Latin-1 (not UTF-8)
def test_the_png_written_is_named_on_a_strict_ascii_stdout(tmp_path, name):
    # Printing the path raised after the PNG was written, and the script exited 2 with a codec message.
    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0), scalar(1120.0, 200, 2.0)])
    out = tmp_path / name
    proc = run_plot_curve(str(tmp_path), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == os.fsencode(f"{tmp_path}/caf\\xe9.png\n") and out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("name", ["caf\u00e9", "caf\udce9"])
def test_an_error_naming_a_path_is_written_on_a_strict_ascii_stderr(tmp_path, name):
    # The error, not a UnicodeEncodeError in place of the message; a Latin-1 byte as the byte, not "\udce9".
    proc = run_plot_curve(str(tmp_path / f"nowhere {name}"), "--out", str(tmp_path / "x.png"))
    assert proc.returncode == 2
    assert proc.stderr == os.fsencode(f"error: {tmp_path}/nowhere caf\\xe9: no such run folder\n")


def test_the_legend_is_placed_off_a_falling_curve(tmp_path, monkeypatch):
    # Found on docs/rotation_curve.png (rollout/ep_len_mean falls from the top left): the legend, pinned to
    # the upper left, hid the curve's first points. Where the curve leaves room, the legend covers none.
    import matplotlib.figure

    from agents.curves import plot_curve

    write_events(tmp_path, "1000.host", 1000.0, [scalar(1000.0 + 60 * k, 100_000 * k, 25.0 - k / 2)
                                                 for k in range(1, 41)])
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda self, fname, *a, **k: figures.append(self) or Path(fname).write_bytes(b""))
    plot_curve(tmp_path, tmp_path / "curve.png", TAG, baseline=22.0)
    fig = figures[0]
    fig.canvas.draw()  # the legend finds its place when drawn
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent()
    points = ax.transData.transform(ax.get_lines()[0].get_xydata())
    assert not box.count_contains(points)


@pytest.mark.parametrize("force", [False, True])
def test_an_out_another_command_wrote_while_the_curve_was_drawn_is_kept_without_force(tmp_path, monkeypatch,
                                                                                      capsys, force):
    # Two plot_curve.py of two runs at once, both --out curve.png without --force: each checked that no file
    # was there, then the later one replaced the other's PNG, and both said they wrote it.
    from matplotlib.figure import Figure

    from tests.conftest import load_script

    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0)])
    out = tmp_path / "curve.png"
    savefig = Figure.savefig

    def and_another_command_writes_out(*args, **kwargs):
        out.write_bytes(b"the other run's curve")
        return savefig(*args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", and_another_command_writes_out)
    code = load_script("plot_curve").main([str(tmp_path), "--out", str(out), *(["--force"] if force else [])])
    err = capsys.readouterr().err
    if force:  # asked to replace whatever is there
        assert code == 0 and out.read_bytes().startswith(b"\x89PNG")
        return
    assert code == 2 and out.read_bytes() == b"the other run's curve"
    assert err == (f"error: --out {out} appeared while the curve was drawn (another command wrote it); pass "
                   "--force to replace it, or choose another --out\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curve.png", "tb"]  # no temp file left


def test_the_temp_file_of_a_killed_plot_goes_with_the_next_one_and_a_running_ones_stays(tmp_path, capsys):
    # plot_curve.py killed by SIGKILL while matplotlib wrote the image left .curve.<pid>.tmp.png beside --out
    # for good: the next plot wrote its own and nothing removed the old one. One of a process that runs (a
    # plot writing now) stays, and so does a file of the user's so named without a pid.
    from tests.conftest import load_script

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    write_events(tmp_path, "1000.host", 1000.0, [scalar(1060.0, 100, 1.0)])
    plots = tmp_path / "plots"
    plots.mkdir()
    left = f".curve.{dead}.tmp.png"
    kept = [f".curve.{running.pid}.tmp.png", f".other.{dead}.tmp.png", ".curve.x.tmp.png"]
    try:
        for name in [left, *kept]:
            (plots / name).write_bytes(b"half")
        assert load_script("plot_curve").main([str(tmp_path), "--out", str(plots / "curve.png")]) == 0
    finally:
        running.kill()
        running.wait()
    assert sorted(p.name for p in plots.iterdir()) == sorted(["curve.png", *kept])
    err = capsys.readouterr().err
    assert err == f"{plots}: removed 1 temp file that a killed plot_curve.py left ({left})\n"


def test_only_an_episode_figure_of_a_run_that_logged_rollouts_is_said_to_wait_for_an_episode(tmp_path):
    """Hand mutation pass: the "no episode has ended" reason given for any tag (time/fps, train/...), for
    the video's score, or for a run that logged no rollout at all passed, as the one test asked only
    rollout/score_mean of a run with rollouts. None of those waits for an episode to end."""
    reason = "no episode has ended"
    write_events(tmp_path, "1000.host", 1000.0, [])  # started, no rollout logged yet
    with pytest.raises(ValueError, match=r"events; --tag takes one of: \(none logged yet\)$"):
        read_scalars(tmp_path, TAG)
    write_events(tmp_path, "2000.host", 2000.0, [scalar(2010.0, 512, 30.0, tag="time/sps")])  # no video
    for tag in ("rollout/video_score", "train/loss", "time/fps"):
        with pytest.raises(ValueError, match=f"no scalar '{tag}' in its TensorBoard events; --tag") as err:
            read_scalars(tmp_path, tag)
        assert reason not in str(err.value), tag
    with pytest.raises(ValueError, match=reason):  # and an episode figure there does
        read_scalars(tmp_path, TAG)
