"""The trajectory store of a real export (a tiny Snake model trained with the real CLI): one row per
step with complete states, the policy's probabilities and values, frames, meta.json, --min-score, and
the Minari dataset read back with minari.load_dataset."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.conftest import TINY, load_episodes, load_script, load_steps
from vlm.trajectories import (
    EpisodeLog,
    PolicyProbe,
    load_policy,
    play,
    replay,
    resolve_run,
    write_minari,
)

MIX = "perception=0.4,strategy=0.4,state_prediction=0.2"
EPISODES = 40


def tiny_snake_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 6×6 Snake model trained with the real CLI, shared by the tests/vlm export modules."""
    run = tmp_path_factory.getbasetemp() / "vlm-shared" / "snake-tiny"
    if not (run / "model.zip").is_file():
        rc = load_script("train_ppo").main(["--env", "snake", "--size", "6", "--total-timesteps", "512",
                                            "--video-every", "100000", "--save-every", "512", "--run-dir",
                                            str(run), *TINY])
        assert rc == 0
    return run


def datasets_installed() -> bool:
    """Whether the export can write trl (the vlm extra's `datasets`), as the export itself decides: a bare
    `datasets/` folder on sys.path (the README's `--out datasets/snake`, made in the repository pytest runs
    in) is a namespace package that find_spec finds too, and the export refuses trl all the same."""
    from vlm.export import _installed

    return _installed("datasets")


def export_args(run: Path, out: Path, *extra: str) -> list[str]:
    formats = "all" if datasets_installed() else "llamafactory,easyr1,verl,openrlhf,swift"
    minari = ["--minari"] if importlib.util.find_spec("minari") else []
    return [str(run), "--episodes", str(EPISODES), "--out", str(out), "--formats", formats, *minari,
            "--mix", MIX, "--no-progress", "--json", *extra]


