import contextlib
import copy
import functools
import logging
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from numba.core.errors import TypingError

import envs.vector
from envs import make_game, make_vec
from envs.env import GameEnv
from envs.vector import GameVecEnv, WorkerDiedError, default_workers
from envs.worker import set_attrs
from tests.conftest import ROOT
from tests.envs.worker_calls import LoadsNowhere, exit_at_once, raise_unloadable, slow_raise, slow_step, touch


def rollout(venv, steps=80, seed=0):
    rng = np.random.default_rng(seed)
    obs = [venv.reset()]
    out = []
    for _ in range(steps):
        venv.step_async(rng.integers(0, 4, venv.num_envs))
        o, r, d, infos = venv.step_wait()
        obs.append(o)
        out.append((r, d, [(i.get("TimeLimit.truncated"), i.get("episode"), i.get("terminal_observation"))
                           for i in infos]))
    return obs, out


def untimed(episode):
    """An episode's info without its wall-clock ``t``."""
    return episode if episode is None else {k: v for k, v in episode.items() if k != "t"}


def same(a, b):
    obs_a, out_a = a
    obs_b, out_b = b
    assert all(np.array_equal(x, y) for x, y in zip(obs_a, obs_b, strict=True))
    for (ra, da, ia), (rb, db, ib) in zip(out_a, out_b, strict=True):
        assert np.array_equal(ra, rb) and np.array_equal(da, db)
        for (ta, ea, oa), (tb, eb, ob) in zip(ia, ib, strict=True):
            assert ta == tb and untimed(ea) == untimed(eb)
            assert (oa is None) == (ob is None) and (oa is None or np.array_equal(oa, ob))


def test_in_process_equals_workers():
    v0 = make_vec("snake", 12, num_workers=0, seed=3)
    v2 = make_vec("snake", 12, num_workers=2, seed=3)
    v3 = make_vec("snake", 12, num_workers=3, seed=3)
    try:
        r0 = rollout(v0)
        same(r0, rollout(v2))
        same(r0, rollout(v3))
    finally:
        for v in (v0, v2, v3):
            v.close()


def test_each_reset_gives_fresh_empty_reset_infos():
    # SB3's VecEnv.reset returns observations alone and keeps the boards' reset infos in reset_infos: one
    # empty dict a board (the games report nothing at a reset), new at every reset, so what a caller wrote
    # into one reset's dicts is not read back as the next reset's.
    with contextlib.closing(make_vec("snake", 3, num_workers=0, seed=0)) as venv:
        venv.reset()
        first = venv.reset_infos
        assert first == [{}, {}, {}] and len({id(info) for info in first}) == 3
        first[0]["note"] = 1
        venv.step(np.zeros(3, dtype=np.int64))
        venv.reset()
        assert venv.reset_infos == [{}, {}, {}] and venv.reset_infos is not first


def test_autoreset_infos_and_seeds():
    v = make_vec("snake", 6, num_workers=0, seed=10, starvation=5)
    obs = v.reset()
    # Board k's first episode is GameEnv(seed=10+k).
    for k in range(6):
        o, _ = GameEnv("snake", starvation=5).reset(seed=10 + k)
        assert np.array_equal(obs[k], o)
    saw_trunc = saw_term = False
    rng = np.random.default_rng(0)
    for _ in range(40):
        v.step_async(rng.integers(0, 4, 6))
        o, r, d, infos = v.step_wait()
        assert o.dtype == np.uint8 and r.dtype == np.float32
        for k in np.flatnonzero(d):
            info = infos[k]
            assert info["terminal_observation"].shape == v.observation_space.shape
            assert not np.array_equal(info["terminal_observation"], o[k])  # obs is the new episode's
            assert {"r", "l", "t", "score"} <= set(info["episode"])  # Monitor's r, l, t and the game's
            saw_trunc |= info["TimeLimit.truncated"]
            saw_term |= not info["TimeLimit.truncated"]
    assert saw_trunc and saw_term
    v.close()


def test_a_board_ended_and_cut_by_its_limit_at_once_is_no_time_limit_truncation():
    """SB3 bootstraps from terminal_observation where TimeLimit.truncated is set, which means cut by the
    time limit alone (DummyVecEnv: truncated and not terminated): an episode that ended on its last
    allowed step has no value past it."""
    v = make_vec("snake", 2, num_workers=0, seed=0)
    try:
        v.reset()
        ended = np.array([True, False])  # board 0: terminated and truncated; board 1: truncated only
        v.set_attr("step", lambda actions: (np.zeros(2, np.float32), ended, np.ones(2, np.bool_)))
        _, _, dones, infos = v.step(np.zeros(2, np.int64))
        assert dones.tolist() == [True, True] and all("episode" in info for info in infos)
        assert [info["TimeLimit.truncated"] for info in infos] == [False, True]
    finally:
        v.close()


# Snake has a batched episode_infos, Sokoban the generic one.
@pytest.mark.parametrize("game,kwargs", [("snake", {}), ("sokoban", {"max_steps": 15})])
def test_episode_figures_match_the_game_and_infos_never_leak(game, kwargs):
    n = 8
    v = make_vec(game, n, num_workers=2, seed=0, **kwargs)
    single = [GameEnv(game, **kwargs) for _ in range(n)]
    episodes = [0] * n
    returns, lengths = [0.0] * n, [0] * n
    v.reset()
    for k, env in enumerate(single):
        env.reset(seed=k)  # board k's e-th episode is seeded k + e·n
    rng = np.random.default_rng(1)
    for _ in range(60):
        actions = rng.integers(0, 4, n)
        v.step_async(actions)
        _, _, dones, infos = v.step_wait()
        for k, env in enumerate(single):
            last_obs, reward, terminated, truncated, info = env.step(int(actions[k]))
            returns[k] += float(reward)
            lengths[k] += 1
            assert dones[k] == (terminated or truncated)
            if dones[k]:
                assert np.array_equal(infos[k]["terminal_observation"], last_obs)
                figures = {key: value for key, value in infos[k]["episode"].items()
                           if key not in ("r", "l", "t")}
                assert "score" in figures and figures == {key: info[key] for key in figures}
                # Monitor's return and length are of this episode alone, not summed over earlier ones.
                assert infos[k]["episode"]["r"] == pytest.approx(returns[k], abs=1e-5)
                assert infos[k]["episode"]["l"] == lengths[k]
                returns[k], lengths[k] = 0.0, 0
                episodes[k] += 1
                env.reset(seed=k + episodes[k] * n)
        for k in np.flatnonzero(~dones):
            assert infos[k] == {}
            infos[k]["written by a consumer"] = True  # must not show up in the next step's infos
    assert sum(episodes) > 0
    v.close()


def test_episode_infos_carry_monitors_entries():
    # env_is_wrapped(Monitor) says yes, so every key SB3's Monitor puts in info["episode"] must be there.
    from stable_baselines3.common.monitor import Monitor

    v = make_vec("snake", 1, num_workers=0, seed=4, starvation=3)
    env = Monitor(GameEnv("snake", starvation=3))
    assert v.env_is_wrapped(Monitor) == [True]
    assert np.array_equal(v.reset()[0], env.reset(seed=4)[0])
    done = False
    while not done:
        v.step_async(np.zeros(1, np.int64))
        _, _, dones, infos = v.step_wait()
        _, _, terminated, truncated, info = env.step(0)
        done = terminated or truncated
        assert dones[0] == done
    ours, theirs = infos[0]["episode"], info["episode"]
    assert set(theirs) <= set(ours)
    assert ours["r"] == theirs["r"] and ours["l"] == theirs["l"] and 0.0 <= ours["t"] < 60.0
    assert type(ours["l"]) is type(theirs["l"]) is int  # the shared rows are float64
    v.close()


@pytest.mark.parametrize("keys", [
    ("r", "l", "t"),
    ("r", "l", "t", "score", "snake_length", "won"),
    ("r", "l", "t", "r"),  # a game's figure named r: the later value is the episode's
    ("it's", 'say "hi"', "back\\slash", "ünï", "v0", "lambda", ""),  # keys go into code as literals
])
def test_record_maker_gives_the_dict_of_its_keys(keys):
    values = [object() for _ in keys]
    expected = dict(zip(keys, values, strict=True))
    record = envs.vector.record_maker(keys)(*values)
    assert record == expected and list(record) == list(expected)
    with pytest.raises(TypeError):
        envs.vector.record_maker(keys)(*values[:-1])


def test_episode_return_is_rounded_as_monitors():
    # SB3's Monitor gives r rounded to 6 places: Rotation's step costs (0.01) summed to -0.4999999888 here
    # against Monitor's -0.5, so evaluate_policy and ep_rew_mean differed from a DummyVecEnv of Monitors.
    from stable_baselines3.common.monitor import Monitor

    v = make_vec("rotation", 1, num_workers=0, seed=4)
    env = Monitor(GameEnv("rotation"))
    try:
        v.reset()
        env.reset(seed=4)
        done = False
        while not done:
            _, _, dones, infos = v.step(np.zeros(1, np.int64))
            _, _, terminated, truncated, info = env.step(0)
            done = terminated or truncated
            assert dones[0] == done
        assert infos[0]["episode"]["r"] == info["episode"]["r"] != int(info["episode"]["r"])
    finally:
        v.close()


@pytest.mark.parametrize("name", ["r", "l", "t"])
def test_a_game_figure_named_like_monitors_entries_is_refused(monkeypatch: pytest.MonkeyPatch, name: str):
    # No game names one r, l or t (Pokémon's reward terms are r_<term>), and nothing refused it: a game
    # whose figures held "l" had its value replace the episode's length in info["episode"] without a word.
    # Each of the three, as the game's first figure.
    from envs.snake import Snake

    figures = Snake.episode_infos
    monkeypatch.setattr(Snake, "episode_infos",
                        lambda self, idx: {name: np.ones(len(idx)), **figures(self, idx)})
    with pytest.raises(ValueError, match=rf"snake's episode figure '{name}' would replace SB3's episode"):
        make_vec("snake", 1, num_workers=0)
    # Before a run is made (evaluate, export, --resume): the game's fault in one line, not a traceback.
    from agents.evaluation import check_game
    from agents.runs import RunError

    with pytest.raises(RunError, match=rf"^snake's episode figure '{name}' would replace SB3's episode"):
        check_game("snake", {})


def test_seed_then_reset_reproduces():
    v = make_vec("snake", 4, num_workers=0)
    v.seed(99)
    a = v.reset()
    v.step_async(np.zeros(4, np.int64))
    v.step_wait()
    v.seed(99)
    assert np.array_equal(v.reset(), a)
    v.close()
    # The seed is the one asked for: board k's first episode is GameEnv(seed=99 + k), as from make_vec.
    for k in range(4):
        assert np.array_equal(a[k], GameEnv("snake").reset(seed=99 + k)[0])


