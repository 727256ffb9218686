"""agents/runs.py's and agents/outputs.py's refusals and fallbacks that no training run reaches: called
directly, with the disk's and the kernel's failures stood in for by monkeypatch (root, which the tests may run
as, writes anywhere)."""
import errno
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from agents import outputs, runs
from tests.conftest import deny_reading, open_paths, path_method_fails


def old_run(folder: Path) -> Path:
    """A finished run's folder, as far as --force checks it."""
    folder.mkdir()
    (folder / "config.yaml").write_text("env: snake\n")
    (folder / "command.txt").write_text("python scripts/train_ppo.py --env snake\n")
    return folder


def test_force_names_an_old_run_it_cannot_move_aside(tmp_path, monkeypatch):
    run = old_run(tmp_path / "run")

    def refused(self, target):
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(Path, "rename", refused)
    refusal = r"^--force cannot move .*run aside \(.*busy\); remove it yourself"
    with pytest.raises(runs.RunError, match=refusal) as raised:
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the old run untouched, in place
    # Its lock let go at once, not when the error's frames are freed (here kept alive by `raised`).
    assert raised.value is not None and not runs.training_now(run)


def test_force_says_where_the_old_run_waits_when_it_cannot_be_put_back(tmp_path, monkeypatch):
    run = old_run(tmp_path / "run")
    real_mkdir, real_rename = Path.mkdir, Path.rename

    def disk_full(self, *args, **kwargs):
        if self == run.resolve():
            raise OSError(errno.ENOSPC, "No space left on device")
        real_mkdir(self, *args, **kwargs)

    def only_aside(self, target):  # moving it aside works; moving it back does not
        if Path(target).name == "run":
            raise OSError(errno.EIO, "Input/output error")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "mkdir", disk_full)
    monkeypatch.setattr(Path, "rename", only_aside)
    with pytest.raises(runs.RunError, match=r"the run folder cannot be made \(No space left on device\); "
                                            r"the old run is in .*\.run\.replaced$") as raised:
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert (tmp_path / ".run.replaced" / "config.yaml").read_text() == "env: snake\n"
    # Its lock let go as the call ends, not when the error's frames are freed (kept alive by `raised`).
    assert raised.value is not None and not runs.training_now(tmp_path / ".run.replaced")


def test_another_users_process_counts_as_running(monkeypatch):
    def not_yours(pid, sig):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "kill", not_yours)
    assert outputs.process_running(os.getpid() + 1)  # its folders are not a dead process's leftovers


@pytest.mark.parametrize(("config", "message"), [
    (None, "not a depthfirst run folder (no config.yaml)"),
    ("policy: tiny\n", "config.yaml is corrupt (no env)"),
    ("- env\n", "config.yaml is corrupt (no env)"),
    ("env: snake\nenv_kwargs: [size, 8]\n", "config.yaml is corrupt (env_kwargs is not a mapping)"),
    # PyYAML reads nesting by recursion: a RecursionError traceback out of evaluate, export, compare.
    ("env: " + "[" * 100_000 + "\n",
     "config.yaml is corrupt (it must be UTF-8 YAML): nested too deeply to read"),
    ("env: snake\nseed: 1\nseed: 2\n",  # where, on one line (not PyYAML's "<unicode string>" and a caret)
     "config.yaml is corrupt (it must be UTF-8 YAML): 'seed' is given twice (line 3, column 1)"),
])
def test_a_folder_that_is_no_run_is_refused_by_name(tmp_path, config, message):
    if config is not None:
        (tmp_path / "config.yaml").write_text(config)
    with pytest.raises(runs.RunError) as e:
        runs.read_run_config(tmp_path)
    assert str(e.value) == f"{tmp_path}: {message}"
    assert not (tmp_path / ".train.lock").exists()  # the probe for a trainer only reads: it makes no file


def test_a_run_config_that_cannot_be_read_is_a_run_error(tmp_path, monkeypatch):
    # An OSError (no permission; simulated, the tests run as root) was a traceback out of every reader.
    (tmp_path / "config.yaml").write_text("env: snake\n")
    path_method_fails(monkeypatch, "read_text", lambda p: p.name == "config.yaml",
                      PermissionError(errno.EACCES, "Permission denied"))
    with pytest.raises(runs.RunError) as e:
        runs.read_run_config(tmp_path)
    assert str(e.value) == f"{tmp_path}: config.yaml cannot be read (Permission denied)"


def test_game_options_are_unknown_for_a_game_that_passes_every_option_on(monkeypatch):
    import envs

    class PassesOn:
        def __init__(self, num_envs: int = 1, **kwargs: object) -> None:
            super().__init__(**kwargs)

    assert runs.game_options("no_such_game") is None
    assert runs.game_options("snake") == {"size", "obs", "pixel_scale", "starvation"}  # not self, num_envs
    monkeypatch.setattr(envs, "game_class", lambda name: PassesOn)
    assert runs.game_options("snake") is None  # object takes **kwargs too: no list to check a config against


def test_a_games_defaults_are_its_own_over_its_bases(monkeypatch):
    # Hand mutants of game_defaults passed every test (no built-in game redefines a default): the bases'
    # defaults read over the subclass's (then evaluate.py --env GAME --vlm --set env_kwargs.size=10, the
    # base's size, shared the files of the defaults' play at the subclass's 12), and num_envs or a
    # parameter without a default (**kwargs) taken for a default.
    import envs

    class Base:
        def __init__(self, num_envs: int = 1, size: int = 10, obs: str = "grid") -> None:
            pass

    class Sub(Base):
        def __init__(self, num_envs: int = 1, size: int = 12, **kwargs: object) -> None:
            super().__init__(num_envs, size, **kwargs)

    monkeypatch.setattr(envs, "game_class", lambda name: Sub)
    assert runs.game_defaults("sub") == {"size": 12, "obs": "grid"}  # not num_envs, nor the base's size


def test_an_output_file_in_place_of_a_device_or_in_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"^--out .*pipe is not a regular file; give a file name$"):
        outputs.check_output_file(fifo, "--out", force=True)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    with pytest.raises(ValueError, match=r"^--out .*out.json: not writable here; choose another place$"):
        outputs.check_output_file(tmp_path / "out.json", "--out", force=False)
    with pytest.raises(ValueError, match=rf"^--save-dir {tmp_path / 'a' / 'b'}: {tmp_path} is not writable"):
        outputs.check_output_folder(tmp_path / "a" / "b", "--save-dir")


def _too_long(flag: str, path: Path, limit: int, extra: int) -> str:
    """check_name_fits' refusal of ``path`` (one byte too long with the ``extra`` bytes of its temp name)."""
    from agents.cli import shown_path

    return (rf"^{flag} {re.escape(shown_path(str(path)))}: the name is too long \({limit - extra + 1} bytes, "
            rf"and the temporary name written beside it {extra} more; the file system takes {limit} at "
            rf"most\); give a name of at most {limit - extra} bytes$")


def test_an_output_file_too_long_with_its_temp_name_is_refused_and_one_that_fits_is_written(tmp_path):
    # A name a few bytes short of the limit passed the checks, and its temp file .<stem>.<pid>.tmp<suffix>
    # was "File name too long" once the work was done (plot_curve.py's events read, make_state.py's play).
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    extra = len(outputs.temp_name(Path("x.json"))) - len("x.json")
    fits = tmp_path / ("f" * (limit - extra - 5) + ".json")
    too_long = fits.with_name("g" + fits.name)
    with pytest.raises(ValueError, match=_too_long("--out", too_long, limit, extra)):
        outputs.check_output_file(too_long, "--out", force=False)
    outputs.check_output_file(fits, "--out", force=False)
    with outputs.written_beside(fits) as tmp:  # the longest name that passes is one its writer can write
        tmp.write_text("{}")
    assert fits.read_text() == "{}"


def test_an_output_folder_too_long_with_the_temp_folder_beside_it_is_refused(tmp_path):
    # merge_exports.py builds --out in .<name>.<pid>.partial beside it, export_trajectories.py in
    # .<name>.partial: a name a few bytes short of the limit failed once the episodes were played or merged.
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    extra = len(outputs.folder_temp_name(Path("x"))) - 1
    fits = tmp_path / ("f" * (limit - extra))
    too_long = fits.with_name("g" + fits.name)
    with pytest.raises(ValueError, match=_too_long("--out", too_long, limit, extra)):
        outputs.check_output_folder(too_long, "--out")
    outputs.check_output_folder(fits, "--out")
    (tmp_path / outputs.folder_temp_name(fits)).mkdir()  # the longest name that passes can be made
    (tmp_path / outputs.folder_temp_name(fits)).rename(fits)
    assert fits.is_dir()


