"""The real entry points with a tiny budget: train, TensorBoard contents, resume, load, evaluate."""

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gymnasium
import imageio.v2 as imageio
import numpy as np
import pytest
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.presets import PRESETS
from agents.runs import checkpoints, file_sha1
from envs.env import RENDER_FPS
from tests.agents.test_machine import train_in_address_space
from tests.conftest import (
    PYTHON,
    RECORDED_ENV,
    ROOT,
    TINY,
    always_right_checkpoint,
    events,
    interrupted_while_fork_server_imports,
    tb_in_order,
)

# A refused command's budget: should its refusal regress, it trains for seconds and fails on an assertion,
# not the preset's millions of steps until the suite times out.
REFUSED = [*TINY, "--total-timesteps", "64", "--video-every", "100000"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, scripts):
    run = tmp_path_factory.mktemp("runs") / "snake-tiny"
    rc = scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "512", "--video-every", "256",
                                 "--save-every", "256", "--run-dir", str(run), *TINY])
    assert rc == 0
    return run


def trained_copy(trained: Path, run: Path) -> tuple[Path, Path]:
    """A copy of ``trained`` at ``run``, less the eval-* results other tests write into it (a test's "no
    eval-step512.json" holds in any order); its two checkpoints, step 256 and step 512."""
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
    return run / "checkpoints" / "step_256.zip", run / "checkpoints" / "step_512.zip"


def test_run_folder_is_self_describing(trained):
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    assert cfg["env"] == "snake" and cfg["policy"] == "tiny" and cfg["num_workers"] == 0
    assert cfg["ppo"]["n_steps"] == 32  # --set reached the resolved config
    assert "--total-timesteps 512" in (trained / "command.txt").read_text()
    assert (trained / "model.zip").is_file()
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == [
        "step_256.zip", "step_512.zip"]
    assert not list(trained.rglob("*.tmp*"))
    mode = (trained / "config.yaml").stat().st_mode
    assert (trained / "model.zip").stat().st_mode == mode  # readable like the rest of the run
    assert (trained / "checkpoints" / "step_512.zip").stat().st_mode == mode


def test_a_periodic_checkpoint_holds_the_weights_updated_on_its_steps(tmp_path, scripts, monkeypatch):
    """step_N.zip was saved at the rollout's end, before SB3's update on it: its weights had learned nothing
    from the last rollout, which a --resume from it skipped. It holds the weights the update left."""
    import torch
    from stable_baselines3 import PPO

    after: dict[int, dict[str, torch.Tensor]] = {}  # per step: the weights as PPO.train left them
    real = PPO.train

    def train(self) -> None:
        real(self)
        after[self.num_timesteps] = {k: v.clone() for k, v in self.policy.state_dict().items()}

    monkeypatch.setattr(PPO, "train", train)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "768", "--save-every", "256",
                                   "--video-every", "100000", "--run-dir", str(run), *TINY]) == 0
    assert sorted(after) == [256, 512, 768]
    for step in (256, 512):  # periodic (768 is the final save, after learn() returned)
        saved = PPO.load(run / "checkpoints" / f"step_{step}.zip", device="cpu").policy.state_dict()
        assert all(torch.equal(saved[k], v) for k, v in after[step].items()), step


def test_keep_checkpoints_keeps_every_one_or_the_newest_k_and_a_resume_may_change_it(tmp_path, scripts):
    # A run kept its newest 3 checkpoints, whatever --save-every: a curve of evaluations over a run's
    # checkpoints found 3 of the many it had asked for, the rest deleted as it trained.
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "1280", "--save-every", "256",
                                   "--video-every", "100000", "--keep-checkpoints", "0",
                                   "--run-dir", str(run), *TINY]) == 0
    assert [step for step, _ in checkpoints(run)] == [256, 512, 768, 1024, 1280]
    assert yaml.safe_load((run / "config.yaml").read_text())["keep_checkpoints"] == 0
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1792", "--keep-checkpoints",
                                   "2", "--no-progress"]) == 0
    assert [step for step, _ in checkpoints(run)] == [1536, 1792]


def readme_curve_lister() -> str:
    """The Python code of README's "Evaluating every checkpoint" that lists a run's results by step."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### Evaluating every checkpoint")[1]
    code = re.search(r"\npython -c '(.*?)' runs/snake/curve\n", section, re.S)
    assert code, "README: no python -c '...' runs/snake/curve in 'Evaluating every checkpoint'"
    return code.group(1)


def test_the_readmes_checkpoint_curve_lists_a_runs_results_in_its_folder_and_in_an_out_folder(
        trained, scripts, tmp_path):
    # The README's lister picked eval-step<N>.json by name: results written to an --out DIR (a run one cannot
    # write in), named eval-step<N>-step_<N>-<sha1>.json there, listed nothing, without a word.
    run, out = tmp_path / "run", tmp_path / "evals"
    shutil.copytree(trained, run)  # the module's run stays as it was
    other = tmp_path / "other"  # another run, evaluated into the same --out
    shutil.copytree(trained, other)
    always_right_checkpoint(other, other / "checkpoints" / "step_768.zip", 768)
    # model.zip is step 512's weights: in --out its results are a file of their own, not a second point.
    plays = [[str(run), "--checkpoint", str(c)] for _, c in checkpoints(run)] + [[str(run)]]
    # Not on the curve: a sampled play, a capped one and another run's checkpoint.
    plays += [[str(run), "--checkpoint", str(run / "checkpoints" / "step_256.zip"), "--stochastic"],
              [str(run), "--max-steps", "3"],
              [str(other), "--checkpoint", str(other / "checkpoints" / "step_768.zip")]]
    quick = ["--episodes", "2", "--no-video", "--no-progress"]
    for argv in plays:
        for out_flag in ([], ["--out", str(out)]):
            assert scripts.evaluate.main([*argv, *out_flag, *quick]) == 0
    code = readme_curve_lister()

    def results(step: int, folder: Path) -> dict:
        sha1 = file_sha1(run / "checkpoints" / f"step_{step}.zip")[:8]
        name = f"eval-step{step}" if folder == run else f"eval-step{step}-step_{step}-{sha1}"
        return json.loads((folder / f"{name}.json").read_text())

    for folders in ([run], [run, out]):  # RUN [the --out DIR]
        listed = subprocess.run([sys.executable, "-c", code, *map(str, folders)], capture_output=True,
                                text=True, check=True).stdout.splitlines()
        assert listed == [f"{step} {results(step, folders[-1])['mean_score']} 2 1000000"
                          for step in (256, 512)]


def test_the_readmes_checkpoint_curve_names_the_results_files_written_before_actions_were_recorded(
        trained, scripts, tmp_path):
    # Until 2026-11-30 evaluate.py wrote eval-step<N>.json without "actions" (a --stochastic play wrote that
    # same name): the lister left such files out without a word, so an older run's curve lost those points.
    run = tmp_path / "run"
    first, _ = trained_copy(trained, run)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), "--episodes", "2", "--no-video",
                                  "--no-progress"]) == 0
    # As that version wrote it: the checkpoint's path as given, from the folder the command ran in.
    older = {"episodes": 3, "mean_score": 1.0, "median_score": 1.0, "max_score": 1.0, "min_score": 1.0,
             "std_score": 0.0, "mean_length": 9.0, "mean_return": 0.5, "env": "snake",
             "checkpoint": "run/model.zip", "step": 512, "seed": 1000000}
    (run / "eval-step512.json").write_text(json.dumps(older, indent=2))
    listed = subprocess.run([sys.executable, "-c", readme_curve_lister(), str(run)], capture_output=True,
                            text=True, check=True, cwd=tmp_path)
    mean = json.loads((run / "eval-step256.json").read_text())["mean_score"]
    assert listed.stdout == f"256 {mean} 2 1000000\n"
    assert listed.stderr == ("left out, written before 2026-11-30 without saying whether their actions were "
                             "the argmax: eval-step512.json (evaluate those checkpoints again)\n")


def test_several_checkpoints_in_one_command_write_and_print_what_one_command_each_does(
        trained, scripts, tmp_path, capsys):
    # A curve over a run's checkpoints took one evaluate.py each, 3 s of start-up apiece: --checkpoint now
    # takes several, evaluated in turn in one process, each as its own command would.
    ckpts = [str(c) for _, c in checkpoints(trained)]
    quick = ["--episodes", "2", "--no-progress", "--video-steps", "3"]
    for as_json in ([], ["--json"]):
        apart, together = tmp_path / f"apart{len(as_json)}", tmp_path / f"together{len(as_json)}"
        printed = []
        for c in ckpts:
            assert scripts.evaluate.main([str(trained), "--checkpoint", c, "--out", str(apart), *quick,
                                          *as_json]) == 0
            printed.append(capsys.readouterr().out)
        assert scripts.evaluate.main([str(trained), "--checkpoint", *ckpts, "--out", str(together), *quick,
                                      *as_json]) == 0
        # --json: one object a line, each the one its own command prints (but for the folder named).
        assert capsys.readouterr().out == "".join(printed).replace(str(apart), str(together))
        names = sorted(f.name for f in apart.iterdir())
        assert len(names) == 3 * len(ckpts) and names == sorted(f.name for f in together.iterdir())
        for name in names:
            if name.endswith(".json"):
                a, t = (json.loads((d / name).read_text()) for d in (apart, together))
                assert (a.pop("video"), a.pop("gif")) != (t.pop("video"), t.pop("gif")) and a == t
            else:
                assert (apart / name).read_bytes() == (together / name).read_bytes()


def test_a_bad_path_among_several_checkpoints_is_refused_before_any_play(trained, scripts, tmp_path, capsys,
                                                                         monkeypatch):
    import agents.evaluation

    def no_play(*args, **kwargs):
        raise AssertionError("played before every checkpoint was checked")

    monkeypatch.setattr(agents.evaluation, "run_episodes", no_play)
    good, typo = trained / "checkpoints" / "step_256.zip", trained / "checkpoints" / "step_265.zip"
    out = tmp_path / "out"
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(good), str(typo), "--out", str(out),
                                  "--no-video"]) == 2
    assert f"--checkpoint {typo}: no such file" in capsys.readouterr().err
    assert not out.exists()
    # Another game's model among them was refused only at its turn, after the others' long plays.
    rotation = tmp_path / "rotation.zip"
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(rotation, "w") as copy:
        for name in z.namelist():
            data = json.loads(z.read(name)) if name == "data" else None
            copy.writestr(name, json.dumps({**data, "depthfirst_env": "rotation"}) if data else z.read(name))
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(good), str(rotation), "--out", str(out),
                                  "--no-video"]) == 2
    assert f"error: the checkpoint {rotation} was trained on rotation, and this run plays snake" in (
        capsys.readouterr().err)
    assert not out.exists()
    # Two folders after --checkpoint's paths: which is the run is not said; refused as such, naming both.
    with pytest.raises(SystemExit):
        scripts.evaluate.main(["--checkpoint", str(good), str(trained), str(tmp_path)])
    assert f"{trained} and {tmp_path} too: give the run folder before --checkpoint" in capsys.readouterr().err


def test_a_folder_after_checkpoint_that_is_no_run_is_said_to_be_a_folder(trained, scripts, tmp_path, capsys):
    # `--checkpoint RUN` alone was told to give the run folder before --checkpoint, which left --checkpoint
    # no file (argparse's usage error); a folder beside model files that is no run (an unzipped `x.zip/`)
    # was 'x.zip: not a depthfirst run folder', though it was given as a checkpoint.
    good, unzipped = trained / "checkpoints" / "step_256.zip", tmp_path / "x.zip"
    unzipped.mkdir()
    said = {(str(trained),): f"--checkpoint {trained} is a folder, not a model file: give the run folder "
                             "without --checkpoint to play its model.zip, or model files after --checkpoint",
            (str(good), str(unzipped)): f"--checkpoint {unzipped} is a folder, not a model file, nor a run "
                                        "folder (no config.yaml): give model files after --checkpoint, and "
                                        "the run folder before it"}
    for paths, message in said.items():
        with pytest.raises(SystemExit) as stop:
            scripts.evaluate.main(["--checkpoint", *paths, "--no-video"])
        assert stop.value.code == 2
        assert capsys.readouterr().err.splitlines()[-1].endswith(f": error: {message}")  # the usage's prog


def test_the_run_folder_after_the_checkpoints_is_taken_as_the_run(trained, scripts, tmp_path, capsys):
    # `evaluate.py --checkpoint FILE RUN` was refused: --checkpoint takes every path after it, the run folder
    # too. A folder is no model file, so the one folder among them, with a checkpoint beside it, is the run.
    good = trained / "checkpoints" / "step_256.zip"
    played = []
    for argv in (["--checkpoint", str(good), str(trained)], [str(trained), "--checkpoint", str(good)]):
        out = tmp_path / f"out{len(played)}"
        assert scripts.evaluate.main([*argv, "--episodes", "2", "--no-video", "--no-progress", "--json",
                                      "--out", str(out)]) == 0, capsys.readouterr().err
        played.append(json.loads(capsys.readouterr().out))
        assert len(list(out.glob("eval-step256*.json"))) == 1
    assert played[0] == played[1] and played[0]["checkpoint"] == str(good)


def test_a_checkpoint_given_twice_is_refused_before_any_play(trained, scripts, tmp_path, capsys, monkeypatch):
    # A glob and one of its files named again (or one file by two paths) played the file twice, printed it
    # twice, and a Ctrl-C in its second play said "results written for 1 of 2 checkpoints (...), none for"
    # it, though its results were written.
    import agents.evaluation

    def no_play(*args, **kwargs):
        raise AssertionError("played before every checkpoint was checked")

    monkeypatch.setattr(agents.evaluation, "run_episodes", no_play)
    ckpt = trained / "checkpoints" / "step_256.zip"
    link = tmp_path / "link.zip"
    link.symlink_to(ckpt)
    for again, said in ((ckpt, f"--checkpoint {ckpt} is given twice: "),
                        (link, f"--checkpoint {link} is given twice (also as {ckpt}): ")):
        out = tmp_path / "out"
        assert scripts.evaluate.main([str(trained), "--checkpoint", str(ckpt), str(trained / "model.zip"),
                                      str(again), "--out", str(out), "--no-video"]) == 2
        assert capsys.readouterr().err == f"error: {said}give each model file once\n"
        assert not out.exists()
    # --checkpoint given twice adds to its paths (argparse's extend), as one --checkpoint with both would.
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(ckpt), "--checkpoint", str(ckpt), "--out",
                                  str(tmp_path / "out"), "--no-video"]) == 2
    assert capsys.readouterr().err == (
        f"error: --checkpoint {ckpt} is given twice: give each model file once\n")


def test_a_checkpoint_training_deletes_before_its_turn_is_skipped_and_the_rest_evaluated(
        trained, scripts, tmp_path, capsys, monkeypatch):
    # A run still training deletes all but its newest --keep-checkpoints as it saves: one listed checkpoint
    # gone at its turn stopped the command there ("cannot load checkpoint"), the later ones never played.
    import agents.evaluation

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    real, plays = agents.evaluation.run_episodes, []

    def deleting_the_second(*args, **kwargs):
        plays.append(1)
        if len(plays) == 1:
            second.unlink()  # a save of the training run, while the first checkpoint plays
        return real(*args, **kwargs)

    monkeypatch.setattr(agents.evaluation, "run_episodes", deleting_the_second)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), str(run / "model.zip"),
                                  "--episodes", "2", "--no-video", "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert len(plays) == 2 and out.startswith("snake step 256, ") and "\nsnake step 512, " in out
    assert err == (f"warning: --checkpoint {second} was deleted before its turn (a run still training "
                   "deletes all but its newest --keep-checkpoints as it saves); skipped\n"
                   f"error: results written for 2 of 3 checkpoints ({run / 'eval-step256.json'}, "
                   f"{run / 'eval-step512.json'}), none for {second} (deleted before its turn)\n")
    assert json.loads((run / "eval-step512.json").read_text())["checkpoint"] == str(run / "model.zip")


def test_every_checkpoint_deleted_before_its_turn_names_none_written_without_an_empty_list(
        trained, scripts, tmp_path, capsys, monkeypatch):
    # None written: the closing line lists no results files, not "()".
    import agents.train

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    real = agents.train.load_model

    def deleted_at_its_turn(cfg, ckpt, **kwargs):
        Path(ckpt).unlink()  # a save of the training run, just before this checkpoint's turn
        return real(cfg, ckpt, **kwargs)

    monkeypatch.setattr(agents.train, "load_model", deleted_at_its_turn)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--no-video", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.endswith(f"error: no results written for {first} (deleted before its turn) and "
                                      f"{second} (deleted before its turn)\n")


def test_a_checkpoint_given_by_a_link_whose_file_training_deletes_is_skipped_too(trained, scripts, tmp_path,
                                                                                 capsys, monkeypatch):
    # A link to a checkpoint (latest.zip -> checkpoints/step_256.zip) whose file was deleted before its turn
    # was no deletion (the link is still there): "cannot load checkpoint", and the later ones not played.
    import agents.train

    run = tmp_path / "run"
    first, _ = trained_copy(trained, run)
    link = tmp_path / "latest.zip"
    link.symlink_to(first)
    real = agents.train.load_model

    def target_deleted(cfg, ckpt, **kwargs):
        if Path(ckpt) == link:
            first.unlink()
        return real(cfg, ckpt, **kwargs)

    monkeypatch.setattr(agents.train, "load_model", target_deleted)
    model = run / "model.zip"
    assert scripts.evaluate.main([str(run), "--checkpoint", str(link), str(model), "--episodes", "2",
                                  "--no-video", "--json"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"warning: --checkpoint {link} was deleted before its turn"), err
    assert [json.loads(line)["checkpoint"] for line in out.splitlines()] == [str(model)]


def test_a_damaged_checkpoint_after_a_deleted_one_still_stops_with_its_own_error(trained, scripts, tmp_path,
                                                                              capsys, monkeypatch):
    # Only a file gone is skipped: one damaged at its turn is the load's own error, and the checkpoints after
    # it would not be played. --json: one object a line for those played, none for the skipped one.
    import agents.train

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    real, loaded = agents.train.load_model, []

    def deleted_then_damaged(cfg, ckpt, **kwargs):
        loaded.append(Path(ckpt))
        if Path(ckpt) == first:
            first.unlink()
        elif Path(ckpt) == second:
            second.write_bytes(b"not a zip")
        return real(cfg, ckpt, **kwargs)

    monkeypatch.setattr(agents.train, "load_model", deleted_then_damaged)
    model = run / "model.zip"
    assert scripts.evaluate.main([str(run), "--checkpoint", str(model), str(first), str(second), "--episodes",
                                  "2", "--no-video", "--json"]) == 2
    out, err = capsys.readouterr()
    assert [json.loads(line)["checkpoint"] for line in out.splitlines()] == [str(model)]
    warning, error = err.splitlines()
    assert warning.startswith(f"warning: --checkpoint {first} was deleted before its turn")
    assert error.startswith(f"error: cannot load checkpoint {second}: ") and f"{second} (deleted" not in error
    assert error.endswith(f"; results written for 1 of 3 checkpoints ({run / 'eval-step512.json'}), none for "
                          f"{first} (deleted before its turn) and {second}")
    assert loaded == [model, first, second]


def test_a_checkpoint_that_fails_after_a_deleted_one_names_both_with_none_written(trained, scripts, tmp_path,
                                                                                  capsys, monkeypatch):
    # None written yet: the failure's own error ended the run without naming the checkpoint skipped before it
    # (only the warning line above did), as if that one had been evaluated.
    import agents.train

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    real = agents.train.load_model

    def deleted_then_damaged(cfg, ckpt, **kwargs):
        if Path(ckpt) == first:
            first.unlink()
        else:
            second.write_bytes(b"not a zip")
        return real(cfg, ckpt, **kwargs)

    monkeypatch.setattr(agents.train, "load_model", deleted_then_damaged)
    later = run / "model.zip"
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), str(later), "--episodes",
                                  "2", "--no-video", "--json"]) == 2
    out, err = capsys.readouterr()
    warning, error = err.splitlines()
    assert out == "" and warning.startswith(f"warning: --checkpoint {first} was deleted before its turn")
    assert error.startswith(f"error: cannot load checkpoint {second}: ")
    assert error.endswith(f"; no results written for {first} (deleted before its turn), {second} and {later}")
    assert not list(run.glob("eval-*"))


def test_a_stop_after_a_deleted_checkpoint_names_it_with_none_written(trained, scripts, tmp_path, capsys,
                                                                     monkeypatch):
    # A Ctrl-C in the second checkpoint's turn, the first deleted before its own and none written: the stop
    # names the skipped one too, as a failure's error does (README), not "no new results written" alone.
    import agents.train

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    real = agents.train.load_model

    def deleted_then_stopped(cfg, ckpt, **kwargs):
        if Path(ckpt) == first:
            first.unlink()
            return real(cfg, ckpt, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.train, "load_model", deleted_then_stopped)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--no-video"]) == 130
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"warning: --checkpoint {first} was deleted before its turn")
    assert err.endswith(f"\ninterrupted: no results written for {first} (deleted before its turn) and "
                        f"{second}\n"), err
    assert not list(run.glob("eval-*"))


@pytest.mark.parametrize("given", [True, False])
def test_a_lone_checkpoint_deleted_before_its_load_is_one_error(trained, scripts, tmp_path, capsys,
                                                                monkeypatch, given):
    # It said "warning: ... skipped", then "error: results written for 0 of 1 checkpoints, none for" it.
    import agents.train

    run = tmp_path / "run"
    first, _ = trained_copy(trained, run)
    ckpt = first if given else run / "model.zip"
    real = agents.train.load_model

    def deleted(cfg, path, **kwargs):
        Path(path).unlink()  # a save of the training run, between the start's check and the load
        return real(cfg, path, **kwargs)

    monkeypatch.setattr(agents.train, "load_model", deleted)
    flags = ["--checkpoint", str(ckpt)] if given else []
    assert scripts.evaluate.main([str(run), *flags, "--episodes", "2", "--no-video"]) == 2
    out, err = capsys.readouterr()
    flag, hint = ("--checkpoint ", " (a run still training deletes all but its newest --keep-checkpoints "
                                   "as it saves)") if given else ("", "")
    assert out == "" and err == (f"error: {flag}{ckpt} was deleted after the start's check, before it was "
                                 f"loaded{hint}; no results written\n")


def test_several_checkpoints_writing_one_results_file_name_it_once_when_stopped(trained, scripts, tmp_path,
                                                                               capsys, monkeypatch):
    # model.zip and the newest checkpoint (README: it writes the same file as it) both write
    # eval-step512.json: a Ctrl-C after them listed "(RUN/eval-step512.json, RUN/eval-step512.json)", one
    # file as two.
    import agents.evaluation

    real, plays = agents.evaluation.run_episodes, []

    def stopped_third(*args, **kwargs):
        plays.append(1)
        if len(plays) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(agents.evaluation, "run_episodes", stopped_third)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    older = run / "checkpoints" / "step_256.zip"
    assert scripts.evaluate.main([str(run), "--checkpoint", str(run / "model.zip"),
                                  str(run / "checkpoints" / "step_512.zip"), str(older), "--episodes", "2",
                                  "--no-video", "--no-progress"]) == 130
    assert capsys.readouterr().err.endswith(
        f"results written for 2 of 3 checkpoints ({run / 'eval-step512.json'}), none for {older}\n")


@pytest.mark.parametrize("when", ["play", "between"])
def test_several_checkpoints_of_a_run_replaced_after_the_first_say_where_its_results_went(
        trained, scripts, tmp_path, capsys, monkeypatch, when):
    # A train_ppo.py --force after the first checkpoint's write moved the run aside with its results: the
    # error said "results written for 1 of 2 checkpoints (RUN/eval-step256.json)", a file not there (the new
    # run's place); and the second checkpoint, of the new run by then, was loaded and played for nothing.
    import agents.evaluate_cli
    import agents.evaluation

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    aside = tmp_path / ".run.replaced"

    def replace_run():
        run.rename(aside)
        shutil.copytree(trained, run)

    real_play, real_print, plays = agents.evaluation.run_episodes, agents.evaluate_cli.print_results, []

    def play(*args, **kwargs):
        plays.append(1)
        episodes = real_play(*args, **kwargs)
        if when == "play" and len(plays) == 2:
            replace_run()
        return episodes

    def printed(*args, **kwargs):  # the first checkpoint's results, written
        real_print(*args, **kwargs)
        if when == "between" and not aside.exists():
            replace_run()

    monkeypatch.setattr(agents.evaluation, "run_episodes", play)
    monkeypatch.setattr(agents.evaluate_cli, "print_results", printed)
    first, second = run / "checkpoints" / "step_256.zip", run / "checkpoints" / "step_512.zip"
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--no-video", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (aside / "eval-step256.json").is_file() and not list(run.glob("eval-*"))
    assert f"{run} was replaced while this evaluation played" in err
    went = ("results written for 1 of 2 checkpoints went with the replaced run (eval-step256.json: "
            f"train_ppo.py --force moved it aside as {tmp_path / '.run.replaced*'}, and deletes it once the "
            "new run finishes or stops with a checkpoint)")
    assert err.endswith(f"; {went}, none for {second}\n")
    assert len(plays) == (2 if when == "play" else 1)


@pytest.mark.parametrize("given", ["symlink", "dot"])
def test_several_checkpoints_of_a_run_replaced_after_the_first_through_a_symlink_or_dot_say_so(
        trained, scripts, tmp_path, capsys, monkeypatch, given):
    # The run given as "." from inside it: folder_identity(".") read the working folder, which moved aside
    # with the old run, so the replacement went unseen and the second checkpoint's results were written into
    # the old run, which --force deletes. Given as a symlink, the aside is named after the folder it names.
    import agents.evaluate_cli

    run = tmp_path / "runs" / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
    aside = run.with_name(".run.replaced")
    real_print = agents.evaluate_cli.print_results

    def printed(*args, **kwargs):  # the first checkpoint's results, written: then a train_ppo.py --force
        real_print(*args, **kwargs)
        if not aside.exists():
            run.rename(aside)
            shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))

    monkeypatch.setattr(agents.evaluate_cli, "print_results", printed)
    if given == "symlink":
        (tmp_path / "latest").symlink_to(run)
        arg = str(tmp_path / "latest")
    else:
        monkeypatch.chdir(run)
        arg = "."
    first, second = run / "checkpoints" / "step_256.zip", run / "checkpoints" / "step_512.zip"
    assert scripts.evaluate.main([arg, "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--no-video", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert sorted(f.name for f in aside.glob("eval-*")) == ["eval-step256.json"]
    assert not list(run.glob("eval-*"))
    # "." is named with the folder it was when the evaluation started: the shell's "." is the old run now.
    shown = arg if given == "symlink" else f". ({run})"
    assert f"{shown} was replaced while this evaluation played" in err
    went = ("results written for 1 of 2 checkpoints went with the replaced run (eval-step256.json: "
            f"train_ppo.py --force moved it aside as {run.parent / '.run.replaced*'}, and deletes it once "
            "the new run finishes or stops with a checkpoint)")
    assert err.endswith(f"; {went}, none for {second}\n"), err


@pytest.mark.parametrize("stop", ["ctrl-c", "ctrl-c in the renames", "damaged"])
def test_several_checkpoints_stopped_after_the_first_keep_its_results_and_say_so(
        trained, scripts, tmp_path, capsys, monkeypatch, stop):
    # A Ctrl-C (130) or a checkpoint that cannot be loaded (2) after the first: the first's results stay,
    # named, and the message does not say that no new results were written. One in the first's renames comes
    # once they are done: its results are in place.
    import agents.evaluation

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    if stop == "damaged":
        second.write_bytes(first.read_bytes()[:100])  # a copy cut short: a zip's start, and no model
    elif stop == "ctrl-c in the renames":
        import agents.outputs

        real_place = agents.outputs._place_all

        def stopped_placing(*args):
            os.kill(os.getpid(), signal.SIGINT)
            real_place(*args)

        monkeypatch.setattr(agents.outputs, "_place_all", stopped_placing)
    else:
        real, plays = agents.evaluation.run_episodes, []

        def stopped_second(*args, **kwargs):
            plays.append(1)
            if len(plays) == 2:  # a real signal: the first's write must not have left them ignored
                os.kill(os.getpid(), signal.SIGINT)
            return real(*args, **kwargs)

        monkeypatch.setattr(agents.evaluation, "run_episodes", stopped_second)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--no-video", "--no-progress"]) == (2 if stop == "damaged" else 130)
    out, err = capsys.readouterr()
    assert out.startswith("snake step 256, 2 episodes: ")  # its figures, as for every result written
    assert (run / "eval-step256.json").is_file() and not (run / "eval-step512.json").exists()
    assert "no new results written" not in err
    assert f"results written for 1 of 2 checkpoints ({run / 'eval-step256.json'}), none for {second}" in err
    assert err.strip().splitlines()[-1].startswith("error: " if stop == "damaged" else "interrupted: ")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, BrokenPipeError, MemoryError, "worker_died"])
def test_keep_checkpoints_holds_at_a_stop_and_a_failure_too(tmp_path, scripts, monkeypatch, stop):
    # Each save passes the run's keep_checkpoints: one at a stop that pruned to the default 3 deleted the
    # checkpoints --keep-checkpoints 0 asked to keep.
    from agents.callbacks import StopCallback

    def stopping(self):
        if self.model.num_timesteps >= 1024:
            raise _worker_died() if stop == "worker_died" else stop()
        return True

    monkeypatch.setattr(StopCallback, "_on_step", stopping)
    run = tmp_path / "run"
    argv = ["--env", "snake", "--total-timesteps", "2048", "--save-every", "256", "--video-every", "100000",
            "--keep-checkpoints", "0", "--run-dir", str(run), *TINY]
    if stop is BrokenPipeError:  # the reader left: the script's caller ends it (status 141)
        with pytest.raises(BrokenPipeError):
            scripts.train_ppo.main(argv)
    else:
        assert scripts.train_ppo.main(argv) == (0 if stop is KeyboardInterrupt else 2)
    steps = [step for step, _ in checkpoints(run)]
    assert steps[:3] == [256, 512, 768] and len(steps) == 4, steps


def test_a_resume_past_which_model_zip_went_on_is_refused_until_one_is_chosen(trained, scripts, tmp_path,
                                                                              capsys):
    # The newest checkpoint deleted by hand (model.zip holds the same weights, or so it seemed): --resume
    # went back to the older one and its first save replaced model.zip, the run's steps since lost unsaid.
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "checkpoints" / "step_512.zip").unlink()
    model = (run / "model.zip").read_bytes()
    argv = ["--resume", str(run), "--total-timesteps", "768", "--no-progress"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    newest = run / "checkpoints" / "step_256.zip"
    assert f"its model.zip holds step 512, past its newest checkpoint {newest}" in err
    assert f"copy it to {run / 'checkpoints' / 'step_512.zip'}" in err and "move model.zip out of" in err
    assert (run / "model.zip").read_bytes() == model
    shutil.copy(run / "model.zip", run / "checkpoints" / "step_512.zip")  # continue from model.zip
    assert scripts.train_ppo.main(argv) == 0
    assert "from step_512.zip at step 512" in capsys.readouterr().out


def test_tensorboard_has_scalars_hparams_and_an_animated_video(trained):
    ea = events(trained)
    scalars = set(ea.Tags()["scalars"])
    for tag in ("rollout/ep_rew_mean", "rollout/score_mean", "rollout/ep_len_mean", "time/sps",
                "train/policy_gradient_loss", "train/value_loss", "train/entropy_loss", "train/approx_kl",
                "train/explained_variance", "train/learning_rate",
                # the rest the README's TensorBoard section names for Snake
                "rollout/score_max", "rollout/won_mean", "rollout/snake_length_mean", "rollout/video_score",
                "train/clip_fraction"):
        assert tag in scalars, tag
    # Two rollouts, two updates: each logged once at its rollout's step, the last one too.
    for tag in ("train/value_loss", "time/sps"):
        assert [e.step for e in ea.Scalars(tag)] == [256, 512], tag
    videos = ea.Images("rollout/video")
    assert [v.step for v in videos] == [256, 512]  # the last as training ends, after the last update
    gif = videos[-1].encoded_image_string
    assert gif[:6] == b"GIF89a"  # an encoded animation, not a silently empty summary
    assert gif.count(b"\x21\xf9\x04") > 1  # more than one frame (graphic control extensions)
    assert "_hparams_/session_start_info" in ea.summary_metadata


def test_the_readme_names_each_scalar_a_run_writes_beside_the_ppo_losses(trained):
    # env/worker_restarts was written by every run but missing from the README's TensorBoard section.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Watching a run in TensorBoard")[1].split("\n## ")[0]
    for tag in events(trained).Tags()["scalars"]:
        name = tag.split("/")[1]
        if not tag.startswith("train/"):
            assert f"`{tag}`" in section or f"`{name}`" in section, tag
        elif not name.endswith("loss"):  # named in words there ("the PPO losses" holds the losses);
            # train/clip_range was written by every run but named nowhere
            assert name.replace("_", " ") in " ".join(section.lower().split()), tag
    from agents.config import DEFAULTS

    # The video's length cap was in no README section.
    assert (f"at most {DEFAULTS['video_max_steps']:,} steps (`--set video_max_steps=N` changes it)"
            in section)
    assert f"at {RENDER_FPS} frames a second" in " ".join(section.split())  # the videos' rate, unsaid before
    # The HPARAMS tab's columns beside the run's settings: the policy's parameter count was unsaid.
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    from agents.train import hparams

    start = events(trained).summary_metadata["_hparams_/session_start_info"].plugin_data.content
    written = HParamsPluginData.FromString(start).session_start_info.hparams
    settings = hparams(yaml.safe_load((trained / "config.yaml").read_text()))
    assert [k for k in sorted(written) if k not in settings and f"`{k}`" not in section] == []


def test_the_video_is_the_current_policys_episode_at_its_frame_rate(trained):
    from PIL import Image
    from stable_baselines3 import PPO

    from agents.evaluation import run_episodes

    # The first video and the step-256 checkpoint are of the same policy (both after the update on it).
    model = PPO.load(trained / "checkpoints" / "step_256.zip")
    episode = run_episodes(model, "snake", {"size": 10, "obs": "grid"}, 1, seed=12345)[0]
    frames = len(episode.actions) + 1
    ea = events(trained)
    video = ea.Images("rollout/video")[0]
    assert video.step == 256
    # Its score is the filmed episode's.
    first = ea.Scalars("rollout/video_score")[0]
    assert (first.step, first.value) == (256, episode.score)
    gif = Image.open(io.BytesIO(video.encoded_image_string))
    assert gif.size == (80, 80)
    durations = []
    for k in range(gif.n_frames):  # Pillow merges frames that repeat the one before, adding their time
        gif.seek(k)
        durations.append(gif.info.get("duration", 0))
    assert min(durations) >= 80  # never a 0 delay that leaves the speed to the browser
    # Every step's time shown; the last frame (how the episode ended) held a second before the loop restarts.
    assert durations[-1] >= 1000
    # evaluate.py's rate (RENDER_FPS): TensorBoard's videos ran at 12 frames a second, evaluate's at 10.
    assert abs(sum(durations) - (frames - 1) * 1000 / RENDER_FPS - 1000) <= 10 * len(durations)


def test_model_loads_with_ppo_load_in_a_fresh_process(trained):
    code = ("from stable_baselines3 import PPO; import sys; m = PPO.load(sys.argv[1]); "
            "print(m.num_timesteps, type(m.policy.features_extractor).__name__, "
            "m.rollout_buffer_class.__name__, *map(m.policy.optimizer.param_groups[0].get, "
            "('fused', 'eps')))")
    out = subprocess.run([sys.executable, "-c", code, str(trained / "model.zip")], capture_output=True,
                         text=True, check=True, cwd="/")
    # The run's fused Adam (SB3's eps) comes back with it: a --resume or further learn() keeps it.
    assert out.stdout.split() == ["512", "GridCNN", "DeviceRolloutBuffer", "True", "1e-05"]


def test_resume_continues_step_count_and_tensorboard(trained, scripts, tmp_path, capsys):
    import shutil

    run = tmp_path / "resumed"
    shutil.copytree(trained, run)
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 0
    from stable_baselines3 import PPO

    assert PPO.load(run / "model.zip").num_timesteps == 1024
    # Its checkpoints save the run's own policy settings, not the ortho_init=False load_model adds to skip
    # initialising the weights it replaces: a new PPO built from them would start uninitialised.
    from stable_baselines3.common.save_util import json_to_data

    def policy_settings(file: Path) -> dict:
        with zipfile.ZipFile(file) as z:
            return json_to_data(z.read("data").decode())["policy_kwargs"]

    assert policy_settings(run / "model.zip") == policy_settings(trained / "model.zip")
    assert "ortho_init" not in policy_settings(run / "model.zip")
    ea = events(run)
    steps = [e.step for e in ea.Scalars("rollout/ep_rew_mean")]
    assert max(steps) == 1024 and min(steps) <= 512  # one TensorBoard run, old and new points
    assert [e.step for e in ea.Scalars("train/value_loss")] == [256, 512, 768, 1024]  # each chunk's last too
    assert (run / "command.txt").read_text().count("\n") == 2
    # Nothing left to do: refused, and nothing in the run is rewritten (but the lock, where each claim
    # writes its process id).

    def written() -> dict[Path, int]:
        return {f: f.stat().st_mtime_ns for f in run.rglob("*") if f.is_file() and f.name != ".train.lock"}

    before = written()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert "already at step 1,024" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a setting of the run's own: the refused flags are named
        scripts.train_ppo.main(["--resume", str(run), "--policy", "small", "--set", "ppo.n_epochs=2"])
    err = capsys.readouterr().err
    assert "so --policy, --set cannot be given" in err and "--no-progress" in err  # the accepted ones named
    assert written() == before
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "num_envs": -3}))  # edited by hand
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "2048", "--no-progress"]) == 2
    assert "(from its config.yaml, unless given as a flag)" in capsys.readouterr().err
    # A game option the game refuses is the run's config.yaml's too, which the message names.
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "env_kwargs": {**cfg["env_kwargs"], "size": 3}}))
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "2048", "--no-progress"]) == 2
    assert (f"--resume {run}: its config.yaml sets env_kwargs that snake refuses: snake size must be "
            "between 4 and 32, got 3") in capsys.readouterr().err


def drop_env_tag(checkpoint: Path) -> None:
    """Rewrite ``checkpoint`` as one saved before checkpoints named their env (no depthfirst_env)."""
    with zipfile.ZipFile(checkpoint) as z:
        members = {name: z.read(name) for name in z.namelist()}
    data = json.loads(members["data"])
    assert data.pop("depthfirst_env") == "snake"
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(checkpoint, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)


def saved_elsewhere(checkpoint: Path, old: bytes, new: bytes, versions: str, key: str = "policy_kwargs"
                    ) -> None:
    """Rewrite ``checkpoint`` as one another installation saved: ``old`` in its pickled policy_kwargs
    replaced by ``new`` (a name this one lacks; in ``key``'s object), and its system_info.txt listing
    ``versions``."""
    import base64

    with zipfile.ZipFile(checkpoint) as z:
        members = {name: z.read(name) for name in z.namelist()}
    data = json.loads(members["data"])
    raw = base64.b64decode(data[key][":serialized:"]).replace(old, new)
    data[key][":serialized:"] = base64.b64encode(raw).decode()
    members["data"] = json.dumps(data).encode()
    members["system_info.txt"] = versions.encode()
    with zipfile.ZipFile(checkpoint, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)


@pytest.mark.parametrize("old, new", [(b"GridCNN", b"GridCNX"), (b"agents.policies", b"agents.policiez")])
def test_a_checkpoint_pickled_by_other_versions_is_named_so_not_damaged(trained, scripts, tmp_path, capsys,
                                                                        old, new):
    # A run from another machine (NumPy 2 pickles name numpy._core, unknown to NumPy 1; a newer depthfirst's
    # class): SB3 dropped the object it could not unpickle, read as "damaged or cut short (KeyError:
    # 'policy_kwargs')", or a module it could not import ended in a ModuleNotFoundError traceback.
    copy = tmp_path / "theirs.zip"
    shutil.copy(trained / "model.zip", copy)
    saved_elsewhere(copy, old, new, "- OS: Linux\n- Python: 3.99.1\n- Stable-Baselines3: 2.9.2\n")
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(copy), "--episodes", "1", "--no-video",
                                  "--no-progress"]) == 2
    err = capsys.readouterr().err
    what = "its policy_kwargs" if new == b"GridCNX" else "an object it pickled"  # a module: SB3 does not say
    assert f"error: cannot load checkpoint {copy}: {what} cannot be unpickled here (" in err, err
    assert new.decode() in err and "damaged" not in err
    assert "it was saved with Python 3.99.1 (here " in err and "Stable-Baselines3" not in err
    assert "Traceback" not in err


def test_a_checkpoint_without_system_info_is_not_said_saved_with_these_versions(trained, scripts, tmp_path,
                                                                               capsys):
    # One that cannot be unpickled and has no system_info.txt (an older SB3's, one rezipped by hand): the
    # refusal said its Python, NumPy, SB3 and gymnasium were this machine's, which nothing had told it.
    copy = tmp_path / "theirs.zip"
    shutil.copy(trained / "model.zip", copy)
    saved_elsewhere(copy, b"GridCNN", b"GridCNX", "")
    with zipfile.ZipFile(copy) as z:
        members = {name: z.read(name) for name in z.namelist() if name != "system_info.txt"}
    with zipfile.ZipFile(copy, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(copy), "--episodes", "1", "--no-video",
                                  "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "its policy_kwargs cannot be unpickled here" in err and "are this one's" not in err, err
    assert "no system_info.txt" in err


def test_a_checkpoint_naming_a_module_that_fails_to_import_here_is_named_so(trained, scripts, tmp_path,
                                                                            capsys, monkeypatch):
    # Not only a module missing here: one that exists but fails to import (an ImportError that is no
    # ModuleNotFoundError, as a NumPy built for another version raises) is another installation's too.
    (tmp_path / "tbrokn").mkdir()
    (tmp_path / "tbrokn" / "__init__.py").write_text("raise ImportError('built for another NumPy')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    copy = tmp_path / "theirs.zip"
    shutil.copy(trained / "model.zip", copy)
    saved_elsewhere(copy, b"agents.policies", b"tbrokn.policies", "- Python: 3.99.1\n")
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(copy), "--episodes", "1", "--no-video",
                                  "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (f"error: cannot load checkpoint {copy}: an object it pickled cannot be unpickled here "
            "(ImportError: built for another NumPy); it was saved with Python 3.99.1 (here ") in err, err


def test_a_resume_of_a_run_pickled_by_other_versions_is_not_told_to_move_its_files(trained, scripts, tmp_path,
                                                                                   capsys):
    # A run from another machine: every file of it saved with those versions, none loads here. Its --resume
    # was told "model.zip holds the same step: copy it over step_512.zip to resume from there, or move both
    # out of the way to go back to step_256.zip", each as unloadable as the first.
    run = tmp_path / "theirs"
    shutil.copytree(trained, run)
    for file in (run / "model.zip", *(run / "checkpoints").glob("*.zip")):
        saved_elsewhere(file, b"GridCNN", b"GridCNX", "- OS: Linux\n- Python: 3.99.1\n")
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot load checkpoint {run / 'checkpoints' / 'step_512.zip'}: its "
                          "policy_kwargs cannot be unpickled here ("), err
    assert err.endswith("it was saved with Python 3.99.1 (here "
                        f"{platform.python_version()}): load it with those versions\n"), err


def test_a_checkpoint_whose_other_objects_cannot_be_unpickled_still_plays(trained, scripts, tmp_path, capsys):
    # Only what SB3 cannot build a model without is refused: its clip_range (a schedule of training) is
    # dropped with SB3's warning, as before, and the model plays.
    copy = tmp_path / "theirs.zip"
    shutil.copy(trained / "model.zip", copy)
    saved_elsewhere(copy, b"FloatSchedule", b"FloatSchedulX", "- Python: 3.99.1\n", key="clip_range")
    with pytest.warns(UserWarning, match="Could not deserialize object clip_range"):
        assert scripts.evaluate.main([str(trained), "--checkpoint", str(copy), "--episodes", "1",
                                      "--no-video", "--no-progress", "--out", str(tmp_path / "evals")]) == 0
    assert "cannot load" not in capsys.readouterr().err


def test_a_resume_or_evaluation_of_an_untagged_checkpoint_says_it_is_taken_as_the_runs_env(
        trained, scripts, tmp_path, capsys):
    # Resumed without a word, its next checkpoints were tagged with the run's env: one copied from another
    # game of the same spaces (gameboy into a pokemon_red run) became that game's for good, unnoticed.
    run = tmp_path / "old"
    shutil.copytree(trained, run)
    drop_env_tag(run / "checkpoints" / "step_512.zip")
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "768", "--no-progress"]) == 0
    note = (f"note: checkpoint {run / 'checkpoints' / 'step_512.zip'} carries no env tag (it was saved "
            "before checkpoints named their env): taken as snake, this run's env, which the checkpoints "
            "resumed from it will name")
    assert capsys.readouterr().err.count(note) == 1
    drop_env_tag(run / "model.zip")  # step 768's, tagged by the resume
    assert scripts.evaluate.main([str(run), "--episodes", "1", "--max-steps", "4", "--no-video",
                                  "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert (f"note: checkpoint {run / 'model.zip'} carries no env tag (it was saved before checkpoints "
            "named their env): taken as snake, this run's env") in err
    # Once, and not as a resume's: evaluate writes no checkpoints that would name the env.
    assert err.count("carries no env tag") == 1 and "will name" not in err
    # A tagged one says nothing.
    assert scripts.evaluate.main([str(run), "--checkpoint", str(run / "checkpoints" / "step_768.zip"),
                                  "--episodes", "1", "--max-steps", "4", "--no-video", "--no-progress"]) == 0
    assert "env tag" not in capsys.readouterr().err


def stop_before(real, pause: float = 0.05):
    """``real`` with a SIGINT sent to this process just before it runs (a Ctrl-C landing there), and
    ``pause`` seconds for the handler to take it."""

    def stopped(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(pause)
        return real(*args, **kwargs)

    return stopped


def fake_train(monkeypatch) -> list:
    """agents.train.train replaced by one that records what it was given: (cfg, run, command, resume), and
    says its ``notes`` as the real one does once a resumed run's checkpoint is loaded."""
    import agents.train

    calls = []

    def train(cfg, run, command, resume=False, progress=True, trained_on=None, notes=()):
        for line in notes:
            print(line, file=sys.stderr)
        calls.append((cfg, run, command, resume, progress))

    monkeypatch.setattr(agents.train, "train", train)
    return calls


def test_each_flag_reaches_the_config_train_is_given(scripts, tmp_path, monkeypatch):
    # The run-level tests read back a few flags; --save-every, --video-every, --num-workers, --seed, --obs and
    # the recorded command were each checked by no test of a new run.
    calls = fake_train(monkeypatch)
    monkeypatch.chdir(tmp_path)
    argv = ["--env", "snake", "--total-timesteps", "640", "--num-envs", "8", "--num-workers", "0", "--seed",
            "3", "--save-every", "320", "--video-every", "160", "--policy", "tiny", "--device", "cpu",
            "--size", "6", "--obs", "pixels", "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=64",
            "--no-progress", "--run-dir",
            str(tmp_path / "run")]
    assert scripts.train_ppo.main(argv) == 0
    ((cfg, run, command, resume, progress),) = calls
    assert {k: cfg[k] for k in ("total_timesteps", "num_envs", "num_workers", "seed", "save_every",
                                "video_every", "policy", "device", "recurrent")} == {
        "total_timesteps": 640, "num_envs": 8, "num_workers": 0, "seed": 3, "save_every": 320,
        "video_every": 160, "policy": "tiny", "device": "cpu", "recurrent": False}
    assert cfg["env_kwargs"]["size"] == 6 and cfg["env_kwargs"]["obs"] == "pixels"
    assert cfg["ppo"]["n_steps"] == 16 and cfg["env"] == "snake"
    # Recorded to re-run from anywhere: back to the folder it ran in, this interpreter, the script.
    script = str(ROOT / "scripts" / "train_ppo.py")
    assert command == (f"cd {shlex.quote(str(tmp_path))} && {RECORDED_ENV}"
                       + shlex.join([sys.executable, script, *argv]))
    assert run == tmp_path / "run"
    assert resume is False and progress is False


def test_the_start_line_names_the_device_preset_parameters_boards_and_workers(scripts, tmp_path, monkeypatch,
                                                                               capsys):
    # README (Training): the first line names the device, the preset and its parameter count, the boards, the
    # workers and the run folder; no test read it, so a line naming cpu_policy's preset, the preset's 64
    # boards or another count passed. Here each figure differs from the one such a mistake would show.
    import agents.train
    from tests.agents.test_policies_buffers import README_PARAMS

    def stop(*args, **kwargs):  # TensorBoard's logger is made just after the line: nothing trains
        raise ValueError("stopped after the start line")

    monkeypatch.setattr(agents.train, "configure", stop)
    run = tmp_path / "run"
    argv = ["--env", "snake", "--device", "cpu", "--policy", "tiny", "--set", "cpu_policy=small",
            "--num-envs", "8", "--no-progress", "--run-dir", str(run)]
    assert scripts.train_ppo.main(argv) == 2
    line = (f"depthfirst: env=snake device=cpu policy=tiny ({README_PARAMS['tiny']:,} parameters) envs=8 "
            f"workers=0 -> {run}\n")
    assert line in capsys.readouterr().out


def test_resume_takes_the_flags_it_may_change_and_refuses_the_others(scripts, tmp_path, monkeypatch, capsys):
    # Only --policy and --set were tried against --resume, and nothing a --resume may change was checked to
    # reach the run: --env of another game was dropped without a word by a resume that forgot to compare it.
    from agents.config import load_config, resolve

    calls = fake_train(monkeypatch)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")  # loaded by train(), faked here
    cfg = resolve({**load_config("snake"), "policy": "tiny", "num_workers": 1, "device": "cpu"}, False)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--num-workers", "0",
                                   "--device", "cpu", "--save-every", "512", "--video-every", "256"]) == 0
    ((given, where, _, resume, progress),) = calls
    assert where == run and resume is True and progress is True
    keys = ("total_timesteps", "num_workers", "save_every", "video_every", "policy")
    assert {k: given[k] for k in keys} == {"total_timesteps": 1024, "num_workers": 0, "save_every": 512,
                                           "video_every": 256, "policy": "tiny"}
    for argv, message in ((["--env", "sokoban"], "--env sokoban does not match the run being resumed"),
                          (["--run-dir", str(tmp_path / "other")], "so --run-dir cannot be given"),
                          (["--force"], "so --force cannot be given"),
                          (["--config", str(run / "config.yaml")], "so --config cannot be given"),
                          (["--seed", "4", "--num-envs", "16"], "so --num-envs, --seed cannot be given"),
                          (["--size", "8"], "so --size cannot be given")):
        with pytest.raises(SystemExit) as exc:
            scripts.train_ppo.main(["--resume", str(run), *argv])
        assert exc.value.code == 2 and message in capsys.readouterr().err, argv
    # A --set or --config refused named no way to change a PPO value of the run, which editing its
    # config.yaml does (README, Stopping and resuming; test_a_resume_trains_with_the_ppo_settings_...).
    edit = (f"; to change a PPO setting (ppo.learning_rate, say) for the rest of the run, edit it in "
            f"{run / 'config.yaml'} and resume\n")
    for argv, hinted in ((["--set", "ppo.learning_rate=1e-4"], True),
                         (["--config", str(run / "config.yaml")], True), (["--seed", "4"], False)):
        with pytest.raises(SystemExit):
            scripts.train_ppo.main(["--resume", str(run), *argv])
        assert capsys.readouterr().err.endswith(edit) == hinted, argv
    assert len(calls) == 1


