"""The envs used from a researcher's own code with Gymnasium's and SB3's standard tools."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import DependencyNotInstalled
from gymnasium.wrappers import HumanRendering, RenderCollection

import envs  # registers the depthfirst/ ids


def test_an_unknown_env_lists_every_known_one_sorted() -> None:
    with pytest.raises(ValueError, match=r"^unknown env 'tetris3d'; known envs: gameboy, pokemon_red, "
                                         r"rotation, snake, snake_duel, sokoban$"):
        envs.game_class("tetris3d")
    # A name that is no string (a list from a config, a game class) was a bare "unhashable type" TypeError.
    for bad in (["snake"], {"snake": 1}):
        with pytest.raises(ValueError, match=r"^unknown env .*; known envs: gameboy"):
            envs.make_vec(bad, 2)


def test_make_game_and_make_vec_pass_num_envs_and_seed_on() -> None:
    game = envs.make_game("snake", 3)
    assert game.num_envs == 3
    game.close()

    def first_observation(seed: int) -> np.ndarray:
        venv = envs.make_vec("snake", 2, num_workers=0, seed=seed)
        obs = venv.reset()
        venv.close()
        return obs

    assert np.array_equal(first_observation(0), first_observation(0))
    assert not np.array_equal(first_observation(0), first_observation(100))  # boards seeded 0,1 vs 100,101


def test_make_wraps_rgb_array_list_in_render_collection() -> None:
    env = gym.make("depthfirst/Snake-v0", render_mode="rgb_array_list")
    assert isinstance(env, RenderCollection)
    env.reset(seed=0)
    env.step(0)
    frames = env.render()
    assert len(frames) == 2 and frames[0].shape == (160, 160, 3)
    env.close()


def test_make_wraps_human_in_human_rendering() -> None:
    # HumanRendering needs pygame (not a dependency): either the wrapper or gymnasium's install hint,
    # never GameEnv's "render_mode must be None or 'rgb_array'".
    try:
        with pytest.warns(UserWarning, match="HumanRendering wrapper is being applied"):  # Gymnasium's note
            env = gym.make("depthfirst/Snake-v0", render_mode="human")
    except DependencyNotInstalled:
        return
    assert isinstance(env, HumanRendering)
    env.close()


@pytest.mark.parametrize("mode", ["human", "rgb_array_list"])
def test_env_itself_still_refuses_other_modes(mode: str) -> None:
    from envs.env import GameEnv

    with pytest.raises(ValueError, match="render_mode"):
        GameEnv("snake", render_mode=mode)


def _count_closes(game: Any) -> list[int]:
    calls: list[int] = []
    original = game.close
    game.close = lambda: (calls.append(1), original())[1]
    return calls


def test_gym_make_refuses_another_game_under_an_id() -> None:
    # gym.make merges its kwargs over the id's: depthfirst_game="sokoban" played Sokoban under Snake's id.
    with pytest.raises(ValueError, match=r"^depthfirst_game is set by the id: depthfirst/Snake-v0 plays "
                                         r"'snake', got depthfirst_game='sokoban'; make "
                                         r"depthfirst/Sokoban-v0 instead$"):
        gym.make("depthfirst/Snake-v0", depthfirst_game="sokoban")
    with pytest.raises(ValueError, match=r"got depthfirst_game=\['snake'\]; make another game instead$"):
        gym.make("depthfirst/Snake-v0", depthfirst_game=["snake"])
    env = gym.make("depthfirst/Snake-v0", depthfirst_game="snake", size=6)  # the id's own: as without it
    assert env.unwrapped.game.name == "snake" and env.unwrapped.game.size == 6
    # A spec as JSON (Minari stores it so) makes the same env, and one saved with the old entry point too.
    spec = gym.envs.registration.EnvSpec.from_json(env.spec.to_json())
    assert gym.make(spec).unwrapped.game.size == 6
    old = dataclasses.replace(spec, entry_point="envs.env:registered")
    assert gym.make(old).unwrapped.game.name == "snake"
    with pytest.raises(AttributeError, match="has no attribute 'registered_tetris'"):
        envs.env.registered_tetris  # noqa: B018


def test_env_close_releases_the_game() -> None:
    # Game Boy games hold emulators outside Python; GameEnv.close (and so `with env:`) must stop them.
    env = gym.make("depthfirst/Snake-v0")
    calls = _count_closes(env.unwrapped.game)
    with env:
        env.reset(seed=0)
    assert calls == [1]


def test_in_process_vec_env_close_releases_the_game() -> None:
    from envs import make_vec

    v = make_vec("snake", 2, num_workers=0)
    calls = _count_closes(v._local.game)
    v.close()
    v.close()
    assert calls == [1]


def test_gameboy_emulators_stop_on_close() -> None:
    pytest.importorskip("pyboy")
    from envs import make_vec
    from envs.gameboy.roms import TEST_CARTRIDGE

    env = gym.make("depthfirst/PokemonRed-v0", rom=TEST_CARTRIDGE)
    env.reset(seed=0)
    env.close()
    assert env.unwrapped.game._pyboys == []
    v = make_vec("pokemon_red", 2, num_workers=0, rom=TEST_CARTRIDGE)
    v.close()
    assert v._local.game._pyboys == []


@pytest.mark.parametrize("workers", [0, 1])
def test_vec_env_refuses_use_after_close(workers: int) -> None:
    # A closed worker looked dead: the step restarted it, and as close() had already run, nothing ever
    # stopped the new process.
    from envs import make_vec

    v = make_vec("snake", 2, num_workers=workers)
    v.reset()
    pids = v.worker_pids()
    assert len(pids) == workers
    v.close()
    with pytest.raises(RuntimeError, match="closed"):
        v.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(RuntimeError, match="closed"):
        v.reset()
    # Gymnasium's error too, as GameEnv's and a Game's: `except ClosedEnvironmentError` missed this env's.
    from gymnasium.error import ClosedEnvironmentError

    for call in (v.reset, lambda: v.get_attr("size"), lambda: v.env_method("get_state")):
        with pytest.raises(ClosedEnvironmentError, match="closed"):
            call()
    assert v.worker_pids() == []  # none restarted
    assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]  # none left running


@pytest.mark.parametrize("workers", [0, 2])
def test_env_method_answers_in_the_order_asked(workers: int) -> None:
    # With workers the answers came back grouped by worker: indices=[3, 0] gave board 0's state first.
    from envs import make_vec

    v = make_vec("snake", 4, num_workers=workers, seed=0)
    try:
        v.reset()
        states = v.env_method("get_state")
        assert v.env_method("get_state", indices=[3, 0]) == [states[3], states[0]]
        assert v.env_method("get_state", indices=[-1]) == [states[3]]  # as list indexing, DummyVecEnv
        assert v.env_method("get_state", indices=np.array([3, 0])) == [states[3], states[0]]  # NumPy ints
        assert v.get_attr("size", indices=[3, 0]) == [10, 10]
        with pytest.raises(IndexError, match="out of range"):
            v.env_method("get_state", indices=[4])
        with pytest.raises(IndexError, match="out of range"):
            v.get_attr("size", indices=[-5])
        for bad in (1.5, True, np.bool_(True)):  # both answered for env 1 (DummyVecEnv: a TypeError for 1.5)
            with pytest.raises(TypeError, match="env indices must be integers"):
                v.env_method("get_state", indices=[bad])
        # One NumPy integer (np.argmax's) is one env as an int is: it was "object of type 'numpy.int64' has no
        # len()", and a lone 1.5 "object of type 'float' has no len()".
        for one in (np.int64(3), np.uint8(3), np.array(3)):
            assert v.env_method("get_state", indices=one) == [states[3]]
            assert v.get_attr("size", indices=one) == [10]
        for bad in (1.5, np.array(1.5), True):
            with pytest.raises(TypeError, match="env indices must be integers"):
                v.env_method("get_state", indices=bad)
    finally:
        v.close()


def test_env_is_wrapped_answers_once_per_index_checked_as_env_methods() -> None:
    # It answered len(indices) times whatever they were: env 5 of 3, -4 and "ab" (two answers) passed,
    # where env_method (and SB3's DummyVecEnv) raise.
    from stable_baselines3.common.monitor import Monitor

    from envs import make_vec

    v = make_vec("snake", 3, num_workers=0, seed=0)
    try:
        for indices, count in ((None, 3), (1, 1), (-1, 1), ([0, 2], 2), ([2, 2, 0], 3), (np.int64(1), 1),
                               (np.array(2), 1), (np.array([0, 1]), 2), (range(2), 2), ([], 0)):
            assert v.env_is_wrapped(Monitor, indices=indices) == [True] * count
            assert v.env_is_wrapped(gym.Wrapper, indices=indices) == [False] * count
        for bad in (3, [5], -4):
            with pytest.raises(IndexError, match="out of range for 3 envs"):
                v.env_is_wrapped(Monitor, indices=bad)
        for bad in (1.5, [True], "ab"):
            with pytest.raises(TypeError, match="env indices must be integers"):
                v.env_is_wrapped(Monitor, indices=bad)
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 1])
def test_missing_attribute_is_an_attribute_error(workers: int) -> None:
    # SB3's has_attr (and sb3-contrib's action-mask check through it) catches AttributeError; from a
    # worker it arrived as RuntimeError, so has_attr raised instead of answering False.
    from envs import make_vec

    v = make_vec("snake", 2, num_workers=workers)
    try:
        assert v.has_attr("size")
        assert not v.has_attr("action_masks")
        # Raised as itself, as in process, with the worker's traceback as its cause as any other error: it
        # came with that traceback pasted into its message.
        with pytest.raises(AttributeError) as caught:
            v.env_method("no_such_method")
        assert str(caught.value) == "'Snake' object has no attribute 'no_such_method'"
        if workers:
            assert "Traceback" in str(caught.value.__cause__)
        assert v.get_attr("size") == [10, 10]  # the worker goes on serving
    finally:
        v.close()


def test_seeds_of_64_bits_and_more() -> None:
    # Gymnasium accepts any non-negative seed; 2**64 and up raised OverflowError in the single env,
    # while GameVecEnv(seed=s) wraps them (its board 0 must equal reset(seed=s)).
    from envs import make_vec

    env = gym.make("depthfirst/Snake-v0")
    big = 2**64 + 5
    obs, _ = env.reset(seed=big)
    v = make_vec("snake", 1, num_workers=0, seed=big)
    assert np.array_equal(obs, v.reset()[0])
    assert np.array_equal(obs, env.reset(seed=5)[0])
    v.close()
    # A seed in the upper half of 64 bits is a board seed of its own (as the vector env's), not that of
    # the seed 2**63 below it.
    top = 2**64 - 3
    v = make_vec("snake", 1, num_workers=0, seed=top)
    obs = env.reset(seed=top)[0]
    assert np.array_equal(obs, v.reset()[0]) and not np.array_equal(obs, env.reset(seed=top - 2**63)[0])
    v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_refused_action_steps_no_board(workers: int) -> None:
    # With workers, each checked its own slice: a bad action on the last board failed that worker after
    # the first had stepped its boards, leaving the vector env's boards out of step.
    from envs import make_vec

    v = make_vec("snake", 4, num_workers=workers, seed=0)
    try:
        v.reset()
        before = v.env_method("get_state")
        # 4, one past the last action, as well: the bound's own check (the game's core refuses it too, but
        # only after another worker has stepped its boards).
        for bad, message in (([0, 0, 0, 9], r"in 0\.\.3 \(UP, DOWN, LEFT, RIGHT\), got \[9\]"),
                             ([0, 0, 0, 4], r"in 0\.\.3 \(UP, DOWN, LEFT, RIGHT\), got \[4\]"),
                             ([0, 0, 0, 2.7], "whole numbers"), ([0, 0, 0], "expected 4 actions")):
            with pytest.raises(ValueError, match=message):
                v.step(np.array(bad))
        assert v.env_method("get_state") == before
        v.step(np.array([0.0, 1.0, 2.0, 3.0]))  # whole floats are fine
    finally:
        v.close()


def test_single_env_takes_any_one_whole_action_and_refuses_the_rest() -> None:
    env = gym.make("depthfirst/Snake-v0")
    for action in (1, np.int64(1), np.array(1), np.array([1]), 1.0):  # predict() gives () or (1,) arrays
        env.reset(seed=0)  # one step may end the episode
        env.step(action)
    env.reset(seed=0)  # a refused action plays nothing: the episode stays as it is
    for action, message in ((2.7, "whole numbers"), (4, r"in 0\.\.3"), (-1, r"in 0\.\.3"), (True, "whole"),
                            (np.array([1, 2]), "expected 1 action, got 2")):
        with pytest.raises(ValueError, match=message):
            env.step(action)
    env.close()


def test_actions_of_a_type_other_than_numbers_are_refused_naming_it() -> None:
    """An object, bool or string action array was refused as "actions must be whole numbers, got [1, 2]",
    which they are: the message names the array's type."""
    from envs import make_game, make_vec

    game = make_game("snake", num_envs=2)
    vec = make_vec("snake", 2, num_workers=0)
    try:
        game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
        vec.reset()
        for bad, dtype in ((np.array([1, 2], dtype=object), "object"), (np.array([True, False]), "bool"),
                           (np.array(["1", "2"]), "<U1"), (np.array([0.5, 1]), "float64")):
            said = rf"^actions must be whole numbers \(an integer or float array\), got {dtype} \["
            for step in (game.step, vec.step):
                with pytest.raises(ValueError, match=said):
                    step(bad)
    finally:
        game.close()
        vec.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_a_games_own_step_refuses_a_fraction_before_any_board_moves(name: str) -> None:
    # Game.step cast 2.7 to 2 and played it (the envs above check; the Game API is public too).
    from envs import make_game

    game = make_game(name, 2)
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    before = [game.get_state(i) for i in range(2)]
    # A whole float past the last action takes checked_actions' path (an int array, the compiled step's):
    # refused, not clipped to the last action.
    for bad, message in (([0, 2.7], "whole numbers"), ([0], "expected 2 actions"),
                         ([0, -1], r"must be in 0\.\.|out of range 0\.\."),
                         ([0.0, len(game.ACTION_NAMES)], r"must be in 0\.\.")):
        with pytest.raises(ValueError, match=message):
            game.step(np.array(bad))
    assert [game.get_state(i) for i in range(2)] == before
    game.step(np.array([1.0, 2.0]))  # whole floats play
    game.step(np.array([1, 2], dtype=np.uint8))


