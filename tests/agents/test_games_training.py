"""Every game trains through the same CLI, evaluates, and logs its own figures."""

import json
import os
from pathlib import Path
from types import SimpleNamespace

import imageio.v2 as imageio
import pytest
import torch
import yaml

from tests.conftest import PYTHON, TINY, cartridge_boot_state, events


@pytest.mark.parametrize("env, extra", [
    ("rotation", []),
    ("sokoban", ["--difficulty", "easy"]),
    ("snake_duel", ["--opponent", "greedy"]),
])
def test_short_training_run_and_evaluation(env, extra, scripts, tmp_path, capsys):
    run = tmp_path / env
    assert scripts.train_ppo.main(["--env", env, "--total-timesteps", "256", "--run-dir", str(run), *TINY,
                                   *extra]) == 0
    assert "rollout/score_mean" in events(run).Tags()["scalars"]
    capsys.readouterr()
    assert scripts.evaluate.main([str(run), "--episodes", "4", "--json", "--no-video"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 4
    if env == "snake_duel":
        assert {"mean_win", "mean_draw", "mean_loss"} <= set(result)
        assert result["mean_win"] + result["mean_draw"] + result["mean_loss"] == pytest.approx(1.0)


def test_duel_self_play_trains_against_snapshots(scripts, tmp_path, capsys):
    run = tmp_path / "duel"
    assert scripts.train_ppo.main(["--env", "snake_duel", "--opponent", "policy", "--total-timesteps",
                                   "512", "--run-dir", str(run), "--set", "self_play.snapshot_every=256",
                                   *TINY]) == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["env_kwargs"]["opponent"] == "policy"
    ea = events(run)
    assert "rollout/win_mean" in ea.Tags()["scalars"] or "rollout/loss_mean" in ea.Tags()["scalars"]
    assert ea.Images("rollout/video")  # videos play the scripted bot (a policy opponent needs the learner)
    assert scripts.evaluate.main([str(run), "--episodes", "3", "--json", "--no-video"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["mean_win"] + result["mean_draw"] + result["mean_loss"] == pytest.approx(1.0)
    # Export and compare play it against the scripted bot too (its own opponent needs the training loop).
    out = tmp_path / "data"
    assert scripts.export_trajectories.main([str(run), "--episodes", "2", "--out", str(out), "--no-progress",
                                             "--formats", "verl"]) == 0
    meta = json.loads((out / "trajectories" / "meta.json").read_text())
    assert meta["env_kwargs"]["opponent"] == "greedy"
    assert scripts.compare.main(["--env", "snake_duel", "--specialist", str(run), "--episodes", "2",
                                 "--out", str(tmp_path / "cmp"), "--no-progress"]) == 0
    report = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert report["env_kwargs"]["opponent"] == "greedy" and report["players"][0]["episodes"] == 2
    # --resume with worker processes: refused up front, the run's files as they were (its config.yaml
    # kept num_workers 0, so a plain --resume still works).
    before = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "768", "--num-workers", "2",
                                   "--no-progress"]) == 2
    assert "--num-workers 0" in capsys.readouterr().err
    assert {f: f.read_bytes() for f in run.rglob("*") if f.is_file()} == before
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "768", "--no-progress"]) == 0
    # A resumed run refills its snapshot pool from its checkpoints in the pool's span (it restarted with
    # the current policy alone): pool_size 3 keeps the newest 2 before the resume point, never that one.
    from stable_baselines3.common.save_util import load_from_zip_file

    from agents.runs import checkpoints
    from agents.selfplay import SelfPlayCallback

    saved = [(step, f) for step, f in checkpoints(run) if step < 768]
    assert len(saved) >= 2
    callback = SelfPlayCallback(snapshot_every=256, pool_size=3, run=run)
    callback.model = SimpleNamespace(device="cpu")
    callback._refill(768)
    assert len(callback.pool) == 2
    for got, (_, f) in zip(callback.pool, saved[-2:], strict=True):
        want = load_from_zip_file(f, load_data=False, device="cpu")[1]["policy"]
        assert all(torch.equal(got[k], want[k]) for k in want)
    callback.pool.clear()
    callback._refill(0)  # a new run starts from the current policy alone
    assert callback.pool == []


def test_a_self_play_run_too_short_for_a_snapshot_says_its_opponent_stays_the_starting_policy(
        scripts, tmp_path, capsys):
    run = tmp_path / "duel"  # one rollout (8 boards x 32 steps), snapshot_every 200,000
    assert scripts.train_ppo.main(["--env", "snake_duel", "--opponent", "policy", "--total-timesteps", "256",
                                   "--run-dir", str(run), *TINY]) == 0
    err = capsys.readouterr().err
    assert "self-play takes no snapshot" in err and "untrained starting policy" in err
    # Resumed, its opponents are the trained policy and its checkpoints (the pool refills from them), not the
    # untrained one: no such warning, however few snapshots the steps left take.
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "512", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "at step 256" in out and "no snapshot" not in err and "untrained" not in err