def test_intervals_the_old_total_chose_follow_a_resumes_new_total(scripts, tmp_path, monkeypatch, capsys):
    # A 30k-step trial resumed to 4M steps kept its save_every 3,000 and video_every 6,000: a checkpoint and a
    # video every rollout or two for the rest of the run. Intervals a user set are kept. config.yaml cannot
    # tell a hand-set value equal to the automatic one, so a change is said, with the flag that keeps it.
    from agents.config import load_config, resolve

    calls = fake_train(monkeypatch)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")  # loaded by train(), faked here
    base = {**load_config("snake"), "policy": "tiny", "device": "cpu", "total_timesteps": 30_000}
    save = ("note: save_every follows the new --total-timesteps, 3,000 -> {} steps (the automatic value; "
            "give --save-every 3000 to keep 3,000)")
    video = ("note: video_every follows the new --total-timesteps, 6,000 -> {} steps (the automatic value; "
             "give --video-every 6000 to keep 6,000)")
    for own, argv, expected, notes in (
            ({}, ["--total-timesteps", "4000000"], (400_000, 800_000),  # both auto: both follow, said
             [save.format("400,000"), video.format("800,000")]),
            ({"save_every": 5_000}, ["--total-timesteps", "4000000"], (5_000, 800_000),  # a user's is kept
             [video.format("800,000")]),
            ({}, ["--total-timesteps", "4000000", "--save-every", "777"], (777, 800_000),  # a flag wins
             [video.format("800,000")]),
            ({}, ["--total-timesteps", "100000000"], (1_000_000, 20_000_000),  # save_every's 1M cap holds
             [save.format("1,000,000"), video.format("20,000,000")]),
            ({}, ["--total-timesteps", "30000"], (3_000, 6_000), []),  # the same total: nothing follows
            ({}, ["--num-workers", "0"], (3_000, 6_000), [])):  # no new total
        (run / "config.yaml").write_text(yaml.safe_dump(resolve({**base, **own}, False)))
        assert scripts.train_ppo.main(["--resume", str(run), "--device", "cpu", *argv]) == 0
        given = calls.pop()[0]
        assert (given["save_every"], given["video_every"]) == expected, (own, argv)
        err = capsys.readouterr().err
        assert [line for line in err.splitlines() if line.startswith("note: ")] == notes, (own, argv)
    # A resume refused after its config is resolved (the game refuses size 3) says no note.
    (run / "config.yaml").write_text(yaml.safe_dump(resolve({**base, "env_kwargs": {"size": 3}}, False)))
    argv = ["--resume", str(run), "--device", "cpu", "--total-timesteps", "4000000"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "size" in err and "note:" not in err, err


def test_workers_above_this_machines_cores_follow_its_automatic_count(scripts, tmp_path, monkeypatch, capsys):
    # A Game Boy run from a 16-core node, resumed (or its config.yaml given as --config) on a 4-core laptop,
    # kept its 16 worker processes without a word. config.yaml cannot tell whether 16 was the automatic
    # count there; more than this machine's cores is never its automatic count, and the count changes no
    # result (README, Seeds and reproducibility): it follows this machine's, said with the flag that keeps it.
    import envs.vector
    from agents.config import load_config, resolve
    from envs.snake import Snake

    calls = fake_train(monkeypatch)
    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 16)
    monkeypatch.setattr(envs.vector, "prepare_workers", lambda *args, **kwargs: False)  # no fork server
    monkeypatch.setattr(Snake, "cheap", False)  # a game with workers by default, as the Game Boy's
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")  # loaded by train(), faked here
    base = {**load_config("snake"), "policy": "tiny", "device": "cpu", "num_envs": 16}
    auto = resolve(base, False)
    assert auto["num_workers"] == 16  # the 16-core node's automatic count
    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 4)  # the laptop
    note = ("note: num_workers follows this machine's 4 usable cores, {} -> 4 worker processes (the "
            "automatic value; give --num-workers {} to keep {})")
    for own, argv, expected, notes in (
            ({}, [], 4, [note.format(16, 16, 16)]),
            ({"num_workers": 6}, [], 4, [note.format(6, 6, 6)]),
            ({}, ["--num-workers", "16"], 16, []),  # a flag wins
            ({"num_workers": 3}, [], 3, []),  # within this machine's cores: kept
            ({"num_workers": 4}, [], 4, []),  # as many as its cores: kept, no note of "4 -> 4"
            ({"num_workers": 0}, [], 0, [])):  # in process
        (run / "config.yaml").write_text(yaml.safe_dump({**auto, **own}))
        assert scripts.train_ppo.main(["--resume", str(run), *argv]) == 0
        assert calls.pop()[0]["num_workers"] == expected, (own, argv)
        err = capsys.readouterr().err
        assert [line for line in err.splitlines() if line.startswith("note: ")] == notes, (own, argv)
    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 1)  # one core: two workers are one too many
    (run / "config.yaml").write_text(yaml.safe_dump({**auto, "num_workers": 2}))
    assert scripts.train_ppo.main(["--resume", str(run)]) == 0
    assert calls.pop()[0]["num_workers"] == 1
    assert [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")] == [
        "note: num_workers follows this machine's 1 usable core, 2 -> 1 worker process (the automatic "
        "value; give --num-workers 2 to keep 2)"]
    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 4)
    (run / "config.yaml").write_text(yaml.safe_dump(auto))
    argv = ["--config", str(run / "config.yaml"), "--run-dir", str(tmp_path / "again")]
    assert scripts.train_ppo.main(argv) == 0
    assert calls.pop()[0]["num_workers"] == 4
    assert note.format(16, 16, 16) in capsys.readouterr().err
    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 1)  # one core: one process, said so
    assert scripts.train_ppo.main(["--resume", str(run)]) == 0
    assert calls.pop()[0]["num_workers"] == 1
    assert ("num_workers follows this machine's 1 usable core, 16 -> 1 worker process (the automatic value"
            in capsys.readouterr().err)
    # A game stepped in process by default (auto: 0 workers on every machine) was given its 16 by hand: kept.
    monkeypatch.setattr(Snake, "cheap", True)
    assert scripts.train_ppo.main(["--resume", str(run)]) == 0
    assert calls.pop()[0]["num_workers"] == 16
    assert "note: " not in capsys.readouterr().err


def test_a_ppo_seed_in_a_resumed_runs_config_yaml_is_not_told_to_give_seed(scripts, tmp_path, monkeypatch,
                                                                           capsys):
    # The hint for ppo.seed said "give --seed instead", which --resume refuses: the run's own seed is the
    # top-level seed: of its config.yaml.
    from agents.config import load_config, resolve

    calls = fake_train(monkeypatch)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")
    cfg = resolve({**load_config("snake"), "policy": "tiny", "device": "cpu", "total_timesteps": 30_000},
                  False)
    cfg["ppo"]["seed"] = 3  # a hand edit
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    argv = ["--resume", str(run), "--total-timesteps", "60000", "--device", "cpu"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "ppo.seed is the run's --seed (top-level seed: in a config file)" in err
    assert "give --seed" not in err
    assert not calls


def test_resume_after_a_crash_hides_the_steps_logged_past_its_checkpoint(trained, scripts, tmp_path):
    run = tmp_path / "crashed"
    shutil.copytree(trained, run)
    # Killed (kill -9, out of memory) after logging step 512 but before checkpointing it: model.zip too is
    # the one saved with step 256.
    (run / "checkpoints" / "step_512.zip").unlink()
    shutil.copy(run / "checkpoints" / "step_256.zip", run / "model.zip")
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "768", "--no-progress"]) == 0
    ea = events(run)
    # Step 512 once, the resumed run's: not the crashed run's 512 followed by a second one.
    assert [e.step for e in ea.Scalars("train/value_loss")] == [256, 512, 768]
    steps = [e.step for e in ea.Scalars("rollout/ep_len_mean")]
    assert steps == sorted(set(steps)) and max(steps) == 768
    from tensorboard.backend.event_processing import plugin_event_accumulator

    with tb_in_order(run) as folder:
        served = plugin_event_accumulator.EventAccumulator(folder, size_guidance={"tensors": 0})
        served.Reload()  # what `tensorboard --logdir` reads: it does the same
    assert [e.step for e in served.Tensors("train/value_loss")] == [256, 512, 768]


def test_resumed_run_plays_new_episodes(trained, tmp_path):
    import shutil

    from agents.config import DEFAULTS, deep_merge
    from agents.runs import read_run_config
    from agents.train import train

    run = tmp_path / "resumed"
    shutil.copytree(trained, run)
    cfg = deep_merge(DEFAULTS, read_run_config(run))
    cfg["total_timesteps"] = 768
    model = train(cfg, run, "test", resume=True, progress=False)
    # Episode seeds start past every one the first 512 steps of 8 boards can have used.
    assert model.get_env().base_seed == cfg["seed"] + 512 + 8
    # torch and NumPy continue from a seed of their own too: SB3's load seeded them with the run's seed
    # again, replaying the first chunk's sampled actions and minibatch order.
    import torch

    assert torch.initial_seed() == cfg["seed"] + 512


