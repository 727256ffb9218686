"""agents.evaluation's figures on hand-made and replayed episodes, without a trained model."""

import contextlib
import os
import shlex
from pathlib import Path

import numpy as np
import pytest

from agents.evaluation import Episode, RandomPolicy, best_episode, replay_frames, run_episodes, summarize
from envs import make_game
from envs.rng import seeds_from


def episode(score: float, length: int, ret: float, won: float = 0.0, seed: int = 0) -> Episode:
    """A hand-made episode (no actions)."""
    return Episode(seed, score, length, ret, {"score": score, "won": won}, [])


def test_summary_figures_are_the_statistics_of_the_episodes():
    episodes = [episode(1.0, 10, 0.5, 0.0), episode(2.0, 20, 1.5, 0.0), episode(6.0, 60, 5.0, 1.0)]
    assert summarize(episodes) == {
        "episodes": 3, "mean_score": 3.0, "median_score": 2.0, "max_score": 6.0, "min_score": 1.0,
        "std_score": pytest.approx(float(np.std([1.0, 2.0, 6.0]))), "mean_length": 30.0,
        "mean_return": pytest.approx(7 / 3), "mean_won": pytest.approx(1 / 3), "capped": 0,
        "per_episode": {"seed": [0, 0, 0], "score": [1.0, 2.0, 6.0], "length": [10, 20, 60],
                        "return": [0.5, 1.5, 5.0], "capped": [False, False, False],
                        "figures": {"won": [0.0, 0.0, 1.0]}}}


def test_episodes_cut_without_max_steps_are_said_to_be_cut_at_the_cap(scripts, tmp_path, capsys, monkeypatch):
    # With no --max-steps every episode still stops at EPISODE_STEP_CAP moves; the line said "cut at
    # --max-steps", a flag the user never gave.
    import json

    import agents.evaluate_cli

    monkeypatch.setattr(agents.evaluate_cli, "EPISODE_STEP_CAP", 6)  # a Snake episode outlasts 6 moves
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\npolicy: tiny\nenv_kwargs: {size: 6}\n")
    argv = [str(run), "--random", "--episodes", "12", "--no-video", "--no-progress"]
    assert scripts.evaluate.main(argv) == 0
    printed = capsys.readouterr().out
    cut = json.loads((run / "eval-random.json").read_text())["capped"]
    stood = "it" if cut == 1 else "they"
    assert cut > 0
    assert f"({cut} cut at 6 moves, as no --max-steps was given; scored as {stood} stood)" in printed


def test_the_temp_files_of_a_killed_evaluation_go_with_the_next_one_and_a_running_ones_stay(scripts, tmp_path,
                                                                                           capsys):
    # evaluate.py killed by SIGKILL while writing its results left .eval-...<pid>.tmp.* (as large as the
    # results) in the folder for good: nothing removed them. Those of a process that runs may be written now.
    import json
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\npolicy: tiny\nenv_kwargs: {size: 6}\n")
    left = [f".eval-step64-model-0123abcd.{dead}.tmp.json", f".eval-random-best.{dead}.tmp.mp4",
            f"..eval-random-best.{dead}.tmp.{dead}.tmp.gif"]
    kept = [f".eval-random.{running.pid}.tmp.json", f".eval-notes.{dead}.tmp.json", ".eval-random.x.tmp.json"]
    try:
        for name in left + kept:
            (run / name).write_text("half")
        argv = [str(run), "--random", "--episodes", "1", "--no-video", "--no-progress", "--json"]
        assert scripts.evaluate.main(argv) == 0
    finally:
        running.kill()
        running.wait()
    out, err = capsys.readouterr()
    assert sorted(p.name for p in run.iterdir()) == sorted(["config.yaml", "eval-random.json", *kept])
    assert err == (f"{run}: removed 3 temp files that a killed evaluation left "
                   f"({', '.join(sorted(left))})\n")
    assert json.loads(out)["episodes"] == 1  # stdout is --json's alone


def test_the_printed_cut_note_is_there_only_where_an_episode_was_cut():
    # The line's "(N cut at ...)" names the --max-steps given, else the cap; none where no episode was cut.
    from agents.evaluate_cli import cut_note

    assert cut_note({"capped": 0, "max_steps": None}) == cut_note({"capped": 0, "max_steps": 50}) == ""
    assert cut_note({"capped": 2, "max_steps": 50}) == " (2 cut at --max-steps, scored as they stood)"


def test_the_results_list_the_episodes_their_printed_figures_are_of(scripts, tmp_path, capsys):
    """eval-*.json and --json list each episode (``per_episode``), so the printed figures can be checked, and
    compared with another tool on the same seeds, without a replay: they are the means of that list."""
    import json

    from agents.cli import EPISODE_SEED, figure, mean_text

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\npolicy: tiny\nenv_kwargs: {size: 6}\n")
    argv = [str(run), "--random", "--episodes", "12", "--max-steps", "6", "--no-video", "--no-progress"]
    assert scripts.evaluate.main(argv) == 0
    printed = capsys.readouterr().out
    saved = json.loads((run / "eval-random-max6.json").read_text())
    assert scripts.evaluate.main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == saved
    table = saved["per_episode"]
    assert list(saved)[-1] == "per_episode"  # after the figures, the run and its files
    assert table["seed"] == [EPISODE_SEED + k for k in range(12)]
    assert [len(v) for v in (*table.values(), *table["figures"].values()) if isinstance(v, list)] == [12] * 7
    # Each entry is the episode of its seed, as run_episodes plays it.
    played = run_episodes(RandomPolicy(EPISODE_SEED), "snake", {"size": 6}, 12, seed=EPISODE_SEED,
                          max_steps=6)
    assert [table[k] for k in ("score", "length", "return", "capped")] == [
        [e.score for e in played], [e.length for e in played], [e.ret for e in played],
        [e.capped for e in played]]
    assert 0 < sum(table["capped"]) < 12  # both kinds in the list
    scores = np.array(table["score"])
    cut = sum(table["capped"])
    assert (f"mean score {mean_text(scores.mean())}, median {figure(np.median(scores))}, max "
            f"{figure(scores.max())}, mean length {np.mean(table['length']):.1f} ({cut} cut at --max-steps"
            ) in printed
    means = {"mean_length": np.mean(table["length"]), "mean_return": np.mean(table["return"]),
             **{f"mean_{k}": np.mean(v) for k, v in table["figures"].items()}}
    assert {k: saved[k] for k in means} == means and set(table["figures"]) == {"snake_length", "won"}
    game = ", ".join(f"{k} {np.mean(v):.2f}" for k, v in table["figures"].items())
    assert f"means of the game's figures: {game}\n" in printed


