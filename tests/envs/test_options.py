"""Bad game options: every constructor argument is checked up front, with a ValueError that names the
option by its keyword (train_ppo.py finds the flag to blame by that name)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs.gameboy.roms import TEST_CARTRIDGE

NAN = float("nan")
CART = {"game": "depthfirst_test", "rom": str(TEST_CARTRIDGE)}  # GameBoy checks options before emulating
POKEMON = {"rom": str(TEST_CARTRIDGE), "allow_unknown_rom": True}


def needs_pyboy(name: str) -> None:
    """Skip unless PyBoy (the gameboy extra) is installed, for a made Game Boy game: it runs the emulator."""
    if name in ("gameboy", "pokemon_red"):
        pytest.importorskip("pyboy")


@pytest.mark.parametrize("name, kwargs, message", [
    # what YAML makes of `size=ten`, `size=10.5` and `size=`
    ("snake", {"size": "ten"}, "snake size must be a whole number between 4 and 32, got 'ten'"),
    ("snake", {"size": 10.5}, "snake size must be a whole number between 4 and 32, got 10.5"),
    ("snake", {"size": None}, "snake size must be a whole number between 4 and 32, got None"),
    ("snake", {"size": True}, "snake size must be a whole number between 4 and 32, got True"),
    ("snake", {"size": 3}, "snake size must be between 4 and 32, got 3"),
    ("snake", {"starvation": "abc"}, "starvation must be a whole number >= 1, got 'abc'"),
    ("snake", {"obs": "pixels", "pixel_scale": 2.5},
     "pixel_scale must be a whole number between 1 and 64, got 2.5"),
    ("snake", {"num_envs": 1.5}, "num_envs must be a whole number >= 1, got 1.5"),
    ("snake", {"num_envs": "4"}, "num_envs must be a whole number >= 1, got '4'"),
    ("snake", {"num_envs": 0}, "num_envs must be >= 1, got 0"),
    ("snake_duel", {"apple_reward": NAN}, "apple_reward must be a finite number, got nan"),
    ("snake_duel", {"win_reward": "1"}, "win_reward must be a finite number, got '1'"),
    ("snake_duel", {"start_length": 9}, "start_length must be between 2 and 5 on the 10×10 board, got 9"),
    ("snake_duel", {"max_rounds": 1.5}, "max_rounds must be a whole number >= 1, got 1.5"),
    # Counts live in int64 arrays: past 2**63 - 1 NumPy's OverflowError, named no option.
    ("snake_duel", {"max_rounds": 2**63}, "max_rounds must be at most 2**63 - 1 (a 64-bit count), got 9223"),
    ("rotation", {"max_steps": 1e19}, "max_steps must be at most 2**63 - 1 (a 64-bit count), got 1e+19"),
    ("rotation", {"view_size": 20.5}, "view_size must be a whole number between 16 and 128, got 20.5"),
    ("rotation", {"step_cost": NAN}, "step_cost must be a finite number, got nan"),
    ("rotation", {"progress_reward": float("inf")}, "progress_reward must be a finite number, got inf"),
    # Rewards are float32, where 1e39 was inf.
    ("rotation", {"step_cost": 1e39}, "step_cost must be within float32's ±3.403e+38, got 1e+39"),
    ("rotation", {"progress_reward": -4e38}, "progress_reward must be within float32's ±3.403e+38"),
    ("rotation", {"step_cost": True}, "step_cost must be a finite number, got True"),  # not 1.0
    ("snake_duel", {"win_reward": -1e39}, "win_reward must be within float32's ±3.403e+38, got -1e+39"),
    # Each fit alone, but one step pays them together: a reward of -inf (-2e38 - 2e38 in float32).
    ("rotation", {"step_cost": 2e38, "progress_reward": -2e38},
     "|step_cost| + |progress_reward| must be at most float32's 3.403e+38 (one step can pay them together), "
     "got 4e+38"),
    ("snake_duel", {"death_penalty": 3e38, "win_reward": 1e38}, "|death_penalty| + |win_reward| must be at"),
    ("snake_duel", {"apple_reward": -3e38, "win_reward": 1e38}, "|apple_reward| + |win_reward| must be at"),
    ("rotation", {"min_cubes": 7, "max_cubes": 6}, "min_cubes (7) must not exceed max_cubes (6)"),
    ("rotation", {"max_cubes": 2}, "max_cubes must be between 3 and 8 (fewer than 3 cubes are always"),
    ("rotation", {"min_turns": 3, "max_turns": 2}, "min_turns (3) must not exceed max_turns (2)"),
    ("rotation", {"max_turns": "3"}, "max_turns must be a whole number between 1 and"),
    ("sokoban", {"num_boxes": [1, 2, 3]}, "num_boxes must be a whole number or a [lo, hi] pair, got [1, 2"),
    ("sokoban", {"num_boxes": [2, 1]}, "num_boxes [lo, hi] must have lo <= hi, got [2, 1]"),
    ("sokoban", {"num_boxes": 5}, "num_boxes must be between 1 and 4 on the 8x8 board, got 5"),
    ("sokoban", {"size": 16, "num_boxes": 7}, "num_boxes must be between 1 and 6 on the 16x16 board, got 7"),
    ("sokoban", {"size": "7"}, "sokoban size must be a whole number between 6 and 16 (walls included)"),
    ("sokoban", {"difficulty": ["hard"]}, "difficulty must be one of easy, medium, hard, got ['hard']"),
    ("sokoban", {"max_steps": 0}, "max_steps must be >= 1, got 0"),
    ("sokoban", {"deadlock_end": "false"}, "deadlock_end must be true or false, got 'false'"),
    ("gameboy", {**CART, "obs_size": "abc"}, "obs_size must be a [height, width] pair, got 'abc'"),
    ("gameboy", {**CART, "obs_size": [72, 200]}, "obs_size width must be between 1 and 160, got 200"),
    ("gameboy", {**CART, "press_frames": 30},
     "press_frames must be between 1 and 23 (less than step_frames 24), got 30"),
    ("gameboy", {**CART, "step_frames": 1}, "step_frames must be >= 2, got 1"),  # named, not press_frames
    ("gameboy", {**CART, "press_frames": 24},
     "press_frames must be between 1 and 23 (less than step_frames 24), got 24"),
    ("gameboy", {**CART, "obs_size": [145, 80]}, "obs_size height must be between 1 and 144, got 145"),
    ("gameboy", {**CART, "frame_stack": 0}, "frame_stack must be >= 1, got 0"),
    ("gameboy", {**CART, "score_weight": NAN}, "score_weight must be a finite number, got nan"),
    ("gameboy", {**CART, "death_penalty": 1e39}, "death_penalty must be within float32's ±3.403e+38"),
    # Each weight fits alone, but the step multiplies it by the score's change: 3e38 x 10 points was inf.
    ("gameboy", {**CART, "score_weight": 3e38},
     "|score_weight| × 4.25555e+07 + |progress_weight| × 4350 + |death_penalty| must be at most float32's"),
    ("gameboy", {**CART, "progress_weight": -1e35}, "got 4.35e+38"),
    ("gameboy", {**CART, "rom": 5}, "rom must be a path, got 5"),
    ("gameboy", {**CART, "rom": ""}, "rom must be a path, got ''"),  # Path("") is the current folder
    ("gameboy", {**CART, "state": ""}, "state must be a path, got ''"),
    ("gameboy", {"game": ["tetris"]}, "unknown game ['tetris']"),
    ("pokemon_red", {**POKEMON, "reward": {"event": NAN}}, "reward.event must be a finite number, got nan"),
    ("pokemon_red", {**POKEMON, "reward": {"heal": 4e38}}, "reward.heal must be within float32's ±3.403e+38"),
    ("pokemon_red", {**POKEMON, "reward": {"event": 1e38}}, "|reward.event| × 2560 + |reward.badge| × 8 + "),
    ("pokemon_red", {**POKEMON, "reward": "event"}, "reward must be a mapping of reward terms to weights"),
    ("pokemon_red", {**POKEMON, "visit_decay": 0.0}, "visit_decay must be in (0, 1], got 0.0"),
    ("pokemon_red", {**POKEMON, "swarm_prob": NAN}, "swarm_prob must be a finite number, got nan"),
    # Levels past the cap count damped: a negative share made each level past it cost reward, 2 doubled it.
    ("pokemon_red", {**POKEMON, "level_damping": -1}, "level_damping must be in [0, 1], got -1"),
    ("pokemon_red", {**POKEMON, "level_damping": 2}, "level_damping must be in [0, 1], got 2"),
    ("pokemon_red", {**POKEMON, "still_grace": "8"}, "still_grace must be a whole number >= 0, got '8'"),
    ("pokemon_red", {**POKEMON, "allow_unknown_rom": "yes"}, "allow_unknown_rom must be true or false"),
])
def test_a_bad_option_is_a_value_error_naming_it(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        envs.make_game(name, **kwargs)


@pytest.mark.parametrize("name, kwargs, attr, value, message", [
    ("snake", {}, "starvation", "abc", "starvation must be a whole number >= 1, got 'abc'"),
    ("snake", {}, "starvation", 0, "starvation must be >= 1, got 0"),
    ("snake_duel", {}, "max_rounds", 1.5, "max_rounds must be a whole number >= 1, got 1.5"),
    ("snake_duel", {}, "num_apples", 95, "num_apples must be between 1 and 94 on the 10×10 board"),
    ("rotation", {}, "max_steps", 1e19, "max_steps must be at most 2**63 - 1 (a 64-bit count), got 1e+19"),
    # None is refused where the constructor has no default for it (its ValueError, not a TypeError)
    ("rotation", {}, "max_steps", None, "max_steps must be a whole number >= 1, got None"),
    ("sokoban", {}, "max_steps", 0, "max_steps must be >= 1, got 0"),
    ("sokoban", {}, "deadlock_end", "false", "deadlock_end must be true or false, got 'false'"),
    ("gameboy", CART, "max_steps", 0, "max_steps must be >= 1, got 0"),
    ("gameboy", CART, "max_steps", "64", "max_steps must be a whole number >= 1, got '64'"),
    ("gameboy", CART, "press_frames", 24, "press_frames must be between 1 and 23 (less than step_frames 24)"),
    # Reward options the step reads live: set_attr took NaN, a str or a sum past float32 (a reward of inf).
    ("rotation", {}, "step_cost", NAN, "step_cost must be a finite number, got nan"),
    ("rotation", {"step_cost": 2e38}, "progress_reward", -2e38,
     "|step_cost| + |progress_reward| must be at most float32's 3.403e+38 (one step can pay them together)"),
    ("snake_duel", {}, "win_reward", "1", "win_reward must be a finite number, got '1'"),
    ("snake_duel", {"death_penalty": 3e38}, "win_reward", 1e38, "|death_penalty| + |win_reward| must be at"),
    ("gameboy", CART, "score_weight", 3e38,
     "|score_weight| × 4.25555e+07 + |progress_weight| × 4350 + |death_penalty| must be at most float32's"),
    ("gameboy", CART, "death_penalty", NAN, "death_penalty must be a finite number, got nan"),
    ("pokemon_red", POKEMON, "reward", {"event": NAN}, "reward.event must be a finite number, got nan"),
    ("pokemon_red", POKEMON, "reward", {"evnt": 1.0}, "unknown reward terms reward.evnt"),
    # Read live by the step (visit_decay, still_grace) or reset (swarm, swarm_prob): set_attr refused them.
    ("pokemon_red", POKEMON, "visit_decay", 0.0, "visit_decay must be in (0, 1], got 0.0"),
    ("pokemon_red", POKEMON, "still_grace", "8", "still_grace must be a whole number >= 0, got '8'"),
    ("pokemon_red", POKEMON, "swarm_prob", NAN, "swarm_prob must be a finite number, got nan"),
    ("pokemon_red", POKEMON, "swarm_prob", 1.5, "swarm_prob must be in [0, 1], got 1.5"),
    ("pokemon_red", POKEMON, "swarm", "yes", "swarm must be true or false, got 'yes'"),
    ("pokemon_red", POKEMON, "swarm", True, "swarm=True needs archive_dir (the folder of archived states)"),
])
def test_set_attr_refuses_a_bad_setting_as_the_constructor_does(name: str, kwargs: dict, attr: str,
                                                                 value: object, message: str) -> None:
    # set_attr took any value for a setting the constructor checks: max_steps 0 or press_frames past
    # step_frames broke the next steps, a str failed inside a kernel.
    with pytest.raises(ValueError, match=re.escape(message)):
        envs.make_game(name, **{**kwargs, attr: value})
    needs_pyboy(name)  # the constructor refused before emulating; the vector env's game plays
    v = envs.make_vec(name, 2, num_workers=0, **kwargs)
    try:
        before = v.get_attr(attr)
        with pytest.raises(ValueError, match=re.escape(message)):
            v.set_attr(attr, value)
        assert v.get_attr(attr) == before
        v.reset()
        v.step(np.zeros(2, dtype=np.int64))  # it plays on by the settings it had
    finally:
        v.close()


def test_set_attr_takes_a_setting_as_the_constructor_does() -> None:
    # An integral float or a NumPy integer becomes the plain int the constructor would keep.
    v = envs.make_vec("snake", 2, num_workers=0)
    try:
        v.set_attr("starvation", 7.0)
        assert v.get_attr("starvation") == [7, 7] and type(v.get_attr("starvation")[0]) is int
        v.set_attr("starvation", np.int32(9))
        assert type(v.get_attr("starvation")[0]) is int
    finally:
        v.close()


@pytest.mark.parametrize("name, kwargs, attr, value", [
    ("snake", {}, "size", 12),  # the arrays and the observation space are sized at construction
    ("snake", {}, "obs", "pixels"),  # the observation space is made for the first
    ("snake", {}, "num_envs", 4),
    ("snake_duel", {}, "start_length", 4),
    ("rotation", {}, "view_size", 32),
    ("sokoban", {}, "num_boxes", 2),  # kept as a (lo, hi) pair: an int broke the next reset
    ("gameboy", CART, "frame_stack", 4),
    ("gameboy", CART, "obs_size", [36, 40]),
    ("gameboy", CART, "game", "tetris"),
    ("pokemon_red", POKEMON, "visited_mask", False),
    # The episode's best level value, which the level term pays past, is kept in the old cap's terms.
    ("pokemon_red", POKEMON, "level_cap", 20),
    ("pokemon_red", POKEMON, "level_damping", 0.5),
])
def test_set_attr_refuses_an_option_fixed_at_construction(name: str, kwargs: dict, attr: str,
                                                          value: object) -> None:
    # set_attr("size", 12) was taken: the next step indexed arrays made for 10x10 boards, and "obs" or
    # "frame_stack" changed nothing the game read. It is refused, naming the option and how to change it.
    needs_pyboy(name)
    v = envs.make_vec(name, 2, num_workers=0, **kwargs)
    try:
        before = v.get_attr("__dict__")[0].get(attr, "unset")
        one_board = "" if attr == "num_envs" else f" or, for one board, gymnasium.make(..., {attr}={value!r})"
        with pytest.raises(ValueError, match=re.escape(f"{attr} is fixed when the game is made") + ".*"
                           + re.escape(f"make a new env with it, e.g. make_vec(..., {attr}={value!r})")
                           + re.escape(f"{one_board};")):
            v.set_attr(attr, value)
        assert v.get_attr("__dict__")[0].get(attr, "unset") == before
        v.reset()
        v.step(np.zeros(2, dtype=np.int64))
    finally:
        v.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_set_attr_checks_reward_options_and_refuses_fixed_ones_on_every_game(workers: int) -> None:
    v = envs.make_vec("rotation", 4, num_workers=workers)
    try:
        v.set_attr("step_cost", 0.5, indices=[2, 3] if workers else None)
        with pytest.raises(ValueError, match=r"^step_cost must be a finite number, got nan$"):
            v.set_attr("step_cost", NAN)  # every game checks it before any sets it
        with pytest.raises(ValueError, match=r"^view_size is fixed when the game is made"):
            v.set_attr("view_size", 32)
        assert v.get_attr("step_cost") == ([0.01, 0.01, 0.5, 0.5] if workers else [0.5] * 4)
        assert v.get_attr("view_size") == [24] * 4
        v.reset()
        _, rewards, dones, _ = v.step(np.zeros(4, dtype=np.int64))
        # The step pays the cost it was given (a solve pays 1 - no cost; none is solved in one turn here).
        assert not dones.any()
        assert rewards.tolist() == pytest.approx([-0.01, -0.01, -0.5, -0.5] if workers else [-0.5] * 4)
    finally:
        v.close()


def test_set_attr_of_a_game_boy_weight_none_is_the_games_own_weight() -> None:
    # None means the wrapped game's weight in the constructor; set_attr reads it the same way.
    needs_pyboy("gameboy")
    v = envs.make_vec("gameboy", 1, num_workers=0, **CART, score_weight=2.0)
    try:
        v.set_attr("score_weight", None)
        assert v.get_attr("score_weight") == [1.0]  # depthfirst_test's own
    finally:
        v.close()


@pytest.mark.parametrize("name, kwargs, attr, default", [
    ("snake", {"size": 6}, "starvation", 72),  # 2·N²
    ("sokoban", {"difficulty": "hard"}, "max_steps", 200),  # the difficulty's
])
def test_set_attr_of_a_step_limit_none_is_the_constructors_default(name: str, kwargs: dict, attr: str,
                                                                   default: int) -> None:
    # The constructor takes None for the default limit; set_attr refused it ("must be a whole number >= 1,
    # got None"), so the default could not be restored without knowing how it is computed.
    v = envs.make_vec(name, 2, num_workers=0, **kwargs, **{attr: 5})
    try:
        v.set_attr(attr, None)
        assert v.get_attr(attr) == [default, default]
    finally:
        v.close()


def test_a_step_limit_default_is_computed_for_each_game() -> None:
    # None stands for a default read from the game it is set on (Snake's 2·N², Sokoban's preset): each game
    # made gets its own, not the value computed for the first game of its class.
    assert [envs.make_game("snake", size=n).starvation for n in (6, 8)] == [72, 128]
    assert [envs.make_game("sokoban", difficulty=d).max_steps for d in ("hard", "easy")] == [200, 120]


def test_finite_takes_the_ends_of_its_ranges() -> None:
    # float32's own largest value is a reward the games can hold; float64's, an option that is not one.
    from envs.base import finite

    top = float(np.finfo(np.float32).max)
    assert envs.make_game("rotation", step_cost=0, progress_reward=-top).progress_reward == -top
    # An apple and a death never come in one round: only the win or loss adds to either.
    duel = envs.make_game("snake_duel", apple_reward=top, death_penalty=-top, win_reward=0)
    assert duel.apple_reward == top
    assert finite("hang_timeout_s", sys.float_info.max) == sys.float_info.max


def test_level_damping_takes_both_ends_of_its_range() -> None:
    # [0, 1]: 0 counts no level past the cap, 1 counts each in full; only values outside are refused.
    needs_pyboy("pokemon_red")
    for damping in (0.0, 1.0):
        game = envs.make_game("pokemon_red", num_envs=1, level_damping=damping, **POKEMON)
        try:
            assert game.level_damping == damping
        finally:
            game.close()


def test_the_largest_64_bit_count_is_taken() -> None:
    # 2**63 is refused (the int64 arrays cannot hold it); 2**63 - 1, which they can, is not.
    game = envs.make_game("rotation", num_envs=1, max_steps=2**63 - 1)
    game.reset(np.zeros(1, dtype=np.int64), [0])
    state = game.get_state(0)
    assert state["max_steps"] == 2**63 - 1
    game.set_state(0, state)
    assert game.get_state(0) == state


def test_numpy_integers_are_whole_numbers() -> None:
    g = envs.make_game("snake", num_envs=np.int32(2), size=np.int64(8), starvation=np.uint16(50))
    assert (g.num_envs, g.size, g.starvation) == (2, 8, 50)
    assert all(type(v) is int for v in (g.num_envs, g.size, g.starvation))  # plain ints in states and configs
    assert envs.make_game("rotation", step_cost=np.float32(0.5), progress_reward=1).step_cost == 0.5
    # Integral floats and 0/1 switches, which earlier versions took (run configs may hold them).
    old = envs.make_game("sokoban", size=8.0, max_steps=200.0, deadlock_end=1)
    assert (old.size, old.max_steps, old.deadlock_end) == (8, 200, True) and type(old.size) is int


@pytest.mark.parametrize("name, given, kept", [
    ("snake", {"size": 10.0, "starvation": 50.0, "obs": "grid"},
     {"size": 10, "starvation": 50, "obs": "grid"}),
    ("snake_duel", {"num_apples": 3.0, "apple_reward": 2.0}, {"num_apples": 3, "apple_reward": 2.0}),
    ("rotation", {"view_size": 32.0, "step_cost": 1.0}, {"view_size": 32, "step_cost": 1.0}),
    ("sokoban", {"size": 8.0, "num_boxes": [1.0, 2.0], "max_steps": None}, {"size": 8, "num_boxes": [1, 2],
                                                                               "max_steps": None}),
    ("gameboy", {"obs_size": [72.0, 80.0], "max_steps": 512.0, "score_weight": 1.0},
     {"obs_size": [72, 80], "max_steps": 512, "score_weight": 1.0}),  # press_frames from the core's __init__
    ("pokemon_red", {"level_cap": 15.0, "press_frames": 8.0, "reward": {"badge": 2.0}},
     {"level_cap": 15, "press_frames": 8, "reward": {"badge": 2.0}}),
    ("snake", {"size": 10.5, "starvation": "ten"}, {"size": 10.5, "starvation": "ten"}),  # the game refuses
    # YAML 1.1 (--set, --config) reads a number with no dot or no exponent sign as a string
    ("rotation", {"step_cost": "1e-2", "view_size": "3.2e1"}, {"step_cost": 0.01, "view_size": 32}),
    ("snake_duel", {"win_reward": "1e39", "opponent": "1e3"}, {"win_reward": 1e39, "opponent": "1e3"}),
    # A float option given an int (--set env_kwargs.step_cost=1) is a float; a switch or an int past a
    # float's range is left for the game to refuse
    ("rotation", {"step_cost": 1, "progress_reward": np.int64(2), "view_size": 32},
     {"step_cost": 1.0, "progress_reward": 2.0, "view_size": 32}),
    ("snake_duel", {"win_reward": True, "apple_reward": 10**400},
     {"win_reward": True, "apple_reward": 10**400}),
])
def test_whole_options_are_stored_as_the_game_reads_them(name: str, given: dict, kept: dict) -> None:
    from envs.base import whole_options

    out = whole_options(envs.game_class(name), given)
    assert out == kept and all(type(out[k]) is type(kept[k]) for k in kept)
    lists = [k for k in kept if isinstance(kept[k], list)]
    assert all(type(a) is type(b) for k in lists for a, b in zip(out[k], kept[k], strict=True))


@pytest.mark.parametrize("name", sorted(envs.GAMES))
def test_whole_options_reads_every_registered_games_annotations(name: str) -> None:
    # whole_options evaluates each __init__ annotation of the game and its bases: one naming a type
    # imported only for type checkers would be a NameError in train_ppo's check_game.
    from envs.base import whole_options

    out = whole_options(envs.game_class(name), {"num_envs": 2.0})
    assert out == {"num_envs": 2} and type(out["num_envs"]) is int


@pytest.mark.parametrize("name", sorted(envs.BUILTIN_GAMES))
def test_every_built_in_games_constructor_annotations_evaluate(name: str) -> None:
    # whole_options reads an annotation that raises as none (a package's game may name a type imported for
    # type checkers only): a built-in game's that raised (np.int, gone from NumPy) would leave its option
    # unread as silently, so this project's own must all evaluate.
    import typing

    for c in envs.game_class(name).__mro__:
        if "__init__" in vars(c) and c.__module__.split(".")[0] == "envs":
            typing.get_type_hints(c.__init__)


def test_whole_options_reads_a_subclass_annotation_over_its_bases() -> None:
    # An option a game re-annotates (a Game Boy game over its core) is read as the game's own __init__
    # reads it, whichever way: a base's int must not make the subclass's float 2.0 an int, nor the reverse.
    from envs.base import whole_options

    class Core:
        def __init__(self, whole: int = 1, weight: float = 1.0) -> None: ...

    class Game(Core):
        def __init__(self, whole: float = 1.0, weight: int = 1) -> None: ...

    out = whole_options(Game, {"whole": 2.0, "weight": 2.0})
    assert out == {"whole": 2.0, "weight": 2} and type(out["whole"]) is float and type(out["weight"]) is int


def test_sokoban_preset_too_big_for_the_board_says_what_to_change() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "difficulty 'hard' places 3-4 boxes; at most 3 fit on the 7x7 board: use size 8 or more, "
            "an easier difficulty, or num_boxes of at most 3")):
        envs.make_game("sokoban", difficulty="hard", size=7)
    assert envs.make_game("sokoban", difficulty="hard", size=7, num_boxes=3).num_boxes == (3, 3)
    assert envs.make_game("sokoban", difficulty="hard", size=8).num_boxes == (3, 4)


@pytest.mark.parametrize("make", [lambda: envs.make_env("snake", num_envs=2),
                                  lambda: gym.make("depthfirst/Snake-v0", num_envs=2)])
def test_the_single_board_env_refuses_num_envs(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="GameEnv is one board and takes no num_envs"):
        make()


def test_a_game_passed_in_refuses_game_options_it_would_ignore() -> None:
    # GameEnv(make_game("snake"), size=6) played the game's size 10: the options were dropped unannounced.
    from envs.env import GameEnv

    game = envs.make_game("snake")
    with pytest.raises(ValueError, match=re.escape(
            "GameEnv got a Game and the game options ['size']: a Game's options are set when it is made "
            "(envs.make_game('snake', size=...)); give GameEnv the game's name to make it here")):
        GameEnv(game, size=6)
    assert game.new_obs_buffer().shape == (1, 4, 10, 10)  # the caller's game, refused, stays open
    env = GameEnv(game, render_mode="rgb_array", render_scale=2)  # the env's own options still pass
    assert env.game is game and env.reset(seed=0)[0].shape == (4, 10, 10)
    env.close()


def test_the_game_may_be_given_by_keyword() -> None:
    from stable_baselines3.common.env_util import make_vec_env

    from envs.env import GameEnv

    assert GameEnv(game="snake", size=6).game.size == 6  # as SB3's make_vec_env(GameEnv, env_kwargs=...)
    venv = make_vec_env(GameEnv, n_envs=2, env_kwargs={"game": "snake"})
    assert venv.num_envs == 2
    venv.close()
    with pytest.raises(ValueError, match="GameEnv needs the game"):
        GameEnv()


def test_sb3_set_attr_on_the_single_board_env_sets_the_games_setting() -> None:
    # DummyVecEnv.set_attr setattr's the GameEnv: it kept starvation=5 beside the game's 200, get_attr read
    # the 5 back, and the game played on by 200. Now it is the game's, checked as GameVecEnv checks it.
    from stable_baselines3.common.vec_env import DummyVecEnv

    from envs.env import GameEnv

    venv = DummyVecEnv([lambda: GameEnv("snake")])
    try:
        venv.set_attr("starvation", 5.0)
        game = venv.envs[0].unwrapped.game
        assert game.starvation == 5 and type(game.starvation) is int and venv.get_attr("starvation") == [5]
        assert "starvation" not in vars(venv.envs[0])
        with pytest.raises(ValueError, match=r"^starvation must be >= 1, got 0$"):
            venv.set_attr("starvation", 0)
        with pytest.raises(ValueError, match=r"^size is fixed when the game is made: make a new env"):
            venv.set_attr("size", 12)
        # GameEnv.game is the game it plays; the Game Boy's `game` option shares its name.
        with pytest.raises(ValueError, match=r"^GameEnv\.game is the game it plays"):
            venv.set_attr("game", "tetris")
        assert venv.get_attr("game") == [game] and game.starvation == 5 and "size" not in vars(venv.envs[0])
        venv.reset()
        venv.step(np.zeros(1, dtype=np.int64))
    finally:
        venv.close()


def test_gymnasium_set_wrapper_attr_reaches_the_game_through_wrappers() -> None:
    env = gym.wrappers.RecordEpisodeStatistics(gym.make("depthfirst/Snake-v0", max_episode_steps=100))
    try:
        game = env.unwrapped.game
        assert env.set_wrapper_attr("starvation", 7)
        assert game.starvation == 7 and env.get_wrapper_attr("starvation") == 7
        env.unwrapped.starvation = 9  # plain assignment on the env
        assert game.starvation == 9 and env.unwrapped.starvation == 9
        with pytest.raises(ValueError, match=r"^starvation must be a whole number >= 1, got 'x'$"):
            env.set_wrapper_attr("starvation", "x")
        with pytest.raises(ValueError, match=r"^size is fixed when the game is made"):
            env.set_wrapper_attr("size", 12)  # refused, not kept on the outermost wrapper
        assert game.starvation == 9 and "size" not in vars(env)
        env.set_wrapper_attr("my_note", 1)  # any other name is the wrappers' as before
        assert env.my_note == 1
    finally:
        env.close()


def test_set_wrapper_attr_on_the_env_itself_sets_the_game() -> None:
    # Called on GameEnv unwrapped (as SB3's DummyVecEnv holds it): gymnasium 1.0's Env.set_wrapper_attr
    # took no `force`, so GameEnv's override raised a TypeError there (pyproject's gymnasium floor).
    from stable_baselines3.common.vec_env import DummyVecEnv

    from envs.env import GameEnv

    env = GameEnv("snake")
    assert env.set_wrapper_attr("starvation", 7) is True
    assert env.game.starvation == 7
    venv = DummyVecEnv([lambda: GameEnv("snake")])
    try:
        venv.env_method("set_wrapper_attr", "starvation", 4)
        assert venv.envs[0].game.starvation == 4
    finally:
        venv.close()


def test_a_closed_or_copied_single_board_env_keeps_its_game_settings() -> None:
    import copy
    import pickle

    from envs.env import GameEnv

    env = GameEnv("snake", starvation=11)
    twin = pickle.loads(pickle.dumps(copy.deepcopy(env)))
    twin.starvation = 12
    assert (env.starvation, twin.starvation, twin.game.starvation) == (11, 12, 12)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = env.nothing


def test_sb3_subproc_set_attr_and_a_wrapped_envs_env_method_reach_the_game() -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from envs.env import GameEnv

    sub = SubprocVecEnv([lambda: GameEnv("snake")])
    try:
        sub.set_attr("starvation", 5)
        assert sub.get_attr("starvation") == [5] and sub.get_attr("game")[0].starvation == 5
    finally:
        sub.close()
    # Over make_vec_env's Monitor, SB3's set_attr stays on the Monitor: set_wrapper_attr reaches the game.
    venv = make_vec_env(GameEnv, n_envs=1, env_kwargs={"game": "snake"})
    try:
        venv.env_method("set_wrapper_attr", "starvation", 6)
        assert venv.get_attr("starvation") == [6] and venv.envs[0].unwrapped.game.starvation == 6
        with pytest.raises(ValueError, match=r"^size is fixed when the game is made"):
            venv.env_method("set_wrapper_attr", "size", 6)
    finally:
        venv.close()


@pytest.mark.parametrize("name, kwargs, attr, value", [
    ("snake", {"obs": "pixels", "pixel_scale": 2}, "obs", "pixels"),
    ("snake", {"size": 7}, "size", 7),
    ("sokoban", {"num_boxes": 2}, "num_boxes", (2, 2)),  # kept as a (lo, hi) pair, as get_attr reads it
    ("rotation", {"view_size": 32}, "view_size", 32),
])
def test_a_fixed_option_reads_back_alike_from_one_board_and_the_vector_env(name: str, kwargs: dict, attr: str,
                                                                          value: object) -> None:
    # GameEnv's get_attr (and env.size) raised AttributeError for an option fixed at construction, which
    # GameVecEnv.get_attr read from its game; Snake kept obs under another name, so neither read it.
    from stable_baselines3.common.vec_env import DummyVecEnv

    from envs.env import GameEnv

    one = DummyVecEnv([lambda: GameEnv(name, **kwargs)])
    many = envs.make_vec(name, 2, num_workers=0, **kwargs)
    try:
        assert one.get_attr(attr) == [value] and many.get_attr(attr) == [value, value]
        assert one.envs[0].get_wrapper_attr(attr) == value
    finally:
        one.close()
        many.close()


def test_num_envs_refusal_names_only_the_vector_env() -> None:
    v = envs.make_vec("snake", 2, num_workers=0)
    try:
        with pytest.raises(ValueError, match=r"e\.g\. make_vec\(\.\.\., num_envs=4\); set_attr changes"):
            v.set_attr("num_envs", 4)
    finally:
        v.close()


def test_any_attribute_name_other_than_a_games_option_is_the_single_board_envs_own() -> None:
    # __setattr__ read name[0] to tell the env's own _-state apart: setattr(env, "", 1), which Python takes,
    # was an IndexError.
    from envs.env import GameEnv

    env = GameEnv("snake")
    setattr(env, "", 1)
    assert getattr(env, "") == 1 and env.game.starvation == 200


def test_options_are_the_named_constructor_parameters_and_live_where_assignment_checks_them() -> None:
    # Read from the signatures: neither `self` nor Pokémon's **emulator_kwargs is an option, the base's
    # named parameters are, and duel Snake's opponent (a property with a setter) is live.
    from envs.gameboy.pokemon import PokemonRed
    from envs.snake_duel import SnakeDuel

    fixed, live = PokemonRed.options()
    assert set(fixed) == {"num_envs", "rom", "state", "allow_unknown_rom", "level_cap", "level_damping",
                          "visited_mask", "archive_dir", "obs_size", "frame_stack", "boot_frames"}
    assert set(live) == {"reward", "visit_decay", "still_grace", "swarm", "swarm_prob", "max_steps",
                         "press_frames", "step_frames"}
    assert "opponent" in SnakeDuel.options()[1] and "opponent" not in SnakeDuel.options()[0]


@pytest.mark.parametrize("workers", [0, 1])
def test_set_attr_switches_the_duel_opponent_between_steps(workers: int) -> None:
    # opponent is a property with a setter: live, so set_attr reaches it rather than refusing it as fixed.
    v = envs.make_vec("snake_duel", 2, num_workers=workers)
    try:
        v.set_attr("opponent", "random")
        assert v.get_attr("opponent") == ["random", "random"]
        with pytest.raises(ValueError, match=r"^opponent must be one of"):
            v.set_attr("opponent", "nobody")
        v.reset()
        v.step(np.zeros(2, dtype=np.int64))
    finally:
        v.close()


def test_a_fixed_options_refusal_names_the_settings_set_attr_does_change() -> None:
    v = envs.make_vec("rotation", 1, num_workers=0)
    try:
        with pytest.raises(ValueError, match=r"set_attr changes only the rotation settings max_steps, "
                                             r"step_cost, progress_reward$"):
            v.set_attr("view_size", 32)
    finally:
        v.close()


def test_set_attr_of_pokemon_reward_is_the_defaults_with_the_terms_given() -> None:
    # As in the constructor: a term left out takes its REWARD_WEIGHTS weight, not the one set before.
    from envs.gameboy.pokemon import REWARD_WEIGHTS

    needs_pyboy("pokemon_red")
    v = envs.make_vec("pokemon_red", 1, num_workers=0, **POKEMON, reward={"badge": 5.0})
    try:
        v.set_attr("reward", {"event": 2.0})
        assert v.get_attr("reward") == [{**REWARD_WEIGHTS, "event": 2.0}]
    finally:
        v.close()


@pytest.mark.parametrize("name", envs.GAMES)
def test_the_guard_keeps_each_game_class_signature(name: str) -> None:
    """The guard on fixed options wraps the constructors: ``inspect.signature`` of a game class still reads
    their parameters (a metaclass ``__call__`` gave ``(*args, **kwargs)``, and train_ppo's check of
    ``swarm_prob`` against its default passed every value)."""
    import inspect

    cls = envs.game_class(name)
    named = [p.name for p in inspect.signature(cls).parameters.values()
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]  # the Game Boy's base options: **kwargs
    assert named[0] == "num_envs" and set(named) <= set(cls.options()[0]) | set(cls.options()[1])


@pytest.mark.parametrize("name, kwargs", [("snake", {}), ("snake_duel", {}), ("rotation", {}),
                                          ("sokoban", {}), ("gameboy", CART), ("pokemon_red", POKEMON)])
def test_assigning_a_fixed_option_on_a_made_game_is_refused_naming_it(name: str, kwargs: dict) -> None:
    # Only set_attr refused them: on a bare game `game.size = 20` was taken, and the compiled step indexed
    # arrays sized for 10×10 boards past their end (num_envs = 8 on 4 boards stepped 8); others, such as
    # the Game Boy's frame_stack, changed nothing the game read. Every one is refused as set_attr refuses
    # it, while the constructor sets them and the live settings stay assignable.
    needs_pyboy(name)
    game = envs.make_game(name, 2, **kwargs)
    try:
        fixed, live = game.options()
        before = dict(vars(game))
        for attr in fixed:
            with pytest.raises(ValueError, match=f"^{attr} is fixed when the game is made: make a new env "
                                                 + re.escape(f"with it, e.g. make_vec(..., {attr}=12)")):
                setattr(game, attr, 12)
        assert vars(game).keys() == before.keys() and all(vars(game)[k] is v for k, v in before.items())
        for attr in live:
            setattr(game, attr, getattr(game, attr))
        game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
        game.step(np.zeros(2, dtype=np.int64))
    finally:
        game.close()


@pytest.mark.parametrize("name", ["snake", "snake_duel", "rotation", "sokoban"])
def test_a_copied_or_unpickled_game_plays_on_and_still_refuses_its_fixed_options(name: str) -> None:
    # Pickle and deepcopy build the game without its constructor (as a worker's game is sent, and a game
    # pickled before the guard comes back): the copy takes its settings and refuses the fixed options.
    import copy
    import pickle

    import cloudpickle

    game = envs.make_game(name, 2)
    game.reset(np.arange(2), np.arange(2, dtype=np.uint64))
    fixed, live = game.options()
    for twin in (pickle.loads(pickle.dumps(game)), cloudpickle.loads(cloudpickle.dumps(game)),
                 copy.deepcopy(game)):
        assert twin.get_state(1) == game.get_state(1)
        with pytest.raises(ValueError, match=f"^{fixed[-1]} is fixed when the game is made"):
            setattr(twin, fixed[-1], 12)
        for attr in live:
            setattr(twin, attr, getattr(game, attr))
        twin.step(np.ones(2, dtype=np.int64))
        assert twin.get_state(1) != game.get_state(1)  # its own boards


def test_a_copied_or_unpickled_single_board_env_refuses_fixed_options_on_its_game() -> None:
    import copy
    import pickle

    import cloudpickle

    from envs.env import GameEnv

    env = GameEnv("snake", size=8)
    for twin in (pickle.loads(pickle.dumps(env)), cloudpickle.loads(cloudpickle.dumps(env)),
                 copy.deepcopy(env)):
        twin.starvation = 12
        for target in (twin, twin.game):
            with pytest.raises(ValueError, match=r"^size is fixed when the game is made"):
                target.size = 10
        twin.reset(seed=1)
        twin.step(0)
        assert (twin.game.size, twin.game.starvation, env.game.starvation) == (8, 12, 128)


def test_a_constructor_swapped_for_a_while_leaves_the_guard_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests wrap a game's constructor (to count the games made): a game made meanwhile read the fixed
    # options from the wrapper's (*a, **k), and they stayed read so for the process, unguarded after.
    from envs.snake import Snake

    class Labelled(Snake):
        def __init__(self, num_envs: int = 1, label: str = "x") -> None:
            super().__init__(num_envs)
            self.label = label

    init = Labelled.__init__
    monkeypatch.setattr(Labelled, "__init__", lambda self, *a, **k: init(self, *a, **k))
    Labelled(1).close()
    monkeypatch.undo()
    game = Labelled(1)
    with pytest.raises(ValueError, match=r"^label is fixed when the game is made"):
        game.label = "y"
    game.close()


def test_whole_options_reads_numpy_floats_and_leaves_an_int_defaults_floats() -> None:
    # Hand mutation pass: whole_options passing a NumPy integral float (np.float32(10.0)) to a whole-number
    # option as given, or reading an unannotated option defaulted to an int as whole-numbered (only a
    # float default stands for an annotation), passed every test: the first kept size: 10.0 in a run's
    # config.yaml, the second made a game's scale=2.0 the int 2 where its default 1 says nothing of floats.
    from envs.base import whole_options

    out = whole_options(envs.game_class("snake"), {"size": np.float32(10.0), "starvation": np.float64(50.0)})
    assert out == {"size": 10, "starvation": 50} and all(type(v) is int for v in out.values())

    class Game:
        def __init__(self, num_envs=1, scale=1, rate=0.5) -> None: ...

    out = whole_options(Game, {"scale": 2.0, "rate": 2})
    assert out == {"scale": 2.0, "rate": 2.0} and type(out["scale"]) is float and type(out["rate"]) is float