def test_env_method_get_set_attr():
    v = make_vec("snake", 6, num_workers=2, seed=1)
    try:
        v.reset()
        states = v.env_method("get_state", indices=[0, 4])
        assert len(states) == 2 and states[1]["size"] == 10
        frames = v.get_images()
        assert len(frames) == 6 and frames[0].ndim == 3
        assert v.get_attr("size") == [10] * 6
        v.set_attr("starvation", 7, indices=[3, 4, 5])  # worker 1's boards: they share its game
        assert v.get_attr("starvation") == [200] * 3 + [7] * 3
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_step_wait_without_step_async_is_refused(workers):
    """step_wait() alone, after a reset or a step, stepped every board again on the actions left in the
    buffer (the last step's, or a step_async's that a reset came after), silently."""
    v = make_vec("snake", 2, num_workers=workers, seed=0)
    try:
        v.reset()
        v.step_async(np.array([3, 3]))
        v.step_wait()
        with pytest.raises(RuntimeError, match=r"step_wait\(\) without step_async"):
            v.step_wait()
        v.step_async(np.array([3, 3]))
        v.reset()  # the actions were for the observations before it
        states = v.env_method("get_state")
        with pytest.raises(RuntimeError, match=r"step_wait\(\) without step_async"):
            v.step_wait()
        assert v.env_method("get_state") == states  # no board moved
        v.step(np.array([3, 3]))  # step() still pairs them
        assert v.env_method("get_state") != states
    finally:
        v.close()
    with pytest.raises(RuntimeError, match="closed"):
        v.step_wait()


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("method", ["step", "reset", "observe", "close", "set_opponent_actions"])
def test_env_method_refuses_a_game_method_of_all_its_boards(workers, method):
    """env_method passes each board's number first: with one board a worker, env_method("step", indices=[0])
    stepped it with action 0 behind the env's back (its episode's end never reported, the board never
    restarted: it reported 0 and no end for ever), and set_opponent_actions took the number as the move."""
    opponent = "policy" if method == "set_opponent_actions" else "greedy"
    v = make_vec("snake_duel", 2, num_workers=workers, seed=0, opponent=opponent)
    try:
        v.reset()
        with pytest.raises(ValueError, match=rf"env_method\('{method}'\).*all of a game's boards at once"):
            v.env_method(method, indices=[0])
        assert [s["round"] for s in v.env_method("get_state")] == [0, 0]
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_finished_episodes_state_is_refused_and_the_board_left_as_it_was(workers):
    """A state whose episode had ended (done) left its board stuck: a game's ended board reports 0 and
    neither flag until it is reset, and the vector env resets only boards whose step ended them, so it
    never ended nor restarted (GameEnv refuses the step after it instead)."""
    game = make_game("snake", num_envs=1, starvation=3)
    game.reset(np.arange(1), np.arange(1, dtype=np.uint64))
    while not any(game.step(np.array([0]))[1:]):
        pass
    finished = game.get_state(0)
    v = make_vec("snake", 4, num_workers=workers, seed=0)
    try:
        v.reset()
        before = v.env_method("get_state", indices=[3])
        with pytest.raises(ValueError, match="env 3: that episode has ended"):
            v.env_method("set_state", finished, indices=[3])
        assert v.env_method("get_state", indices=[3]) == before
        playing = before[0] | {"step": 5, "steps_since_apple": 5}
        v.env_method("set_state", playing, indices=[3])  # a state still playing is taken
        assert v.env_method("get_state", indices=[3])[0]["step"] == 5
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_set_state_reads_done_as_the_game_took_it_and_loads_a_board_never_reset(workers):
    """The finished-state check reads the board after set_state: a Rotation state may leave done out (a
    solved one is done), and a board never reset takes a state (there is nothing to put back)."""
    game = make_game("rotation", num_envs=1)
    game.reset(np.arange(1), np.arange(1, dtype=np.uint64))
    playing = {k: v for k, v in game.get_state(0).items() if k != "done"}
    v = make_vec("rotation", 4, num_workers=workers, seed=0)
    try:
        v.env_method("set_state", playing, indices=[3])  # before any reset()
        assert v.env_method("get_state", indices=[3])[0]["done"] is False
        v.reset()
        before = v.env_method("get_state", indices=[3])
        solved = playing | {"rotation": playing["target_rotation"], "rotation_index": playing["target_index"],
                            "distance": 0, "solved": True, "score": 1.0,
                            "step": playing["turns"]}  # steps it reaches
        with pytest.raises(ValueError, match="env 3: that episode has ended"):
            v.env_method("set_state", solved, indices=[3])
        assert v.env_method("get_state", indices=[3]) == before
    finally:
        v.close()


def test_default_workers():
    assert default_workers("snake", 64) == 0  # cheap core: in process


def test_default_workers_of_a_costly_game_are_one_per_core_and_never_more_than_its_envs(monkeypatch):
    # More workers than envs would leave some with no board at all.
    monkeypatch.setattr(envs.vector, "usable_cores", lambda: 8)
    assert [default_workers("gameboy", n) for n in (1, 3, 8, 64)] == [1, 3, 8, 8]


def test_a_worker_that_exits_names_its_exit_code():
    """The worker's pipe closes a moment before the process is reaped: the error named it only once it
    was, and said "exit code None" when the closed pipe was read first."""
    v = GameVecEnv("snake", 4, num_workers=2, seed=0, on_worker_death="raise")
    try:
        v.reset()
        v.set_attr("die", exit_at_once, indices=[0, 1])  # os._exit(3) in the worker's game
        exited = r"^worker 0 \(pid \d+, envs 0-1\) died with exit code 3 "
        for _ in range(5):  # a race: one try may read the exit code in time without the wait for it
            with pytest.raises(WorkerDiedError, match=exited):
                v.env_method("die", indices=[0])
            v.on_worker_death = "restart"
            v.get_attr("size")  # restarted, with the set_attr values: it dies again at the next "die"
            v.on_worker_death = "raise"
    finally:
        v.close()


def test_a_worker_of_one_board_is_named_with_it(caplog):
    # It read "envs 1-1" (one emulator a worker is the Game Boy's default).
    v = make_vec("snake", 2, num_workers=2, seed=0)
    try:
        v.reset()
        pid = v.worker_pids()[1]
        os.kill(pid, signal.SIGKILL)
        with caplog.at_level(logging.WARNING, logger="envs.vector"):
            v.step(np.zeros(2, np.int64))
        assert [r.getMessage() for r in caplog.records if r.name == "envs.vector"] == [
            f"worker 1 (pid {pid}, env 1) died with exit code -9; restarting it, its boards start new "
            "episodes"]
    finally:
        v.close()


def test_killed_worker_is_restarted(caplog):
    v = make_vec("snake", 8, num_workers=2, seed=0)
    try:
        v.reset()
        for _ in range(3):  # the killed worker's boards are three steps into their episodes
            v.step_async(np.zeros(8, np.int64))
            v.step_wait()
        pid = v.worker_pids()[1]
        os.kill(pid, signal.SIGKILL)
        t = time.perf_counter()
        v.step_async(np.zeros(8, np.int64))
        with caplog.at_level(logging.WARNING, logger="envs.vector"):
            _, _, d, infos = v.step_wait()
        assert time.perf_counter() - t < 60
        assert v.worker_restarts == 1
        # A warning names the worker, its boards and how it died (the counter alone says none of it).
        assert [r.getMessage() for r in caplog.records if r.name == "envs.vector"] == [
            f"worker 1 (pid {pid}, envs 4-7) died with exit code -9; restarting it, its boards start new "
            "episodes"]
        assert d[4:].all() and all(infos[k]["worker_restarted"] for k in range(4, 8))
        assert all(infos[k]["TimeLimit.truncated"] for k in range(4, 8))
        assert all(infos[k]["terminal_observation"].shape == v.observation_space.shape for k in range(4, 8))
        # Cut short, not finished: no "episode" entry, which SB3 would count in ep_rew_mean/ep_len_mean.
        assert not any("episode" in infos[k] for k in range(4, 8))
        v.step_async(np.zeros(8, np.int64))
        v.step_wait()  # the pool keeps working
    finally:
        v.close()


def test_a_restarted_workers_boards_earn_nothing_for_the_cut_step_and_count_their_next_episode_anew():
    """The cut step was never played: its reward is 0 (not the lost worker's last one, Sokoban's -0.1 step
    cost), and the new episodes' Monitor return and length start from it, not from the cut episodes'."""
    v = make_vec("sokoban", 4, num_workers=2, seed=0, difficulty="easy", max_steps=4)
    try:
        v.reset()
        for _ in range(2):
            _, rewards, _, _ = v.step(np.zeros(4, np.int64))
        assert rewards[2:].tolist() == pytest.approx([-0.1, -0.1])
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        _, rewards, dones, infos = v.step(np.zeros(4, np.int64))
        assert v.worker_restarts == 1 and dones[2:].all() and infos[2]["worker_restarted"]
        assert rewards[2:].tolist() == [0.0, 0.0]
        returns, length, ended = np.zeros(4), 0, np.zeros(4, bool)
        while not ended[2:].all():
            _, rewards, dones, infos = v.step(np.zeros(4, np.int64))
            length += 1
            returns[~ended] += rewards[~ended]
            for k in (2, 3):
                if dones[k] and not ended[k]:
                    assert infos[k]["episode"]["l"] == length
                    assert infos[k]["episode"]["r"] == pytest.approx(returns[k])
            ended |= dones
    finally:
        v.close()


def test_a_restarted_worker_keeps_what_set_attr_gave_the_lost_one():
    """The new worker's game was made from game_kwargs alone: a step limit set_attr had changed went back
    to its default, silently, for the boards of that worker only."""
    v = make_vec("snake", 8, num_workers=2, seed=0)
    try:
        v.reset()
        v.set_attr("starvation", 3, indices=[4, 5, 6, 7])
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        v.step_async(np.zeros(8, np.int64))
        v.step_wait()
        assert v.worker_restarts == 1
        assert v.get_attr("starvation") == [200] * 4 + [3] * 4
        # Set before the new boards' first reset, so their episodes already play by it.
        assert [s["starvation"] for s in v.env_method("get_state", indices=[0, 4])] == [200, 3]
    finally:
        v.close()


def test_a_killed_workers_cut_episodes_are_not_in_sb3s_episode_figures():
    from agents.train import PPO

    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        model = PPO("MlpPolicy", v, n_steps=8, batch_size=32, n_epochs=1, device="cpu", seed=0)

        def kill_once(local, _globals):
            if local["self"].num_timesteps == 8:  # worker 1's boards are two steps into a rollout
                os.kill(v.worker_pids()[1], signal.SIGKILL)
            return True

        model.learn(16, callback=kill_once)
        assert v.worker_restarts == 1
        # Only finished episodes, each with its game's figures (the cut ones had r, l, t alone).
        assert all("score" in episode for episode in model.ep_info_buffer)
    finally:
        v.close()


def test_killed_worker_raises_when_asked():
    v = make_vec("snake", 4, num_workers=2, seed=0)
    v.on_worker_death = "raise"
    try:
        v.reset()
        pid = v.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        t = time.perf_counter()
        with pytest.raises(WorkerDiedError, match="worker 0"):
            v.step_async(np.zeros(4, np.int64))
            v.step_wait()
        assert time.perf_counter() - t < 1.5  # noticed within a second, never hangs
        # Outside a step too: the call that finds it dead names it.
        with pytest.raises(WorkerDiedError, match=r"worker 0 .* during 'env_method'"):
            v.env_method("get_state", indices=[0])
        with pytest.raises(WorkerDiedError, match=r"worker 0 .* during 'reset'"):
            v.reset()
    finally:
        v.close()