@pytest.mark.parametrize(("name", "message"), [
    ("snake", "snake: actions must be in 0..3 (UP, DOWN, LEFT, RIGHT)"),
    ("sokoban", "sokoban: actions must be in 0..3 (UP, DOWN, LEFT, RIGHT)"),
    ("rotation", "rotation: actions must be in 0..5 (X+, X-, Y+, Y-, Z+, Z-)")])
def test_a_compiled_step_refuses_the_first_action_past_the_last_with_its_games_message(name: str,
                                                                                        message: str) -> None:
    # An int array skips Game._actions: the compiled step itself checks (Numba checks no bounds).
    from envs import make_game

    game = make_game(name, 2)
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    before = [game.get_state(i) for i in range(2)]
    with pytest.raises(ValueError) as refused:
        game.step(np.array([0, len(game.ACTION_NAMES)]))
    assert str(refused.value) == message
    assert [game.get_state(i) for i in range(2)] == before


def test_workers_started_before_one_that_fails_are_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    from envs import make_vec
    from envs.vector import GameVecEnv

    launch = GameVecEnv._launch_worker
    started: list[Any] = []

    def second_fails(self: GameVecEnv, w: int, fresh_start: bool) -> None:
        if w == 1:
            raise RuntimeError("worker 1 failed to start")
        launch(self, w, fresh_start)
        started.append(self._procs[w].pid)

    monkeypatch.setattr(GameVecEnv, "_launch_worker", second_fails)
    with pytest.raises(RuntimeError, match="worker 1 failed"):
        make_vec("snake", 4, num_workers=2)
    assert len(started) == 1 and not os.path.exists(f"/proc/{started[0]}")