def test_the_progress_counts_every_episode_also_those_max_steps_cut():
    ticks: list[tuple[int, int]] = []
    episodes = run_episodes(RandomPolicy(0), "sokoban", {}, 5, seed=1, batch=2, max_steps=3,
                            progress=lambda ended, stepped: ticks.append((ended, stepped)))
    assert all(e.length == 3 for e in episodes)  # no random play solves a level in three moves
    assert sum(ended for ended, _ in ticks) == 5
    assert sum(stepped for _, stepped in ticks) == 15  # every step of every board, as it is played
    assert summarize(episodes)["capped"] == 5  # each was still playing when the cap cut it
    ended = run_episodes(RandomPolicy(0), "snake", {}, 4, seed=1, batch=2)  # no cap: each ends itself
    assert summarize(ended)["capped"] == 0 and not any(e.capped for e in ended)


def test_a_play_that_fails_closes_its_game(monkeypatch):
    # A Game Boy game holds one emulator per board: a Ctrl-C or a VLM's error mid-play left them running.
    import agents.evaluation

    closed = []

    def make_game(*args, **kwargs):
        game = real(*args, **kwargs)
        game.close = lambda: closed.append(game)
        return game

    class Failing:  # a policy source whose first move fails
        def make_actor(self, num_envs, deterministic, streams):
            return self

        def __call__(self, obs, game, live):
            raise KeyboardInterrupt

    real = agents.evaluation.make_game
    monkeypatch.setattr(agents.evaluation, "make_game", make_game)
    with pytest.raises(KeyboardInterrupt):
        run_episodes(Failing(), "snake", {"size": 6}, 2)
    assert len(closed) == 1


def test_episodes_are_measured_up_to_their_own_end():
    episodes = run_episodes(RandomPolicy(0), "snake", {"size": 6}, 6, seed=3, batch=6)
    assert len({e.length for e in episodes}) > 1  # boards that ended early are not counted on
    for e in episodes:
        game = make_game("snake", num_envs=1, size=6)
        game.reset(np.zeros(1, dtype=np.int64), seeds_from(e.seed, 1))
        ret = 0.0
        for a in e.actions:
            reward, _, _ = game.step(np.array([a]))
            ret += float(reward[0])
        assert e.length == len(e.actions) and e.ret == pytest.approx(ret)
        assert e.info == game.episode_info(0) and e.score == e.info["score"]


def test_the_best_episode_is_the_top_score_then_the_top_return_then_the_shortest():
    # Duel games with no apple: a one-round crash (-2) is no best episode beside a 100-round win (+1).
    assert best_episode([episode(0.0, 1, -2.0, seed=0), episode(0.0, 100, 1.0, 1.0, seed=1)]).seed == 1
    tied = [episode(3.0, 50, 2.0, seed=0), episode(3.0, 30, 2.0, seed=1), episode(2.0, 9, 9.0, seed=2)]
    assert best_episode(tied).seed == 1  # the score first; equal returns: the fewer steps


@pytest.mark.parametrize("limit", [4096, 0], ids=["at-the-end", "at-the-start"])
def test_an_mp4_that_ffmpeg_could_not_finish_is_an_error_not_a_file(tmp_path, limit):
    import subprocess
    import sys

    from tests.conftest import ROOT

    # imageio does not check ffmpeg's exit status: ffmpeg stopped by a file size limit (as by a full disk)
    # at the end left an MP4 cut short, which then replaced the good one; stopped at the start, the error
    # held ffmpeg's whole command line.
    (tmp_path / "best.mp4").write_bytes(b"the good video")
    code = ("import resource, sys, numpy as np; from pathlib import Path; "
            "from agents.evaluation import write_video; "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
            "frames = np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)\n"
            "try:\n    write_video(frames, Path(sys.argv[1]))\n"
            "except OSError as e:\n    print('OSError', e)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "best.mp4")], cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert out.stdout.startswith("OSError") and "MP4" in out.stdout, out.stdout + out.stderr
    assert out.stdout.count("\n") == 1 and "FFMPEG COMMAND" not in out.stdout  # one line
    assert (tmp_path / "best.mp4").read_bytes() == b"the good video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.mp4"]


@pytest.mark.parametrize("frames", [np.zeros((3, 4, 4, 3), np.float32), np.zeros((3, 4, 4), np.uint8),
                                    np.zeros((0, 4, 4, 3), np.uint8),
                                    np.zeros((3, 4, 4, 4), np.uint8)])  # RGBA: a third more bytes a frame
@pytest.mark.parametrize("name", ["best.mp4", "best.gif"])
def test_frames_that_are_no_uint8_rgb_video_are_refused_and_nothing_is_written(tmp_path, frames, name):
    # ffmpeg is sent the frames' raw bytes: float32 frames made a video of garbage, four times as long.
    from agents.evaluation import write_video

    with pytest.raises(ValueError, match=r"^frames must be a uint8 array of shape \(frames, height, width"):
        write_video(frames, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_written_mp4_passes_its_completeness_check(tmp_path):
    """And is the MP4 imageio's writer made before frames were sent to ffmpeg one by one: H.264 in yuv420p
    (what browsers play), every frame, at RENDER_FPS, its sides padded to even."""
    import imageio.v2 as imageio

    from agents.evaluation import mp4_complete, write_video
    from envs.env import RENDER_FPS

    frames = np.random.default_rng(0).integers(0, 256, (40, 63, 65, 3), dtype=np.uint8)
    write_video(frames, tmp_path / "best.mp4")
    assert mp4_complete(tmp_path / "best.mp4")
    with imageio.get_reader(tmp_path / "best.mp4", format="FFMPEG") as video:
        meta = video.get_meta_data()
        assert (meta["codec"], meta["pix_fmt"].split("(")[0]) == ("h264", "yuv420p")
        assert (meta["fps"], meta["size"], video.count_frames()) == (RENDER_FPS, (66, 64), 40)


def test_a_gif_the_disk_cannot_take_is_one_error_without_a_second_traceback(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    # Pillow's writer failed in imageio's plugin, whose __del__ flushed it again at exit: a second
    # traceback ("Exception ignored in: PluginV3.__del__") after the error line.
    (tmp_path / "best.gif").write_bytes(b"the good video")
    code = ("import resource, sys, numpy as np; from pathlib import Path; "
            "from agents.evaluation import write_video; "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); "
            "frames = np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8)\n"
            "try:\n    write_video(frames, Path(sys.argv[1]))\n"
            "except OSError as e:\n    print('OSError', e)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "best.gif")], cwd=ROOT, text=True,
                         capture_output=True, timeout=120)
    assert out.stdout.startswith("OSError"), out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr
    assert (tmp_path / "best.gif").read_bytes() == b"the good video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.gif"]