def test_a_resume_skips_the_orthogonal_init_of_the_weights_its_checkpoint_replaces(trained, tmp_path,
                                                                                 monkeypatch):
    """SB3's load builds the policy with orthogonal weights (QR decompositions: ~3 s of a 10m-preset
    --resume here), then overwrites them. Skipped, the resumed model trains as a stock-loaded one does and
    saves the run's own policy_kwargs."""
    import torch
    from stable_baselines3 import PPO

    from agents.config import DEFAULTS, deep_merge
    from agents.runs import read_run_config
    from agents.train import load_model
    from envs import make_vec

    cfg = deep_merge(DEFAULTS, read_run_config(trained))
    models = []
    for ours in (False, True):
        venv = make_vec("snake", cfg["num_envs"], num_workers=0, seed=0, **cfg["env_kwargs"])
        with monkeypatch.context() as m:
            if ours:
                m.setattr(torch.nn.init, "orthogonal_", lambda *a, **k: pytest.fail("orthogonal init"))
                model = load_model(cfg, trained / "model.zip", venv)
            else:
                model = PPO.load(trained / "model.zip", env=venv, device="cpu")
        model.set_random_seed(7)
        model.learn(256, reset_num_timesteps=False)
        venv.close()
        models.append(model)
    stock, resumed = models
    for a, b in zip(stock.policy.state_dict().values(), resumed.policy.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    resumed.save(tmp_path / "model.zip")
    assert PPO.load(tmp_path / "model.zip").policy_kwargs == stock.policy_kwargs


def test_a_resume_trains_with_the_ppo_settings_of_the_runs_config_yaml(trained):
    """The PPO settings came from the checkpoint: a learning rate edited in config.yaml was written back there
    and logged to TensorBoard, but the run trained on with the old one."""
    from agents.config import DEFAULTS, deep_merge, resolve
    from agents.runs import read_run_config
    from agents.train import load_model
    from envs import make_vec

    cfg = deep_merge(DEFAULTS, read_run_config(trained))
    edited = {"learning_rate": 0.01, "n_epochs": 1, "gamma": 0.9, "stats_window_size": 7}
    cfg = resolve({**cfg, "ppo": {**cfg["ppo"], **edited}}, cuda_available=False)
    venv = make_vec("snake", cfg["num_envs"], num_workers=0, seed=0, **cfg["env_kwargs"])
    try:
        model = load_model(cfg, trained / "model.zip", venv)
    finally:
        venv.close()
    assert (model.learning_rate, model.n_epochs, model.gamma, model._stats_window_size) == (0.01, 1, 0.9, 7)
    assert model.lr_schedule(1.0) == 0.01 and model.rollout_buffer.gamma == 0.9


def test_evaluate_prints_json_and_writes_videos(trained, scripts, capsys):
    assert scripts.evaluate.main([str(trained), "--episodes", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("mean_score", "median_score", "max_score", "mean_length", "episodes"):
        assert key in result
    assert result["episodes"] == 5
    assert result["mean_snake_length"] == pytest.approx(result["mean_score"] + 3)  # grows one per apple
    frames = imageio.mimread(result["video"], memtest=False)
    assert len(frames) >= 2 and frames[0].shape == (160, 160, 3)
    # GIF writers merge identical consecutive frames (the board does not move on death).
    assert len(imageio.mimread(result["gif"], memtest=False)) >= len(frames) - 1
    assert result["video_steps"] == len(frames) - 1
    # --video-steps keeps the episode's end: its last N steps, the final frame the same. (1 step: the
    # best episode of this barely trained model may be 2 steps long, e.g. when trained on a GPU.)
    assert scripts.evaluate.main([str(trained), "--episodes", "5", "--json", "--video-steps", "1"]) == 0
    short = json.loads(capsys.readouterr().out)
    clip = imageio.mimread(short["video"], memtest=False)
    assert short["video_steps"] == 1 and len(clip) == 2
    assert scripts.evaluate.main([str(trained), "--episodes", "2", "--no-video"]) == 0
    assert "means of the game's figures: " in capsys.readouterr().out  # e.g. snake_length, won
    # The replaced JSON's videos go with it: no older evaluation's best episode beside the new figures.
    assert "video" not in json.loads(Path(short["video"]).with_name("eval-step512.json").read_text())
    assert not Path(short["video"]).exists() and not Path(short["gif"]).exists()
    assert np.abs(clip[-1].astype(int) - frames[-1]).mean() < 3  # the same final frame (H.264 is lossy)


@pytest.mark.parametrize("mean, median, best, line", [
    # Pokémon's score (100·badges + flags + 0.1·maps + 0.001·tiles) is fractional: its max was printed
    # rounded to a whole number, "mean score 1.10, median 1.1, max 1", the max below the mean.
    (1.1, 1.1, 1.105, "mean score 1.10, median 1.1, max 1.105, mean length"),
    # Two episodes of 1.105 each printed "mean score 1.10, median 1.105, max 1.105": the mean below every
    # score it averages.
    (1.105, 1.105, 1.105, "mean score 1.105, median 1.105, max 1.105, mean length"),
    # Whole scores print without a trailing ".", and the median is the median, not the mean.
    (2.5, 2.0, 6.0, "mean score 2.50, median 2, max 6, mean length"),
])
def test_evaluate_prints_fractional_scores_as_they_are(trained, scripts, capsys, monkeypatch, mean, median,
                                                       best, line):
    import agents.evaluation

    real = agents.evaluation.summarize

    def fractional(episodes):
        return {**real(episodes), "mean_score": mean, "median_score": median, "max_score": best}

    monkeypatch.setattr(agents.evaluation, "summarize", fractional)
    assert scripts.evaluate.main([str(trained), "--episodes", "2", "--no-video"]) == 0
    assert line in capsys.readouterr().out
    assert [agents.cli.mean_text(x) for x in (0.0, 31.99, 1.1, 32.905)] == ["0.00", "31.99", "1.10",
                                                                                  "32.905"]


def test_evaluate_prints_a_score_that_rounds_to_zero_as_0_not_minus_0():
    # A Game Boy score is a sum of float rewards: -0.0004 printed as "max -0", a mean of -0.004 "-0.00".
    from agents.cli import figure, mean_text

    assert [figure(x) for x in (-0.0004, -0.0, 0.0004, -0.0006, -1.5)] == ["0", "0", "0", "-0.001", "-1.5"]
    assert [mean_text(x) for x in (-0.0004, -0.0, -0.004, -0.0101, -1.5)] == ["0.00", "0.00", "-0.004",
                                                                             "-0.01", "-1.50"]


def test_the_evaluation_json_names_its_files_by_absolute_path(trained, scripts, capsys, monkeypatch):
    monkeypatch.chdir(trained.parent)  # a run given relative to the current folder
    assert scripts.evaluate.main([trained.name, "--episodes", "2", "--json"]) == 0
    capsys.readouterr()
    saved = json.loads((trained / "eval-step512.json").read_text())
    monkeypatch.chdir("/")  # read later, from another folder: the paths still name the files
    assert saved["checkpoint"] == str(trained / "model.zip")
    assert saved["video"] == str(trained / "eval-step512-best.mp4") and Path(saved["video"]).is_file()
    assert saved["gif"] == str(trained / "eval-step512-best.gif") and Path(saved["gif"]).is_file()


def test_another_runs_model_never_replaces_the_runs_own_evaluation(trained, scripts, tmp_path, capsys):
    import hashlib

    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
    other = tmp_path / "other" / "model.zip"  # another run's model at the same step
    other.parent.mkdir()
    shutil.copy(trained / "model.zip", other)
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--json"]) == 0
    own = {p.name: p.read_bytes() for p in run.glob("eval-*")}
    assert sorted(own) == ["eval-step512-best.gif", "eval-step512-best.mp4", "eval-step512.json"]
    argv = [str(run), "--episodes", "2", "--seed", "7", "--checkpoint", str(other)]
    assert scripts.evaluate.main(argv) == 0
    assert {p.name: p.read_bytes() for p in run.glob("eval-step512*") if p.name in own} == own
    stem = f"eval-step512-model-{hashlib.sha1(other.read_bytes()).hexdigest()[:8]}"
    foreign = json.loads((run / f"{stem}.json").read_text())
    assert foreign["checkpoint"] == str(other) and foreign["seed"] == 7
    assert (run / f"{stem}-best.mp4").is_file() and (run / f"{stem}-best.gif").is_file()
    # The run's own checkpoint, however it is named, is the run's: its files keep the plain name.
    ckpt = run / "checkpoints" / "step_512.zip"
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--no-video", "--checkpoint", str(ckpt)]) == 0
    assert json.loads((run / "eval-step512.json").read_text())["checkpoint"] == str(ckpt)
    capsys.readouterr()


def replaced_while_played(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of ``trained`` that a train_ppo.py --force in another terminal replaces once the episodes of
    an evaluation have played: the old run aside, a new run (no model yet) in its place."""
    import agents.evaluation

    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
    play = agents.evaluation.run_episodes

    def played_while_forced(*a, **kw):
        episodes = play(*a, **kw)
        run.rename(tmp_path / ".run.replaced")
        shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*", "model.zip", "checkpoints"))
        return episodes

    monkeypatch.setattr(agents.evaluation, "run_episodes", played_while_forced)
    return run


def test_an_evaluation_into_out_of_a_run_replaced_meanwhile_is_named_after_the_model_it_played(
        trained, scripts, tmp_path, capsys, monkeypatch):
    # evaluate.py RUN --out DIR while a train_ppo.py --force replaced the run: its results go to --out, not
    # into the run, yet the model file was read again after the play to name them, and its
    # FileNotFoundError ended the evaluation in a traceback.
    run = replaced_while_played(trained, tmp_path, monkeypatch)
    out = tmp_path / "evals"
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--no-video", "--out", str(out)]) == 0
    stem = f"eval-step512-model-{hashlib.sha1((trained / 'model.zip').read_bytes()).hexdigest()[:8]}"
    assert json.loads((out / f"{stem}.json").read_text())["episodes"] == 2
    assert not list(run.glob("eval-*"))
    capsys.readouterr()


def test_an_evaluation_of_a_run_replaced_meanwhile_writes_nothing_into_the_new_run(trained, scripts, tmp_path,
                                                                                 capsys, monkeypatch):
    """A train_ppo.py --force in another terminal moved the run aside while it was evaluated: the results of
    the old run's model went into the new run's folder, as eval-step<N> of a model it never trained."""
    import agents.evaluation

    play = agents.evaluation.run_episodes
    run = replaced_while_played(trained, tmp_path, monkeypatch)
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["episodes"] == 2  # shown, not written
    assert f"{run} was replaced while this evaluation played" in err and "--force" in err
    assert not list(run.glob("eval-*")) and not list(run.glob(".eval-*"))
    # The run put back (a --force whose new run crashed): the results are written, as the run is the same.
    shutil.rmtree(run)
    (tmp_path / ".run.replaced").rename(run)
    monkeypatch.setattr(agents.evaluation, "run_episodes", play)
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--no-video"]) == 0
    assert (run / "eval-step512.json").is_file()
    capsys.readouterr()


def test_the_runs_own_model_evaluated_into_out_is_labelled_as_the_help_says(trained, scripts, tmp_path,
                                                                          capsys, monkeypatch):
    # --checkpoint's --help said only a model from outside the run gets eval-step<N>-<name>-<sha1>* files,
    # "never the run's own"; with --out (README "Results file"), the run's own model's are named so too.
    out = tmp_path / "evals"
    assert scripts.evaluate.main([str(trained), "--episodes", "1", "--no-video", "--out", str(out)]) == 0
    stem = f"eval-step512-model-{hashlib.sha1((trained / 'model.zip').read_bytes()).hexdigest()[:8]}"
    assert sorted(p.name for p in out.glob("eval-*")) == [f"{stem}.json"]
    capsys.readouterr()
    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks in the help (argparse breaks "eval-" too)
    with pytest.raises(SystemExit):
        scripts.evaluate.main(["--help"])
    shown = capsys.readouterr().out
    assert ("one from outside the run, or any with --out, writes eval-step<N>-<name>-<sha1>* files, so it "
            "never replaces the run's own results") in shown, shown


def test_the_runs_own_checkpoint_by_a_relative_path_keeps_the_plain_name(trained, scripts, tmp_path, capsys,
                                                                        monkeypatch):
    # foreign_label compares resolved paths: "checkpoints/step_512.zip" from inside the run is the run's own
    # checkpoint, whose results are eval-step512*, not those of a model from outside the run.
    run = tmp_path / "run"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
    monkeypatch.chdir(run)
    argv = [str(run), "--episodes", "1", "--no-video", "--json", "--checkpoint", "checkpoints/step_512.zip"]
    assert scripts.evaluate.main(argv) == 0
    capsys.readouterr()
    assert sorted(p.name for p in run.glob("eval-*")) == ["eval-step512.json"]


def test_sampled_actions_never_replace_the_greedy_evaluation(trained, scripts, capsys):
    argv = [str(trained), "--episodes", "3", "--json", "--no-video"]
    assert scripts.evaluate.main(argv) == 0
    greedy = json.loads(capsys.readouterr().out)
    assert scripts.evaluate.main([*argv, "--stochastic"]) == 0
    sampled = json.loads(capsys.readouterr().out)
    assert (greedy["actions"], sampled["actions"]) == ("argmax", "sampled")
    assert scripts.evaluate.main([*argv, "--device", "banana"]) == 2
    assert "--device: unknown device" in capsys.readouterr().err
    assert scripts.evaluate.main([*argv, "--device", "auto"]) == 0  # CUDA when there is one
    assert json.loads((trained / "eval-step512.json").read_text()) == greedy
    assert json.loads((trained / "eval-step512-stochastic.json").read_text()) == sampled


def test_the_printed_line_of_sampled_actions_says_so(trained, scripts, capsys):
    # `evaluate.py RUN --stochastic` printed "snake step 512, 3 episodes: ...", the greedy play's line word
    # for word: two evaluations in one log could not be told apart (the random agent's line names it).
    argv = [str(trained), "--episodes", "3", "--no-video"]
    assert scripts.evaluate.main(argv) == 0
    assert capsys.readouterr().out.startswith("snake step 512, 3 episodes: mean score ")
    assert scripts.evaluate.main([*argv, "--stochastic"]) == 0
    assert capsys.readouterr().out.startswith("snake step 512 (sampled actions), 3 episodes: mean score ")


def test_max_steps_cuts_the_episodes_as_the_export_does_into_files_of_its_own(trained, scripts, capsys):
    # evaluate had no --max-steps: a capped export or comparison could not be checked against it.
    from agents.evaluation import run_episodes
    from vlm.trajectories import load_policy, resolve_run

    argv = [str(trained), "--episodes", "4", "--json", "--no-video"]
    assert scripts.evaluate.main(argv) == 0
    full = json.loads(capsys.readouterr().out)
    assert scripts.evaluate.main([*argv, "--max-steps", "3"]) == 0
    capped = json.loads(capsys.readouterr().out)
    assert (full["max_steps"], capped["max_steps"]) == (None, 3) and capped["mean_length"] <= 3
    model = load_policy(resolve_run(trained))
    expected = run_episodes(model, "snake", capped["env_kwargs"], 4, seed=capped["seed"], max_steps=3)
    assert capped["mean_length"] == np.mean([e.length for e in expected])
    assert json.loads((trained / "eval-step512.json").read_text()) == full  # not replaced
    assert json.loads((trained / "eval-step512-max3.json").read_text()) == capped
    # Which episodes the cap cut was said nowhere (a cut duel is no win, draw nor loss).
    whole = run_episodes(model, "snake", capped["env_kwargs"], 4, seed=capped["seed"])
    cut = sum(e.length > 3 for e in whole)  # those the cap cut: they went on uncapped
    assert full["capped"] == 0 and capped["capped"] == cut > 0
    assert scripts.evaluate.main([*argv[:-2], "--no-video", "--max-steps", "3"]) == 0
    stood = "it" if cut == 1 else "they"
    assert f"mean length {capped['mean_length']:.1f} ({cut} cut at --max-steps, scored as {stood} stood)" in \
        capsys.readouterr().out


def test_stochastic_evaluation_plays_the_sampled_episodes(trained, scripts, capsys):
    """--stochastic samples actions, episode k from its stream [seed, k]: its figures are those of the
    sampled episodes, which are not the argmax ones."""
    from agents.evaluation import eval_kwargs, run_episodes, summarize
    from agents.runs import read_run_config
    from agents.train import load_model

    argv = [str(trained), "--episodes", "6", "--seed", "5", "--json", "--no-video", "--stochastic"]
    assert scripts.evaluate.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    cfg = read_run_config(trained)
    model = load_model(cfg, trained / "model.zip", device="cpu")
    kwargs = eval_kwargs(cfg["env_kwargs"])
    sampled = run_episodes(model, "snake", kwargs, 6, seed=5, deterministic=False)
    greedy = run_episodes(model, "snake", kwargs, 6, seed=5, deterministic=True)
    assert [e.actions for e in sampled] != [e.actions for e in greedy]
    want = summarize(sampled)
    assert {k: result[k] for k in want} == want and result["actions"] == "sampled"


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-5"], "--seed"),
    (["--seed", str(2**64 - 1)], "the last episode seed, seed + --episodes - 1, must stay below 2**64"),
    # Each refusal names only the flags given (it named all three whatever was typed).
    (["--random", "--checkpoint", "x.zip"], "--random plays no model: drop --checkpoint\n"),
    (["--random", "--stochastic"], "--random plays no model: drop --stochastic\n"),
    (["--random", "--vlm", "m@http://127.0.0.1:9"], "--random plays no model: drop --vlm\n"),
    (["--random", "--stochastic", "--vlm", "m@http://127.0.0.1:9"], "drop --stochastic and --vlm\n"),
    (["--random", "--checkpoint", "x.zip", "--stochastic", "--vlm", "m@http://127.0.0.1:9"],
     "drop --checkpoint, --stochastic and --vlm\n"),
    (["--env", "sokoban"], "--env is for --vlm without a run folder"),
    (["--vlm", "m@http://127.0.0.1:9", "--checkpoint", "x.zip"],
     "--vlm plays no checkpoint: drop --checkpoint\n"),
    (["--vlm", "m@http://127.0.0.1:9", "--stochastic"], "--vlm plays no checkpoint: drop --stochastic\n"),
    (["--no-video", "--video-steps", "5"], "--video-steps sets the length of the video --no-video turns off"),
    # The VLM endpoint's flags were ignored without --vlm: --temperature 0.7 still played the argmax.
    (["--temperature", "0.7"], "--temperature is for --vlm (the VLM endpoint): drop it"),
    (["--stochastic", "--concurrency", "2", "--no-cache"], "--concurrency, --no-cache are for --vlm"),
    (["--random", "--cache-dir", "c"], "--cache-dir is for --vlm"),
])
def test_evaluate_refuses_seeds_that_wrap_and_flags_it_would_ignore(trained, scripts, argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        scripts.evaluate.main([str(trained), "--episodes", "2", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_evaluate_defaults_are_the_ones_the_readme_states(scripts, tmp_path, capsys, monkeypatch):
    # 100 episodes seeded from 1000000 (the seeds the export and compare play by default), the game's own
    # step limits and a video of the last 1,000 steps: no test played evaluate without these flags.
    import agents.callbacks  # noqa: F401 (imported here, not first by the command, where it kept the stand-ins)
    import agents.evaluation

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "snake", "env_kwargs": {"size": 6}}))
    played, filmed = {}, {}
    play, replay = agents.evaluation.run_episodes, agents.evaluation.replay_frames

    def run_episodes(model, env, env_kwargs, episodes, seed=0, max_steps=0, deterministic=None, **kwargs):
        played.update(episodes=episodes, seed=seed, max_steps=max_steps, deterministic=deterministic)
        return play(model, env, env_kwargs, 2, seed=seed, max_steps=max_steps, deterministic=deterministic)

    def replay_frames(*args, last=None, **kwargs):
        filmed["last"] = last
        return replay(*args, last=last, **kwargs)

    monkeypatch.setattr(agents.evaluation, "run_episodes", run_episodes)
    monkeypatch.setattr(agents.evaluation, "replay_frames", replay_frames)
    assert scripts.evaluate.main([str(run), "--random", "--no-progress"]) == 0
    assert played == {"episodes": 100, "seed": 1_000_000, "max_steps": agents.evaluation.EPISODE_STEP_CAP,
                      "deterministic": True}
    assert filmed == {"last": 1000}
    saved = json.loads((run / "eval-random.json").read_text())
    assert (saved["seed"], saved["actions"], saved["checkpoint"], saved["max_steps"]) == (
        1_000_000, "random", "random", None)
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"snake random agent, 2 episodes: mean score {saved['mean_score']:.2f}, ")


def test_evaluate_prints_each_figure_it_names(scripts, tmp_path, capsys):
    # Only the line's start and "mean length" were read: the length printed as another figure, the mean
    # return among the game's figures, the video and GIF swapped, or a progress bar beside --json's
    # object on stderr all passed the suite.
    from agents.cli import figure, mean_text

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "snake", "env_kwargs": {"size": 6}}))
    argv = [str(run), "--random", "--episodes", "3", "--seed", "5"]
    assert scripts.evaluate.main([*argv, "--json"]) == 0
    said = capsys.readouterr()
    assert said.err == "" and json.loads(said.out) == json.loads((run / "eval-random.json").read_text())
    assert scripts.evaluate.main([*argv, "--no-progress"]) == 0
    s = json.loads((run / "eval-random.json").read_text())
    assert s["mean_length"] != s["mean_score"]  # these seeds tell the two apart
    said = capsys.readouterr()
    assert said.err == ""  # --no-progress: no bar on stderr either
    assert said.out.splitlines() == [
        f"snake random agent, 3 episodes: mean score {mean_text(s['mean_score'])}, median "
        f"{figure(s['median_score'])}, max {figure(s['max_score'])}, mean length {s['mean_length']:.1f}",
        f"means of the game's figures: snake_length {s['mean_snake_length']:.2f}, won {s['mean_won']:.2f}",
        f"best episode (seed {s['best_episode_seed']}): {s['video']}, {s['gif']}"]
    assert s["video"].endswith("eval-random-best.mp4") and s["gif"].endswith("eval-random-best.gif")


def test_the_evaluation_bar_shows_the_steps_played_before_any_episode_ends(scripts, tmp_path, capsys,
                                                                           monkeypatch):
    # The bar counted episodes alone: a Game Boy evaluation (two episodes of up to 8,192 moves) sat at 0/2
    # for over ten minutes with no sign of life.
    import agents.cli

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "sokoban", "env_kwargs": {}}))
    monkeypatch.setattr(agents.cli, "REFRESH_S", 0.0)  # every step's count drawn
    # No random play solves a level in 4 moves: both episodes end at the cut, after the 8 steps.
    argv = [str(run), "--random", "--episodes", "2", "--max-steps", "4", "--no-video"]
    assert scripts.evaluate.main(argv) == 0
    frames = capsys.readouterr().err.split("\r")
    assert any(" 0/2 " in f and "4 steps]" in f for f in frames), frames
    assert any(" 0/2 " in f and "8 steps]" in f for f in frames), frames
    assert " 2/2 " in frames[-1] and "8 steps]" in frames[-1], frames


def test_the_best_episodes_replay_for_its_video_shows_a_bar(scripts, tmp_path, capsys):
    # The best episode is played again for its MP4/GIF (a Game Boy episode of 8,192 steps: seconds, more
    # at load) after the episodes' bar has closed: nothing moved meanwhile. Its own bar counts the steps
    # replayed; --no-progress (and --json) hides it, as the episodes' bar.
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "sokoban", "env_kwargs": {}}))
    argv = [str(run), "--random", "--episodes", "1", "--max-steps", "4"]
    assert scripts.evaluate.main(argv) == 0
    frames = capsys.readouterr().err.split("\r")
    assert any(f.startswith("replaying the best episode:") and "/4 " in f for f in frames), frames
    assert scripts.evaluate.main([*argv, "--no-progress"]) == 0
    assert "replaying" not in capsys.readouterr().err


def test_an_interrupted_evaluation_leaves_no_partial_file(trained, scripts, tmp_path, capsys, monkeypatch):
    import agents.evaluation

    run = tmp_path / "run"
    shutil.copytree(trained, run)

    def interrupted(frames):  # Ctrl-C (or SIGTERM) while the GIF is encoded, the MP4 done
        raise KeyboardInterrupt

    assert scripts.evaluate.main([str(run), "--episodes", "2", "--seed", "5"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    monkeypatch.setattr(agents.evaluation, "animated_gif", interrupted)
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--seed", "900"]) == 130
    assert "interrupted: no new results written" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # all old, none new


def test_evaluating_a_checkpoint_of_other_settings_is_a_clear_error(trained, scripts, tmp_path, capsys):
    run = tmp_path / "other"
    run.mkdir()
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    cfg["env_kwargs"]["size"] = 6  # the checkpoint was trained on 10×10
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    argv = [str(run), "--checkpoint", str(trained / "model.zip"), "--episodes", "2"]
    assert scripts.evaluate.main(argv) == 2
    err = capsys.readouterr().err
    assert f"the checkpoint {trained / 'model.zip'} reads" in err
    assert ("trained on another game or settings; give --checkpoint a model trained with this run's "
            "config.yaml, or name the run folder it was trained in instead") in err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_a_plain_checkpoint_in_a_recurrent_run_is_a_clear_error(trained, scripts, tmp_path, capsys):
    run = tmp_path / "lstm"
    run.mkdir()
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "recurrent": True}))
    argv = [str(run), "--checkpoint", str(trained / "model.zip"), "--episodes", "2"]
    assert scripts.evaluate.main(argv) == 2  # RecurrentPPO.load raised an AttributeError traceback
    err = capsys.readouterr().err
    assert "as RecurrentPPO" in err and "without --recurrent" in err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def save_recurrent_twin(trained: Path, path: Path) -> None:
    """Save at ``path`` an untrained RecurrentPPO checkpoint for run ``trained``'s game and settings."""
    from agents.config import DEFAULTS, deep_merge, resolve
    from agents.train import build_model
    from envs import make_vec

    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    lstm = resolve(deep_merge(DEFAULTS, {**cfg, "recurrent": True, "num_workers": 0}), False)
    venv = make_vec(cfg["env"], lstm["num_envs"], num_workers=0, **cfg["env_kwargs"])
    try:
        build_model(lstm, venv).save(path)
    finally:
        venv.close()


def test_a_recurrent_checkpoint_in_a_plain_run_is_a_clear_error(trained, scripts, tmp_path, capsys):
    save_recurrent_twin(trained, tmp_path / "lstm.zip")
    # PPO.load took the LSTM policy: evaluate played it, an export called it a plain PPO, and a --resume
    # died in its first rollout with a TypeError traceback.
    argv = [str(trained), "--checkpoint", str(tmp_path / "lstm.zip"), "--episodes", "2", "--no-video"]
    assert scripts.evaluate.main(argv) == 2
    err = capsys.readouterr().err
    assert "as PPO" in err and "with --recurrent" in err
    assert not list(trained.glob("eval-*lstm*"))


def test_resuming_a_checkpoint_of_the_other_algorithm_says_what_to_change(trained, scripts, tmp_path, capsys):
    save_recurrent_twin(trained, tmp_path / "lstm.zip")
    cfg = yaml.safe_load((trained / "config.yaml").read_text())
    plain, recurrent = tmp_path / "plain", tmp_path / "recurrent"
    for run, model, flag, change in ((plain, tmp_path / "lstm.zip", False, "trained with --recurrent, write "
                                      "recurrent: true back there"),
                                     (recurrent, trained / "model.zip", True, "trained without --recurrent, "
                                      "write recurrent: false back there")):
        shutil.copytree(trained, run, ignore=shutil.ignore_patterns("checkpoints"))  # a copied model.zip
        shutil.copy(model, run / "model.zip")
        (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "recurrent": flag}))
        before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
        argv = ["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]
        assert scripts.train_ppo.main(argv) == 2
        err = capsys.readouterr().err
        assert f"{run / 'config.yaml'} says recurrent: {str(flag).lower()}, which --resume keeps" in err
        assert change in err
        assert (f"or train a new run with its settings as they are now: train_ppo.py --config "
                f"{run / 'config.yaml'}") in err
        assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_resuming_a_run_whose_config_yaml_says_the_other_algorithm_says_so_despite_older_checkpoints(
        trained, scripts, tmp_path, capsys):
    # With older checkpoints the message said to move the newest aside and resume from step_256.zip, which
    # the edited recurrent: refuses alike (every checkpoint was saved without it): not offered.
    run = tmp_path / "edited"
    shutil.copytree(trained, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "recurrent": True}))
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (f"{run / 'config.yaml'} says recurrent: true, which --resume keeps: if this run was trained "
            "without --recurrent, write recurrent: false back there; or train a new run with its settings as "
            f"they are now: train_ppo.py --config {run / 'config.yaml'}\n") in err
    assert "step_256" not in err and "out of the way" not in err


def test_resuming_a_run_whose_config_yaml_changed_the_board_says_so_despite_older_checkpoints(
        trained, scripts, tmp_path, capsys):
    # SB3's 'Observation spaces do not match' came with 'move it out of the way to resume from' the next
    # checkpoint, which the edited size refuses alike (every checkpoint was trained on the old board).
    run = tmp_path / "edited"
    shutil.copytree(trained, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    kwargs = {**cfg["env_kwargs"], "size": cfg["env_kwargs"]["size"] + 2}
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "env_kwargs": kwargs}))
    advice = (f"if the game settings (env_kwargs) in {run / 'config.yaml'} were changed since the run "
              "started, put them back; or train a new run with its settings as they are now: train_ppo.py "
              f"--config {run / 'config.yaml'}\n")
    argv = ["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]
    for older in (True, False):  # older checkpoints; none (model.zip, the run's own, mismatches alike)
        if not older:
            shutil.rmtree(run / "checkpoints")
        assert scripts.train_ppo.main(argv) == 2
        err = capsys.readouterr().err
        assert "Observation spaces do not match" in err and advice in err, older
        assert "out of the way" not in err and "put back a model.zip" not in err, older


def test_a_resume_refused_at_its_checkpoint_says_no_note_of_settings_that_follow(trained, scripts, tmp_path,
                                                                                  capsys):
    # "note: save_every follows the new --total-timesteps ..." came before the error of a resume refused
    # once its checkpoint was loaded (an edited board): a note of a run that did not go on.
    from agents.config import auto_intervals

    run = tmp_path / "edited"
    shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg.update(auto_intervals(cfg["total_timesteps"]))  # as the automatic values: they follow a new total
    board = cfg["env_kwargs"]["size"]
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "env_kwargs": {**cfg["env_kwargs"],
                                                                            "size": board + 2}}))
    argv = ["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load checkpoint") and "note:" not in err, err
    # Put back, the resume goes on, and says them.
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert scripts.train_ppo.main(argv) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: ")]
    assert [line.split(",")[0] for line in notes] == [f"note: {key} follows the new --total-timesteps"
                                                      for key in ("save_every", "video_every")]


@pytest.mark.parametrize("edit, message", [
    ({"env": "nope"}, "names env 'nope', which this depthfirst does not know"),
    ({"env": ["snake"]}, "names env ['snake']"),
    ({"recurrent": "yes"}, "sets recurrent: 'yes'; write true or false"),
    ({"env_kwargs": {"size": "ten"}}, "env_kwargs {'size': 'ten'} that snake refuses"),
    ({"env_kwargs": {"size": 3}}, "snake size must be between 4 and 32"),
])
def test_a_hand_edited_config_is_named_not_a_traceback(trained, scripts, tmp_path, capsys, edit, message):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, **edit}))
    assert scripts.evaluate.main([str(run), "--episodes", "1", "--no-video"]) == 2
    assert message in capsys.readouterr().err