def test_workers_still_starting_when_the_first_fails_its_start_are_stopped(monkeypatch: pytest.MonkeyPatch
                                                                            ) -> None:
    """All workers are launched before any is awaited: the first failing its start leaves the others launched
    and unawaited, which the failed constructor must stop too."""
    from envs import make_vec
    from envs.vector import GameVecEnv, WorkerDiedError

    launched: list[int] = []

    def first_fails(self: GameVecEnv, w: int) -> None:
        launched[:] = [p.pid for p in self._procs]
        raise WorkerDiedError(f"worker {w} died while starting")

    monkeypatch.setattr(GameVecEnv, "_await_start", first_fails)
    with pytest.raises(WorkerDiedError, match="worker 0 died"):
        make_vec("snake", 6, num_workers=3)
    assert len(launched) == 3 and not [pid for pid in launched if os.path.exists(f"/proc/{pid}")]


def test_workers_start_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker was awaited before the next was launched, so W Game Boy workers booted their emulators
    and compiled their kernels one after another (2 workers of the test cartridge: 5.1-5.7 s, now 2.3 s)."""
    from envs import make_vec
    from envs.vector import GameVecEnv

    events: list[tuple[str, int]] = []
    launch, wait = GameVecEnv._launch_worker, GameVecEnv._await_start

    def launching(self: GameVecEnv, w: int, fresh_start: bool) -> None:
        events.append(("launch", w))
        launch(self, w, fresh_start)

    def awaiting(self: GameVecEnv, w: int) -> None:
        events.append(("await", w))
        wait(self, w)

    monkeypatch.setattr(GameVecEnv, "_launch_worker", launching)
    monkeypatch.setattr(GameVecEnv, "_await_start", awaiting)
    v = make_vec("snake", 6, num_workers=3)
    try:
        assert events == [("launch", w) for w in range(3)] + [("await", w) for w in range(3)]
        v.reset()  # started, every one of them
        assert v.get_attr("num_envs") == [2] * 6
    finally:
        v.close()


def test_evaluate_policy_reads_the_episode_infos_without_a_monitor_warning() -> None:
    # The infos carry Monitor's episode entries; env_is_wrapped(Monitor) said False, so SB3's
    # evaluate_policy warned that returns may be modified and summed step rewards itself.
    import warnings

    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.monitor import Monitor

    from envs import make_vec

    class Straight:  # plays UP on every board: the snake dies at the wall, a known return
        def predict(self, obs: np.ndarray, state: Any = None, episode_start: Any = None,
                    deterministic: bool = True) -> tuple[np.ndarray, None]:
            return np.zeros(len(obs), dtype=np.int64), None

    v = make_vec("snake", 4, num_workers=0, seed=0)
    try:
        assert v.env_is_wrapped(Monitor) == [True] * 4 and v.env_is_wrapped(gym.Wrapper) == [False] * 4
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            returns, lengths = evaluate_policy(Straight(), v, n_eval_episodes=8, return_episode_rewards=True)
        assert len(returns) == 8 and all(r == pytest.approx(-1.0, abs=1.0) for r in returns)
        assert all(n >= 1 for n in lengths)
    finally:
        v.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_env_used_before_reset_says_to_reset(name: str) -> None:
    # gym.make's OrderEnforcing refuses this, but GameEnv itself (envs.make_env) did not: Snake raised
    # an IndexError, the other games stepped and drew an empty board.
    from gymnasium.error import ResetNeeded

    from envs import make_env

    env, blind = make_env(name, render_mode="rgb_array"), make_env(name)
    # blind.render (no render_mode) returned None here, where gym.make's OrderEnforcing refuses it
    for call in (lambda: env.step(0), env.render, env.get_state, blind.render):
        with pytest.raises(ResetNeeded, match=r"call reset\(\)"):
            call()
    blind.reset(seed=3)
    assert blind.render() is None
    blind.close()
    assert blind.render() is None  # closed or not
    other = make_env(name)
    other.reset(seed=3)
    env.set_state(other.get_state())  # a state to start from counts as a reset
    assert env.get_state() == other.get_state()
    assert np.array_equal(env.step(1)[0], other.step(1)[0])
    env.render()


def ended_episode(name: str) -> tuple[Any, np.random.Generator]:
    """A ``make_env(name)`` env whose first episode (seed 0) random play just ended, and its moves' rng."""
    from envs import make_env

    env = make_env(name)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    while not any(env.step(int(rng.integers(env.action_space.n)))[2:4]):
        pass
    return env, rng


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_stepping_past_the_end_of_an_episode_says_to_reset(name: str) -> None:
    # It returned reward 0, terminated False, truncated False for ever: a loop that forgot reset() ran on.
    from gymnasium.error import ResetNeeded

    env, rng = ended_episode(name)
    with pytest.raises(ResetNeeded, match=r"after the episode ended .* call reset\(\)"):
        env.step(0)
    env.reset(seed=1)
    state = env.get_state()
    ended = any(env.step(0)[2:4])  # a reset starts the next one
    while not ended:
        ended = any(env.step(int(rng.integers(env.action_space.n)))[2:4])
    env.set_state(state)  # as does a state to start from
    env.step(0)


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_stepping_a_state_whose_episode_ended_says_to_reset(name: str) -> None:
    # set_state counted every state as a fresh start: from a done one, step returned reward 0, terminated
    # False, truncated False for ever, as stepping past an episode's end did before it said to reset.
    from gymnasium.error import ResetNeeded

    from envs import make_env

    env = ended_episode(name)[0]
    ended = env.get_state()
    fresh = make_env(name)
    fresh.set_state(ended)
    with pytest.raises(ResetNeeded, match=r"after the episode ended .* call reset\(\)"):
        fresh.step(0)
    env.reset(seed=1)
    fresh.set_state(env.get_state())  # a state of an episode under way plays on
    fresh.step(0)


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_a_game_board_never_reset_says_so(name: str) -> None:
    # Read from the game itself, Snake's get_state and render were an IndexError; the other games gave a
    # state of no episode (an all-wall Sokoban, two duel snakes on cell [0, 0]) that set_state refused.
    from gymnasium.error import ResetNeeded

    game, other = _new_game(name), _new_game(name, num_envs=1)
    try:
        for what, call in _board_reads(game).items():
            # named by the call made: render's must not be the get_state it calls
            with pytest.raises(ResetNeeded, match=rf"board 1 holds no episode yet: .* before {what}$"):
                call(1)
        other.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
        game.set_state(1, other.get_state(0))  # a state counts as a reset (the Game Boy's too)
        assert game.get_state(1) == other.get_state(0)
        for call in _board_reads(game).values():
            call(1)
        game.step(np.zeros(2, dtype=np.int64))  # the game holds an episode: it plays
        for what, call in _board_reads(game).items():
            with pytest.raises(ResetNeeded, match=rf"board 0 holds no episode yet: .* before {what}$"):
                call(0)
        with pytest.raises(ResetNeeded, match=r"board 0 holds .* before episode_infos$"):
            game.episode_infos(np.array([1, 0]))  # one never reset among others
    finally:
        game.close()
        other.close()