def test_the_run_s_settings_reach_its_training_callbacks(scripts, tmp_path, monkeypatch):
    # Only their effects in short runs were read, where a swapped pair of numbers still trains: the
    # self-play pool's size and snapshot gap, its seed and the run folder it refills from, each periodic
    # callback's gap and the video's cap.
    from stable_baselines3 import PPO

    from agents.callbacks import CheckpointCallback, GameStatsCallback, VideoCallback
    from agents.selfplay import SelfPlayCallback

    given: list = []
    monkeypatch.setattr(PPO, "learn", lambda self, total, callback=None, **_: given.extend(callback) or self)
    run = tmp_path / "duel"
    assert scripts.train_ppo.main([
        "--env", "snake_duel", "--opponent", "policy", "--total-timesteps", "64", "--run-dir", str(run),
        "--seed", "7", "--save-every", "96", "--video-every", "80", "--set", "video_max_steps=50",
        "--set", "self_play.snapshot_every=48", "--set", "self_play.pool_size=5", *TINY]) == 0
    callbacks = {type(c): c for c in given}
    self_play = callbacks[SelfPlayCallback]
    assert (self_play.snapshot_every, self_play.pool_size, self_play.seed, self_play.run) == (48, 5, 7, run)
    assert callbacks[CheckpointCallback].every == 96 and callbacks[CheckpointCallback].run == run
    video = callbacks[VideoCallback]
    assert (video.every, video.max_steps, video.env) == (80, 50, "snake_duel")
    assert callbacks[GameStatsCallback].image_every == 80


def test_self_play_refuses_worker_processes(scripts, tmp_path, capsys):
    run = tmp_path / "x"
    assert scripts.train_ppo.main(["--env", "snake_duel", "--opponent", "policy", "--num-workers", "1",
                                   "--total-timesteps", "256", "--run-dir", str(run), *TINY]) == 2
    assert "--num-workers 0" in capsys.readouterr().err
    assert not run.exists()  # refused before the run folder is made, not as training starts


@pytest.mark.parametrize("env, extra", [("snake_duel", []), ("snake_duel", ["--opponent", "random"]),
                                        ("snake", [])])
def test_self_play_settings_without_self_play_are_refused(scripts, tmp_path, capsys, env, extra):
    # Else the run trains against the scripted bot (or alone) and the settings are dropped without a word.
    run = tmp_path / "x"
    assert scripts.train_ppo.main(["--env", env, *extra, "--set", "self_play.pool_size=8",
                                   "--total-timesteps", "256", "--run-dir", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    assert "self_play.pool_size" in err and "--opponent policy" in err
    assert not run.exists()


def test_an_archive_dir_is_stored_absolute(tmp_path, monkeypatch):
    """A relative --set env_kwargs.archive_dir stayed relative in config.yaml: a --resume from another
    folder then archived into, and restarted from, another, empty archive."""
    from agents.preflight import absolute_paths

    monkeypatch.chdir(tmp_path)
    kwargs = {"archive_dir": "shared/archive", "swarm": True}
    absolute_paths("pokemon_red", kwargs)
    # (rom: none given is the default ROM path, stored absolute too)
    assert kwargs == {"archive_dir": str(tmp_path / "shared" / "archive"), "swarm": True,
                      "rom": str(tmp_path / "roms" / "pokemon_red.gb")}
    kwargs = {"archive_dir": None}
    absolute_paths("pokemon_red", kwargs)
    assert kwargs["archive_dir"] is None  # none given: the run's own archive/, wherever it is


def test_a_swarm_prob_without_swarm_is_refused(scripts, tmp_path, capsys):
    """env_kwargs.swarm_prob without --swarm trained without restarts, the setting dropped without a word."""
    pytest.importorskip("pyboy")
    from agents.preflight import check_swarm_prob as check
    from envs.gameboy.roms import TEST_CARTRIDGE

    check("pokemon_red", {"swarm": True, "swarm_prob": 0.9})  # with --swarm: used
    check("pokemon_red", {"swarm": False, "swarm_prob": 0.5})  # the preset's default: nothing dropped
    with pytest.raises(ValueError, match=r"swarm_prob=0.2 applies to swarm restarts only"):
        check("pokemon_red", {"swarm": False, "swarm_prob": 0.2})  # below the default, as above it
    run = tmp_path / "pokemon"
    argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none",
            "--set", "env_kwargs.swarm_prob=0.9", "--run-dir", str(run), "--total-timesteps", "64",
            "--num-workers", "0", *TINY]
    assert scripts.train_ppo.main(argv) == 2
    assert "env_kwargs.swarm_prob=0.9 applies to swarm restarts only (--swarm)" in capsys.readouterr().err
    assert not run.exists()


def test_state_none_boots_the_rom_from_set_and_config_as_from_the_flag(scripts, tmp_path, capsys):
    """--set env_kwargs.state=none and a --config's `state: None` (YAML text) looked for a file named
    none, whose error then advised --state none."""
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    config = tmp_path / "boot.yaml"
    config.write_text("env: pokemon_red\nenv_kwargs:\n  state: None\n")
    tiny = ["--rom", str(TEST_CARTRIDGE), "--total-timesteps", "32", "--num-envs", "2", "--num-workers", "0",
            "--policy", "tiny", "--no-progress", "--video-every", "1000000", "--set", "ppo.n_steps=16",
            "--set", "ppo.batch_size=32", "--set", "ppo.n_epochs=1", "--set", "env_kwargs.max_steps=12"]
    for name, flags in (("set", ["--env", "pokemon_red", "--set", "env_kwargs.state=none"]),
                        ("config", ["--config", str(config)])):
        run = tmp_path / name
        assert scripts.train_ppo.main([*flags, *tiny, "--run-dir", str(run)]) == 0, capsys.readouterr().err
        assert yaml.safe_load((run / "config.yaml").read_text())["env_kwargs"]["state"] is None


def test_the_rom_given_as_state_names_state_alone_to_change(scripts, tmp_path, capsys):
    """--state ROM (the ROM's path given to both flags) said "(change --rom or --state)": the message's own
    hint "(the --rom, given as --state?)" named --rom too, the one flag that was right."""
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    run = tmp_path / "run"
    for state in (["--state", str(TEST_CARTRIDGE)], ["--set", f"env_kwargs.state={TEST_CARTRIDGE}"]):
        argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), *state, "--run-dir", str(run), *TINY]
        assert scripts.train_ppo.main(argv) == 2
        err = capsys.readouterr().err
        assert "it is a Game Boy ROM, not a saved state" in err, err
        assert err.endswith(f"(change {state[0]}{' env_kwargs.state' if state[0] == '--set' else ''})\n"), err
    assert not run.exists()