@pytest.mark.parametrize("env", ["snake", "snake_duel"])
def test_a_video_ends_on_the_death_not_on_the_frame_before(env):
    # Snake's board stays as it was on the fatal step: the last frame of the MP4/GIF (and of TensorBoard's
    # GIF, made by the same replay) looked like the one before, as if the snake had lived on.
    from agents.evaluation import replay_frames

    game = make_game(env, num_envs=1)
    game.reset(np.zeros(1, dtype=np.int64), seeds_from(0, 1))
    state = game.get_state(0)
    straight = game.ACTION_NAMES.index(state["snakes"][0]["direction"] if env == "snake_duel" else
                                       state["direction"])
    actions = []
    for _ in range(40):  # straight on into the wall (duel: the greedy bot lives on)
        actions.append(straight)
        if game.step(np.array([straight]))[1][0]:
            break
    assert game.get_state(0)["done"]
    frames = replay_frames(env, {}, 0, actions, scale=8)
    assert len(frames) == len(actions) + 1
    assert not np.array_equal(frames[-1], frames[-2])


def test_a_run_without_a_checkpoint_says_what_to_do_in_every_command(scripts, tmp_path, capsys, monkeypatch):
    # A run killed before its first save has its config.yaml and command.txt, and no model file.
    run = tmp_path / "a run"  # named quoted in the advice
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\npolicy: tiny\n")
    (run / "command.txt").write_text("train_ppo.py --env snake\n")
    start = (f"start it again with its command (in {run / 'command.txt'}) plus --force --run-dir "
             f"{shlex.quote(str(run))}")
    out = str(tmp_path / "out")
    checkpoint = "or give a model file with --checkpoint"
    for main, argv, instead in (
            (scripts.evaluate.main, [str(run)], checkpoint),
            (scripts.export_trajectories.main, [str(run), "--out", out], checkpoint),
            (scripts.compare.main, ["--env", "snake", "--specialist", str(run), "--out", out],
             "or give another run with --specialist")):
        assert main([*argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "no checkpoint to load" in err and "stopped before its first checkpoint" in err, err
        assert f"{start}, {instead}" in err
    # Named relative: the recorded command goes to the folder it ran in first, so the run is named absolute.
    monkeypatch.chdir(tmp_path)
    assert scripts.evaluate.main(["a run", "--no-progress"]) == 2
    assert f"--force --run-dir {shlex.quote(str(run))}, {checkpoint}" in capsys.readouterr().err
    (run / "command.txt").unlink()  # a hand-made folder: no command to start again
    assert scripts.evaluate.main([str(run)]) == 2
    assert "; train it first (scripts/train_ppo.py), or give a model file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_still_before_its_first_checkpoint_is_not_told_to_start_again(scripts, tmp_path, capsys):
    # Found evaluating a default run in its first minutes: the advice was to start it again with --force.
    from agents.runs import claim_run

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\npolicy: tiny\n")
    (run / "command.txt").write_text("train_ppo.py --env snake\n")
    with claim_run(run):  # as train_ppo.py holds it while it trains
        assert scripts.evaluate.main([str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (f"a train_ppo.py (process {os.getpid()}) is training into this run folder and has saved no "
            "checkpoint yet") in err, err
    assert "--force" not in err and err.rstrip().endswith("or give a model file with --checkpoint"), err


def test_results_the_disk_cannot_take_are_named_as_every_command_names_them(tmp_path, monkeypatch):
    import argparse
    import errno
    from pathlib import Path

    from agents.evaluate_cli import write_results
    from agents.runs import RunError

    def disk_full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    args = argparse.Namespace(no_video=True, video_steps=10)
    with pytest.raises(RunError) as e:
        write_results({}, tmp_path / "eval-step5", "snake", {}, [], args)
    assert str(e.value) == (f"{tmp_path / 'eval-step5.json'} could not be written (No space left on device); "
                            "any file there before is unchanged")  # outputs.not_written's line
    assert list(tmp_path.iterdir()) == []


def test_a_signal_just_after_the_results_are_in_place_is_ignored(tmp_path):
    """evaluate's last step: a Ctrl-C in the moment after raised, and the script said "interrupted: no new
    results written" beside the new results."""
    import argparse
    import signal

    from agents.evaluate_cli import write_results
    from agents.interrupts import stop_signals_interrupt

    args = argparse.Namespace(no_video=True, video_steps=10)
    try:
        with stop_signals_interrupt():
            write_results({"episodes": 1}, tmp_path / "eval-step5", "snake", {}, [], args)
            signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pytest.fail("a signal after the results were in place stopped the command")
    assert (tmp_path / "eval-step5.json").is_file()


def test_a_folder_where_a_runs_config_names_its_state_file_is_called_a_folder(scripts, tmp_path, capsys):
    run = tmp_path / "run"
    (tmp_path / "states").mkdir()
    run.mkdir()
    (run / "config.yaml").write_text(f"env: pokemon_red\nenv_kwargs:\n  state: {tmp_path / 'states'}\n")
    assert scripts.evaluate.main([str(run)]) == 2
    states, config = tmp_path / "states", run / "config.yaml"
    assert capsys.readouterr().err == (f"error: {run}: the run's state file {states} is a folder; write the "
                                       f"file itself as env_kwargs.state in {config}\n")


def untrained_snake_model(recurrent: bool, seed: int = 0):
    """A tiny PPO (or RecurrentPPO) model for 6x6 Snake, untrained: enough to play episodes of its own."""
    from agents.train import build_model
    from envs import make_vec

    venv = make_vec("snake", 2, num_workers=0, seed=0, size=6)
    try:
        return build_model({"env": "snake", "policy": "tiny", "device": "cpu", "seed": seed,
                            "ppo": {"n_steps": 8, "batch_size": 16}, "recurrent": recurrent}, venv)
    finally:
        venv.close()


@pytest.mark.parametrize("recurrent", [False, True], ids=["ppo", "recurrent"])
def test_evaluation_plays_the_episodes_sb3s_evaluate_policy_plays(recurrent):
    # README: evaluate's episode k is seeded seed + k, its actions are the argmax, and its mean_return is
    # what SB3's evaluate_policy reports on the same seeds (one board of make_vec seeded seed plays seed + e
    # as its e-th episode), for RecurrentPPO too (evaluate_policy passes its LSTM state and episode starts).
    from stable_baselines3.common.evaluation import evaluate_policy

    from envs import make_vec

    model, seed, n = untrained_snake_model(recurrent, seed=3), 1_000_000, 6
    ours = run_episodes(model, "snake", {"size": 6}, n, seed=seed, batch=4)
    venv = make_vec("snake", 1, num_workers=0, seed=seed, size=6)
    try:
        returns, lengths = evaluate_policy(model, venv, n_eval_episodes=n, deterministic=True,
                                           return_episode_rewards=True)
    finally:
        venv.close()
    assert len(set(lengths)) > 1  # the seeds play different games, so an off-by-one seed would show
    listed = summarize(ours)  # its per_episode, as evaluate's JSON lists them, are SB3's lists
    assert listed["per_episode"]["length"] == [e.length for e in ours] == lengths
    assert listed["per_episode"]["return"] == [e.ret for e in ours] == pytest.approx(returns)
    assert listed["mean_return"] == pytest.approx(np.mean(returns))


@pytest.mark.parametrize("recurrent", [False, True], ids=["ppo", "recurrent"])
def test_sampled_and_random_episode_k_is_one_game_however_many_are_played(recurrent):
    """Sampled actions came from torch's global generator and random ones from one stream per batch, so
    episode k changed with --episodes (and a sampled evaluation with the same seed was never the same
    twice); now each episode has its own stream, the export's: its episode k is the same game too."""
    import torch

    from vlm.trajectories import play

    model = untrained_snake_model(recurrent)
    kwargs = {"size": 6}

    def games(source, n, batch=128):
        torch.manual_seed(n)  # another torch state each time: it must not matter
        return [(e.seed, e.actions) for e in run_episodes(source, "snake", kwargs, n, seed=9, batch=batch,
                                                          max_steps=40, deterministic=False)]

    for source in (model, RandomPolicy(4)):
        five = games(source, 5)
        assert games(source, 3) == five[:3] and games(source, 5, batch=2) == five
        assert len({tuple(a) for _, a in five}) > 1
    exported = play(model, "snake", kwargs, [0, 1, 2], 9, 40, deterministic=False)
    assert [log.actions.tolist() for log in exported] == [a for _, a in games(model, 3)]


# A value the game refuses (ValueError), and an option the game lacks where the check of a config's options
# cannot list them (a game whose **kwargs go to object: None), so make_game raises a TypeError.
@pytest.mark.parametrize("kwargs, shown, listed", [("{size: 3}", "{'size': 3}", True),
                                                   ("{sise: 4}", "{'sise': 4}", False)])
def test_a_random_agent_on_a_game_the_runs_config_sets_up_wrongly_is_one_error(scripts, tmp_path, capsys,
                                                                               monkeypatch, kwargs, shown,
                                                                               listed):
    # --random loads no model, so nothing built the game before the play: a traceback from inside it.
    import agents.runs

    if not listed:
        monkeypatch.setattr(agents.runs, "game_options", lambda env: None)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(f"env: snake\npolicy: tiny\nenv_kwargs: {kwargs}\n")
    assert scripts.evaluate.main([str(run), "--random", "--episodes", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    said = f"error: the run's config.yaml sets env_kwargs {shown} that snake refuses: "
    assert err.startswith(said), err
    assert "Traceback" not in err and sorted(p.name for p in run.iterdir()) == ["config.yaml"]


def test_a_missing_mp4_writer_is_named_before_the_episodes_are_played(scripts, tmp_path, capsys, monkeypatch):
    # imageio-ffmpeg 0.4.x with setuptools 81+ (no pkg_resources): imageio found "no backend" once every
    # episode was played, and the results went with the traceback.
    import sys

    import agents.callbacks  # noqa: F401 (see below)
    import agents.compare
    import agents.evaluation

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("env: snake\npolicy: tiny\nenv_kwargs: {size: 6}\n")
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # an import of it raises ImportError
    # agents.compare (--vlm) and agents.callbacks have names of their own for it: imported above, not first
    # by the calls below, where they kept this stand-in for the test process's later tests (one failed for
    # it under pytest-xdist). compare's is the one --vlm plays with.
    for module in (agents.evaluation, agents.compare):
        monkeypatch.setattr(module, "run_episodes", lambda *a, **k: pytest.fail("episodes played"))
    assert scripts.evaluate.main([str(run), "--random", "--episodes", "2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    said = "error: no MP4 writer for the best episode's video: imageio-ffmpeg does not import ("
    assert err.startswith(said), err
    assert err.endswith("pip install 'imageio-ffmpeg>=0.5', or add --no-video\n"), err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"]
    # --vlm: said before the play (which may be paid for) and before its output folder is made.
    out = tmp_path / "vlm"
    assert scripts.evaluate.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1",
                                  "--out", str(out), "--no-progress"]) == 2
    assert "error: no MP4 writer for the best episode's video" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.undo()  # run_episodes back; the writer still hidden: --no-video needs none
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    no_video = ["--random", "--episodes", "2", "--no-progress", "--no-video"]
    assert scripts.evaluate.main([str(run), *no_video]) == 0
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "eval-random.json"]


@pytest.mark.parametrize("last", [0, 1, 3, None, 1000])
def test_a_replay_of_its_last_steps_is_the_end_of_the_whole_replay(last):
    # The video's --video-steps: the last `last` steps and the state before them (last + 1 frames).
    from agents.evaluation import replay_frames

    e = max(run_episodes(RandomPolicy(0), "snake", {"size": 6}, 6, seed=3), key=lambda e: e.length)
    whole = replay_frames("snake", {"size": 6}, e.seed, e.actions, scale=2)
    assert len(whole) == e.length + 1 > 4
    part = replay_frames("snake", {"size": 6}, e.seed, e.actions, scale=2, last=last)
    assert np.array_equal(part, whole if last is None else whole[-(last + 1):])


def test_a_recurrent_policy_keeps_its_memory_through_the_episode():
    # README: evaluation carries each board's LSTM state from its episode's first step; episode_start is
    # True on that step only, and the state the model returned goes back into the next call.
    from types import SimpleNamespace

    calls = []

    class Recurrent:
        policy = SimpleNamespace(lstm_actor=object())

        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            calls.append((state, episode_start.tolist(), deterministic))
            return np.zeros(len(obs), dtype=np.int64), len(calls)

    run_episodes(Recurrent(), "sokoban", {}, 2, seed=1, max_steps=3)
    assert calls == [(None, [True, True], True), (1, [False, False], True), (2, [False, False], True)]


def test_the_random_agent_plays_its_own_seed():
    # RandomPolicy(seed) draws board k's actions from [seed, *streams[k]]: another seed, another game.
    game = make_game("snake", num_envs=2)

    def actions(seed, streams=None):
        actor = RandomPolicy(seed).make_actor(2, streams=streams)
        return [actor(None, game).tolist() for _ in range(12)]

    assert actions(1) != actions(2) and actions(1, [[0], [1]]) == actions(1)
    assert actions(1, [[7, 0], [7, 1]]) != actions(1)


def test_a_gif_loops_forever_and_holds_its_last_frame(tmp_path):
    import io

    from PIL import Image

    from agents.evaluation import GIF_END_HOLD_MS, animated_gif

    frames = np.full((4, 8, 8, 3), (24, 26, 33), dtype=np.uint8)  # Snake's board colour
    for k, colour in enumerate([(230, 57, 70), (82, 196, 26), (40, 110, 230), (255, 214, 10)]):
        frames[k, k] = colour  # each frame its own, so Pillow merges none
    gif = Image.open(io.BytesIO(animated_gif(frames)))
    durations, shown = [], []
    for k in range(gif.n_frames):
        gif.seek(k)
        durations.append(gif.info["duration"])
        shown.append(np.asarray(gif.convert("RGB")))
    assert durations == [100, 100, 100, GIF_END_HOLD_MS] and gif.info["loop"] == 0
    # The frames' own colours, in RGB order (five colours: the palette holds them exactly).
    assert np.array_equal(np.stack(shown), frames)
    assert GIF_END_HOLD_MS == 1000  # animated_gif's docstring: the last frame is held for a second


@pytest.mark.parametrize("where", ["reading", "encoding"])
@pytest.mark.parametrize("safe_points", [False, True], ids=["evaluate", "training_video"])
def test_a_stop_while_a_gif_is_encoded_ends_it_at_the_next_frame(tmp_path, monkeypatch, where, safe_points):
    """A signal at the third frame read (``Image.fromarray``) or quantized (``convert``) stops the GIF there:
    imageio's writer, on the way out, encoded every frame again (a stopped evaluate.py waited twice the
    GIF's time: 6-10 s for 1,000 Game Boy frames on two busy cores), or, stopped while it read the frames,
    raised ``ValueError: unknown file extension`` (status 1, a traceback) in the stop's place. Inside
    training's ``stop_at_safe_points`` (the TensorBoard video) the stop waited for the whole GIF."""
    import os
    import signal

    from PIL import Image

    from agents.evaluation import write_video
    from agents.interrupts import stop_at_safe_points, stop_signals_interrupt

    calls = []
    owner, name = (Image, "fromarray") if where == "reading" else (Image.Image, "convert")
    real = getattr(owner, name)

    def signal_at_third(*args, **kwargs):
        calls.append(len(calls))
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, signal_at_third)
    frames = np.random.default_rng(0).integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    (tmp_path / "best.gif").write_bytes(b"the good video")
    with pytest.raises(KeyboardInterrupt), stop_signals_interrupt(), (
            stop_at_safe_points() if safe_points else contextlib.nullcontext()):
        write_video(frames, tmp_path / "best.gif")
    assert len(calls) <= 4  # the frame the signal came in, and at most the one being read with it
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("best.gif", b"the good video")]


def test_a_stop_while_ffmpeg_starts_leaves_no_ffmpeg_behind_to_write_the_file(tmp_path, monkeypatch, capfd,
                                                                             caplog):
    """A signal just as ffmpeg started (in imageio-ffmpeg's writer, before it armed its clean-up) left ffmpeg
    running past the stop: it wrote its output, the temp file that write_video had already removed, into the
    folder for good (``..eval-random-best.<pid>.tmp.<pid>.tmp.mp4``, seen after a SIGINT sent during
    evaluate.py's MP4). The stop now waits for the start, and ffmpeg has ended as write_video stops. Nor is
    the stop preceded by warnings of an empty video (imageio-ffmpeg's "No frames have been written", then
    ffmpeg's own two lines), which ffmpeg closed with no frame printed."""
    import os
    import signal
    import subprocess

    from agents.evaluation import write_video
    from agents.interrupts import stop_signals_interrupt

    started = []

    class SignalledPopen(subprocess.Popen):
        def __init__(self, cmd, *args, **kwargs):
            super().__init__(cmd, *args, **kwargs)
            if "rawvideo" in cmd:  # the writer's ffmpeg, not imageio-ffmpeg's probe of its encoders
                started.append(self)
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(subprocess, "Popen", SignalledPopen)
    (tmp_path / "best.mp4").write_bytes(b"the good video")
    try:
        with pytest.raises(KeyboardInterrupt), stop_signals_interrupt():
            write_video(np.zeros((20, 16, 16, 3), dtype=np.uint8), tmp_path / "best.mp4")
        (ffmpeg,) = started
        assert ffmpeg.poll() is not None  # ended, not writing on
        assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("best.mp4", b"the good video")]
        assert capfd.readouterr().err == ""  # ffmpeg's stderr is the process's: fd 2
        assert [r.getMessage() for r in caplog.records] == []  # imageio-ffmpeg's warnings (on stderr unless
        # a handler is set: Python's last resort prints them)
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


def test_a_stop_inside_ffmpegs_frame_write_leaves_no_ffmpeg_child_running_or_unreaped(tmp_path, monkeypatch):
    """A signal inside imageio-ffmpeg's write of a frame to ffmpeg's stdin (where it lands when ffmpeg
    reads slower than frames come): the writer killed ffmpeg and never waited for it, a zombie child of
    evaluate.py until it exited (seen as state Z in /proc after a SIGINT sent while ffmpeg was held)."""
    import os
    import signal
    import subprocess

    from agents.evaluation import write_video
    from agents.interrupts import stop_signals_interrupt

    started = []

    class SignalledStdin:
        def __init__(self, stdin):
            self.stdin, self.writes = stdin, 0

        def write(self, data):
            self.writes += 1
            if self.writes == 3:  # a frame past the first, sent in the writer's own code
                os.kill(os.getpid(), signal.SIGINT)
            return self.stdin.write(data)

        def __getattr__(self, name):
            return getattr(self.stdin, name)

    class SignalledPopen(subprocess.Popen):
        def __init__(self, cmd, *args, **kwargs):
            super().__init__(cmd, *args, **kwargs)
            if "rawvideo" in cmd:  # the writer's ffmpeg, not imageio-ffmpeg's probe of its encoders
                started.append(self)
                self.stdin = SignalledStdin(self.stdin)

    monkeypatch.setattr(subprocess, "Popen", SignalledPopen)
    try:
        with pytest.raises(KeyboardInterrupt) as stopped, stop_signals_interrupt():
            write_video(np.zeros((20, 16, 16, 3), dtype=np.uint8), tmp_path / "best.mp4")
        assert "write_frames" in [e.name for e in stopped.traceback]  # in the writer, not at a stop point
        (ffmpeg,) = started
        with pytest.raises(ChildProcessError):  # reaped: neither running nor a zombie
            os.waitpid(ffmpeg.pid, os.WNOHANG)
        assert list(tmp_path.iterdir()) == []
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("end", ["stop", "ffmpeg died"])
def test_an_mp4_cut_short_leaves_no_pipe_to_ffmpeg_open(tmp_path, monkeypatch, end):
    """A stop between frames (a Ctrl-C during evaluate.py's MP4 that lands outside imageio-ffmpeg's write), or
    an ffmpeg that died while the frames sent since sat in the pipe's buffer (frames under its 8 KiB): ffmpeg
    was reaped before imageio-ffmpeg's writer closed, and the writer closes ffmpeg's stdin only while ffmpeg
    runs, so the pipe stayed open: a ResourceWarning under ``python -X dev``, with "Exception ignored ...
    BrokenPipeError" for the frames still buffered, once it was collected."""
    import subprocess

    import agents.evaluation as evaluation

    started: list[subprocess.Popen] = []

    class RecordedPopen(subprocess.Popen):
        def __init__(self, cmd, *args, **kwargs):
            super().__init__(cmd, *args, **kwargs)
            if "rawvideo" in cmd:  # the writer's ffmpeg, not imageio-ffmpeg's probe of its encoders
                started.append(self)

    frames = 0

    def third_frame_ends_it() -> None:
        nonlocal frames
        frames += 1
        if frames == 3:
            if end == "stop":
                raise KeyboardInterrupt
            started[0].kill()
            started[0].wait()

    monkeypatch.setattr(subprocess, "Popen", RecordedPopen)
    monkeypatch.setattr(evaluation, "stop_point", third_frame_ends_it)
    try:
        with pytest.raises(KeyboardInterrupt if end == "stop" else OSError):
            evaluation.write_video(np.zeros((20, 16, 16, 3), dtype=np.uint8), tmp_path / "best.mp4")
        (ffmpeg,) = started
        assert (ffmpeg.stdin.closed, ffmpeg.stdout.closed) == (True, True)  # nothing left to warn of
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


def test_a_stop_while_ffmpeg_is_frozen_before_its_first_frame_ends_at_once(tmp_path, monkeypatch):
    """ffmpeg stopped (SIGSTOP, as a Ctrl-Z of its group or a loaded box) before it read the first frame: that
    frame's write, larger than the pipe's buffer, blocks. It was sent with the stop held (deferred_stop), so
    a Ctrl-C waited for ffmpeg to read it, for good while ffmpeg stayed stopped (here until it is let go after
    3 s), and only then was ffmpeg killed. The stop now ends the write at once, ffmpeg killed and reaped."""
    import os
    import signal
    import subprocess
    import threading
    import time

    from agents.evaluation import write_video
    from agents.interrupts import stop_signals_interrupt

    started, timers, sent = [], [], []

    def stop() -> None:
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    class FrozenPopen(subprocess.Popen):
        def __init__(self, cmd, *args, **kwargs):
            super().__init__(cmd, *args, **kwargs)
            if "rawvideo" in cmd:  # the writer's ffmpeg, not imageio-ffmpeg's probe of its encoders
                started.append(self)
                os.kill(self.pid, signal.SIGSTOP)
                timers.extend([threading.Timer(0.3, stop),
                               threading.Timer(3.0, self.send_signal, (signal.SIGCONT,))])  # the test ends
                for timer in timers:
                    timer.start()

    monkeypatch.setattr(subprocess, "Popen", FrozenPopen)
    frames = np.zeros((3, 256, 256, 3), dtype=np.uint8)  # 192 KiB a frame: past a pipe's 64 KiB
    (tmp_path / "best.mp4").write_bytes(b"the good video")
    try:
        with pytest.raises(KeyboardInterrupt), stop_signals_interrupt():
            write_video(frames, tmp_path / "best.mp4")
        took = time.monotonic() - sent[0]
        (ffmpeg,) = started
        with pytest.raises(ChildProcessError):  # killed and reaped: neither running nor a zombie
            os.waitpid(ffmpeg.pid, os.WNOHANG)
        assert took < 1.0
        assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("best.mp4", b"the good video")]
    finally:
        for timer in timers:
            timer.cancel()
        for proc in started:
            proc.kill()
            proc.wait()


def test_an_mp4_of_odd_height_and_even_width_is_padded_to_even_sides(tmp_path):
    import imageio.v2 as imageio

    from agents.evaluation import write_video

    frames = np.random.default_rng(0).integers(0, 256, (6, 63, 64, 3), dtype=np.uint8)
    write_video(frames, tmp_path / "best.mp4")
    with imageio.get_reader(tmp_path / "best.mp4", format="FFMPEG") as video:
        assert video.get_data(0).shape == (64, 64, 3)


def box(kind: bytes, payload: bytes = b"", size: int | None = None) -> bytes:
    return (len(payload) + 8 if size is None else size).to_bytes(4, "big") + kind + payload


@pytest.mark.parametrize("data, complete", [
    (box(b"ftyp", b"isom") + box(b"moov"), True),
    (box(b"ftyp", b"isom") + box(b"mdat", b"x" * 9), False),  # no index
    (box(b"moov") + box(b"mdat", b"x" * 9) + b"ab", False),  # bytes past the last box
    (box(b"moov") + box(b"mdat", b"x" * 90)[:50], False),  # a box cut short
    (box(b"moov") + box(b"mdat", (24).to_bytes(8, "big") + b"x" * 8, size=1), True),  # 64-bit size
    (box(b"moov") + box(b"mdat", b"x" * 20, size=0), True),  # to the end of the file
    (box(b"moov") + (4).to_bytes(4, "big") + box(b"free"), False),  # a box smaller than its header
])
def test_an_mp4_is_complete_when_its_boxes_fill_it_and_hold_moov(tmp_path, data, complete):
    from agents.evaluation import mp4_complete

    (tmp_path / "v.mp4").write_bytes(data)
    assert mp4_complete(tmp_path / "v.mp4") is complete


def test_the_random_agent_plays_every_action_about_equally_often():
    # The baseline is uniformly random: an agent that never pressed the last action scored as the baseline.
    game = make_game("snake", num_envs=4)
    actor = RandomPolicy(0).make_actor(4)
    counts = np.bincount(np.concatenate([actor(None, game) for _ in range(200)]), minlength=4)
    assert len(counts) == game.action_space.n and counts.min() > 800 / 4 * 0.8


def test_episodes_the_game_itself_truncates_end_there_and_are_not_capped():
    # Sokoban truncates after its max_steps: those episodes end on their own (truncated, not terminated),
    # so they are not "cut at --max-steps", and each board that ends is counted by the progress once.
    ticks: list[tuple[int, int]] = []
    episodes = run_episodes(RandomPolicy(0), "sokoban", {"max_steps": 3}, 5, seed=1, batch=5, max_steps=50,
                            progress=lambda ended, stepped: ticks.append((ended, stepped)))
    assert [e.length for e in episodes] == [3] * 5 and not any(e.capped for e in episodes)
    assert ticks == [(0, 5), (0, 5), (5, 5)]


def test_an_episode_that_ends_on_the_last_move_max_steps_allows_is_not_capped():
    # Ended by the game on the very move --max-steps allows: a whole episode, not one of the "N cut at
    # --max-steps" evaluate prints (capped), though its length is the cap.
    episodes = run_episodes(RandomPolicy(0), "sokoban", {"max_steps": 3}, 3, seed=1, max_steps=3)
    assert [e.length for e in episodes] == [3] * 3 and not any(e.capped for e in episodes)
    assert summarize(episodes)["capped"] == 0
    cut = run_episodes(RandomPolicy(0), "sokoban", {"max_steps": 3}, 3, seed=1, max_steps=2)
    assert all(e.capped for e in cut)


def test_a_policy_source_gets_the_play_mode_and_each_boards_stream():
    # A policy source's make_actor (a VLM, the random agent) is told whether to sample and each board's
    # stream, [seed, k] for episode k however the episodes are batched.
    from agents.evaluation import RandomActor

    made = []

    class Source:
        def make_actor(self, num_envs, deterministic, streams):
            made.append((num_envs, deterministic, streams))
            return RandomActor(0, streams)

    for deterministic in (True, False):
        run_episodes(Source(), "snake", {"size": 6}, 3, seed=7, batch=2, max_steps=2,
                     deterministic=deterministic)
    assert made == [(2, True, [[7, 0], [7, 1]]), (1, True, [[7, 2]]),
                    (2, False, [[7, 0], [7, 1]]), (1, False, [[7, 2]])]


def test_a_checkpoint_of_another_action_count_does_not_fit_even_where_the_observations_do(tmp_path):
    # Only another board size (another observation shape) was tried: a model whose actions are not the
    # game's passed, and failed later or played moves that mean something else.
    from types import SimpleNamespace

    from agents.evaluation import check_fits, check_game
    from agents.runs import RunError

    shape, n, _ = check_game("snake", {"size": 6})

    def model(actions: int) -> SimpleNamespace:
        return SimpleNamespace(observation_space=SimpleNamespace(shape=shape),
                               action_space=SimpleNamespace(n=actions))

    said = f"with {n + 1} actions, snake with this run's settings gives .* with {n}:"
    with pytest.raises(RunError, match=said):
        check_fits(model(n + 1), "snake", {"size": 6}, tmp_path / "model.zip")
    check_fits(model(n), "snake", {"size": 6}, tmp_path / "model.zip")  # the game it was trained on: it fits


def fake_ffmpeg(monkeypatch, ends) -> None:
    """imageio-ffmpeg's MP4 writer replaced by one that keeps the frames sent and, as it is closed (ffmpeg's
    end), calls ``ends(path, frames)``, whose exception the writer raises as imageio-ffmpeg's own."""
    import imageio_ffmpeg

    def write_frames(path, size, **kwargs):
        frames = []
        try:
            while True:
                frame = yield
                if frame is not None:
                    frames.append(frame)
        except GeneratorExit:
            ends(Path(path), np.stack(frames))

    monkeypatch.setattr(imageio_ffmpeg, "write_frames", write_frames)


@pytest.mark.parametrize("failure, message", [
    (OSError("[Errno 32] Broken pipe\n\nFFMPEG COMMAND:\nffmpeg -y -f rawvideo ..."),
     "ffmpeg could not write the MP4 ([Errno 32] Broken pipe)"),
    (OSError(), "ffmpeg could not write the MP4 (OSError)"),
    (None, "ffmpeg could not finish the MP4 (a full disk?)"),  # ffmpeg stopped, imageio said nothing
])
def test_an_mp4_ffmpeg_failed_is_one_line_and_the_old_video_stays(tmp_path, monkeypatch, failure, message):
    # In process what the RLIMIT_FSIZE tests show in a child: imageio's error cut to its first line, and an
    # MP4 cut short (no index) refused. The good video is not replaced either way.
    from agents.evaluation import write_video

    def ffmpeg_ends(path, frames):
        if failure is not None:
            raise failure
        path.write_bytes(box(b"ftyp", b"isom") + box(b"mdat", b"x" * 9))

    fake_ffmpeg(monkeypatch, ffmpeg_ends)
    (tmp_path / "best.mp4").write_bytes(b"the good video")
    with pytest.raises(OSError) as exc:
        write_video(np.zeros((2, 4, 4, 3), dtype=np.uint8), tmp_path / "best.mp4")
    assert str(exc.value) == message
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("best.mp4", b"the good video")]