def _board_reads(game: Any) -> dict[str, Any]:
    """Every read of one board's state ``game`` offers, by name, each taking the board: before, a board never
    reset gave the constructor's figures (episode_info, episode_infos), the Game Boy's its boot memory,
    screen and facts, and Pokémon Red's milestones and visit heatmap those of no play (zeros)."""
    reads = {"get_state": game.get_state, "render": game.render, "episode_info": game.episode_info,
             "episode_infos": lambda i: game.episode_infos(np.array([i]))}
    own = ("memory", "screen", "read_facts", "milestones", "visit_heatmap")
    return reads | {k: getattr(game, k) for k in own if hasattr(game, k)}


def _new_game(name: str, num_envs: int = 2) -> Any:
    """Game ``name`` with ``num_envs`` boards, none reset (the Game Boy's and Pokémon Red's on the test
    cartridge)."""
    from envs import make_game

    kwargs: dict[str, Any] = {}
    if name in ("gameboy", "pokemon_red"):  # Pokémon Red's wrapper runs on the test cartridge too
        pytest.importorskip("pyboy")
        from envs.gameboy.roms import TEST_CARTRIDGE

        kwargs = {"game": "depthfirst_test"} if name == "gameboy" else {"rom": TEST_CARTRIDGE}
    return make_game(name, num_envs=num_envs, **kwargs)


def _two_boards(name: str) -> Any:
    """``_new_game(name)``, both boards reset."""
    game = _new_game(name)
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    return game


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_a_game_stepped_or_read_before_any_reset_says_so(name: str) -> None:
    # Before any reset a bare game stepped its empty boards (zero rewards, no error), and observe, which
    # still did after step refused, handed a learner boards that never existed: all zeros (Rotation), all
    # wall (Sokoban). The Game Boy's boards played and showed the constructor's own seed-0 episode.
    from gymnasium.error import ResetNeeded

    game = _new_game(name)
    try:
        out, actions = game.new_obs_buffer(), np.zeros(2, dtype=np.int64)
        whole = {"step": lambda: game.step(actions), "observe": lambda: game.observe(out),
                 "observe ": lambda: game.observe(out[:1], np.array([1]))}  # a subset of boards too
        if name == "snake_duel":  # its other whole-game reads of the boards
            whole |= {"observe_opponent": lambda: game.observe_opponent(out),
                      "bot_actions": lambda: game.bot_actions(1)}
        if name == "pokemon_red":  # its figures of all boards, asked for no board
            whole |= {"milestones": game.milestones, "visit_heatmap": game.visit_heatmap}
        for _ in range(2):  # the flag stays up while no board holds an episode
            for what, call in whole.items():
                said = rf"^{what.strip()} before any reset: no board of this {name} game holds an episode"
                with pytest.raises(ResetNeeded, match=said + r" yet; call reset\(indices, seeds\) \(or "
                                                             r"set_state\) first$"):
                    call()
            for what, call in _board_reads(game).items():  # the per-board reads name the board
                with pytest.raises(ResetNeeded, match=rf"^board 1 holds no episode yet: .* before {what}$"):
                    call(1)
        names = game.figure_names()  # the figures' names, of no board, are no episode's: still given
        game.reset(np.array([1]), np.array([7], dtype=np.uint64))  # one is enough: the other plays as ended
        assert tuple(game.episode_info(1)) == names
        reward, terminated, truncated = game.step(actions)
        assert reward[0] == 0 and not (terminated[0] or truncated[0])
        game.observe(out)
        game.render(1)
        assert not game._unstarted  # checked once: later steps read the flag only
        with pytest.raises(ResetNeeded, match=r"^board 0 holds no episode yet"):
            game.get_state(0)
    finally:
        game.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_a_board_index_off_the_game_is_refused_by_name(name: str) -> None:
    # NumPy's indexing took -1 for the last board, 2 (of two boards) was a bare IndexError, 1.0 NumPy's
    # "only integers, slices ..." and True board 1 in the Game Boy (elsewhere a NumPy error about arrays).
    game = _two_boards(name)
    try:
        state = game.get_state(1)
        calls = {"get_state": game.get_state, "set_state": lambda i: game.set_state(i, state),
                 "render": game.render, "episode_info": game.episode_info}
        # The Game Boy's own reads: -1 read the last board's emulator, 2 was a bare IndexError.
        calls.update({k: getattr(game, k) for k in ("memory", "screen", "read_facts") if hasattr(game, k)})
        for what, call in calls.items():
            for bad in (-1, 2, True, np.bool_(True), 1.0, "1", None):
                said = rf"^{what}: the board must be an integer in 0\.\.1 \(this game has 2 boards\), got "
                with pytest.raises(ValueError, match=said + re.escape(repr(bad)) + "$"):
                    call(bad)
            call(np.int64(1))  # NumPy integers pass
    finally:
        game.close()
    if name == "snake":  # one board is worded in the singular
        from envs import make_game

        with pytest.raises(ValueError, match=r"in 0\.\.0 \(this game has 1 board\), got 1$"):
            make_game(name).episode_info(1)


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_episode_infos_refuses_boards_off_the_game_as_observe_does(name: str) -> None:
    # Snake's own read -1 as the last board and 2 (of two) was a bare IndexError; the others' cut board 0.7
    # to 0 and read [True, False] as boards 1 and 0.
    game = _two_boards(name)
    try:
        for bad in ([-1], [0, 2]):
            with pytest.raises(ValueError, match=r"^episode_infos's board indices must be in 0\.\.1, got \["
                                                 + str(bad[-1]) + r"\]$"):
                game.episode_infos(np.array(bad))
        for bad in ([0.7], [True, False], [[0]], 1):
            with pytest.raises(ValueError, match=r"^episode_infos's indices must be a 1-D array of board "):
                game.episode_infos(np.array(bad))
        with pytest.raises(ValueError, match=r"^observe's indices must be a 1-D array of board "):
            game.observe(game.new_obs_buffer()[:1], np.array(1))  # one board, not an array of them
        assert game.episode_infos(np.array([1, 1]))["score"].shape == (2,)  # a board twice is read twice
        for empty in (np.array([], dtype=np.int64), []):  # NumPy makes an empty list float
            assert game.episode_infos(empty)["score"].shape == (0,)
            game.observe(game.new_obs_buffer()[:0], empty)
        # Unsigned indices and a tuple name the same boards.
        both, given = game.episode_infos(np.array([1, 0])), game.new_obs_buffer()
        game.observe(given, np.array([1, 0]))
        for same in (np.array([1, 0], np.uint32), (1, 0)):
            assert all(np.array_equal(v, both[k]) for k, v in game.episode_infos(same).items())
            out = game.new_obs_buffer()
            game.observe(out, same)
            assert np.array_equal(out, given)
    finally:
        game.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_a_closed_game_says_so(name: str) -> None:
    # A closed Game Boy has no emulators: its step, reset, get_state, set_state and render were
    # "IndexError: list index out of range", and observe read the last frames; the other games played on.
    from gymnasium.error import ClosedEnvironmentError

    game = _two_boards(name)
    state, obs = game.get_state(0), game.new_obs_buffer()
    game.close()
    game.close()  # twice is fine
    calls = {"step": lambda: game.step(np.zeros(2, np.int64)),
             "reset": lambda: game.reset(np.arange(2), np.arange(2, dtype=np.uint64)),
             "get_state": lambda: game.get_state(0), "set_state": lambda: game.set_state(0, state),
             "render": lambda: game.render(0), "observe": lambda: game.observe(obs),
             "new_obs_buffer": game.new_obs_buffer,  # made a buffer for a game that could not fill it
             "episode_info": lambda: game.episode_info(0),
             "episode_infos": lambda: game.episode_infos(np.arange(2))}  # Snake's own gave figures
    # The Game Boy's own reads (an IndexError: its emulators are gone).
    calls.update({k: lambda k=k: getattr(game, k)(0) for k in ("memory", "screen", "read_facts")
                  if hasattr(game, k)})
    for what, call in calls.items():
        with pytest.raises(ClosedEnvironmentError, match=f"^{what} on a closed {name} game; make a new one$"):
            call()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_observe_refuses_an_out_of_another_dtype(name: str) -> None:
    # The observation is uint8: a float64 out was filled with floats (0.0 to 255.0) without a word.
    game = _two_boards(name)
    try:
        shape = (2, *game.observation_space.shape)
        for dtype in (np.float64, np.int64, np.float32):
            out = np.zeros(shape, dtype)
            with pytest.raises(ValueError, match=re.escape(f"out must be a uint8 array of shape {shape}, got "
                                                           f"{np.dtype(dtype)} of shape {shape}")):
                game.observe(out)
            assert not out.any()
    finally:
        game.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_observe_refuses_a_read_only_out_naming_it(name: str) -> None:
    # The compiled kernels failed on a read-only out with a Numba TypingError naming no argument.
    game = _two_boards(name)
    out = game.new_obs_buffer()
    out.flags.writeable = False
    calls = [game.observe, *([game.observe_opponent] if name == "snake_duel" else [])]
    for call in calls:
        with pytest.raises(ValueError, match=r"^out is read-only, and observe writes the observations into "
                                             r"it: pass a writeable array"):
            call(out)
    assert not out.any()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_episode_infos_of_no_board_has_the_keys_of_every_episode(name: str) -> None:
    # Every episode reports the same keys (the vector env sizes its figure rows by them), but the base
    # episode_infos of no board gave {"score"} alone (Snake's own override gave all three).
    game = _two_boards(name)
    try:
        none = game.episode_infos(np.array([], dtype=np.int64))
        assert list(none) == list(game.episode_info(0)) == list(game.episode_infos(np.arange(2)))
        assert all(v.dtype == np.float64 and v.shape == (0,) for v in none.values())
    finally:
        game.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_set_state_refuses_a_dict_of_no_state_of_the_game(name: str) -> None:
    # {} or another game's state raised a bare KeyError naming the first key read ('size', 'cubes').
    from envs import make_game

    game, other = make_game(name), make_game("rotation" if name == "snake" else "snake")
    other.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    theirs = other.get_state(0)
    with pytest.raises(ValueError, match=rf"not a {name} state: it lacks '"):
        game.set_state(0, {})
    with pytest.raises(ValueError, match=rf"not a {name} state \(it is a {other.name} state\): it lacks '"):
        game.set_state(0, theirs)
    with pytest.raises(ValueError, match=rf"a {name} state must be a dict"):
        game.set_state(0, [theirs])
    game.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    state = game.get_state(0)
    for key in game.STATE_KEYS:  # each key read is named when it is the only one missing
        with pytest.raises(ValueError, match=rf"it lacks '{key}'$"):
            game.set_state(0, {k: v for k, v in state.items() if k != key})
    assert game.get_state(0) == state  # the board is left as it was
    if name == "snake_duel":
        del state["snakes"][1]["alive"]
        with pytest.raises(ValueError, match=r"not a snake_duel state's snake 1: it lacks 'alive'"):
            game.set_state(0, state)