def test_evaluate_random_baseline_on_the_same_seeds(trained, scripts, capsys):
    assert scripts.evaluate.main([str(trained), "--episodes", "20", "--random", "--json", "--no-video"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["checkpoint"] == "random" and first["episodes"] == 20
    assert json.loads((trained / "eval-random.json").read_text()) == first
    assert scripts.evaluate.main([str(trained), "--episodes", "20", "--random", "--json", "--no-video",
                                  "--seed", "7"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_length"] != first["mean_length"]  # seeded, not fixed
    assert scripts.evaluate.main([str(trained), "--episodes", "1", "--random", "--no-video"]) == 0
    assert "snake random agent, 1 episode: mean score" in capsys.readouterr().out  # it said "1 episodes"


def test_the_filmed_episode_is_the_best_one(trained, scripts, tmp_path, capsys):
    from agents.evaluation import RandomPolicy, best_episode, eval_kwargs, replay_frames, run_episodes

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    assert scripts.evaluate.main([str(run), "--episodes", "8", "--random", "--json", "--seed", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    kwargs = eval_kwargs(yaml.safe_load((run / "config.yaml").read_text())["env_kwargs"])
    episodes = run_episodes(RandomPolicy(3), "snake", kwargs, 8, seed=3)
    best = best_episode(episodes)
    assert best.seed != episodes[0].seed  # these seeds tell the best episode from the first
    assert result["best_episode_seed"] == best.seed and result["max_score"] == best.score
    assert result["video_steps"] == best.length
    last = replay_frames("snake", kwargs, best.seed, best.actions, last=0)[-1]
    frame = imageio.mimread(result["video"], memtest=False)[-1]
    assert frame.shape == last.shape and np.abs(frame.astype(int) - last).mean() < 3  # H.264 is lossy


def test_existing_run_dir_is_never_overwritten(trained, scripts, capsys):
    before = (trained / "model.zip").stat().st_mtime_ns
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(trained), *REFUSED]) == 2
    assert "--force" in capsys.readouterr().err
    assert (trained / "model.zip").stat().st_mtime_ns == before


def test_resume_errors_are_clear_and_harmless(scripts, tmp_path, capsys):
    assert scripts.train_ppo.main(["--resume", str(tmp_path / "nope")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "model.zip").write_bytes(b"x")
    assert scripts.train_ppo.main(["--resume", str(tmp_path / "model.zip")]) == 2
    assert f"is a file; give the run folder ({tmp_path})" in capsys.readouterr().err
    utf16 = tmp_path / "utf16"
    utf16.mkdir()
    (utf16 / "config.yaml").write_text("env: snake\n", encoding="utf-16")  # as a Windows editor may save it
    assert scripts.train_ppo.main(["--resume", str(utf16)]) == 2
    assert f"{utf16}: config.yaml is corrupt (it must be UTF-8 YAML)" in capsys.readouterr().err
    assert scripts.evaluate.main([str(utf16)]) == 2
    assert "it must be UTF-8 YAML" in capsys.readouterr().err
    run = tmp_path / "broken"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "snake", "recurrent": False, "device": "cpu",
                                                     "policy": "tiny"}))
    (run / "checkpoints" / "step_100.zip").write_bytes(b"not a zip")
    cfg_text = (run / "config.yaml").read_text()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "step_100.zip" in err
    assert (run / "checkpoints" / "step_100.zip").read_bytes() == b"not a zip"
    assert (run / "config.yaml").read_text() == cfg_text
    # A zip that is not an SB3 model (SB3 asserts on it; a truncated checkpoint can read the same).
    with zipfile.ZipFile(run / "checkpoints" / "step_100.zip", "w") as z:
        z.writestr("notes.txt", "hello")
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert "cannot load checkpoint" in capsys.readouterr().err
    (run / "checkpoints" / "step_50.zip").write_bytes(b"older")
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert "to resume from " + str(run / "checkpoints" / "step_50.zip") in capsys.readouterr().err
    assert scripts.evaluate.main([str(run), "--checkpoint", str(run / "checkpoints" / "step_100.zip")]) == 2
    assert "cannot load checkpoint" in capsys.readouterr().err
    assert scripts.evaluate.main([str(run), "--checkpoint", str(run / "checkpoints")]) == 2
    assert "checkpoints is a folder; give a model file (.zip)" in capsys.readouterr().err


def test_a_resume_of_a_run_whose_tb_is_a_file_is_refused_before_its_game_is_built(tmp_path):
    # SB3's logger makes tb/ with exist_ok: a file there was a FileExistsError traceback, once the start
    # line was printed and config.yaml rewritten.
    from agents.runs import RunError
    from agents.train import train

    (tmp_path / "tb").write_text("x")
    with pytest.raises(RunError, match=r"its tb is not a folder \(TensorBoard's logs go there\)"):
        train({}, tmp_path, "", resume=True)  # refused first: no config is read
    # A link whose target is gone: Path.exists says False, but makedirs fails on it just the same.
    (tmp_path / "tb").unlink()
    (tmp_path / "tb").symlink_to(tmp_path / "gone")
    with pytest.raises(RunError, match="its tb is not a folder"):
        train({}, tmp_path, "", resume=True)


def test_a_damaged_model_zip_names_the_newest_checkpoint_to_play_instead(trained, scripts, tmp_path, capsys):
    # The run's model.zip is what evaluate, export and compare play: damaged, it said only "cannot load".
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "model.zip").write_bytes(b"cut short")
    assert scripts.evaluate.main([str(run), "--episodes", "1", "--no-video"]) == 2
    newest = run / "checkpoints" / "step_512.zip"
    assert f"cannot load checkpoint {run / 'model.zip'}" in (err := capsys.readouterr().err)
    assert f"the run's newest checkpoint may load: --checkpoint {newest}" in err
    (run / "checkpoints" / "step_256.zip").unlink()  # a run's only checkpoint is named too
    assert scripts.evaluate.main([str(run), "--episodes", "1", "--no-video"]) == 2
    assert f"may load: --checkpoint {newest}" in capsys.readouterr().err
    assert scripts.evaluate.main([str(run), "--episodes", "1", "--no-video", "--checkpoint", str(newest)]
                                 ) == 0


def test_resuming_a_run_killed_before_its_first_checkpoint_says_how_to_start_it_again(trained, scripts,
                                                                                      tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    shutil.rmtree(run / "checkpoints")  # as a SIGKILL before the first save leaves it
    (run / "model.zip").unlink()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint to load" in err and "stopped before its first checkpoint" in err
    assert f"plus --force --run-dir {run}, or start a new run" in err


def test_a_whole_option_given_as_a_float_is_stored_as_an_int(scripts, capsys):
    # --set env_kwargs.size=10.0 trains on size 10; config.yaml said 10.0. The flags read it as --set does.
    args = scripts.train_ppo.parser().parse_args(["--size", "10.0", "--seed", "1e3"])
    assert (args.size, args.seed) == (10, 1000) and type(args.size) is int
    with pytest.raises(SystemExit):
        scripts.train_ppo.parser().parse_args(["--size", "10.5"])
    assert "--size: must be a whole number, got 10.5" in capsys.readouterr().err
    from agents import preflight
    from agents.config import apply_set, load_config, resolve

    given = ["env_kwargs.size=10.0", "env_kwargs.starvation=50.0"]
    cfg = resolve(apply_set(load_config("snake"), given), False)
    preflight.check_game(cfg)
    assert yaml.safe_load(yaml.safe_dump(cfg["env_kwargs"])) == {"size": 10, "starvation": 50, "obs": "grid"}
    assert type(cfg["env_kwargs"]["size"]) is int
    cfg = resolve(apply_set(load_config("snake"), ["env_kwargs.size=10.5"]), False)
    with pytest.raises(ValueError, match=r"snake size must be a whole number .* got 10.5 \(change --size\)"):
        preflight.check_game(cfg)  # as from a --config file (the flag --size refuses 10.5)
    # Given by --set: the error names the --set the user typed, not the flag they did not use.
    with pytest.raises(ValueError, match=r"got 10.5 \(change --set env_kwargs.size\)"):
        preflight.check_game(cfg, {"size"})
    # YAML reads 1e1 and 1e39 as strings: "must be a finite number, got '1e39'" hid float32's bound.
    cfg = resolve(apply_set(load_config("rotation"), ["env_kwargs.step_cost=1e-2"]), False)
    preflight.check_game(cfg, {"step_cost"})
    assert cfg["env_kwargs"]["step_cost"] == 0.01
    cfg = resolve(apply_set(load_config("rotation"), ["env_kwargs.step_cost=1e39"]), False)
    with pytest.raises(ValueError, match=r"step_cost must be within float32's .* \(change --set env_kwargs"):
        preflight.check_game(cfg, {"step_cost"})


def test_the_memory_check_counts_the_buffers_that_live_in_ram(monkeypatch):
    from agents import preflight
    from agents.policies import activation_bytes

    rollout, update = activation_bytes("tiny", "snake", (1, 10, 10))
    cfg = {"num_envs": 10, "ppo": {"n_steps": 8, "batch_size": 2}, "recurrent": False, "device": "cpu",
           "policy": "tiny", "env": "snake"}
    fit = 10 * (3 * 100 + 8 * (100 + 32)) + 10 * rollout  # step buffers, rollout buffer, the rollout's pass
    monkeypatch.setattr(preflight, "memory_bytes", lambda: fit)
    preflight.check_memory(cfg, (1, 10, 10))
    with pytest.raises(ValueError, match=r"use a smaller --num-envs or --policy"):  # the network's the most
        preflight.check_memory({**cfg, "num_envs": 11}, (1, 10, 10))
    monkeypatch.setattr(preflight, "memory_bytes", lambda: fit - 10 * rollout)
    cuda = {**cfg, "device": "cuda"}  # on a GPU neither the rollout buffer nor the network is in RAM
    preflight.check_memory({**cuda, "num_envs": 20}, (1, 10, 10))
    with pytest.raises(ValueError, match=r"the step buffers of --num-envs 50 boards"):
        preflight.check_memory({**cuda, "num_envs": 50}, (1, 10, 10))
    with pytest.raises(ValueError, match=r"ppo\.n_steps"):  # RecurrentPPO keeps its buffer on the host
        preflight.check_memory({**cuda, "recurrent": True}, (1, 10, 10))
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 10 * 10**6)  # the buffers the most
    with pytest.raises(ValueError, match=r"use a smaller --num-envs or --set ppo\.n_steps$"):
        preflight.check_memory({**cfg, "ppo": {"n_steps": 10**4, "batch_size": 2}}, (1, 10, 10))
    with pytest.raises(ValueError, match=r"the network's update step over ppo\.batch_size 1,000 observations "
                                         rf"\({update:,} bytes each, before its gradients\).* use a smaller "
                                         r"--set ppo\.batch_size or --policy"):
        preflight.check_memory({**cfg, "ppo": {"n_steps": 8, "batch_size": 1000}}, (1, 10, 10))
    # ppo.batch_size auto (Snake's), which --num-envs sizes too: 100,000 boards, the first update 31.8 GiB.
    with pytest.raises(ValueError, match=r"use a smaller --set ppo\.batch_size \(auto: ppo\.n_steps × "
                                         r"--num-envs / 8\), --num-envs or --policy$"):
        preflight.check_memory({**cfg, "ppo": {"n_steps": 8000, "batch_size": 10_000}}, (1, 10, 10))
    monkeypatch.setattr(preflight, "memory_bytes", lambda: None)  # the system cannot say
    preflight.check_memory({**cfg, "num_envs": 10**12}, (1, 10, 10))


def _allocated_peak(fn, trace: Path) -> int:
    """The most bytes torch's own allocator held at once while ``fn`` ran, from its profiler's trace."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    prof.export_chrome_trace(str(trace))
    held = peak = 0
    for event in json.loads(trace.read_text())["traceEvents"]:
        if event.get("name") == "[memory]":
            held += event["args"]["Bytes"]
            peak = max(peak, held)
    return peak


# Snake's cell grid, its rendered pixels (strided convolutions, channels-last input) and Rotation's two panels
# (folded into channels, a copy).
OBSERVATIONS = [("snake", (4, 10, 10)), ("snake", (3, 40, 40)), ("rotation", (3, 24, 48))]


@pytest.mark.parametrize("env, obs", OBSERVATIONS)
@pytest.mark.parametrize("preset", list(PRESETS))
def test_the_network_bytes_the_memory_check_counts_are_held_by_the_real_passes(preset, env, obs, tmp_path):
    # An update keeps what autograd saves for the backward pass (the parameters apart: exactly the trunk's)
    # beside the input the caller holds; a rollout step holds at least the figure torch's allocator shows.
    import torch

    from agents.policies import activation_bytes, policy_kwargs

    kwargs = policy_kwargs(preset, env)
    net = kwargs["features_extractor_class"](gymnasium.spaces.Box(0, 255, obs, np.uint8),
                                             **kwargs["features_extractor_kwargs"])
    params = {p.untyped_storage().data_ptr() for p in net.parameters()}
    rollout, update = activation_bytes(preset, env, obs)
    x = torch.rand(8, *obs)
    saved = {x.untyped_storage().data_ptr(): x.nbytes}

    def pack(t):
        if t.untyped_storage().data_ptr() not in params:
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        net(x).sum().backward()
    assert 8 * update == sum(saved.values()), (update, saved)
    # A rollout step over 40 boards: torch's allocator held at least the figure, beside the input, made
    # before the pass. It holds more: what a pass allocates whatever its size (weights in oneDNN's layout),
    # and in the default layout the convolutions' working copies (on this AMD EPYC up to 25,600 bytes a
    # board on Snake's grid), torch's working memory, which the count leaves out.
    boards = torch.rand(40, *obs)
    with torch.no_grad():
        peak = _allocated_peak(lambda: net(boards), tmp_path / "trace.json")
    assert 40 * rollout <= peak + boards.nbytes, (rollout, peak)


def test_the_network_bytes_the_memory_check_counts_by_hand():
    # tiny (16, 32 channels, 128 features): on Snake's grid (never channels-last: under 64 channels) and on
    # its 40×40 pixels (stride 2 to 10×10, channels-last: a copy of the input held through the pass).
    from agents.policies import activation_bytes

    grid, cells = 4 * 100 * 4, 100 * 4  # the float input; one channel's map
    # Rollout: the input beside the second ReLU's input and output; update: the input (the first
    # convolution's) and each ReLU's output, the flattened map being a view of the last.
    assert activation_bytes("tiny", "snake", (4, 10, 10)) == (grid + 2 * 32 * cells,
                                                              grid + 16 * cells + 32 * cells + 128 * 4)
    pixels = 3 * 1600 * 4
    # Rollout: the input and its channels-last copy beside the first ReLU's input and output (16 × 20 × 20);
    # update: the input, its copy (the first convolution's), each ReLU's output and the flattened map, a copy
    # in the default layout of the channels-last one (the dense layer's input).
    assert activation_bytes("tiny", "snake", (3, 40, 40)) == (2 * pixels + 2 * 16 * 4 * cells,
                                                              2 * pixels + 16 * 4 * cells + 32 * cells
                                                              + 32 * cells + 128 * 4)


def test_the_memory_check_counts_a_recurrent_runs_lstm_states_as_its_buffer_holds_them(monkeypatch):
    # sb3-contrib's RecurrentRolloutBuffer keeps four float32 LSTM states of 256 a board each step, ten times
    # a Snake observation, which the check did not count: a --recurrent run it passed could fill the RAM as
    # its first rollout wrote them (NumPy's zeros are mapped as they are written).
    import torch

    from agents import preflight
    from agents.config import load_config, resolve
    from agents.train import build_model
    from envs import make_vec

    for recurrent in (False, True):
        cfg = resolve(load_config("snake"), False)
        cfg.update(recurrent=recurrent, num_envs=4, policy="tiny")
        cfg["ppo"].update(n_steps=8, batch_size=32)
        with contextlib.closing(make_vec("snake", 4, num_workers=0, seed=0)) as venv:
            buffer = build_model(cfg, venv).rollout_buffer
            per_board = int(np.prod(venv.observation_space.shape))
        held = sum(v.nbytes for v in vars(buffer).values()
                   if isinstance(v, np.ndarray | torch.Tensor) and v.shape[:1] == (8,))
        lstm = preflight.lstm_state_bytes() if recurrent else 0
        assert held == 8 * 4 * (per_board + preflight.STEP_SCALARS + lstm)
    assert preflight.lstm_state_bytes() == 4 * 256 * 4
    from agents.policies import activation_bytes

    cfg = {"num_envs": 10, "ppo": {"n_steps": 8, "batch_size": 2}, "recurrent": False, "device": "cpu",
           "policy": "tiny", "env": "snake"}
    rollout = activation_bytes("tiny", "snake", (1, 10, 10))[0]
    monkeypatch.setattr(preflight, "memory_bytes", lambda: 10 * (3 * 100 + 8 * 132) + 10 * rollout)
    preflight.check_memory(cfg, (1, 10, 10))
    # On a GPU, where the network's passes are not in RAM, the buffer still is.
    with pytest.raises(ValueError, match=r"steps of 4,228 bytes \(the rollout buffer: an observation of 100, "
                                         r"4,096 of LSTM state, and the action, reward and value\)"):
        preflight.check_memory({**cfg, "recurrent": True, "device": "cuda"}, (1, 10, 10))


def test_a_cuda_run_resumed_on_the_cpu_gets_the_memory_check(trained, scripts, tmp_path, monkeypatch, capsys):
    # A new run whose rollout buffer cannot fit in RAM is refused up front; a CUDA run resumed with
    # --device cpu (its rollout buffer then in RAM) was not checked.
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**cfg, "device": "cuda"}))  # as trained on a GPU
    before = {f.relative_to(run): f.read_bytes() for f in run.rglob("*") if f.is_file()}
    from agents import preflight
    from envs import make_game

    per_board = int(np.prod(make_game("snake", 1, **cfg["env_kwargs"]).observation_space.shape))
    assert cfg["ppo"]["n_steps"] > 10
    # The step buffers (3 observations a board) fit, the rollout buffer in RAM does not.
    monkeypatch.setattr(preflight, "memory_bytes", lambda: per_board * cfg["num_envs"] * 10)
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the run does not fit in memory; use --device cuda" in err and "GiB" in err, err
    assert {f.relative_to(run): f.read_bytes() for f in run.rglob("*") if f.is_file()} == before


def test_the_per_game_flags_offer_the_games_own_values(scripts, monkeypatch):
    import envs.choices
    from envs import make_game
    from envs.gameboy.generic import GAMES as WRAPPED

    choices = {a.dest: a.choices for a in scripts.train_ppo.parser()._actions}
    assert list(choices["game"]) == list(WRAPPED)
    for env, option in (("snake", "obs"), ("snake_duel", "opponent"), ("sokoban", "difficulty")):
        for value in choices[option]:
            make_game(env, **{option: value}).close()
    # A level preset added to the games' table is one --difficulty offers (the flag listed its own copy).
    monkeypatch.setitem(envs.choices.SOKOBAN_DIFFICULTIES, "expert", (12, (4, 5), 300))
    assert scripts.train_ppo.parser().parse_args(["--difficulty", "expert"]).difficulty == "expert"
    expert = make_game("sokoban", difficulty="expert")
    assert expert.size == 12
    expert.close()
    # --help lists them without importing the games' Numba or PyBoy (nor torch).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "scripts" / "train_ppo.py"),
                           "--help"], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()}
    assert not imported & {"numba", "pyboy", "torch", "stable_baselines3"}, imported


def test_an_error_names_entries_only_of_a_mapping_option():
    from agents.preflight import flags_named as named

    assert named("reward.badge must be a finite number", "reward", {"badge": "x"}) == [
        "--set env_kwargs.reward.badge"]
    # A dotted file name in a path option is no entry: the flag is the option's own.
    assert named("--state /runs/pallet.state.bak cannot be loaded", "state", "/runs/pallet.state.bak") == [
        "--state"]


@pytest.mark.parametrize("argv, message", [
    (["--env", "tetris3d"], "known envs: "),
    (["--env", "snake", "--num-envs", "0"], "--num-envs"),
    (["--env", "snake", "--policy", "huge"], "--policy"),
    (["--env", "snake", "--set", "ppo.lr=1"], "ppo: unknown settings ['lr'] (from --set ppo.KEY"),
    (["--env", "snake", "--device", "foo"], "--device"),
    (["--env", "snake", "--seed", "-1"], "--seed"),
    (["--env", "snake", "--num-envs", "1.5"], "--num-envs"),
    # (The preset's batch_size is auto, an eighth of the rollout: a size given is what can exceed it.)
    (["--env", "snake", "--num-envs", "4", "--set", "ppo.batch_size=1024"], "--num-envs 8 or more"),
    (["--env", "snake", "--set", "total_timesteps=abc"], "--total-timesteps must be a whole number"),
    (["--env", "snake", "--set", "ppo.n_steps=0"], "ppo.n_steps must be >= 1"),
    (["--env", "snake", "--set", "ppo.learning_rate=-1"], "ppo.learning_rate must be > 0"),
    (["--env", "snake", "--set", "ppo.vf_coef=.nan"], "ppo.vf_coef must be a finite number"),
    (["--env", "snake", "--set", "ppo.max_grad_norm=.inf"],
     "ppo.max_grad_norm must be a finite number"),
    (["--env", "snake", "--set", "ppo.ent_coef=-0.1"], "ppo.ent_coef must be >= 0"),
    (["--env", "snake", "--set", "ppo.target_kl=-1"], "ppo.target_kl must be a number > 0"),
    (["--env", "snake", "--set", 'ppo.normalize_advantage="no"'], "must be true or false"),
    (["--env", "snake", "--set", "ppo.clip_range_vf=abc"],
     "ppo.clip_range_vf must be a number > 0"),
    (["--env", "snake", "--set", "ppo.stats_window_size=abc"],
     "stats_window_size must be a whole number"),
    (["--env", "snake", "--set", "ppo.stats_window_size=0"], "ppo.stats_window_size must be >= 1"),
    (["--env", "snake", "--set", "ppo.sde_sample_freq=-2"], "ppo.sde_sample_freq must be >= -1"),
    (["--env", "snake", "--set", "ppo.use_sde=maybe"], "ppo.use_sde must be true or false"),
    # Refused from the buffers' size, before any is allocated (the shared step buffers' own refusal, or
    # minutes of filling memory that ended in a bus error with --num-envs 1e8 --set ppo.n_steps=1).
    (["--env", "snake", "--num-envs", "1e12"], "GiB of memory, more than this machine has"),
    (["--env", "snake", "--num-envs", "1e10", "--set", "ppo.n_steps=1", "--set", "ppo.batch_size=64",
      "--device", "cpu"], "steps of 432 bytes (the rollout buffer: an observation of 400, and the action, "
     "reward and value), with the step buffers and the games' state (995 bytes a board), and the network's "
     "rollout step, which passes all 10,000,000,000 boards through the tiny policy at once (27,200 bytes a "
     "board), need at least 277,785.6 GiB of memory"),
    (["--env", "snake", "--size", "3"], "(change --size)"),
    # The option as the user gave it: --set named as --set, not as the flag --size they did not type.
    (["--env", "snake", "--set", "env_kwargs.size=10.5"], "got 10.5 (change --set env_kwargs.size)"),
    (["--env", "rotation", "--set", "env_kwargs.size=8"], "--set env_kwargs.size does not apply to --env"),
    # A mistyped option is named with the game's own: --help, which the message pointed to, lists no
    # Rotation option (min_cubes, view_size, ...), so the user had nothing to correct it from.
    (["--env", "rotation", "--set", "env_kwargs.max_cube=4"], "--set env_kwargs.max_cube does not apply to "
     "--env rotation (rotation's options: max_cubes, max_steps, max_turns, min_cubes, min_turns, "
     "progress_reward, step_cost, view_size)"),
    # Arguments of the game's __init__ but no options: they passed and failed with Python's wording.
    (["--env", "snake", "--set", "env_kwargs.num_envs=4"], "env_kwargs.num_envs does not apply"),
    (["--env", "snake", "--set", "env_kwargs.self=4"], "--set env_kwargs.self does not apply to --env"),
    (["--env", "snake", "--set", "ppo.n_steps=1e12"], "does not fit in memory"),
    (["--env", "rotation", "--set", "env_kwargs.max_cubes=9"], "got 9 (change --set env_kwargs.max_cubes)"),
    # Every start is at least min_turns quarter turns away: episodes of fewer steps were never solved.
    (["--env", "rotation", "--set", "env_kwargs.max_steps=2", "--set", "env_kwargs.min_turns=3"],
     "max_steps (2) is less than min_turns (3)"),
    (["--env", "snake", "--set", "policy=huge"], "--policy"),
    (["--env", "snake", "--set", "policy=[1]"], "--policy: unknown preset [1]"),  # a TypeError traceback
    # The preset --policy auto takes on this machine comes from cpu_policy or cuda_policy: that key is named.
    (["--env", "snake", "--device", "cpu", "--set", "cpu_policy=huge"], "--set cpu_policy: unknown preset"),
    # Unused on a CPU, yet stored in the run's config.yaml: a typo there was kept without a word.
    (["--env", "snake", "--device", "cpu", "--set", "cuda_policy=huge"],
     "--set cuda_policy: unknown preset 'huge'"),
    (["--env", "snake", "--set", "cpu_policy=[tiny]", "--policy", "tiny"],  # --policy given
     "--set cpu_policy: unknown preset ['tiny']"),
    (["--env", "snake_duel", "--difficulty", "hard"], "--difficulty does not apply to --env snake_duel"),
    # Named before the Game Boy game looks for its (here missing) ROM.
    (["--env", "pokemon_red", "--game", "tetris"], "--game does not apply to --env pokemon_red"),
    (["--env", "gameboy", "--swarm"], "--swarm does not apply to --env gameboy"),
    (["--env", "snake_duel", "--opponent", "policy", "--num-workers", "2"], "use --num-workers 0"),
    (["--env", "snake_duel", "--opponent", "policy", "--num-workers", "1"], "use --num-workers 0"),  # one too
    (["--env", "snake", "--set", "ppo.batch_size=1"], "ppo.batch_size must be >= 2"),
    (["--env", "snake_duel", "--opponent", "policy", "--recurrent"], "drop --recurrent"),
    # 5 × 5 = 3 × 8 + 1: RecurrentPPO normalised the last one-sample minibatch's advantage to NaN.
    (["--env", "snake", "--recurrent", "--num-envs", "5", "--set", "ppo.n_steps=5", "--set",
      "ppo.batch_size=8", "--total-timesteps", "50", "--policy", "tiny", "--no-progress", "--size", "6"],
     "leaves a last minibatch of 1 sample"),
    (["--env", "snake_duel", "--opponent", "policy", "--set", "self_play.snapshot_every=0"],
     "self_play.snapshot_every must be >= 1"),
    (["--env", "snake_duel", "--opponent", "policy", "--set", "self_play.pool_sise=8"],
     "self_play: unknown settings ['pool_sise'] (from --set self_play.KEY or the config file); "
     "known: ['pool_size', 'snapshot_every']"),
    (["--env", "snake", "--set", "video_max_steps=abc"], "video_max_steps must be a whole number"),
    # A space for the =: argparse said only "unrecognized arguments: 1e-4".
    (["--env", "snake", "--set", "ppo.learning_rate", "1e-4"],
     "argument --set: expects KEY=VALUE (e.g. ppo.learning_rate=1e-4), got 'ppo.learning_rate'"),
    # A key of spaces was "unknown key ' '", a name with spaces after it "not one of its options".
    (["--env", "snake", "--set", " =3"], "argument --set: ' =3': no KEY before the =; give KEY=VALUE"),
    (["--env", "snake", "--set", "ppo. =3"], "argument --set: 'ppo. =3': an empty name in KEY 'ppo. '"),
    (["--env", "snake", "--set", "recurrent=maybe"], "recurrent must be true or false"),
    (["--env", "snake", "--set", "ppo=1"], "--set ppo: a section"),
    (["--env", "snake", "--set", "env_kwargs=5"], "--set env_kwargs: a section"),
    (["--env", "snake", "--set", "env=sokoban"], "choose the game with --env"),
    (["--env", "snake", "--device", "xpu"], "--device xpu: not available"),
    # One value given twice: --set beat --total-timesteps and --size beat --set, the other dropped silently.
    (["--env", "snake", "--total-timesteps", "5000", "--set", "total_timesteps=9000"],
     "--total-timesteps and --set total_timesteps=9000 set the same value; give one of them"),
    (["--env", "snake", "--size", "12", "--set", "env_kwargs.size=8"],
     "--size and --set env_kwargs.size=8 set the same value"),
    # A key --set reads with spaces around its names (set_item) is the same value too.
    (["--env", "snake", "--size", "12", "--set", "env_kwargs . size = 8"],
     "--size and --set env_kwargs . size = 8 set the same value"),
    # An entry of a mapping option is named by its own --set key, not the whole mapping's.
    (["--env", "pokemon_red", "--set", "env_kwargs.reward.badge=.nan"],
     "(change --set env_kwargs.reward.badge)"),
    (["--env", "pokemon_red", "--set", "env_kwargs.reward.bdge=1"],
     "unknown reward terms reward.bdge; known terms: explore, new_map, event, badge, level, heal, still "
     "(change --set env_kwargs.reward.bdge)"),
])
def test_bad_input_names_the_flag(scripts, argv, message, capsys, tmp_path, monkeypatch):
    def accepted(*args, **kwargs):
        raise AssertionError("accepted: training started")

    # Should a refusal regress, the test fails here at once, not after the preset's millions of steps
    # (a dropped self-play + --recurrent refusal trained past pytest-timeout's limit under mutation).
    monkeypatch.setattr("agents.train.train", accepted)
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        rc = scripts.train_ppo.main([*argv, "--run-dir", str(run)])
        raise SystemExit(rc)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not run.exists()  # refused before a run folder was made


def test_a_run_folder_under_a_file_is_refused(scripts, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    run = tmp_path / "notes.txt" / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *REFUSED]) == 2
    assert "notes.txt is not a folder; choose another place" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_flags_and_set_win_over_a_config_file_which_wins_over_the_preset(scripts, tmp_path):
    # The README's order: configs/<env>.yaml < --config < flags and --set.
    from agents.config import load_config

    own = tmp_path / "mine.yaml"
    own.write_text("env: snake\nseed: 5\nsave_every: 100000\nvideo_every: 100000\n"
                   "ppo: {learning_rate: 1.0e-4, gamma: 0.9}\n")
    run = tmp_path / "run"
    argv = ["--config", str(own), "--seed", "7", "--total-timesteps", "256", "--run-dir", str(run), *TINY,
            "--set", "ppo.gamma=0.8"]
    assert scripts.train_ppo.main(argv) == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert (cfg["seed"], cfg["num_envs"], cfg["total_timesteps"]) == (7, 8, 256)  # flags over the file
    assert (cfg["save_every"], cfg["video_every"], cfg["ppo"]["learning_rate"]) == (100000, 100000, 1e-4)
    assert cfg["ppo"]["gamma"] == 0.8 and cfg["ppo"]["n_steps"] == 32  # --set over the file
    assert cfg["ppo"]["clip_range"] == load_config("snake")["ppo"]["clip_range"]  # the preset under both


def test_config_file_layers_over_the_env_preset(scripts, tmp_path, capsys):
    from agents.config import load_config

    own = tmp_path / "mine.yaml"
    own.write_text("env: sokoban\nppo: {learning_rate: 1.0e-4}\n")
    cfg = load_config(None, own)  # the game comes from the file; the rest of sokoban's preset stays
    preset = load_config("sokoban")
    assert cfg["env"] == "sokoban" and cfg["ppo"]["learning_rate"] == 1e-4
    assert cfg["env_kwargs"] == preset["env_kwargs"] and cfg["total_timesteps"] == preset["total_timesteps"]
    assert cfg["ppo"]["batch_size"] == preset["ppo"]["batch_size"]
    # Should a refusal regress, a tiny run into tmp_path fails the folder check below, where the
    # preset's budget into ./runs looked like a hung suite.
    never_train = ["--total-timesteps", "64", "--run-dir", str(tmp_path / "trained")]
    listed = tmp_path / "listed.yaml"
    listed.write_text("env: [snake]\n")  # a TypeError traceback (unhashable) with the game left out
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(scripts.train_ppo.main(["--config", str(listed), *never_train, *TINY]))
    assert exc.value.code == 2 and "env must be a game's name, got ['snake']" in capsys.readouterr().err
    listed.unlink()
    bad = {"broken.yaml": "ppo: [1, 2", "typo.yaml": "ppo: {lr: 0.1}\n", "value.yaml": "save_every: -5\n"}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    cases = {own: "is for env 'sokoban', not --env snake", tmp_path / "broken.yaml": "is not valid YAML",
             tmp_path / "typo.yaml": "unknown settings ['lr']", tmp_path: "is a folder",
             tmp_path / "value.yaml": f"-5 (a value in --config {tmp_path / 'value.yaml'} counts as"}
    argvs = [(["--config", str(file)], message) for file, message in cases.items()]
    for argv, message in [*argvs, (["--run-dir", ""], "argument --run-dir: is empty"),
                                   (["--resume", " "], "argument --resume: is empty")]:
        with pytest.raises(SystemExit) as exc:
            raise SystemExit(scripts.train_ppo.main(["--env", "snake", *never_train, *argv, *TINY]))
        assert exc.value.code == 2 and message in capsys.readouterr().err, message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.yaml", "mine.yaml", "typo.yaml",
                                                          "value.yaml"]


def test_an_unknown_env_in_a_config_file_is_refused_before_a_preset_path_is_made(scripts, tmp_path,
                                                                                monkeypatch, capsys):
    # env: ../x read configs/../x.yaml (here a file that is no preset) before the env was refused.
    import agents.config

    monkeypatch.setattr(agents.config, "CONFIG_DIR", tmp_path / "configs")
    (tmp_path / "configs").mkdir()
    (tmp_path / "x.yaml").write_text("not_a_setting: 1\n")
    own = tmp_path / "mine.yaml"
    own.write_text("env: ../x\n")
    assert scripts.train_ppo.main(["--config", str(own), *TINY]) == 2
    err = capsys.readouterr().err
    assert f"--config {own}: unknown env '../x'; known envs: gameboy," in err and "not_a_setting" not in err
    with pytest.raises(ValueError, match=r"unknown env '\.\./x'"):
        agents.config.load_config("../x")


def test_force_puts_the_old_run_back_when_the_new_one_fails_to_start(trained, scripts, tmp_path, capsys,
                                                                     monkeypatch):
    import agents.train

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    argv = ["--env", "snake", "--run-dir", str(run), "--force"]
    # Refused before any move.
    assert scripts.train_ppo.main([*argv, *REFUSED, "--set", "ppo.batch_size=1"]) == 2
    assert "ppo.batch_size must be >= 2" in capsys.readouterr().err

    def refused(*args, **kwargs):
        raise AssertionError("a setting SB3 asserts on")

    monkeypatch.setattr(agents.train, "build_model", refused)
    assert scripts.train_ppo.main([*argv, *TINY]) == 2
    assert "PPO refused the settings: a setting SB3 asserts on" in capsys.readouterr().err
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before and [p.name for p in tmp_path.iterdir()] == ["run"]  # back, nothing aside
    monkeypatch.undo()
    assert scripts.train_ppo.main([*argv, *TINY, "--total-timesteps", "256"]) == 0  # replaced once it trained
    assert [p.name for p in tmp_path.iterdir()] == ["run"] and (run / "model.zip").read_bytes() != before[
        Path("model.zip")]


def test_force_puts_the_old_run_back_when_the_new_one_fails_after_a_checkpoint(trained, scripts, tmp_path,
                                                                             capsys, monkeypatch):
    from stable_baselines3 import PPO

    from agents.runs import save_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}

    def diverged(self, *args, **kwargs):  # a periodic checkpoint is saved, then training fails
        save_checkpoint(self, run)
        raise ValueError("Expected parameter logits to satisfy the constraint Real(), but found nan")

    monkeypatch.setattr(PPO, "train", diverged)
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), "--force", *TINY]) == 2
    err = capsys.readouterr().err
    assert "holds the old run again" in err
    # The start line said "until the new one has saved a model", which this one had done.
    assert "until the new one finishes or stops with a checkpoint and its --resume command" in err  # 0e9ffaa7
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before and [p.name for p in tmp_path.iterdir()] == ["run"]
    # Ctrl-C while the failed run is being deleted (a big one takes seconds): the old run still comes back.
    rmtree = shutil.rmtree

    def interrupted_rmtree(path, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", interrupted_rmtree)
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), "--force", *TINY]) == 2
    assert "holds the old run again" in capsys.readouterr().err
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == before and [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize("save", ["saved", "refused", "refused_after_a_checkpoint", "model_zip_refused"])
def test_force_keeps_the_new_run_once_it_stopped_with_a_checkpoint_to_resume(trained, scripts, tmp_path,
                                                                            monkeypatch, capsys, save):
    """A --force run stopped by an env failure (here a worker dead again after its restart) saved a
    checkpoint and printed its --resume command, then had the old run put back over it: the checkpoint it
    named was deleted, and the command continued the old run. As on Ctrl-C, a new run with a checkpoint
    to resume from is kept; one with none puts the old run back and gives no --resume advice."""
    import agents.train
    from agents.callbacks import StopCallback
    from agents.runs import CheckpointNotWritten, save_model
    from envs.vector import WorkerDiedError

    def dying(self):
        if self.model.num_timesteps >= 512:
            raise WorkerDiedError("worker 0 (pid 1, envs 0-7) died with exit code -9 right after a restart")
        return True

    def refused(model, run, keep):
        if save == "model_zip_refused":  # the checkpoint written, then the disk full: no model.zip
            save_model(model, run / "checkpoints" / f"step_{model.num_timesteps}.zip")
        raise CheckpointNotWritten("disk full")

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    monkeypatch.setattr(StopCallback, "_on_step", dying)
    if save != "saved":  # the save as training stops (periodic ones, at 256 here, are the callback's)
        monkeypatch.setattr(agents.train, "save_checkpoint", refused)
    every = "256" if save == "refused_after_a_checkpoint" else "100000"
    argv = ["--env", "snake", "--total-timesteps", "2048", "--save-every", every, "--run-dir", str(run),
            "--force", *TINY]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # nothing left aside
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    if save == "refused":  # nothing to resume: the old run is back, and no --resume is advised
        # --force's start note (on stderr since 0e9ffaa7) names "its --resume command": no line after it
        advice = err.split("its --resume command", 1)[-1]
        assert "holds the old run again" in err and "--resume" not in advice, err
        assert "no checkpoint to continue from" in err, err
        assert after == before
        return
    assert "holds the old run again" not in err, err
    newest = "step_256.zip" if save == "refused_after_a_checkpoint" else "step_512.zip"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [newest]  # the new run's only
    assert f"--resume {run}" in err and after != before
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 0
    assert f"from {newest} at step {newest[5:8]}" in capsys.readouterr().out


@pytest.mark.parametrize("when", ["periodic", "interrupted", "final"])
def test_a_checkpoint_the_disk_refuses_stops_the_run_resumable_from_its_newest(trained, scripts, tmp_path,
                                                                             monkeypatch, capsys, when):
    """A full disk refusing a periodic checkpoint, the one saved on Ctrl-C or the final one ended the run
    with only "error: FILE could not be written" (no --resume, and a Ctrl-C not mentioned), and under
    --force put the old run back over the new one, deleting the checkpoint it could have continued from. As
    for a milestones.json the disk refuses: the run stops, naming the --resume of its newest checkpoint."""
    import errno

    from stable_baselines3 import PPO

    from agents.callbacks import StopCallback

    step, newest = {"periodic": (512, 256), "interrupted": (400, 256), "final": (768, 512)}[when]
    save = PPO.save

    def disk_full_past_newest(self, path, *args, **kwargs):
        if self.num_timesteps > newest:
            raise OSError(errno.ENOSPC, "No space left on device")
        save(self, path, *args, **kwargs)

    on_step = StopCallback._on_step

    def interrupt_at_400(self):
        if self.model.num_timesteps == 400:
            os.kill(os.getpid(), signal.SIGINT)
        return on_step(self)  # the rollout's stop point, where training takes it

    monkeypatch.setattr(PPO, "save", disk_full_past_newest)
    if when == "interrupted":
        monkeypatch.setattr(StopCallback, "_on_step", interrupt_at_400)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    every = "512" if when == "final" else "256"  # final: saved at 512, refused at 768
    argv = ["--env", "snake", "--total-timesteps", "768", "--save-every", every, "--run-dir", str(run),
            "--force", *TINY]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    stop = "interrupted" if when == "interrupted" else "training stopped"
    assert (f"error: {stop} at step {step}: {run / 'checkpoints' / f'step_{step}.zip'} could not be written "
            "(No space left on device); any file there before is unchanged; continue from its newest "
            f"checkpoint with: {PYTHON} scripts/train_ppo.py --resume {run}") in err, err
    assert "holds the old run again" not in err and "Traceback" not in err, err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [f"step_{newest}.zip"]  # the new run's
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0
    assert f"from step_{newest}.zip at step {newest}" in capsys.readouterr().out


def test_a_stop_while_a_crashed_run_closes_its_envs_keeps_the_crash(trained, scripts, tmp_path, monkeypatch,
                                                                    capsys):
    """A Ctrl-C while a run that crashed closed its envs (seconds with Game Boy workers, which a user may
    take for a hang) replaced the crash: "interrupted; the model is saved", status 130, no traceback, and
    under --force the old run put back just after saying the (new) model was saved."""
    from agents.callbacks import StopCallback
    from envs.vector import GameVecEnv

    def crashing(self):
        if self.model.num_timesteps >= 512:
            raise RuntimeError("a bug")
        return True

    monkeypatch.setattr(StopCallback, "_on_step", crashing)
    monkeypatch.setattr(GameVecEnv, "close", stop_before(GameVecEnv.close, 0.2))
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError, match="a bug"):
        scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "2048", "--save-every", "256",
                                "--run-dir", str(run), "--force", *TINY])
    err = capsys.readouterr().err
    assert "interrupted" not in err and "holds the old run again" in err, err
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def _worker_died() -> Exception:
    from envs.vector import WorkerDiedError

    return WorkerDiedError("worker 0 (pid 1, envs 0-7) died with exit code -9 right after a restart")


def _stop_at_512_with_saves_refused(monkeypatch, error) -> None:
    """Training stops on ``error()`` at step 512 (a failure it handles), and the disk refuses every
    checkpoint (full)."""
    import agents.train
    from agents.callbacks import StopCallback
    from agents.runs import CheckpointNotWritten

    def failing(self):
        if self.model.num_timesteps >= 512:
            raise error()
        return True

    def refused(model, run, keep):
        raise CheckpointNotWritten("disk full")

    monkeypatch.setattr(StopCallback, "_on_step", failing)
    monkeypatch.setattr(agents.train, "save_checkpoint", refused)


@pytest.mark.parametrize("case", ["model_zip_only", "archive_nothing_saved"])
def test_a_stopped_run_names_its_resume_only_with_a_model_to_resume_from(trained, scripts, tmp_path,
                                                                         monkeypatch, capsys, case):
    """A handled stop whose save was refused advises --resume when the run has a model.zip, even with no
    checkpoints/ (a --resume starts from model.zip then), and none when it has nothing: then no archive
    advice either, as no --resume will make a new archive."""
    from envs.gameboy.archive import ArchiveError

    def archive_lost() -> Exception:
        return ArchiveError(tmp_path / "archive", "its index.sqlite was deleted or moved while in use")

    _stop_at_512_with_saves_refused(monkeypatch, _worker_died if case == "model_zip_only" else archive_lost)
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    if case == "model_zip_only":
        shutil.copytree(trained, run)
        shutil.rmtree(run / "checkpoints")
        argv = ["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]
    else:
        argv = ["--env", "snake", "--total-timesteps", "2048", "--save-every", "100000", "--run-dir",
                str(run), *TINY]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    if case == "model_zip_only":
        resume = f"{PYTHON} scripts/train_ppo.py --resume {run}"
        assert f"continue from its newest checkpoint with: {resume}" in err, err
    else:  # the archive's own advice (move it aside), then no --resume
        script = str(ROOT / "scripts" / "train_ppo.py")  # the recorded command, made to start over
        again = shlex.join([sys.executable, script, *argv, "--force"])
        assert (".damaged) and start the run again, as it has no checkpoint to continue from: "
                f"cd {shlex.quote(str(tmp_path))} && {RECORDED_ENV}{again}") in err, err
        assert "archive there" not in err and "--resume" not in err, err


def test_a_run_being_trained_is_not_trained_into_by_a_second_command(trained, scripts, tmp_path, capsys):
    from agents.runs import claim_run

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    lock = claim_run(run)  # as a train_ppo.py training into it does
    try:
        for argv in (["--resume", str(run), "--total-timesteps", "2048", "--no-progress"],
                     ["--env", "snake", "--run-dir", str(run), "--force", *REFUSED]):
            assert scripts.train_ppo.main(argv) == 2
            err = capsys.readouterr().err
            # Named by its process id, which the lock holds, so the user can find its terminal.
            pid = os.getpid()
            assert f"another train_ppo.py (process {pid}) is training into this run folder" in err, err
            # Another --run-dir is no way out for a --resume, which refuses the flag.
            assert "wait for it to finish (or, for a new run, choose another --run-dir" in err
    finally:
        lock.close()
    after = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after == {**before, Path(".train.lock"): f"{os.getpid()} {socket.gethostname()}\n".encode()}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 0


def test_a_resumed_run_drops_the_temp_files_a_killed_save_left(trained, scripts, tmp_path, capsys):
    # SIGKILL while a checkpoint was written leaves its temp files, each as large as a checkpoint.
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    stale = [run / "checkpoints" / ".step_768.4242.tmp.zip", run / ".model.4242.tmp.zip",
             run / ".config.4242.tmp.yaml"]
    kept = [run / ".eval-step512.4242.tmp.json",  # an evaluation's (it may be running now), and others
            run / "checkpoints" / ".notes.4242.tmp.zip", run / "checkpoints" / "step_x.tmp.zip"]
    for f in stale + kept:
        f.write_bytes(b"half a file")
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "removed 3 temp files that a killed save left (" in err
    assert all(str(f.relative_to(run)) in err for f in stale)
    assert not any(f.exists() for f in stale) and all(f.exists() for f in kept)


def test_default_run_names_started_in_the_same_second_get_two_folders(tmp_path, monkeypatch):
    from agents import runs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20261201-100000")
    # The other command has checked the name but not made its folder yet: the name is claimed by mkdir.
    monkeypatch.setattr(runs.Path, "exists", lambda self: False)
    cfg = {"env": "snake", "policy": "tiny", "seed": 0}
    first, _, lock1 = runs.new_run_dir(cfg, None, False)
    second, _, lock2 = runs.new_run_dir(cfg, None, False)
    lock1.close()
    lock2.close()
    assert (first.name, second.name) == ("tiny-s0-20261201-100000", "tiny-s0-20261201-100000-2")


def test_a_default_run_folder_is_runs_env_policy_seed_time(tmp_path, monkeypatch):
    # README: runs/<env>/<policy>-s<seed>-<time>. Only the folder's name was checked, not where it was made.
    from agents import runs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20261202-031500")
    path, aside, lock = runs.new_run_dir({"env": "sokoban", "policy": "10m", "seed": 7}, None, False)
    lock.close()
    assert path == Path("runs/sokoban/10m-s7-20261202-031500") and path.is_dir() and aside is None
    path, _, lock = runs.new_run_dir({"env": "sokoban", "policy": "10m", "seed": 7}, None, False)
    lock.close()
    assert path == Path("runs/sokoban/10m-s7-20261202-031500-2") and path.is_dir()


def test_file_slug_makes_a_model_name_one_safe_part_of_a_file_name():
    # A VLM's model name (Qwen/Qwen2.5-VL-7B-Instruct) and a checkpoint's stem name result files; the tests'
    # names were all safe already.
    from agents.runs import file_slug

    assert file_slug("Qwen/Qwen2.5-VL-7B-Instruct", "vlm") == "Qwen-Qwen2.5-VL-7B-Instruct"
    assert file_slug(" my model (v2) ", "vlm") == "my-model-v2"
    assert file_slug("/:*?", "vlm") == "vlm" and file_slug("", "model") == "model"
    assert file_slug("x" * 100, "vlm") == "x" * 60


def test_an_output_file_that_is_a_dangling_link_counts_as_existing(tmp_path):
    # Without --force the link's target would be made, the link left pointing at the new file.
    from agents.outputs import check_output_file

    link = tmp_path / "scores.json"
    link.symlink_to(tmp_path / "gone" / "scores.json")
    with pytest.raises(ValueError, match=r"scores.json exists; pass --force to replace it"):
        check_output_file(link, "--out", False)
    (tmp_path / "gone").mkdir()
    check_output_file(link, "--out", True)


def test_claiming_a_run_removes_only_the_temp_files_its_own_writers_leave(tmp_path, capsys):
    # The resume test left out a Game Boy run's milestones temp, and had no link or folder of a temp's name.
    from agents.runs import claim_run

    (tmp_path / "checkpoints").mkdir()
    stale = [tmp_path / ".milestones.77.tmp.json", tmp_path / ".model.77.tmp.zip",
             tmp_path / ".config.77.tmp.yaml", tmp_path / "checkpoints" / ".step_64.77.tmp.zip"]
    for f in stale:
        f.write_bytes(b"half")
    target = tmp_path / "mine.zip"
    target.write_bytes(b"the user's")
    (tmp_path / ".model.78.tmp.zip").symlink_to(target)  # not a file training wrote
    (tmp_path / ".config.79.tmp.yaml").mkdir()
    kept = [tmp_path / ".model.x.tmp.zip", tmp_path / ".step_64.77.tmp.zip", tmp_path / "model.77.tmp.zip",
            tmp_path / ".milestones.77.tmp.json.bak"]
    for f in kept:
        f.write_bytes(b"other")
    claim_run(tmp_path).close()
    assert not any(f.exists() for f in stale)
    assert all(f.exists() for f in kept) and (tmp_path / ".model.78.tmp.zip").is_symlink()
    assert target.read_bytes() == b"the user's" and (tmp_path / ".config.79.tmp.yaml").is_dir()
    assert capsys.readouterr().err == (
        f"{tmp_path}: removed 4 temp files that a killed save left (.config.77.tmp.yaml, "
        ".milestones.77.tmp.json, .model.77.tmp.zip, checkpoints/.step_64.77.tmp.zip)\n")
    claim_run(tmp_path).close()
    assert capsys.readouterr() == ("", "")  # nothing removed, nothing said


def test_process_running_is_false_for_this_process_and_pids_no_process_has():
    # A leftover lock folder named by this process's pid (reused after a kill) must not count as live.
    from agents.outputs import process_running

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert process_running(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_running(child.pid)
    assert not any(map(process_running, (os.getpid(), 0, -1, 2**80)))


def test_a_file_where_the_envs_runs_folder_should_be_is_one_error_not_a_hang(tmp_path, monkeypatch):
    from agents import runs

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "snake").write_text("not a folder")
    real, calls = Path.mkdir, []

    def counted(self, *args, **kwargs):  # each taken name is one more try: a file there never ends them
        calls.append(self)
        assert len(calls) < 100, "new_run_dir kept trying new names"
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", counted)
    with pytest.raises(runs.RunError, match=r"^runs/snake: the folder for the run cannot be made \(File ex"):
        runs.new_run_dir({"env": "snake", "policy": "tiny", "seed": 0}, None, False)
    assert (tmp_path / "runs" / "snake").read_text() == "not a folder"


@pytest.mark.parametrize("stop", ["signal", "lock"])
def test_force_puts_the_old_run_back_when_stopped_as_it_is_moved_aside(trained, scripts, tmp_path, capsys,
                                                                      monkeypatch, stop):
    import agents.runs

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    real, calls = agents.runs.claim_run, []

    def claim(path):  # the second claim is the new folder's, made once the old run was moved aside
        calls.append(path)
        if len(calls) == 2 and stop == "signal":
            os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C: the old run stayed hidden in .run.replaced
        if len(calls) == 2 and stop == "lock":
            raise agents.runs.RunError("cannot write in the run folder")
        return real(path)

    monkeypatch.setattr(agents.runs, "claim_run", claim)
    rc = scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), "--force", *TINY])
    assert rc == (130 if stop == "signal" else 2) and len(calls) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    capsys.readouterr()


def test_force_through_a_symlink_and_past_an_old_aside_folder(trained, scripts, tmp_path, capsys,
                                                               monkeypatch):
    import agents.train

    real = tmp_path / "store" / "run"
    shutil.copytree(trained, real)
    (tmp_path / "store" / ".run.replaced").mkdir()  # left by an earlier killed command
    (tmp_path / "store" / ".run.replaced" / "x").write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    before = (real / "model.zip").read_bytes()

    def refused(*args, **kwargs):
        raise AssertionError("no")

    monkeypatch.setattr(agents.train, "build_model", refused)
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(link), "--force", *TINY]) == 2
    assert "holds the old run again" in capsys.readouterr().err
    assert link.is_symlink() and (real / "model.zip").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [".run.replaced", "run"]
    assert (tmp_path / "store" / ".run.replaced" / "x").read_text() == "keep"


def test_force_clears_only_run_folders_holding_nothing_but_run_files(trained, scripts, tmp_path, capsys):
    project = tmp_path / "project"  # a folder of the user's that happens to hold a config.yaml
    project.mkdir()
    (project / "config.yaml").write_text("foo: 1\n")
    (project / "main.py").write_text("print('mine')\n")
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / ".DS_Store").write_bytes(b"Finder's")  # a file manager's litter does not count
    (run / "notes.txt").write_text("mine")
    for folder, message in ((project, "not a depthfirst run folder"), (run, "holds files a run does not "
                                                                             "write (notes.txt)")):
        before = sorted(p.name for p in folder.iterdir())
        assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(folder), "--force", *REFUSED]) == 2
        assert message in capsys.readouterr().err
        assert sorted(p.name for p in folder.iterdir()) == before
    assert (project / "main.py").read_text() == "print('mine')\n"
    assert (run / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project", "run"]


def test_force_refuses_a_config_file_inside_the_run_it_replaces(trained, scripts, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    # Its own config.yaml, to start it again: the file would be deleted with the old run.
    argv = ["--config", str(run / "config.yaml"), "--run-dir", str(run), "--force", *TINY]
    assert scripts.train_ppo.main(argv) == 2
    assert (f"--config {run / 'config.yaml'} is inside --run-dir {run}, which --force replaces"
            in capsys.readouterr().err)
    assert {p.relative_to(run): p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_ppo_takes_any_keyword_of_sb3_and_sections_may_be_empty(tmp_path):
    from agents.config import apply_set, load_config, resolve

    cfg = resolve(apply_set(load_config("snake"), ["ppo.target_kl=0.02"]), cuda_available=False)
    assert cfg["ppo"]["target_kl"] == 0.02
    # The same key twice: the later --set wins (the README says so; scripts append their overrides).
    assert apply_set(load_config("snake"), ["ppo.n_steps=64", "ppo.n_steps=128"])["ppo"]["n_steps"] == 128
    own = tmp_path / "mine.yaml"
    own.write_text("env_kwargs:\n  # size: 12\n")  # every value commented out: the preset's stay
    assert load_config("snake", own)["env_kwargs"] == load_config("snake")["env_kwargs"]


def test_run_dir_that_is_a_file_is_refused(scripts, tmp_path, capsys):
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(file), *REFUSED]) == 2
    assert "is a file" in capsys.readouterr().err
    assert file.read_text() == "mine"


@pytest.mark.parametrize("where", ["make_vec", "count_params"])  # before / after config.yaml is written
def test_interrupt_before_training_leaves_no_run_folder(scripts, tmp_path, capsys, monkeypatch, where):
    import agents.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.train, where, interrupted)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *TINY]) == 130
    err = capsys.readouterr().err
    assert "before training started: nothing saved" in err and "keeps" not in err, err  # a new run: gone
    assert not run.exists()


def test_an_empty_run_dir_of_the_users_stays_when_the_run_never_started(scripts, tmp_path, capsys,
                                                                        monkeypatch):
    # Only a --run-dir the command made itself was tried: it goes. One the user made (empty) stays, emptied of
    # the files the run wrote into it (config.yaml, command.txt, its lock) and the folders (a swarm run's
    # archive/, made with its game before TensorBoard's tb/).
    import agents.train
    from agents.runs import write_run_files

    def stopped_before_training(cfg, run, command, **kwargs):  # as a Ctrl-C once the run files are written
        write_run_files(run, cfg, command)
        (run / "archive").mkdir()
        (run / "archive" / "state.zip").write_bytes(b"a milestone")
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.train, "train", stopped_before_training)
    run = tmp_path / "run"
    run.mkdir()
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *TINY]) == 130
    assert "before training started" in capsys.readouterr().err
    assert run.is_dir() and list(run.iterdir()) == []


def test_command_txt_holds_the_commands_bytes_as_typed_in_any_locale(tmp_path):
    """An argument that is not text in the locale (a --config named in UTF-8 under LC_ALL=C, PYTHONUTF8=0)
    reaches Python as surrogates; writing it raised UnicodeEncodeError after the run folder was made."""
    import os

    from agents.runs import write_run_files

    typed = b"train_ppo.py --config r\xc3\xa9.yaml --run-dir r\xe9"  # UTF-8, then Latin-1
    write_run_files(tmp_path, {"env": "snake"}, os.fsdecode(typed))
    write_run_files(tmp_path, {"env": "snake"}, "train_ppo.py --resume ré")
    assert (tmp_path / "command.txt").read_bytes() == typed + "\ntrain_ppo.py --resume ré\n".encode()


def test_config_yaml_writes_a_non_ascii_path_as_it_is_named(tmp_path):
    # yaml.safe_dump escaped it: the ROM the README says to fix in config.yaml read "/runs/gb \xFC/c.gb".
    from agents.runs import read_run_config, write_run_files

    rom = tmp_path / ("a long folder name " * 4) / "gb ü" / "c.gb"  # folded past 80 characters: not so
    rom.parent.mkdir(parents=True)
    rom.write_bytes(b"")
    write_run_files(tmp_path, {"env": "gameboy", "env_kwargs": {"rom": str(rom)}}, "train_ppo.py")
    assert f"rom: {rom}\n" in (tmp_path / "config.yaml").read_text(encoding="utf-8")
    assert read_run_config(tmp_path)["env_kwargs"]["rom"] == str(rom)


@pytest.mark.parametrize("where", ["make_vec", "count_params"])
def test_a_resume_interrupted_before_training_says_nothing_was_saved(trained, scripts, tmp_path, capsys,
                                                                     monkeypatch, where):
    import agents.train

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    models = {p: p.read_bytes() for p in [run / "model.zip", *(run / "checkpoints").iterdir()]}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.train, where, interrupted)
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "the model is saved" not in err  # the run's model.zip is there from before, not saved now
    assert f"before training started: nothing saved; {run} keeps its model and checkpoints" in err
    assert {p: p.read_bytes() for p in [run / "model.zip", *(run / "checkpoints").iterdir()]} == models


def test_a_resume_interrupted_while_the_script_starts_says_the_run_is_kept(scripts, tmp_path, capsys,
                                                                           monkeypatch):
    # Ctrl-C in the first seconds (torch and the training code still importing) is caught by main itself.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    train_ppo = scripts.train_ppo  # each access loads the script anew
    monkeypatch.setattr(train_ppo, "train_command", interrupted)
    run = tmp_path / "run"
    assert train_ppo.main(["--resume", str(run), "--no-progress"]) == 130
    assert f"before training started: nothing saved; {run} keeps its model and checkpoints" in (
        capsys.readouterr().err)
    assert train_ppo.main(["--env", "snake", "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "before training started: nothing saved" in err and "keeps" not in err


def test_a_run_that_fails_once_training_ran_keeps_its_logs(scripts, tmp_path, capsys, monkeypatch):
    from stable_baselines3 import PPO

    def diverged(self, *args, **kwargs):
        raise ValueError("Expected parameter logits to satisfy the constraint (diverged)")

    monkeypatch.setattr(PPO, "learn", diverged)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *TINY]) == 2
    assert "diverged" in capsys.readouterr().err
    assert (run / "tb").is_dir() and (run / "config.yaml").is_file()  # what there is to diagnose stays


def test_numbers_yaml_reads_as_text_are_numbers():
    from agents.config import apply_set, load_config, resolve

    cfg = resolve(apply_set(load_config("snake"), ["ppo.learning_rate=1e-4"]), cuda_available=False)
    assert cfg["ppo"]["learning_rate"] == 1e-4  # YAML reads 1e-4 (no dot) as a string


def test_uninterruptible_drops_a_signal_and_restores_the_handlers():
    from agents.interrupts import stop_signals_interrupt, uninterruptible

    before = signal.getsignal(signal.SIGINT)  # pytest's, or SIG_IGN under a shell without job control
    with stop_signals_interrupt():
        with uninterruptible():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("handled", [True, False], ids=["in-train", "alone"])
def test_a_stop_signal_during_a_checkpoint_save_takes_effect_after_it(trained, tmp_path, monkeypatch,
                                                                      handled):
    from stable_baselines3 import PPO

    from agents.interrupts import stop_signals_interrupt
    from agents.runs import save_checkpoint

    model = PPO.load(trained / "model.zip", device="cpu")
    # Ctrl-C as torch.save writes (on CUDA it raised from the zip writer)
    monkeypatch.setattr(PPO, "save", stop_before(PPO.save))
    run = tmp_path / "run"
    with contextlib.ExitStack() as stack:
        if handled:  # as in train(); alone, the save installs the handler for itself
            stack.enter_context(stop_signals_interrupt())
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(model, run)
    for file in (run / "checkpoints" / f"step_{model.num_timesteps}.zip", run / "model.zip"):
        assert PPO.load(file, device="cpu").num_timesteps == model.num_timesteps  # written whole
    assert not list(run.rglob("*.tmp*"))


def test_a_stop_signal_as_a_periodic_checkpoint_is_renamed_into_place_stops_training(scripts, tmp_path,
                                                                                     monkeypatch, capsys):
    """Signals were ignored (SIG_IGN) while a periodic checkpoint was renamed into place: a stop landing
    then was dropped, not counted, so StopCallback never saw it and the run trained on to its end."""
    real_replace = os.replace
    sent = []

    def replace(src, dst):  # the signal lands as the first periodic checkpoint is renamed into place
        if not sent and Path(dst).parent.name == "checkpoints":
            sent.append(dst)
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    run = tmp_path / "run"
    rc = scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "2048", "--save-every", "64",
                                 "--run-dir", str(run), *TINY])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert sent and "interrupted at step 256: saved" in err  # right after that save, at its rollout end
    assert (run / "model.zip").is_file() and not (run / "checkpoints" / "step_2048.zip").exists()


def test_a_stop_signal_as_learn_returns_still_saves_the_trained_model(scripts, tmp_path, monkeypatch, capsys):
    """A signal in the moment between learn() returning and the run counting as finished raised outside the
    handler that saves: the whole run was lost ("interrupted before training started: nothing saved")."""
    import agents.train

    # the signal lands just before settled() takes effect
    monkeypatch.setattr(agents.train, "settled", stop_before(agents.train.settled))
    run = tmp_path / "run"
    rc = scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--save-every", "100000",
                                 "--run-dir", str(run), *TINY])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert (run / "checkpoints" / "step_256.zip").is_file() and (run / "model.zip").is_file()
    # All its steps are done: reported as finished, not "interrupted" with a --resume that is refused.
    assert "done: 256 steps" in out and "interrupted" not in err and "--resume" not in err


def test_a_stop_signal_as_an_archive_error_stops_training_still_saves(scripts, tmp_path, monkeypatch, capsys):
    """A signal as the run stops for a damaged archive (while its progress bar closes, before the save)
    raised out of that handler: "interrupted before training started: nothing saved", status 130, and
    what was trained since the last checkpoint was lost."""
    from agents.callbacks import ProgressCallback, StopCallback
    from envs.gameboy.archive import ArchiveError

    def damaged(self):  # as a restarted worker finds the archive's index gone
        if self.model.num_timesteps >= 512:
            raise ArchiveError(tmp_path / "archive", "its index.sqlite was deleted or moved while in use")
        return True

    monkeypatch.setattr(StopCallback, "_on_step", damaged)
    monkeypatch.setattr(ProgressCallback, "close", stop_before(ProgressCallback.close))
    run = tmp_path / "run"
    argv = ["--env", "snake", "--total-timesteps", "2048", "--save-every", "100000", "--run-dir", str(run),
            *[a for a in TINY if a != "--no-progress"]]  # the bar, whose close the signal lands in
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    saved = run / "checkpoints" / "step_512.zip"
    assert f"error: training stopped at step 512 (saved {saved}): its archive" in err, err
    assert "interrupted" not in err and (run / "model.zip").is_file()


def test_a_worker_dead_again_after_its_restart_stops_training_with_a_checkpoint(scripts, tmp_path,
                                                                                monkeypatch, capsys):
    """A worker that died again right after its restart (a WorkerDiedError out of the vector env) ended the
    run with one line and no checkpoint: everything trained since the last periodic save was lost."""
    from agents.callbacks import StopCallback
    from envs.vector import WorkerDiedError

    def dying(self):
        if self.model.num_timesteps >= 512:
            raise WorkerDiedError("worker 0 (pid 1, envs 0-7) died with exit code -9 right after a restart")
        return True

    monkeypatch.setattr(StopCallback, "_on_step", dying)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "2048", "--save-every", "100000",
                                   "--run-dir", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    saved = run / "checkpoints" / "step_512.zip"
    assert f"error: training stopped at step 512 (saved {saved}): worker 0 (pid 1" in err, err
    assert f"right after a restart; continue with: {PYTHON} scripts/train_ppo.py --resume" in err
    assert saved.is_file()


def test_a_stop_whose_interrupt_a_library_swallowed_still_stops_training(trained, scripts, tmp_path,
                                                                          monkeypatch, capsys):
    from agents.callbacks import VideoCallback

    def swallowing(self):  # moviepy imports scipy in a bare except: the KeyboardInterrupt goes nowhere
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        except BaseException:
            pass

    monkeypatch.setattr(VideoCallback, "fire", swallowing)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "20000", "--video-every", "512",
                                   "--run-dir", str(run), *TINY]) == 0
    assert "interrupted at step 520:" in capsys.readouterr().err  # one step (8 boards) on, not at 20,000
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step_520.zip"]


def test_a_stop_during_the_final_save_keeps_the_finished_run(trained, scripts, tmp_path, monkeypatch, capsys):
    import agents.train

    real_save = agents.train.save_checkpoint

    def save_then_stop(model, run, keep):
        file = real_save(model, run, keep)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the run finishes
        time.sleep(0.2)
        return file

    monkeypatch.setattr(agents.train, "save_checkpoint", save_then_stop)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--run-dir", str(run),
                                   "--force", *TINY]) == 0
    assert "done: 256 steps" in capsys.readouterr().out  # not the old run put back over the new one
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_256.zip"]


@pytest.mark.parametrize("at", ["print", "configure"])
def test_a_stop_as_training_starts_saves_a_resumable_run(scripts, tmp_path, monkeypatch, capsys, at):
    import builtins

    import agents.train

    real = getattr(agents.train, at, None) or getattr(builtins, at)

    def then_stop(*args, **kwargs):  # Ctrl-C as the "depthfirst: ..." line is printed, or just after
        out = real(*args, **kwargs)
        if at == "configure" or str(args[0]).startswith("depthfirst:"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        return out

    monkeypatch.setattr(agents.train, at, then_stop, raising=False)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--run-dir", str(run),
                                   *TINY]) == 0
    assert "interrupted at step 0:" in capsys.readouterr().err
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0  # not "no checkpoint"
    assert "done: 256 steps" in capsys.readouterr().out


def test_a_finished_command_ignores_stop_signals_while_python_shuts_down():
    from agents.interrupts import exit_ignoring_stop_signals

    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with pytest.raises(SystemExit) as exc:
            exit_ignoring_stop_signals(3)
        assert exc.value.code == 3
        assert all(signal.getsignal(s) is signal.SIG_IGN for s in before)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


def test_progress_bar_ends_on_the_last_whole_rollout():
    from types import SimpleNamespace

    from agents.callbacks import ProgressCallback

    cb = ProgressCallback(1000)
    cb.model = SimpleNamespace(num_timesteps=256, n_steps=32, n_envs=8)
    cb._on_training_start()
    assert (cb.bar.n, cb.bar.total) == (256, 1024)  # PPO stops on whole rollouts of 256 steps
    cb._on_training_end()


def test_progress_bar_after_a_resume_mid_rollout_counts_steps_and_shows_the_mean_score():
    """A Ctrl-C saves mid-rollout (step 520 here): the resumed bar starts there and ends on the whole
    rollouts counted from it, follows the step count, shows the mean score of the episodes kept, and is
    closed at the run's end."""
    from collections import deque
    from types import SimpleNamespace

    from agents.callbacks import ProgressCallback

    cb = ProgressCallback(1000)
    model = SimpleNamespace(num_timesteps=520, n_steps=32, n_envs=8, ep_info_buffer=deque())
    cb.model = model
    cb._on_training_start()
    assert (cb.bar.n, cb.bar.total) == (520, 1032)  # learn(480) runs two rollouts of 256 from 520
    assert cb.bar.postfix == "score=-"  # the first rollout's bar had no score field (README: score=-)
    model.num_timesteps = 528
    cb._on_step()
    model.num_timesteps = 776
    cb._on_step()
    assert cb.bar.n == 776
    cb._on_rollout_end()
    assert cb.bar.postfix == "score=-"  # no episode has ended yet (it read "score=nan")
    model.ep_info_buffer.extend([{"r": 9.0, "l": 30, "score": 1.0}, {"r": 7.0, "l": 20, "score": 4.0},
                                 {"r": 1.0, "l": 5}])
    cb._on_rollout_end()
    assert cb.bar.postfix == "score=2.50"
    cb._on_training_end()
    assert cb.bar.disable  # closed: its line ended


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job of a shell without job control


@pytest.mark.parametrize("sig, start", [(signal.SIGINT, ignore_sigint), (signal.SIGTERM, None)],
                         ids=["sigint-in-background", "sigterm"])
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path, sig, start):
    run = tmp_path / "my run"  # a space: the printed --resume command must quote it
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train_ppo.py"), "--env", "snake",
                             "--total-timesteps", "10000000", "--run-dir", str(run), *TINY],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=start)
    # Signalled once learn() is under way (its first rollout's scalars are in the event file), polled: a
    # fixed 3 s after tb/ appeared cost 3 s on an idle box and on a loaded one still came before learn().
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not (
            (run / "tb").exists() and events(run).Tags()["scalars"]):
        time.sleep(0.1)
    proc.send_signal(sig)  # none if it has ended already: its stderr then says why
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "done:" not in out  # a stopped run, not reported finished (nor saved a second time)
    script = ROOT / "scripts" / "train_ppo.py"
    assert "interrupted at step" in err and shlex.join(["python", str(script), "--resume", str(run)]) in err
    ckpts = list((run / "checkpoints").glob("step_*.zip"))
    assert len(ckpts) == 1 and (run / "model.zip").is_file()
    assert ckpts[0].name != "step_0.zip"  # stopped inside learn(), past its first rollout