def test_a_name_is_measured_in_bytes_on_the_file_system_of_the_folders_it_would_be_made_in(tmp_path):
    # Hand mutants of check_name_fits lived: a name counted in characters (é is two bytes in UTF-8), a
    # missing folder's file system not looked for above it (no limit: the name passed), and "the temporary
    # name written beside it 0 more" where nothing is written beside it (compare's --out).
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    name = "é" * (limit // 2 + 1)  # fewer characters than the limit, more bytes
    size = len(name.encode())
    with pytest.raises(ValueError, match=rf"^--out .*: the name is too long \({size} bytes; the file system "
                                         rf"takes {limit} at most\); give a name of at most {limit} bytes$"):
        outputs.check_output_folder(tmp_path / "new" / "deeper" / name, "--out", beside=False)
    assert not (tmp_path / "new").exists()


def test_a_folder_of_runs_names_its_newest_run(tmp_path):
    # `evaluate.py runs/snake` (or `--resume runs`) was refused as "not a depthfirst run folder", leaving
    # the user to look inside: the refusal names the run to give, the one trained into last.
    (tmp_path / "snake").mkdir()
    older, newer = old_run(tmp_path / "snake" / "tiny-s0-1"), old_run(tmp_path / "snake" / "tiny-s0-2")
    os.utime(older / "config.yaml", (1_000_000, 1_000_000))
    # A folder with a config.yaml alone (a --config file of the user's) is no run, however new.
    (tmp_path / "snake" / "mine").mkdir()
    (tmp_path / "snake" / "mine" / "config.yaml").write_text("env: snake\n")
    os.utime(tmp_path / "snake" / "mine" / "config.yaml", (4_000_000_000, 4_000_000_000))
    for folder in (tmp_path / "snake", tmp_path):
        with pytest.raises(runs.RunError) as e:
            runs.read_run_config(folder)
        assert str(e.value) == (f"{folder}: not a depthfirst run folder (no config.yaml); it holds run "
                                f"folders: give one, e.g. the newest, {newer}")


def test_a_folder_inside_a_run_names_the_run(tmp_path, monkeypatch):
    # `--resume runs/snake/<run>/checkpoints/` (tab completion goes on into the run) was refused as "not a
    # depthfirst run folder", naming no run to give.
    run = old_run(tmp_path / "run")
    for name in ("checkpoints", "tb"):
        (run / name).mkdir(exist_ok=True)
        with pytest.raises(runs.RunError) as e:
            runs.read_run_config(run / name)
        assert str(e.value) == (f"{run / name}: not a depthfirst run folder (no config.yaml); it is inside "
                                f"the run folder {run}: give that")
    # Given from inside the run ("checkpoints"): the run is named by its path, not as ".".
    monkeypatch.chdir(run)
    with pytest.raises(runs.RunError) as e:
        runs.read_run_config(Path("checkpoints"))
    assert str(e.value).endswith(f"it is inside the run folder {run}: give that")
    # A checkpoint file given as the run named its checkpoints/ folder as the run folder to give, which
    # was then refused in turn.
    (run / "checkpoints" / "step_8.zip").write_bytes(b"PK")
    for file, folder in ((run / "checkpoints" / "step_8.zip", run), (run / "config.yaml", run)):
        with pytest.raises(runs.RunError) as e:
            runs.read_run_config(file)
        assert str(e.value) == f"{file} is a file; give the run folder ({folder})"
    # Given from inside the run or its checkpoints/: the run by its path, not as "." (checkpoints/ itself).
    (run / "model.zip").write_bytes(b"PK")
    for where, file in ((run / "checkpoints", "step_8.zip"), (run, "checkpoints/step_8.zip"),
                        (run, "model.zip")):
        monkeypatch.chdir(where)
        with pytest.raises(runs.RunError) as e:
            runs.read_run_config(Path(file))
        assert str(e.value) == f"{file} is a file; give the run folder ({run})"


def test_force_refuses_a_run_that_holds_another_run(tmp_path):
    # A run trained into a folder named as a run's own entries (a compare report's, tb/) passed the check
    # for foreign files, and was deleted with the run --force replaced.
    run = old_run(tmp_path / "run")
    nested = old_run(run / "compare-20260101-120000")
    with pytest.raises(runs.RunError, match=r"--force refuses to clear .*run: it holds another run folder "
                                            r"\(.*compare-20260101-120000\)"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert (nested / "config.yaml").is_file() and not list(tmp_path.glob(".run.replaced*"))


@pytest.mark.parametrize(("mine", "folder"), [
    ("eval-notes", True), ("compare-ideas.txt", False), ("eval-step64.txt", False),
    ("eval-step65.json", True), ("compare-20260101-130000", False), ("compare-20260101-120000-old", True),
    (".compare-ideas.123.tmp", False),
    # Numbers as evaluate writes them (ASCII, 0 or no leading zero; --max-steps is at least 1), as
    # checkpoints' (ebb8985e): \d took these for its results, and --force deleted them.
    ("eval-step007.json", False), ("eval-step\u0667.json", False), ("eval-step00-best.mp4", False),
    ("eval-step64-max09.json", False), ("eval-step64-max0.json", False),
    ("eval-random-max\u0669.json", False), (".eval-step007.123.tmp.json", False),
    # compare.py's folders likewise: ASCII digits, and -<k> from 2 (compare-<time> is the first).
    ("compare-20260101-120000-01", True), ("compare-20260101-120000-1", True),
    ("compare-2026010\u0661-120000", True), (".compare-20260101-120000-01.123.tmp", False),
])
def test_force_refuses_a_users_entry_named_like_a_result_but_clears_the_results(tmp_path, mine, folder):
    # The globs eval-* and compare-* took any such name for evaluate's or compare's output: --force deleted
    # a user's eval-notes/ or compare-ideas.txt with the run.
    run = old_run(tmp_path / "run")
    results = ["eval-step64.json", "eval-step0.json", "eval-step0-best.gif", "eval-step640-max10.json",
               "eval-step64-best.mp4", "eval-step64-best.gif", "eval-random-max5.json",
               "eval-step64-stochastic.json", "eval-step64-early-0123abcd-max9-best.gif", "eval-vlm-m.json",
               "eval-vlm-qwen2.5-vl@localhost-8000-0123abcd-best.mp4", ".eval-step64.123.tmp.json",
               ".compare-20260101-120000-2.123.tmp"]  # the mark of a comparison playing for that folder
    for name in results:
        (run / name).write_text("x")
    for name in ("compare-20260101-120000", "compare-20260101-120000-2", "compare-20260101-120000-10"):
        (run / name).mkdir()
        (run / name / "report.json").write_text("{}")
    entry = run / mine
    entry.mkdir() if folder else entry.write_text("mine")
    with pytest.raises(runs.RunError, match=rf"holds files a run does not write \({re.escape(mine)}\)"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert entry.exists() and not list(tmp_path.glob(".run.replaced*"))
    entry.rmdir() if folder else entry.unlink()
    runs.new_run_dir({"env": "snake"}, str(run), True)[2].close()  # the results alone: cleared with the run
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.replaced", "run"]


def writers_temps(run: Path) -> list[str]:
    """The names of the temp files the run folder's writers make (written_together's own), as a kill
    mid-write leaves them: config.yaml, model.zip, milestones.json, and an evaluation with its videos, each
    video a temp of its result's temp (write_video writes it through written_beside)."""
    names: list[str] = []
    finals = ["config.yaml", "model.zip", runs.MILESTONES_FILE, "eval-step64-max9.json",
              "eval-step64-best.mp4", "eval-vlm-qwen2.5-vl@localhost-8000-best.gif"]
    with pytest.raises(InterruptedError), outputs.written_together([run / n for n in finals]) as tmps:
        names += [t.name for t in tmps]
        for video in tmps[-2:]:
            with pytest.raises(InterruptedError), outputs.written_beside(video) as nested:
                names.append(nested.name)
                raise InterruptedError  # nothing is written
        raise InterruptedError
    return names


@pytest.mark.parametrize("mine", [".notes.tmp", ".x.tmp", ".model.zip.tmp", ".eval-notes.1.tmp.json"])
def test_force_refuses_a_users_tmp_file_but_clears_the_writers_temps(tmp_path, mine):
    # A glob .*.tmp* took any such name for a writer's temp file: --force deleted a user's .notes.tmp.
    run = old_run(tmp_path / "run")
    temps = writers_temps(run)
    assert len(temps) == 8 and not [p.name for p in run.iterdir() if "tmp" in p.name]
    for name in (*temps, mine):
        (run / name).write_text("x")
    with pytest.raises(runs.RunError, match=rf"holds files a run does not write \({re.escape(mine)}\)"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert (run / mine).read_text() == "x" and not list(tmp_path.glob(".run.replaced*"))
    (run / mine).unlink()
    runs.new_run_dir({"env": "snake"}, str(run), True)[2].close()  # the temps alone: cleared with the run
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.replaced", "run"]


def test_a_key_given_twice_in_a_runs_config_yaml_is_named(tmp_path):
    # A hand edit that adds a second ppo: (or env:) took the last one without a word.
    run = old_run(tmp_path / "run")
    (run / "config.yaml").write_text("env: snake\nppo: {learning_rate: 0.001}\nppo: {n_epochs: 2}\n")
    with pytest.raises(runs.RunError, match=r"(?s)config\.yaml is corrupt .*'ppo' is given twice"):
        runs.read_run_config(run)


def test_a_key_yaml_reads_as_no_name_in_a_runs_config_yaml_is_named(tmp_path):
    # An edit such as `1: 2` beside the named keys ended a --resume in a TypeError traceback (sorting them).
    run = old_run(tmp_path / "run")
    (run / "config.yaml").write_text("env: snake\nppo: {n_epochs: 2, on: 1}\n")
    with pytest.raises(runs.RunError, match=r"config\.yaml is corrupt: the key ppo\.True is not a name"):
        runs.read_run_config(run)


# .step_<Arabic-Indic 12>.123.tmp.zip: a checkpoint temp's step is ASCII digits, as save_checkpoint writes it
@pytest.mark.parametrize("mine", [["best-keep.zip"], ["step_64-copy.zip", "step_best.zip"],
                                  [".step_\u0661\u0662.123.tmp.zip"]])
def test_force_refuses_a_run_with_a_file_of_the_users_in_its_checkpoints(tmp_path, mine):
    # A model copied beside the checkpoints to keep it from their pruning (which takes step_<N>.zip only)
    # passed the check of the run folder's own entries, and --force deleted it with the run; a glob
    # step_*.zip then took step_best.zip for training's own.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    for name in ("step_64.zip", ".step_128.123.tmp.zip", ".DS_Store", *mine):
        (run / "checkpoints" / name).write_text("x")
    named = ", ".join(f"checkpoints/{name}" for name in mine).replace(".", r"\.")
    with pytest.raises(runs.RunError, match=rf"holds files a run does not write \({named}\)"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    for name in mine:
        assert (run / "checkpoints" / name).is_file()
        (run / "checkpoints" / name).unlink()  # only the run's own: replaced
    runs.new_run_dir({"env": "snake"}, str(run), True)[2].close()


class FakeModel:
    """What save_checkpoint needs of an SB3 model: its step count, and a save into an open file."""

    def __init__(self, steps: int) -> None:
        self.num_timesteps = steps

    def save(self, f) -> None:
        f.write(b"PK\x03\x04 step %d" % self.num_timesteps)


def test_pruning_keeps_a_users_file_named_step_something_step_n(tmp_path):
    # checkpoints() searched for step_<N>.zip at the end of a name: a user's step_best_step_2.zip counted as
    # checkpoint 2, which pruning deleted and --resume loaded; --force's check already took it for the user's.
    # So too a name that only starts as one (a copy kept as step_2.zip-keep.zip): a whole name, matched whole.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    mine = [run / "checkpoints" / name for name in ("step_best_step_2.zip", "step_2.zip-keep.zip")]
    for file in mine:
        file.write_text("mine")
    for steps in (10, 20, 30, 40):
        runs.save_checkpoint(FakeModel(steps), run)
    assert [file.read_text() for file in mine] == ["mine", "mine"]
    assert [step for step, _ in runs.checkpoints(run)] == [20, 30, 40]


@pytest.mark.parametrize("name", ["step_\u0661.zip", "step_007.zip", "step_00.zip", ".step_007.123.tmp.zip"])
def test_a_users_step_file_named_otherwise_than_training_writes_is_no_checkpoint(tmp_path, name):
    # A name save_checkpoint never writes is the user's. \d took any Unicode digit (int() reads them): a
    # step_\u0661.zip (Arabic-Indic 1) counted as checkpoint 1; [0-9]+ took a step_007.zip (training writes
    # step_7.zip) for checkpoint 7. Pruning deleted such a file with the run's own, --resume could load it,
    # and --force took it for training's. The writer writes ASCII digits, 0 or no leading zero.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    mine = run / "checkpoints" / name
    mine.write_text("mine")
    for steps in (0, 10, 20, 30):
        runs.save_checkpoint(FakeModel(steps), run)
    assert mine.read_text() == "mine"
    assert [step for step, _ in runs.checkpoints(run)] == [10, 20, 30]
    refused = re.escape(f"holds files a run does not write (checkpoints/{mine.name})")
    with pytest.raises(runs.RunError, match=refused):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert mine.read_text() == "mine"


def test_step_0_is_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    runs.save_checkpoint(FakeModel(0), run)
    assert runs.checkpoints(run) == [(0, run / "checkpoints" / "step_0.zip")]


def test_pruning_keeps_the_newest_checkpoints_by_step_and_model_zip_is_the_last(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for steps in (100, 300, 2000, 50, 1000):  # saved out of order: kept by step, not by time or name
        runs.save_checkpoint(FakeModel(steps), run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_1000.zip", "step_2000.zip",
                                                                     "step_300.zip"]
    assert runs.latest_checkpoint(run).name == "step_2000.zip"  # by number: "step_300" sorts after it
    assert (run / "model.zip").read_bytes() == b"PK\x03\x04 step 1000"


@pytest.mark.parametrize("keep, kept", [(1, [40]), (2, [30, 40]), (0, [10, 20, 30, 40])])
def test_pruning_keeps_the_newest_keep_checkpoints_and_0_keeps_every_one(tmp_path, keep, kept):
    run = tmp_path / "run"
    run.mkdir()
    for steps in (10, 20, 30, 40):
        runs.save_checkpoint(FakeModel(steps), run, keep)
    assert [step for step, _ in runs.checkpoints(run)] == kept


def test_no_checkpoint_left_says_they_were_removed_or_names_the_renamed_copies(tmp_path):
    # rm RUN/checkpoints/*.zip RUN/model.zip, then --resume: "the run stopped before its first checkpoint",
    # of a run that saved many; a copy kept as best.zip, the only model left, went unnamed the same way.
    run = old_run(tmp_path / "run")
    with pytest.raises(runs.RunError) as e:  # killed before its first save
        runs.latest_checkpoint(run)
    assert (f"; the run stopped before its first checkpoint: start it again with its command (in "
            f"{run / 'command.txt'}) plus --force --run-dir {run}, or start a new run") in str(e.value)
    (run / "checkpoints").mkdir()  # made by the first save: a run killed before it has none
    with pytest.raises(runs.RunError) as e:
        runs.latest_checkpoint(run)
    assert "stopped before its first checkpoint" not in str(e.value)
    assert f"{run / 'checkpoints'} holds no step_<N>.zip" in str(e.value)
    assert f"plus --force --run-dir {run}, or start a new run" in str(e.value)
    # Written out of order, with a note beside them: the names come sorted, model files (.zip) alone.
    for name in ("z.zip", "step_1024 (copy).zip", "best.zip", ".step_2048.77.tmp.zip", "notes.txt", "a.zip"):
        (run / "checkpoints" / name).write_text("x")
    with pytest.raises(runs.RunError) as e:
        runs.latest_checkpoint(run, "give a model file with --checkpoint")
    # A killed save's temp file is not named: it is no model.
    assert "holds no step_<N>.zip but a.zip, best.zip, step_1024 (copy).zip, z.zip (" in str(e.value)
    assert "--force" not in str(e.value)  # which refuses a user's file in checkpoints/
    assert str(e.value).endswith("or give a model file with --checkpoint")
    never = tmp_path / "never"  # no command.txt, no checkpoints/: not a run that training started
    never.mkdir()
    with pytest.raises(runs.RunError) as e:
        runs.latest_checkpoint(never)
    assert str(e.value) == (f"{never}: no checkpoint to load (checkpoints/step_*.zip or model.zip); train it "
                            "first (scripts/train_ppo.py), or start a new run")


def test_saved_step_reads_model_zips_step_and_none_where_it_cannot(tmp_path):
    # resume_point compares it with the newest checkpoint's: a file it cannot read is left to the loader.
    import json
    import zipfile

    model = tmp_path / "model.zip"
    for data, step in ((json.dumps({"num_timesteps": 512}), 512), (json.dumps({"num_timesteps": 0}), 0),
                       ("[512]", None), ("not json", None), (json.dumps({"num_timesteps": "512"}), None),
                       (json.dumps({}), None)):
        with zipfile.ZipFile(model, "w") as z:
            z.writestr("data", data)
        assert runs.saved_step(model) == step, data
    model.write_bytes(b"PK\x03\x04 cut short")
    assert runs.saved_step(model) is None


def test_a_resume_point_is_refused_only_where_model_zip_holds_a_later_step(tmp_path):
    # The newest checkpoint deleted by hand: a resume from the one before would replace model.zip.
    import json
    import zipfile

    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    newest = run / "checkpoints" / "step_256.zip"
    newest.write_bytes(b"PK\x03\x04")

    def model_zip(data: str) -> None:
        with zipfile.ZipFile(run / "model.zip", "w") as z:
            z.writestr("data", data)

    # The same step (the usual case), an older one (the disk refused model.zip) or unreadable: resumed.
    for data in (json.dumps({"num_timesteps": 256}), json.dumps({"num_timesteps": 128}), "[1]", "{"):
        model_zip(data)
        assert runs.resume_point(run) == newest, data
    model_zip(json.dumps({"num_timesteps": 1024}))
    with pytest.raises(runs.RunError) as refused:
        runs.resume_point(run)
    assert str(refused.value) == (
        f"{run}: its model.zip holds step 1,024, past its newest checkpoint {newest} (were newer ones "
        "deleted?), and a resume from that checkpoint would replace it: to continue from model.zip, copy it "
        f"to {run / 'checkpoints' / 'step_1024.zip'}; to go back to step 256, move model.zip out of the run "
        "folder")
    model_zip(json.dumps({"num_timesteps": 257}))  # a step past it is past it
    with pytest.raises(runs.RunError, match=r"its model.zip holds step 257, past its newest checkpoint"):
        runs.resume_point(run)
    newest.unlink()  # model.zip alone: resumed from, nothing to compare it with
    assert runs.resume_point(run) == run / "model.zip"


def test_a_checkpoint_is_resumed_before_model_zip_and_model_zip_is_played_before_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_text("x")
    (run / "model.zip").write_text("x")
    assert runs.latest_checkpoint(run) == run / "checkpoints" / "step_64.zip"
    assert runs.model_file(run, None, "give --checkpoint FILE") == run / "model.zip"


@pytest.mark.parametrize(("make", "kind"), [
    (Path.mkdir, "a folder"),
    (lambda p: p.symlink_to(p.name), "a symlink loop"),
    (lambda p: p.symlink_to("gone.zip"), "a broken symlink (to gone.zip)"),
    (os.mkfifo, "a FIFO (named pipe)"),
])
def test_a_model_zip_that_is_no_file_is_refused_not_passed_over_for_a_checkpoint(tmp_path, make, kind):
    # evaluate.py RUN played the newest checkpoint, labelled as the run's model, without a word: refused as a
    # damaged model.zip is, naming the checkpoint to give instead.
    import zipfile

    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    newest = run / "checkpoints" / "step_8.zip"
    with zipfile.ZipFile(newest, "w") as z:
        z.writestr("data", "{}")
    own = run / "model.zip"
    make(own)
    with pytest.raises(runs.RunError) as e:
        runs.model_file(run, None, "give --checkpoint FILE")
    assert str(e.value) == (f"cannot load checkpoint {own}: it is {kind}, not a file; the run's newest "
                            f"checkpoint may load: --checkpoint {newest}")
    newest.unlink()  # nothing else to play: "no checkpoint" said no more
    with pytest.raises(runs.RunError, match=rf"^cannot load checkpoint .*: it is {re.escape(kind)}, not a "
                       "file; the run has no other model file: give one with --checkpoint, or train the run "
                       "again$"):
        runs.model_file(run, None, "give --checkpoint FILE")


def test_a_checkpoint_given_must_be_a_zip_file(tmp_path):
    with pytest.raises(runs.RunError, match=r"is a folder; give a model file"):
        runs.model_file(tmp_path, tmp_path, "")
    empty_zip = tmp_path / "empty.zip"
    empty_zip.write_bytes(b"PK\x05\x06" + bytes(18))  # a zip, but no model: not a local file header first
    with pytest.raises(runs.RunError, match=r"is not a checkpoint"):
        runs.model_file(tmp_path, empty_zip, "")


def test_a_checkpoint_given_relative_to_the_run_is_pointed_to(tmp_path, monkeypatch):
    # evaluate.py run1 --checkpoint checkpoints/step_8.zip, as `ls run1/checkpoints` shows it: "no such file",
    # with no word that paths are read from the current folder, where the run's file is another path.
    run = old_run(tmp_path / "run1")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_8.zip").write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runs.RunError) as missing:
        runs.model_file(Path("run1"), "checkpoints/step_8.zip", "")
    assert str(missing.value) == ("--checkpoint checkpoints/step_8.zip: no such file (paths are read from "
                                  "the folder the command runs in: the run's is run1/checkpoints/step_8.zip)")
    with pytest.raises(runs.RunError) as missing:  # in neither place, and no name of the run's: no hint
        runs.model_file(Path("run1"), "checkpoints/best.zip", "")
    assert str(missing.value) == "--checkpoint checkpoints/best.zip: no such file"


def _run_keeping_its_newest_three(tmp_path, monkeypatch) -> str:
    """run1 under tmp_path (the working folder) holding checkpoints 16, 24 and 32, as a run keeping its
    newest 3 holds them after deleting older ones; returns how the pruned-checkpoint note lists them."""
    run = old_run(tmp_path / "run1")
    (run / "checkpoints").mkdir()
    for step in (16, 24, 32):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(tmp_path)
    return "run1/checkpoints/step_16.zip, run1/checkpoints/step_24.zip and run1/checkpoints/step_32.zip"


def test_a_checkpoint_training_deleted_names_those_the_run_keeps(tmp_path, monkeypatch):
    # evaluate.py run1 --checkpoint run1/checkpoints/step_8.zip, as `ls` showed it a minute ago: a run still
    # training keeps its newest 3 and deletes the older ones as it saves. It was "no such file", no more.
    kept = _run_keeping_its_newest_three(tmp_path, monkeypatch)
    for given in ("run1/checkpoints/step_8.zip", "checkpoints/step_8.zip",
                  f"{tmp_path}/run1/checkpoints/step_8.zip"):
        with pytest.raises(runs.RunError) as missing:
            runs.model_file(Path("run1"), given, "")
        assert str(missing.value) == (f"--checkpoint {given}: no such file (training keeps a run's newest 3 "
                                      f"checkpoints, deleting older ones as it saves; run1 holds {kept})")
    with pytest.raises(runs.RunError) as missing:  # another run's name: nothing said of this run's
        runs.model_file(Path("run1"), "run2/checkpoints/step_8.zip", "")
    assert str(missing.value) == "--checkpoint run2/checkpoints/step_8.zip: no such file"
    for step in (16, 24, 32):  # a run that holds none: no list of them to give
        (tmp_path / "run1" / "checkpoints" / f"step_{step}.zip").unlink()
    with pytest.raises(runs.RunError) as missing:
        runs.model_file(Path("run1"), "run1/checkpoints/step_8.zip", "")
    assert str(missing.value) == "--checkpoint run1/checkpoints/step_8.zip: no such file"


def test_a_resume_point_does_not_open_a_model_zip_that_is_no_file(tmp_path):
    # A model.zip that is a FIFO hung --resume, opened for its step before the game was built; the resume
    # replaces it with its first save, as it did before that check.
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_256.zip").write_bytes(b"PK\x03\x04")
    os.mkfifo(run / "model.zip")

    class Hung(Exception):  # none of the errors a damaged model.zip raises, which saved_step takes as such
        pass

    def hung(signum, frame):
        raise Hung

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        assert runs.resume_point(run) == run / "checkpoints" / "step_256.zip"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_a_resume_point_is_refused_where_model_zip_is_a_folder_its_saves_cannot_replace(tmp_path):
    # train_ppo.py --resume RUN with RUN/model.zip a folder (a bad copy) trained to its first checkpoint and
    # only then stopped: "model.zip could not be written (Is a directory)". A FIFO or a symlink, even one to a
    # folder, is replaced by the save, and resumed as before.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    newest = run / "checkpoints" / "step_256.zip"
    newest.write_bytes(b"PK\x03\x04")
    own = run / "model.zip"
    own.symlink_to(tmp_path)
    assert runs.resume_point(run) == newest
    own.unlink()
    own.mkdir()
    (own / "data").write_text("the user's")
    with pytest.raises(runs.RunError) as refused:
        runs.resume_point(run)
    assert str(refused.value) == (
        f"{run}: {own} is a folder, not a file, and each checkpoint the resume saves writes model.zip too, "
        "which cannot replace a folder: training would stop at its first checkpoint; move it out of the run "
        "folder (or remove it, if it holds nothing you need) and resume again")
    assert (own / "data").read_text() == "the user's"


def test_the_run_relative_checkpoint_hint_names_only_a_run_file_that_is_not_here(tmp_path, monkeypatch):
    # The hint is for a path given as `ls RUN/checkpoints` shows it: where the path is there in the folder the
    # command runs in (a folder of that name, refused as such), or the run holds no file at it (a folder),
    # "the run's is ..." would point at the wrong thing.
    run = old_run(tmp_path / "run1")
    (run / "checkpoints" / "step_8.zip").mkdir(parents=True)  # the run's is a folder, not a model file
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runs.RunError) as missing:
        runs.model_file(Path("run1"), "checkpoints/step_8.zip", "")
    assert str(missing.value) == "--checkpoint checkpoints/step_8.zip: no such file"
    (run / "checkpoints" / "step_8.zip").rmdir()
    (run / "checkpoints" / "step_8.zip").write_bytes(b"PK\x03\x04")
    (tmp_path / "checkpoints" / "step_8.zip").mkdir(parents=True)  # here, a folder of that name
    with pytest.raises(runs.RunError) as here:
        runs.model_file(Path("run1"), "checkpoints/step_8.zip", "")
    assert str(here.value) == "--checkpoint checkpoints/step_8.zip is a folder; give a model file (.zip)"


def test_a_model_file_given_as_the_run_is_pointed_to_its_flag_whatever_the_case_of_its_suffix(tmp_path):
    # A checkpoint copied from a system that names files in capitals (STEP_8.ZIP) is a model file as well.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    step = run / "checkpoints" / "STEP_8.ZIP"
    step.write_bytes(b"PK\x03\x04")
    assert runs.given_a_file(step, "--checkpoint") == (f"{step} is a file; give the run folder ({run}), and "
                                                        f"the model file as --checkpoint {step}")


def test_a_checkpoint_training_never_saved_is_not_said_deleted(tmp_path, monkeypatch):
    # A step past the newest (a typo, one not saved yet) or a run that holds fewer than the 3 it keeps (it
    # deleted none): the refusal said training had deleted it. The run's checkpoints are still named.
    run = old_run(tmp_path / "run1")
    (run / "checkpoints").mkdir()
    for step in (16, 24):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(tmp_path)
    for given in ("run1/checkpoints/step_8.zip", "run1/checkpoints/step_99.zip"):
        with pytest.raises(runs.RunError) as missing:
            runs.model_file(Path("run1"), given, "")
        assert str(missing.value) == (f"--checkpoint {given}: no such file (run1 holds "
                                      "run1/checkpoints/step_16.zip and run1/checkpoints/step_24.zip)")
    (run / "checkpoints" / "step_32.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(runs.RunError) as missing:
        runs.model_file(Path("run1"), "run1/checkpoints/step_40.zip", "")
    assert "training keeps" not in str(missing.value)
    # The run's own keep_checkpoints counts: 2 kept means step_8 may have been deleted; 0 deletes none.
    for keep, said in ((2, "training keeps a run's newest 2 checkpoints"), (0, None)):
        (run / "config.yaml").write_text(f"env: snake\nkeep_checkpoints: {keep}\n")
        with pytest.raises(runs.RunError) as missing:
            runs.model_file(Path("run1"), "run1/checkpoints/step_8.zip", "")
        assert (said in str(missing.value)) if said else ("training keeps" not in str(missing.value))


@pytest.mark.parametrize(("line", "keep"), [
    ("", 3), ("keep_checkpoints: null\n", 3), ("keep_checkpoints: all\n", 3), ("keep_checkpoints: [2]\n", 3),
    ("keep_checkpoints: 2.0\n", 2), ("keep_checkpoints: 0\n", 0), ("keep_checkpoints: -1\n", 3),
    ("keep_checkpoints: 2.5\n", 3), ("keep_checkpoints: true\n", 3),
], ids=["older-run", "null", "word", "list", "float", "every-one", "negative", "fraction", "switch"])
def test_a_runs_kept_checkpoints_is_its_count_or_the_default(tmp_path, monkeypatch, line, keep):
    # A hand-edited config.yaml with no count in keep_checkpoints is read as the default (3), not as a
    # ValueError traceback of the refusal it explains, nor as "keeps every one". A count training refuses
    # (--keep-checkpoints -1, 2.5, true) is none either: -1 had evaluate say "training keeps a run's newest
    # -1 checkpoints", 2.5 and true were read as 2 and 1.
    run = old_run(tmp_path / "run1")
    (run / "config.yaml").write_text(f"env: snake\n{line}")
    assert runs.kept_checkpoints(runs.read_run_config(run)) == keep
    (run / "checkpoints").mkdir()
    for step in (16, 24, 32):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runs.RunError) as missing:
        runs.model_file(Path("run1"), "run1/checkpoints/step_8.zip", "")
    said = f"(training keeps a run's newest {keep} checkpoints, deleting older ones as it saves; run1 holds "
    assert (said in str(missing.value)) == (keep != 0), missing.value


def test_a_run_whose_config_cannot_be_read_is_taken_to_keep_the_default_checkpoints(tmp_path, monkeypatch):
    run = old_run(tmp_path / "run1")
    (run / "config.yaml").write_text("env: [snake\n")  # corrupt: read_run_config refuses it
    (run / "checkpoints").mkdir()
    for step in (16, 24, 32):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"PK\x03\x04")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(runs.RunError, match=r"\(training keeps a run's newest 3 checkpoints, deleting older"):
        runs.model_file(Path("run1"), "run1/checkpoints/step_8.zip", "")


def test_auto_named_runs_started_in_one_second_get_numbered_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20260101-120000")
    cfg = {"env": "snake", "policy": "tiny", "seed": 0}
    names = []
    for _ in range(3):
        path, aside, lock = runs.new_run_dir(cfg, None, False)
        lock.close()
        names.append(path.name)
        assert aside is None
    assert names == ["tiny-s0-20260101-120000", "tiny-s0-20260101-120000-2", "tiny-s0-20260101-120000-3"]


def test_an_auto_named_run_is_named_by_its_start_to_the_second(tmp_path, monkeypatch):
    # README: runs/<env>/<policy>-s<seed>-<time>; a coarser time numbered every run of the same minute.
    monkeypatch.setattr(runs, "RUNS_DIR", tmp_path)
    before = time.strftime("%Y%m%d-%H%M%S")
    path, _, lock = runs.new_run_dir({"env": "snake", "policy": "tiny", "seed": 3}, None, False)
    lock.close()
    after = time.strftime("%Y%m%d-%H%M%S")
    assert path.parent == tmp_path / "snake" and path.name.startswith("tiny-s3-")
    assert before <= path.name.removeprefix("tiny-s3-") <= after


def test_an_empty_run_dir_is_used_without_force_and_a_file_there_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    path, aside, lock = runs.new_run_dir({"env": "snake"}, str(tmp_path / "run"), False)
    lock.close()
    assert (path, aside) == (tmp_path / "run", None)
    (tmp_path / "file").write_text("mine")
    with pytest.raises(runs.RunError, match=r"^--run-dir .*file is a file; give a folder$"):
        runs.new_run_dir({"env": "snake"}, str(tmp_path / "file"), True)


@pytest.mark.parametrize("only", ["config.yaml", "command.txt"])
def test_force_refuses_a_folder_with_only_one_of_a_runs_two_files(tmp_path, only):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / only).write_text("x")
    with pytest.raises(runs.RunError, match=r"it is not a depthfirst run folder"):
        runs.new_run_dir({"env": "snake"}, str(folder), True)
    assert (folder / only).is_file()


def test_a_folder_holding_no_run_is_refused_without_force_offering_neither_resume_nor_force(tmp_path):
    """Without --force, a folder of the user's files was told "continue it with --resume, or pass --force to
    replace it": both then refused it (not a run). A run folder is still offered both."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunError) as e:
        runs.new_run_dir({"env": "snake"}, str(folder), False)
    assert str(e.value) == (f"--run-dir {folder} already exists and holds files but no depthfirst run (no "
                            "config.yaml and command.txt); choose another --run-dir")
    for name in ("config.yaml", "command.txt"):
        (folder / name).write_text("x")
    with pytest.raises(runs.RunError, match=r"continue it with --resume .*, or pass --force to replace it$"):
        runs.new_run_dir({"env": "snake"}, str(folder), False)
    assert (folder / "notes.txt").read_text() == "mine"


def test_the_resume_offered_for_an_existing_run_runs_as_written(tmp_path, monkeypatch):
    # "continue it with --resume my runs/a" (unquoted: two words) or "--resume -x" (read as a flag).
    monkeypatch.chdir(tmp_path)
    for name, word in (("my runs", f"'{tmp_path}/my runs'"), ("-x", "./-x")):
        run = old_run(tmp_path / name)
        (run / "model.zip").write_bytes(b"")  # saved: a run with nothing to resume is told --force alone
        with pytest.raises(runs.RunError) as e:
            runs.new_run_dir({"env": "snake"}, name if name.startswith("-") else str(run), False)
        assert f"continue it with --resume {word}, or pass --force" in str(e.value)


def test_force_refuses_a_users_hidden_file_and_a_checkpoint_name_with_more_after_it(tmp_path):
    run = old_run(tmp_path / "run")
    (run / ".notes").write_text("mine")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_64.zip.bak").write_text("mine")
    with pytest.raises(runs.RunError, match=r"\(\.notes, checkpoints/step_64\.zip\.bak\)"):
        runs.new_run_dir({"env": "snake"}, str(run), True)


def test_force_through_a_symlink_replaces_the_run_it_points_to(tmp_path):
    real = old_run(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real)
    path, aside, lock = runs.new_run_dir({"env": "snake"}, str(link), True)
    lock.close()
    assert link.is_symlink() and (path, aside) == (real, tmp_path / ".real.replaced")
    assert (aside / "config.yaml").is_file() and [p.name for p in real.iterdir()] == [".train.lock"]


def test_force_keeps_a_relative_run_dir_as_typed(tmp_path, monkeypatch, capsys):
    # The start and done lines of a --force run named /abs/path/run where a plain run says run: the path
    # was resolved for a symlinked run even where no symlink was involved.
    monkeypatch.chdir(tmp_path)
    old_run(tmp_path / "run")
    path, aside, lock = runs.new_run_dir({"env": "snake"}, "run", True)
    lock.close()
    assert (path, aside) == (Path("run"), Path(".run.replaced"))
    said = capsys.readouterr()  # on stderr, as the note on a killed --force's leftover
    assert "--force: the old run waits in .run.replaced until" in said.err and not said.out
    inner = tmp_path / "run" / "inner"
    inner.mkdir()

    def replaced(typed: str) -> tuple[Path, Path]:
        """``--run-dir typed --force`` over a run at ``inner`` again: the new run's path and the old one's."""
        (inner / "config.yaml").write_text("env: snake\n")
        (inner / "command.txt").write_text("python scripts/train_ppo.py --env snake\n")
        (inner / ".train.lock").unlink(missing_ok=True)
        path, aside, lock = runs.new_run_dir({"env": "snake"}, typed, True)
        lock.close()
        assert path.is_dir()
        return path, aside

    monkeypatch.chdir(inner)
    assert replaced(".")[0] == inner  # "." has no name to move it aside by
    assert replaced("../inner")[0] == Path("../inner")
    (inner / "checkpoints").mkdir()  # nor has "..", typed in the run's checkpoints/
    monkeypatch.chdir(inner / "checkpoints")
    assert replaced("..") == (inner, tmp_path / "run" / ".inner.replaced-3")
    # An absolute path through a symlinked folder is kept as typed too: only the run itself is followed.
    (tmp_path / "link").symlink_to(tmp_path / "run")
    assert replaced(str(tmp_path / "link" / "inner")) == (tmp_path / "link" / "inner",
                                                            tmp_path / "link" / ".inner.replaced-4")


def refused_while_trained(run: Path, force: bool) -> None:
    """``new_run_dir`` at ``run`` while a trainer's claim holds it is refused as in training."""
    lock = runs.claim_run(run)
    try:
        with pytest.raises(runs.RunError, match=rf"another train_ppo\.py \(process {os.getpid()}\) is "
                                                 "training into this run folder"):
            runs.new_run_dir({"env": "snake"}, str(run), force)
    finally:
        lock.close()


def test_force_refuses_a_run_being_trained_and_leaves_it_in_place(tmp_path):
    run = old_run(tmp_path / "run")
    refused_while_trained(run, True)
    assert (run / "config.yaml").is_file() and not list(tmp_path.glob(".run.replaced*"))


def test_a_claim_of_a_run_another_process_trains_into_is_refused_naming_why(tmp_path):
    run = old_run(tmp_path / "run")
    with runs.claim_run(run), pytest.raises(runs.RunError) as raised:
        runs.claim_run(run)  # flock: another open file competes as another process's would
    assert str(raised.value) == (f"{run}: another train_ppo.py (process {os.getpid()}) is training into this "
                                 "run folder right now; wait for it to finish (or, for a new run, choose "
                                 "another --run-dir)")


@pytest.mark.parametrize("held_lock", ["", "0 node17\n", "-5\n"])
def test_a_lock_without_a_process_id_is_still_refused_naming_no_process(tmp_path, held_lock):
    # A lock taken by an older version (left empty), on a disk that refused the id's bytes, or edited by
    # hand to no process's id ("kill 0" would stop the user's own process group).
    run = old_run(tmp_path / "run")
    (run / ".train.lock").write_text(held_lock)
    with open(run / ".train.lock", "a") as held:
        outputs.exclusive_lock(held)
        with pytest.raises(runs.RunError, match=r": another train_ppo\.py is training into this run folder"):
            runs.claim_run(run)
        with pytest.raises(runs.RunError, match=r": another train_ppo\.py is training into this run folder"):
            runs.new_run_dir({"env": "snake"}, str(run), True)


def refused_while_held(run: Path, lock: str, match: str) -> None:
    """``claim_run(run)`` refused, ``match`` in its message, while another trainer holds the lock, which
    holds ``lock``."""
    (run / ".train.lock").write_text(lock)
    with open(run / ".train.lock", "a") as held:
        outputs.exclusive_lock(held)
        with pytest.raises(runs.RunError, match=match):
            runs.claim_run(run)


def test_a_trainer_on_another_machine_is_named_with_its_host(tmp_path):
    # A run folder on a shared disk (NFS, a cluster's): a job trains on a compute node, and a second trainer
    # (or evaluate.py) on the login node was told "process 4242", a process of that node's, or another one.
    import socket

    run = old_run(tmp_path / "run")
    with runs.claim_run(run):
        assert (run / ".train.lock").read_text() == f"{os.getpid()} {socket.gethostname()}\n"
    refused_while_held(run, "4242 node17\n", r": another train_ppo\.py \(process 4242 on node17\) is ")


def test_a_host_named_in_bytes_not_utf8_is_claimed_and_named_printably(tmp_path, monkeypatch):
    # The kernel takes any bytes as the host name (sethostname), which Python gives with surrogates: the
    # lock's write, encoded strictly, raised UnicodeEncodeError, a traceback in place of training.
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "h\udce9te")  # b"h\xe9te"
    run = old_run(tmp_path / "run")
    with runs.claim_run(run):
        assert (run / ".train.lock").read_text(encoding="ascii") == f"{os.getpid()} h\\udce9te\n"
        with pytest.raises(runs.RunError, match=rf"\(process {os.getpid()}\) is"):  # this host: not named
            runs.claim_run(run)
        monkeypatch.setattr(socket, "gethostname", lambda: "login")
        with pytest.raises(runs.RunError, match=rf"\(process {os.getpid()} on h\\udce9te\) is"):
            runs.claim_run(run)


def test_a_host_name_with_a_space_is_read_whole_from_the_lock(tmp_path, monkeypatch):
    # sethostname takes any bytes, a space too: the lock's host is the rest of its line, not its first word,
    # or this machine's own trainer was named as on another machine ("process N on my").
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "my host")
    run = old_run(tmp_path / "run")
    with runs.claim_run(run), pytest.raises(runs.RunError, match=rf"\(process {os.getpid()}\) is"):
        runs.claim_run(run)
    refused_while_held(run, "4242 other host\n", r"\(process 4242 on other host\) is")


def test_a_claim_names_its_own_process_while_it_removes_stale_temps(tmp_path, monkeypatch):
    # The id was written after the stale temp files were removed (a listing of checkpoints/, slow on NFS):
    # a second trainer refused meanwhile was named the last trainer's process, ended long ago.
    run = old_run(tmp_path / "run")
    (run / ".train.lock").write_text("999999999\n")  # the last trainer's, which has ended
    refusals = []

    def second_trainer(path: Path) -> None:
        with pytest.raises(runs.RunError) as refused:
            runs.claim_run(path)
        refusals.append(str(refused.value))

    monkeypatch.setattr(runs, "remove_stale_temps", second_trainer)
    runs.claim_run(run).close()
    assert len(refusals) == 1 and f"another train_ppo.py (process {os.getpid()})" in refusals[0], refusals


def test_a_refused_claim_leaves_the_trainers_process_id_in_the_lock(tmp_path, monkeypatch):
    # The id is written once the lock is taken: a second trainer writing its own first would have the
    # refusal name itself, and the running trainer's id lost for good.
    import socket

    run = old_run(tmp_path / "run")
    trainer = os.getpid()
    with runs.claim_run(run):
        with monkeypatch.context() as m, pytest.raises(runs.RunError, match=rf"\(process {trainer}\) is"):
            m.setattr(os, "getpid", lambda: trainer + 1)  # the second trainer's
            runs.claim_run(run)
        assert (run / ".train.lock").read_text() == f"{trainer} {socket.gethostname()}\n"


def test_a_disk_that_refuses_the_process_id_still_gives_the_claim(tmp_path, monkeypatch):
    # A full disk refusing the id's few bytes must not stop the training: the lock is held without it.
    import errno

    run = old_run(tmp_path / "run")

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "write", disk_full)
        lock = runs.claim_run(run)
    with lock, pytest.raises(runs.RunError, match=r": another train_ppo\.py is training into this run"):
        runs.claim_run(run)