# A misspelt optional key of each game: the game's own value was played instead of the one written.
_MISSPELT = {"snake": ("starvaton", 7), "snake_duel": ("max_round", 5), "rotation": ("max_step", 2),
             "sokoban": ("deadlock", False)}


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_set_state_refuses_a_key_the_game_does_not_read(name: str) -> None:
    # Every key but those set_state reads was dropped without a word: a user's misspelt limit was lost.
    from envs import make_game

    game = make_game(name)
    game.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    state = game.get_state(0)
    key, value = _MISSPELT[name]
    with pytest.raises(ValueError, match=rf"^state holds '{key}', no key of a {name} state \(game, "):
        game.set_state(0, {**state, key: value})
    assert game.get_state(0) == state  # the board is left as it was
    if name == "snake_duel":  # each snake's dict too
        snakes = [state["snakes"][0], {**state["snakes"][1], "lenght": 3}]
        with pytest.raises(ValueError, match=r"^state's snake 1 holds 'lenght', no key of a snake_duel "
                                             r"state's snake 1 \(body, direction, alive, score\)"):
            game.set_state(0, {**state, "snakes": snakes})
    game.set_state(0, state)  # every key get_state writes is one set_state takes
    assert game.get_state(0) == state


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_set_state_refuses_a_state_naming_another_game(name: str) -> None:
    # A state whose "game" is another's, holding every key this game reads, was taken as this game's.
    from envs import make_game

    game = make_game(name)
    game.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    state = game.get_state(0)
    with pytest.raises(ValueError, match=rf"not a {name} state: its game is 'pong', and a state loads only"):
        game.set_state(0, {**state, "game": "pong"})
    assert game.get_state(0) == state  # the board is left as it was
    game.set_state(0, {k: v for k, v in state.items() if k != "game"})  # hand-made states may leave it out
    assert game.get_state(0) == state