def test_a_closed_terminal_saves_a_checkpoint(tmp_path):
    """An SSH session that drops, a terminal window shut: the terminal hangs up, the kernel sends SIGHUP to
    the session's leader, and a shell passes it on to its jobs' process groups. It killed the run on the
    spot, every step since its last checkpoint lost; it now stops as Ctrl-C does, though its terminal is gone:
    each write to it fails (EIO), the progress bar's and the "interrupted" lines' too."""
    import select

    from tests.signals import on_a_terminal

    run = tmp_path / "run"
    args = [a for a in TINY if a != "--no-progress"]  # the bar goes on writing to the terminal as it hangs up
    proc, master = on_a_terminal([sys.executable, str(ROOT / "scripts" / "train_ppo.py"), "--env", "snake",
                                  "--total-timesteps", "10000000", "--run-dir", str(run),
                                  "--num-workers", "1", *args])
    try:
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline and not (
                (run / "tb").exists() and events(run).Tags()["scalars"]):
            if select.select([master], [], [], 0.1)[0]:  # read, or the bar stops the run once the pty is full
                os.read(master, 65536)
    finally:
        os.close(master)  # the terminal hangs up
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGHUP)  # as a shell passes it on: to the worker and fork server too
    try:
        assert proc.wait(timeout=120) == 0  # as after a Ctrl-C: stopped and saved (it was -SIGHUP)
    finally:  # one that trained on (a SIGHUP it ignored) would take a core from the tests after it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    ckpts = list((run / "checkpoints").glob("step_*.zip"))
    assert len(ckpts) == 1 and ckpts[0].name != "step_0.zip" and (run / "model.zip").is_file()


def _signal_inside(monkeypatch, owner: object, name: str, at_call: int = 1) -> dict[str, int]:
    """Patch ``owner.name`` to send this process SIGTERM inside its ``at_call``-th call; counts the calls,
    and those that ran to their end after the signal (a KeyboardInterrupt raised inside cuts them)."""
    original = getattr(owner, name)
    seen = {"calls": 0, "finished_after_signal": 0, "calls_after_signal": 0}

    def patched(*args, **kwargs):
        seen["calls"] += 1
        if seen["calls"] > at_call:
            seen["calls_after_signal"] += 1
        if seen["calls"] == at_call:
            os.kill(os.getpid(), signal.SIGTERM)
        result = original(*args, **kwargs)
        if seen["calls"] >= at_call:
            seen["finished_after_signal"] += 1
        return result

    monkeypatch.setattr(owner, name, patched)
    return seen


def test_a_stop_inside_tensorboards_writer_waits_for_it_and_the_run_ends(tmp_path, monkeypatch, capsys):
    """A stop raised inside TensorBoard's event writer (between a lock's release and its re-acquisition in
    queue.Queue.join) left the lock held: the checkpoint was saved and its message printed, then closing
    the writer hung the run for good (seen in CI). The stop now waits for the next safe point."""
    from torch.utils.tensorboard import SummaryWriter

    import scripts.train_ppo

    seen = _signal_inside(monkeypatch, SummaryWriter, "flush", at_call=2)  # the first rollout's dump
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "100000", "--run-dir", str(run),
                                   *TINY]) == 0
    assert seen["finished_after_signal"] >= 1  # the flush the signal came in went on to its end
    assert "interrupted at step" in capsys.readouterr().err
    assert len(list((run / "checkpoints").glob("step_*.zip"))) == 1


def test_a_stop_as_tensorboards_writer_is_made_waits_for_it(tmp_path, monkeypatch, capsys):
    """The logger is made after the start line, so a stop then saves a checkpoint; made inside
    TensorBoard's writer code too, it waits for the next stop point, just before learn()."""
    import agents.train
    import scripts.train_ppo

    seen = _signal_inside(monkeypatch, agents.train, "configure")
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "100000", "--run-dir", str(run),
                                   *TINY]) == 0
    assert seen["finished_after_signal"] == 1
    assert "interrupted at step 0:" in capsys.readouterr().err
    assert len(list((run / "checkpoints").glob("step_*.zip"))) == 1


def test_a_stop_during_the_update_ends_it_at_the_next_minibatch(tmp_path, monkeypatch, capsys):
    """Between minibatches is the update's stop point: the optimizer step the signal came in completes,
    no other one starts, and the checkpoint is saved as for a stop in the rollout."""
    import torch

    import scripts.train_ppo

    seen = _signal_inside(monkeypatch, torch.optim.Adam, "step", at_call=2)
    run = tmp_path / "run"
    # 256 samples a rollout in minibatches of 32 over 4 epochs: 32 optimizer steps an update
    args = [*TINY[:TINY.index("--set")], "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=32",
            "--set", "ppo.n_epochs=4"]
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "100000", "--run-dir", str(run),
                                   *args]) == 0
    assert seen == {"calls": 2, "finished_after_signal": 1, "calls_after_signal": 0}
    assert "interrupted at step 256" in capsys.readouterr().err
    assert len(list((run / "checkpoints").glob("step_*.zip"))) == 1


def test_a_stop_during_a_recurrent_update_ends_it_at_the_next_minibatch(tmp_path, monkeypatch, capsys):
    """RecurrentPPO's update runs through sb3-contrib's own buffer, not DeviceRolloutBuffer: without a stop
    point between its minibatches a stop waited for the whole update (188 s for the CPU defaults' first
    on two busy cores), where it had been taken at once."""
    import torch

    import scripts.train_ppo

    seen = _signal_inside(monkeypatch, torch.optim.Adam, "step", at_call=2)
    run = tmp_path / "run"
    args = [*TINY[:TINY.index("--set")], "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=32",
            "--set", "ppo.n_epochs=4"]
    assert scripts.train_ppo.main(["--env", "snake", "--recurrent", "--total-timesteps", "100000",
                                   "--run-dir", str(run), *args]) == 0
    assert seen == {"calls": 2, "finished_after_signal": 1, "calls_after_signal": 0}
    assert "interrupted at step 256" in capsys.readouterr().err


def _count_after(monkeypatch, owner: object, name: str, seen: dict[str, int]) -> None:
    """Count in ``seen[name]`` the calls of ``owner.name`` with gradients on (the update's, not a rollout's)
    once ``_signal_inside`` has sent its signal."""
    import torch

    original = getattr(owner, name)

    def counted(*args, **kwargs):
        if seen["calls"] and torch.is_grad_enabled():
            seen[name] = seen.get(name, 0) + 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


@pytest.mark.parametrize("phase", ["forward", "backward"])
def test_a_stop_inside_a_recurrent_minibatch_ends_it_at_the_next_lstm_step(tmp_path, monkeypatch, capsys,
                                                                           phase):
    """A RecurrentPPO minibatch steps its LSTMs once per step of its padded sequences, forward and back (one
    of 1,024 samples, the CPU defaults, took 20-40 s on two busy cores, which a stop between minibatches
    waited for): a signal inside it stops it at the next LSTM step, and the optimizer never steps on it."""
    import torch
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    import scripts.train_ppo

    # The signal as the first minibatch's forward begins, or as its backward does (only the update has one)
    signal_in = (RecurrentActorCriticPolicy, "evaluate_actions") if phase == "forward" else (torch.Tensor,
                                                                                              "backward")
    seen = _signal_inside(monkeypatch, *signal_in)
    _count_after(monkeypatch, torch.nn.LSTM, "forward", seen)
    _count_after(monkeypatch, torch.optim.Adam, "step", seen)
    run = tmp_path / "run"
    args = [*TINY[:TINY.index("--set")], "--set", "ppo.n_steps=32", "--set", "ppo.batch_size=128",
            "--set", "ppo.n_epochs=1"]
    assert scripts.train_ppo.main(["--env", "snake", "--recurrent", "--total-timesteps", "100000",
                                   "--run-dir", str(run), *args]) == 0
    assert "interrupted at step 256" in capsys.readouterr().err
    # The LSTM step the signal came in (forward: the first, after it), and no optimizer step
    assert seen.get("forward", 0) <= (1 if phase == "forward" else 0) and "step" not in seen, seen


def test_each_lstm_of_a_recurrent_policy_is_a_stop_point_forward_and_back(monkeypatch):
    """Both of RecurrentPPO's LSTMs, the critic's too: the update runs the critic's after the actor's, and
    its backward first, so a stop with the actor's alone hooked waited through the critic's steps."""
    import torch

    import agents.interrupts
    from agents.train import build_model, stop_inside_lstm_steps
    from envs import make_vec

    cfg = {"env": "snake", "policy": "tiny", "device": "cpu", "seed": 0, "recurrent": True,
           "ppo": {"n_steps": 4, "batch_size": 4, "n_epochs": 1}}
    venv = make_vec("snake", 1, num_workers=0, seed=0)
    try:
        policy = build_model(cfg, venv).policy
    finally:
        venv.close()
    stop_inside_lstm_steps(policy)
    lstms = {"actor": policy.lstm_actor, "critic": policy.lstm_critic}
    assert all(lstm is not None for lstm in lstms.values())  # sb3-contrib's default: one LSTM each
    for name, lstm in lstms.items():
        x = torch.zeros(1, 1, lstm.input_size, requires_grad=True)
        monkeypatch.setattr(agents.interrupts, "_due", True)  # a stop signal came
        with pytest.raises(KeyboardInterrupt):
            lstm(x)
        monkeypatch.setattr(agents.interrupts, "_due", False)
        out = lstm(x)[0].sum()
        monkeypatch.setattr(agents.interrupts, "_due", True)  # came during the forward: the backward stops
        with pytest.raises(KeyboardInterrupt):
            out.backward()
        assert x.grad is None, name  # stopped before the gradient reached the input


def _piped_training(run: Path) -> subprocess.Popen:
    """A long training run whose output (the progress bar too) goes to a pipe, once it logged its first
    figures."""
    args = [a for a in TINY if a != "--no-progress"]  # the bar is what writes next
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train_ppo.py"), "--env", "snake",
                             "--total-timesteps", "10000000", "--run-dir", str(run), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and not (
            (run / "tb").exists() and events(run).Tags()["scalars"]):
        time.sleep(0.1)
    return proc


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the fork server in /proc")
def test_ctrl_c_while_the_fork_server_imports_leaves_it_not_running(tmp_path):
    # train_ppo.py starts its workers' fork server first, to import while the run is set up: a Ctrl-C
    # before training started left it importing on (torch, the game) after the script had exited.
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform: the workers are spawned")
    run = tmp_path / "run"
    code, err, left, seconds = interrupted_while_fork_server_imports(
        ["scripts/train_ppo.py", "--env", "snake", "--num-workers", "2", "--total-timesteps", "512",
         "--run-dir", str(run), *TINY], tmp_path / "scratch")
    assert code == 130 and "interrupted before training started" in err, err
    assert not left
    assert seconds < 30  # not waiting out the server's held-up imports (60 s): killed, not asked to end
    assert not run.exists()


def test_ctrl_c_of_a_run_piped_to_tee_still_saves_a_checkpoint(tmp_path):
    """`train_ppo.py ... 2>&1 | tee log`: Ctrl-C ends tee too, so ending the progress bar's line raised
    BrokenPipeError before the save, and the run exited 141 with no checkpoint and no word."""
    proc = _piped_training(run := tmp_path / "run")
    assert proc.stdout is not None
    proc.stdout.close()  # tee, stopped by the same Ctrl-C
    proc.send_signal(signal.SIGINT)
    # 141: the "interrupted ... continue with" lines found no reader (run_script's closed-pipe status)
    assert proc.wait(timeout=120) == 141
    assert len(list((run / "checkpoints").glob("step_*.zip"))) == 1 and (run / "model.zip").is_file()


def test_a_run_whose_output_reader_leaves_keeps_its_steps(tmp_path):
    """`train_ppo.py ... 2>&1 | head`: once head exits, the progress bar's next write raised BrokenPipeError
    out of training, and the run ended (141) with no checkpoint: minutes of training lost."""
    proc = _piped_training(run := tmp_path / "run")
    assert proc.stdout is not None
    proc.stdout.close()  # head has its lines
    assert proc.wait(timeout=120) == 141
    assert len(list((run / "checkpoints").glob("step_*.zip"))) == 1 and (run / "model.zip").is_file()


def test_ctrl_c_while_plotting_leaves_the_old_png(trained, scripts, tmp_path, capsys, monkeypatch):
    import agents.curves

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.curves, "plot_curve", interrupted)
    out = tmp_path / "curve.png"
    out.write_bytes(b"my figure")
    assert scripts.plot_curve.main([str(trained), "--out", str(out), "--force"]) == 130
    assert "is as it was" in capsys.readouterr().err and out.read_bytes() == b"my figure"


def test_ctrl_c_while_plotting_a_name_without_a_suffix_names_the_png_at_stake(scripts, tmp_path, capsys,
                                                                              monkeypatch):
    # --out bare writes bare.png: the line must name that file, not "bare", which was never in question.
    import agents.curves

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(agents.curves, "plot_curve", interrupted)
    (tmp_path / "bare.png").write_bytes(b"my figure")
    assert scripts.plot_curve.main(["RUN", "--out", str(tmp_path / "bare"), "--force"]) == 130
    assert capsys.readouterr().err == f"\ninterrupted: {tmp_path / 'bare.png'} is as it was\n"