def test_summary_max_and_min_are_of_all_episodes_whatever_their_order():
    # Episodes come in seed order, not score order: the max and min are not the last and first ones.
    figures = summarize([episode(2.0, 10, 0.0), episode(6.0, 10, 0.0), episode(1.0, 10, 0.0)])
    assert (figures["max_score"], figures["min_score"], figures["median_score"]) == (6.0, 1.0, 2.0)


def test_the_median_of_an_even_count_is_halfway_between_the_middle_two_and_ties_count_each():
    # README: evaluate prints the median score; of 4 episodes it is the mean of the 2nd and 3rd scores
    # (np.median), not either one, and tied scores count once per episode.
    even = summarize([episode(s, 10, 0.0) for s in (10.0, 1.0, 4.0, 2.0)])
    assert even["median_score"] == 3.0
    tied = summarize([episode(s, 10, 0.0) for s in (5.0, 2.0, 2.0, 9.0, 2.0, 7.0)])
    assert tied["median_score"] == 3.5  # 2, 2, 2, 5, 7, 9


def test_without_max_steps_an_episode_lasts_as_long_as_the_games_own_limit():
    # README: --max-steps defaults to "the game's own limits"; a level allowed 1,200 moves plays them all.
    (e,) = run_episodes(RandomPolicy(0), "sokoban", {"max_steps": 1200}, 1, seed=1)
    assert e.length == 1200 and not e.capped