@pytest.mark.parametrize("workers", [0, 2])
def test_vec_env_boards_never_reset_say_so(workers: int) -> None:
    # Before any reset get_images() and env_method("get_state") raised an IndexError (from a worker, a
    # RuntimeError around its traceback) naming no env and no fix.
    from gymnasium.error import ResetNeeded

    from envs import make_vec

    v = make_vec("snake", 4, num_workers=workers, seed=0)
    try:
        with pytest.raises(ResetNeeded, match=r"env 0 holds no episode yet: call reset\(\)"):
            v.get_images()
        with pytest.raises(ResetNeeded, match=r"env 3 holds no episode yet: .*indices=\[3\]"):
            v.env_method("get_state", indices=[3])
        v.reset()
        assert len(v.get_images()) == 4 and len(v.env_method("get_state")) == 4
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_vec_env_stepped_before_reset_says_so(workers: int) -> None:
    # A step before the first reset() stepped boards holding no episode and returned their empty frames,
    # as a GameEnv (ResetNeeded) does not.
    from gymnasium.error import ResetNeeded

    from envs import make_vec

    v = make_vec("snake", 4, num_workers=workers, seed=0)
    try:
        with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)"):
            v.step(np.zeros(4, np.int64))
        with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)"):
            v.step_async(np.zeros(4, np.int64))
        with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)"):
            v.step_wait()  # called alone it stepped the empty boards (on the actions left in the buffer)
        first = v.reset()
        obs, _, _, _ = v.step(np.zeros(4, np.int64))
        assert first.any() and obs.any()
    finally:
        v.close()
    with pytest.raises(RuntimeError, match="closed"):
        v.step(np.zeros(4, np.int64))


@pytest.mark.parametrize("workers", [0, 2])
def test_vec_env_stepped_after_set_state_alone_says_to_set_states_after_reset(workers: int) -> None:
    # Every board given a state but the env never reset: the step's refusal said the boards "hold no
    # episode yet", which they did (get_state showed them), and named reset() alone, which starts every
    # board anew: the states given were lost unless set again after it.
    from gymnasium.error import ResetNeeded

    from envs import make_vec

    source = make_vec("sokoban", 2, seed=3)  # one step ends no Sokoban episode: its state steps on
    v = make_vec("sokoban", 2, num_workers=workers, seed=0)
    try:
        source.reset()
        states = source.env_method("get_state")
        for i, state in enumerate(states):
            v.env_method("set_state", state, indices=[i])
        with pytest.raises(ResetNeeded, match=r"call reset\(\) before step\(\)") as refused:
            v.step(np.zeros(2, np.int64))
        assert "hold no episode" not in str(refused.value)
        assert "set_state" in str(refused.value) and "after" in str(refused.value)
        v.reset()  # as the message says: reset, then the states, then step from them
        for i, state in enumerate(states):
            v.env_method("set_state", state, indices=[i])
        v.step(np.zeros(2, np.int64))
        assert [s["step"] for s in v.env_method("get_state")] == [state["step"] + 1 for state in states]
    finally:
        source.close()
        v.close()


@pytest.mark.parametrize("name", ["snake", "pokemon_red"])
def test_a_closed_env_says_so(name: str) -> None:
    # A closed Game Boy env has no emulators: step and reset raised "IndexError: list index out of range".
    from gymnasium.error import ClosedEnvironmentError

    kwargs: dict[str, Any] = {}
    if name == "pokemon_red":
        pytest.importorskip("pyboy")
        from envs.gameboy.roms import TEST_CARTRIDGE

        kwargs = {"rom": TEST_CARTRIDGE}
    env = gym.make(f"depthfirst/{'Snake' if name == 'snake' else 'PokemonRed'}-v0", render_mode="rgb_array",
                   **kwargs)
    env.reset(seed=0)
    state = env.unwrapped.get_state()
    env.close()
    env.close()  # twice is fine
    for call in (lambda: env.step(0), lambda: env.reset(seed=0), env.render, env.unwrapped.get_state,
                 lambda: env.unwrapped.set_state(state)):
        with pytest.raises(ClosedEnvironmentError, match="closed env"):
            call()


def test_reset_refuses_options_it_would_ignore() -> None:
    # options were dropped without a word: options={"difficulty": "hard"} played a medium level.
    env = gym.make("depthfirst/Sokoban-v0")
    with pytest.raises(ValueError, match=r"no options, got \['difficulty'\].*keyword arguments of gym.make"):
        env.reset(seed=0, options={"difficulty": "hard"})
    first = env.reset(seed=0)[0]
    # The env plays on: Gymnasium's passive checker, had the id kept it, took the refused reset for its
    # first and failed this step with a TypeError of its own (Gymnasium 1.4).
    assert env.step(0)[0].shape == first.shape
    for empty in (None, {}):  # SB3's DummyVecEnv passes {} by default
        assert np.array_equal(env.reset(seed=0, options=empty)[0], first)
    env.close()


def test_an_unknown_render_mode_names_the_ones_gym_make_takes() -> None:
    # The message said "must be None or 'rgb_array'" to a gym.make user, for whom 'human' works too.
    with pytest.raises(ValueError, match=r"'rgb_array' \(through gym.make also 'rgb_array_list' or "
                                         r"'human'\), got 'rgb'"), \
            pytest.warns(UserWarning, match="render_mode='rgb' that is not in the possible render_modes"):
        gym.make("depthfirst/Snake-v0", render_mode="rgb")