def test_a_state_given_as_rom_names_rom_to_change(scripts, tmp_path, capsys):
    """--rom STATE (the state's path given to both flags): its first line ended without "(change --rom)",
    which every other ROM refusal gives, because its own hint "(the --state, given as --rom?)" was taken for
    a line naming its flag already."""
    pytest.importorskip("pyboy")
    state = cartridge_boot_state(tmp_path / "start.state")
    run = tmp_path / "run"
    for rom, flag in ((["--rom", str(state)], "--rom"),
                      (["--set", f"env_kwargs.rom={state}"], "--set env_kwargs.rom")):
        argv = ["--env", "pokemon_red", *rom, "--state", "none", "--run-dir", str(run), *TINY]
        assert scripts.train_ppo.main(argv) == 2
        first = capsys.readouterr().err.partition("\n")[0]
        assert first == (f"error: pokemon_red: {state} is not a Game Boy ROM: a saved PyBoy state, not a ROM "
                         f"(the --state, given as --rom?) (change {flag})."), first
    assert not run.exists()


def test_pokemon_red_on_the_test_cartridge_with_swarm(scripts, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    run = tmp_path / "pokemon"
    monkeypatch.chdir(tmp_path)  # a --rom and a --run-dir relative to the folder training starts in
    rom = os.path.relpath(TEST_CARTRIDGE, tmp_path)
    argv = ["--env", "pokemon_red", "--rom", rom, "--swarm", "--state", "none",
            "--total-timesteps", "64", "--num-envs", "4",
            "--num-workers", "2", "--policy", "tiny", "--no-progress", "--video-every", "32",
            "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32", "--set", "ppo.n_epochs=1",
            "--set", "video_max_steps=8", "--set", "env_kwargs.max_steps=12"]
    assert scripts.train_ppo.main(["--run-dir", "pokemon", *argv]) == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    # stored absolute: evaluate and export find them from any folder
    assert os.path.isabs(cfg["env_kwargs"]["rom"])
    assert os.path.samefile(cfg["env_kwargs"]["rom"], TEST_CARTRIDGE)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    ea = events(run)
    assert {"game/tiles_visited", "game/maps_visited"} <= set(ea.Tags()["scalars"])
    assert ea.Images("game/visit_heatmap")[0].encoded_image_string[:4] == b"\x89PNG"
    # evaluation and its videos work as for Snake (episodes of the run's max_steps)
    capsys.readouterr()
    archived = sorted((run / "archive").iterdir())
    assert scripts.evaluate.main([str(run), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 2 and result["mean_length"] == 12 and "mean_tiles_visited" in result
    assert "archive_dir" not in result["env_kwargs"] and not result["env_kwargs"]["swarm"]
    assert sorted((run / "archive").iterdir()) == archived
    frames = imageio.mimread(result["video"], memtest=False)
    assert len(frames) >= 12 and frames[0].shape[:2] == (288, 320)
    assert list((tmp_path / "elsewhere").iterdir()) == []  # nothing made relative to this folder
    # game/* are the run's bests: a --resume (new worker processes, whose bests start empty) continues
    # them from milestones.json instead of dropping back. The swarm archive is the run's own archive/,
    # wherever the run folder has moved: config.yaml names no archive_dir for the old place.
    assert cfg["env_kwargs"]["archive_dir"] is None  # the preset's: derived from the run folder
    old, run = run, tmp_path / "renamed"
    old.rename(run)
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "128", "--no-progress"]) == 0
    assert not old.exists() and (run / "archive" / "index.sqlite").is_file()
    ea = events(run)
    tiles = [e.value for e in sorted(ea.Scalars("game/tiles_visited"), key=lambda e: e.step)]
    assert len(tiles) == 2 and tiles[1] >= tiles[0]  # one rollout before the --resume, one after
    best = json.loads((run / "milestones.json").read_text())
    assert best["tiles_visited"] == tiles[-1] and best["maps_visited"] >= 1
    # A damaged archive index: the error said "give a folder that can be made and written", an option
    # --resume does not take. It says what to do instead, and deletes nothing.
    index = run / "archive" / "index.sqlite"
    index.write_bytes(b"junk" * 1024)
    before = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    assert sum(f.parent.name == "checkpoints" for f in before) >= 1  # something there to keep
    capsys.readouterr()
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "192", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"--resume {run}: its archive of milestone states {run / 'archive'} cannot be used" in err
    assert "move it aside" in err and "start a new run" in err and "give a folder" not in err
    # every file as it was: the index, the checkpoints, config.yaml and command.txt (no refused command)
    assert {f: f.read_bytes() for f in run.rglob("*") if f.is_file()} == before


def test_a_checkpoint_of_the_other_game_boy_env_is_refused_naming_both(scripts, tmp_path, capsys):
    # gameboy (the test cartridge as a generic game) and pokemon_red on the same cartridge give one
    # observation and action space: a checkpoint of one was evaluated, exported and resumed as the other.
    pytest.importorskip("pyboy")
    import shutil
    import zipfile

    from envs.gameboy.roms import TEST_CARTRIDGE

    gb = tmp_path / "gb"
    argv = ["--env", "gameboy", "--game", "depthfirst_test", "--total-timesteps", "32", "--num-envs", "2",
            "--num-workers", "0", "--policy", "tiny", "--no-progress", "--video-every", "1000000",
            "--set", "ppo.n_steps=16", "--set", "ppo.batch_size=32", "--set", "ppo.n_epochs=1",
            "--set", "env_kwargs.max_steps=12", "--run-dir", str(gb)]
    assert scripts.train_ppo.main(argv) == 0
    pr = tmp_path / "pr"  # its checkpoints copied into a pokemon_red run (or its config.yaml's env edited)
    shutil.copytree(gb, pr)
    cfg = yaml.safe_load((pr / "config.yaml").read_text())
    cfg.update(env="pokemon_red", env_kwargs={"rom": str(TEST_CARTRIDGE), "state": None, "max_steps": 12,
                                              "frame_stack": 3, "visited_mask": True})  # as its preset
    (pr / "config.yaml").write_text(yaml.safe_dump(cfg))
    before = (pr / "model.zip").read_bytes()
    capsys.readouterr()
    mismatch = "was trained on gameboy, and this run plays pokemon_red (the env of its config.yaml)"
    play = ["--episodes", "1", "--max-steps", "4", "--no-progress"]
    assert scripts.evaluate.main([str(pr), *play, "--no-video"]) == 2
    assert f"error: the checkpoint {pr / 'model.zip'} {mismatch}" in capsys.readouterr().err
    # --formats none: the default's trl needs `datasets` (the vlm extra), and the export refused it first
    assert scripts.export_trajectories.main([str(pr), "--out", str(tmp_path / "out"), "--formats", "none",
                                             *play]) == 2
    assert mismatch in capsys.readouterr().err and not (tmp_path / "out").exists()
    compare = ["--env", "pokemon_red", "--specialist", str(pr), "--out", str(tmp_path / "out"), "--episodes",
               "1", "--no-progress"]
    assert scripts.compare.main(compare) == 2
    assert mismatch in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert scripts.train_ppo.main(["--resume", str(pr), "--total-timesteps", "64", "--no-progress"]) == 2
    err = capsys.readouterr().err
    newest = pr / "checkpoints" / "step_32.zip"
    assert f"checkpoint {newest}: it was trained on gameboy, and this run trains pokemon_red" in err
    assert (f"if the env in {pr / 'config.yaml'} was changed since the run started, write env: gameboy "
            "back; or train a new run with its settings as they are now: train_ppo.py --config "
            f"{pr / 'config.yaml'}\n") in err
    assert (pr / "model.zip").read_bytes() == before and not list(pr.glob("eval-*"))
    # A checkpoint saved before checkpoints named their env: told by the run folder it sits in.
    with zipfile.ZipFile(gb / "model.zip") as z:
        members = {name: z.read(name) for name in z.namelist()}
    data = json.loads(members["data"])
    assert data.pop("depthfirst_env") == "gameboy"
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(gb / "model.zip", "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    assert scripts.evaluate.main([str(pr), "--checkpoint", str(gb / "model.zip"), *play, "--no-video"]) == 2
    assert f"the checkpoint {gb / 'model.zip'} {mismatch}" in capsys.readouterr().err
    assert scripts.evaluate.main([str(gb), *play, "--no-video"]) == 0  # its own run: played as before


def test_an_archive_index_deleted_while_training_stops_it_with_advice_and_a_checkpoint(
        scripts, tmp_path, capsys, monkeypatch):
    """The run stopped with sqlite3's "no such table: states" traceback (the next read made an empty index in
    the deleted one's place) and lost what it had trained since its last checkpoint."""
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE
    from envs.vector import GameVecEnv

    run = tmp_path / "pokemon"
    reset = GameVecEnv.reset

    def delete_the_index_first(self):  # training's first reset: the boards' swarm restarts read the index
        (run / "archive" / "index.sqlite").unlink(missing_ok=True)
        return reset(self)

    monkeypatch.setattr(GameVecEnv, "reset", delete_the_index_first)
    argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--swarm", "--state", "none",
            "--set", "env_kwargs.swarm_prob=1.0", "--run-dir", str(run), "--total-timesteps", "64",
            "--num-workers", "0", *TINY]
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    archive = run / "archive"
    assert (f"error: training stopped at step 0 (saved {run / 'checkpoints' / 'step_0.zip'}): its archive "
            f"of milestone states {archive} cannot be used (its index.sqlite was deleted or moved while in "
            f"use): move it aside (mv {archive} {archive}.damaged) and continue with: {PYTHON} ") in err, err
    assert "Traceback" not in err and (run / "checkpoints" / "step_0.zip").is_file()
    assert not (archive / "index.sqlite").exists()


def test_a_full_disk_for_milestones_json_stops_training_with_a_checkpoint_or_says_none_was_saved(
        scripts, tmp_path, capsys, monkeypatch):
    """A Game Boy run whose milestones.json could not be written (a full disk) stopped with that one line
    and no checkpoint: what it had trained since its last one was lost, and the line said neither that
    nor how to go on. It saves a checkpoint as a failing env does; where the disk refuses that too, it says
    nothing was saved."""
    pytest.importorskip("pyboy")
    import errno

    from stable_baselines3 import PPO

    import agents.callbacks
    from envs.gameboy.roms import TEST_CARTRIDGE

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(agents.callbacks, "atomic_write_text", disk_full)
    run = tmp_path / "pokemon"
    argv = ["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none", "--run-dir", str(run),
            "--total-timesteps", "16", "--num-workers", "0", "--save-every", "100000",
            "--video-every", "100000", *TINY,  # no video: an untested 1,000-step episode per rollout
            "--set", "ppo.n_steps=4", "--set", "ppo.batch_size=32"]  # rollouts of 32 steps
    assert scripts.train_ppo.main(argv) == 2
    err = capsys.readouterr().err
    file, milestones = run / "checkpoints" / "step_32.zip", run / "milestones.json"
    assert (f"error: training stopped at step 32 (saved {file}): {milestones} could not be written (No "
            "space left on device); any file there before is unchanged; continue with: "
            f"{PYTHON} ") in err, err
    assert "Traceback" not in err and file.is_file() and (run / "model.zip").is_file()
    monkeypatch.setattr(PPO, "save", disk_full)  # the disk refuses the checkpoint too
    assert scripts.train_ppo.main(["--resume", str(run), "--total-timesteps", "64", "--no-progress"]) == 2
    err = capsys.readouterr().err
    refused = run / "checkpoints" / "step_64.zip"
    assert (f"error: training stopped at step 64 (not saved: {refused} could not be written (No space left "
            f"on device); any file there before is unchanged): {milestones} could not be written (No space "
            "left on device); any file there before is unchanged; continue from its newest checkpoint with: "
            f"{PYTHON} ") in err, err
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_32.zip"]


def test_unknown_rom_error_before_anything_is_written(scripts, tmp_path, capsys):
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    rom = tmp_path / "mystery.gb"
    hack = bytearray(TEST_CARTRIDGE.read_bytes())
    hack[0x5000] ^= 0xFF  # a ROM PyBoy runs, with a hash of no supported game
    rom.write_bytes(bytes(hack))
    run = tmp_path / "never"
    assert scripts.train_ppo.main(["--env", "pokemon_red", "--rom", str(rom), "--run-dir", str(run),
                                   "--set", "env_kwargs.state=null", *TINY]) == 2
    err = capsys.readouterr().err
    assert "--allow-unknown-rom" in err and str(rom) in err
    assert not run.exists()
    # Bytes that are no Game Boy ROM are refused by name, allowed or not; so is a state PyBoy cannot load.
    junk = tmp_path / "zeros.gb"
    junk.write_bytes(b"\0" * 32768)
    assert scripts.train_ppo.main(["--env", "pokemon_red", "--rom", str(junk), "--allow-unknown-rom",
                                   "--state", "none", "--run-dir", str(run), *TINY]) == 2
    assert f"{junk} is not a Game Boy ROM" in capsys.readouterr().err

    state = tmp_path / "broken.state"
    state.write_bytes(b"\x01" * 100)
    assert scripts.train_ppo.main(["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state",
                                   str(state), "--run-dir", str(run), *TINY]) == 2
    assert f"--state {state} cannot be loaded" in capsys.readouterr().err
    assert not run.exists()


@pytest.mark.parametrize("env", ["pokemon_red", "gameboy"])
def test_a_file_that_is_no_rom_is_told_with_the_flag_to_change(env, scripts, tmp_path, capsys):
    # The error line named the file only ("error: pokemon_red: zeros.gb is not a Game Boy ROM: ..."), not
    # --rom (or the --set that gave it), as a refused --size names its flag.
    from envs.gameboy.roms import TEST_CARTRIDGE

    zeros, cut = tmp_path / "zeros.gb", tmp_path / "cut.gb"
    zeros.write_bytes(b"\0" * 32768)
    cut.write_bytes(TEST_CARTRIDGE.read_bytes()[:0x4000])  # the first of its two 16 KiB banks
    run = tmp_path / "never"
    config = tmp_path / "mine.yaml"
    # From a --config file, its note ends the first line too: it was put after the last line of advice.
    in_config = f" (a value in --config {config} counts as that flag or --set key)"
    for rom, problem in ((zeros, "its cartridge header checksum does not match (byte 0x14D)"),
                         (cut, "cut short: its header gives 32 KiB, the file holds 16 KiB")):
        config.write_text(f"env_kwargs:\n  rom: {rom}\n")
        for given, flag, note in ((["--rom", str(rom)], "--rom", ""),
                                  (["--set", f"env_kwargs.rom={rom}"], "--set env_kwargs.rom", ""),
                                  (["--config", str(config)], "--rom", in_config)):
            assert scripts.train_ppo.main(["--env", env, *given, "--state", "none", "--run-dir", str(run),
                                           *TINY]) == 2
            first, *explained = capsys.readouterr().err.splitlines()
            assert first.startswith("error: ") and first.endswith(f"{rom} is not a Game Boy ROM: {problem} "
                                                                  f"(change {flag}){note}."), first
            assert explained[-1] == "  Copy your dump again (a failed copy or download?); where ROMs go: " \
                                    "roms/README.md", explained
    assert not run.exists()


def test_game_boy_commands_without_pyboy_say_which_extra_to_install(scripts, tmp_path, capsys, monkeypatch):
    # `pip install -e .` leaves PyBoy (the gameboy extra) out: each command says so in one line, where a
    # traceback came before, and writes nothing.
    import sys

    import agents.compare
    from envs.gameboy.core import load_pyboy_class
    from envs.gameboy.roms import TEST_CARTRIDGE

    monkeypatch.setitem(sys.modules, "pyboy", None)  # `import pyboy` raises ImportError
    with pytest.raises(ImportError):  # still an ImportError for code that catches one
        load_pyboy_class()
    run = tmp_path / "never"
    assert scripts.train_ppo.main(["--env", "pokemon_red", "--rom", str(TEST_CARTRIDGE), "--state", "none",
                                   "--run-dir", str(run), *TINY]) == 2
    err = capsys.readouterr().err
    # As PyBoy says it, with no "(change --rom)": no ROM fixes a missing PyBoy (rom_flag_named leaves it).
    assert err == 'error: the Game Boy games need PyBoy: pip install -e ".[gameboy]" (or pip install ' \
                  '"pyboy>=2.8,<3")\n', err
    assert not run.exists()
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("wait 10\n")
    state = tmp_path / "out.state"
    assert scripts.make_state.main(["--rom", str(TEST_CARTRIDGE), "--inputs", str(inputs),
                                    "--out", str(state)]) == 2
    assert 'pip install -e ".[gameboy]"' in capsys.readouterr().err and not state.exists()

    def play_without_pyboy(*args, **kwargs):  # as compare's specialist fails when it makes its game
        return load_pyboy_class()

    monkeypatch.setattr(agents.compare, "compare", play_without_pyboy)
    assert scripts.compare.main(["--env", "pokemon_red", "--episodes", "1", "--out", str(tmp_path / "c"),
                                 "--no-progress"]) == 2
    assert 'pip install -e ".[gameboy]"' in capsys.readouterr().err


def test_gameboy_games_default_to_their_own_rom(scripts, tmp_path, capsys):
    pytest.importorskip("pyboy")
    assert scripts.train_ppo.main(["--env", "gameboy", "--game", "kirby", "--run-dir", str(tmp_path / "r"),
                                   *TINY]) == 2
    err = capsys.readouterr().err
    assert f"no ROM file at {Path.cwd() / 'roms' / 'kirby.gb'}." in err  # stored absolute: said once


def test_tetris_is_called_the_default_game_only_where_game_was_not_given(scripts, tmp_path, capsys):
    # "(tetris is --game's default)" was said to a user who had typed --game tetris.
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    base = ["--env", "gameboy", "--rom", str(TEST_CARTRIDGE), "--run-dir", str(tmp_path / "r"), *TINY]
    given_by = (["--game", "tetris"], ["--set", "env_kwargs.game=tetris"])
    for given, extra in ((False, []), *((True, flags) for flags in given_by)):
        assert scripts.train_ppo.main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert "this cartridge is --game depthfirst_test's" in err
        assert ("expected 'TETRIS' (tetris is --game's default); " in err) is not given, err


def test_tetris_is_not_called_the_default_game_where_a_file_names_it(scripts, tmp_path, capsys):
    # A run's config.yaml (evaluate, --resume) and a --config file name the game, but a non-Tetris
    # cartridge there was still refused with "(tetris is --game's default)", a flag none of them took.
    pytest.importorskip("pyboy")
    from envs.gameboy.roms import TEST_CARTRIDGE

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"PK")  # the game is built before it is read
    settings = {"env": "gameboy", "env_kwargs": {"game": "tetris", "rom": str(TEST_CARTRIDGE)}}
    (run / "config.yaml").write_text(yaml.safe_dump({**settings, "policy": "tiny", "num_envs": 16,
                                                     "num_workers": 0, "total_timesteps": 1000}))
    (tmp_path / "tetris.yaml").write_text(yaml.safe_dump(settings))
    for main, args in ((scripts.evaluate.main, [str(run), "--episodes", "1", "--random", "--no-video"]),
                       (scripts.train_ppo.main, ["--resume", str(run), "--no-progress"]),
                       (scripts.train_ppo.main, ["--config", str(tmp_path / "tetris.yaml"),
                                                 "--run-dir", str(tmp_path / "new"), *TINY])):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "expected 'TETRIS'; this cartridge is --game depthfirst_test's" in err, err