def test_a_signal_just_after_the_png_is_in_place_is_ignored(trained, scripts, tmp_path, capsys, monkeypatch):
    """A Ctrl-C in the moment after the PNG was renamed into place printed "interrupted: <out> is as it was"
    beside the new PNG."""
    import signal

    import agents.curves

    plot = agents.curves.plot_curve

    def then_a_signal(*args, **kwargs):
        out = plot(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return out

    monkeypatch.setattr(agents.curves, "plot_curve", then_a_signal)
    out = tmp_path / "curve.png"
    out.write_bytes(b"my figure")
    assert scripts.plot_curve.main([str(trained), "--out", str(out), "--force"]) == 0
    assert "is as it was" not in capsys.readouterr().err and out.read_bytes()[:4] == b"\x89PNG"


def test_a_full_disk_while_plotting_names_out_and_the_file(trained, scripts, tmp_path, capsys, monkeypatch):
    import errno

    import matplotlib.figure

    def disk_full(self, fname, *args, **kwargs):
        Path(fname).write_bytes(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", disk_full)
    out = tmp_path / "curve.png"
    out.write_bytes(b"my figure")
    assert scripts.plot_curve.main([str(trained), "--out", str(out), "--force"]) == 2
    assert f"error: --out {out} could not be written (No space left on device)" in capsys.readouterr().err
    assert out.read_bytes() == b"my figure" and sorted(p.name for p in tmp_path.iterdir()) == ["curve.png"]


def test_a_folder_of_out_that_cannot_be_made_names_out(trained, scripts, tmp_path, capsys, monkeypatch):
    import errno

    def full_mkdir(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "mkdir", full_mkdir)
    out = tmp_path / "new" / "curve.png"
    assert scripts.plot_curve.main([str(trained), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (f"error: --out {out}: its folder {out.parent} cannot be made "
                                       "(No space left on device); choose another place\n")


def test_plot_curves_flags_reach_the_plot(scripts, tmp_path, capsys, monkeypatch):
    # --title and --baseline were given in one test, whose PNG was only checked to be a PNG: a script that
    # dropped either drew the figure without it, unseen.
    import agents.curves

    drawn = []

    def plot_curve(run, out, tag, title, baseline, last=False, new=False):
        drawn.append((run, out, tag, title, baseline, last, new))
        return out

    monkeypatch.setattr(agents.curves, "plot_curve", plot_curve)
    out = tmp_path / "curve.png"
    assert scripts.plot_curve.main(["RUN", "--out", str(out), "--title", "Snake 10x10", "--baseline", "0.5",
                                    "--tag", "rollout/ep_rew_mean"]) == 0
    assert scripts.plot_curve.main(["RUN", "--out", str(out)]) == 0
    # argparse read -1e3 as a flag ("expected one argument"); -0.5 it takes as a number itself.
    assert scripts.plot_curve.main(["RUN", "--out", str(out), "--baseline", "-1e3", "--force"]) == 0
    # Without --force the PNG goes only where no file is (new=True): another command's is not replaced.
    assert drawn == [(Path("RUN"), out, "rollout/ep_rew_mean", "Snake 10x10", 0.5, True, True),
                     (Path("RUN"), out, "rollout/score_mean", None, None, True, True),
                     (Path("RUN"), out, "rollout/score_mean", None, -1000.0, True, False)]
    assert capsys.readouterr().out == f"{out}\n{out}\n{out}\n"


def test_an_out_matplotlib_cannot_write_is_refused_by_name_before_the_run_is_read(scripts, tmp_path, capsys,
                                                                                   monkeypatch):
    # matplotlib's own "Format 'yaml' is not supported" came after the events were read, naming no flag.
    import agents.curves

    monkeypatch.setattr(agents.curves, "plot_curve", lambda *args, **kwargs: pytest.fail("the run was read"))
    out = tmp_path / "curve.yaml"
    assert scripts.plot_curve.main(["RUN", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: --out {out}: matplotlib writes no .yaml file; end the name in .png (or ." in err
    # the others this matplotlib writes: 3.7 lists none before .eps, a newer one .avif first
    assert ".pdf, " in err and ".svg" in err and not out.exists()
    assert ".png," not in err and not err.rstrip().endswith(".png)")  # the others: .png is named once, first


def test_an_out_too_long_once_png_is_added_is_refused_by_name_before_the_run_is_read(scripts, tmp_path,
                                                                                     capsys, monkeypatch):
    # --out of a name within 4 bytes of the limit, given .png: "error: [Errno 36] File name too long: ...".
    import agents.curves

    monkeypatch.setattr(agents.curves, "plot_curve", lambda *args, **kwargs: pytest.fail("the run was read"))
    out = tmp_path / ("c" * (os.pathconf(tmp_path, "PC_NAME_MAX") - 2))
    assert scripts.plot_curve.main(["RUN", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and ": the name is too long (" in err and "Errno" not in err
    assert len(err.splitlines()) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["curve.", "curve.."])
def test_an_out_ending_in_a_dot_is_refused_not_given_another(scripts, tmp_path, capsys, monkeypatch, name):
    # Path.suffix of "curve." is "", so ".png" was added to it: curve..png was written.
    import agents.curves

    monkeypatch.setattr(agents.curves, "plot_curve", lambda *args, **kwargs: pytest.fail("the run was read"))
    out = tmp_path / name
    assert scripts.plot_curve.main(["RUN", "--out", str(out)]) == 2
    assert f"error: --out {out}: matplotlib writes no . file; end the name in .png" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", [".png", ".PNG", ".svg", "..png", "...svg"])
def test_an_out_that_is_only_a_suffix_is_refused(scripts, tmp_path, capsys, monkeypatch, name):
    # ".png" is a hidden name with no suffix to Python, so ".png" was added to it: .png.png was written.
    # "..png" has none to os.path.splitext either: the hidden file ..png was written.
    import agents.curves

    monkeypatch.setattr(agents.curves, "plot_curve", lambda *args, **kwargs: pytest.fail("the run was read"))
    out = tmp_path / name
    assert scripts.plot_curve.main(["RUN", "--out", str(out)]) == 2
    example = f"{tmp_path / 'curve'}.{name.lstrip('.')}"
    assert f"error: --out {out}: name the file before its suffix, e.g. {example}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_out_of_a_suffix_matplotlib_cannot_write_is_refused_for_its_suffix(scripts, tmp_path,
                                                                                      capsys, monkeypatch):
    # --out run/model.zip (a slip for curve.png) said "exists; pass --force to replace it", and with --force
    # then "matplotlib writes no .zip file": the first advice could never work.
    import agents.curves

    monkeypatch.setattr(agents.curves, "plot_curve", lambda *args, **kwargs: pytest.fail("the run was read"))
    out = tmp_path / "model.zip"
    out.write_bytes(b"my model")
    assert scripts.plot_curve.main(["RUN", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: --out {out}: matplotlib writes no .zip file; end the name in .png" in err
    assert "--force" not in err and out.read_bytes() == b"my model"


def test_plot_curve_writes_a_png(trained, scripts, tmp_path, capsys):
    out = tmp_path / "curve.png"
    assert scripts.plot_curve.main([str(trained), "--out", str(out), "--baseline", "0.1"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    upper = tmp_path / "CURVE.PNG"  # matplotlib takes a suffix in any case: so does the --out check
    assert scripts.plot_curve.main([str(trained), "--out", str(upper)]) == 0
    assert upper.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert scripts.plot_curve.main([str(trained), "--out", str(out), "--tag", "nope/x", "--force"]) == 2
    err = capsys.readouterr().err
    assert "nope/x" in err and "--tag takes one of: " in err and "rollout/score_mean" in err  # the choices
    assert scripts.plot_curve.main([str(tmp_path / "nowhere"), "--out", str(out), "--force"]) == 2
    assert "nowhere: no such run folder" in capsys.readouterr().err
    assert scripts.plot_curve.main([str(trained / "config.yaml"), "--out", str(out), "--force"]) == 2
    assert f"config.yaml is a file; give the run folder ({trained})" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert scripts.plot_curve.main([str(tmp_path / "empty"), "--out", str(out), "--force"]) == 2
    assert "no TensorBoard folder" in capsys.readouterr().err
    assert scripts.plot_curve.main([str(trained), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert scripts.plot_curve.main([str(trained), "--out", str(out / "x.png")]) == 2  # under a file
    # Named as the file in the way, not as a folder that "cannot be made (File exists)".
    err = capsys.readouterr().err
    assert err == f"error: --out {out / 'x.png'}: {out} is not a folder; choose another place\n", err
    assert scripts.plot_curve.main([str(trained), "--out", str(tmp_path / "bare")]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "bare.png") and (tmp_path / "bare.png").is_file()
    out.write_bytes(b"my figure")  # an existing file is replaced only with --force
    assert scripts.plot_curve.main([str(trained), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_bytes() == b"my figure"
    assert scripts.plot_curve.main([str(trained), "--out", str(out), "--force"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert scripts.plot_curve.main([str(trained), "--out", str(tmp_path / "new" / "c.png")]) == 0  # made
    assert (tmp_path / "new" / "c.png").is_file()
    with pytest.raises(SystemExit):  # a NaN line would silently not be drawn
        scripts.plot_curve.main([str(trained), "--out", str(out), "--force", "--baseline", "nan"])
    assert "argument --baseline: must be a finite number" in capsys.readouterr().err


def test_a_tilde_the_shell_left_is_the_home_folder(trained, scripts, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # --out=~/x: bash expands no ~ after "="
    monkeypatch.chdir(tmp_path)
    assert scripts.plot_curve.main([str(trained), "--out=~/home.png"]) == 0
    assert (tmp_path / "home.png").is_file() and not (tmp_path / "~").exists()


def test_curve_minutes_leave_out_the_time_between_a_stop_and_its_resume(tmp_path):
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    from agents.curves import read_scalars

    # two sessions: trained from t=1000 s, stopped at 1120 s; resumed an hour later at 5000 s
    (tmp_path / "tb").mkdir()
    for start, points in ((1000.0, [(1060.0, 100), (1120.0, 200)]), (5000.0, [(5060.0, 300)])):
        with open(tmp_path / "tb" / f"events.out.tfevents.{start:.0f}.host.1.0", "wb") as f:
            writer = RecordWriter(f)
            writer.write(Event(wall_time=start, file_version="brain.Event:2").SerializeToString())
            for wall, step in points:
                summary = Summary(value=[Summary.Value(tag="rollout/score_mean", simple_value=step / 100)])
                writer.write(Event(wall_time=wall, step=step, summary=summary).SerializeToString())
    steps, values, minutes = read_scalars(tmp_path, "rollout/score_mean")
    assert steps.tolist() == [100, 200, 300] and values.tolist() == [1.0, 2.0, 3.0]
    assert minutes.tolist() == pytest.approx([1.0, 2.0, 3.0])


def test_curve_minutes_count_a_stopped_session_up_to_its_stop_not_its_last_point(scripts, tmp_path,
                                                                                 monkeypatch, capsys):
    """A session's training time ended at its last event: the time from its last logged rollout to the
    Ctrl-C (a rollout, or an update: 3 of a stopped --recurrent run's 4.5 minutes) was left out of every
    later point's wall-clock minutes."""
    from agents.callbacks import StopCallback

    real = StopCallback._on_step
    sent = []

    def stop_late(self):  # Ctrl-C well into the second rollout, seconds after the first one's points
        if self.model.num_timesteps >= 384 and not sent:
            time.sleep(1.5)
            sent.append(time.time())
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)
        return real(self)

    monkeypatch.setattr(StopCallback, "_on_step", stop_late)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "1024", "--run-dir", str(run),
                                   *TINY]) == 0
    assert "interrupted at step" in capsys.readouterr().err and sent
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0
    steps, counted, trained = _resumed_sessions_first_point(run, sent[0])
    assert steps[0] <= 256 < 384 < steps[1] and counted >= trained - 0.01


def test_curve_minutes_count_a_session_a_failure_stopped_up_to_the_failure(scripts, tmp_path, monkeypatch,
                                                                          capsys):
    """Not only a Ctrl-C: memory running out in an update (or a worker dead in a rollout) also stops a
    session an update or a rollout after its last point, time that its end mark keeps in the later points'
    minutes; a mark written only at a Ctrl-C passed every test."""
    from stable_baselines3 import PPO

    update, failed = PPO.train, []

    def running_out_late_in_the_second(self):  # seconds after the second rollout's points
        if self.num_timesteps >= 512 and not failed:
            time.sleep(1.5)
            failed.append(time.time())
            raise RuntimeError(CPU_ALLOC)
        return update(self)

    monkeypatch.setattr(PPO, "train", running_out_late_in_the_second)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "1024", "--run-dir", str(run),
                                   *TINY]) == 2
    assert "training stopped at step 512" in capsys.readouterr().err and failed
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0
    steps, counted, trained = _resumed_sessions_first_point(run, failed[0])
    assert steps[-2] <= 512 < steps[-1] and counted >= trained - 0.01


def _resumed_sessions_first_point(run: Path, stopped: float) -> tuple[np.ndarray, float, float]:
    """For a run of two sessions, the first stopped at wall time ``stopped``: the ``rollout/ep_len_mean``
    steps up to the resumed session's first point, that point's training seconds as plot_curve counts them,
    and as they were (the first session's whole training, then the second's so far)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    from agents.curves import read_scalars

    files = sorted(run.glob("tb/*tfevents*"))  # made seconds apart: their names sort in time order
    first, second = (list(LegacyEventFileLoader(str(f)).Load()) for f in files)
    assert max(e.wall_time for e in first) >= stopped  # the stop is in the first session's events
    point = next(e for e in second if any(v.tag == "rollout/ep_len_mean" for v in e.summary.value))
    trained = (stopped - first[0].wall_time) + (point.wall_time - second[0].wall_time)
    steps, _, minutes = read_scalars(run, "rollout/ep_len_mean")
    k = int(np.searchsorted(steps, point.step))
    assert steps[k] == point.step
    return steps[:k + 1], float(minutes[k] * 60), trained


def test_a_finished_runs_curve_keeps_its_last_rollout(trained):
    """The session's end mark (agents.train.mark_session_end) is written at the run's last step, where its
    last rollout's point is: a mark that purged (a SessionLog.START) dropped that point from the curve, in
    plot_curve as in TensorBoard, and every test still passed."""
    from agents.curves import read_scalars

    steps, _, _ = read_scalars(trained, "rollout/score_mean")
    assert steps[-1] == 512  # --total-timesteps 512: its last rollout ends there


def test_curve_events_are_read_once_and_a_resume_hides_the_points_it_logs_again(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    from agents.curves import read_scalars

    # a crash after step 300, whose last checkpoint was step 200: the resume logs step 300 again
    (tmp_path / "tb").mkdir()
    for start, points in ((1000.0, [(1060.0, 100), (1120.0, 200), (1180.0, 300)]), (5000.0, [(5060.0, 300)])):
        with open(tmp_path / "tb" / f"events.out.tfevents.{start:.0f}.host.1.0", "wb") as f:
            writer = RecordWriter(f)
            writer.write(Event(wall_time=start, file_version="brain.Event:2").SerializeToString())
            if start == 5000.0:  # what agents.train.forget_after writes
                writer.write(Event(wall_time=start, step=201,
                                   session_log=SessionLog(status=SessionLog.START)).SerializeToString())
            for wall, step in points:
                summary = Summary(value=[Summary.Value(tag="rollout/score_mean", simple_value=wall)])
                writer.write(Event(wall_time=wall, step=step, summary=summary).SerializeToString())
    opened = []
    real = event_file_loader.RawEventFileLoader.__init__

    def counted(self, file_path, *args, **kwargs):
        opened.append(file_path)
        real(self, file_path, *args, **kwargs)

    monkeypatch.setattr(event_file_loader.RawEventFileLoader, "__init__", counted)
    steps, values, minutes = read_scalars(tmp_path, "rollout/score_mean")
    assert steps.tolist() == [100, 200, 300] and values.tolist() == [1060.0, 1120.0, 5060.0]
    assert minutes.tolist() == pytest.approx([1.0, 2.0, 4.0])  # 3 minutes before the crash, 1 after
    assert len(opened) == len(set(opened)) == 2  # each file read once (a run's videos make them large)


def test_a_curve_of_one_point_is_drawn(tmp_path):
    from PIL import Image
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.record_writer import RecordWriter

    from agents.curves import plot_curve

    (tmp_path / "tb").mkdir()  # a run's first rollout: one point so far
    with open(tmp_path / "tb" / "events.out.tfevents.1000.host.1.0", "wb") as f:
        writer = RecordWriter(f)
        writer.write(Event(wall_time=1000.0, file_version="brain.Event:2").SerializeToString())
        summary = Summary(value=[Summary.Value(tag="rollout/score_mean", simple_value=3.0)])
        writer.write(Event(wall_time=1060.0, step=8192, summary=summary).SerializeToString())
    out = plot_curve(tmp_path, tmp_path / "curve.png")
    image = np.asarray(Image.open(out).convert("RGB")).astype(int)
    right = image[:, image.shape[1] // 2:]  # the wall-clock panel: no legend there, only the curve
    assert (np.abs(right - [0x2A, 0x9D, 0x8F]).sum(axis=2) < 30).any()


def test_a_failed_video_write_keeps_the_old_video(tmp_path, monkeypatch):
    from agents.evaluation import write_video
    from tests.agents.test_evaluation import fake_ffmpeg

    frames = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    path = tmp_path / "best.mp4"
    write_video(frames, path)
    good = path.read_bytes()

    def cut(file, frames):
        file.write_bytes(b"half")
        raise KeyboardInterrupt

    fake_ffmpeg(monkeypatch, cut)
    with pytest.raises(KeyboardInterrupt):
        write_video(frames, path)
    assert path.read_bytes() == good and [p.name for p in tmp_path.iterdir()] == ["best.mp4"]


def test_evaluate_refuses_a_read_only_run_before_playing(trained, scripts, tmp_path, capsys, monkeypatch):
    real_access = os.access
    # Only writing is refused (readable, as a read-only folder is): a check of another mode must not pass.
    monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and not (
        Path(p) == trained and mode & os.W_OK))
    assert scripts.evaluate.main([str(trained), "--episodes", "2"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_a_read_only_run_is_evaluated_into_out(trained, scripts, tmp_path, capsys, monkeypatch):
    # A colleague's run (read-only) could not be evaluated at all: --out was refused with a run folder, and
    # the refusal of the folder named no other place to write.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: real_access(p, mode) and not (
        Path(p) == trained and mode & os.W_OK))
    before = sorted(p.name for p in trained.iterdir())
    assert scripts.evaluate.main([str(trained), "--episodes", "2", "--no-progress"]) == 2
    assert "give --out DIR" in capsys.readouterr().err
    out = tmp_path / "mine" / "evals"
    assert scripts.evaluate.main([str(trained), "--episodes", "2", "--no-progress", "--out", str(out)]) == 0
    # Named after the model file, as one from outside a run: two runs' evaluations in one --out keep theirs.
    stem = f"eval-step512-model-{hashlib.sha1((trained / 'model.zip').read_bytes()).hexdigest()[:8]}"
    result = json.loads((out / f"{stem}.json").read_text())
    assert result["checkpoint"] == str((trained / "model.zip").absolute()) and result["episodes"] == 2
    assert result["video"] == str((out / f"{stem}-best.mp4").absolute())
    assert (out / f"{stem}-best.gif").is_file() and sorted(p.name for p in trained.iterdir()) == before


def test_a_checkpoint_training_deletes_during_the_play_is_evaluated_into_out(trained, scripts, tmp_path,
                                                                            monkeypatch):
    # evaluate.py RUN --checkpoint RUN/checkpoints/step_N.zip --out DIR while RUN trains (it keeps the newest
    # 3): the results' name hashed the file after the play, by then deleted, a FileNotFoundError traceback
    # that lost the episodes played.
    import shutil

    import agents.evaluation

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    ckpt = run / "checkpoints" / "step_256.zip"
    sha = hashlib.sha1(ckpt.read_bytes()).hexdigest()[:8]
    real = agents.evaluation.run_episodes

    def played(*args, **kwargs):
        episodes = real(*args, **kwargs)
        ckpt.unlink()  # the training's newer checkpoints replaced it
        return episodes

    monkeypatch.setattr(agents.evaluation, "run_episodes", played)
    out = tmp_path / "evals"
    assert scripts.evaluate.main([str(run), "--checkpoint", str(ckpt), "--episodes", "2", "--no-progress",
                                  "--no-video", "--out", str(out)]) == 0
    assert json.loads((out / f"eval-step256-step_256-{sha}.json").read_text())["episodes"] == 2


def test_rollout_figures_are_the_mean_and_max_of_the_recent_episodes():
    from types import SimpleNamespace

    from agents.callbacks import MetricsCallback

    logged: dict[str, float] = {}
    logger = SimpleNamespace(record=lambda key, value, exclude=None: logged.__setitem__(key, value))
    episodes = [{"r": 1.0, "l": 5, "t": 0.1, "score": 1.0, "won": 0.0},
                {"r": 4.0, "l": 9, "t": 0.2, "score": 4.0, "won": 1.0},
                {"r": 2.0, "l": 7, "t": 0.3, "score": 2.0, "won": 0.0}]
    callback = MetricsCallback({})
    venv = SimpleNamespace(worker_restarts=0)
    callback.init_callback(SimpleNamespace(ep_info_buffer=episodes, logger=logger, get_env=lambda: venv))
    callback._on_rollout_end()
    assert logged == {"rollout/score_mean": pytest.approx(7 / 3), "rollout/won_mean": pytest.approx(1 / 3),
                      "rollout/score_max": 4.0, "env/worker_restarts": 0}


def test_save_checkpoint_keeps_the_newest_three_and_model_zip(tmp_path):
    from types import SimpleNamespace

    from agents.runs import checkpoints, save_checkpoint

    model = SimpleNamespace(num_timesteps=0, save=lambda f: f.write(str(model.num_timesteps).encode()))
    for step in (256, 512, 768, 1024, 1280):
        model.num_timesteps = step
        save_checkpoint(model, tmp_path)
    assert [s for s, _ in checkpoints(tmp_path)] == [768, 1024, 1280]
    assert (tmp_path / "model.zip").read_bytes() == b"1280"


def test_a_resume_continues_from_the_newest_checkpoint_even_past_model_zip(tmp_path):
    # model.zip lags the newest checkpoint where the disk refused it after the checkpoint was written.
    from agents.runs import latest_checkpoint

    (tmp_path / "checkpoints").mkdir()
    for step in (256, 1024):
        (tmp_path / "checkpoints" / f"step_{step}.zip").write_bytes(b"x")
    (tmp_path / "model.zip").write_bytes(b"x")
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_1024.zip"


def test_the_temp_files_a_killed_save_leaves_are_the_ones_the_next_claim_removes(tmp_path):
    # A save killed mid-write (SIGKILL) leaves its temps: the next trainer removes them, and --force counts
    # them as run files.
    from types import SimpleNamespace

    from agents.runs import claim_run, not_run_files, save_checkpoint

    written: list[Path] = []
    model = SimpleNamespace(num_timesteps=256, save=lambda f: written.append(Path(f.name)))
    save_checkpoint(model, tmp_path)
    assert len(written) == 2 and not any(f.exists() for f in written)
    for f in written:  # as the kill left them
        f.write_bytes(b"half")
    claim_run(tmp_path).close()
    assert not any(f.exists() for f in written)
    for f in written:
        f.write_bytes(b"half")
    assert not_run_files(tmp_path) == []


def test_game_milestones_are_the_best_of_the_run_file_and_the_workers(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import envs
    from agents.callbacks import GameStatsCallback

    class Game:  # what the callback asks of a Game Boy game's class: that it has milestones
        def milestones(self) -> dict[str, float]:
            return {}

    monkeypatch.setattr(envs, "game_class", lambda name: Game)
    # A --resume: the run's bests so far are on file; the new workers start from nothing. A best that no
    # worker reports yet (badges) is logged on from the file, so its curve has no gap.
    (tmp_path / "milestones.json").write_text(json.dumps({"tiles_visited": 40.0, "maps_visited": 2.0,
                                                          "badges": 1.0}))
    per_worker = [{"tiles_visited": 12.0, "maps_visited": 1.0}, {"tiles_visited": 55.0, "maps_visited": 1.0}]
    venv = SimpleNamespace(_slices=[(0, 2), (2, 4)], get_attr=lambda name, indices=None: ["game"],
                           env_method=lambda name, indices=None: per_worker)
    logged: dict[str, float] = {}
    logger = SimpleNamespace(record=lambda key, value, exclude=None: logged.__setitem__(key, value))
    callback = GameStatsCallback(image_every=10**9, run=tmp_path)
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: venv))
    callback._on_training_start()
    callback._on_rollout_end()
    assert logged == {"game/tiles_visited": 55.0, "game/maps_visited": 2.0, "game/badges": 1.0}
    saved = json.loads((tmp_path / "milestones.json").read_text())  # the next --resume starts from these
    assert saved == {"badges": 1.0, "maps_visited": 2.0, "tiles_visited": 55.0}


def test_the_visit_heatmap_is_one_panel_per_worker_at_the_first_rollout_and_every_image_every(monkeypatch):
    """One call per worker process (its first board), the panels side by side, each padded below to the
    tallest and followed by a blank column; the first image at this session's first rollout end, the next
    ones at or past image_every steps after the last."""
    from types import SimpleNamespace

    import envs
    from agents.callbacks import GameStatsCallback

    class Game:  # a Game Boy game with a heatmap and no milestones
        def visit_heatmap(self) -> np.ndarray:
            return np.zeros((1, 1))

    monkeypatch.setattr(envs, "game_class", lambda name: Game)
    calls: list[tuple[str, list[int]]] = []

    def env_method(name, indices=None):
        calls.append((name, list(indices)))
        return [np.full((2, 3), 1.0), np.full((3, 2), 2.0)]

    venv = SimpleNamespace(_slices=[(0, 2), (2, 5)], get_attr=lambda name, indices=None: ["game"],
                           env_method=env_method)
    images: list[tuple[int, object]] = []
    model = SimpleNamespace(num_timesteps=100, get_env=lambda: venv)
    model.logger = SimpleNamespace(record=lambda key, value, exclude=None: images.append(
        (model.num_timesteps, value)) if key == "game/visit_heatmap" else None)
    callback = GameStatsCallback(image_every=500, run=Path("unused"))
    callback.init_callback(model)
    callback._on_training_start()  # a --resume at step 100
    for step in (356, 612, 856, 1112, 1368):
        model.num_timesteps = step
        callback._on_rollout_end()
    assert [step for step, _ in images] == [356, 856, 1368]
    assert calls == [("visit_heatmap", [0, 2])] * 3
    image = images[0][1]
    assert image.dataformats == "HW"
    assert image.image.numpy().tolist() == [[1, 1, 1, 0, 2, 2, 0],
                                            [1, 1, 1, 0, 2, 2, 0],
                                            [0, 0, 0, 0, 2, 2, 0]]


def test_milestones_are_written_only_when_a_best_moves(tmp_path, monkeypatch):
    from types import SimpleNamespace

    import agents.callbacks
    import envs
    from agents.callbacks import GameStatsCallback

    class Game:
        def milestones(self) -> dict[str, float]:
            return {}

    monkeypatch.setattr(envs, "game_class", lambda name: Game)
    written: list[str] = []
    monkeypatch.setattr(agents.callbacks, "atomic_write_text", lambda file, text: written.append(text))
    per_worker = [{"tiles_visited": 3.0}]
    venv = SimpleNamespace(_slices=[(0, 2)], get_attr=lambda name, indices=None: ["game"],
                           env_method=lambda name, indices=None: per_worker)
    logger = SimpleNamespace(record=lambda key, value, exclude=None: None)
    callback = GameStatsCallback(image_every=10**9, run=tmp_path)
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: venv))
    callback._on_training_start()
    callback._on_rollout_end()
    callback._on_rollout_end()
    per_worker[0] = {"tiles_visited": 2.0}  # a restarted worker: below the run's best
    callback._on_rollout_end()
    assert len(written) == 1
    per_worker[0] = {"tiles_visited": 5.0}
    callback._on_rollout_end()
    assert [json.loads(text) for text in written] == [{"tiles_visited": 3.0}, {"tiles_visited": 5.0}]


def test_read_milestones_keeps_only_finite_numbers_and_reads_a_bad_file_as_none(tmp_path):
    from agents.callbacks import read_milestones

    file = tmp_path / "milestones.json"
    assert read_milestones(file) == {}  # missing
    file.write_text(json.dumps({"tiles": 4, "maps": 2.5, "won": True, "nan": float("nan"),
                                "inf": float("inf"), "name": "x", "none": None,
                                "huge": 10**400}))  # no float holds it: math.isfinite raised OverflowError
    assert read_milestones(file) == {"tiles": 4.0, "maps": 2.5}
    # not an object, cut short, empty, not UTF-8
    # ... and nested past json's depth (a RecursionError traceback at a resume)
    for data in (b'[["tiles", 4]]', b'4', b'{"tiles": 4', b"", b'{"tiles": 4, "\xff": 1}', b"[" * 100_000):
        file.write_bytes(data)
        assert read_milestones(file) == {}, data


def test_episode_seeds_may_reach_the_last_64_bit_seed() -> None:
    from agents.cli import check_episode_seeds

    parser = argparse.ArgumentParser()
    check_episode_seeds(parser, 2**64 - 3, 3)  # seeds 2**64-3 .. 2**64-1: all 64-bit
    with pytest.raises(SystemExit):
        check_episode_seeds(parser, 2**64 - 3, 4)


def test_a_full_disk_during_a_checkpoint_is_one_clear_error_and_keeps_the_run(trained, scripts, tmp_path,
                                                                              monkeypatch, capsys):
    import errno

    from stable_baselines3 import PPO

    run = tmp_path / "run"
    shutil.copytree(trained, run)

    def files() -> dict[Path, bytes]:
        return {f.relative_to(run): f.read_bytes()
                for f in [run / "model.zip", *(run / "checkpoints").iterdir()]}

    before = files()

    def save(self, path, *args, **kwargs):  # the disk fills half-way through the periodic checkpoint
        path.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PPO, "save", save)
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--save-every", "256",
                                   "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    file = run / "checkpoints" / "step_768.zip"
    assert (f"error: training stopped at step 768: {file} could not be written (No space left on device); "
            "any file there before is unchanged; continue from its newest checkpoint with: ") in err, err
    assert files() == before
    assert not list(run.rglob("*.tmp*"))


def test_a_full_disk_during_an_evaluation_is_one_clear_error(trained, scripts, tmp_path, capsys, monkeypatch):
    import errno

    import agents.evaluation

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--seed", "5"]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}

    def disk_full(frames):  # the MP4 written, the disk fills during the GIF
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agents.evaluation, "animated_gif", disk_full)
    capsys.readouterr()
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--seed", "900"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert f"error: {run / 'eval-step512.json'} and its videos could not be written (No space left" in err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # all old, none new
    # The figures are still shown (they were lost with the files), without the videos not written.
    assert err.rstrip().endswith("; the figures above are not saved")
    assert out.startswith("snake step 512, 2 episodes: mean score ") and "best episode" not in out
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--seed", "900", "--json"]) == 2
    shown = json.loads(capsys.readouterr().out)
    assert shown["seed"] == 900 and shown["episodes"] == 2 and "video" not in shown and "gif" not in shown


def test_a_full_disk_when_a_resume_rewrites_its_config_is_one_clear_error(trained, scripts, tmp_path,
                                                                          monkeypatch, capsys):
    import errno

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {f.relative_to(run): f.read_bytes() for f in run.rglob("*") if f.is_file()}

    def disk_full(self, text, *args, **kwargs):
        with open(self, "w") as f:
            f.write(text[:5])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: {run}: the run's config.yaml could not be written (No space left on device)" in err
    assert {f.relative_to(run): f.read_bytes() for f in run.rglob("*") if f.is_file()} == before


def test_milestones_the_disk_cannot_take_are_a_run_error_naming_the_file(tmp_path, monkeypatch):
    import errno
    from types import SimpleNamespace

    import envs
    from agents.callbacks import GameStatsCallback
    from agents.runs import RunError

    class Game:
        def milestones(self) -> dict[str, float]:
            return {}

    monkeypatch.setattr(envs, "game_class", lambda name: Game)
    file = tmp_path / "milestones.json"
    file.write_text(json.dumps({"tiles_visited": 40.0}))
    venv = SimpleNamespace(_slices=[(0, 2)], get_attr=lambda name, indices=None: ["game"],
                           env_method=lambda name, indices=None: [{"tiles_visited": 55.0}])
    logger = SimpleNamespace(record=lambda key, value, exclude=None: None)
    callback = GameStatsCallback(image_every=10**9, run=tmp_path)
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: venv))
    callback._on_training_start()

    def disk_full(self, text, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)  # train_ppo.py says a RunError in one line
    with pytest.raises(RunError, match=rf"{file} could not be written \(No space left on device\)"):
        callback._on_rollout_end()
    assert json.loads(file.read_text()) == {"tiles_visited": 40.0}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["milestones.json"]


def test_resuming_a_run_on_a_read_only_disk_is_one_clear_error(trained, scripts, tmp_path, monkeypatch,
                                                                capsys):
    import errno

    import agents.runs

    def read_only(file, *args, **kwargs):  # a run folder on a read-only mount (root writes anywhere else)
        raise OSError(errno.EROFS, "Read-only file system", str(file))

    monkeypatch.setattr(agents.runs, "open", read_only, raising=False)
    capsys.readouterr()
    argv = ["--resume", str(trained), "--total-timesteps", "1024", "--no-progress"]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"error: --resume {trained}: cannot write in the run folder (Read-only file system)" in err


@pytest.mark.parametrize("given", [True, False], ids=["run-dir", "default"])
def test_a_run_folder_the_full_disk_cannot_hold_is_one_clear_error(scripts, tmp_path, monkeypatch, capsys,
                                                                   given):
    import errno

    real = Path.mkdir

    def disk_full(self, *args, **kwargs):
        if self.name.startswith("new") or self.name.startswith("tiny-s"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Path, "mkdir", disk_full)
    argv = ["--env", "snake", *TINY, *(["--run-dir", str(tmp_path / "new")] if given else [])]
    capsys.readouterr()
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "the run folder cannot be made (No space left on device)" in err
    assert given or "free some space, or give --run-dir" in err  # what to change, where no flag named it
    assert not (tmp_path / "new").exists() and not list((tmp_path / "runs" / "snake").glob("*"))


def test_a_run_stopped_past_a_video_step_makes_it_when_resumed(scripts, tmp_path, monkeypatch, capsys):
    """Stopped at step 320, past the --video-every multiple 300 but before the update on that rollout
    (512): no video yet, and the resumed run counted from 320 to the next multiple, 600, so the step-300
    video never came. A checkpoint taken after its rollout's video makes no second one."""
    from agents.callbacks import StopCallback

    def stop_at_320(self):
        if self.model.num_timesteps == 320:
            raise KeyboardInterrupt
        return True

    monkeypatch.setattr(StopCallback, "_on_step", stop_at_320)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "1024", "--video-every", "300",
                                   "--run-dir", str(run), *TINY]) == 0
    assert "interrupted at step 320:" in capsys.readouterr().err
    assert "rollout/video" not in events(run).Tags()["images"]
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "576", "--no-progress"]) == 0
    assert [e.step for e in events(run).Images("rollout/video")] == [576]  # the first rollout end past 300
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "832", "--no-progress"]) == 0
    assert [e.step for e in events(run).Images("rollout/video")] == [576, 832]  # 600's, not 300's again


@pytest.mark.parametrize("made, step, every, due, kept", [
    (None, 0, 300, 300, 0), (0, 320, 300, 300, 0), (300, 576, 300, 600, 300), (300, 576, 256, 512, 300),
    (1200, 0, 300, 300, 0), (None, 576, 256, 768, 512), (300, 300, 256, 512, 300)])
def test_the_next_video_follows_the_last_one_made(made, step, every, due, kept):
    """After the last video made (kept on the model), in the run's --video-every; a learn() that reset the
    step count below it (a second model.learn() in one process) starts the schedule again. The model keeps
    the multiple whose video was made last (the checkpoint's step rounded down where it has none): a
    later --resume with another --video-every counts from it."""
    from types import SimpleNamespace

    from agents.callbacks import VideoCallback

    callback = VideoCallback("snake", {}, every)
    model = SimpleNamespace(num_timesteps=step)
    if made is not None:
        setattr(model, VideoCallback.MADE, made)
    callback.model = model
    callback._on_training_start()
    assert (callback._next, getattr(model, VideoCallback.MADE)) == (due, kept)


def test_a_video_films_one_deterministic_capped_episode_at_its_step(tmp_path, monkeypatch):
    """fire(): the callback's seed and max_steps, the episode's frames replayed at its scale, the image's
    size as (height, width) of a frame that is not square, written at the step it was made, its score, and
    the multiple of --video-every it was made for kept on the model (a --resume counts from it)."""
    from types import SimpleNamespace

    from stable_baselines3.common.logger import configure

    import agents.callbacks
    from agents.callbacks import VideoCallback
    from agents.evaluation import Episode

    played: list[dict] = []

    def run_episodes(model, env, env_kwargs, episodes, seed=0, max_steps=0, deterministic=True):
        played.append({"env": env, "kwargs": env_kwargs, "episodes": episodes, "seed": seed,
                       "max_steps": max_steps, "deterministic": deterministic})
        return [Episode(seed=seed, actions=[1, 2], score=3.0, length=2, ret=1.0, info={})]

    def replay_frames(env, env_kwargs, seed, actions, scale=16):
        assert (seed, actions, scale) == (77, [1, 2], 4)
        frames = np.zeros((len(actions) + 1, 12, 20, 3), dtype=np.uint8)  # 12 high, 20 wide
        frames[:] = np.arange(len(frames))[:, None, None, None] * 80  # each its own: Pillow merges repeats
        return frames

    monkeypatch.setattr(agents.callbacks, "run_episodes", run_episodes)
    monkeypatch.setattr(agents.callbacks, "replay_frames", replay_frames)
    logger = configure(str(tmp_path), ["tensorboard"])
    callback = VideoCallback("rotation", {"size": 5}, every=300, max_steps=40, seed=77, scale=4)
    callback.init_callback(SimpleNamespace(num_timesteps=0, logger=logger, get_env=lambda: None))
    callback._on_training_start()
    callback.model.num_timesteps = 768
    callback._on_rollout_end()  # before the update on the rollout: nothing yet
    assert played == []
    callback._on_rollout_start()
    assert played == [{"env": "rotation", "kwargs": {"size": 5}, "episodes": 1, "seed": 77, "max_steps": 40,
                       "deterministic": True}]
    assert getattr(callback.model, VideoCallback.MADE) == 600
    logger.close()  # no dump: the score is written at the video's step, not at the logger's next one
    ea = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    ea.Reload()
    [video] = ea.Images("rollout/video")
    assert (video.step, video.height, video.width) == (768, 12, 20)
    from PIL import Image

    gif = Image.open(io.BytesIO(video.encoded_image_string))
    durations = []
    for k in range(gif.n_frames):
        gif.seek(k)
        durations.append(gif.info["duration"])
    assert durations == [1000 / RENDER_FPS, 1000 / RENDER_FPS, 1000]  # evaluate.py's rate, the end held 1 s
    assert [(e.step, e.value) for e in ea.Scalars("rollout/video_score")] == [(768, 3.0)]


@pytest.mark.parametrize("recurrent", [False, True])
def test_a_model_loaded_to_play_allocates_no_rollout_buffer_nor_optimizer(tmp_path, recurrent):
    """Evaluation, export and compare load with no env: SB3 allocated the run's whole rollout buffer
    (n_steps × n_envs observations, 150 MiB here) and an optimizer in every process that only plays."""
    import torch

    from agents.runs import RunError
    from agents.train import algorithm, build_model, load_model
    from envs import make_vec

    cfg = {"env": "snake", "policy": "tiny", "device": "cpu", "seed": 0, "recurrent": recurrent,
           "ppo": {"n_steps": 2048, "batch_size": 256, "n_epochs": 1}}
    venv = make_vec("snake", 16, num_workers=0, seed=0, obs="pixels")
    try:
        build_model(cfg, venv).save(tmp_path / "model.zip")
        obs = venv.reset()
    finally:
        venv.close()
    played = load_model(cfg, tmp_path / "model.zip")
    stock = algorithm(cfg).load(tmp_path / "model.zip", device="cpu")  # the file is as SB3 wrote it
    assert stock.rollout_buffer.observations.nbytes >= 2048 * 16 * obs[0].nbytes  # what it cost
    assert played.rollout_buffer.observations.nbytes <= 2 * obs[0].nbytes
    assert played.num_timesteps == stock.num_timesteps
    # Nor an optimizer: building a torch one imports torch._dynamo, ~2 s of each process that plays.
    assert isinstance(stock.policy.optimizer, torch.optim.Optimizer)
    assert not isinstance(played.policy.optimizer, torch.optim.Optimizer)
    assert stock.policy.ortho_init and not played.policy.ortho_init  # its weights are the checkpoint's
    with pytest.raises(RunError, match=r"a model loaded to play .* has no optimizer to save"):
        played.save(tmp_path / "again.zip")
    with torch.no_grad():  # the same policy: the same action probabilities for the same boards
        if recurrent:
            starts = np.ones(len(obs), dtype=bool)
            a, _ = played.predict(obs, state=None, episode_start=starts, deterministic=True)
            b, _ = stock.predict(obs, state=None, episode_start=starts, deterministic=True)
            assert np.array_equal(a, b)
        else:
            t = torch.as_tensor(obs)
            assert torch.equal(played.policy.get_distribution(t).distribution.probs,
                               stock.policy.get_distribution(t).distribution.probs)


def test_a_stop_closes_the_progress_bar_before_saying_where_the_run_stopped(scripts, tmp_path, monkeypatch,
                                                                            capsys):
    """The bar was left open on a stop: its last line came after the "interrupted ... continue with" lines
    (when the interpreter freed it), so the command to resume was not the last thing on the screen."""
    import gc

    from agents.callbacks import VideoCallback

    def stop(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(VideoCallback, "fire", stop)
    run = tmp_path / "run"
    args = [a for a in TINY if a != "--no-progress"]
    # Stopped at 512, one rollout short of the run's end: still interrupted, not done.
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "768", "--video-every", "512",
                                   "--run-dir", str(run), *args]) == 0
    gc.collect()
    out, err = capsys.readouterr()
    assert "step" in err.split("interrupted at step")[0]  # the bar was shown
    assert err.rstrip().splitlines()[-1].startswith("continue with: ")
    assert "interrupted at step 512:" in err and "done:" not in out


def test_the_model_file_played_is_the_checkpoint_given_else_model_zip_else_the_newest(tmp_path):
    """evaluate, the export and compare choose the model to play through one helper, in this order."""
    from agents.runs import RunError, model_file

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    with pytest.raises(RunError, match=r"no checkpoint to load.*give another run$"):
        model_file(run, None, "give another run")
    for step in (100, 2000):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"x")
    assert model_file(run, None, "-") == run / "checkpoints" / "step_2000.zip"
    (run / "model.zip").write_bytes(b"x")
    assert model_file(run, None, "-") == run / "model.zip"  # the finished model beats a later checkpoint
    given = run / "checkpoints" / "step_100.zip"
    given.write_bytes(b"PK\x03\x04")  # a zip's start: whether it loads is load_model's to say
    assert model_file(run, str(given), "-") == given
    with pytest.raises(RunError, match="is a folder"):
        model_file(run, run, "-")


def test_a_checkpoint_given_that_is_no_zip_is_refused_naming_the_runs_checkpoints(tmp_path):
    """A --checkpoint that is not a zip (config.yaml given by mistake) ended evaluate, the export and
    compare with zipfile's "BadZipFile: File is not a zip file": now it says what to give instead."""
    from agents.runs import RunError, model_file

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\n")
    with pytest.raises(RunError) as e:
        model_file(run, run / "config.yaml", "-")
    assert str(e.value) == (f"--checkpoint {run / 'config.yaml'} is not a checkpoint (a model file SB3 "
                            f"saved, a .zip); the run's are in {run / 'checkpoints'} and {run / 'model.zip'}")


def test_a_checkpoint_given_that_cannot_be_read_goes_on_to_load_model(tmp_path, monkeypatch):
    """model_file reads a --checkpoint's first bytes only to tell a zip; a file it cannot read (root reads
    every file, so the error is made here) is left to load_model, whose message names the reason."""
    import agents.runs

    def unreadable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    given = tmp_path / "step_100.zip"
    given.write_bytes(b"PK\x03\x04")
    monkeypatch.setattr(agents.runs, "open", unreadable, raising=False)
    assert agents.runs.model_file(tmp_path, given, "-") == given


def test_load_model_refuses_a_fifo_at_once(tmp_path):
    """A FIFO in place of a run's newest checkpoint (train_ppo.py --resume RUN): zipfile's open waited for a
    writer, and the resume hung without a word."""
    from agents.runs import RunError
    from agents.train import load_model
    from tests.conftest import without_waiting_on

    fifo = tmp_path / "step_100.zip"
    os.mkfifo(fifo)
    raised = without_waiting_on(fifo, lambda: load_model({"env": "snake", "device": "cpu"}, fifo))
    assert isinstance(raised, RunError)
    assert str(raised) == f"cannot load checkpoint {fifo}: it is a FIFO (named pipe), not a file"


def test_output_names_are_short_safe_slugs_and_a_hard_link_to_an_input_is_that_input(tmp_path):
    """file_slug names evaluate's and compare's files after a model or player: at most 60 characters of
    letters, digits, '.', '_' and '-' (a long local model path made a name past the 255 bytes a file name
    may hold). check_output_file refuses an output that is one of the inputs, a hard link to it too."""
    from agents.outputs import check_output_file, same_file
    from agents.runs import file_slug

    assert file_slug("Qwen/Qwen2.5-VL-7B Instruct", "vlm") == "Qwen-Qwen2.5-VL-7B-Instruct"
    long = file_slug("/models/" + "finetuned-" * 40 + "final", "vlm")
    assert long == ("models-" + "finetuned-" * 40)[:60] and len(long) == 60
    assert file_slug("//: ?", "player") == "player"
    rom = tmp_path / "game.gb"
    rom.write_bytes(b"rom")
    link = tmp_path / "copy.gb"
    os.link(rom, link)
    assert same_file(link, rom) and not same_file(tmp_path / "other.gb", rom)
    with pytest.raises(ValueError, match=r"--out .* is the --rom file"):
        check_output_file(link, "--out", True, {"--rom": rom})
    check_output_file(tmp_path / "new.gb", "--out", False, {"--rom": rom})


def test_hparams_flattens_sections_and_writes_other_values_as_text():
    """TensorBoard's hparams take one level of bool/int/float/str values: a section is flattened to
    section.key (each PPO setting its own column) and anything else is written as text (None, and a list
    such as Sokoban's num_boxes range, which torch's hparams writer refuses with a ValueError)."""
    from agents.train import hparams

    cfg = {"env": "sokoban", "seed": 0, "recurrent": False, "lr": 3e-4, "device": None,
           "ppo": {"n_steps": 64, "gamma": 0.99}, "env_kwargs": {"num_boxes": [1, 2], "difficulty": "hard"}}
    assert hparams(cfg) == {"env": "sokoban", "seed": 0, "recurrent": False, "lr": 3e-4, "device": "None",
                            "ppo.n_steps": 64, "ppo.gamma": 0.99, "env_kwargs.num_boxes": "[1, 2]",
                            "env_kwargs.difficulty": "hard"}


def three_damaged_checkpoints(tmp_path: Path) -> Path:
    """A Snake run holding checkpoints of steps 100, 2,000 and 30,000, none of them a zip."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "snake", "recurrent": False, "device": "cpu",
                                                     "policy": "tiny"}))
    for step in (100, 2000, 30000):
        (run / "checkpoints" / f"step_{step}.zip").write_bytes(b"not a zip")
    return run


def test_a_damaged_checkpoint_names_the_newest_older_one_to_resume_from(scripts, tmp_path, capsys):
    """--resume loads the newest checkpoint; once the damaged one is moved away it takes the next newest, so
    that is the one the message offers (not the oldest kept)."""
    run = three_damaged_checkpoints(tmp_path)
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot load checkpoint " + str(run / "checkpoints" / "step_30000.zip") in err
    assert err.rstrip().endswith("to resume from " + str(run / "checkpoints" / "step_2000.zip"))


def test_a_damaged_checkpoint_beside_a_model_zip_names_the_newest_older_one(scripts, tmp_path, capsys):
    # With model.zip the same save, going back moves both away: --resume then takes the next newest
    # checkpoint, the one to name (not the oldest kept).
    run = three_damaged_checkpoints(tmp_path)
    with zipfile.ZipFile(run / "model.zip", "w") as z:  # as far as saved_step reads it
        z.writestr("data", json.dumps({"num_timesteps": 30000}))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith(f"; {run / 'model.zip'} holds the same step: copy it over step_30000.zip to "
                                 "resume from there, or move both out of the way to go back to "
                                 f"{run / 'checkpoints' / 'step_2000.zip'}"), err
    # A model.zip of an older save (a stop's, before the newer checkpoints): the damaged one moved away,
    # --resume takes the next newest checkpoint, not model.zip.
    with zipfile.ZipFile(run / "model.zip", "w") as z:
        z.writestr("data", json.dumps({"num_timesteps": 2000}))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith("; move it out of the way to resume from "
                                 f"{run / 'checkpoints' / 'step_2000.zip'}"), err
    # Nothing else to resume from: no model.zip is named, which is not there.
    for gone in ("model.zip", "checkpoints/step_100.zip", "checkpoints/step_2000.zip"):
        (run / gone).unlink()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert capsys.readouterr().err.rstrip().endswith("; start the run again, as it has no other model file")


@pytest.mark.parametrize("damage", ["cut_short", "member_corrupt", "member_garbage"])
def test_a_damaged_zip_checkpoint_ends_every_command_with_one_line_naming_another(trained, scripts, tmp_path,
                                                                                  capsys, damage):
    """A checkpoint zip cut short (its first 60%) or with a corrupt member (its central directory intact)
    passes the "is not a checkpoint" check: each command that loads one said only zipfile's or SB3's own
    words ("File is not a zip file", "wasn't a zip-file"), with no file to use instead, and --resume on two
    lines. Now: one line naming the file, saying it is damaged or cut short, and the file to use instead;
    nothing written. A member of garbage in a sound zip: torch's refusal advised weights_only=False."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    good = (run / "checkpoints" / "step_512.zip").read_bytes()
    if damage == "cut_short":
        bad = good[:len(good) * 6 // 10]
    elif damage == "member_garbage":
        rewritten = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good)) as z, zipfile.ZipFile(rewritten, "w") as out:
            for item in z.infolist():
                out.writestr(item, b"garbage" * 100 if item.filename == "policy.pth" else z.read(item))
        bad = rewritten.getvalue()
    else:
        with zipfile.ZipFile(run / "checkpoints" / "step_512.zip") as z:
            at = z.getinfo("policy.pth").header_offset + 200
        bad = good[:at] + bytes(b ^ 0xFF for b in good[at:at + 200]) + good[at + 200:]
    given = tmp_path / "given.zip"
    given.write_bytes(bad)
    out = tmp_path / "out"
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    for main, argv in ((scripts.evaluate.main, [str(run), "--episodes", "1", "--no-video"]),
                       (scripts.export_trajectories.main, [str(run), "--out", str(out), "--no-progress",
                                                         "--formats", "verl"]),  # any without `datasets`
                       (scripts.compare.main, ["--env", "snake", "--specialist", str(run), "--out", str(out),
                                               "--no-progress"])):
        assert main([*argv, "--checkpoint", str(given)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert err.startswith(f"error: cannot load checkpoint {given}: it is damaged or cut short ("), err
        assert err.endswith(f"; the run's model.zip may load: --checkpoint {run / 'model.zip'}\n"), err
        assert "weights_only" not in err, err
        if damage == "member_garbage":
            # SB3 2.7.1 (its floor) unpickles the member without weights_only: the plain unpickler's words.
            assert ("(UnpicklingError: WeightsUnpickler error: Unsupported operand 103); " in err
                    or "(UnpicklingError: pickle data was truncated); " in err), err
    (run / "checkpoints" / "step_512.zip").write_bytes(bad)  # the newest, which --resume takes
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: cannot load checkpoint {run / 'checkpoints' / 'step_512.zip'}: it is "
                          "damaged or cut short (") and err.endswith(
        f"; {run / 'model.zip'} holds the same step: copy it over step_512.zip to resume from there, or "
        f"move both out of the way to go back to {run / 'checkpoints' / 'step_256.zip'}\n"), err
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before and not out.exists()
    # Each way on works: model.zip copied over the damaged one resumes at its step.
    shutil.copy(run / "model.zip", run / "checkpoints" / "step_512.zip")
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "768", "--no-progress"]) == 0


@pytest.mark.parametrize("recurrent", [False, True])
def test_a_stop_in_the_last_rollout_past_the_total_is_resumed_by_learning_a_whole_one(scripts, tmp_path,
                                                                                       monkeypatch, capsys,
                                                                                       recurrent):
    """Steps pass --total-timesteps within the last rollout, which PPO learns from only once whole: a Ctrl-C
    there (step 400 of 300, rollouts of 256) said "done: 400 steps" with that rollout unlearned, and --resume
    refused the run as already at its total. It is now a stop like any other, and --resume learns one more
    whole rollout. A run stopped in its last update is still done."""
    from sb3_contrib import RecurrentPPO
    from stable_baselines3 import PPO

    from agents.callbacks import ProgressCallback, StopCallback

    algo = RecurrentPPO if recurrent else PPO
    on_step = StopCallback._on_step

    def interrupt_at_400(self):
        if self.model.num_timesteps == 400:
            os.kill(os.getpid(), signal.SIGINT)
        return on_step(self)

    monkeypatch.setattr(StopCallback, "_on_step", interrupt_at_400)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "300", "--run-dir", str(run),
                                   *TINY, *(["--recurrent"] if recurrent else [])]) == 0
    err = capsys.readouterr().err
    assert f"interrupted at step 400: saved {run / 'checkpoints' / 'step_400.zip'}" in err, err
    stopped = algo.load(run / "model.zip")
    assert stopped.num_timesteps == 400 and stopped._n_updates == 1  # the first rollout's update only
    monkeypatch.undo()
    bars = []  # the bar's steps and end as it closes: it ended at step 400, the run's stop, and read 656/400
    close = ProgressCallback.close

    def close_noting_the_bar(self):
        bars.append((self.bar.n, self.bar.total))
        close(self)

    monkeypatch.setattr(ProgressCallback, "close", close_noting_the_bar)
    assert scripts.train_ppo.main(["--resume", str(run)]) == 0
    assert "done: 656 steps" in capsys.readouterr().out
    assert bars == [(656, 656)]
    resumed = algo.load(run / "model.zip")
    assert resumed.num_timesteps == 656 and resumed._n_updates == 2
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2  # now finished
    assert "already at step 656" in capsys.readouterr().err


def test_a_run_stopped_with_no_checkpoint_names_a_command_that_starts_it_again(scripts, tmp_path,
                                                                               monkeypatch, capsys):
    """A stop with nothing saved said "start the run again": its folder (tb/, config.yaml) stays, so the
    same command is refused (the --run-dir is not empty) and --resume has no checkpoint. It now names the
    run's command with --force and --run-dir, which starts it again in that folder."""
    _stop_at_512_with_saves_refused(monkeypatch, _worker_died)
    run = tmp_path / "run"
    argv = ["--env", "snake", "--total-timesteps", "1024", "--save-every", "100000", "--run-dir", str(run),
            *TINY]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err.rstrip()
    assert "start the run again, as it has no checkpoint to continue from: " in err, err
    monkeypatch.undo()
    assert scripts.train_ppo.main(argv) == 2  # the same command: refused, not told to --resume it
    assert "holds a run stopped before its first checkpoint (nothing to resume); pass --force" in (
        capsys.readouterr().err)
    command = shlex.split(err.rsplit("no checkpoint to continue from: ", 1)[1])
    env = shlex.split(RECORDED_ENV)  # the tests' PYTHONPATH, if any, before the interpreter
    assert command[3:3 + len(env)] == env
    del command[3:3 + len(env)]
    assert command[:4] == ["cd", os.getcwd(), "&&", sys.executable] and "--force" in command
    assert command[4].endswith("train_ppo.py")
    assert scripts.train_ppo.main(command[5:]) == 0
    assert (run / "model.zip").is_file()


@pytest.mark.parametrize("recorded", [["--run-dir", "old"], ["--run-dir=old"], []])
def test_the_restart_command_names_the_run_folder_it_is_for(tmp_path: Path, recorded: list[str]) -> None:
    # A run moved or copied (or its relative --run-dir read from another directory) kept the --run-dir its
    # command.txt recorded: with --force, the advice to start it again replaced that other folder's run.
    from agents.runs import restart_command

    run = tmp_path / "moved"
    run.mkdir()
    (run / "command.txt").write_text(shlex.join(["train_ppo.py", "--env", "snake", *recorded]) + "\n")
    own = [f"--run-dir={run}"] if recorded == ["--run-dir=old"] else ["--run-dir", str(run)]
    assert shlex.split(restart_command(run) or "") == ["train_ppo.py", "--env", "snake", *own, "--force"]


def test_a_damaged_only_checkpoint_names_the_runs_model_zip_to_resume_from(scripts, tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "snake", "recurrent": False, "device": "cpu",
                                                     "policy": "tiny"}))
    (run / "checkpoints" / "step_30000.zip").write_bytes(b"not a zip")
    (run / "model.zip").write_bytes(b"its final model")  # what --resume takes once the checkpoint is away
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot load checkpoint " + str(run / "checkpoints" / "step_30000.zip") in err
    assert err.rstrip().endswith("move it out of the way to resume from " + str(run / "model.zip")), err