def test_board_indices_past_int64_are_named_as_given() -> None:
    # Read back from their int64 copy, a uint64 index of 2**63 or more was named as a negative number.
    from envs import make_game

    game = make_game("snake", num_envs=2)
    given = np.array([1, 2**63, 2**64 - 1], dtype=np.uint64)
    got = r"board indices must be in 0\.\.1, got \[9223372036854775808, 18446744073709551615\]$"
    with pytest.raises(ValueError, match="^reset's " + got):
        game.reset(given, np.arange(3, dtype=np.uint64))
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))  # observe reads a game under way (or refuses it)
    with pytest.raises(ValueError, match="^observe's " + got):
        game.observe(np.zeros((3, *game.observation_space.shape), np.uint8), given)
    with pytest.raises(ValueError, match="^episode_infos's " + got):
        game.episode_infos(given)


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_a_game_reset_needs_one_seed_per_board(name: str) -> None:
    # The compiled cores read seeds[k] unchecked: two seeds for four boards seeded boards 2 and 3 from the
    # memory after the array, so the same call played different boards from one run to the next.
    from envs import make_game

    game = make_game(name, num_envs=4)
    with pytest.raises(ValueError, match="one seed per board"):
        game.reset(np.arange(4), np.array([5, 6], dtype=np.uint64))
    with pytest.raises(ValueError, match="one seed per board"):
        game.reset(np.arange(2), np.arange(4, dtype=np.uint64))
    # A 2-D argument is named, with the shape it needs: the message named both shapes and neither argument.
    with pytest.raises(ValueError, match=r"^reset's indices must be a 1-D array of board indices, shape "
                                         r"\(n,\), got shape \(2, 2\)$"):
        game.reset(np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2), dtype=np.uint64))
    with pytest.raises(ValueError, match=r"^reset's seeds must hold one seed per board index, shape \(2,\), "
                                         r"got shape \(1, 2\)$"):
        game.reset(np.arange(2), np.array([[5, 6]], dtype=np.uint64))
    # A ragged list was NumPy's "inhomogeneous shape" error, naming no argument.
    with pytest.raises(ValueError, match=r"^reset's seeds must be a 1-D array, got a ragged list"):
        game.reset(np.arange(2), [[1, 2], 3])
    with pytest.raises(ValueError, match=r"^reset's indices must be a 1-D array, got a ragged list"):
        game.reset([[0, 1], 2], [1, 2])
    for bad in ([-1], [4]):  # -1 reset board 3 (counted from the end); 4, NumPy's IndexError
        with pytest.raises(ValueError, match=r"board indices must be in 0\.\.3, got \[" + str(bad[0])):
            game.reset(np.array(bad), np.array([1], dtype=np.uint64))
    # A board named twice played the last of its seeds without a word.
    with pytest.raises(ValueError, match=r"reset's board indices must name each board once, got \[0, 2\]"):
        game.reset([0, 2, 0, 1, 2], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match=r"reset's board indices must name each board once, got \[1\]"):
        game.reset([1, 1], [1, 2])  # two boards, both the same
    # A fraction was cut: board 0.7 reset board 0, and seed 1.5 played seed 1.
    # True would reset board 1.
    for indices, seeds, what in (([0.7], [1], "board indices"), ([0], [1.5], "seeds"),
                                 ([True], [1], "board indices")):
        with pytest.raises(ValueError, match=f"reset's {what} must be whole numbers"):
            game.reset(np.array(indices), np.array(seeds))
    game.reset(np.array([], dtype=np.int64), np.array([], dtype=np.uint64))  # no board: nothing to do
    game.reset([], [])  # empty lists (NumPy makes them float) too
    game.reset([0, 1], [5, 6])  # lists of one seed per board pass
    # observe words it alike, naming only the indices off the game (it listed them all, as "[0, 4)").
    with pytest.raises(ValueError, match=r"observe's board indices must be in 0\.\.3, got \[-1, 4\]$"):
        game.observe(np.zeros((4, *game.observation_space.shape), np.uint8), np.array([0, -1, 2, 4]))
    other = make_game(name, num_envs=2)
    other.reset(np.arange(2), np.array([5, 6], dtype=np.uint64))
    assert [game.get_state(i) for i in range(2)] == [other.get_state(i) for i in range(2)]


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_a_game_reset_wraps_integer_seeds_of_64_bits_and_more_as_the_envs_do(name: str) -> None:
    # GameEnv and GameVecEnv take any integer seed modulo 2**64; the game's own reset refused 2**64 + 5 as
    # "seeds must be whole numbers, got object [...]" and [2**63, -1] as "got float64 [9.2e+18, -1.0]":
    # NumPy made those lists of ints objects or floats.
    from envs import make_game

    game, other = make_game(name, num_envs=2), make_game(name, num_envs=2)
    for seeds, wrapped in (([2**64 + 5, -1], [5, 2**64 - 1]), ([2**63, -1], [2**63, 2**64 - 1]),
                           ((np.int64(3), 2**64), [3, 0])):
        game.reset([0, 1], seeds)
        other.reset(np.arange(2), np.array(wrapped, dtype=np.uint64))
        assert [game.get_state(i) for i in range(2)] == [other.get_state(i) for i in range(2)]
    for bad in ([2**64, 1.5], [2**64, True], [2**64, None]):  # a fraction, a bool or None among them is not
        with pytest.raises(ValueError, match="reset's seeds must be whole numbers"):
            game.reset([0, 1], bad)
    # Wrapped, they keep their shape: one seed per board still, not a nested list or one bare seed.
    for boards, bad, shape in (([0, 1], [[2**64, 5]], r"\(2,\), got shape \(1, 2\)"),
                               ([0], 2**64, r"\(1,\), got shape \(\)")):
        with pytest.raises(ValueError, match=rf"^reset's seeds must hold one seed per board index, shape "
                                             rf"{shape}$"):
            game.reset(boards, bad)


def test_vec_env_seed_none_draws_one_and_a_fraction_is_refused() -> None:
    # make_vec(seed=None), as SB3's make_vec_env(seed=None), was a TypeError at the first reset
    # ("unsupported operand type(s) for %"); seed=1.5 played as seed 1.
    from envs import make_vec

    np.random.seed(3)
    v = make_vec("snake", 2, num_workers=0, seed=None)
    v.reset()
    v.step(np.zeros(2, dtype=np.int64))
    np.random.seed(3)
    again = make_vec("snake", 2, num_workers=0, seed=None)
    assert again.base_seed == v.base_seed
    for bad in (1.5, "3", True, np.bool_(True)):
        with pytest.raises(ValueError, match="seed must be a whole number or None"):
            make_vec("snake", 2, num_workers=0, seed=bad)
        with pytest.raises(ValueError, match="seed must be a whole number or None"):
            v.seed(bad)
    assert v.seed(np.int64(4)) == [4, 5]
    v.close()
    again.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_render_scale_is_a_whole_number_of_at_least_one(name: str) -> None:
    # Snake and Duel drew an empty (0, 0, 3) image at scale 0, Rotation raised ZeroDivisionError, and
    # Snake drew 1.5 as 1 while Duel and Rotation raised TypeErrors at 2.0.
    from envs import make_game

    game = make_game(name, num_envs=1)
    game.reset(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.uint64))
    state = game.get_state(0)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="scale must be"):
            type(game).render_state(state, bad)
        with pytest.raises(ValueError, match="scale must be"):
            game.render(0, bad)
    assert np.array_equal(type(game).render_state(state, 2.0), type(game).render_state(state, 2))


def test_single_env_reports_the_episode_at_its_last_step_only() -> None:
    """Like a Monitor'd vec env, GameEnv's step puts the game's episode figures in the info of the step
    that ends the episode (and only there), and each observation it returns stays as it was."""
    from envs import make_env

    env = make_env("snake")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    seen = [(obs, obs.copy())]
    while True:
        obs, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        seen.append((obs, obs.copy()))
        if terminated or truncated:
            break
        assert info == {}
    assert info == env.game.episode_info(0) and "score" in info
    assert all(np.array_equal(kept, copy) for kept, copy in seen)  # no view of a buffer a later step changed
    assert any(not np.array_equal(seen[0][1], copy) for _, copy in seen[1:])  # the board did change


def test_unseeded_resets_draw_new_boards_from_the_env_seed() -> None:
    """Gymnasium's contract: reset() without a seed draws the next board from the generator reset(seed=s)
    seeded, so the boards differ from one another and the sequence replays from the same s."""
    from envs import make_env

    def boards(env: Any) -> list[dict[str, Any]]:
        env.reset(seed=3)
        out = [env.get_state()]
        for _ in range(3):
            env.reset()
            out.append(env.get_state())
        return out

    first = boards(make_env("snake"))
    assert boards(make_env("snake")) == first
    assert all(first[i] != first[j] for i in range(4) for j in range(i))


@pytest.mark.parametrize("name", ["episode", "terminal_observation", "TimeLimit.truncated", "l"])
def test_a_game_figure_named_like_an_info_entry_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                           name: str) -> None:
    # GameEnv's last-step info holds the figures beside SB3's episode (Monitor), terminal_observation and
    # TimeLimit.truncated (its vector envs): a figure of one of those names was replaced without a word
    # (Gymnasium's RecordEpisodeStatistics raised a bare AssertionError). r, l, t, the vector env's, go too,
    # so that a game either env refuses, the other refuses as well.
    from envs.snake import Snake

    figures = Snake.episode_infos
    monkeypatch.setattr(Snake, "episode_infos",
                        lambda self, idx: {**figures(self, idx), name: np.ones(len(idx))})
    with pytest.raises(ValueError, match=rf"snake's episode figure '{re.escape(name)}' would replace"):
        gym.make("depthfirst/Snake-v0")