def test_bad_arguments():
    import multiprocessing as mp

    with pytest.raises(ValueError, match=r"^num_workers must be between 0 and 2 \(num_envs\), got 3$"):
        make_vec("snake", 2, num_workers=3)
    with pytest.raises(ValueError, match="known envs"):
        make_vec("tetris3d", 2)
    with pytest.raises(ValueError, match="on_worker_death must be 'restart' or 'raise', got 'ignore'"):
        GameVecEnv("snake", num_envs=2, num_workers=0, on_worker_death="ignore")
    # multiprocessing's "cannot find context for 'fork-server'" named neither the argument nor the choices.
    with pytest.raises(ValueError, match=r"^start_method must be None or one of .*'spawn'.*, "
                                         r"got 'fork-server'$") as exc:
        GameVecEnv("snake", num_envs=2, num_workers=1, start_method="fork-server")
    assert str(mp.get_all_start_methods()) in str(exc.value)  # this system's, each of them


def test_game_kwargs_that_is_no_dict_of_option_names_says_what_it_must_be():
    # A list was dict()'s "cannot convert dictionary update sequence element #0 to a sequence", a str its
    # "element #0 has length 1; 2 is required", a key 1 "keywords must be strings" and num_envs make_game's
    # "got multiple values for keyword argument 'num_envs'".
    for bad, got in (([1, 2], r"list \[1, 2\]"), ("size=8", "str 'size=8'"), ([("size", 8)], "list")):
        with pytest.raises(TypeError, match=r"^game_kwargs must be a dict of the game's options by name, "
                                             rf"e\.g\. \{{'size': 8\}}, or None, got {got}"):
            GameVecEnv("snake", num_envs=2, num_workers=0, game_kwargs=bad)
    with pytest.raises(TypeError, match=r"^game_kwargs must be a dict keyed by option names \(strings\), "
                                         r"got key 1$"):
        GameVecEnv("snake", num_envs=2, num_workers=0, game_kwargs={1: 2})
    with pytest.raises(ValueError, match=r"^game_kwargs holds the game's options; num_envs is GameVecEnv's"):
        GameVecEnv("snake", num_envs=2, num_workers=0, game_kwargs={"num_envs": 4})
    venv = GameVecEnv("snake", num_envs=2, num_workers=0, game_kwargs=MappingProxyType({"size": 8}))
    assert venv.game_kwargs == {"size": 8} and type(venv.game_kwargs) is dict
    venv.close()


def test_game_kwargs_given_to_a_make_function_says_it_takes_keywords():
    # Each passed it on to the game: "Snake.__init__() got an unexpected keyword argument 'game_kwargs'".
    import gymnasium as gym

    from envs import make_env

    for make in (lambda: make_vec("snake", 2, game_kwargs=[1, 2]),
                 lambda: make_game("snake", 2, game_kwargs={}),
                 lambda: make_env("snake", game_kwargs={"size": 8}),
                 lambda: gym.make("depthfirst/Snake-v0", game_kwargs={"size": 8})):
        with pytest.raises(TypeError, match=r"^game_kwargs=.*: make_game, make_env, make_vec and gym\.make "
                                            r"take the game's options as keywords \(make_vec\(name, "
                                            r"num_envs, size=8\)\); game_kwargs, a dict of them, is "
                                            r"GameVecEnv's argument"):  # gym.make adds where it was raised
            make()


@pytest.mark.parametrize("argument", ["start_method", "hang_timeout_s", "on_worker_death"])
def test_a_gamevecenv_argument_given_to_make_vec_names_gamevecenv(argument):
    # make_vec passed it on to the game: "Snake.__init__() got an unexpected keyword argument 'start_method'".
    with pytest.raises(TypeError, match=rf"^{argument} is an argument of envs\.vector\.GameVecEnv, not a "
                                        r"snake option: make_vec passes its keywords to the game; make the "
                                        rf"env as GameVecEnv\('snake', 2, .*{argument}=.*\)$"):
        make_vec("snake", 2, **{argument: None})


def test_two_gamevecenv_arguments_given_to_make_vec_name_one_throughout():
    with pytest.raises(TypeError, match=r"^hang_timeout_s is an argument of envs\.vector\.GameVecEnv, .*, "
                                        r"hang_timeout_s=\.\.\.\)$"):
        make_vec("snake", 2, start_method=None, hang_timeout_s=None)


def test_the_fork_server_starts_from_a_thread_other_than_the_main_one():
    # Only the main thread may set signal handlers: from another, the server starts without SIGINT ignored.
    import threading
    from multiprocessing import forkserver

    from envs.vector import start_forkserver

    errors: list[BaseException] = []

    def start() -> None:
        try:
            start_forkserver()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert errors == [] and forkserver._forkserver._forkserver_pid is not None


def test_a_stopped_fork_server_is_reaped_and_the_next_start_makes_a_new_one():
    """stop_forkserver (a Ctrl-C while the server imports) kills the server and reaps it: killed only, it
    stayed a zombie with its pipe open; reaped behind multiprocessing's back, the next env or export of the
    same process (a notebook's) failed with a ChildProcessError as it looked for the old server."""
    from multiprocessing import get_all_start_methods

    if "forkserver" not in get_all_start_methods():
        pytest.skip("no fork server on this platform")
    code = """
import os
from multiprocessing import forkserver
from envs.vector import start_forkserver, stop_forkserver
start_forkserver()
first = forkserver._forkserver._forkserver_pid
stop_forkserver()
try:
    os.waitpid(first, os.WNOHANG)
    print("not reaped")
except ChildProcessError:
    print("reaped")
start_forkserver()
second = forkserver._forkserver._forkserver_pid
print("new server" if second not in (None, first) and os.waitpid(second, os.WNOHANG)[0] == 0 else "none")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.split("\n")[:2] == ["reaped", "new server"], done.stdout + done.stderr


@pytest.mark.parametrize("name,kwargs", [("snake", {}), ("snake", {"obs": "pixels"}), ("snake_duel", {}),
                                         ("rotation", {}), ("sokoban", {}), ("pokemon_red", None)])
def test_observe_a_subset_of_boards(name, kwargs):
    """``observe(out, indices)`` writes board indices[k] into out[k], as the full observation has it."""
    if kwargs is None:
        pytest.importorskip("pyboy")
        from envs.gameboy.roms import TEST_CARTRIDGE

        kwargs = {"rom": TEST_CARTRIDGE}
    game = make_game(name, num_envs=6, **kwargs)
    game.reset(np.arange(6), np.arange(6, dtype=np.uint64))
    rng = np.random.default_rng(0)
    for _ in range(3):
        game.step(rng.integers(0, game.action_space.n, 6))
    full = game.new_obs_buffer()
    game.observe(full)
    indices = np.array([4, 1, 5])
    part = np.zeros((3, *game.observation_space.shape), np.uint8)
    game.observe(part, indices)
    assert np.array_equal(part, full[indices]) and full.any()
    # The kernels do not check bounds: bad input must be refused before them.
    for bad_out, bad_indices in ((part[:2], indices), (part, np.array([True, False, True])),
                                 (part, np.array([0, 1, 6])), (full[:5], None)):
        with pytest.raises(ValueError, match=r"indices|out must"):
            game.observe(bad_out, bad_indices)
    game.close()


@pytest.mark.parametrize("sig", ["SIGINT", "SIGHUP"], ids=["ctrl-c", "closed-terminal"])
def test_the_fork_server_ignores_a_ctrl_c_while_it_imports(tmp_path, sig):
    """A Ctrl-C to the whole process group while the fork server imports its preload modules (PyBoy takes
    a second or two) printed a KeyboardInterrupt traceback from the server; a closed terminal's SIGHUP,
    which a shell passes on to the group, killed it."""
    # The import says when it has begun and waits for "go": the signal lands inside it, with no fixed sleep.
    (tmp_path / "slow_import.py").write_text(
        "import time\nfrom pathlib import Path\nhere = Path(__file__).parent\n(here / 'importing').touch()\n"
        "while not (here / 'go').exists():\n    time.sleep(0.01)\n(here / 'imported').touch()\n")
    code = f"""
import os, signal, time
import multiprocessing as mp
from multiprocessing import forkserver
from pathlib import Path
from types import MappingProxyType
from envs.vector import start_forkserver
here = Path({str(tmp_path)!r})
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a background job ignores it)
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as in a terminal (nohup ignores it)
mp.set_forkserver_preload(["slow_import"])
start_forkserver()
server, died = forkserver._forkserver._forkserver_pid, False
def wait_for(name):  # or for the server's death
    global died
    deadline = time.monotonic() + 30
    while not (here / name).exists() and not died and time.monotonic() < deadline:
        died = os.waitpid(server, os.WNOHANG)[0] != 0
        time.sleep(0.01)
wait_for("importing")
os.kill(server, signal.{sig})
(here / "go").touch()
wait_for("imported")  # the import ran on past the signal, or the server died of it
died = died or os.waitpid(server, os.WNOHANG)[0] != 0
print("server died" if died else "server alive")
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}  # the server's path too
    # No limit of its own: its waits end themselves (30 s each), and a 60 s one cut short its start, whose
    # import of envs.vector took 19 s on a busy 2-core box (a TimeoutExpired 3 times in 6 loaded runs). A
    # hang is the suite's timeout, and subprocess.run kills the script then.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert "KeyboardInterrupt" not in done.stderr, done.stderr
    assert done.stdout.strip() == "server alive", done.stdout + done.stderr


def test_the_fork_server_starts_before_the_probe_game(monkeypatch):
    """The fork server's preload imports (Numba's set-up, a second or more) run while the env makes its
    probe game: started after the probe, the server's imports and the probe waited on each other."""
    import multiprocessing as mp

    import envs.vector as vector

    if "forkserver" not in mp.get_all_start_methods():
        pytest.skip("no fork server on this system")
    order: list[str] = []
    start, make = vector.start_forkserver, vector.make_game

    def started() -> None:
        order.append("fork server")
        start()

    def made(*args, **kwargs):
        order.append("game")
        return make(*args, **kwargs)

    monkeypatch.setattr(vector, "start_forkserver", started)
    monkeypatch.setattr(vector, "make_game", made)
    GameVecEnv("snake", 2, num_workers=1, start_method="forkserver").close()
    assert order == ["fork server", "game"]  # the workers make their games in their own processes


@pytest.mark.parametrize(("start_method", "workers", "started"),
                         [("forkserver", 1, True), ("spawn", 1, False), ("forkserver", 0, False)])
def test_only_an_env_whose_workers_are_forked_from_the_server_starts_it(monkeypatch, start_method, workers,
                                                                        started):
    # A spawn env's workers, or no workers, need no fork server: an idle process holding the preload.
    import multiprocessing as mp

    import envs.vector as vector

    if start_method not in mp.get_all_start_methods():
        pytest.skip(f"no {start_method} on this system")
    calls: list[str] = []

    def made(*args, **kwargs):
        raise RuntimeError("stop at the probe game")

    monkeypatch.setattr(vector, "prepare_workers", calls.append)
    monkeypatch.setattr(vector, "make_game", made)
    with pytest.raises(RuntimeError, match="stop at the probe game"):
        GameVecEnv("snake", 2, num_workers=workers, start_method=start_method)
    assert calls == (["snake"] if started else [])


_MODULES_OF_A_FORKED_PROCESS = """
import sys
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from envs.vector import prepare_workers
assert prepare_workers(sys.argv[1])
missing = f"sorted(set({sys.argv[2:]!r}) - set(__import__('sys').modules))"  # in the forked process
with ProcessPoolExecutor(1, mp_context=mp.get_context("forkserver")) as pool:  # no initializer: as forked
    print(pool.submit(eval, missing).result())
"""