def test_an_mp4_is_padded_by_repeating_its_last_row_and_column_into_a_new_folder(tmp_path, monkeypatch):
    # H.264 wants even sides: write_video pads by repeating the edge (not black), and makes the folder.
    from agents.evaluation import write_video

    written = []

    def ffmpeg_ends(path, frames):
        written.append(frames)
        path.write_bytes(box(b"ftyp", b"isom") + box(b"moov"))

    fake_ffmpeg(monkeypatch, ffmpeg_ends)
    frames = np.random.default_rng(0).integers(1, 256, (2, 3, 5, 3), dtype=np.uint8)
    write_video(frames, tmp_path / "new" / "best.mp4")
    (padded,) = written
    assert padded.shape == (2, 4, 6, 3) and (tmp_path / "new" / "best.mp4").is_file()
    assert (padded[:, :3, :5] == frames).all()
    assert (padded[:, 3, :5] == frames[:, 2]).all() and (padded[:, :3, 5] == frames[:, :, 4]).all()


@pytest.mark.parametrize("play", [
    lambda: run_episodes(RandomPolicy(0), "sokoban", {"max_steps": 500}, 1, seed=1, max_steps=500),
    lambda: replay_frames("sokoban", {"max_steps": 500}, 1, [0] * 100),
], ids=["played", "replayed"])
def test_a_stop_in_a_training_videos_episode_comes_at_the_next_step(monkeypatch, play):
    """Inside training's ``stop_at_safe_points`` a signal waits for a stop point; a step of a video's episode
    is one, as it is played and as it is replayed to render its frames (a long game's episode would
    otherwise hold the stop: on the Game Boy test cartridge a 1,000-step replay took 0.7 s, 5.5 s on two
    busy cores)."""
    import os
    import signal

    import agents.evaluation
    from agents.interrupts import stop_at_safe_points, stop_signals_interrupt

    steps = []
    real = agents.evaluation.make_game

    def signalling_game(*args, **kwargs):
        game = real(*args, **kwargs)
        step = game.step

        def signal_on_third_step(action):
            steps.append(len(steps))
            if len(steps) == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return step(action)

        game.step = signal_on_third_step
        return game

    monkeypatch.setattr(agents.evaluation, "make_game", signalling_game)
    with stop_signals_interrupt(), stop_at_safe_points(), pytest.raises(KeyboardInterrupt):
        play()
    assert len(steps) == 3  # the step the signal came in was played, and no other