def test_bad_env_option_names_it(scripts, tmp_path, capsys):
    assert scripts.train_ppo.main(["--env", "snake", "--set", "env_kwargs.colour=red",
                                   "--run-dir", str(tmp_path / "x"), *TINY]) == 2
    # The option as it was given, and the ones the game takes: not Snake's TypeError naming colour alone.
    err = capsys.readouterr().err
    assert err.startswith("error: --set env_kwargs.colour does not apply to --env snake"), err
    assert "(snake's options: obs, pixel_scale, size" in err, err


def test_recurrent_ppo_trains_loads_and_evaluates(scripts, tmp_path, capsys):
    run = tmp_path / "lstm"
    assert scripts.train_ppo.main(["--env", "snake", "--recurrent", "--total-timesteps", "256",
                                   "--run-dir", str(run), *TINY]) == 0
    from sb3_contrib import RecurrentPPO

    lstm = RecurrentPPO.load(run / "model.zip")
    assert lstm.num_timesteps == 256 and lstm.policy.optimizer.param_groups[0]["fused"]
    # The start line says the LSTMs are there: "policy=tiny (1,206,773 parameters)" read as the tiny CNN,
    # whose README count is 415,605.
    params = sum(p.numel() for p in lstm.policy.parameters())
    assert f" policy=tiny+LSTM ({params:,} parameters) " in capsys.readouterr().out
    assert scripts.evaluate.main([str(run), "--episodes", "3", "--json", "--no-video"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 3
    # compare's report named it specialist-tiny, beside the LSTMs' parameter count, where training says
    # tiny+LSTM (tiny alone has 415,605).
    out = tmp_path / "report"
    assert scripts.compare.main(["--env", "snake", "--specialist", str(run), "--episodes", "1", "--max-steps",
                                 "4", "--no-progress", "--out", str(out)]) == 0
    (player,) = json.loads((out / "report.json").read_text())["players"]
    assert player["name"] == "specialist-tiny+LSTM" and player["parameters"] == params, player
    assert "| specialist-tiny+LSTM (specialist) |" in (out / "report.md").read_text()


def test_two_player_runs_are_scored_against_the_greedy_bot_whatever_they_trained_on(tmp_path):
    from agents.evaluation import eval_kwargs
    from agents.runs import read_run_config

    for opponent in ("random", "policy", "greedy"):
        assert eval_kwargs({"opponent": opponent, "size": 8}) == {"opponent": "greedy", "size": 8}
    assert eval_kwargs({"size": 8}) == {"size": 8}  # one-player games are left as they are
    # a swarm run is evaluated from its start state, and evaluation adds nothing to its archive
    swarm = {"swarm": True, "archive_dir": "/runs/p/archive", "swarm_prob": 0.5, "state": "start.state"}
    assert eval_kwargs(swarm) == {"swarm": False, "swarm_prob": 0.5, "state": "start.state"}
    assert swarm["swarm"] is True and "archive_dir" in swarm  # the run's own config is left as it was
    (tmp_path / "config.yaml").write_text("env: snake\n")  # a hand-written config: the game's defaults
    assert read_run_config(tmp_path)["env_kwargs"] == {}


def test_a_game_option_this_version_lacks_is_named(tmp_path, scripts, capsys):
    from agents.runs import RunError, read_run_config

    (tmp_path / "config.yaml").write_text("env: snake\nenv_kwargs: {size: 8, wrap_walls: true}\n")
    with pytest.raises(RunError, match=r"env_kwargs \['wrap_walls'\].*newer version"):
        read_run_config(tmp_path)
    assert scripts.evaluate.main([str(tmp_path), "--episodes", "1", "--random"]) == 2
    assert "wrap_walls" in capsys.readouterr().err
    # A hand-edited typo (the README invites edits to config.yaml) gets the game's options to correct it
    # with, not only "a run from a newer version?"
    (tmp_path / "config.yaml").write_text("env: snake\nenv_kwargs: {sise: 8}\n")
    with pytest.raises(RunError, match=r"env_kwargs \['sise'\].*\(snake's options: obs, pixel_scale, size, "
                       r"starvation\): correct a typo in .*config\.yaml"):
        read_run_config(tmp_path)


def test_a_rom_no_longer_where_the_run_says_is_named(tmp_path, scripts, capsys):
    pytest.importorskip("pyboy")
    from agents.runs import RunError, read_run_config
    from envs.gameboy.roms import TEST_CARTRIDGE

    run = tmp_path / "run"
    moved = tmp_path / "cart.gb"
    moved.write_bytes(TEST_CARTRIDGE.read_bytes())
    argv = ["--env", "pokemon_red", "--rom", str(moved), "--state", "none", "--run-dir", str(run), *TINY,
            "--total-timesteps", "256", "--num-workers", "0", "--set", "env_kwargs.max_steps=8"]
    assert scripts.train_ppo.main(argv) == 0
    moved.rename(tmp_path / "elsewhere.gb")
    with pytest.raises(RunError, match=r"rom file .*cart.gb is not there.*env_kwargs.rom in .*config.yaml"):
        read_run_config(run)
    capsys.readouterr()
    for main, args in ((scripts.evaluate.main, [str(run), "--episodes", "1"]),
                       (scripts.evaluate.main, [str(run), "--episodes", "1", "--random"]),
                       (scripts.train_ppo.main, ["--resume", str(run)])):
        assert main(args) == 2  # an error naming the file, not a traceback from the emulator
        assert "cart.gb is not there" in capsys.readouterr().err


def test_a_run_config_whose_state_is_the_word_none_boots_the_rom(tmp_path, scripts, capsys):
    # `state: none` (any case), which boots the ROM everywhere else, was taken for a missing file named
    # "none" in a run's config.yaml (say one edited to boot): evaluate, export and --resume refused it.
    pytest.importorskip("pyboy")
    from agents.runs import read_run_config
    from envs.gameboy.roms import TEST_CARTRIDGE

    for word in ("none", "None"):  # YAML reads null, Null and NULL as null itself
        (tmp_path / "config.yaml").write_text(
            f"env: pokemon_red\nenv_kwargs: {{rom: '{TEST_CARTRIDGE}', state: {word}, max_steps: 4}}\n")
        assert read_run_config(tmp_path)["env_kwargs"]["state"] == word
    assert scripts.evaluate.main([str(tmp_path), "--episodes", "1", "--random", "--no-video", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_length"] == 4


def test_resume_names_a_damaged_start_state_by_its_config_key_not_by_a_flag(tmp_path, scripts, capsys):
    # --resume takes no --state (evaluate, export and compare name such a state by its key too).
    pytest.importorskip("pyboy")
    import yaml

    from envs.gameboy.roms import TEST_CARTRIDGE

    state = tmp_path / "damaged.state"
    state.write_bytes(b"\x01" * 100)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "step_64.zip").write_bytes(b"PK")  # the game is built before it is read
    (run / "config.yaml").write_text(yaml.safe_dump({
        "env": "pokemon_red", "policy": "tiny", "num_envs": 16, "num_workers": 0, "total_timesteps": 1000,
        "env_kwargs": {"rom": str(TEST_CARTRIDGE), "state": str(state)}}))
    assert scripts.train_ppo.main(["--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --resume {run}: the run's start state {state} (env_kwargs.state in its "
                          "config.yaml) cannot be loaded"), err
    assert "--state" not in err and "Traceback" not in err


def test_a_rom_error_names_the_flag_beside_a_path_holding_two_dashes():
    # `--rom /data/roms--old/zeros.gb` said "error: pokemon_red: /data/roms--old/zeros.gb is not a Game Boy
    # ROM: ..." without "(change --rom)": the path's "--" was taken for a flag the line named already.
    from agents.preflight import rom_flag_named
    from envs.gameboy.roms import RomError

    # Nor a space and "--" within the path (`/data/old --roms/zeros.gb`): the ROM's path is no flag.
    dashed, spaced, bad = "/data/roms--old/zeros.gb", "/data/old --roms/zeros.gb", "is not a Game Boy ROM"
    unknown = "is unknown; to proceed anyway pass --allow-unknown-rom to train_ppo.py"
    for rom, first, named in (
            (dashed, f"pokemon_red: {dashed} {bad}: cut short.", f"pokemon_red: {dashed} {bad}: cut short "
                                                                  "(change --rom)."),
            (spaced, f"pokemon_red: {spaced} {bad}: cut short.", f"pokemon_red: {spaced} {bad}: cut short "
                                                                  "(change --rom)."),
            ("/--/tetris.gb", "gameboy/tetris: no ROM file at /--/tetris.gb",
             "gameboy/tetris: no ROM file at /--/tetris.gb (change --rom)"),
            (spaced, "--game kirby needs its own ROM", "--game kirby needs its own ROM"),
            (spaced, f"{spaced} {unknown}", f"{spaced} {unknown}")):
        error = RomError(f"{first}\n  Copy it again")
        assert str(rom_flag_named(error, "--rom", rom)) == f"{named}\n  Copy it again"
    # PyBoy missing (a RomError too): no ROM fixes that, so no flag is named (a hand mutant naming it lived).
    from envs.gameboy.core import PyBoyMissingError

    missing = PyBoyMissingError("pokemon_red needs PyBoy: pip install -e '.[gameboy]'")
    assert rom_flag_named(missing, "--rom", None) is missing


def test_self_play_refuses_a_recurrent_policy_before_the_run_folder(scripts, tmp_path, capsys):
    # The opponents are feed-forward snapshots of the policy: an LSTM one would need a state per board. No
    # test ran --recurrent with --opponent policy, so dropping the refusal went unseen.
    run = tmp_path / "x"
    assert scripts.train_ppo.main(["--env", "snake_duel", "--opponent", "policy", "--recurrent",
                                   "--total-timesteps", "256", "--run-dir", str(run), *TINY]) == 2
    assert capsys.readouterr().err == ("error: --opponent policy (self-play) plays feed-forward snapshots: "
                                       "drop --recurrent, or train against --opponent greedy or random\n")
    assert not run.exists()