def test_a_process_forked_from_the_workers_server_starts_with_their_modules_imported():
    # The worker's and the game's modules and Numba's set-up (envs.jit_warmup), each a second or more a
    # worker: dropping one from the preload slowed every worker's start and failed no test.
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        pytest.skip("no fork server on this system")
    modules = ["envs.worker", "envs.jit_warmup", "envs.snake", "numba"]
    done = subprocess.run([sys.executable, "-c", _MODULES_OF_A_FORKED_PROCESS, "snake", *modules],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_worker_whose_parent_stopped_leaves_quietly():
    """A Ctrl-C while a worker starts: the parent has gone when the worker answers "ok". It exited with a
    BrokenPipeError traceback (status 1)."""
    import multiprocessing as mp

    from envs.worker import Shared, worker_main

    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    parent, child = ctx.Pipe()
    shared = Shared(ctx, 2, (4, 10, 10), ("score",))
    proc = ctx.Process(target=worker_main, args=(child, "snake", {}, {}, shared, 0, 2, 0, True, os.getcwd()))
    parent.close()  # the parent's end is gone before the worker answers
    proc.start()
    child.close()
    proc.join(60)
    assert proc.exitcode == 0


def test_a_worker_whose_parent_went_away_while_it_waits_leaves():
    """A parent gone without close() (killed, crashed): the worker's recv finds the pipe closed. It must
    exit, not go on waiting for commands (or spin on the closed pipe) for ever."""
    import multiprocessing as mp

    from envs.worker import Shared, worker_main

    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    parent, child = ctx.Pipe()
    shared = Shared(ctx, 2, (4, 10, 10), ("score",))
    proc = ctx.Process(target=worker_main, args=(child, "snake", {}, {}, shared, 0, 2, 0, True, os.getcwd()))
    proc.start()
    child.close()
    try:
        assert parent.poll(60) and parent.recv()[1] == "ok"  # started: it now waits for a command
        parent.close()
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(5)


@pytest.mark.parametrize("workers", [0, 2])
def test_seed_applies_at_the_next_reset(workers):
    """seed() then steps before reset(): the steps go on with the old seeds (SB3's VecEnv semantics); the
    counts of episodes were zeroed at once, so each board's next episodes repeated its first ones' seeds."""
    seeded = make_vec("snake", 4, num_workers=workers, seed=0, starvation=3)
    plain = make_vec("snake", 4, num_workers=workers, seed=0, starvation=3)
    try:
        seeded.seed(50)  # before the first reset, as SB3's set_random_seed does: that reset takes it
        assert np.array_equal(seeded.reset()[0], GameEnv("snake", starvation=3).reset(seed=50)[0])
        seeded.seed(0)
        seeded.reset()
        plain.reset()
        seeded.seed(50)
        for _ in range(30):  # several episodes per board end here, seeded as in the env never re-seeded
            actions = np.zeros(4, np.int64)
            seeded.step_async(actions)
            plain.step_async(actions)
            a, b = seeded.step_wait(), plain.step_wait()
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2])
        obs = seeded.reset()
        for k in range(4):  # the seed took effect at this reset
            assert np.array_equal(obs[k], GameEnv("snake", starvation=3).reset(seed=50 + k)[0])
    finally:
        seeded.close()
        plain.close()


def test_a_worker_restarted_between_seed_and_reset_seeds_its_boards_from_the_current_seed():
    """seed() applies at the next reset(), as SB3's VecEnvs do: a worker restarted before that reset seeds
    its new boards as the lost one would have (the current seed), not from the seed still to come."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        v.seed(50)
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        obs, _, dones, _ = v.step(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        assert v.worker_restarts == 1 and dones.tolist() == [False, False, True, True]
        for k in (2, 3):  # the new worker's boards: episode 1, seed 0 + k + 4
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=k + 4)[0])
        obs = v.reset()
        for k in range(4):  # the seed took effect at this reset
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=50 + k)[0])
    finally:
        v.close()


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), MemoryError()])
def test_shared_buffers_too_large_for_the_machine_name_their_size_and_the_fix(error):
    """The shared-memory file (/dev/shm) or the address space running out is refused naming the size the
    step buffers need and what to change; nothing is allocated here (the context's RawArray fails)."""
    from envs.worker import Shared

    class Full:
        def RawArray(self, code, length):
            raise error

    # Two 3 GiB observation buffers (obs and terminal_obs) and a few KiB of the rest.
    with pytest.raises(ValueError, match=r"^num_envs 1,024: the step buffers need 6\.0 GiB of shared memory, "
                                         r"more than this machine gives; use a smaller --num-envs$"):
        Shared(Full(), 1024, (3, 1024, 1024), ("score",))


def test_a_workers_error_leaves_no_reply_unread():
    """Worker 0 fails a step at once, worker 1 answers later: its reply was left in its pipe and taken for
    the answer to the next command (get_attr("size") answered worker 1's count of ended episodes, 0)."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        v.set_attr("step", None, indices=[0, 1])  # 'NoneType' object is not callable
        v.set_attr("step", slow_step, indices=[2, 3])
        v.step_async(np.zeros(4, np.int64))
        with pytest.raises(TypeError, match="'NoneType' object is not callable") as raised:
            v.step_wait()
        assert "worker 0 failed on 'step'" in str(raised.value.__cause__)
        assert v.get_attr("size") == [10] * 4
        assert v.env_method("get_state", indices=[3])[0]["size"] == 10
    finally:
        v.close()


def test_a_step_two_workers_fail_raises_the_first_error():
    """Every failed worker is handled before the step raises, and it raises the error answered first."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        v.set_attr("step", None, indices=[0, 1])  # 'NoneType' object is not callable, at once
        v.set_attr("step", slow_raise, indices=[2, 3])  # a ValueError half a second later
        v.step_async(np.zeros(4, np.int64))
        with pytest.raises(TypeError, match="'NoneType' object is not callable") as raised:
            v.step_wait()
        assert "worker 0 failed on 'step'" in str(raised.value.__cause__)
        assert v.get_attr("size") == [10] * 4  # worker 1's late error was read too, not left for this call
    finally:
        v.close()


def test_a_games_error_in_a_worker_is_raised_as_itself():
    """env_method("set_state", {}) was the game's ValueError in process but a RuntimeError holding the
    worker's traceback with workers, so a caller catching ValueError caught it only with num_workers=0."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        with pytest.raises(ValueError, match="not a snake state") as raised:
            v.env_method("set_state", {}, indices=[3])
        assert "worker 1 failed on 'env_method'" in str(raised.value.__cause__)  # with the worker's traceback
        assert "Traceback" in str(raised.value.__cause__)
        assert v.env_method("get_state", indices=[3])[0]["size"] == 10  # the env answers on
    finally:
        v.close()


def test_a_workers_error_that_cannot_travel_comes_as_its_traceback():
    """An error the parent could not unpickle, sent as itself, failed the parent's recv (or, one that did not
    pickle, the worker's send): it comes as a RuntimeError holding the worker's traceback."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        v.set_attr("step", raise_unloadable, indices=[0, 1])
        with pytest.raises(RuntimeError, match=r"(?s)worker 0 failed on 'step'.*NeedsTwo: cannot travel"):
            v.step(np.zeros(4, np.int64))
        assert v.get_attr("size") == [10] * 4  # the env answers on
    finally:
        v.close()


def test_a_value_a_worker_cannot_load_is_refused_as_such_not_as_a_worker_death():
    """A command whose values the worker could not unpickle (an object of a class defined in a notebook or
    ``python -c``) killed the worker in its recv: it was restarted, died again on the resent command, and the
    call raised "worker 0 died with exit code 1 ... right after a restart", naming no value."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        v.step(np.zeros(4, np.int64))  # the last command the workers served before the refused ones
        pids = v.worker_pids()
        unloadable = r"(?s)could not load the values of 'set_attr'.*Can't get attribute"
        with pytest.raises(TypeError, match=unloadable):
            v.set_attr("note", LoadsNowhere())
        with pytest.raises(TypeError, match="could not load the values of 'env_method'") as raised:
            v.env_method("set_state", LoadsNowhere(), indices=[3])
        assert "worker 1 failed on 'env_method'" in str(raised.value.__cause__)
        assert v.worker_restarts == 0 and v.worker_pids() == pids
        assert v.get_attr("size") == [10] * 4  # the env answers on, each call its own answer
        assert [s["step"] for s in v.env_method("get_state")] == [1] * 4  # no command served again
        v.step(np.zeros(4, np.int64))
    finally:
        v.close()


def test_a_worker_killed_mid_step_reports_the_last_frames_the_env_returned(monkeypatch, tmp_path):
    """The cut boards' terminal_observation was copied from the shared observations after the death,
    which the worker may have half written."""
    from envs.snake import Snake

    # The death is the lost worker's alone (a crash, not a setting): its pid is in the file. Set through the
    # class before the workers fork; set_attr would hand it to the restarted worker too.
    doomed = tmp_path / "doomed_pid"
    observe = Snake.observe

    def scribble_and_die(self, out, indices=None):  # dies halfway through writing the shared observations
        if doomed.exists() and doomed.read_text() == str(os.getpid()):
            out[...] = 255
            os._exit(1)
        return observe(self, out, indices)

    monkeypatch.setattr(Snake, "observe", scribble_and_die)
    v = GameVecEnv("snake", 4, num_workers=2, seed=0, start_method="fork")
    try:
        last = v.reset().copy()
        doomed.write_text(str(v.worker_pids()[1]))
        v.step_async(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        obs, _, dones, infos = v.step_wait()
        assert v.worker_restarts == 1 and dones.tolist() == [False, False, True, True]
        for k in (2, 3):
            assert infos[k]["worker_restarted"]
            assert np.array_equal(infos[k]["terminal_observation"], last[k])
            assert not (obs[k] == 255).all()  # the new worker's boards
    finally:
        v.close()


def test_a_worker_dead_outside_a_step_is_restarted_and_the_call_answered():
    """env_method, get_attr, set_attr: a worker found dead is restarted and the call answered by the new
    one; its boards' cut episodes are reported at the next step. They raised WorkerDiedError even with
    on_worker_death="restart" (the Game Boy milestones' env_method at each rollout's end stopped training)."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        last = v.reset().copy()
        os.kill(v.worker_pids()[0], signal.SIGKILL)
        t = time.perf_counter()
        assert v.env_method("get_state", indices=[1])[0]["size"] == 10
        assert time.perf_counter() - t < 60 and v.worker_restarts == 1
        v.step_async(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        obs, rewards, dones, infos = v.step_wait()
        assert dones.tolist() == [True, True, False, False] and not rewards[:2].any()
        for k in (0, 1):
            info = infos[k]
            assert info["worker_restarted"] and info["TimeLimit.truncated"] and "episode" not in info
            assert np.array_equal(infos[k]["terminal_observation"], last[k])
            # The new boards, as they stood when the call was answered: board k's second episode.
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=k + 4)[0])
        v.step_async(np.zeros(4, np.int64))
        assert not v.step_wait()[2][:2].any()  # reported once
        for call in (lambda: v.get_attr("size") == [10] * 4, lambda: v.set_attr("starvation", 9) is None):
            os.kill(v.worker_pids()[1], signal.SIGKILL)
            assert call()
        assert v.worker_restarts == 3 and v.get_attr("starvation") == [9] * 4
        v.reset()  # every board starts anew: no cut episode to report after it
        v.step_async(np.zeros(4, np.int64))
        assert not any("worker_restarted" in info for info in v.step_wait()[3])
    finally:
        v.close()