def test_force_keeps_the_old_run_locked_while_it_moves_it_aside(tmp_path, monkeypatch):
    # Two --force runs into one folder at once: the second one claimed the old folder in the moment the
    # first had released it, then moved away the new folder the first had made, and both trained into one.
    run = old_run(tmp_path / "run")
    claims = []
    rename = Path.rename

    def second_claim_then_rename(self, target):
        try:  # a second train_ppo.py's claim at this moment (flock: another open file, so it competes)
            runs.claim_run(self).close()
            claims.append("taken")
        except runs.RunError:
            claims.append("refused")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", second_claim_then_rename)
    _, aside, lock = runs.new_run_dir({"env": "snake"}, str(run), True)
    lock.close()
    assert claims == ["refused"] and (aside / "config.yaml").is_file()
    runs.claim_run(aside).close()  # released once the new folder is claimed


def test_force_refuses_a_folder_another_command_made_once_the_old_run_was_moved_aside(tmp_path, monkeypatch):
    # exist_ok took that folder for the new run's: two commands trained into one folder, or (had the other
    # one moved it away again) this one's put-back old run.
    run = old_run(tmp_path / "run")
    rename = Path.rename

    def rename_then_another_mkdir(self, target):
        moved = rename(self, target)
        self.mkdir()  # another train_ppo.py's new run, made in the moment after
        (self / "config.yaml").write_text("env: snake\n")
        return moved

    monkeypatch.setattr(Path, "rename", rename_then_another_mkdir)
    refusal = r"made again by another command .*the old run is in .*\.run\.replaced$"
    with pytest.raises(runs.RunError, match=refusal):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert [p.name for p in run.iterdir()] == ["config.yaml"]  # the other command's, untouched
    assert (tmp_path / ".run.replaced" / "command.txt").is_file()