@pytest.mark.parametrize("kind", ["numpy", "cpu", "cuda", "bug"])
def test_a_rollout_buffer_torch_cannot_allocate_is_named_and_other_errors_pass(scripts, tmp_path, capsys,
                                                                               monkeypatch, kind):
    # The memory check counts what a rollout takes in RAM, not a GPU's; torch's allocator may still refuse
    # it (other processes' memory). Any other RuntimeError is a bug: its traceback is kept.
    import torch

    import agents.train

    error = {"numpy": MemoryError(), "cpu": RuntimeError("DefaultCPUAllocator: not enough memory"),
             "cuda": torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 ..."),
             "bug": RuntimeError("a torch bug")}[kind]

    def refused(*args, **kwargs):
        raise error

    monkeypatch.setattr(agents.train, "build_model", refused)
    argv = ["--env", "snake", "--run-dir", str(tmp_path / "run"), *REFUSED]
    if kind == "bug":
        with pytest.raises(RuntimeError, match="a torch bug"):
            scripts.train_ppo.main(argv)
    else:
        assert scripts.train_ppo.main(argv) == 2
        memory = "the GPU's memory (2.00 GiB more refused)" if kind == "cuda" else "this machine's memory"
        assert (f"error: the rollout buffer (ppo.n_steps 32 × --num-envs 8 observations) does not fit in "
                f"{memory}; use a smaller --set ppo.n_steps or --num-envs") in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # the run never started


# torch's CPU allocator's refusal, as a run under ulimit -v met it in the first rollout's forward pass.
CPU_ALLOC = ("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you "
             "tried to allocate 512000000 bytes. Error code 12 (Cannot allocate memory)")


# NumPy's refusal, a MemoryError (a --recurrent run's rollout buffer, a board's arrays), in its own wording.
NUMPY_ALLOC = "Unable to allocate 3.00 GiB for an array with shape (3221225472,) and data type uint8"


@pytest.mark.parametrize("error, size", [(RuntimeError, "488 MiB"), (MemoryError, "3.00 GiB")])
def test_a_resume_whose_rollout_buffer_torch_cannot_allocate_is_not_called_a_damaged_checkpoint(
        trained, scripts, tmp_path, capsys, monkeypatch, error, size):
    # SB3's load allocates the rollout buffer: torch's refusal there, a RuntimeError, read as a damaged
    # checkpoint, with advice to move a sound file out of the way. NumPy's, a MemoryError, is said alike.
    from agents.buffers import DeviceRolloutBuffer

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {f: f.read_bytes() for f in run.rglob("*.zip")}

    def refused(self):
        raise error(CPU_ALLOC if error is RuntimeError else NUMPY_ALLOC)

    monkeypatch.setattr(DeviceRolloutBuffer, "reset", refused)
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: the rollout buffer (ppo.n_steps 32 × --num-envs 8 observations) does not fit in "
                   f"this machine's memory ({size} more refused); a --resume keeps both: free the memory "
                   "other programs hold, or resume with another --device\n"), err
    assert {f: f.read_bytes() for f in run.rglob("*.zip")} == before


def test_a_model_to_play_that_memory_cannot_hold_is_not_called_a_damaged_checkpoint(trained, scripts, capsys,
                                                                                    monkeypatch):
    # evaluate.py --device cuda on a GPU a training run fills: torch's OutOfMemoryError (a RuntimeError) in
    # the load was read as a damaged checkpoint, with another model file offered in its place.
    import torch
    from stable_baselines3 import PPO

    from agents.runs import RunError, read_run_config
    from agents.train import load_model

    refusal: list[BaseException] = [RuntimeError(CPU_ALLOC)]

    def full(*args, **kwargs):
        raise refusal[0]

    monkeypatch.setattr(PPO, "load", full)
    assert scripts.evaluate.main([str(trained), "--episodes", "2"]) == 2
    assert capsys.readouterr().err == (f"error: cannot load checkpoint {trained / 'model.zip'} onto cpu: it "
                                       "does not fit in this machine's memory (488 MiB more refused)\n")
    refusal[0] = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a "
                                             "total capacity of 79.11 GiB of which 3.06 MiB is free.")
    with pytest.raises(RunError) as e:
        load_model(read_run_config(trained), trained / "model.zip", device="cuda:0", run=trained)
    assert str(e.value) == (f"cannot load checkpoint {trained / 'model.zip'} onto cuda:0: it does not fit in "
                            "the GPU's memory (20.00 MiB more refused); free it, or use --device cpu")


def test_memory_running_out_in_a_rollout_after_an_update_saves_a_checkpoint_that_resumes(
        scripts, tmp_path, capsys, monkeypatch):
    # The checks count buffers, not the network's passes over them: torch's refusal in a rollout's forward
    # pass of every board (60,000 Snake boards under ulimit -v 6000000) was a traceback, all training lost.
    # The failed step's tensors, which the traceback's frames hold, are freed before the save that needs
    # memory of its own.
    import gc
    import weakref

    from stable_baselines3.common.policies import ActorCriticPolicy

    import agents.train

    forward, calls, held = ActorCriticPolicy.forward, [], []

    class Activations:  # what the failed forward pass had allocated
        pass

    def running_out(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 41:  # the second rollout's ninth step (32 a rollout), after the first update
            activations = Activations()
            held.append(weakref.ref(activations))
            raise RuntimeError(CPU_ALLOC)
        return forward(self, *args, **kwargs)

    save, freed = agents.train.save_checkpoint, []

    def saving(model, run, keep):
        gc.collect()
        freed.append(held[0]() is None)
        return save(model, run, keep)

    monkeypatch.setattr(ActorCriticPolicy, "forward", running_out)
    monkeypatch.setattr(agents.train, "save_checkpoint", saving)
    run = tmp_path / "run"
    argv = ["--env", "snake", "--total-timesteps", "512", "--save-every", "100000", "--video-every", "100000",
            "--run-dir", str(run), *TINY]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    saved = run / "checkpoints" / "step_320.zip"
    assert err.startswith(
        f"error: training stopped at step 320 (saved {saved}): out of this machine's memory (488 MiB more "
        "refused) in a rollout step, which passes all --num-envs 8 boards through the network at once: use a "
        "smaller --num-envs or --policy in a new run, or free the memory other programs hold: a --resume "
        f"keeps them; continue with: {PYTHON} scripts/train_ppo.py --resume"), err
    assert "Traceback" not in err and freed == [True]
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0  # memory free again
    out = capsys.readouterr().out
    assert "from step_320.zip at step 320" in out and "done: 576 steps" in out, out  # a new whole rollout


def test_memory_running_out_before_a_resumed_runs_first_update_saves_nothing_and_resumes_it(
        trained, scripts, tmp_path, capsys, monkeypatch):
    # No update since the --resume: nothing is saved (the checkpoint it continued from holds all it
    # trained), and the --resume from that checkpoint is offered again.
    from stable_baselines3.common.policies import ActorCriticPolicy

    def running_out(self, *args, **kwargs):
        raise RuntimeError(CPU_ALLOC)

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = {f: f.read_bytes() for f in run.rglob("*.zip")}
    monkeypatch.setattr(ActorCriticPolicy, "forward", running_out)
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    # The --resume keeps --num-envs and --policy: said, as after an update (it named them alone, beside a
    # --resume that refuses both).
    assert err == ("error: training stopped at step 512: out of this machine's memory (488 MiB more "
                   "refused) in a rollout step, which passes all --num-envs 8 boards through the network at "
                   "once: use a smaller --num-envs or --policy in a new run, or free the memory other "
                   "programs hold: a --resume keeps them; continue from its newest checkpoint with: "
                   f"{PYTHON} scripts/train_ppo.py --resume {run}\n"), err
    assert {f: f.read_bytes() for f in run.rglob("*.zip")} == before


def test_memory_running_out_in_the_first_update_saves_nothing_and_names_the_batch_size(scripts, tmp_path,
                                                                                      capsys, monkeypatch):
    # Nothing trained: a checkpoint of the untrained network would be offered as a --resume that runs out
    # again. The same on a GPU, whose refusal is torch's OutOfMemoryError.
    import torch
    from stable_baselines3.common.policies import ActorCriticPolicy

    def running_out(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total "
                                          "capacity of 79.11 GiB of which 1.06 GiB is free.")

    monkeypatch.setattr(ActorCriticPolicy, "evaluate_actions", running_out)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "512", "--run-dir", str(run),
                                   *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: training stopped at step 256: out of the GPU's memory (2.00 GiB more refused) in an update "
        "step, which passes ppo.batch_size 128 observations through the network and back: use a smaller "
        "--set ppo.batch_size or --policy; start the run again, as it has no checkpoint to continue "
        "from: "), err
    assert f"--run-dir {run} " in err and err.endswith(" --force\n") and "Traceback" not in err
    assert not (run / "checkpoints").exists() and not (run / "model.zip").exists()


@pytest.mark.parametrize("error, size", [(RuntimeError, "488 MiB"), (MemoryError, "3.00 GiB")])
def test_memory_running_out_as_learn_first_resets_the_boards_names_num_envs(scripts, tmp_path, capsys,
                                                                           monkeypatch, error, size):
    # SB3's learn() resets every board before its first rollout (under a limit 0.4 GB above what torch maps,
    # 40,000 Snake boards ran out there): the line named no step and both settings. The boards' arrays are
    # NumPy's, whose refusal is a MemoryError.
    from envs.vector import GameVecEnv

    def refused(self):
        raise error(CPU_ALLOC if error is RuntimeError else NUMPY_ALLOC)

    monkeypatch.setattr(GameVecEnv, "reset", refused)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *REFUSED]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: training stopped at step 0: out of this machine's memory ({size} more refused) as all "
        "--num-envs 8 boards were first reset: use a smaller --num-envs; start the run again")


@pytest.mark.parametrize("workers", [0, 1])
def test_memory_running_out_in_the_games_step_names_num_envs_not_the_network(scripts, tmp_path, capsys,
                                                                            monkeypatch, workers):
    # NumPy refusing an array in the games' step was described as the network's pass over every board, with
    # --policy to change. In process the game's own step raises; a worker's error is raised again in the
    # parent by the vector env (envs.vector._raise), as a worker's MemoryError is.
    import envs.vector
    from envs.snake import Snake

    steps = []

    def count(*args) -> bool:
        steps.append(1)
        return len(steps) == 3

    if workers:
        call_all = envs.vector.GameVecEnv._call_all

        def failing(self, cmd, *args, **kwargs):
            if cmd == "step" and count():
                envs.vector._raise("worker 0 failed on 'step'", "raise", (MemoryError(NUMPY_ALLOC), "tb"))
            return call_all(self, cmd, *args, **kwargs)

        monkeypatch.setattr(envs.vector.GameVecEnv, "_call_all", failing)
    else:
        step = Snake.step

        def running_out(self, *args, **kwargs):
            if count():
                raise MemoryError(NUMPY_ALLOC)
            return step(self, *args, **kwargs)

        monkeypatch.setattr(Snake, "step", running_out)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *REFUSED, "--num-workers",
                                   str(workers)]) == 2
    assert capsys.readouterr().err.startswith(
        "error: training stopped at step 16: out of this machine's memory (3.00 GiB more refused) in a "
        "rollout step, as the games stepped all --num-envs 8 boards: use a smaller --num-envs; start the "
        "run again")


def test_memory_running_out_in_the_self_play_opponents_pass_names_the_policy(scripts, tmp_path, capsys,
                                                                            monkeypatch):
    # The opponent, a frozen copy of the learner, acts for every board between the game's steps (a callback
    # inside the rollout): its pass is the learner's size, so the line names --policy as well as
    # --num-envs, not the games' step.
    import agents.selfplay

    act, calls = agents.selfplay.SelfPlayCallback._act, []

    def running_out(self):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError(CPU_ALLOC)
        return act(self)

    monkeypatch.setattr(agents.selfplay.SelfPlayCallback, "_act", running_out)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake_duel", "--size", "6", "--opponent", "policy", "--run-dir",
                                   str(run), *REFUSED]) == 2
    err = capsys.readouterr().err  # after the warning that this short run takes no snapshot
    assert ("\nerror: training stopped at step 16: out of this machine's memory (488 MiB more refused) in a "
            "rollout step, which passes all --num-envs 8 boards through the network at once: use a smaller "
            "--num-envs or --policy; start the run again") in err, err