def test_a_worker_dead_again_in_a_retried_call_has_its_cut_episodes_reported_once():
    """The retried env_method raised, yet the worker stayed marked as restarted: the next step reported its
    boards' cut episodes and found it dead, and the step after reported a second, one-step cut episode."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        last = v.reset().copy()
        v.set_attr("die", exit_at_once, indices=[0, 1])  # the restarted worker gets it too: it dies again
        with pytest.raises(WorkerDiedError, match=r"worker 0 .* right after a restart"):
            v.env_method("die", indices=[0])
        v.step_async(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        _, _, dones, infos = v.step_wait()
        assert dones.tolist() == [True, True, False, False] and v.worker_restarts == 2
        for k in (0, 1):
            assert infos[k]["worker_restarted"] and np.array_equal(infos[k]["terminal_observation"], last[k])
        for _ in range(2):
            v.step_async(np.zeros(4, np.int64))
            _, _, dones, infos = v.step_wait()
            assert not any("worker_restarted" in info for info in infos) and not dones[:2].any()
    finally:
        v.close()


def test_a_worker_restarted_before_the_first_reset_leaves_that_reset_its_seeds():
    """A worker found dead before any reset() is restarted with its boards started (their episodes counted):
    the first reset() still gives board k's first episode seed + k, as a GameEnv.reset(seed=seed + k)."""
    v = make_vec("snake", 4, num_workers=2, seed=7)
    try:
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        assert v.get_attr("size") == [10] * 4 and v.worker_restarts == 1
        obs = v.reset()
        for k in range(4):
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=7 + k)[0])
    finally:
        v.close()


def test_a_worker_dead_at_reset_is_restarted_and_resets_as_the_lost_one_would_have():
    killed = make_vec("snake", 4, num_workers=2, seed=5)
    twin = make_vec("snake", 4, num_workers=2, seed=5)
    try:
        for _ in range(2):  # the first reset applies the seed; the second goes on counting episodes
            os.kill(killed.worker_pids()[1], signal.SIGKILL)
            assert np.array_equal(killed.reset(), twin.reset())
            for _ in range(3):
                for v in (killed, twin):
                    v.step_async(np.zeros(4, np.int64))
                a, b = killed.step_wait(), twin.step_wait()
                assert np.array_equal(a[0], b[0]) and np.array_equal(a[2], b[2])  # no cut episode reported
        assert killed.worker_restarts == 2
    finally:
        killed.close()
        twin.close()


def test_a_worker_dead_halfway_through_a_reset_resets_as_the_lost_one_would_have(monkeypatch, tmp_path):
    """The lost worker had counted its boards' episodes (their seeds) when it died in the game's reset: the
    new worker must reset from the counts that reset started from, not from the next episodes' seeds."""
    from envs.snake import Snake

    doomed = tmp_path / "doomed_pid"  # the lost worker's death alone, as in the mid-step test above
    reset = Snake.reset

    def die_in_reset(self, indices, seeds):
        if doomed.exists() and doomed.read_text() == str(os.getpid()):
            os._exit(1)
        return reset(self, indices, seeds)

    monkeypatch.setattr(Snake, "reset", die_in_reset)
    killed = GameVecEnv("snake", 4, num_workers=2, seed=5, start_method="fork")
    twin = make_vec("snake", 4, num_workers=0, seed=5)
    try:
        for restarts in (1, 2):  # the first reset applies the seed; the second goes on counting episodes
            doomed.write_text(str(killed.worker_pids()[1]))
            assert np.array_equal(killed.reset(), twin.reset())
            assert killed.worker_restarts == restarts
    finally:
        killed.close()
        twin.close()


def test_a_worker_dead_at_a_reseeded_reset_after_ended_episodes_resets_as_the_lost_one_would_have():
    """seed() then reset() once boards had ended episodes: a worker found dead at that reset must reset its
    boards from the counts the reset zeroed (seed + k), not from the episode counts before it."""
    killed = make_vec("snake", 4, num_workers=2, seed=5, starvation=3)
    twin = make_vec("snake", 4, num_workers=0, seed=5, starvation=3)
    try:
        for v in (killed, twin):
            v.reset()
            for _ in range(8):  # starvation=3: each board ends episodes, so its count of them grows
                v.step(np.zeros(4, np.int64))
            v.seed(9)
        os.kill(killed.worker_pids()[1], signal.SIGKILL)
        obs = killed.reset()
        assert killed.worker_restarts == 1
        assert np.array_equal(obs, twin.reset())
        for k in range(4):
            assert np.array_equal(obs[k], GameEnv("snake", starvation=3).reset(seed=9 + k)[0])
    finally:
        killed.close()
        twin.close()


def test_a_worker_that_dies_again_in_its_retried_reset_raises_naming_it():
    """A worker found dead at reset() is restarted and the reset sent again; one that dies again there
    raises (as every retried command does) instead of being restarted for ever."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.set_attr("reset", exit_at_once, indices=[2, 3])  # the restarted worker's game gets it too
        with pytest.raises(WorkerDiedError, match=r"^worker 1 \(pid \d+, envs 2-3\) died with exit code 3 "
                                                  r"during 'reset' right after a restart$"):
            v.reset()
        assert v.worker_restarts == 1
    finally:
        v.close()


def test_seed_without_a_seed_draws_one_as_sb3_does():
    """seed() returned [None, ...] and changed nothing, where SB3's VecEnv.seed(None) draws a seed."""
    v = make_vec("snake", 3, num_workers=0)
    state = np.random.get_state()
    try:
        v.reset()
        np.random.seed(7)
        seeds = v.seed()
        np.random.seed(7)
        assert seeds == v.seed() and all(isinstance(s, int) for s in seeds)
        assert seeds == [seeds[0] + k for k in range(3)]
        obs = v.reset()
        for k in range(3):
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=seeds[k])[0])
        np.random.seed(8)  # drawn from the global generator: another state, another seed
        assert v.seed() != seeds
    finally:
        np.random.set_state(state)
        v.close()