@pytest.mark.parametrize("refusal", ["figure", "render_mode", "render_scale"])
def test_a_refused_game_env_closes_the_game_it_made(monkeypatch: pytest.MonkeyPatch, refusal: str) -> None:
    # A refusal after GameEnv made its game left that game open: for a Game Boy a running PyBoy nobody
    # could close. Bad render arguments now make none; one the caller passed in stays the caller's, open.
    from envs.env import GameEnv
    from envs.snake import Snake

    made: list[Snake] = []
    init = Snake.__init__
    monkeypatch.setattr(Snake, "__init__", lambda self, *a, **k: (made.append(self), init(self, *a, **k))[1])
    if refusal == "figure":
        figures = Snake.episode_infos
        monkeypatch.setattr(Snake, "episode_infos",
                            lambda self, idx: {**figures(self, idx), "l": np.ones(len(idx))})
    bad: dict[str, Any] = {"figure": {}, "render_mode": {"render_mode": "human"},
                           "render_scale": {"render_scale": 0}}[refusal]
    with pytest.raises(ValueError):
        GameEnv("snake", **bad)
    assert [g._closed for g in made] == ([True] if refusal == "figure" else [])
    mine = Snake(num_envs=1)
    with pytest.raises(ValueError):
        GameEnv(mine, **bad)
    assert not mine._closed


def test_game_env_refuses_a_batched_game_and_renders_nothing_without_a_render_mode() -> None:
    from envs.env import GameEnv
    from envs.snake import Snake

    batched = Snake(num_envs=2)
    with pytest.raises(ValueError, match=r"^GameEnv wraps a game with num_envs=1$"):
        GameEnv(batched)
    assert not batched._closed  # the caller's game stays the caller's
    env = GameEnv("snake")
    env.reset(seed=0)
    assert env.render() is None
    env.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_a_picture_scale_too_large_for_memory_is_refused_by_name(name: str) -> None:
    """render's scale and GameEnv's render_scale had no upper bound: Sokoban's render(0, 10_000) set about
    drawing a 19 GB picture (still at it a minute later), larger ones a MemoryError naming no option;
    gym.make took render_scale=10**4 and failed only at the first render."""
    from envs.base import MAX_RENDER_SCALE

    game = _two_boards(name)
    try:
        assert game.render(0, MAX_RENDER_SCALE // 16).ndim == 3
        for bad in (MAX_RENDER_SCALE + 1, 10_000):
            with pytest.raises(ValueError, match=rf"^scale must be between 1 and {MAX_RENDER_SCALE}"):
                game.render(0, bad)
            with pytest.raises(ValueError, match=rf"^scale must be between 1 and {MAX_RENDER_SCALE}"):
                type(game).render_state(game.get_state(0), bad)
    finally:
        game.close()
    # Refused before the game is made (no emulator booted for it).
    with pytest.raises(ValueError, match=rf"^render_scale must be between 1 and {MAX_RENDER_SCALE}"):
        gym.make(envs.GAMES[name][1], render_mode="rgb_array", render_scale=MAX_RENDER_SCALE + 1)


def test_snake_pixel_observations_too_large_for_memory_are_refused() -> None:
    """pixel_scale had no upper bound: obs="pixels" with pixel_scale=8_000 made a (3, 80000, 80000)
    observation space, whose Box's low and high arrays (19 GB each) got the process killed for memory."""
    from envs import make_game
    from envs.snake import MAX_PIXEL_SCALE

    assert make_game("snake", obs="pixels", pixel_scale=MAX_PIXEL_SCALE).observation_space.shape[1] > 0
    with pytest.raises(ValueError, match=rf"^pixel_scale must be between 1 and {MAX_PIXEL_SCALE}"):
        make_game("snake", obs="pixels", pixel_scale=8_000)


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban", "gameboy", "pokemon_red"])
def test_board_bytes_is_what_each_more_board_holds(name: str) -> None:
    # compare sizes its play from a one-board game's bytes: they must be what each more board adds (a table
    # the boards share counted as a board's would refuse plays that fit), a Game Boy's emulator included.
    from envs.gameboy.core import EMULATOR_BYTES

    one, three = _new_game(name, 1), _new_game(name, 3)
    try:
        each = one.board_bytes()
        arrays = sum(v.nbytes for v in vars(three).values() if isinstance(v, np.ndarray))
        emulator = EMULATOR_BYTES if name in ("gameboy", "pokemon_red") else 0
        assert arrays - sum(v.nbytes for v in vars(one).values() if isinstance(v, np.ndarray)) == 2 * (
            each - emulator) > 0
    finally:
        one.close()
        three.close()


def test_a_closed_env_without_a_render_mode_renders_none_even_if_never_reset() -> None:
    # Without a render_mode a closed env renders None whether or not it was ever reset (GameEnv.render);
    # only an open env never reset is refused, as gym.make's OrderEnforcing refuses it.
    from envs import make_env

    blind = make_env("snake")
    blind.close()
    assert blind.render() is None


def test_a_key_a_game_built_on_a_built_in_one_adds_is_refused_saying_where_to_list_it() -> None:
    # A game of one's own built on Snake (or duel Snake) inherits the list of keys its states may hold: a key
    # its own get_state adds was refused with "fix its name, or remove it", though the game wrote it.
    from envs.snake import Snake
    from envs.snake_duel import SnakeDuel

    class Poison(Snake):
        name = "poison"

        def get_state(self, i: int) -> dict[str, Any]:
            return {**super().get_state(i), "poison": 3}

    game = Poison(1, size=6)
    game.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"^state holds 'poison', no key of a poison state \(game, .*\): "
                                         r"fix its name, or remove it; if Poison's get_state writes it, list "
                                         r"it in Poison.STATE_OPTIONAL_KEYS \(it inherits Snake's\)$"):
        game.set_state(0, game.get_state(0))

    class Armoured(SnakeDuel):
        name = "armoured"

    duel = Armoured(1)
    duel.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    state = duel.get_state(0)
    snakes = [{**s, "armour": 1} for s in state["snakes"]]
    with pytest.raises(ValueError, match=r"^state's snake 0 holds 'armour', no key of a armoured state's "
                                         r"snake 0 \(body, direction, alive, score\): fix its name, or "
                                         r"remove it; if Armoured's get_state writes it, list it in "
                                         r"Armoured.SNAKE_KEYS \(it inherits SnakeDuel's\)$"):
        duel.set_state(0, {**state, "snakes": snakes})
    # The built-in games' own messages say only to fix or remove the key (a user's edit of a state).
    snake = Snake(1, size=6)
    snake.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    with pytest.raises(ValueError, match=r"\(game, .*\): fix its name, or remove it$"):
        snake.set_state(0, {**snake.get_state(0), "poison": 3})


def test_unknown_state_keys_name_the_first_and_the_class_whose_list_is_inherited() -> None:
    # Hand mutation pass on check_unknown_keys: naming the last unknown key instead of the first, or the
    # class's direct base instead of the one that defines the list, passed every test (one unknown key,
    # games one level below Snake).
    from envs.snake import Snake

    class Poison(Snake):
        name = "poison"

    class Venom(Poison):
        name = "venom"

    game = Venom(1, size=6)
    game.reset(np.zeros(1, dtype=np.int64), np.array([3], dtype=np.uint64))
    state = game.get_state(0)
    with pytest.raises(ValueError, match=r"^state holds 'fang', no key of a venom state \(game, .*\): fix "
                                         r"its name, or remove it; if Venom's get_state writes it, list it "
                                         r"in Venom.STATE_OPTIONAL_KEYS \(it inherits Snake's\)$"):
        game.set_state(0, {**state, "fang": 1, "bite": 2})
    assert game.get_state(0) == state
