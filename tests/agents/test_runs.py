"""agents/runs.py's refusals and fallbacks that no training run reaches: called directly, with the disk's
and the kernel's failures stood in for by monkeypatch (root, which the tests may run as, writes anywhere)."""
import errno
import os
import re
from pathlib import Path

import pytest

from agents import runs


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
    with pytest.raises(runs.RunError, match=refusal):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the old run untouched, in place


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
                                            r"the old run is in .*\.run\.replaced$"):
        runs.new_run_dir({"env": "snake"}, str(run), True)
    assert (tmp_path / ".run.replaced" / "config.yaml").read_text() == "env: snake\n"


def test_another_users_process_counts_as_running(monkeypatch):
    def not_yours(pid, sig):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "kill", not_yours)
    assert runs.process_running(os.getpid() + 1)  # its folders are not a dead process's leftovers


@pytest.mark.parametrize(("config", "message"), [
    (None, "not a depthfirst run folder (no config.yaml)"),
    ("policy: tiny\n", "config.yaml is corrupt (no env)"),
    ("- env\n", "config.yaml is corrupt (no env)"),
    ("env: snake\nenv_kwargs: [size, 8]\n", "config.yaml is corrupt (env_kwargs is not a mapping)"),
])
def test_a_folder_that_is_no_run_is_refused_by_name(tmp_path, config, message):
    if config is not None:
        (tmp_path / "config.yaml").write_text(config)
    with pytest.raises(runs.RunError) as e:
        runs.read_run_config(tmp_path)
    assert str(e.value) == f"{tmp_path}: {message}"


def test_game_options_are_unknown_for_a_game_that_passes_every_option_on(monkeypatch):
    import envs

    class PassesOn:
        def __init__(self, num_envs: int = 1, **kwargs: object) -> None:
            super().__init__(**kwargs)

    assert runs.game_options("no_such_game") is None
    assert runs.game_options("snake") is not None and "size" in runs.game_options("snake")
    monkeypatch.setattr(envs, "game_class", lambda name: PassesOn)
    assert runs.game_options("snake") is None  # object takes **kwargs too: no list to check a config against


def test_an_output_file_in_place_of_a_device_or_in_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"^--out .*pipe is not a regular file; give a file name$"):
        runs.check_output_file(fifo, "--out", force=True)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    with pytest.raises(ValueError, match=r"^--out .*out.json: not writable here; choose another place$"):
        runs.check_output_file(tmp_path / "out.json", "--out", force=False)
    with pytest.raises(ValueError, match=rf"^--save-dir {tmp_path / 'a' / 'b'}: {tmp_path} is not writable"):
        runs.check_output_folder(tmp_path / "a" / "b", "--save-dir")


def test_a_folder_of_runs_names_its_newest_run(tmp_path):
    # `evaluate.py runs/snake` (or `--resume runs`) was refused as "not a depthfirst run folder", leaving
    # the user to look inside: the refusal names the run to give, the one trained into last.
    (tmp_path / "snake").mkdir()
    older, newer = old_run(tmp_path / "snake" / "tiny-s0-1"), old_run(tmp_path / "snake" / "tiny-s0-2")
    os.utime(older / "config.yaml", (1_000_000, 1_000_000))
    for folder in (tmp_path / "snake", tmp_path):
        with pytest.raises(runs.RunError) as e:
            runs.read_run_config(folder)
        assert str(e.value) == (f"{folder}: not a depthfirst run folder (no config.yaml); it holds run "
                                f"folders: give one, e.g. the newest, {newer}")


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
])
def test_force_refuses_a_users_entry_named_like_a_result_but_clears_the_results(tmp_path, mine, folder):
    # The globs eval-* and compare-* took any such name for evaluate's or compare's output: --force deleted
    # a user's eval-notes/ or compare-ideas.txt with the run.
    run = old_run(tmp_path / "run")
    results = ["eval-step64.json", "eval-step64-best.mp4", "eval-step64-best.gif", "eval-random-max5.json",
               "eval-step64-stochastic.json", "eval-step64-early-0123abcd-max9-best.gif", "eval-vlm-m.json",
               "eval-vlm-qwen2.5-vl@localhost-8000-0123abcd-best.mp4", ".eval-step64.123.tmp.json"]
    for name in results:
        (run / name).write_text("x")
    for name in ("compare-20260101-120000", "compare-20260101-120000-2"):
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


@pytest.mark.parametrize("mine", [["best-keep.zip"], ["step_64-copy.zip", "step_best.zip"]])
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
    run = old_run(tmp_path / "run")
    (run / "checkpoints").mkdir()
    mine = run / "checkpoints" / "step_best_step_2.zip"
    mine.write_text("mine")
    for steps in (10, 20, 30, 40):
        runs.save_checkpoint(FakeModel(steps), run)
    assert mine.read_text() == "mine"
    assert [step for step, _ in runs.checkpoints(run)] == [20, 30, 40]