def test_a_vlm_evaluation_past_this_machines_memory_is_refused_before_any_play(scripts, tmp_path, capsys,
                                                                              monkeypatch):
    # evaluate --vlm plays every episode at once, as compare does: --episodes 1e8 of Snake was a NumPy
    # traceback ("Unable to allocate 74.5 GiB"), and a size NumPy could allocate met the out-of-memory killer.
    import agents.compare

    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: 1395 * 1000)
    out = tmp_path / "vlm"
    assert scripts.evaluate.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1001",
                                  "--out", str(out), "--no-progress", "--no-video", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --episodes 1,001: every episode is played at once, one board each")
    assert err.endswith("; use --episodes 1,000 or fewer\n") and not out.exists()


def test_a_vlm_evaluation_whose_boards_numpy_cannot_allocate_is_one_line_naming_episodes(scripts, tmp_path,
                                                                                       capsys, monkeypatch):
    # The up-front check is a floor and needs the memory figure: where the system cannot say it (or a
    # ulimit -v under it refuses), --episodes 1e18 was a NumPy MemoryError traceback ("Unable to allocate
    # 6.94 EiB"), where compare says one line.
    import agents.compare

    monkeypatch.setattr(agents.compare, "memory_bytes", lambda: None)
    out = tmp_path / "vlm"
    assert scripts.evaluate.main(["--env", "snake", "--vlm", "m@http://127.0.0.1:9/v1", "--episodes", "1e18",
                                  "--seed", "0", "--out", str(out), "--no-progress", "--no-video",
                                  "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --episodes 1,000,000,000,000,000,000: every episode is played at once, "
                          "one board each, and their boards do not fit in this machine's memory (")
    assert "Traceback" not in err and err.count("\n") == 1 and not out.exists()


def test_a_batch_is_stepped_until_its_last_episode_ends_and_no_further(monkeypatch):
    # Once every board of a batch has ended, playing on to max_steps (100,000 moves without --max-steps)
    # changes no figure, only the time: each further move steps the game and asks the policy again.
    import agents.evaluation

    steps: list[int] = []
    real = agents.evaluation.make_game

    def counting_game(*args, **kwargs):
        game = real(*args, **kwargs)
        step, batch = game.step, len(steps)
        steps.append(0)

        def counted(action):
            steps[batch] += 1
            return step(action)

        game.step = counted
        return game

    monkeypatch.setattr(agents.evaluation, "make_game", counting_game)
    episodes = run_episodes(RandomPolicy(0), "snake", {"size": 6}, 5, seed=3, batch=3)
    assert steps == [max(e.length for e in episodes[:3]), max(e.length for e in episodes[3:])]


def run_with_a_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    """A run folder (its files' names alone) and a checkpoint file in it."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("env: snake\n")
    (run / "command.txt").write_text("python scripts/train_ppo.py --env snake\n")
    step = run / "checkpoints" / "step_8.zip"
    step.write_bytes(b"PK")
    return run, step


def test_a_model_file_given_as_the_run_points_to_checkpoint(scripts, tmp_path, capsys):
    # evaluate.py RUN/checkpoints/step_8.zip was told to give the run folder, and not how to name the model
    # file it meant: with --checkpoint.
    run, step = run_with_a_checkpoint(tmp_path)
    assert scripts.evaluate.main([str(step)]) == 2
    assert capsys.readouterr().err == (f"error: {step} is a file; give the run folder ({run}), and the model "
                                       f"file as --checkpoint {step}\n")
    # A file that is no model (or one given with --checkpoint already, or --random's): the run folder alone.
    for argv in ([str(run / "config.yaml")], [str(step), "--checkpoint", str(step)], [str(step), "--random"]):
        assert scripts.evaluate.main(argv) == 2
        assert capsys.readouterr().err == f"error: {argv[0]} is a file; give the run folder ({run})\n"


def test_a_model_zip_that_is_a_folder_is_refused_by_evaluate_export_and_compare(scripts, tmp_path, capsys):
    # A bad copy left model.zip a folder: the three played the newest checkpoint instead, their results
    # labelled as the run's final model, and exited 0.
    import zipfile

    run, step = run_with_a_checkpoint(tmp_path)
    with zipfile.ZipFile(step, "w") as z:  # a whole zip: the one to name
        z.writestr("data", "{}")
    (run / "model.zip").mkdir()
    told = (f"cannot load checkpoint {run / 'model.zip'}: it is a folder, not a file; the run's newest "
            f"checkpoint may load: --checkpoint {step}\n")
    out = ["--out", str(tmp_path / "out"), "--no-progress"]
    assert scripts.evaluate.main([str(run), "--no-progress"]) == 2
    assert capsys.readouterr().err == f"error: {told}"
    assert scripts.export_trajectories.main([str(run), *out]) == 2
    assert capsys.readouterr().err == f"error: {told}"
    assert scripts.compare.main(["--specialist", str(run), *out]) == 2
    assert capsys.readouterr().err == f"error: --specialist {told}"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "command.txt", "config.yaml", "model.zip"]


def test_a_model_file_given_as_the_run_of_an_export_or_comparison_points_to_checkpoint(scripts, tmp_path,
                                                                                      capsys):
    # export_trajectories.py and compare.py --specialist take --checkpoint as evaluate.py does, but a model
    # file given as the run was told only to give the run folder, whose model.zip is not the one meant.
    run, step = run_with_a_checkpoint(tmp_path)
    told = f"{step} is a file; give the run folder ({run}), and the model file as --checkpoint {step}\n"
    out = ["--out", str(tmp_path / "out"), "--no-progress"]
    assert scripts.export_trajectories.main([str(step), *out]) == 2
    assert capsys.readouterr().err == f"error: {told}"
    for env in ([], ["--env", "snake"]):  # the run read for its game, or for its model
        assert scripts.compare.main(["--specialist", str(step), *env, *out]) == 2
        assert capsys.readouterr().err == f"error: --specialist {told}", env
    # Given with --checkpoint already: the run folder alone.
    assert scripts.export_trajectories.main([str(step), "--checkpoint", str(step), *out]) == 2
    assert capsys.readouterr().err == f"error: {step} is a file; give the run folder ({run})\n"
    for env in ([], ["--env", "snake"]):
        assert scripts.compare.main(["--specialist", str(step), "--checkpoint", str(step), *env, *out]) == 2
        err = capsys.readouterr().err
        assert err == f"error: --specialist {step} is a file; give the run folder ({run})\n", env
    assert not (tmp_path / "out").exists()