def test_a_worker_dying_while_starting_names_its_exit_code(monkeypatch):
    """The message was built before the process was reaped: 'died while starting (exit code None)'. The
    worker closes its pipe 0.3 s before it exits, so the parent always reads the closed pipe first."""
    import envs.vector
    from envs.vector import GameVecEnv
    from tests.envs.worker_calls import exit_after_closing_the_pipe

    # "fork" carries the patch into the child
    monkeypatch.setattr(envs.vector, "worker_main", exit_after_closing_the_pipe)
    with pytest.raises(WorkerDiedError, match=r"worker 0 died while starting \(exit code 3\)"):
        GameVecEnv("snake", num_envs=4, num_workers=2, start_method="fork")


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_a_script_without_the_main_guard_is_told_to_add_it(tmp_path, start_method):
    """Each worker runs the main script again while it starts; without the guard that code made an env with
    workers itself, and the error said only "worker 0 died while starting (exit code 1)"."""
    script = tmp_path / "unguarded.py"
    script.write_text("from envs.vector import GameVecEnv\n"
                      f"env = GameVecEnv('snake', 2, num_workers=1, start_method={start_method!r})\n"
                      "print('made')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 1 and done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("envs.vector.WorkerDiedError: worker 0 died while starting: the script that made "
                           'this env lacks `if __name__ == "__main__":`'), done.stderr


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_a_script_read_from_stdin_starts_its_workers(tmp_path, start_method):
    """``python - <<EOF`` (or ``python < script.py``) names its main script ``<stdin>``, a file the workers
    cannot run again: each died with FileNotFoundError, and the env said only "worker 0 died while starting
    (exit code 1)". The workers need nothing from the main script, so they start without it."""
    script = ("import numpy as np\n"
              "from envs.vector import GameVecEnv\n"
              f"env = GameVecEnv('snake', 2, num_workers=1, start_method={start_method!r})\n"
              "env.reset()\n"
              "env.step(np.zeros(2, dtype=int))\n"
              "env.close()\n"
              "print('stepped')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0 and done.stdout == "stepped\n", done.stderr


def _stop(pid: int) -> None:
    """Stop process ``pid`` (SIGSTOP): alive, yet it never answers, as a hung worker."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the signal is delivered a moment later
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop")


@pytest.mark.parametrize("mode", ["restart", "raise"])
def test_a_hung_worker_is_killed_and_treated_as_dead(mode):
    """A worker alive but silent (stuck in an emulator's C loop; here stopped with SIGSTOP) stalled the env
    forever: only dead workers were noticed."""
    from envs.vector import GameVecEnv

    v = GameVecEnv("snake", num_envs=4, num_workers=2, seed=0, on_worker_death=mode)
    try:
        v.reset()  # a worker's first calls load its Numba kernels: seconds on a busy machine
        v.step_async(np.zeros(4, np.int64))
        v.step_wait()
        v.env_method("get_state", indices=[0, 3])
        last = v.reset().copy()
        v.hang_timeout_s = 1.0
        pid = v.worker_pids()[1]
        _stop(pid)
        v.step_async(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        t = time.perf_counter()
        if mode == "raise":
            with pytest.raises(WorkerDiedError, match=r"worker 1 \(pid \d+, envs 2-3\) hung: no answer to "
                                                      r"'step' for 1 s, so it was killed"):
                v.step_wait()
        else:
            _, _, dones, infos = v.step_wait()
            assert v.worker_restarts == 1 and dones.tolist() == [False, False, True, True]
            for k in (2, 3):
                assert infos[k]["worker_restarted"] and "episode" not in infos[k]
                assert np.array_equal(infos[k]["terminal_observation"], last[k])
            assert v.worker_pids()[1] != pid
        assert 1.0 <= time.perf_counter() - t < 30
        assert not os.path.exists(f"/proc/{pid}")  # killed (SIGKILL reaches a stopped process) and reaped
        if mode == "restart":  # outside a step too: killed, restarted, the call answered by the new worker
            _stop(v.worker_pids()[0])
            assert v.env_method("get_state", indices=[1])[0]["size"] == 10
            assert v.worker_restarts == 2
            v.step_async(np.zeros(4, np.int64))
            assert v.step_wait()[2].tolist() == [True, True, False, False]  # the cut boards, reported once
    finally:
        v.close()


def test_a_command_longer_than_a_poll_is_waited_for_with_the_watchdog_off():
    """hang_timeout_s=None turns the watchdog off: a command answered after several quarter-second polls is
    waited for, with no timeout to count the silent polls against."""
    v = GameVecEnv("snake", 4, num_workers=2, seed=0, hang_timeout_s=None)
    try:
        v.reset()
        v.set_attr("step", slow_step, indices=[2, 3])  # half a second: two polls without an answer
        _, _, dones, _ = v.step(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        assert not dones.any() and v.worker_restarts == 0
    finally:
        v.close()


def test_a_worker_shows_no_warning_its_game_gave_the_parent_already(monkeypatch, tmp_path):
    """The parent makes the game first (the probe) and shows its warnings (an unknown ROM allowed...): each
    worker making the same game, at its start and at every restart, would show them again."""
    import warnings

    import envs.worker

    real, shown = envs.worker.make_game, tmp_path / "shown"
    said = "an unknown ROM, as --allow-unknown-rom asks"

    def warning_make_game(*args, **kwargs):
        warnings.warn(said, UserWarning, stacklevel=2)
        return real(*args, **kwargs)

    def show(message: Warning | str, *args, **kwargs) -> None:
        # The game's warning alone: from Python 3.12 the parent's own fork (the restart) warns that the
        # process is multi-threaded (a test process has pytest-xdist's I/O thread or faulthandler's watchdog).
        if str(message) == said:
            touch(shown)

    # Seen however it is shown (pytest records the test's own warnings: a worker's would vanish there).
    monkeypatch.setattr(warnings, "showwarning", show)
    monkeypatch.setattr(envs.worker, "make_game", warning_make_game)  # the workers' alone; "fork" carries it
    v = GameVecEnv("snake", 2, num_workers=1, seed=0, start_method="fork")
    try:
        v.reset()
        os.kill(v.worker_pids()[0], signal.SIGKILL)
        v.step(np.zeros(2, np.int64))
        assert v.worker_restarts == 1  # the new worker made its game again
    finally:
        v.close()
    assert not shown.exists()


def test_a_game_that_fails_to_start_in_a_worker_raises_its_error_naming_the_worker(monkeypatch):
    """A worker whose game fails to start (a ROM or an archive the worker cannot open) has the constructor
    raise the game's error as itself, naming the worker, and leave no worker running."""
    import multiprocessing

    import envs.worker

    def refuse(*args, **kwargs):
        raise ValueError("no such cartridge")

    # The workers' make_game only: the parent's probe game is envs.vector's. "fork" carries the patch over.
    monkeypatch.setattr(envs.worker, "make_game", refuse)
    before = set(multiprocessing.active_children())
    with pytest.raises(ValueError, match=r"^no such cartridge$") as raised:
        GameVecEnv("snake", 4, num_workers=2, seed=0, start_method="fork")
    assert str(raised.value.__cause__).startswith("worker 0 failed to start 'snake':\nTraceback")
    assert set(multiprocessing.active_children()) == before


def test_a_worker_that_does_not_start_in_time_is_killed_and_named(monkeypatch):
    """A worker that never answers its start (an emulator stuck booting) is killed, and the error names it;
    the constructor leaves no process behind. Spawned, a worker needs far more than 10 ms to import."""
    import multiprocessing

    import envs.vector
    from envs.vector import GameVecEnv

    monkeypatch.setattr(envs.vector, "_START_TIMEOUT_S", 0.01)
    before = set(multiprocessing.active_children())
    with pytest.raises(WorkerDiedError, match=r"^worker 0 did not start within 0s$"):
        GameVecEnv("snake", num_envs=2, num_workers=2, seed=0, start_method="spawn")
    assert set(multiprocessing.active_children()) == before  # killed and reaped, both


def test_a_restarted_worker_that_does_not_start_in_time_is_killed_at_once(monkeypatch):
    """The restart's worker that never answers its start is killed when the error is raised, not left
    running (an emulator stuck booting, holding its memory and a core) until the env is closed."""
    import envs.vector

    v = GameVecEnv("snake", 4, num_workers=2, seed=0, start_method="spawn")
    try:
        v.reset()
        monkeypatch.setattr(envs.vector, "_START_TIMEOUT_S", 0.01)  # spawned: no worker starts that fast
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        with pytest.raises(WorkerDiedError, match=r"^worker 1 did not start within 0s$"):
            v.step(np.zeros(4, np.int64))
        new = v._procs[1]
        new.join(10)
        assert new.exitcode == -signal.SIGKILL
    finally:
        v.close()


def test_hang_timeout_is_checked():
    from envs.vector import HANG_TIMEOUT_S, GameVecEnv

    assert HANG_TIMEOUT_S >= 600  # far above any legitimate command (see its comment)
    # True was taken for 1 s, and "600" (a config's string) was a bare TypeError from the comparison.
    for bad in (0, -1.0, float("nan"), float("inf"), True, "600"):
        kind = "seconds > 0 or None" if bad in (0, -1.0) else "a finite number"
        with pytest.raises(ValueError, match=f"^hang_timeout_s must be {kind}, got {re.escape(repr(bad))}$"):
            GameVecEnv("snake", num_envs=2, num_workers=0, hang_timeout_s=bad)
    v = GameVecEnv("snake", num_envs=2, num_workers=0, hang_timeout_s=None)  # never
    v.close()


def test_close_stops_a_hung_worker(monkeypatch):
    """A worker stopped (or deaf to SIGTERM) outlived close(), and the interpreter's exit then waited for it
    forever (multiprocessing joins its daemon children after terminating them)."""
    import envs.vector

    # The stopped worker waits out both graces: 3 s of the test's time at their real lengths.
    monkeypatch.setattr(envs.vector, "_CLOSE_GRACE_S", 0.2)
    monkeypatch.setattr(envs.vector, "_TERM_GRACE_S", 0.1)
    v = make_vec("snake", 4, num_workers=2, seed=0)
    v.reset()
    pid = v.worker_pids()[1]
    _stop(pid)
    v.close()
    assert not os.path.exists(f"/proc/{pid}")


def test_close_has_each_worker_close_its_game(tmp_path, monkeypatch):
    """close() asks each worker to close its game (a Game Boy's emulators stop cleanly) before it exits; a
    worker that is only terminated never closes it. A close that takes a while gets _CLOSE_GRACE_S, not
    the grace after SIGTERM."""
    import envs.vector

    monkeypatch.setattr(envs.vector, "_TERM_GRACE_S", 0.01)
    v = make_vec("snake", 4, num_workers=2, seed=0)
    v.reset()
    for w, indices in enumerate(([0, 1], [2, 3])):
        v.set_attr("close", functools.partial(touch, tmp_path / f"closed{w}", 0.3), indices=indices)
    v.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["closed0", "closed1"]


def test_close_releases_the_workers_descriptors_while_the_env_is_still_referenced():
    """A closed env kept alive (SB3's model.env after learn) held its pipes and process handles until it was
    collected: about three descriptors a worker, so a loop of training runs ran out of them."""
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    make_vec("snake", 4, num_workers=2, seed=0).close()  # the fork server and its descriptors exist now
    before = open_fds()
    kept = []
    for _ in range(4):
        v = make_vec("snake", 4, num_workers=2, seed=0)
        v.reset()
        v.close()
        kept.append(v)
        assert v.worker_pids() == []
    # What may grow: multiprocessing's shared-memory arenas (two descriptors each, in doubling sizes) for the
    # step buffers the kept envs still hold. The workers' pipes and handles took about six an env.
    assert open_fds() - before < 2 * len(kept)


@pytest.mark.parametrize("workers", [0, 1])
@pytest.mark.parametrize("copy_env", [pickle.dumps, copy.deepcopy, copy.copy])
def test_pickling_or_copying_the_env_is_refused_saying_what_to_do_instead(workers, copy_env):
    """Pickle named an object of the env's own ('Can't pickle <function <lambda>>: attribute lookup <lambda>
    on __main__ failed', a lambda no user wrote), deepcopy its shared memory ('cannot pickle mmap.mmap'), and
    copy.copy gave a second env sharing the workers that either one's close() stopped."""
    venv = make_vec("snake", 2, num_workers=workers, seed=0)
    try:
        refused = r"^a GameVecEnv \('snake'\) cannot be pickled or copied: .*make_vec"
        with pytest.raises(TypeError, match=refused):
            copy_env(venv)
        venv.reset()  # still whole
    finally:
        venv.close()


def test_a_worker_restarted_after_the_parent_changed_folder_works_in_the_envs_folder(tmp_path, monkeypatch):
    """Relative paths are read from the folder the env was made in, by a restarted worker too (it started in
    the parent's folder of the moment): its game's close leaves a relative file in the env's folder."""
    made, moved = tmp_path / "made", tmp_path / "moved"
    made.mkdir(), moved.mkdir()
    monkeypatch.chdir(made)
    v = make_vec("snake", 2, num_workers=1)
    try:
        v.reset()
        monkeypatch.chdir(moved)
        v.set_attr("close", functools.partial(touch, Path("closed")))  # a restarted worker's game gets it
        os.kill(v.worker_pids()[0], signal.SIGKILL)
        v.step(np.zeros(2, dtype=np.int64))
        assert v.worker_restarts == 1
    finally:
        v.close()
    assert (made / "closed").exists() and not (moved / "closed").exists()


def test_a_step_that_raises_still_reports_another_workers_cut_episodes():
    """Worker 0 fails a step while worker 1 dies in it: the error was raised and worker 1 restarted, but its
    boards' cut episodes were never reported (and their returns ran on into the new episodes')."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()
        v.step_async(np.array([3, 3, 3, 3]))  # RIGHT: one step into every episode, a reward for none
        last = v.step_wait()[0].copy()
        starvation = v.get_attr("_starvation", indices=[0])[0]
        v.set_attr("_starvation", "never", indices=[0, 1])  # Numba refuses it before any board moves
        os.kill(v.worker_pids()[1], signal.SIGKILL)  # found dead in the step that worker 0 fails
        v.step_async(np.zeros(4, np.int64))
        with pytest.raises(TypingError) as raised:
            v.step_wait()
        assert "worker 0 failed on 'step'" in str(raised.value.__cause__)
        assert v.worker_restarts == 1
        v.set_attr("_starvation", starvation, indices=[0, 1])
        v.step_async(np.zeros(4, np.int64))  # UP: no episode of worker 0 ends
        _, _, dones, infos = v.step_wait()
        assert dones.tolist() == [False, False, True, True]
        for k in (2, 3):
            assert infos[k]["worker_restarted"] and "episode" not in infos[k]
            assert np.array_equal(infos[k]["terminal_observation"], last[k])
        for _ in range(3):
            v.step_async(np.zeros(4, np.int64))
            _, _, dones, _ = v.step_wait()
            assert not dones[2:].any()  # reported once
    finally:
        v.close()


def test_reset_options_are_refused_not_ignored():
    from stable_baselines3.common.vec_env import VecFrameStack

    v = make_vec("snake", 2)
    try:
        v.set_options(None)  # none, empty or a list of empty ones: nothing to apply
        v.set_options({})
        v.set_options([{}, {}])
        assert v.reset().shape == (2, *v.observation_space.shape)
        for options in ({"size": 6}, [{}, {"size": 6}]):
            with pytest.raises(ValueError, match=r"takes no reset options.*game_kwargs"):
                v.set_options(options)
        with pytest.raises(ValueError, match="takes no reset options"):  # through SB3's wrappers too
            VecFrameStack(v, 2).set_options({"size": 6})
        for options in (5, 1.5, True, 0):  # a bare "'int' object is not iterable" TypeError; 0 passed
            with pytest.raises(ValueError, match=r"takes no reset options"):
                v.set_options(options)
    finally:
        v.close()


def test_set_attrs_raises_for_a_value_no_order_takes():
    """A restarted worker's game takes set_attr's values in any order that works; a value that none takes
    raises its ValueError (after the others are set) instead of retrying for ever."""
    game = make_game("snake_duel", num_envs=1)
    with pytest.raises(ValueError, match=r"^max_rounds must be"):
        set_attrs(game, {"max_rounds": 0, "win_reward": 2.0})
    assert game.win_reward == 2.0 and game.max_rounds == 100


def test_set_attr_refuses_a_value_one_workers_game_refuses_on_every_worker():
    """A value worker 0's game takes but worker 1's refuses (win_reward within float32 together with the
    apple_reward set on worker 1 alone) is set on none: every worker's game is asked before any sets it."""
    v = make_vec("snake_duel", 4, num_workers=2)
    try:
        v.reset()
        v.set_attr("apple_reward", 3e38, indices=[2, 3])
        with pytest.raises(ValueError, match="win_reward"):
            v.set_attr("win_reward", 3e38)
        assert v.get_attr("win_reward") == [1.0] * 4
    finally:
        v.close()


def test_each_steps_infos_list_is_its_own():
    """A step's infos list is not filled in later: the boards still playing share empty dicts from step to
    step, but a step in which no episode ended keeps its list as returned when a later one ends some."""
    v = make_vec("snake", 4, num_workers=0, seed=0)
    try:
        v.reset()
        rng = np.random.default_rng(0)
        quiet = None  # the infos of the last step in which no episode ended
        for _ in range(1000):
            v.step_async(rng.integers(0, 4, 4))
            _, _, dones, infos = v.step_wait()
            if dones.any() and quiet is not None:
                break
            if not dones.any():
                quiet = infos
        assert dones.any() and quiet == [{}] * 4
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_set_attr_on_part_of_a_shared_game_is_refused(workers):
    """Boards of one worker share a game: setting an attribute for one of them set it for its neighbours
    too (for every env in process), unlike SB3's VecEnvs, where each env has its own."""
    v = make_vec("snake", 4, num_workers=workers)
    try:
        v.reset()
        share = ("envs 0-3: all envs share one game (num_workers=0)" if workers == 0 else
                 "envs 0-1: envs 0-1 share one game (worker 0)")
        refused = "^" + re.escape(f"set_attr('starvation') for some of {share}, so it is set for all of them "
                                  "or none; give indices=None or whole workers' envs") + "$"
        with pytest.raises(ValueError, match=refused):
            v.set_attr("starvation", 7, indices=[0])
        with pytest.raises(ValueError, match=refused):  # a repeated index is still one board
            v.set_attr("starvation", 7, indices=[0, 0, 0, 0] if workers == 0 else [0, 0])
        assert v.get_attr("starvation") == [200] * 4  # refused before anything was set
        v.set_attr("starvation", 9)
        assert v.get_attr("starvation") == [9] * 4
    finally:
        v.close()


def test_set_attr_refuses_a_bad_setting_from_the_workers_as_a_value_error():
    """A worker's refusal reaches the parent as the game's own ValueError, and no worker keeps the value
    (nor does a restarted one get it)."""
    v = make_vec("snake", 4, num_workers=2)
    try:
        v.reset()
        with pytest.raises(ValueError, match=r"^starvation must be >= 1, got 0$"):
            v.set_attr("starvation", 0)
        assert v.get_attr("starvation") == [200] * 4
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        v.step(np.zeros(4, dtype=np.int64))  # worker 1 restarted: by the game's own settings
        assert v.get_attr("starvation") == [200] * 4
    finally:
        v.close()


def test_sb3s_video_recorder_finds_the_games_frame_rate():
    """VecVideoRecorder takes a GameVecEnv's metadata as it is (DummyVecEnv's it asks its first env for):
    without render_fps its videos ran at 30 frames/s, three times the single env's rate."""
    v = make_vec("snake", 2)
    try:
        assert v.metadata["render_fps"] == GameEnv.metadata["render_fps"] == 10
        assert v.metadata["render_modes"] == ["human", "rgb_array"] and v.render_mode == "rgb_array"
    finally:
        v.close()


def test_a_single_env_refuses_reset_options_too():
    """SB3's DummyVecEnv hands set_options' options to GameEnv.reset, which ignored them."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    env = GameEnv("snake")
    assert env.reset(seed=1, options={})[0].shape == env.observation_space.shape
    with pytest.raises(ValueError, match=r"reset\(\) takes no options, got \['size'\]"):
        env.reset(options={"size": 6})
    d = DummyVecEnv([lambda: GameEnv("snake")])
    d.set_options({"size": 6})
    with pytest.raises(ValueError, match="takes no options"):
        d.reset()


def test_an_in_process_env_starts_no_process():
    """W=0 steps in this process: it started multiprocessing's fork server all the same, an idle child."""
    code = ("import os; from envs import make_vec; v = make_vec('snake', 2, num_workers=0); v.reset(); "
            "print(open(f'/proc/self/task/{os.getpid()}/children').read().split()); v.close()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP], ids=["ctrl-c", "closed-terminal"])
def test_a_stop_signal_to_the_process_group_leaves_the_workers_running(sig):
    """A Ctrl-C reaches every process of the terminal's group, as does the SIGHUP a shell passes on to its
    jobs when its terminal closes; the training process decides what to save and when to stop. A worker
    that took the Ctrl-C as a KeyboardInterrupt left its loop and exited (SIGHUP killed it): restarted, its
    boards' episodes cut. (The fork server ignores SIGINT, so its workers inherit that; forked straight
    from this process, they inherit its handler: the worker itself must ignore them.)"""
    # Forked with the signal ignored here (pytest run as a background job, or under nohup) the workers would
    # pass without ignoring it themselves: they fork with the handler a terminal's program has.
    previous = signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    try:
        v = GameVecEnv("snake", 4, num_workers=2, seed=0, start_method="fork")
    finally:
        signal.signal(sig, previous)
    try:
        v.reset()
        pids = v.worker_pids()
        for pid in pids:
            os.kill(pid, sig)
        time.sleep(0.3)  # delivered while the workers wait for a command
        v.step_async(np.zeros(4, np.int64))  # UP: no board's episode ends in this first step
        _, _, dones, _ = v.step_wait()
        assert v.worker_restarts == 0 and v.worker_pids() == pids and not dones.any()
    finally:
        v.close()


def test_a_seed_given_to_reset_holds_for_later_resets_and_restarted_workers():
    """seed(50) then reset(): a worker restarted later seeded its new boards from the seed the env was made
    with, and each reset() that follows goes on counting episodes (it does not replay the seeded ones)."""
    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.seed(50)
        v.reset()  # board k's episode 0: seed 50 + k
        obs = v.reset()  # episode 1: 50 + k + 4
        for k in range(4):
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=54 + k)[0])
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        v.step_async(np.zeros(4, np.int64))
        obs, _, _, infos = v.step_wait()
        assert v.worker_restarts == 1 and infos[2]["worker_restarted"] and infos[3]["worker_restarted"]
        for k in (2, 3):  # the new worker's boards: episode 2
            assert np.array_equal(obs[k], GameEnv("snake").reset(seed=58 + k)[0])
    finally:
        v.close()


def test_reset_starts_the_monitor_counts_anew_and_steps_return_arrays_of_their_own():
    """A reset() in mid-episode (as evaluate_policy does) kept the steps and rewards played before it in
    the next episode's ``episode`` r and l. And a step's observations and rewards must not change at later
    steps (SB3's VecEnvs hand out copies; a caller keeps them)."""
    v = make_vec("sokoban", 2, num_workers=0, seed=0, difficulty="easy", max_steps=4)
    try:
        v.reset()
        for _ in range(3):
            v.step(np.zeros(2, np.int64))
        v.reset()
        for _ in range(4):
            _, _, dones, infos = v.step(np.zeros(2, np.int64))
        assert dones.all()  # truncated at 4 steps: every step cost 0.1
        for info in infos:
            assert info["episode"]["l"] == 4 and info["episode"]["r"] == pytest.approx(-0.4)
        kept = []
        rng = np.random.default_rng(0)
        for _ in range(40):
            obs, rewards, _, _ = v.step(rng.integers(0, 4, 2))
            kept.append((obs, obs.copy(), rewards, rewards.copy()))
        assert len({float(r) for _, _, rewards, _ in kept for r in rewards}) > 1
        for obs, obs_then, rewards, rewards_then in kept:
            assert np.array_equal(obs, obs_then) and np.array_equal(rewards, rewards_then)
    finally:
        v.close()


_GRANDCHILDREN: Path | None = None  # where each forked worker's grandchild writes its pid


def _worker_with_a_grandchild(*args) -> None:
    """A worker that first forks a child of its own: the child holds the worker's pipe open past its death."""
    from envs.worker import worker_main  # the real one: envs.vector's is this function in the test

    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    with open(_GRANDCHILDREN, "a") as f:
        f.write(f"{pid}\n")
    worker_main(*args)


def test_a_dead_worker_whose_pipe_a_child_still_holds_is_noticed(monkeypatch, tmp_path):
    """A dead worker is found by its pipe closing, unless a process it forked still holds the pipe: then
    only ``is_alive()`` tells, within a second, and not as a hang after ``hang_timeout_s``."""
    import envs.vector

    global _GRANDCHILDREN
    _GRANDCHILDREN = tmp_path / "grandchildren"
    monkeypatch.setattr(envs.vector, "worker_main", _worker_with_a_grandchild)  # "fork" carries it over
    v = GameVecEnv("snake", num_envs=4, num_workers=2, seed=0, start_method="fork",
                   on_worker_death="raise", hang_timeout_s=30.0)
    try:
        v.reset()
        os.kill(v.worker_pids()[1], signal.SIGKILL)
        t = time.perf_counter()
        with pytest.raises(WorkerDiedError, match=r"worker 1 \(pid \d+, envs 2-3\) died with exit code -9"):
            v.step_async(np.zeros(4, np.int64))
            v.step_wait()
        assert time.perf_counter() - t < 1.5  # within a second, as promised: polled every quarter second
    finally:
        v.close()
        for pid in _GRANDCHILDREN.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def test_a_call_an_interrupt_cut_short_leaves_no_reply_for_the_next(monkeypatch):
    """A Ctrl-C while the workers step (a notebook's interrupted ``model.learn``, then ``evaluate_policy``):
    their replies stayed in the pipes and every later call read the answer to the call before it
    (get_attr("size") answered the step's counts of ended episodes, reset() returned before the boards
    were reset)."""
    import envs.vector

    v = make_vec("snake", 4, num_workers=2, seed=0)
    try:
        v.reset()

        def interrupted(*args, **kwargs):  # where the parent waits, so where a Ctrl-C lands
            raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(envs.vector, "wait", interrupted)
            v.step_async(np.zeros(4, np.int64))
            with pytest.raises(KeyboardInterrupt):
                v.step_wait()
        assert v.get_attr("size") == [10] * 4
        assert v.env_method("get_state", indices=[3])[0]["size"] == 10
        obs = v.reset()
        v.step_async(np.zeros(4, np.int64))
        dones = v.step_wait()[2]
        assert obs.any() and not dones.any() and v.worker_restarts == 0
    finally:
        v.close()


@pytest.mark.parametrize("where", ["wait", "observe", "reset"])
def test_an_interrupted_step_leaves_the_next_episodes_r_and_l_their_own(monkeypatch, where):
    """A Ctrl-C once the boards had stepped (and restarted the ended ones) left their running totals to
    the parent, which zeroed them only on reading the step it gave up: stepping on without reset(), those
    boards' next ``l`` (and ``r``) held the lost episode's part, and the other boards' the lost step short.
    Each ``l`` must be the steps its episode played, the interrupted step counted. ``where`` the Ctrl-C
    comes: in the parent's wait for two workers, or in process in the game's drawing after the ended
    boards restarted, or inside their reset (the totals are zeroed before it)."""
    import envs.vector

    workers = 2 if where == "wait" else 0
    v = make_vec("snake", 8, num_workers=workers, seed=0)
    real_wait = envs.vector.wait

    def interrupt_once_restarted(m: pytest.MonkeyPatch, before: np.ndarray) -> None:
        if workers:  # where the parent waits, once the workers have stepped
            def wait(conns, timeout=None):
                # Every worker has stepped (its reply is in its pipe), not a fixed 0.3 s: a worker starved
                # longer on a busy box went on stepping after the interrupt, past the counts read below.
                for conn in conns:
                    real_wait([conn])
                if (v._shared.episodes != before).any():
                    raise KeyboardInterrupt
                return real_wait(conns, timeout)
            m.setattr(envs.vector, "wait", wait)
        else:  # in the game's drawing after the ended boards restarted, or at the end of their reset
            game = v._local.game
            real_reset = game.reset

            def interrupted(*args, **kwargs):
                raise KeyboardInterrupt

            def reset(*args, **kwargs):
                real_reset(*args, **kwargs)
                if where == "reset":
                    raise KeyboardInterrupt
                m.setattr(game, "observe", interrupted)
            m.setattr(game, "reset", reset)

    try:
        v.reset()
        rng = np.random.default_rng(0)
        played = np.zeros(8, np.int64)  # steps each board's running episode has taken
        interrupted = reported = 0
        for t in range(300):
            before = v._shared.episodes.copy()
            with monkeypatch.context() as m:
                if not interrupted and t >= 2:
                    interrupt_once_restarted(m, before)
                v.step_async(rng.integers(0, 4, 8))
                try:
                    _, _, dones, infos = v.step_wait()
                except KeyboardInterrupt:
                    interrupted += 1
                    played += 1
                    played[v._shared.episodes != before] = 0
                    continue
            played += 1
            for k in np.flatnonzero(dones):
                assert infos[k]["episode"]["l"] == played[k], (k, infos[k]["episode"], played[k])
                reported += 1
            played[dones] = 0
        assert interrupted == 1 and reported > 50
    finally:
        v.close()


def _ctrl_c() -> None:
    """A Ctrl-C as the terminal sends it: SIGINT, whose handler runs at the next bytecode."""
    os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt, as in a terminal (a shell without job control starts the tests with
    it ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("where", ["step", "episode_infos"])
def test_a_ctrl_c_in_an_in_process_step_waits_for_the_step_to_finish(monkeypatch, ctrl_c_raises, where):
    """With num_workers=0 a Ctrl-C once the game's kernel had stepped (in ``step`` or in the ended boards'
    figures) left the step half done: the ended board never restarted (0 and neither flag for ever) and
    the others' running totals missed the step. Held until the step is done, as a worker finishes it, the
    env steps on exactly as one never interrupted; only the interrupted step's answer is lost."""
    v, twin = make_vec("snake", 8, num_workers=0, seed=0), make_vec("snake", 8, num_workers=0, seed=0)
    game = v._local.game
    real = getattr(game, where)
    armed = [True]

    def interrupted(*args, **kwargs):
        out = real(*args, **kwargs)
        if armed[0] and (where == "episode_infos" or (out[1] | out[2]).any()):  # a step that ends an episode
            armed[0] = False
            _ctrl_c()
        return out

    try:
        v.reset(), twin.reset()
        rng = np.random.default_rng(0)
        monkeypatch.setattr(game, where, interrupted)
        interrupts = 0
        for _ in range(200):
            actions = rng.integers(0, 4, 8)
            for env in (v, twin):
                env.step_async(actions)
            expected = twin.step_wait()
            try:
                got = v.step_wait()
            except KeyboardInterrupt:
                assert not armed[0]
                interrupts += 1
                continue
            assert all(np.array_equal(a, b) for a, b in zip(got[:3], expected[:3], strict=True))
            episodes = [[untimed(i.get("episode")) for i in out[3]] for out in (got, expected)]
            assert episodes[0] == episodes[1]
        assert interrupts == 1 and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        v.close()
        twin.close()


def test_a_second_ctrl_c_stops_an_in_process_step_at_once(monkeypatch, ctrl_c_raises):
    """A step that never returns is still stopped: the second Ctrl-C raises where it lands, delivered to the
    program's handler once (the held first is not delivered again as the step unwinds)."""
    calls = []

    def stop(signum, frame):
        calls.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    v = make_vec("snake", 4, num_workers=0, seed=0)

    went_on = []

    def never_returns(actions):
        _ctrl_c()
        _ctrl_c()
        # Recorded, not only raised: the held first Ctrl-C, delivered as the step unwinds, replaces the error.
        went_on.append(True)
        raise AssertionError("the second Ctrl-C did not stop the step")

    try:
        v.reset()
        before = v.env_method("get_state")
        monkeypatch.setattr(v._local.game, "step", never_returns)
        v.step_async(np.zeros(4, np.int64))
        with pytest.raises(KeyboardInterrupt):
            v.step_wait()
        assert v.env_method("get_state") == before  # not stepped: stopped where the Ctrl-C landed
        assert signal.getsignal(signal.SIGINT) is stop and calls == [signal.SIGINT] and not went_on
    finally:
        v.close()


def test_an_in_process_step_off_the_main_thread_or_with_ctrl_c_ignored_runs_as_it_is(monkeypatch,
                                                                                     ctrl_c_raises):
    """The hold swaps the SIGINT handler, which only the main thread may do, and only over one that raises:
    a step from another thread ran, and with SIGINT ignored (nohup, a background job) a Ctrl-C is ignored."""
    import threading

    v = make_vec("snake", 4, num_workers=0, seed=0)
    try:
        v.reset()
        stepped = []
        thread = threading.Thread(target=lambda: stepped.append(v.step(np.zeros(4, np.int64))))
        thread.start()
        thread.join()
        assert len(stepped) == 1
        real = v._local.game.step

        def interrupted(actions):
            _ctrl_c()
            return real(actions)

        monkeypatch.setattr(v._local.game, "step", interrupted)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        obs, *_ = v.step(np.zeros(4, np.int64))
        assert obs.shape[0] == 4 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        v.close()


@pytest.mark.parametrize("fails", ["reset", "reset and close", "make_game"])
def test_a_worker_whose_start_fails_after_its_game_was_made_closes_the_game(monkeypatch, fails):
    """A worker whose game was made but whose start then failed (a restarted Game Boy worker's reset finding
    its archive damaged, say) answered the error and exited with the game's emulators never stopped, where
    the "close" command stops them first. The start's error is the one answered, whether close() fails
    too or there was no game to close."""
    import multiprocessing as mp

    import envs.worker
    from envs.worker import Shared, _serve

    closed = []
    real_make_game = envs.worker.make_game

    def make_game(*args, **kwargs):
        if fails == "make_game":
            raise ValueError("the start failed")
        game = real_make_game(*args, **kwargs)
        real_close = game.close

        def close():
            closed.append(True)
            real_close()
            if fails == "reset and close":
                raise RuntimeError("close failed too")
        monkeypatch.setattr(game, "close", close)
        return game

    def failing_reset(self):
        raise ValueError("the start failed")

    monkeypatch.setattr(envs.worker, "make_game", make_game)
    monkeypatch.setattr(envs.worker.Boards, "reset", failing_reset)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    shared = Shared(ctx, 2, (4, 10, 10), ("score",))
    _serve(child, "snake", {}, {}, shared, 0, 2, 0, True)  # in this process: the patches apply
    call, status, (error, tb) = parent.recv()
    assert (call, status, str(error)) == (0, "raise", "the start failed")
    assert ("make_game" if fails == "make_game" else "failing_reset") in tb and "close failed" not in tb
    assert closed == ([] if fails == "make_game" else [True])


def test_reset_options_as_a_tuple_of_empty_dicts_are_none_too():
    # A sequence of per-env options need not be a list: a tuple of empty ones is no options, as a list is.
    v = make_vec("snake", 2)
    try:
        v.set_options(({}, {}))
        with pytest.raises(ValueError, match="takes no reset options"):
            v.set_options(({}, {"size": 6}))
        assert v.reset().shape == (2, *v.observation_space.shape)
    finally:
        v.close()


@pytest.mark.parametrize("on_worker_death", ["restart", "raise"])
def test_workers_dead_of_the_stop_signal_that_stops_the_run_are_not_restarted(caplog, on_worker_death):
    # `timeout`, Slurm's time limit and `kill -TERM -- -PGID` send SIGTERM to every process of the job: the
    # workers died of it as the training process marked its stop, and the step restarted them from a fork
    # server dead of it too, ending the run in an EOFError traceback with no checkpoint saved. With
    # on_worker_death="raise" too the stop is raised, not a WorkerDiedError that would skip its checkpoint.
    from agents.interrupts import stop_at_safe_points, stop_signals_interrupt

    v = GameVecEnv("snake", num_envs=8, num_workers=2, seed=0, on_worker_death=on_worker_death)
    try:
        v.reset()
        pids = v.worker_pids()
        with stop_signals_interrupt(), stop_at_safe_points():
            signal.raise_signal(signal.SIGTERM)  # marked for the next stop point, as in training
            for pid in pids:
                os.kill(pid, signal.SIGTERM)
            v.step_async(np.zeros(8, np.int64))
            with caplog.at_level(logging.WARNING, logger="envs.vector"), pytest.raises(KeyboardInterrupt):
                v.step_wait()
        assert v.worker_restarts == 0 and not caplog.records
    finally:
        v.close()


def test_a_stop_signal_that_comes_while_a_dead_worker_restarts_is_the_stop(monkeypatch):
    # The job's SIGTERM reaches its processes one by one (Slurm signals each process of the step): a worker
    # dead of it was noticed before the training process's own signal came, and the restart from the fork
    # server, dead of it too, failed after that signal, as an error in place of the stop's checkpoint.
    from agents.interrupts import stop_at_safe_points, stop_signals_interrupt

    v = make_vec("snake", 8, num_workers=2, seed=0)
    try:
        v.reset()
        pid = v.worker_pids()[0]

        def dead_server(w: int, fresh_start: bool) -> None:
            signal.raise_signal(signal.SIGTERM)  # this process's signal, a moment after the worker's
            raise EOFError  # what proc.start() raises with the fork server gone

        monkeypatch.setattr(v, "_launch_worker", dead_server)
        with stop_signals_interrupt(), stop_at_safe_points():
            os.kill(pid, signal.SIGKILL)
            v.step_async(np.zeros(8, np.int64))
            with pytest.raises(KeyboardInterrupt):
                v.step_wait()
    finally:
        monkeypatch.undo()
        v.close()


def test_set_attrs_raises_the_first_value_refused_when_several_fit_no_order():
    """Two values no order takes: the error is the first one's in the order given (set_attr's order), the
    same on every try, and the values that fit are set."""
    game = make_game("snake_duel", num_envs=1)
    with pytest.raises(ValueError, match=r"^max_rounds must be >= 1, got 0"):
        set_attrs(game, {"max_rounds": 0, "apple_reward": 3.0, "win_reward": 1e39})
    assert (game.max_rounds, game.apple_reward, game.win_reward) == (100, 3.0, 1.0)