@pytest.mark.parametrize("force", [False, True])
def test_a_run_being_trained_before_its_config_is_written_is_said_to_be_in_training(tmp_path, force):
    # A second train_ppo.py started with the first found only its lock file: --force called the folder no
    # depthfirst run folder, and a new run offered --resume (which had no checkpoint) or --force.
    run = tmp_path / "run"
    run.mkdir()
    refused_while_trained(run, force)
    assert [p.name for p in run.iterdir()] == [".train.lock"] and not list(tmp_path.glob(".run.*"))


def test_a_run_in_training_without_its_config_yet_is_not_called_no_run_folder(tmp_path):
    # A --resume (or evaluate) started with a new run's training was told "not a depthfirst run folder".
    run = tmp_path / "run"
    run.mkdir()
    lock = runs.claim_run(run)
    try:
        with pytest.raises(runs.RunError, match=rf": a train_ppo\.py \(process {os.getpid()}\) is training "
                                                 r"into this run folder and has not written its "
                                                 r"config\.yaml yet; try again in a moment$"):
            runs.read_run_config(run)
    finally:
        lock.close()
    with pytest.raises(runs.RunError, match=r"not a depthfirst run folder \(no config\.yaml\)"):
        runs.read_run_config(run)  # no trainer holds it now


def flock_as_on_nfs(monkeypatch: pytest.MonkeyPatch) -> None:
    """fcntl.flock as an NFS client does it (flock(2)): emulated by byte-range locks, so an exclusive lock
    on a file opened only to read fails with EBADF."""
    import fcntl

    flock = fcntl.flock

    def nfs_flock(fd: int, operation: int) -> None:
        if operation & fcntl.LOCK_EX and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", nfs_flock)