def snake_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full export of the tiny run (all formats, Minari when installed), made once per session."""
    run = tiny_snake_run(tmp_path_factory)
    out = tmp_path_factory.getbasetemp() / "vlm-shared" / "export"
    if not (out / "trajectories" / "meta.json").is_file():
        assert load_script("export_trajectories").main(export_args(run, out)) == 0
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tiny_snake_run(tmp_path_factory)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return snake_export(tmp_path_factory)


@pytest.fixture(scope="module")
def model(run):
    return load_policy(resolve_run(run))


def decode(path: Path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))


def test_one_row_per_step_with_complete_states_frames_probs_and_values(exported):
    from envs.snake import Snake

    steps = load_steps(exported).to_pylist()
    episodes = load_episodes(exported).to_pylist()
    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    assert len(episodes) == EPISODES
    assert len(steps) == meta["counts"]["steps"] == sum(e["length"] for e in episodes)
    keys = [(r["episode"], r["t"]) for r in steps]
    assert keys == sorted(keys)  # load_steps: by episode, then step
    by_episode: dict[int, list[dict]] = {}
    for row in steps:
        by_episode.setdefault(row["episode"], []).append(row)
    for ep in episodes:
        rows = by_episode[ep["episode"]]
        assert [r["t"] for r in rows] == list(range(ep["length"]))  # every step, in order, once
        assert all(r["seed"] == ep["seed"] for r in rows)
        assert rows[-1]["terminated"] or rows[-1]["truncated"]
        assert not any(r["terminated"] or r["truncated"] for r in rows[:-1])
        assert rows[-1]["score"] == ep["score"]
        assert (ep["terminated"], ep["truncated"]) == (rows[-1]["terminated"], rows[-1]["truncated"])
        assert json.loads(ep["final_state"])["done"]
    for row in steps[:60]:
        state = json.loads(row["state"])
        assert state["step"] == row["t"] and not state["done"]
        assert np.array_equal(decode(exported / row["frame"]), Snake.render_state(state, 16))  # frame = state
        probs = np.array(row["probs"])
        assert probs.shape == (4,) and probs.sum() == pytest.approx(1.0, abs=1e-5)
        assert row["action"] == int(probs.argmax())
        assert row["action_name"] == Snake.ACTION_NAMES[row["action"]]
        assert np.isfinite(row["value"])


def test_each_row_holds_its_own_steps_score_value_and_the_episode_row_its_end(exported, model):
    """A step row's score is the game's after that step (the next state's), its probabilities and value the
    policy's in its own state; an episode row's return sums the rewards, its info is episode_info() at the
    end and its final frame draws the final state."""
    from envs.snake import Snake

    steps = load_steps(exported).to_pylist()
    episodes = load_episodes(exported).to_pylist()
    probe = PolicyProbe(model, 1)
    scoring = sorted(episodes, key=lambda e: -e["score"])[:5]
    assert scoring[0]["score"] > 0  # a score that changes mid-episode, so a row's own score is checked
    for ep in scoring:
        rows = [r for r in steps if r["episode"] == ep["episode"]]
        final = json.loads(ep["final_state"])
        after = [json.loads(r["state"]) for r in rows[1:]] + [final]
        assert [r["score"] for r in rows] == [float(a["score"]) for a in after]
        assert final["step"] == ep["length"] == len(rows)
        assert ep["return"] == pytest.approx(sum(r["reward"] for r in rows), abs=1e-4)
        assert json.loads(ep["info"]) == {"score": ep["score"], "snake_length": float(len(final["body"])),
                                          "won": 0.0}
        assert np.array_equal(decode(exported / ep["final_frame"]), Snake.render_state(final, 16))
        kwargs = {"size": 6, "obs": "grid"}
        log = play(model, "snake", kwargs, [ep["episode"]], 1_000_000, 100_000)[0]
        for row, view in zip(rows, replay("snake", kwargs, log, observe=True), strict=False):
            _, probs, values = probe(view.obs[None])
            np.testing.assert_allclose(row["probs"], probs[0], rtol=1e-5, atol=1e-6)
            assert row["value"] == pytest.approx(float(values[0]), rel=1e-5, abs=1e-5)


def test_stored_states_are_what_the_game_plays_from_seed_and_actions(exported):
    from envs import make_game

    steps = load_steps(exported).to_pylist()
    episode = max({r["episode"] for r in steps}, key=lambda e: sum(r["episode"] == e for r in steps))
    rows = [r for r in steps if r["episode"] == episode]
    game = make_game("snake", 1, size=6)
    game.reset(np.zeros(1, dtype=np.int64), np.array([rows[0]["seed"]], dtype=np.uint64))
    for row in rows:
        assert game.get_state(0) == json.loads(row["state"])
        reward, _, _ = game.step(np.array([row["action"]]))
        assert reward[0] == pytest.approx(row["reward"])


def test_replay_refuses_an_episode_the_game_does_not_reproduce():
    """Rewards and episode ends are checked step by step against the played episode: a state that never
    happened is never exported (ReplayMismatch names the step), while an episode the exporter cut is fine."""
    from envs import make_game
    from vlm.trajectories import EpisodeLog, ReplayMismatch

    game = make_game("snake", 1, size=6)
    game.reset(np.zeros(1, dtype=np.int64), np.array([5], dtype=np.uint64))
    rng = np.random.default_rng(0)
    cols: dict[str, list] = {"actions": [], "rewards": [], "terminated": [], "truncated": [], "scores": []}
    for _ in range(40):
        action = int(rng.integers(4)) if cols["actions"] else 0
        reward, terminated, truncated = game.step(np.array([action]))
        for name, value in zip(cols, (action, reward[0], terminated[0], truncated[0],
                                      game.episode_info(0)["score"]), strict=True):
            cols[name].append(value)
        if terminated[0] or truncated[0]:
            break
    n = len(cols["actions"])
    assert n > 3

    def log(**change) -> EpisodeLog:
        arrays = {name: np.array(values) for name, values in cols.items()}
        for name, (t, value) in change.items():
            arrays[name][t] = value
        return EpisodeLog(0, 5, arrays["actions"], np.zeros((n, 4), np.float32), np.zeros(n, np.float32),
                          arrays["rewards"].astype(np.float32), arrays["terminated"].astype(bool),
                          arrays["truncated"].astype(bool), arrays["scores"].astype(np.float64))

    assert len(list(replay("snake", {"size": 6}, log()))) == n + 1
    for change in ({"rewards": (1, cols["rewards"][1] + 0.5)}, {"terminated": (1, True)},
                   {"truncated": (1, True)}, {"terminated": (n - 1, not cols["terminated"][-1])}):
        t = next(iter(change.values()))[0]
        with pytest.raises(ReplayMismatch, match=f"episode 0 \\(seed 5\\) did not replay at step {t}:"):
            list(replay("snake", {"size": 6}, log(**change)))
    cut = log()
    cut.capped, cut.truncated[-1] = True, True  # --max-steps marks the cut step truncated
    assert len(list(replay("snake", {"size": 6}, cut))) == n + 1
    cut = log(truncated=(1, True))  # ... and only that step may differ from the game's
    cut.capped, cut.truncated[-1] = True, True
    with pytest.raises(ReplayMismatch, match="did not replay at step 1:"):
        list(replay("snake", {"size": 6}, cut))


def test_meta_describes_run_checkpoint_policy_seeds_counts_and_versions(exported, run, model):
    from agents.policies import count_params

    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert meta["env"] == "snake" and meta["gym_id"] == "depthfirst/Snake-v0"
    assert meta["env_kwargs"] == cfg["env_kwargs"] and meta["env_config"] == cfg
    assert meta["run"]["checkpoint"] == str(run / "model.zip")
    assert meta["run"]["checkpoint_sha1"] == hashlib.sha1((run / "model.zip").read_bytes()).hexdigest()
    assert meta["policy"] == {"algorithm": "PPO", "preset": "tiny", "recurrent": False,
                              "parameters": count_params(model.policy), "num_timesteps": 512}
    assert meta["seeds"]["base"] == 1_000_000 and meta["seeds"]["kept_episodes"] == list(range(EPISODES))
    assert meta["counts"]["episodes_played"] == meta["counts"]["episodes_kept"] == EPISODES
    for package in ("python", "numpy", "torch", "stable-baselines3", "gymnasium", "pyarrow", "depthfirst"):
        assert meta["versions"][package]
    assert meta["rom_sha1"] is None  # only Game Boy runs have a cartridge
    assert "export_trajectories.py" in meta["command"]


def assert_probe_matches_sb3(model, obs: np.ndarray, probs: np.ndarray, values: np.ndarray) -> None:
    """The probe's action probabilities and values are SB3's own for ``obs``."""
    import torch

    with torch.no_grad():
        obs_t, _ = model.policy.obs_to_tensor(obs)
        ref_probs = model.policy.get_distribution(obs_t).distribution.probs.numpy()
        ref_values = model.policy.predict_values(obs_t).numpy().reshape(-1)
    np.testing.assert_allclose(probs, ref_probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(values, ref_values, rtol=1e-5, atol=1e-5)


def test_policy_probe_agrees_with_the_model(model):

    rng = np.random.default_rng(0)
    obs = (rng.random((16, *model.observation_space.shape)) < 0.2).astype(np.uint8) * 255
    actions, probs, values = PolicyProbe(model, 16)(obs)
    expected, _ = model.predict(obs, deterministic=True)
    assert np.array_equal(actions, expected)
    assert_probe_matches_sb3(model, obs, probs, values)
    # Stochastic play samples from those probabilities, reproducibly.
    seeds = [[3, k] for k in range(16)]
    a1, _, _ = PolicyProbe(model, 16, deterministic=False, seeds=seeds)(obs)
    a2, _, _ = PolicyProbe(model, 16, deterministic=False, seeds=seeds)(obs)
    a3, _, _ = PolicyProbe(model, 8, deterministic=False, seeds=seeds[8:])(obs[8:])  # batching is irrelevant
    assert np.array_equal(a1, a2) and np.array_equal(a1[8:], a3)


def test_policy_probe_handles_a_recurrent_policy():
    from agents.config import DEFAULTS, deep_merge, resolve
    from agents.train import build_model
    from envs import make_vec

    cfg = resolve(deep_merge(DEFAULTS, {"env": "snake", "env_kwargs": {"size": 6}, "num_envs": 4,
                                        "policy": "tiny", "recurrent": True, "device": "cpu",
                                        "ppo": {"n_steps": 8, "batch_size": 32}}), False)
    venv = make_vec("snake", 4, num_workers=0, size=6)
    try:
        model = build_model(cfg, venv)
        logs = play(model, "snake", {"size": 6}, [0, 1, 2], seed=7, max_steps=50)
    finally:
        venv.close()
    # The probe's greedy actions are model.predict's, carrying the LSTM state along the episode.
    for log in logs:
        state, start = None, np.ones(1, dtype=bool)
        for k, view in enumerate(replay("snake", {"size": 6}, log, observe=True)):
            if view.final:
                break
            action, state = model.predict(view.obs[None], state=state, episode_start=start,
                                          deterministic=True)
            start = np.zeros(1, dtype=bool)
            assert int(action[0]) == log.actions[k]
            assert log.probs[k].sum() == pytest.approx(1.0, abs=1e-5)
    # The probe carries the LSTM state from one call to the next: the same board seen again is another step.
    board = np.zeros((1, *model.observation_space.shape), dtype=np.uint8)
    probe = PolicyProbe(model, 1)
    _, first, _ = probe(board)
    _, again, _ = probe(board)
    np.testing.assert_array_equal(first, PolicyProbe(model, 1)(board)[1])
    assert not np.allclose(again, first, rtol=0, atol=1e-6)


def test_policy_probe_agrees_with_a_model_whose_actor_and_critic_have_their_own_cnns():
    """A model.zip made outside the project may keep separate actor and critic feature extractors; the
    probe then feeds each head its own features."""
    from stable_baselines3 import PPO

    from agents.policies import policy_kwargs
    from envs import make_vec

    venv = make_vec("snake", 1, num_workers=0, size=6)
    try:
        model = PPO("CnnPolicy", venv, device="cpu", seed=0,
                    policy_kwargs={**policy_kwargs("tiny", "snake"), "share_features_extractor": False})
    finally:
        venv.close()
    assert not model.policy.share_features_extractor
    obs = (np.random.default_rng(0).random((8, *model.observation_space.shape)) < 0.2).astype(np.uint8) * 255
    _, probs, values = PolicyProbe(model, 8)(obs)
    assert_probe_matches_sb3(model, obs, probs, values)


def minari_logs(count: int) -> tuple[list[EpisodeLog], list[np.ndarray]]:
    """``count`` one-step episodes (episode k plays action k % 4) and their 6×6 Snake observations."""
    logs = [EpisodeLog(episode=k, seed=1_000_000 + k, actions=np.array([k % 4]), probs=np.full((1, 4), 0.25,
                       np.float32), values=np.zeros(1, np.float32), rewards=np.ones(1, np.float32),
                       terminated=np.array([True]), truncated=np.array([False]), scores=np.ones(1))
            for k in range(count)]
    return logs, [np.full((2, 4, 6, 6), k, np.uint8) for k in range(count)]


def test_minari_takes_episodes_past_its_first_batch_and_puts_back_the_callers_path(tmp_path, monkeypatch):
    """Minari gets the episodes 64 at a time: the 65th goes in with the second batch, into the same dataset.
    MINARI_DATASETS_PATH is set only while writing: a path the caller had set is put back."""
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "elsewhere"))
    logs, obs = minari_logs(65)
    dataset_id = write_minari(tmp_path, "snake", {"size": 6}, logs, iter(obs), "PPO", "test")
    assert os.environ["MINARI_DATASETS_PATH"] == str(tmp_path / "elsewhere")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    dataset = minari.load_dataset(dataset_id)
    assert dataset.total_episodes == 65
    episodes = list(dataset.iterate_episodes())
    assert [int(e.actions[0]) for e in episodes] == [k % 4 for k in range(65)]
    assert int(episodes[64].observations[0, 0, 0, 0]) == 64


def test_minari_keeps_game_settings_named_like_a_game_env_argument_in_its_description(tmp_path, monkeypatch):
    """A game setting named like a GameEnv argument (the Game Boy's ``game``) cannot ride in the env spec,
    where gym.make would take it for GameEnv's own: the dataset has no env, the description the settings."""
    minari = pytest.importorskip("minari")
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    logs, obs = minari_logs(2)
    settings = {"game": "depthfirst_test", "max_steps": 20}
    dataset_id = write_minari(tmp_path, "gameboy", settings, logs, iter(obs), "PPO", "A Game Boy game.")
    assert "MINARI_DATASETS_PATH" not in os.environ
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    dataset = minari.load_dataset(dataset_id)
    assert dataset.spec.env_spec is None
    described = f"A Game Boy game. Game settings: {json.dumps(settings, sort_keys=True)}."
    assert dataset.storage.metadata["description"] == described


def test_min_score_keeps_only_good_episodes(run, model, tmp_path):
    out = tmp_path / "good"
    rc = load_script("export_trajectories").main([
        str(run), "--episodes", "48", "--out", str(out), "--stochastic", "--min-score", "1",
        "--formats", "none", "--tasks-per-state", "0", "--no-progress", "--json"])
    assert rc == 0
    played = play(model, "snake", {"size": 6, "obs": "grid"}, list(range(48)), 1_000_000, 100_000,
                  deterministic=False)
    good = [log.episode for log in played if log.score >= 1]
    assert 0 < len(good) < 48  # the tiny model scores sometimes: the filter has something to do
    episodes = load_episodes(out).to_pylist()
    assert [e["episode"] for e in episodes] == good
    assert all(e["score"] >= 1 for e in episodes)
    assert set(load_steps(out).column("episode").to_pylist()) == set(good)
    meta = json.loads((out / "trajectories" / "meta.json").read_text())
    assert meta["counts"]["episodes_played"] == 48 and meta["counts"]["episodes_kept"] == len(good)


def test_max_steps_cuts_long_episodes_and_marks_them_truncated(run, tmp_path):
    out = tmp_path / "short"
    assert load_script("export_trajectories").main([
        str(run), "--episodes", "8", "--out", str(out), "--max-steps", "2", "--formats", "none",
        "--tasks-per-state", "0", "--no-progress", "--json"]) == 0
    episodes = load_episodes(out).to_pylist()
    steps = load_steps(out).to_pylist()
    assert all(e["length"] <= 2 for e in episodes) and any(e["capped"] for e in episodes)
    assert all(e["length"] == 2 for e in episodes if e["capped"])  # cut after --max-steps moves, not before
    for e in episodes:
        last = [r for r in steps if r["episode"] == e["episode"]][-1]
        assert e["truncated"] == last["truncated"] and (last["terminated"] or last["truncated"])
        assert e["capped"] == (not last["terminated"] and not json.loads(e["final_state"])["done"])


def test_max_steps_one_marks_each_single_step_episode_truncated(model):
    """--max-steps 1 (the least the export takes): an episode the game did not end at its one step is cut
    there, and that step, being its last, is marked truncated like any cut episode's (it ends on a flag)."""
    logs = play(model, "snake", {"size": 6, "obs": "grid"}, [0, 1, 2], seed=3, max_steps=1)
    assert all(log.length == 1 for log in logs) and any(log.capped for log in logs)
    for log in logs:  # a board that died at once is not cut, but ended by the game
        assert log.capped == (not log.terminated[0]) and log.truncated[0] == log.capped


def test_minari_dataset_opens_with_load_dataset(exported, monkeypatch):
    minari = pytest.importorskip("minari")
    meta = json.loads((exported / "trajectories" / "meta.json").read_text())
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(exported / "minari"))
    dataset = minari.load_dataset(meta["minari"])
    assert dataset.total_episodes == EPISODES and dataset.total_steps == meta["counts"]["steps"]
    steps = load_steps(exported).to_pylist()
    episodes = list(dataset.iterate_episodes())
    for ep in episodes[:5]:
        rows = [r for r in steps if r["seed"] == ep.id + 1_000_000]
        assert list(ep.actions) == [r["action"] for r in rows]
        np.testing.assert_allclose(ep.rewards, [r["reward"] for r in rows])
        assert ep.observations.shape == (len(rows) + 1, 4, 6, 6) and ep.observations.dtype == np.uint8
        assert bool(ep.terminations[-1]) == rows[-1]["terminated"]
    env = dataset.recover_environment()  # the spec carries the exact game settings
    assert env.unwrapped.game.size == 6
    assert (dataset.observation_space, dataset.action_space) == (env.observation_space, env.action_space)
    # Every episode replays in the recovered env from the seed Minari keeps: each observation, reward and
    # flag of the dataset is the one the env gives, and each episode ends on a flag, the last step only.
    seeds = {m["id"]: m["seed"] for m in dataset.storage.get_episode_metadata([e.id for e in episodes])}
    for ep in episodes:
        obs, _ = env.reset(seed=int(seeds[ep.id]))
        replayed = [obs]
        for action, reward, terminated, truncated in zip(ep.actions, ep.rewards, ep.terminations,
                                                         ep.truncations, strict=True):
            obs, r, term, trunc, _ = env.step(int(action))
            replayed.append(obs)
            assert (r, term, trunc) == (reward, terminated, truncated)
        assert np.array_equal(np.stack(replayed), ep.observations)
        ended = ep.terminations | ep.truncations
        assert ended[-1] and not ended[:-1].any()
    env.close()
    assert os.environ["MINARI_DATASETS_PATH"] == str(exported / "minari")


def test_play_and_replay_close_the_games_they_make(model, monkeypatch):
    """A Game Boy game holds emulators: play and replay close the games they make, not one passed in."""
    import vlm.trajectories as trajectories
    from envs import make_game

    closed: list[int] = []

    def counting_make_game(env: str, num_envs: int, **kwargs):
        game = make_game(env, num_envs=num_envs, **kwargs)
        real_close = game.close
        game.close = lambda: (closed.append(num_envs), real_close())  # type: ignore[method-assign]
        return game

    monkeypatch.setattr(trajectories, "make_game", counting_make_game)
    logs = play(model, "snake", {"size": 6, "obs": "grid"}, [0, 1, 2], seed=3, max_steps=20)
    assert closed == [3]
    assert len(list(replay("snake", {"size": 6, "obs": "grid"}, logs[0]))) == logs[0].length + 1
    assert closed == [3, 1]
    views = replay("snake", {"size": 6, "obs": "grid"}, logs[1])
    next(views)
    views.close()  # dropped part way (an export stopped): closed too
    assert closed == [3, 1, 1]
    game = counting_make_game("snake", 1, size=6, obs="grid")
    list(replay("snake", {"size": 6, "obs": "grid"}, logs[2], game=game))
    assert closed == [3, 1, 1]


def test_a_board_the_game_truncates_stops_there(model):
    from vlm.trajectories import episode_row

    # Starving after 3 moves without an apple: a truncated board plays no further step in the batch.
    calls: list[tuple[int, int]] = []
    logs = play(model, "snake", {"size": 6, "obs": "grid", "starvation": 3}, list(range(8)), seed=3,
                max_steps=50, progress=lambda ended, stepped: calls.append((ended, stepped)))
    # progress(episodes that ended at this step, boards that played it): what the export's bars show.
    assert calls == [(sum(log.length == t + 1 for log in logs), sum(log.length > t for log in logs))
                     for t in range(max(log.length for log in logs))]
    assert any(log.truncated[-1] for log in logs)
    for log in logs:
        assert log.terminated[-1] or log.truncated[-1]
        assert not (log.terminated[:-1] | log.truncated[:-1]).any() and not log.capped
        # The episode's info is read when it ended, not after the batch played on past it.
        assert log.info["score"] == log.scores[-1]
        final = list(replay("snake", {"size": 6, "obs": "grid", "starvation": 3}, log))[-1]
        assert log.info["snake_length"] == len(final.state["body"])
        # Its episodes.parquet row says how the game ended it: a starved board is truncated there, though
        # --max-steps did not cut it (capped).
        row = episode_row(final, "images/x.png")
        ends = (log.terminated[-1], log.truncated[-1], False)
        assert (row["terminated"], row["truncated"], row["capped"]) == ends


def test_step_rows_fill_each_row_group_once_and_load_in_episode_order(tmp_path, monkeypatch):
    # More steps than a row group: every row is written once, a group at a time.
    from dataclasses import replace

    import pyarrow.parquet as pq

    import vlm.trajectories as trajectories
    from vlm.trajectories import EpisodeLog, StepView, StepWriter

    monkeypatch.setattr(trajectories, "ROW_GROUP", 2)
    n = 5
    zeros = np.zeros(n, np.float32)
    log = EpisodeLog(0, 7, np.zeros(n, np.int64), np.full((n, 4), 0.25, np.float32), zeros, zeros,
                     np.zeros(n, bool), np.zeros(n, bool), np.arange(n, dtype=np.float64))
    path = tmp_path / "steps" / "part-0.parquet"
    writer = StepWriter(path, ("UP", "DOWN", "LEFT", "RIGHT"))
    for t in range(n):
        writer.add(StepView(log, t, {"step": t}, None), f"images/{t}.png")
    writer.close()
    assert writer.count == n and pq.ParquetFile(path).num_row_groups == 3
    assert pq.read_table(path).column("t").to_pylist() == list(range(n))
    # load_steps orders by episode and step whatever the part files' names: part-10 is read before part-9.
    steps = tmp_path / "trajectories" / "steps"
    for name, episode in (("part-9", 0), ("part-10", 1)):
        part = StepWriter(steps / f"{name}.parquet", ("UP", "DOWN", "LEFT", "RIGHT"))
        for t in range(n):
            part.add(StepView(replace(log, episode=episode), t, {"step": t}, None), f"images/{t}.png")
        part.close()
    rows = load_steps(tmp_path).to_pylist()
    assert [(r["episode"], r["t"]) for r in rows] == [(e, t) for e in (0, 1) for t in range(n)]


def test_replayed_observations_are_each_steps_own(model):
    """An export keeps every view of an episode (its Minari observations): each holds its own step's
    observation, not the game's buffer that the next step overwrites."""
    from envs import make_game

    log = play(model, "snake", {"size": 6, "obs": "grid"}, [0], seed=3, max_steps=5)[0]
    views = list(replay("snake", {"size": 6, "obs": "grid"}, log, observe=True))
    game = make_game("snake", 1, size=6, obs="grid")
    game.reset(np.zeros(1, dtype=np.int64), np.array([log.seed], dtype=np.uint64))
    obs = game.new_obs_buffer()
    for view in views:
        game.observe(obs)
        np.testing.assert_array_equal(view.obs, obs[0])
        if not view.final:
            game.step(np.array([log.actions[view.t]]))


def test_stochastic_play_samples_each_episode_from_its_own_stream(model, monkeypatch):
    # One generator per episode, keyed by the export's seed and the episode's index: episodes sharing one
    # stream drew the same numbers at every step, so a stochastic export's episodes were correlated.
    import vlm.trajectories

    probes: list[PolicyProbe] = []

    class Recorded(PolicyProbe):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            probes.append(self)

    monkeypatch.setattr(vlm.trajectories, "PolicyProbe", Recorded)
    kwargs = {"size": 6, "obs": "grid"}
    play(model, "snake", kwargs, [0, 1, 2], seed=5, max_steps=1, deterministic=False)
    play(model, "snake", kwargs, [2], seed=5, max_steps=1, deterministic=False)
    play(model, "snake", kwargs, [2], seed=6, max_steps=1, deterministic=False)
    draws = [[rng.random() for rng in probe.rngs] for probe in probes]
    assert len(set(draws[0])) == 3 and draws[1] == draws[0][2:]  # episode 2's stream, whatever its batch
    assert draws[2] != draws[1]  # ... and the export's: another --seed samples afresh


def test_a_run_config_without_a_policy_name_exports_as_preset_unknown(tmp_path):
    """A hand-written config need not name the policy preset (the model file does not need it)."""
    from vlm.trajectories import RunInfo

    assert RunInfo(tmp_path, {"env": "snake"}, tmp_path / "model.zip").preset == "unknown"
    assert RunInfo(tmp_path, {"env": "snake", "policy": "tiny"}, tmp_path / "model.zip").preset == "tiny"


def test_each_step_row_pairs_its_state_and_frame_with_that_steps_own_action_and_outcome(tmp_path):
    """Row t holds step t's action (its name), reward, ends, score, probabilities and value beside state t
    and its frame: the exported model's actions barely vary, so the export tests alone passed a writer that
    paired a state with the next step's action."""
    import pyarrow.parquet as pq

    from vlm.trajectories import StepView, StepWriter

    n = 4
    actions = np.array([2, 0, 3, 1], np.int64)  # every step a different action
    probs = np.eye(4, dtype=np.float32)[actions]
    log = EpisodeLog(0, 7, actions, probs, np.arange(n, dtype=np.float32) / 10,
                     np.arange(1, n + 1, dtype=np.float32), np.array([0, 0, 0, 1], bool), np.zeros(n, bool),
                     np.arange(10, 10 + n, dtype=np.float64))
    path = tmp_path / "part-00000.parquet"
    writer = StepWriter(path, ("UP", "DOWN", "LEFT", "RIGHT"))
    for t in range(n):
        writer.add(StepView(log, t, {"step": t}, None), f"images/{t}.png")
    writer.close()
    rows = pq.read_table(path).to_pylist()
    assert [(r["t"], json.loads(r["state"])["step"], r["frame"]) for r in rows] == [
        (t, t, f"images/{t}.png") for t in range(n)]
    assert [r["action"] for r in rows] == [2, 0, 3, 1]
    assert [r["action_name"] for r in rows] == ["LEFT", "UP", "RIGHT", "DOWN"]
    assert [r["reward"] for r in rows] == [1.0, 2.0, 3.0, 4.0]
    assert [r["terminated"] for r in rows] == [False, False, False, True]
    assert [r["score"] for r in rows] == [10.0, 11.0, 12.0, 13.0]
    assert [r["probs"] for r in rows] == probs.tolist()
    assert [r["value"] for r in rows] == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_an_episodes_score_without_one_in_its_info_is_the_last_steps():
    log = EpisodeLog(0, 1, np.zeros(3, np.int64), np.full((3, 4), 0.25, np.float32), np.zeros(3, np.float32),
                     np.zeros(3, np.float32), np.zeros(3, bool), np.zeros(3, bool), np.array([0.0, 2.0, 5.0]))
    assert log.score == 5.0  # the score after its last step
    log.info = {"score": 7.0}
    assert log.score == 7.0  # episode_info() at the end, when there is one


def test_each_episodes_info_is_read_at_its_own_last_step(model, monkeypatch):
    """A batch plays on past a board that ended: its info is episode_info() at its own end, whether the
    game ended it (terminated) or cut it (truncated), not what a game reports after further steps."""
    import vlm.trajectories as trajectories
    from envs import make_game

    def make_counting_game(env: str, num_envs: int, **kwargs):
        game = make_game(env, num_envs=num_envs, **kwargs)
        steps = [0]
        real_step, real_info = game.step, game.episode_info

        def step(actions):
            steps[0] += 1
            return real_step(actions)

        game.step = step  # type: ignore[method-assign]
        game.episode_info = lambda i: {**real_info(i), "batch_steps": float(steps[0])}  # type: ignore[method-assign]
        return game

    monkeypatch.setattr(trajectories, "make_game", make_counting_game)
    logs = play(model, "snake", {"size": 6, "obs": "grid", "starvation": 3}, list(range(8)), seed=3,
                max_steps=50)
    assert len({log.length for log in logs}) > 1 and any(log.truncated[-1] for log in logs)
    assert [log.info["batch_steps"] for log in logs] == [float(log.length) for log in logs]


def test_a_step_writer_given_no_rows_writes_no_part_file(tmp_path):
    """A chunk whose episodes were all filtered out leaves no empty part file in steps/."""
    from vlm.trajectories import StepWriter

    path = tmp_path / "steps" / "part-00000.parquet"
    writer = StepWriter(path, ("UP", "DOWN", "LEFT", "RIGHT"))
    writer.close()
    assert writer.count == 0 and not path.exists()


def test_an_episode_rows_return_sums_its_rewards_in_float64():
    """episodes.parquet's return is a float64 column: the float32 rewards are summed in float64, so a long
    episode's return does not drift by float32 rounding."""
    from vlm.trajectories import StepView, episode_row

    n = 100_000
    rewards = np.full(n, 0.1, np.float32)
    log = EpisodeLog(0, 1, np.zeros(n, np.int64), np.full((n, 4), 0.25, np.float32), np.zeros(n, np.float32),
                     rewards, np.zeros(n, bool), np.ones(n, bool), np.zeros(n))
    row = episode_row(StepView(log, n, {"step": n}, None), "images/x.png")
    assert row["return"] == float(rewards.astype(np.float64).sum())


def test_minari_keeps_image_observations_losslessly(tmp_path, monkeypatch):
    """Minari 0.5.4 JPEG-encodes observations it takes for images unless told not to: the export stores
    them losslessly (arrow), so a pixel observation reads back bit for bit."""
    minari = pytest.importorskip("minari")
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    logs, _ = minari_logs(1)
    obs = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)  # noise: JPEG is lossy
    dataset_id = write_minari(tmp_path, "snake", {"size": 6}, logs, iter([obs]), "PPO", "test")
    assert dataset_id == "depthfirst/snake/expert-v0"  # minari/<namespace>/<env>/expert-v0
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    dataset = minari.load_dataset(dataset_id)
    assert not dataset.storage.metadata.get("jpeg_encoding", False)  # 0.5.3 has no such setting: raw
    np.testing.assert_array_equal(next(iter(dataset.iterate_episodes())).observations, obs)