def test_memory_running_out_outside_the_passes_it_names_names_both_settings(scripts, tmp_path, capsys,
                                                                            monkeypatch):
    # Neither learn()'s first reset, a rollout nor an update (a callback's start, say): the line names no
    # pass, and both settings that size the passes.
    from stable_baselines3.common.callbacks import BaseCallback

    def refused(self, *args, **kwargs):
        raise RuntimeError(CPU_ALLOC)

    monkeypatch.setattr(BaseCallback, "on_training_start", refused)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(run), *REFUSED]) == 2
    assert capsys.readouterr().err.startswith(
        "error: training stopped at step 0: out of this machine's memory (488 MiB more refused): use a "
        "smaller --num-envs, --set ppo.batch_size or --policy; start the run again")
    assert not (run / "checkpoints").exists()


def test_an_error_in_training_that_is_not_memory_keeps_its_traceback(scripts, tmp_path, monkeypatch):
    from stable_baselines3.common.policies import ActorCriticPolicy

    def bug(self, *args, **kwargs):
        raise RuntimeError("a torch bug")

    monkeypatch.setattr(ActorCriticPolicy, "forward", bug)
    with pytest.raises(RuntimeError, match="a torch bug"):
        scripts.train_ppo.main(["--env", "snake", "--run-dir", str(tmp_path / "run"), *REFUSED])


def test_a_rollout_too_big_for_a_real_address_space_limit_is_refused_before_its_folder(tmp_path):
    # A real RLIMIT_AS 0.8 GiB above what torch and SB3 map: the buffers of 40,000 Snake boards fit, their
    # rollout's pass through the network (1.1 GB: 27,200 bytes a board) does not. The check counted the
    # buffers alone, so the run started, made its folder, and stopped at step 0.
    out = train_in_address_space(tmp_path, "mapped + int(0.8 * 2**30)", "--env", "snake", "--num-envs",
                                 "40000", "--set", "ppo.n_steps=8", "--total-timesteps", "1000000",
                                 "--no-progress", "--run-dir", "run")
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: ppo.n_steps 8 × --num-envs 40,000 steps of 432 bytes"), out.stderr
    assert ("and the network's rollout step, which passes all 40,000 boards through the tiny policy at once "
            "(27,200 bytes a board), need at least 1.2 GiB of memory, more than this process may take"
            in out.stderr), out.stderr
    assert out.stderr.endswith("use a smaller --num-envs or --policy\n"), out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "run").exists()


def test_a_rollout_past_a_real_address_space_limit_stops_in_one_line(tmp_path):
    # A real RLIMIT_AS 1.5 GiB above what torch and SB3 map: 40,000 Snake boards pass the memory check, which
    # counts what the network's pass holds at least (1.2 GiB in all), and the pass itself runs out: with
    # torch's and the allocator's overhead it took more than 1.8 GiB of room. Measured: the check refused
    # them with 1.0 GiB of room, the rollout ran out with 1.2, 1.3, 1.6 and 1.8, the first update with 2.0.
    out = train_in_address_space(tmp_path, "mapped + int(1.5 * 2**30)", "--env", "snake", "--num-envs",
                                 "40000", "--set", "ppo.n_steps=8", "--total-timesteps", "1000000",
                                 "--no-progress", "--run-dir", "run")
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: training stopped at step 0: out of this machine's memory ("), \
        out.stderr
    assert ("in a rollout step, which passes all --num-envs 40,000 boards through the network at once: use a "
            "smaller --num-envs or --policy; start the run again") in out.stderr, out.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_an_unusable_archive_of_a_new_run_is_named_with_the_folder_to_give_instead(scripts, tmp_path, capsys,
                                                                                  monkeypatch):
    # Only a --resume, which takes no archive_dir, rewords the game's error.
    import agents.train
    from envs.gameboy.archive import ArchiveError

    def unusable(*args, **kwargs):
        raise ArchiveError(tmp_path / "archive", "a file is in its way")

    monkeypatch.setattr(agents.train, "make_vec", unusable)
    assert scripts.train_ppo.main(["--env", "snake", "--run-dir", str(tmp_path / "run"), *REFUSED]) == 2
    assert (f"error: archive_dir {tmp_path / 'archive'} cannot hold the archive of milestone states (a file "
            "is in its way): give a folder that can be made") in capsys.readouterr().err


def test_resuming_from_a_damaged_only_model_file_names_the_command_that_starts_the_run_again(
        trained, scripts, tmp_path, capsys):
    # With no other checkpoint to move on to, the message ended with the damage alone: nothing to use instead.
    from agents.runs import restart_command

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    shutil.rmtree(run / "checkpoints")
    whole = (run / "model.zip").read_bytes()
    (run / "model.zip").write_bytes(whole[:len(whole) // 2])
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot load checkpoint {run / 'model.zip'}: it is damaged" in err, err
    again = f"; start the run again, as it has no other model file: {restart_command(run)}\n"
    assert err.endswith(again) and "--force" in again, err


def test_a_runs_first_command_is_made_to_start_it_over_in_its_folder(tmp_path, monkeypatch):
    # command.txt's first line (later ones are --resume commands), with --run-dir naming the run as found
    # (added where the run was auto-named, else replacing the recorded one) and --force once; nothing for
    # a missing, empty or unreadable (hand-edited) first line.
    from agents.runs import restart_command

    run = tmp_path / "a run"
    run.mkdir()
    assert restart_command(run) is None
    start, resume = ["train_ppo.py", "--env", "snake"], shlex.join(["train_ppo.py", "--resume", str(run)])
    for first, expected in (
            (start, [*start, "--run-dir", str(run), "--force"]),
            ([*start, f"--run-dir={run}"], [*start, f"--run-dir={run}", "--force"]),
            ([*start, "--force", "--run-dir", "x"], [*start, "--force", "--run-dir", str(run)]),
            ([], None)):
        (run / "command.txt").write_text(f"{shlex.join(first)}\n{resume}\n")
        assert restart_command(run) == (expected and shlex.join(expected))
    # A cd not in rerun_command's form, "cd DIR && ...", was advised as "cd /x --run-dir RUN --force".
    for line in ("train_ppo.py --env 'snake", "cd /x", "cd /x train.py -e", "cd && a -e", "cd /x &&"):
        (run / "command.txt").write_text(f"{line}\n")
        assert restart_command(run) is None, line
    # Recorded with the folder it ran in (rerun_command): the run named absolute, as the command goes there.
    (run / "command.txt").write_text(f"cd '/a b' && {shlex.join(start)}\n")
    monkeypatch.chdir(tmp_path)
    again = shlex.join([*start, "--run-dir", str(run), "--force"])
    assert restart_command(Path(run.name)) == f"cd '/a b' && {again}"


def test_a_runs_first_command_keeps_the_pythonpath_it_recorded(tmp_path):
    # Hand mutants of restart_command's PYTHONPATH (kept apart from the command, requoted alone) passed
    # every test: the PYTHONPATH dropped (the command to start over no longer found a game from a folder on
    # it), its value unquoted ("PYTHONPATH=lib dir": the shell ran "dir" as the command), a second
    # assignment joined to the command quoted whole, and a value holding "=" a ValueError.
    from agents.runs import restart_command

    run = tmp_path / "run"
    run.mkdir()
    start = ["python", "train_ppo.py", "--env", "mygame"]
    again = shlex.join([*start, "--run-dir", str(run), "--force"])
    for env in ("PYTHONPATH='lib dir'", "PYTHONPATH=/a=b", "LANG=C PYTHONPATH='lib dir'"):
        (run / "command.txt").write_text(f"cd /x && {env} {shlex.join(start)}\n")
        assert restart_command(run) == f"cd /x && {env} {again}", env


def test_a_model_file_that_cannot_be_loaded_to_play_names_the_runs_other_one(trained, scripts, tmp_path,
                                                                              capsys):
    # Another of the run's files, labelled for what it is: model.zip first, else the newest checkpoint
    # other than the file itself (here the older one); a folder in place of a file cannot be read at all.
    from agents.runs import RunError, read_run_config, restart_command
    from agents.train import load_model

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    cfg = read_run_config(run)
    newest, older = run / "checkpoints" / "step_512.zip", run / "checkpoints" / "step_256.zip"
    (run / "model.zip").write_bytes(b"cut short")  # given by another spelling of its path: not named again
    with pytest.raises(RunError, match=rf"; the run's newest checkpoint may load: --checkpoint "
                                       rf"{re.escape(str(newest))}$"):
        load_model(cfg, run / "checkpoints" / ".." / "model.zip", run=run)
    (run / "model.zip").unlink()  # stopped before its end
    newest.write_bytes(b"cut short")
    with pytest.raises(RunError, match=r"it is damaged or cut short \(BadZipFile: .*\); the run's older "
                                       rf"checkpoint may load: --checkpoint {re.escape(str(older))}$"):
        load_model(cfg, newest, run=run)
    (run / "checkpoints" / "step_900.zip").mkdir()
    with pytest.raises(RunError, match=r"step_900.zip: it cannot be read \(IsADirectoryError: "):
        load_model(cfg, run / "checkpoints" / "step_900.zip", run=run)
    # A copy cut short (a zero-byte file an interrupted copy left) is not offered as the one that may load.
    (run / "model.zip").write_bytes(b"")
    with pytest.raises(RunError, match=rf"; the run's older checkpoint may load: --checkpoint "
                                       rf"{re.escape(str(older))}$"):
        load_model(cfg, newest, run=run)
    (run / "model.zip").unlink()
    older.unlink()
    with pytest.raises(RunError, match=r"; the run has no other model file: give one with --checkpoint, or "
                                       r"train the run again$"):
        load_model(cfg, newest, run=run)
    # --resume takes the damaged newest and has no other file to move on to: not the model.zip it lacks.
    (run / "checkpoints" / "step_900.zip").rmdir()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "1024", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"; start the run again, as it has no other model file: {restart_command(run)}\n")


def test_a_checkpoint_whose_weights_are_not_torchs_is_refused_on_one_line(trained, tmp_path):
    # A zip whose policy.pth is no torch file (written over, or another program's) passes the zip checks:
    # torch.load's UnpicklingError, many lines long, came out of every command as a traceback.
    from agents.runs import RunError, read_run_config
    from agents.train import load_model

    given = tmp_path / "given.zip"
    with zipfile.ZipFile(trained / "model.zip") as z, zipfile.ZipFile(given, "w") as out:
        for name in z.namelist():
            out.writestr(name, b"not torch's\n" if name == "policy.pth" else z.read(name))
    with pytest.raises(RunError, match=rf"^cannot load checkpoint {re.escape(str(given))}: it is damaged or "
                                       r"cut short \(UnpicklingError: .*; the run's model.zip may load") as e:
        load_model(read_run_config(trained), given, run=trained)
    assert "\n" not in str(e.value)


def test_progress_bar_shows_on_a_terminal_that_reports_no_width(monkeypatch):
    """A pseudo-terminal whose size was never set reports 0 columns (`script -c CMD LOG` run without a
    terminal, a CI's pty): tqdm's dynamic width cut every line of the bar to nothing, so the run printed
    blank lines. The bar falls back to a fixed width there."""
    import io
    import os
    import pty
    import select
    from types import SimpleNamespace

    from agents.callbacks import ProgressCallback

    master, slave = pty.openpty()  # a new pty: 0 rows, 0 columns
    try:
        assert os.get_terminal_size(slave).columns == 0
        term = io.TextIOWrapper(io.FileIO(slave, "w", closefd=False), write_through=True)
        monkeypatch.setattr("sys.stderr", term)
        monkeypatch.delenv("COLUMNS", raising=False)
        cb = ProgressCallback(1000)
        cb.model = SimpleNamespace(num_timesteps=0, n_steps=32, n_envs=8)
        cb._on_training_start()
        cb.model.num_timesteps = 256
        cb._on_step()
        cb.close()
        chunks = []
        while select.select([master], [], [], 0.2)[0]:  # a pty hands its output over in chunks
            chunks.append(os.read(master, 65536))
        written = b"".join(chunks).decode()
    finally:
        os.close(slave)
        os.close(master)
    assert "256/1.02k" in written


def test_a_checkpoint_loads_on_a_cpu_named_with_an_index(tmp_path):
    """torch takes "cpu:0" as a device (check_device passes it, and a run trains on it), but torch.load
    cannot restore a checkpoint's tensors there: evaluate, export and --resume of such a run all said the
    checkpoint was "damaged or cut short"."""
    from agents.train import build_model, load_model
    from envs import make_vec

    cfg = {"env": "snake", "policy": "tiny", "device": "cpu:0", "seed": 0, "recurrent": False,
           "ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 1}}
    venv = make_vec("snake", 2, num_workers=0, seed=0, size=6)
    try:
        build_model(cfg, venv).save(tmp_path / "model.zip")
        resumed = load_model(cfg, tmp_path / "model.zip", venv)  # the run's own device, as --resume loads
    finally:
        venv.close()
    played = load_model({**cfg, "device": "cpu"}, tmp_path / "model.zip", device="cpu:0")  # --device cpu:0
    assert resumed.device.type == played.device.type == "cpu"


@pytest.mark.parametrize("typed, expected", [
    ("python3", "python3"),  # Debian and Ubuntu have no python: the hint named a command that was not there
    (".venv/bin/python", ".venv/bin/python"),  # a venv not activated: python was another one
    ("/opt/my env/bin/python", "'/opt/my env/bin/python'"),
    ("", "python"),  # an embedding program that gave none
])
def test_the_resume_hint_names_the_interpreter_as_it_was_typed(monkeypatch, typed, expected):
    from agents.train import resume_command

    monkeypatch.delenv("PYTHONPATH", raising=False)  # none set: none named (see the test below)
    monkeypatch.setattr(sys, "orig_argv", [typed, "scripts/train_ppo.py", "--env", "snake"])
    monkeypatch.setattr(sys, "argv", ["scripts/train_ppo.py", "--env", "snake"])
    expected_command = f"{expected} scripts/train_ppo.py --resume 'runs/snake/a b'"
    assert resume_command(Path("runs/snake/a b")) == expected_command
    # The interpreter's options too: a --resume of python -X dev ran without its warnings.
    monkeypatch.setattr(sys, "orig_argv", [typed, "-X", "dev", "-W", "error", "scripts/train_ppo.py", "--env",
                                           "snake"])
    expected_command = f"{expected} -X dev -W error scripts/train_ppo.py --resume 'runs/snake/a b'"
    assert resume_command(Path("runs/snake/a b")) == expected_command


def test_the_resume_hint_names_the_pythonpath_the_run_trained_with(monkeypatch, tmp_path):
    # command.txt records PYTHONPATH, but the Ctrl-C's "continue with:" line did not: a game found in a
    # folder on it (README "Adding your own game") was unknown to that line run from a new shell.
    from agents.train import resume_command

    monkeypatch.setattr(sys, "orig_argv", ["python3", "scripts/train_ppo.py", "--env", "snake"])
    monkeypatch.setattr(sys, "argv", ["scripts/train_ppo.py", "--env", "snake"])
    monkeypatch.setenv("PYTHONPATH", "my games:/opt/lib")
    assert resume_command(Path("runs/x")) == (
        "PYTHONPATH='my games:/opt/lib' python3 scripts/train_ppo.py --resume runs/x")
    monkeypatch.setenv("PYTHONPATH", "")  # set empty: as unset (rerun_command's rule)
    assert resume_command(Path("runs/x")) == "python3 scripts/train_ppo.py --resume runs/x"


def test_the_resume_hint_of_a_run_named_with_a_leading_minus_runs(monkeypatch, scripts, capsys):
    # `--run-dir=-x` printed "continue with: ... --resume -x", which argparse reads as two flags.
    from agents.train import resume_command

    monkeypatch.setattr(sys, "orig_argv", ["python", "scripts/train_ppo.py", "--run-dir=-x"])
    monkeypatch.setattr(sys, "argv", ["scripts/train_ppo.py", "--run-dir=-x"])
    monkeypatch.delenv("PYTHONPATH", raising=False)
    command = resume_command(Path("-x"))
    assert command == "python scripts/train_ppo.py --resume ./-x"
    assert scripts.train_ppo.main(shlex.split(command)[2:]) == 2  # parsed: the run itself is then looked for
    assert "-x: no such run folder" in capsys.readouterr().err


def test_memory_running_out_in_the_last_update_saves_a_checkpoint_whose_resume_learns_it(scripts, tmp_path,
                                                                                         monkeypatch, capsys):
    """A failure in the last update (its rollout whole, so the buffer full, but unlearned) saved a checkpoint
    not marked as cut: the stop said "continue with: ... --resume", and that --resume refused the run as
    already at its total (step 512 of 300, rollouts of 256)."""
    from stable_baselines3 import PPO

    update, calls = PPO.train, []

    def running_out_in_the_second(self):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError(CPU_ALLOC)
        return update(self)

    monkeypatch.setattr(PPO, "train", running_out_in_the_second)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "300", "--run-dir", str(run),
                                   *TINY]) == 2
    err = capsys.readouterr().err
    assert f"training stopped at step 512 (saved {run / 'checkpoints' / 'step_512.zip'})" in err, err
    assert "--resume" in err
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0, capsys.readouterr().err
    assert "done: 768 steps" in capsys.readouterr().out
    assert PPO.load(run / "model.zip")._n_updates == 2  # the first update, and the resumed rollout's


def test_a_reader_leaving_in_the_last_rollout_marks_its_checkpoint_cut(scripts, tmp_path, monkeypatch):
    """`| head` whose reader leaves in the last rollout (step 400 of 300, rollouts of 256) saves a checkpoint
    whose --resume learns that rollout, as a Ctrl-C's does, not one refused as already at its total."""
    from stable_baselines3 import PPO

    import agents.train
    from agents.callbacks import StopCallback

    def reader_gone_at_400(self):
        if self.model.num_timesteps == 400:
            raise BrokenPipeError
        return True

    monkeypatch.setattr(StopCallback, "_on_step", reader_gone_at_400)
    run = tmp_path / "run"
    with pytest.raises(BrokenPipeError):
        scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "300", "--run-dir", str(run), *TINY])
    assert getattr(PPO.load(run / "checkpoints" / "step_400.zip"), agents.train.ROLLOUT_CUT) is True


def test_a_run_never_stopped_ends_on_the_whole_rollout_past_its_total_and_refuses_a_resume(scripts, tmp_path,
                                                                                          capsys):
    """One step past a rollout (257 of rollouts of 256) takes a second whole rollout; and the finished run,
    its checkpoints saved without the cut-rollout mark (never stopped, never resumed), is at its total."""
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "257", "--run-dir", str(run),
                                   "--no-progress", *TINY]) == 0
    assert "done: 512 steps" in capsys.readouterr().out
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert "already at step 512" in capsys.readouterr().err


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the writer thread's
def test_tensorboard_events_the_disk_refuses_stop_the_run_resumable(trained, scripts, tmp_path, monkeypatch,
                                                                     capsys):
    """A full disk refusing TensorBoard's events file (written every rollout, so often the first file to
    meet a full disk) ended the run in a traceback from the writer's thread and again from SB3's flush,
    status 1, saving no checkpoint: the steps since the last one were lost. It stops as a checkpoint the
    disk refuses does: one line naming the events file, a checkpoint saved, and the --resume."""
    import errno

    from tensorboard.compat.tensorflow_stub.io.gfile import LocalFileSystem

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    append = LocalFileSystem.append

    def full_after_step_768(self, filename, file_content, binary_mode=False):
        if "tfevents" in str(filename) and (run / "checkpoints" / "step_768.zip").exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        append(self, filename, file_content, binary_mode)

    monkeypatch.setattr(LocalFileSystem, "append", full_after_step_768)
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "2048", "--save-every", "256",
                                   "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception in thread" not in err, err
    events = max((run / "tb").glob("events.out.tfevents.*"), key=lambda f: f.stat().st_mtime)
    assert f"TensorBoard's events {events} could not be written (No space left on device)" in err, err
    assert err.count("could not be written") == 1, err  # said once: not again at the session end, the close
    assert f"continue with: {PYTHON} scripts/train_ppo.py --resume {run}" in err, err
    saved = run / "checkpoints" / "step_1024.zip"
    assert f"error: training stopped at step 1,024 (saved {saved}): " in err, err
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "2048", "--no-progress"]) == 0


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the writer thread's
def test_a_tensorboard_events_file_the_disk_refuses_from_the_start_is_one_clear_error(scripts, tmp_path,
                                                                                     monkeypatch, capsys):
    """config.yaml fitting on the disk, the events file did not: a traceback (status 1) from TensorBoard's
    writer as SB3's logger was made, leaving the run folder a rerun refuses without --force. The writer
    thread's own traceback ("Exception in thread") came too, before the writers were guarded: an unhandled
    thread exception fails this test (pytest's own threading.excepthook takes it, so capsys never saw
    it)."""
    import errno

    from tensorboard.compat.tensorflow_stub.io.gfile import LocalFileSystem

    def full(self, filename, file_content, binary_mode=False):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalFileSystem, "write", full)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "512", "--run-dir", str(run),
                                   *TINY]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    saved = run / "checkpoints" / "step_0.zip"
    assert (f"error: training stopped at step 0 (saved {saved}): TensorBoard's events {run / 'tb'} could not "
            "be written (No space left on device); continue with: ") in err, err
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 0
    assert "from step_0.zip at step 0" in capsys.readouterr().out


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the writer thread's
def test_tensorboard_events_the_disk_refuses_after_the_final_save_are_a_warning(scripts, tmp_path,
                                                                              monkeypatch, capsys):
    """The disk refusing only the events written after the run's model was saved (its session end, the
    close): the run is done, and the missing points are one warning, not a traceback."""
    import errno

    from tensorboard.compat.tensorflow_stub.io.gfile import LocalFileSystem

    run = tmp_path / "run"
    append = LocalFileSystem.append

    def full_after_the_model(self, filename, file_content, binary_mode=False):
        if "tfevents" in str(filename) and (run / "model.zip").exists():
            raise OSError(errno.ENOSPC, "No space left on device")
        append(self, filename, file_content, binary_mode)

    monkeypatch.setattr(LocalFileSystem, "append", full_after_the_model)
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--run-dir", str(run),
                                   *TINY]) == 0
    out, err = capsys.readouterr()
    assert f"done: 256 steps; model at {run / 'model.zip'}" in out, err
    assert "Traceback" not in err and "Exception in thread" not in err, err
    assert "could not be written (No space left on device); its last points are missing" in err, err
    assert err.count("could not be written") == 1, err


@pytest.mark.parametrize("failure", ["memory", "events"])
def test_a_failure_after_the_last_update_finishes_the_run(failure, scripts, tmp_path, monkeypatch, capsys):
    """A failure as learn() ended, after its last update (memory running out for the final video, the disk
    refusing TensorBoard's end summary), saved a checkpoint marked unlearned: the stop offered a --resume,
    which learned one rollout past the total (768 steps of 300, rollouts of 256). The run is finished."""
    from agents import callbacks

    def failing(self):
        if failure == "memory":
            raise RuntimeError(CPU_ALLOC)
        raise callbacks.EventsNotWritten("TensorBoard's events tb/x could not be written (No space left)")

    target = callbacks.VideoCallback if failure == "memory" else callbacks.MetricsCallback
    monkeypatch.setattr(target, "_on_training_end", failing)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "300", "--run-dir", str(run),
                                   *TINY]) == 0
    out, err = capsys.readouterr()
    assert f"done: 512 steps; model at {run / 'model.zip'}" in out, err
    assert "as training ended (after its last update); the run is finished" in err
    assert "--resume" not in err
    monkeypatch.undo()
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    assert "the run is already at step 512" in capsys.readouterr().err


def test_a_repeat_signal_once_a_stop_found_the_run_finished_says_it_finishes(scripts, tmp_path, monkeypatch,
                                                                            capsys):
    """A stop held for a stop point that learn() ended first (here as its last update's callbacks ended):
    the run is finished, saved and reported as done. A repeat during that save said "stopping: one moment",
    a stop that did not come (README: a signal once the steps are learned ends the run as finished)."""
    from agents import callbacks, train

    def signalled_as_it_ends(self):
        os.kill(os.getpid(), signal.SIGINT)  # held: no stop point left in learn()
        time.sleep(0.05)

    def repeated(model, run, keep):
        os.kill(os.getpid(), signal.SIGTERM)  # a repeat: ignored, the save goes on
        time.sleep(0.05)
        return save_checkpoint(model, run, keep)

    save_checkpoint = train.save_checkpoint
    monkeypatch.setattr(callbacks.MetricsCallback, "_on_training_end", signalled_as_it_ends)
    monkeypatch.setattr(train, "save_checkpoint", repeated)
    run = tmp_path / "run"
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "256", "--run-dir", str(run),
                                   *TINY]) == 0
    out, err = capsys.readouterr()
    assert f"done: 256 steps; model at {run / 'model.zip'}" in out, err
    assert "stopping" not in err and "--resume" not in err, err
    assert "finishing: the work is done; the signal is ignored" in err, err


@pytest.mark.parametrize("at", ["second play", "last print"])
def test_a_ctrl_c_among_several_checkpoints_stops_before_the_last_write_and_is_ignored_after_it(
        trained, scripts, tmp_path, capsys, monkeypatch, at):
    # Only the last checkpoint's write settles the command: a Ctrl-C in a later checkpoint's play stops it
    # (the first's results kept and named), one once every result is in place is ignored.
    import agents.evaluate_cli
    import agents.evaluation

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    module, name = (agents.evaluation, "run_episodes") if at == "second play" else (agents.evaluate_cli,
                                                                                     "print_results")
    real, calls = getattr(module, name), []

    def stopped_second(*args, **kwargs):
        calls.append(1)
        if at == "last print":
            real(*args, **kwargs)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return None if at == "last print" else real(*args, **kwargs)

    monkeypatch.setattr(module, name, stopped_second)
    status = scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                    "--no-video", "--no-progress"])
    err = capsys.readouterr().err
    if at == "second play":
        assert status == 130 and not (run / "eval-step512.json").exists()
        written = run / "eval-step256.json"
        assert f"results written for 1 of 2 checkpoints ({written}), none for {second}" in err
    else:
        assert status == 0 and (run / "eval-step512.json").is_file()
        assert "finishing: the work is done; the signal is ignored" in err


def test_a_folder_among_the_checkpoints_after_the_run_folder_is_refused_as_no_model_file(trained, scripts,
                                                                                         capsys):
    # The run folder given first: a folder after --checkpoint is no misplaced run folder, but no model file.
    ckpts = trained / "checkpoints"
    assert scripts.evaluate.main([str(trained), "--checkpoint", str(ckpts / "step_256.zip"), str(ckpts)]) == 2
    err = capsys.readouterr().err
    assert f"--checkpoint {ckpts} is a folder; give a model file (.zip)" in err
    assert "before --checkpoint" not in err


@pytest.mark.parametrize("which", ["first", "second"])
def test_a_ctrl_c_in_a_checkpoints_video_prints_its_figures_only_once_written(trained, scripts, tmp_path,
                                                                              capsys, monkeypatch, which):
    # A stop before a checkpoint's files are in place (its best episode replayed for the video) writes none of
    # them: its figures are not printed as if written, whether or not an earlier checkpoint's were.
    import agents.evaluation

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    real, replays = agents.evaluation.replay_frames, []

    def stopped_replay(*args, **kwargs):
        replays.append(1)
        if len(replays) == (1 if which == "first" else 2):
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(agents.evaluation, "replay_frames", stopped_replay)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--video-steps", "3", "--no-progress"]) == 130
    out, err = capsys.readouterr()
    assert not (run / "eval-step512.json").exists() and "snake step 512" not in out
    if which == "first":
        assert out == "" and not list(run.glob("eval-*"))
        assert err.endswith("interrupted: no new results written\n")
    else:
        assert out.startswith("snake step 256, 2 episodes: ")
        assert err.endswith(f"results written for 1 of 2 checkpoints ({run / 'eval-step256.json'}), none for "
                            f"{second}\n")


@pytest.mark.parametrize("fails", ["first's load", "first's renames"])
def test_a_first_checkpoint_that_fails_among_several_names_no_results_written(trained, scripts, tmp_path,
                                                                              capsys, monkeypatch, fails):
    # Nothing in place yet: the error is the one a single checkpoint gets, with no "results written for 0".
    import agents.outputs

    run = tmp_path / "run"
    first, second = trained_copy(trained, run)
    if fails == "first's load":
        first.write_bytes(second.read_bytes()[:100])  # a copy cut short: a zip's start, and no model
    else:
        def refused(*args):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(agents.outputs, "_place_all", refused)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--episodes", "2",
                                  "--no-video", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "results written" not in err, err
    assert not list(run.glob("eval-*"))


def test_several_checkpoints_into_out_of_a_run_replaced_meanwhile_name_the_results_in_out(
        trained, scripts, tmp_path, capsys, monkeypatch):
    # --out: the results are not the run folder's, so a train_ppo.py --force of the run after the first
    # checkpoint's write took none of them aside: a stop then names them where they are, in --out.
    import agents.evaluation

    run, out = tmp_path / "run", tmp_path / "out"
    first, second = trained_copy(trained, run)
    real, plays = agents.evaluation.run_episodes, []

    def replaced_then_stopped(*args, **kwargs):
        plays.append(1)
        if len(plays) == 2:
            run.rename(tmp_path / ".run.replaced")
            shutil.copytree(trained, run, ignore=shutil.ignore_patterns("eval-*"))
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(agents.evaluation, "run_episodes", replaced_then_stopped)
    assert scripts.evaluate.main([str(run), "--checkpoint", str(first), str(second), "--out", str(out),
                                  "--episodes", "2", "--no-video", "--no-progress"]) == 130
    err = capsys.readouterr().err
    (written,) = out.glob("eval-step256-*.json")
    assert err.endswith(f"results written for 1 of 2 checkpoints ({written}), none for {second}\n"), err


def test_several_checkpoints_build_the_runs_game_once(trained, scripts, tmp_path, monkeypatch):
    # check_fits took the game check_game built before the loop: one more build for each checkpoint booted an
    # emulator per checkpoint of a Game Boy run.
    import agents.evaluation

    real, built = agents.evaluation.check_game, []

    def counted(*args, **kwargs):
        built.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(agents.evaluation, "check_game", counted)
    ckpts = [str(c) for _, c in checkpoints(trained)]
    assert scripts.evaluate.main([str(trained), "--checkpoint", *ckpts, "--out", str(tmp_path / "out"),
                                  "--episodes", "1", "--no-video", "--no-progress"]) == 0
    assert built == ["snake"]


def test_a_signal_while_a_failed_run_saves_says_it_stops(tmp_path, scripts, monkeypatch, capsys):
    # A failure (out of memory) ends the run, saved as a stop: a Ctrl-C then is no signal after finished work.
    import agents.train
    from agents.callbacks import StopCallback

    def out_of_memory(self):
        if self.model.num_timesteps >= 512:
            raise MemoryError
        return True

    monkeypatch.setattr(StopCallback, "_on_step", out_of_memory)
    monkeypatch.setattr(agents.train, "_stopped", stop_before(agents.train._stopped))
    assert scripts.train_ppo.main(["--env", "snake", "--total-timesteps", "2048", "--run-dir",
                                   str(tmp_path / "run"), *TINY]) == 2
    err = capsys.readouterr().err
    assert "stopping: one moment" in err and "finishing" not in err


@pytest.mark.parametrize("policy, warned", [("10m", True), ("tiny", False)])
def test_a_new_run_of_10m_on_a_cpu_is_warned_of_its_speed_after_the_start_line(scripts, tmp_path, monkeypatch,
                                                                                 capsys, policy, warned):
    # --policy 10m on a CPU trained at about 100–280 steps/s, the CPU default tiny at thousands, without a
    # word: the user learnt it from the bar, or from a run that had not finished by morning.
    import agents.train

    def stop(*args, **kwargs):  # TensorBoard's logger is made just after the line: nothing trains
        raise ValueError("stopped after the start line")

    monkeypatch.setattr(agents.train, "configure", stop)
    argv = ["--env", "snake", "--device", "cpu", "--policy", policy, "--num-envs", "8", "--no-progress",
            "--run-dir", str(tmp_path / "run")]
    assert scripts.train_ppo.main(argv) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"depthfirst: env=snake device=cpu policy={policy} (")  # the start line as before
    warning = ("warning: the 10m preset trains at about 100–280 steps/s on a CPU (on 10×10 Snake, 2 cores), "
               "tiny, the CPU default, at thousands: give --policy tiny, or train 10m on CUDA\n")
    assert (warning in err) is warned
    if warned:  # once, as the run starts
        assert err.count("warning:") == 1


@pytest.mark.parametrize("device_type", ["cuda", "mps"])
def test_the_10m_warning_is_for_a_cpu_alone(device_type):
    # 10m is the CUDA default: a GPU trains it at its own rate, new or resumed.
    from agents.train import slow_preset_warning

    assert slow_preset_warning("10m", device_type) is None
    assert slow_preset_warning("10m", device_type, resume=True) is None
    assert slow_preset_warning("10m", "cpu", resume=True).startswith("warning: the 10m preset")


@pytest.mark.parametrize("trained_on, warned", [("cpu", False), ("cuda", True), ("cuda:1", True)])
def test_a_resumed_10m_run_is_warned_only_when_it_moves_onto_a_cpu(scripts, tmp_path, monkeypatch, capsys,
                                                                   trained_on, warned):
    # A run started on a CPU was warned as it started; its preset is fixed for a --resume, which says nothing
    # more. One trained on CUDA and resumed with --device cpu was never warned, and went on at a twentieth
    # of its speed without a word.
    import agents.train
    from agents.config import load_config, resolve
    from agents.runs import write_run_files

    def stop(*args, **kwargs):
        raise ValueError("stopped after the start line")

    monkeypatch.setattr(agents.train, "configure", stop)
    monkeypatch.setattr(agents.train, "load_model",
                        lambda cfg, path, venv: agents.train.build_model(cfg, venv))
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"a model")  # load_model is faked
    cfg = resolve({**load_config("snake"), "policy": "10m", "num_envs": 8, "device": "cpu"}, False)
    write_run_files(run, {**cfg, "device": trained_on}, "cmd")  # config.yaml as that device recorded it
    assert scripts.train_ppo.main(["--resume", str(run), "--device", "cpu", "--no-progress"]) == 2
    out, err = capsys.readouterr()
    assert "device=cpu policy=10m" in out, out
    warning = ("warning: the 10m preset trains at about 100–280 steps/s on a CPU (on 10×10 Snake, 2 cores), "
               "tiny, the CPU default, at thousands: resume this run on CUDA, or train a new one with "
               "--policy tiny\n")
    assert (warning in err) is warned, err
    assert err.count("warning:") == warned


def test_the_best_episodes_replay_bar_counts_every_step_and_json_hides_it(scripts, tmp_path, capsys,
                                                                         monkeypatch):
    # Hand mutation pass on the replay bar: replay_frames never moving it (0/4 throughout), and --json
    # showing it, passed every test (they looked for its total alone, and hid it with --no-progress).
    import tqdm

    counts: dict[str, tuple[float, float]] = {}

    class Counted(tqdm.tqdm):  # what each bar counted when it closed (a 4-step replay draws no frame of it)
        def close(self) -> None:
            if not self.disable:
                counts[self.desc] = (self.n, self.total)
            super().close()

    monkeypatch.setattr(tqdm, "tqdm", Counted)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"env": "sokoban", "env_kwargs": {}}))
    argv = [str(run), "--random", "--episodes", "1", "--max-steps", "4"]
    assert scripts.evaluate.main(argv) == 0
    assert counts["replaying the best episode"] == (4, 4)
    capsys.readouterr()
    assert scripts.evaluate.main([*argv, "--json"]) == 0
    assert "replaying" not in capsys.readouterr().err