def test_a_run_in_training_is_seen_on_nfs_too(tmp_path, monkeypatch):
    # The probe opens the lock file to read: its exclusive lock failed there (EBADF), read as no trainer.
    flock_as_on_nfs(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    lock = runs.claim_run(run)  # opened to append: the trainer's own lock is taken on NFS too
    try:
        assert runs.training_now(run)
    finally:
        lock.close()
    assert not runs.training_now(run)


def test_a_claim_is_not_refused_for_a_probe_of_the_lock_in_the_same_moment(tmp_path, monkeypatch):
    # training_now (a second command asking whether the folder is in training) holds the lock for a moment:
    # a trainer claiming it just then was refused as though another one trained there.
    run = old_run(tmp_path / "run")
    lock = runs.claim_run(run)
    probe = outputs.exclusive_lock
    calls = []

    def probed_once(f):
        calls.append(f)
        if len(calls) == 1:
            lock.close()  # the probe lets go
            raise BlockingIOError
        return probe(f)

    monkeypatch.setattr(runs, "exclusive_lock", probed_once)
    runs.claim_run(run).close()
    assert len(calls) == 2


def test_force_moves_the_old_run_past_an_earlier_one_waiting_aside_or_a_link(tmp_path):
    run = old_run(tmp_path / "run")
    old_run(tmp_path / ".run.replaced")
    (tmp_path / ".run.replaced-2").symlink_to(tmp_path / "nowhere")
    _, aside, lock = runs.new_run_dir({"env": "snake"}, str(run), True)
    lock.close()
    assert aside == tmp_path / ".run.replaced-3" and (aside / "command.txt").is_file()
    assert (tmp_path / ".run.replaced" / "config.yaml").is_file()


def test_force_clears_a_command_txt_that_is_no_run_in_its_tb_folder(tmp_path):
    run = old_run(tmp_path / "run")
    (run / "tb" / "PPO_1").mkdir(parents=True)
    (run / "tb" / "PPO_1" / "command.txt").write_text("x")  # no config.yaml beside it: no run
    runs.new_run_dir({"env": "snake"}, str(run), True)[2].close()
    assert runs.nested_runs(tmp_path / ".run.replaced") == []


def test_no_process_runs_as_pid_0_or_as_this_one():
    assert not outputs.process_running(0)  # kill(0, 0) signals the process group, which always exists
    assert not outputs.process_running(os.getpid())


def test_claiming_a_run_removes_only_the_temp_files_training_leaves(tmp_path, capsys):
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    stale = [".model.123.tmp.zip", ".config.123.tmp.yaml", ".milestones.123.tmp.json",
             "checkpoints/.step_64.123.tmp.zip"]
    kept = [".model.tmp.zip", ".model.123.tmp.zip.keep", "checkpoints/.step_64.123.tmp.bak", "mine.zip"]
    for name in stale + kept:
        (run / name).write_text("x")
    (run / ".config.456.tmp.yaml").symlink_to(run / "mine.zip")
    runs.claim_run(run).close()
    assert not [name for name in stale if (run / name).exists()]
    assert all((run / name).exists() for name in kept) and (run / ".config.456.tmp.yaml").is_symlink()
    # runs/README.md: the next training command removes them "and says so", naming each one.
    assert capsys.readouterr().err == (f"{run}: removed 4 temp files that a killed save left "
                                       "(.config.123.tmp.yaml, .milestones.123.tmp.json, .model.123.tmp.zip, "
                                       "checkpoints/.step_64.123.tmp.zip)\n")


def test_without_fcntl_no_lock_is_taken_and_no_temp_file_is_removed(tmp_path, monkeypatch):
    # Windows has no fcntl: with no lock, the temp files may be another trainer's, being written.
    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` raises ImportError
    run = old_run(tmp_path / "run")
    (run / ".model.123.tmp.zip").write_text("x")
    with runs.claim_run(run) as f:
        assert not outputs.exclusive_lock(f) and not outputs.shared_lock(f)
    assert (run / ".model.123.tmp.zip").exists()


def test_trained_env_from_the_tag_else_the_run_folder_the_file_sits_in(tmp_path):
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    assert runs.trained_env("pong", run / "model.zip") == "pong"
    assert runs.trained_env(None, run / "model.zip") == "snake"
    assert runs.trained_env(None, run / "checkpoints" / "step_64.zip") == "snake"
    assert runs.trained_env(None, run / "best.zip") is None  # a copy beside the run's files: no run's
    (run / "config.yaml").write_text("env: [snake]\n")
    assert runs.trained_env(None, run / "model.zip") is None
    (run / "config.yaml").write_text("[" * 5000)  # PyYAML's RecursionError: a config that does not say
    assert runs.trained_env(None, run / "model.zip") is None
    (run / "config.yaml").write_text("env: snake\n")
    (run / "command.txt").unlink()  # a user's config.yaml, not a run's
    assert runs.trained_env(None, run / "model.zip") is None


def test_restart_command_does_not_wait_on_a_fifo(tmp_path):
    # train_ppo.py --resume RUN whose only checkpoint is damaged and whose command.txt is a FIFO: its
    # advice to start again read command.txt, and open() waited for a writer: the resume hung.
    from tests.conftest import without_waiting_on

    os.mkfifo(tmp_path / "command.txt")
    assert without_waiting_on(tmp_path / "command.txt", lambda: runs.restart_command(tmp_path)) is None


@pytest.mark.parametrize(("line", "expected"), [
    ("python train.py --env snake", "python train.py --env snake --run-dir R --force"),
    ("python t.py --run-dir old --force --env snake", "python t.py --run-dir R --force --env snake"),
    ("python t.py --run-dir=old", "python t.py --run-dir=R --force"),
    ("cd /home/u && python t.py", "cd /home/u && python t.py --run-dir ABS --force"),
    # rerun_command's PYTHONPATH: quoted whole, 'PYTHONPATH=a b' was a command the shell did not find.
    ("cd /u && PYTHONPATH='a b' python t.py", "cd /u && PYTHONPATH='a b' python t.py --run-dir ABS --force"),
    # Every assignment before the interpreter (one added by hand too), each value requoted alone.
    ("cd /u && A='x y' PYTHONPATH='b c' python t.py",
     "cd /u && A='x y' PYTHONPATH='b c' python t.py --run-dir ABS --force"),
    ("cd /home/u ; python t.py", None),
    ("cd /home/u &&", None),
])
def test_restart_command_names_the_run_and_force_once(tmp_path, monkeypatch, line, expected):
    monkeypatch.chdir(tmp_path)
    Path("R").mkdir()
    Path("R", "command.txt").write_text(line + "\n")
    if expected is not None:
        expected = expected.replace("ABS", str(tmp_path / "R"))
    assert runs.restart_command(Path("R")) == expected


def test_written_together_replaces_the_target_of_a_link_removes_stale_and_temps(tmp_path, monkeypatch):
    target, link, stale = tmp_path / "t.json", tmp_path / "l.json", tmp_path / "old.mp4"
    target.write_text("old")
    link.symlink_to(target)
    stale.write_text("x")
    with outputs.written_together([link], stale=[stale]) as (tmp,):
        tmp.write_text("new")
    assert link.is_symlink() and target.read_text() == "new" and not stale.exists()
    with pytest.raises(OSError), outputs.written_beside(target) as tmp:
        tmp.write_text("half")
        raise OSError("disk full")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["l.json", "t.json"]
    calls = []
    monkeypatch.setattr(outputs, "settled", lambda: calls.append("settled"))
    outputs.atomic_write_text(target, "last", last=True)
    assert calls == ["settled"]


def test_written_together_says_its_files_are_placed_before_a_stop_deferred_in_the_renames(tmp_path,
                                                                                          monkeypatch):
    # evaluate.py with several checkpoints: a Ctrl-C during one's renames comes after them, and the command
    # must tell that its results were written (placed) from a stop before them.
    from agents.interrupts import stop_signals_interrupt

    real, placed = outputs._place_all, []

    def stopped_while_placing(*args):
        os.kill(os.getpid(), signal.SIGINT)  # deferred: the files are placed all the same
        real(*args)

    monkeypatch.setattr(outputs, "_place_all", stopped_while_placing)
    final = tmp_path / "eval-step5.json"
    with pytest.raises(KeyboardInterrupt), stop_signals_interrupt(), outputs.written_together(
            [final], placed=lambda: placed.append(final.read_text())) as (tmp,):
        tmp.write_text("new")
    assert placed == ["new"]


def test_an_output_file_refusals(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder; give a file name"):
        outputs.check_output_file(tmp_path, "--out", force=True)
    dangling = tmp_path / "out.json"
    dangling.symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(ValueError, match=r"exists; pass --force"):
        outputs.check_output_file(dangling, "--out", force=False)
    model = tmp_path / "model.zip"
    model.write_text("x")
    with pytest.raises(ValueError, match=r"is the model file"):
        outputs.check_output_file(model, "--out", force=True, inputs={"model": model})
    assert outputs.same_file(tmp_path / "sub" / ".." / "b", tmp_path / "b")  # neither exists yet
    os.link(model, tmp_path / "hard.zip")
    assert outputs.same_file(tmp_path / "hard.zip", model)


def test_file_slug_has_no_dashes_at_its_ends():
    assert runs.file_slug("/models/qwen vl/", "m") == "models-qwen-vl"
    assert runs.file_slug("///", "m") == "m"


def test_a_run_config_names_a_missing_folder_a_bad_recurrent_and_a_rom_of_none(tmp_path):
    with pytest.raises(runs.RunError, match=r": no such run folder$"):
        runs.read_run_config(tmp_path / "gone")
    run = old_run(tmp_path / "run")
    (run / "config.yaml").write_text("env: snake\nrecurrent: 'yes'\n")
    with pytest.raises(runs.RunError, match=r"sets recurrent: 'yes'; write true or false"):
        runs.read_run_config(run)
    (run / "config.yaml").write_text("env: gameboy\nenv_kwargs: {rom: none}\n")
    with pytest.raises(runs.RunError, match=r"the run's rom file none is not there"):
        runs.read_run_config(run)


def test_a_run_config_whose_rom_or_state_is_a_folder_says_so_not_that_it_is_missing(tmp_path):
    # The folder is there: "is not there (moved ...?)" sent the user looking for a file that had not moved.
    run = old_run(tmp_path / "run")
    for key in ("rom", "state"):
        (run / "config.yaml").write_text(f"env: gameboy\nenv_kwargs: {{{key}: {tmp_path}}}\n")
        folder = rf"the run's {key} file {re.escape(str(tmp_path))} is a folder"
        with pytest.raises(runs.RunError, match=rf"{folder}; write the file itself as env_kwargs\.{key} in "):
            runs.read_run_config(run)


def test_a_run_config_edited_to_a_path_under_home_reads_it_there(tmp_path, monkeypatch):
    # A moved run's ROM written back as "~/roms/c.gb" (as a --config takes it) was "not there", though it
    # was; an archive_dir so written would have been made as a folder named "~" in the current one.
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "c.gb").write_bytes(b"")
    run = old_run(tmp_path / "run")
    (run / "config.yaml").write_text("env: pokemon_red\n"
                                     "env_kwargs: {rom: ~/c.gb, state: none, archive_dir: ~/a}\n")
    kwargs = runs.read_run_config(run)["env_kwargs"]
    assert (kwargs["rom"], kwargs["archive_dir"]) == (f"{tmp_path}/c.gb", f"{tmp_path}/a")
    assert kwargs["state"] == "none"
    # ~name/: that user's home folder, as a --config and the shell take it
    import pwd

    user = pwd.getpwuid(os.getuid())
    (run / "config.yaml").write_text("env: pokemon_red\nenv_kwargs: {rom: ~/c.gb, state: none, "
                                     f"archive_dir: ~{user.pw_name}/a}}\n")
    assert runs.read_run_config(run)["env_kwargs"]["archive_dir"] == os.path.join(user.pw_dir, "a")


def test_a_hand_written_run_config_may_leave_its_game_options_out_or_empty(tmp_path):
    # read_run_config: "a hand-written config may leave the game's defaults implicit": an env_kwargs: with
    # nothing after it (YAML's null) is the game's defaults, as a missing one is, not "not a mapping".
    run = old_run(tmp_path / "run")
    for text in ("env: snake\n", "env: snake\nenv_kwargs:\n"):
        (run / "config.yaml").write_text(text)
        assert runs.read_run_config(run)["env_kwargs"] == {}, text
    (run / "config.yaml").write_text("env: snake\nenv_kwargs: 5\n")
    with pytest.raises(runs.RunError, match=r"config\.yaml is corrupt \(env_kwargs is not a mapping\)"):
        runs.read_run_config(run)


class StoppedWhileSaving(FakeModel):
    """A Ctrl-C that arrives as the checkpoint is being written."""

    def save(self, f) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        super().save(f)


def test_a_ctrl_c_during_a_checkpoint_stops_once_it_and_model_zip_are_written(tmp_path, monkeypatch):
    from agents import interrupts

    monkeypatch.setattr(interrupts, "_received", interrupts._received)  # the signal's count: undone after
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(KeyboardInterrupt):
        runs.save_checkpoint(StoppedWhileSaving(64), run)
    assert (run / "checkpoints" / "step_64.zip").read_bytes() == b"PK\x03\x04 step 64"
    assert (run / "model.zip").read_bytes() == b"PK\x03\x04 step 64"


def test_a_ctrl_c_as_a_commands_last_output_is_moved_into_place_is_ignored(tmp_path, monkeypatch):
    real_replace = os.replace

    def stopped_while_renaming(src, dst):
        os.kill(os.getpid(), signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", stopped_while_renaming)
    # the test process's own stop handling stays as it was
    monkeypatch.setattr(outputs, "settled", lambda: None)
    try:
        outputs.atomic_write_text(tmp_path / "out.json", "{}", last=True)
    except KeyboardInterrupt:
        pytest.fail("a stop signal after the last output was written said the command wrote nothing")
    assert (tmp_path / "out.json").read_text() == "{}"


@pytest.mark.parametrize(("mine", "folder"), [
    (".model.123.tmp.zip.bak", False), (".milestones..tmp.json", False), ("eval-step64.123.tmp.json", False),
    (".model.123.tmp.zip", True), (".eval-step64.123.tmp.json", True),
])
def test_force_refuses_a_users_entry_that_only_resembles_a_writers_temp(tmp_path, mine, folder):
    # RUN_TEMP names a temp exactly (whole name, a pid, the leading dot) and only as a file: a user's
    # .model.<pid>.tmp.zip.bak, or a folder of such a name, is theirs, and --force must not delete it.
    run = old_run(tmp_path / "run")
    entry = run / mine
    entry.mkdir() if folder else entry.write_text("mine")
    with pytest.raises(runs.RunError, match=rf"holds files a run does not write \({re.escape(mine)}\)"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert entry.exists() and not list(tmp_path.glob(".run.replaced*"))


def test_json_object_is_none_for_any_file_that_holds_no_json_object(tmp_path):
    # The one reader of the files commands read back to decide (cache entries, milestones, earlier results):
    # each caught its own list of errors, and two missed json's RecursionError.
    from agents.outputs import json_object_or_none

    files = {"missing": None, "zip": b"PK\x03\x04{", "latin1": b'{"a": "\xe9"}', "list": b"[1]",
             "nested": b'{"a":' * 100_000, "cut": b'{"a": 1', "object": b'{"a": [1]}'}
    for name, raw in files.items():
        if raw is not None:
            (tmp_path / name).write_bytes(raw)
    assert {name: json_object_or_none(tmp_path / name) for name in files} == {
        "missing": None, "zip": None, "latin1": None, "list": None, "nested": None, "cut": None,
        "object": {"a": [1]}}
    assert json_object_or_none(tmp_path) is None  # a folder


def _bytes_read() -> int:
    """This process's bytes read so far (Linux's /proc/self/io rchar)."""
    return int(Path("/proc/self/io").read_text().split("rchar:")[1].split()[0])


@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="counts the bytes read in /proc/self/io")
def test_a_json_object_after_whitespace_or_a_bom_is_read_and_a_big_other_file_is_not(tmp_path):
    # JSON allows whitespace before the object ("\n{...}", a file written by hand), and a Windows editor
    # (Notepad) may start it with a UTF-8 byte-order mark: both read as no JSON object, so a ROM record
    # was "not a JSON object" and --resume dropped its bests. A file that starts otherwise (a model's zip,
    # a video) is still refused on its first characters, not read whole.
    files = {"spaced": b' \r\n\t {"a": 1}\n', "lines": b"\n" * 10_000 + b'{"a": 2}',
             "bom": b'\xef\xbb\xbf{"a": 3}', "bom_spaced": b'\xef\xbb\xbf\r\n{"a": 4}',
             "spaced_list": b"\n [1]", "bom_twice": b'\xef\xbb\xbf\xef\xbb\xbf{"a": 5}'}
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    assert {name: outputs.read_json_object(tmp_path / name) for name in files} == {
        "spaced": {"a": 1}, "lines": {"a": 2}, "bom": {"a": 3}, "bom_spaced": {"a": 4}, "spaced_list": None,
        "bom_twice": None}
    big = tmp_path / "big"
    big.write_bytes(b"\n  " + b"x" * 50_000_000)
    before = _bytes_read()
    assert outputs.read_json_object(big) is None and outputs.json_object_or_none(big) is None
    assert _bytes_read() - before < 1_000_000


def test_json_object_does_not_wait_on_a_fifo(tmp_path):
    # A FIFO in place of a cache entry or a meta.json: open() waited for a writer that never came, and
    # compare (or export, score_predictions) hung without a word.
    from agents.outputs import json_object_or_none
    from tests.conftest import without_waiting_on

    fifo = tmp_path / "entry.json"
    os.mkfifo(fifo)
    assert without_waiting_on(fifo, lambda: json_object_or_none(fifo)) is None


def test_a_checkpoint_or_run_folder_given_through_a_pipe_is_named_as_one(tmp_path):
    # evaluate --checkpoint <(...), train --resume <(...): "no such file" and "no such run folder" named a
    # path that was there.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(runs.RunError, match=r"^--checkpoint .*pipe is a pipe \(bash's <\(\.\.\.\) or a "
                       r"FIFO\), which can be read only once, and a checkpoint \(a zip\) is read by seeking "
                       r"in it; save its output to a file and give that$"):
        runs.model_file(tmp_path, fifo, "")
    with pytest.raises(runs.RunError, match=r"^--checkpoint /dev/null is a character device, not a file$"):
        runs.model_file(tmp_path, "/dev/null", "")
    with pytest.raises(runs.RunError, match=r"pipe is a FIFO \(named pipe\), not a run folder; give the"):
        runs.read_run_config(fifo)


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("moment", ["after the checks", "before mkdir"])
def test_a_file_another_program_puts_at_a_new_run_dir_is_named(tmp_path, monkeypatch, force, moment):
    # No old run was moved aside (the folder was missing): the error said "the old run is in None", or,
    # for a file made just after check_output_folder, iterdir raised a bare NotADirectoryError.
    run = tmp_path / "run"
    check, mkdir = outputs.check_output_folder, Path.mkdir

    def check_then_file(path, flag):
        check(path, flag)
        run.write_text("another program's\n")

    def file_then_mkdir(self, *args, **kwargs):
        if self == run:
            run.write_text("another program's\n")
        return mkdir(self, *args, **kwargs)

    if moment == "after the checks":
        monkeypatch.setattr(runs, "check_output_folder", check_then_file)
    else:
        monkeypatch.setattr(Path, "mkdir", file_then_mkdir)
    with pytest.raises(runs.RunError, match=r"^--run-dir .*run: .*run is a file, made by another program"):
        runs.new_run_dir({"env": "snake"}, str(run), force)
    assert run.read_text() == "another program's\n"  # left as it is


def test_a_file_another_program_puts_above_a_new_run_dir_is_the_one_named(tmp_path, monkeypatch):
    # The run folder's missing parent, made a file in the moment before mkdir reached it: that file is named.
    runs_dir = tmp_path / "runs"
    mkdir = Path.mkdir

    def file_then_mkdir(self, *args, **kwargs):
        if self == runs_dir:
            runs_dir.write_text("another program's\n")
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", file_then_mkdir)
    with pytest.raises(runs.RunError) as raised:
        runs.new_run_dir({"env": "snake"}, str(runs_dir / "run"), False)
    assert str(raised.value).startswith(f"--run-dir {runs_dir / 'run'}: {runs_dir} is a file, made by")


def test_force_names_the_old_run_when_a_file_is_put_where_it_was_moved_from(tmp_path, monkeypatch):
    run = old_run(tmp_path / "run")
    rename = Path.rename

    def rename_then_a_file(self, target):
        moved = rename(self, target)
        self.write_text("another program's\n")
        return moved

    monkeypatch.setattr(Path, "rename", rename_then_a_file)
    with pytest.raises(runs.RunError, match=r"the old run is in .*\.run\.replaced$"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert run.read_text() == "another program's\n" and (tmp_path / ".run.replaced" / "command.txt").is_file()


def test_force_leaves_an_empty_folder_another_command_just_made_and_the_old_run_aside(tmp_path, monkeypatch):
    # The other command's folder, made but not yet written to: removing it as though it were this run's and
    # putting the old run back in its place would take the name from under the other command.
    run = old_run(tmp_path / "run")
    rename = Path.rename

    def rename_then_another_mkdir(self, target):
        moved = rename(self, target)
        self.mkdir()  # another train_ppo.py's new run, nothing in it yet
        return moved

    monkeypatch.setattr(Path, "rename", rename_then_another_mkdir)
    with pytest.raises(runs.RunError) as raised:
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert str(raised.value) == (f"--run-dir {run} was made again by another command while --force moved the "
                                 f"old run aside; the old run is in {tmp_path / '.run.replaced'}")
    assert run.is_dir() and not list(run.iterdir())  # the other command's, untouched
    assert (tmp_path / ".run.replaced" / "config.yaml").is_file()


def test_a_claim_waits_a_moment_for_a_probe_before_its_second_look(tmp_path, monkeypatch):
    # The probe lets go during the wait: a second look at once, with no wait, found it still held.
    run = old_run(tmp_path / "run")
    probe = open(run / ".train.lock", "a")  # noqa: SIM115 - closed by the wait below
    assert outputs.exclusive_lock(probe)
    waits: list[float] = []

    def probe_lets_go(seconds: float) -> None:
        waits.append(seconds)
        probe.close()

    monkeypatch.setattr(runs.time, "sleep", probe_lets_go)
    runs.claim_run(run).close()
    assert waits == [0.1] and probe.closed


def no_links(src: Path, dst: Path) -> None:
    """``os.link`` on a file system without hard links (FAT, some network mounts)."""
    raise OSError(errno.EPERM, os.strerror(errno.EPERM))


@pytest.mark.parametrize("there", [False, True])
def test_place_new_without_hard_links_writes_only_where_no_file_is(tmp_path, monkeypatch, there):
    # A file system without hard links: os.link fails, and a check decides.
    monkeypatch.setattr(outputs.os, "link", no_links)
    final = tmp_path / "out.json"
    if there:
        final.write_text("theirs")
        with pytest.raises(FileExistsError):
            outputs.atomic_write_text(final, "mine", new=True)
        assert final.read_text() == "theirs"
    else:
        outputs.atomic_write_text(final, "mine", new=True)
        assert final.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left


def test_written_beside_gives_each_thread_its_own_temp_file(tmp_path):
    # One temp name per process let a thread rename into place a temp file another thread of the process
    # was still writing (a VLM answer cached twice at once). A main thread's names stay RUN_TEMP's.
    names: list[str] = []

    def write() -> None:
        with outputs.written_beside(tmp_path / "a.json") as tmp:
            names.append(tmp.name)
            tmp.write_text("{}")

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    write()
    assert names[1] == f".a.{os.getpid()}.tmp.json" and names[0] != names[1]
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize("links", [True, False])
def test_written_together_new_places_none_when_one_place_is_taken(tmp_path, monkeypatch, links):
    # The first file stayed placed when the second one's place was taken: half a set, and a retry with
    # --force needed to get the rest.
    if not links:  # a check and a rename
        monkeypatch.setattr(outputs.os, "link", no_links)
    mine, theirs = tmp_path / "a.json", tmp_path / "b.mp4"
    theirs.write_text("theirs")
    with pytest.raises(FileExistsError), outputs.written_together([mine, theirs], new=True) as tmps:
        for tmp in tmps:
            tmp.write_text("mine")
    assert [p.name for p in tmp_path.iterdir()] == ["b.mp4"] and theirs.read_text() == "theirs"


@pytest.mark.parametrize("video", [True, False])
def test_two_writers_of_one_set_place_it_in_turn(tmp_path, monkeypatch, video):
    # Two evaluate.py of one model at once: their renames interleaved, leaving one's result beside the
    # other's videos (or, with --no-video, beside the videos its stale files should have removed).
    files = [tmp_path / n for n in ("eval.json", "eval-best.mp4", "eval-best.gif")]

    def write(who: str, videos: bool) -> None:
        with outputs.written_together(files if videos else files[:1], [] if videos else files[1:]) as tmps:
            for tmp in tmps:
                tmp.write_text(who)

    place, second = outputs.place, threading.Thread(target=write, args=("second", video))

    def second_writer_starts(tmp: Path, final: Path, new: bool = False) -> None:
        place(tmp, final, new)
        if not second.is_alive() and final == files[0] and tmp.name.startswith(f".eval.{os.getpid()}."):
            second.start()  # the first writer has placed its result, not yet its videos
            second.join(timeout=0.5)  # waits for the first writer's lock, if there is one

    monkeypatch.setattr(outputs, "place", second_writer_starts)
    write("first", True)
    second.join()
    assert [f.read_text() for f in files if f.exists()] == ["second"] * (3 if video else 1)


@pytest.mark.parametrize("last", [True, False], ids=["last", "periodic"])
@pytest.mark.parametrize("safe_points", [False, True], ids=["plain", "safe_points"])
def test_a_stop_while_another_writer_holds_the_folder_ends_the_wait_and_places_nothing(tmp_path, last,
                                                                                      safe_points):
    # The folder's lock was waited for inside the renames' signal block: a Ctrl-C was dropped (last, as
    # evaluate's results) or held until the set was placed, so a writer frozen with Ctrl-Z while holding
    # the lock kept the command from stopping at all. Inside stop_at_safe_points (training's learn(), an
    # export's pool) the first Ctrl-C only marked a stop for the next stop point, which the wait never
    # reached: it ended only on a second Ctrl-C.
    import fcntl
    import subprocess
    import time

    from tests.conftest import ROOT

    code = ("import contextlib, sys; from pathlib import Path\n"
            "from agents.interrupts import stop_at_safe_points, stop_signals_interrupt\n"
            "from agents.outputs import written_together\n"
            "files = [Path(sys.argv[1], n) for n in ('eval.json', 'eval-best.mp4')]\n"
            "polled = stop_at_safe_points() if sys.argv[3] == '1' else contextlib.nullcontext()\n"
            "written = written_together(files, last=sys.argv[2] == '1')\n"
            "try:\n"
            "    with stop_signals_interrupt(), polled, written as tmps:\n"
            "        for tmp in tmps:\n            tmp.write_text('new')\n"
            "        print('placing', flush=True)\n"
            "except KeyboardInterrupt:\n    sys.exit(130)\n")
    held = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)  # another writer placing its set, frozen
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(int(last)),
                                 str(int(safe_points))], text=True,
                                stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert proc.stdout.readline() == "placing\n"
            time.sleep(0.3)  # into the wait for the lock
            proc.send_signal(signal.SIGINT)
            start = time.monotonic()
            status = proc.wait(timeout=3)
            took = time.monotonic() - start
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
    finally:
        os.close(held)
    assert status == 130 and took < 1.0
    assert list(tmp_path.iterdir()) == []  # no temp file, no file of the set


def test_a_set_is_placed_where_its_folder_cannot_be_locked(tmp_path, monkeypatch):
    # On NFS the folder's lock fails (EBADF: a folder opens only to read): the set is placed all the same.
    flock_as_on_nfs(monkeypatch)
    files, stale = [tmp_path / "eval.json", tmp_path / "eval-best.mp4"], tmp_path / "eval-best.gif"
    stale.write_text("old")
    with outputs.written_together(files, [stale]) as tmps:
        for tmp in tmps:
            tmp.write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["eval-best.mp4", "eval.json"]
    assert [f.read_text() for f in files] == ["new", "new"]


def test_place_new_without_hard_links_keeps_a_dangling_link_made_there_meanwhile(tmp_path, monkeypatch):
    # A link is an entry as a file is, though it points nowhere: not replaced, as os.link would not.
    monkeypatch.setattr(outputs.os, "link", no_links)
    final = tmp_path / "out.json"
    with pytest.raises(FileExistsError), outputs.written_together([final], new=True) as (tmp,):
        tmp.write_text("mine")
        final.symlink_to(tmp_path / "nowhere")  # another command's, made while this one worked
    assert final.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_place_new_leaves_a_file_another_writer_put_there_just_after_the_link(tmp_path, monkeypatch):
    # Linked, this file is in place: a --force writer that replaces it a moment later wins, as the later one.
    final, link = tmp_path / "out.json", os.link

    def then_replaced(src, dst):
        link(src, dst)
        (tmp_path / "theirs").write_text("theirs")
        os.replace(tmp_path / "theirs", dst)

    monkeypatch.setattr(outputs.os, "link", then_replaced)
    outputs.atomic_write_text(final, "mine", new=True)
    assert final.read_text() == "theirs" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_force_refuses_an_input_anywhere_inside_the_run_it_replaces(tmp_path):
    # A --state kept in a folder of the run (states/) is moved aside and deleted with the old run as one at
    # its top is; one beside the run, in a folder whose name only starts as the run's, is no part of it.
    run = old_run(tmp_path / "run")
    (run / "states").mkdir()
    inside = str(run / "states" / "start.state")
    refused = rf"^--state {re.escape(inside)} is inside --run-dir {re.escape(str(run))}, which --force"
    with pytest.raises(runs.RunError, match=refused):
        runs.refuse_inputs_in_replaced_run(run, {"--config": None, "--state": inside})
    runs.refuse_inputs_in_replaced_run(run, {"--state": str(tmp_path / "run-states" / "start.state"),
                                             "--config": str(tmp_path / "mine.yaml")})


def test_force_names_the_first_five_files_of_the_users_and_says_there_are_more(tmp_path):
    run = old_run(tmp_path / "run")
    for name in ("a", "b", "c", "d", "e", "f"):
        (run / f"{name}.txt").write_text("mine")
    five = r"a\.txt, b\.txt, c\.txt, d\.txt, e\.txt"
    with pytest.raises(runs.RunError, match=rf"does not write \({five}, \.\.\.\); move them out first"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    (run / "f.txt").unlink()  # five: all named, with nothing after them
    with pytest.raises(runs.RunError, match=rf"does not write \({five}\); move them out first"):
        runs.new_run_dir({"env": "snake"}, str(run), True)


def test_the_run_force_moved_aside_is_found_under_a_name_glob_would_read_as_a_pattern(tmp_path):
    # .run[1].replaced, not .run1.replaced (what the pattern run[1] matches), is where --force moved run[1].
    (tmp_path / ".run1.replaced").mkdir()
    aside = tmp_path / ".run[1].replaced"
    aside.mkdir()
    identity = outputs.folder_identity(aside)
    assert runs.moved_aside(tmp_path / "run[1]", identity) == aside


def test_the_run_force_moved_aside_is_found_beside_the_run_a_link_to_it_names(tmp_path):
    # --force moves store/run aside as store/.run.replaced: not .link.replaced beside the link given.
    (tmp_path / "store" / "run").mkdir(parents=True)
    aside = tmp_path / "store" / ".run.replaced"
    aside.mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "store" / "run")
    found = runs.moved_aside(tmp_path / "link", outputs.folder_identity(aside))
    assert found is not None and os.path.samefile(found, aside)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd") or os.rmdir not in os.supports_dir_fd,
                    reason="reads the open files in Linux's /proc; removes through a folder's handle")
def test_made_folders_are_removed_where_their_run_went_and_the_handle_is_closed(tmp_path, monkeypatch):
    # compare.py --specialist . made a/compare-<time> in the run, then a train_ppo.py --force moved the run
    # aside and made a new one at its name: the folders are removed in the old run, the new run's alike
    # names are left, and the handle on the run is closed again.
    run, aside = tmp_path / "run", tmp_path / ".run.replaced"
    (run / "a" / "compare-1").mkdir(parents=True)
    monkeypatch.chdir(run)  # "." is the old run once it moves: the names are read as the output started
    made = outputs.MadeFolders([Path("a/compare-1"), run / "a"])  # missing_folders' list, innermost first
    assert os.path.realpath(run) in open_paths()
    run.rename(aside)
    (run / "a" / "compare-1").mkdir(parents=True)
    made.remove()
    assert not (aside / "a").exists()
    assert (run / "a" / "compare-1").is_dir()
    made.close()
    made.close()  # twice: nothing more to close
    assert os.path.realpath(aside) not in open_paths()


@pytest.mark.parametrize("dir_fd", [True, False])
def test_made_folders_holding_something_stay_and_the_empty_ones_go(tmp_path, monkeypatch, dir_fd):
    # Without a handle (os.rmdir takes no dir_fd: Windows) the folders are removed by name.
    if not dir_fd:
        monkeypatch.setattr(os, "supports_dir_fd", set())
    elif os.rmdir not in os.supports_dir_fd:
        pytest.skip("os.rmdir takes no dir_fd here")
    out, kept = tmp_path / "a" / "b" / "compare-1", tmp_path / "c" / "compare-2"
    out.mkdir(parents=True)
    kept.mkdir(parents=True)
    (kept / "report.md").write_text("a report")
    # compare.py's marks beside its folders go first: runs/<env> made for a comparison held one, and stayed.
    marks = [out.with_name(".compare-1.123.tmp"), kept.with_name(".compare-2.123.tmp")]
    for mark in marks:
        mark.touch()
    made = outputs.MadeFolders([out, out.parent, out.parent.parent], marks[:1])
    other = outputs.MadeFolders([kept, kept.parent], marks[1:])
    assert (made.handle is not None) is dir_fd
    try:
        made.remove()
        other.remove()
    finally:
        made.close()
        other.close()
    assert not (tmp_path / "a").exists()
    assert (kept / "report.md").is_file() and not marks[1].exists()


def test_made_in_makes_again_only_the_folder_another_output_removed(tmp_path):
    # Another output that found the folder missing too failed and removed it (empty) as this one made its
    # entry: made again, up to ``tries`` times. A file missing in a folder that is there is the caller's
    # error at once, not ``tries`` attempts of the whole ``make`` (which a retried export claim would be).
    folder, calls = tmp_path / "new" / "out", []

    def removed(times: int) -> str:
        calls.append(folder.is_dir())
        if len(calls) <= times:
            outputs.remove_folders([folder, folder.parent])  # the failed output's cleanup
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(folder / "entry"))
        return "made"

    assert outputs.made_in(folder, lambda: removed(2)) == "made" and calls == [True] * 3
    calls.clear()
    with pytest.raises(FileNotFoundError):
        outputs.made_in(folder, lambda: removed(5), tries=3)
    assert calls == [True] * 3 and not (tmp_path / "new").exists()

    def input_missing() -> None:
        calls.append(folder.is_dir())
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(tmp_path / "input"))

    calls.clear()
    with pytest.raises(FileNotFoundError):
        outputs.made_in(folder, input_missing)
    assert calls == [True]


def test_an_output_folders_new_parent_removed_as_it_is_made_is_made_again(tmp_path, monkeypatch):
    # compare.py --out new/a and --out new/b (or two endpoints' evaluate.py --vlm into new/vlm-<model>)
    # started together both found new/ missing: the one that failed removed it (empty) just after the other's
    # mkdir had made it, before the output's own folder in it, and the other, before its play, said "--out
    # new/b: the folder cannot be made (No such file or directory); free some space or choose another place".
    parent, out = tmp_path / "new", tmp_path / "new" / "b"
    mkdir, gaps = os.mkdir, []

    def other_failed_in_the_gap(path, *args, **kwargs):
        if Path(path) == out and parent.is_dir() and not gaps:
            gaps.append(True)
            outputs.remove_folders([parent / "a", parent])  # the failed one's cleanup
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", other_failed_in_the_gap)
    assert outputs.make_output_folder(out, "--out") == [out, parent]
    assert gaps and out.is_dir()


def test_make_again_makes_only_an_output_folder_gone_under_the_same_folder(tmp_path):
    base = tmp_path / "base"
    out = base / "new" / "out"
    out.mkdir(parents=True)
    chain = outputs.folder_chain(out)
    assert not outputs.make_again(out, chain)  # still there: not made again
    outputs.remove_folders([out, out.parent])  # another output's cleanup, this one's folders empty
    assert outputs.make_again(out, chain) and out.is_dir()
    chain = outputs.folder_chain(out)
    base.rename(tmp_path / ".base.replaced")  # a train_ppo.py --force moving the run aside...
    base.mkdir()  # ...and making the new one: the output is not for it
    assert not outputs.make_again(out, chain) and list(base.iterdir()) == []
    out.mkdir(parents=True)  # another output's folder at that name now
    assert not outputs.make_again(out, chain)


def test_a_run_killed_before_its_first_checkpoint_is_not_told_to_resume(tmp_path):
    # train_ppo.py killed outright (SIGKILL, the OOM killer) after making its run folder, before its first
    # checkpoint: the same command again was told "continue it with --resume RUN", which then refused it
    # ("no checkpoint to load"). Only --force starts it again there; a run with a checkpoint is resumed.
    run = old_run(tmp_path / "run")
    (run / "tb").mkdir()
    with pytest.raises(runs.RunError) as e:
        runs.new_run_dir({"env": "snake"}, str(run), False)
    assert str(e.value) == (f"--run-dir {run} already exists and holds a run stopped before its first "
                            "checkpoint (nothing to resume); pass --force to start it again there, or choose "
                            "another name")
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_64.zip").write_bytes(b"")
    with pytest.raises(runs.RunError, match=r"continue it with --resume .*, or pass --force to replace it"):
        runs.new_run_dir({"env": "snake"}, str(run), False)


@pytest.mark.parametrize("force", [False, True])
def test_a_run_an_earlier_force_left_aside_is_named_by_the_next_command(tmp_path, capsys, force):
    # train_ppo.py --force killed outright (SIGKILL) before its new run finished or saved: the old run it had
    # moved aside stayed in .run.replaced, and the next --force moved the run to .run.replaced-2 with no word
    # of it (the first run's files, hidden, for good). It is named, and left as it is: the user's to keep.
    run = old_run(tmp_path / "run")
    left = old_run(tmp_path / ".run.replaced")
    (left / "model.zip").write_bytes(b"the old run's model")
    (run / "model.zip").write_bytes(b"")
    if force:
        _, aside, lock = runs.new_run_dir({"env": "snake"}, str(run), True)
        lock.close()
        assert aside == tmp_path / ".run.replaced-2"
    else:
        with pytest.raises(runs.RunError, match="continue it with --resume"):
            runs.new_run_dir({"env": "snake"}, str(run), False)
    assert (left / "model.zip").read_bytes() == b"the old run's model"
    out = capsys.readouterr().err  # on stderr, as training's other notes
    assert out.startswith(f"note: {left} holds a run that an earlier train_ppo.py --force moved aside from "
                          f"{run} and did not delete (it was killed before it finished): move it back, or "
                          "delete it if you no longer need it\n"), out


def test_a_run_a_killed_force_left_aside_is_named_where_no_run_folder_was_made_since(tmp_path, capsys):
    # Killed between moving the old run aside and making the new folder: --run-dir is gone, and the new run
    # made there said nothing of the old one, hidden in .run.replaced.
    left = old_run(tmp_path / ".run.replaced")
    path, aside, lock = runs.new_run_dir({"env": "snake"}, str(tmp_path / "run"), False)
    lock.close()
    assert path == tmp_path / "run" and aside is None and (left / "config.yaml").is_file()
    out = capsys.readouterr().err
    assert out.startswith(f"note: {left} holds a run that an earlier train_ppo.py --force moved aside from "
                          f"{path} and did not delete"), out


def test_make_again_says_no_where_the_folder_cannot_be_made_and_takes_a_relative_path(tmp_path, monkeypatch):
    # Hand mutants lived: a mkdir that failed (a full disk) said made again, so compare took the missing
    # folder for its own in place of saying it was moved; folder_chain of a relative path was as long as its
    # words (make_again's strict zip then a ValueError).
    monkeypatch.chdir(tmp_path)
    out = Path("base") / "out"
    out.mkdir(parents=True)
    chain = outputs.folder_chain(out)
    assert chain == outputs.folder_chain(tmp_path / out)
    out.rmdir()

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    with monkeypatch.context() as m:
        m.setattr(Path, "mkdir", full)
        assert not outputs.make_again(out, chain)
    assert outputs.make_again(out, chain) and out.is_dir()


def test_a_run_killed_during_its_first_save_is_not_told_to_resume(tmp_path):
    # Killed outright during its first save: the save had made checkpoints/ (and maybe begun its temp file)
    # but placed no step_<N>.zip nor model.zip. The same command again was told "continue it with --resume
    # RUN", which then refused it ("checkpoints holds no step_<N>.zip"): nothing is there to resume.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    for temp in ((), (".step_64.4242.tmp.zip",)):
        for name in temp:
            (run / "checkpoints" / name).write_bytes(b"half")
        with pytest.raises(runs.RunError, match=r"holds a run stopped before its first checkpoint \(nothing "
                           r"to resume\); pass --force"):
            runs.new_run_dir({"env": "snake"}, str(run), False)
    (run / "model.zip").write_bytes(b"")  # a model to resume from (its checkpoints pruned by hand)
    with pytest.raises(runs.RunError, match=r"continue it with --resume .*, or pass --force to replace it"):
        runs.new_run_dir({"env": "snake"}, str(run), False)


def test_remove_dead_temps_takes_only_names_a_writer_writes(tmp_path, capsys):
    # plot_curve.py, score_predictions.py and the VLM cache remove a killed writer's .<stem>.<pid>.tmp<ext>.
    # A pid is written in ASCII digits without a leading zero: a user's .curve.0123.tmp.png or
    # .curve.١٢٣.tmp.png (Arabic-Indic digits, which int() reads as 123) is no writer's, and was deleted.
    import subprocess

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    arabic = "".join(chr(0x0660 + int(d)) for d in dead)
    left = [f".curve.{dead}.tmp.png", f".curve.{dead}-{dead}.tmp.png"]
    users = [f".curve.0{dead}.tmp.png", f".curve.{arabic}.tmp.png", f".curve.{dead}-0{dead}.tmp.png"]
    for name in left + users:
        (tmp_path / name).write_bytes(b"mine")
    runs.remove_dead_temps(tmp_path / "curve.png", "plot_curve.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(users)
    assert capsys.readouterr().err == (f"{tmp_path}: removed 2 temp files that a killed plot_curve.py left "
                                       f"({', '.join(sorted(left))})\n")


def test_only_a_folder_force_names_as_its_aside_is_called_a_run_it_left(tmp_path, capsys):
    # The note globbed .run.replaced*: a user's .run.replaced-notes.txt, or their .run.replaced.bak/, was "a
    # run that an earlier train_ppo.py --force moved aside ...: delete it if you no longer need it". --force
    # names its aside .run.replaced or .run.replaced-<k>, a folder.
    (tmp_path / ".run.replaced-notes.txt").write_text("mine")
    (tmp_path / ".run.replaced.bak").mkdir()
    (tmp_path / ".run.replaced").write_text("mine too, a file")
    left = old_run(tmp_path / ".run.replaced-2")
    path, _, lock = runs.new_run_dir({"env": "snake"}, str(tmp_path / "run"), False)
    lock.close()
    assert capsys.readouterr().err == (f"note: {left} holds a run that an earlier train_ppo.py --force moved "
                                       f"aside from {path} and did not delete (it was killed before it "
                                       "finished): move it back, or delete it if you no longer need it\n")


def test_the_temps_of_evaluate_and_training_are_their_writers_names_only(tmp_path, capsys):
    # As remove_dead_temps: a pid in evaluate's or training's temp names is ASCII digits, no leading zero.
    # A user's .eval-step64.0123.tmp.json was removed as a killed evaluation's, and their .model.0123.tmp.zip
    # counted as training's, which --force deleted with the run.
    import subprocess

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    arabic = "".join(chr(0x0660 + int(d)) for d in dead)
    users = [f".eval-step64.0{dead}.tmp.json", f".eval-step64.{arabic}.tmp.json", f".model.0{dead}.tmp.zip",
             f".config.{arabic}.tmp.yaml"]
    run = old_run(tmp_path / "run")
    for name in [f".eval-step64.{dead}.tmp.json", *users]:
        (run / name).write_bytes(b"mine")
    runs.remove_dead_eval_temps(run)
    assert f"({'.eval-step64.' + dead + '.tmp.json'})" in capsys.readouterr().err
    assert runs.not_run_files(run) == sorted(users)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO])
def test_a_game_files_record_that_cannot_be_opened_is_said_so_not_called_no_json(code, tmp_path, monkeypatch):
    """json_object (now json_object_or_none) swallowed the OSError, so a game_files.json the system will not
    read (another user's, a disk's I/O error) was "not a JSON object": now it cannot be read, and why."""
    state = tmp_path / "start.state"
    state.write_bytes(b"state")
    run = tmp_path / "run"
    run.mkdir()
    runs.write_run_files(run, {"env": "x", "env_kwargs": {"state": str(state)}}, "train_ppo.py")
    record = run / runs.GAME_FILES
    deny_reading(monkeypatch, record, code)
    assert runs.damaged_game_files(run) == (
        f"{record} (the record of the ROM and start state the run started from) cannot be read "
        f"({os.strerror(code)}), so they cannot be checked against it")
    assert outputs.json_object_or_none(record) is None  # for the readers that take an unreadable file as none


def test_game_files_are_recorded_only_for_options_naming_a_file(tmp_path):
    # game_files.json (88a68745) records a Game Boy run's ROM and start state; a Snake run, a state of
    # "none", or a path that is no file writes no record, so such runs' folders are as before.
    rom, state = tmp_path / "cart.gb", tmp_path / "start.state"
    rom.write_bytes(b"rom")
    state.write_bytes(b"state")
    for k, env_kwargs in enumerate(({"size": 10, "obs": "grid"}, {"rom": None, "state": "none"},
                                    {"state": str(tmp_path / "missing.state")})):
        run = tmp_path / f"run{k}"
        run.mkdir()
        runs.write_run_files(run, {"env": "x", "env_kwargs": env_kwargs}, "train_ppo.py")
        assert sorted(p.name for p in run.iterdir()) == ["command.txt", "config.yaml"], env_kwargs
    run = tmp_path / "run"
    run.mkdir()
    runs.write_run_files(run, {"env": "x", "env_kwargs": {"rom": str(rom), "state": str(state)}}, "t")
    assert outputs.json_object_or_none(run / runs.GAME_FILES) == {
        "rom": {"path": str(rom), "sha1": runs.file_sha1(rom)},
        "state": {"path": str(state), "sha1": runs.file_sha1(state)}}


@pytest.mark.parametrize(("make", "kind"), [
    (Path.mkdir, "a folder"),
    (lambda p: p.symlink_to(p.name), "a symlink loop"),
    (os.mkfifo, "a FIFO (named pipe)"),
])
def test_a_resume_with_no_checkpoint_names_a_model_zip_that_is_no_file(tmp_path, make, kind):
    # train_ppo.py --resume RUN said only "no checkpoint to load (checkpoints/step_*.zip or model.zip)",
    # with model.zip there: that it is no file was left for the user to find (evaluate names it, 7ad239f1).
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    own = run / "model.zip"
    make(own)
    with pytest.raises(runs.RunError) as e:
        runs.resume_point(run)
    assert str(e.value) == (
        f"{run}: no checkpoint to load: {run / 'checkpoints'} holds no step_<N>.zip, and {own} is {kind}, "
        "not a file: put the run's model.zip back there to resume from it, or start it again with its "
        f"command (in {run / 'command.txt'}) plus --force --run-dir {run}, or start a new run")
    # Without checkpoints/ at all, that "checkpoints holds no step_<N>.zip" named a folder that is not there
    (run / "checkpoints").rmdir()
    with pytest.raises(runs.RunError) as e:
        runs.resume_point(run)
    assert str(e.value).startswith(f"{run}: no checkpoint to load: {run / 'checkpoints'} is not there, and "
                                   f"{own} is {kind}, not a file: ")


def test_changed_game_files_names_each_file_made_again_and_what_it_is(tmp_path):
    # The ROM's change was said as the start state's, or only the first of two changes was named, and no
    # test saw it: the one Game Boy test of game_files.json (tests/envs) remakes the state alone.
    rom, state = tmp_path / "cart.gb", tmp_path / "start.state"
    rom.write_bytes(b"rom")
    state.write_bytes(b"state")
    env_kwargs = {"rom": str(rom), "state": str(state)}
    run = tmp_path / "run"
    run.mkdir()
    runs.write_run_files(run, {"env": "x", "env_kwargs": env_kwargs}, "t")
    assert runs.changed_game_files(run, env_kwargs) is None
    then = {key: runs.file_sha1(Path(env_kwargs[key])) for key in ("rom", "state")}
    rom.write_bytes(b"another rom")
    record = run / runs.GAME_FILES
    rom_changed = (f"the run's ROM {rom} (env_kwargs.rom in its config.yaml) is not the one the run started "
                   f"from: its SHA-1 is {runs.file_sha1(rom)}, the run's {then['rom']} ({record} records it; "
                   "made again at that path since?)")
    assert runs.changed_game_files(run, env_kwargs) == rom_changed
    state.write_bytes(b"another state")
    assert runs.changed_game_files(run, env_kwargs) == (
        f"{rom_changed}; the run's start state {state} (env_kwargs.state in its config.yaml) is not the one "
        f"the run started from: its SHA-1 is {runs.file_sha1(state)}, the run's {then['state']} ({record} "
        "records it; made again at that path since?)")
    assert runs.damaged_game_files(run) is None


def test_a_game_files_record_without_a_sha1_or_a_dangling_link_is_named_as_damaged(tmp_path):
    # An entry that is an object without its SHA-1, or a record that is a symlink to nothing, is no record
    # the files can be checked against: named so (f78e34a4's words for an entry without its SHA-1).
    state = tmp_path / "start.state"
    state.write_bytes(b"state")
    env_kwargs = {"state": str(state)}
    run = tmp_path / "run"
    run.mkdir()
    record = run / runs.GAME_FILES
    problem = (f"{record} (the record of the ROM and start state the run started from) is {{}}, so they "
               "cannot be checked against it")
    record.write_text(f'{{"state": {{"path": "{state}"}}}}')
    assert runs.damaged_game_files(run) == problem.format(
        'no record of them as training writes it (an object of "rom", "state" or both, each a {"path", '
        '"sha1"} of 40 hex digits)')
    assert runs.changed_game_files(run, env_kwargs) is None
    record.unlink()
    record.symlink_to(tmp_path / "gone.json")
    assert runs.damaged_game_files(run) == problem.format(
        f"a broken symlink (to {tmp_path / 'gone.json'}), not a file")
    assert runs.changed_game_files(run, env_kwargs) is None
    record.unlink()
    assert runs.damaged_game_files(run) is None and runs.changed_game_files(run, env_kwargs) is None


def test_remove_dead_temps_looks_beside_a_links_target_for_its_suffix_only(tmp_path, capsys):
    # written_together writes the temp of a link's target beside the target (a link stays a link), so a
    # killed write through --out link.png left it there; and a temp is of its file's suffix: a user's
    # .curve.<pid>.tmp.jpg beside curve.png is no temp of it.
    import subprocess

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (tmp_path / "plots").mkdir()
    (tmp_path / "link.png").symlink_to(tmp_path / "plots" / "curve.png")
    left = tmp_path / "plots" / f".curve.{dead}.tmp.png"
    users = [tmp_path / "plots" / f".curve.{dead}.tmp.jpg", tmp_path / "plots" / f".curve.{dead}.tmp.png.bak",
             tmp_path / f".link.{dead}.tmp.txt"]
    for file in (left, *users):
        file.write_bytes(b"mine")
    runs.remove_dead_temps(tmp_path / "link.png", "plot_curve.py")
    assert not left.exists() and all(file.exists() for file in users)
    assert capsys.readouterr().err == (f"{tmp_path / 'plots'}: removed 1 temp file that a killed "
                                       f"plot_curve.py left ({left.name})\n")


def test_a_folder_named_as_no_aside_of_force_or_a_link_is_no_run_it_left(tmp_path):
    # --force names its asides .NAME.replaced and .NAME.replaced-<k>, k from 2, folders it moved: a user's
    # .run.replaced-0 or .run.replaced-01, or a link named as an aside, is none.
    for name in (".run.replaced-0", ".run.replaced-01", "elsewhere"):
        (tmp_path / name).mkdir()
    (tmp_path / ".run.replaced-3").symlink_to(tmp_path / "elsewhere")
    left = old_run(tmp_path / ".run.replaced-2")
    assert runs.asides(tmp_path / "run") == [left]


def test_a_state_of_none_records_no_file_beside_a_file_named_none(tmp_path, monkeypatch):
    # state: none boots the ROM, whatever the folder holds: a file named none there is no start state.
    monkeypatch.chdir(tmp_path)
    Path("none").write_bytes(b"a file of the user's")
    run = tmp_path / "run"
    run.mkdir()
    runs.write_run_files(run, {"env": "x", "env_kwargs": {"state": "none"}}, "t")
    assert not (run / runs.GAME_FILES).exists()


def test_the_other_model_offered_is_never_the_file_that_failed(tmp_path):
    # A model.zip that is a whole zip but no model (SB3's load fails on it) was offered as the run's model
    # file that "may load", the same file the command had just failed on, however its path was spelled.
    import zipfile

    run = old_run(tmp_path / "run")
    with zipfile.ZipFile(run / "model.zip", "w") as z:
        z.writestr("notes.txt", "no model")
    failed = run / "checkpoints" / ".." / "model.zip"
    (run / "checkpoints").mkdir()
    assert runs.other_model(failed, run) == ("; the run has no other model file: give one with --checkpoint, "
                                             "or train the run again")
    newest = run / "checkpoints" / "step_64.zip"
    with zipfile.ZipFile(newest, "w") as z:
        z.writestr("data", "{}")
    assert runs.other_model(failed, run) == f"; the run's newest checkpoint may load: --checkpoint {newest}"


def test_a_step_number_is_never_empty(tmp_path):
    # Hand mutation pass: a step number that may be empty ((0?|...)) passed every test, though a user's
    # step_.zip was then read as a checkpoint (int('') raised in checkpoints()) and pruned with the run's own,
    # and a user's eval-step.json taken for evaluate's result, which --force deleted.
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    mine = [run / "checkpoints" / "step_.zip", run / "eval-step.json"]
    for file in mine:
        file.write_text("mine")
    for steps in (10, 20, 30):
        runs.save_checkpoint(FakeModel(steps), run)
    assert [step for step, _ in runs.checkpoints(run)] == [10, 20, 30]
    assert [file.read_text() for file in mine] == ["mine", "mine"]
    refused = re.escape("holds files a run does not write (eval-step.json, checkpoints/step_.zip)")
    with pytest.raises(runs.RunError, match=refused):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert [file.read_text() for file in mine] == ["mine", "mine"]


def test_a_killed_comparisons_report_folder_holding_a_file_is_kept(tmp_path, capsys):
    # Hand mutation pass: remove_dead_compare_folders removing the folder with all it holds (rmtree) passed
    # every test: a report a killed comparison had placed there was lost. Only an empty folder goes, and
    # the mark of each.
    dead = 2**22 + 1  # above pid_max's default: no process has it
    full, empty = tmp_path / "compare-20261207-050000", tmp_path / "compare-20261207-060000"
    for folder in (full, empty):
        folder.mkdir()
        (tmp_path / f".{folder.name}.{dead}.tmp").touch()
    (full / "report.md").write_text("a report")
    runs.remove_dead_compare_folders(tmp_path)
    assert (full / "report.md").read_text() == "a report" and not empty.exists()
    assert not list(tmp_path.glob(".compare-*"))
    said = f"{tmp_path}: removed compare-20261207-060000, the empty report folder of a killed comparison\n"
    assert capsys.readouterr().err == said


def test_a_folder_given_as_a_json_file_raises_its_os_error(tmp_path):
    # Hand mutation pass: read_json_object without its folder check passed every test, though a folder
    # then read as no JSON object (None), which its readers take for a damaged or missing file: a --resume
    # whose milestones.json is a folder started its bests again, and a ROM record that is one was called
    # "not a JSON object". json_object, which tells none apart, still gives None.
    with pytest.raises(IsADirectoryError):
        outputs.read_json_object(tmp_path)
    assert outputs.json_object_or_none(tmp_path) is None


def test_only_a_comparisons_exact_mark_names_its_folder_dead(tmp_path, capsys):
    # Hand mutation pass: COMPARE_MARK taking a name without its leading dot, or with more after .tmp,
    # passed every test, though remove_dead_compare_folders then deleted such a file of the user's and the
    # empty compare-<time> beside it, which a comparison may yet write its report into.
    dead = 2**22 + 1  # above pid_max's default: no process has it
    folder = tmp_path / "compare-20261207-050000"
    folder.mkdir()
    mine = [tmp_path / f"{folder.name}.{dead}.tmp", tmp_path / f".{folder.name}.{dead}.tmp.bak"]
    for file in mine:
        file.write_text("mine")
    runs.remove_dead_compare_folders(tmp_path)
    assert folder.is_dir() and [file.read_text() for file in mine] == ["mine", "mine"]
    assert capsys.readouterr().err == ""


def test_an_entry_removed_is_a_folder_whole_and_a_link_or_file_itself(tmp_path):
    # Hand mutation pass: remove_entry taking a link to a folder for a folder (rmtree refuses a link: an
    # OSError where a killed comparison's report entries are cleared) or a file for one passed.
    target = tmp_path / "kept"
    target.mkdir()
    (target / "a.txt").write_text("theirs")
    folder = tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_text("ours")
    (folder / "file.txt").write_text("ours")
    (folder / "link").symlink_to(target)
    for name in ("sub", "file.txt", "link"):
        outputs.remove_entry(folder / name)
    assert list(folder.iterdir()) == [] and (target / "a.txt").read_text() == "theirs"


def test_a_folder_named_model_zip_is_no_saved_model_to_resume(tmp_path):
    # Hand mutation pass: has_saved_model counting any model.zip entry (exists, not is_file) passed; a run
    # killed before its first save with a folder of that name would be told to --resume, which loads none.
    run = old_run(tmp_path / "run")
    (run / "model.zip").mkdir()
    assert not runs.has_saved_model(run)
    (run / "model.zip").rmdir()
    (run / "model.zip").write_bytes(b"PK")
    assert runs.has_saved_model(run)


@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="counts the bytes read in /proc/self/io")
def test_a_file_of_whitespace_alone_is_no_json_object_read_once(tmp_path):
    # Hand mutation pass on read_json_object: _starts_an_object saying yes to a file that ends in whitespace
    # passed every test (json.load then finds no object), yet json.load read it all again, whole in memory.
    blank = tmp_path / "blank.json"
    blank.write_bytes(b"\xef\xbb\xbf" + b" \n" * 2_500_000)
    before = _bytes_read()
    assert outputs.read_json_object(blank) is None
    assert _bytes_read() - before < 6_000_000  # once: 5 MB


def test_a_deleted_step_0_checkpoint_names_those_the_run_keeps(tmp_path, monkeypatch):
    # Hand mutation pass on checkpoint_step's callers: _pruned_note testing 'not step' for 'step is None'
    # passed every test, so step_0.zip (a step like any: test_step_0_is_a_checkpoint) got no note.
    kept = _run_keeping_its_newest_three(tmp_path, monkeypatch)
    with pytest.raises(runs.RunError) as missing:
        runs.model_file(Path("run1"), "run1/checkpoints/step_0.zip", "")
    assert str(missing.value) == ("--checkpoint run1/checkpoints/step_0.zip: no such file (training keeps a "
                                  "run's newest 3 checkpoints, deleting older ones as it saves; run1 holds "
                                  f"{kept})")


def test_a_run_config_whose_env_is_no_name_is_refused_naming_it(tmp_path):
    # Hand mutation pass on _check_env: dropping its isinstance(str) check passed every test, though an env
    # written as a list or mapping (env: [snake]) then raised "unhashable type" from the GAMES lookup.
    run = old_run(tmp_path / "run")
    for env in ("[snake]", "{name: snake}"):
        (run / "config.yaml").write_text(f"env: {env}\n")
        with pytest.raises(runs.RunError, match=r": config.yaml names env .*, which this depthfirst does not "
                                                r"know \(known: "):
            runs.read_run_config(run)
