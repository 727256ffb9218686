"""The game contract every depthfirst game follows.

A ``Game`` holds ``num_envs`` boards of one game and steps them all in one call. The hot path
(``step`` and ``observe``) works on whole arrays (Numba or NumPy), never a Python loop per board.
The single Gymnasium env (``envs.env.GameEnv``) and the worker pool (``envs.vector``) both drive
this same class, so they agree step for step.

Seeding: ``reset(indices, seeds)`` gives each reset board its own 64-bit seed; everything random
about that episode (apples, levels, shapes) follows from it. Same seed + same actions = same states.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import math
import os
import sys
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

# Option checks every game runs on its constructor arguments before it builds anything. The message
# names the option by its keyword, so train_ppo.py can name the flag that set it; YAML hands over any
# type (``size: ten`` is a str, ``size:`` is None), so the type is checked as well as the range.


def checked_actions(actions: Any, count: int, names: tuple[str, ...]) -> np.ndarray:
    """``count`` actions as int64, else a ValueError saying what is wrong: the wrong number, a fraction
    (2.7 must not quietly play 2) or a value outside ``0..len(names) - 1``. The callers check before
    stepping: a worker that refused its slice after the others had stepped theirs would leave the vector
    env's boards out of step."""
    a = np.asarray(actions).reshape(-1)
    if a.size != count:
        raise ValueError(f"expected {count} action{'s' * (count != 1)}, got {a.size}")
    if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(a == np.trunc(a))):
        # The type named: an object or bool array's [1, 2] read as "must be whole numbers, got [1, 2]".
        raise ValueError(f"actions must be whole numbers (an integer or float array), got {a.dtype} "
                         f"{a.tolist()[:8]}")
    if a.size and (a.min() < 0 or a.max() >= len(names)):
        raise ValueError(f"actions must be in 0..{len(names) - 1} ({', '.join(names)}), got "
                         f"{a[(a < 0) | (a >= len(names))].tolist()[:8]}")
    return a.astype(np.int64, copy=False)


_INT64_MAX = 2**63 - 1
#: Pixels per cell of a picture when the caller names no scale: every game's render and GameEnv's.
RENDER_SCALE = 16
#: The largest: a 32-cell Snake board is then 8,192 pixels a side (200 MB). Unbounded, Sokoban's
#: render(0, 10_000) set about drawing a 19 GB picture (80,000 pixels a side), larger ones a MemoryError.
MAX_RENDER_SCALE = 256

# Keys for gymnasium.utils.play.play (GameEnv.get_keys_to_action). play reads a key as a character or as
# pygame's key code; the arrows have no character, so they are named by their codes: pygame 2's, which are
# SDL2's keycodes (PyBoy's window reads the same). pygame is optional: it is not imported to name them.
KEY_UP, KEY_DOWN, KEY_LEFT, KEY_RIGHT = 0x40000052, 0x40000051, 0x40000050, 0x4000004F
#: A game's keys (``Game.ACTION_KEYS``): for each action in order, the keys that play it.
ActionKeys = tuple[tuple[str | int, ...], ...]
#: The four-move games' keys, in their action order (UP, DOWN, LEFT, RIGHT): WASD or the arrows.
MOVE_KEYS: ActionKeys = (("w", KEY_UP), ("s", KEY_DOWN), ("a", KEY_LEFT), ("d", KEY_RIGHT))


def whole(name: str, value: Any, lo: int, hi: int | None = None, note: str = "") -> int:
    """``value`` as an int in [lo, hi] (up to 2**63 - 1 when ``hi`` is None: the games keep their counts in
    int64 arrays, and a state's max_rounds of 2**63 was an OverflowError after set_state had changed part
    of the board), else a ValueError naming ``name``; ``note`` follows the bounds (what they depend on).

    NumPy integers and integral floats pass (values computed in a sweep; ``200.0`` in configs that earlier
    versions accepted), returned as a plain int; 2.5 does not, nor a bool (True for a count is a typo).
    """
    bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}"
    if not _is_whole(value):
        raise ValueError(f"{name} must be a whole number {bounds}{note}, got {value!r}")
    if hi is None and value > _INT64_MAX:  # every count lands in an int64 array: NumPy's OverflowError
        raise ValueError(f"{name} must be at most 2**63 - 1 (a 64-bit count){note}, got {value}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be {bounds}{note}, got {value}")
    return int(value)


def _is_whole(value: Any) -> bool:
    """Whether ``value`` is an int, a NumPy integer or an integral float (not a bool), as ``whole`` takes."""
    integral = isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer()
    return not isinstance(value, bool) and (isinstance(value, (int, np.integer)) or integral)


def state_list(what: str, value: Any) -> list[Any]:
    """``value`` as a list if it is a list, tuple or 1+-D array, else a ValueError naming ``what``
    (``"state's apples"``): a number, None or a string where a state holds a list raised a bare TypeError
    from ``len`` or a loop, or (a string) was read a character at a time."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be a list as get_state returns, got {type(value).__name__}")
    return list(value)


def state_cell(what: str, value: Any, width: int = 2) -> list[int]:
    """``value`` as a list of ``width`` ints (a cell ``[x, y]``, a cube ``[x, y, z]``), else a ValueError
    naming ``what``: a cell of another length was unpacked into a Python error naming no key (or had its
    extra numbers dropped), and a fraction such as 1.5 was truncated to another cell. Integral floats
    pass. Bounds are the caller's to check."""
    cell = value.tolist() if isinstance(value, np.ndarray) else value
    if not isinstance(cell, (list, tuple)) or len(cell) != width or not all(_is_whole(v) for v in cell):
        raise ValueError(f"{what} must be a list of {width} whole numbers as get_state returns, "
                         f"got {value!r}")
    return [int(v) for v in cell]


def state_cells(what: str, value: Any, width: int = 2) -> list[list[int]]:
    """``value``, a list of cells (``state_list``), as lists of ``width`` ints (``state_cell``), else a
    ValueError naming ``what`` and, for a bad cell, its position in the list."""
    # The usual case, get_state's (and JSON's) lists of plain ints, without a call per cell: 6x faster.
    if type(value) is list and all(type(c) is list and len(c) == width for c in value) and all(
            type(v) is int for c in value for v in c):
        return [c[:] for c in value]
    return [state_cell(f"{what}[{k}]", cell, width) for k, cell in enumerate(state_list(what, value))]


def state_on_board(what: str, cells: list[list[int]], size: int, by: str = "×") -> list[list[int]]:
    """``cells`` (from ``state_cells``) if every one lies on a ``size``×``size`` board, else a ValueError
    naming ``what`` and the cell: a picture drew a negative coordinate at the board's other end and raised
    a bare IndexError past it. ``by`` writes the board's size as the game's other messages do (Sokoban's
    say 8x8)."""
    for k, (x, y) in enumerate(cells):
        if not (0 <= x < size and 0 <= y < size):
            raise ValueError(f"{what}[{k}] {[x, y]} is off the {size}{by}{size} board")
    return cells


def check_state_size(state: Mapping[str, Any], size: int) -> None:
    """Refuse a state of another board size, naming the game to load it into. The size is read as a whole
    number first: "10" was refused as "a 10×10 board, this game is 10×10"."""
    n = whole("state's size", state["size"], 1)
    if n != size:
        raise ValueError(f"state's board is {n}×{n}, this game's {size}×{size}: load it into a game made "
                         f"with size={n}")


def _numbers_as(value: Any, kind: type) -> Any:
    """``value`` with each number of the other kind read as ``kind``, also inside lists and tuples: for int,
    each integral float (10.0); for float, each int (not a bool), but one past a float's range, left as
    given for the game to refuse by name."""
    if isinstance(value, (list, tuple)):
        return type(value)(_numbers_as(v, kind) for v in value)
    if kind is int and isinstance(value, (float, np.floating)) and _is_whole(value):
        return int(value)
    if kind is float and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):
            return float(value)
    return value


def _leaf_types(hint: Any) -> set[Any]:
    """The types a (possibly nested) annotation such as ``int | list[int] | None`` is made of."""
    args = typing.get_args(hint)
    if not args:
        return {hint}
    return {typing.get_origin(hint)} | {t for a in args for t in _leaf_types(a)}


def _mapping_value_types(hint: Any) -> set[Any]:
    """The value types of the mappings an annotation allows: ``{float}`` for ``dict[str, float] | None``."""
    if typing.get_origin(hint) is dict:
        return _leaf_types(typing.get_args(hint)[1])
    return {t for a in typing.get_args(hint) for t in _mapping_value_types(a)}


def yaml_number(value: Any) -> Any:
    """A string that reads as a float, as one (YAML reads 1e-4, with no dot, as a string); else as is."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    return value


def _init_hints(init: Callable[..., None]) -> dict[str, Any]:
    """The annotations of a constructor ``init`` that evaluate. A game of another package may name a type
    imported under ``TYPE_CHECKING`` only (ruff's TC rules put it there: a NameError, or an AttributeError
    where its package is imported), words for a type (a SyntaxError), or an attribute of a lazy module that
    imports a missing package: ``get_type_hints`` of the whole signature raised and stopped train_ppo.py in
    a traceback. Such an option is read as unannotated; its value passes as given."""
    try:
        return typing.get_type_hints(init)
    except Exception:
        init = inspect.unwrap(init)
        hints: dict[str, Any] = {}
        for name, hint in inspect.get_annotations(init).items():
            with contextlib.suppress(Exception):  # whatever the package's annotation raises as it evaluates
                hints[name] = eval(hint, init.__globals__) if isinstance(hint, str) else hint
        return hints


def whole_options(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` for game class ``cls`` with numbers YAML left as strings (``1e-2``) read as numbers,
    whole-number options given as integral floats (YAML's ``size: 10.0``, ``--set env_kwargs.size=10.0``)
    made ints, as the game reads them (``whole``), so a run's config.yaml keeps ``size: 10``, and float
    options given ints (``--set env_kwargs.speed=2``) made floats. An option is numeric when its annotation
    in an ``__init__`` of the class or its bases names ``int`` or ``float`` and not ``str``, whole-numbered
    when it names ``int`` and not ``float``, a float when it names ``float`` and not ``int``; one without an
    annotation that evaluates is a float where its default is one (``rate=0.5``). Other values pass
    unchanged (and the game still refuses 10.5, ``ten`` or ``true``)."""
    hints: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for c in reversed(cls.__mro__):
        if "__init__" in vars(c):
            hints.update(_init_hints(c.__init__))
            defaults.update((p.name, p.default) for p in inspect.signature(c.__init__).parameters.values())
    out = dict(kwargs)
    for key, value in kwargs.items():
        # A default's type stands for a missing annotation: a package's game may annotate none
        leaves = _leaf_types(hints[key]) if key in hints else {type(defaults.get(key))} & {float}
        if isinstance(value, str) and {int, float} & leaves and str not in leaves:
            # YAML (--set, --config) reads 1e-2 and 1e39 (no dot, or no exponent sign) as strings
            value = yaml_number(value)
        # An option of int or float alone takes the other's numbers as its own: 10.0 as 10, and 2 (YAML's
        # int, which reached the game as given) as 2.0
        if len(numbers := {int, float} & leaves) == 1:
            value = _numbers_as(value, *numbers)
        entries = _mapping_value_types(hints.get(key))
        if isinstance(value, dict) and {int, float} & entries and str not in entries:
            value = {k: yaml_number(v) for k, v in value.items()}  # Pokémon's reward weights
        out[key] = value
    return out


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite(name: str, value: Any, float32: bool = False) -> float:
    """``value`` as a finite float, else a ValueError naming ``name`` (a NaN reward would train silently
    on NaN losses). Ints and NumPy numbers pass; bools and strings do not. ``float32`` (every reward
    option: the games' rewards are float32) refuses values past float32's range too: a step_cost of 1e39
    passed and every reward was -inf."""
    x = value.item() if isinstance(value, np.generic) else value  # Python numbers compare without casts
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not abs(x) <= sys.float_info.max:
        # NaN fails the comparison too; math.isfinite(10**400) was an OverflowError
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if float32 and abs(x) > _FLOAT32_MAX:
        raise ValueError(f"{name} must be within float32's ±{_FLOAT32_MAX:.4g}, got {value!r}")
    return float(x)


def float32_together(spans: Mapping[str, float] | None = None, **rewards: float) -> None:
    """A ValueError naming the reward options in ``rewards`` (``finite`` ones) unless their magnitudes sum
    within float32's range: the game's step can pay them all at once, each with either sign, and a step_cost
    and a progress_reward of 2e38 each, both in range, made a reward of -inf. ``spans`` holds, for a weight
    the step multiplies by a change it reads (the Game Boy's score), the largest such change."""
    spans = spans or {}
    total = sum(abs(v) * spans.get(k, 1.0) for k, v in rewards.items())
    if total > _FLOAT32_MAX:
        terms = " + ".join(f"|{k}|" + (f" × {spans[k]:g}" if k in spans else "") for k in rewards)
        raise ValueError(f"{terms} must be at most float32's {_FLOAT32_MAX:.4g} (one step can pay them "
                         f"together), got {total:.4g}")


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool if it is one (or 0 or 1), else a ValueError naming ``name``: ``bool("false")``
    is True."""
    if not isinstance(value, (bool, np.bool_)) and not (isinstance(value, int) and value in (0, 1)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def as_path(name: str, value: Any) -> Path:
    """``value`` as a Path if it is a non-empty str or path, else a ValueError naming ``name``."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ValueError(f"{name} must be a path, got {value!r}")
    return Path(value)


def check_state_keys(game: str, state: Any, keys: tuple[str, ...], what: str = "state") -> None:
    """A ValueError naming ``game`` and every one of ``keys`` that ``state`` lacks, or saying that it is no
    dict: ``set_state`` read the keys one by one, and a dict of another game (or ``{}``) raised a bare
    KeyError for the first missing one. ``what`` names the dict (``"state's snake 1"`` for a nested one)."""
    if not isinstance(state, Mapping):
        raise ValueError(f"a {game} {what} must be a dict as get_state returns, got {type(state).__name__}")
    missing = [k for k in keys if k not in state]
    if missing:
        other = state.get("game")
        note = f" (it is a {other} state)" if isinstance(other, str) and other != game else ""
        raise ValueError(f"not a {game} {what}{note}: it lacks {', '.join(map(repr, missing))}")


def check_unknown_keys(game: str, state: Mapping[str, Any], known: tuple[str, ...],
                       what: str = "state", listed_in: tuple[type, str] | None = None) -> None:
    """A ValueError naming the first key of ``state`` that is not in ``known`` and the keys a ``game``
    ``what`` holds: set_state read only the keys it knew, so a misspelt optional one (``"max_step": 5``)
    was dropped without a word and the game's own value played instead of the one the user wrote.
    ``listed_in`` (the game's class, the attribute listing ``known``): where the class inherits the list
    (a game of one's own built on Snake), the message also says to list there a key its get_state adds."""
    unknown = [k for k in state if k not in known]
    if not unknown:
        return
    hint = ""
    if listed_in is not None:
        cls, attr = listed_in
        owner = next(c for c in cls.__mro__ if attr in vars(c))
        if owner is not cls:
            hint = (f"; if {cls.__name__}'s get_state writes it, list it in {cls.__name__}.{attr} (it "
                    f"inherits {owner.__name__}'s)")
    raise ValueError(f"{what} holds {unknown[0]!r}, no key of a {game} {what} ({', '.join(known)}): "
                     f"fix its name, or remove it{hint}")


def check_derived_key(state: Mapping[str, Any], key: str, computed: Any, what: str) -> None:
    """A ValueError naming ``key``, its value and ``computed`` when ``state`` holds ``key``, a value get_state
    derives from the state's other keys (``what`` says how), as anything else: a stale one was taken and
    computed again silently, and came back from get_state as another value. Hand-made states may leave it
    out. A tuple or array for a list is compared as the list."""
    if key not in state:
        return
    given = state[key]
    same = given.tolist() if isinstance(given, np.ndarray) else given
    if (list(same) if isinstance(same, tuple) else same) != computed:
        raise ValueError(f"state's {key} {given!r} is not {what}, {computed!r}: give that, or leave it out")


class Setting:
    """A game option that may change once the game is made (``GameVecEnv.set_attr``, or assigning it):
    every assignment, the constructor's too, goes through ``check(game, name, value)``, which returns the
    value to keep or raises the constructor's ValueError naming the option and its range. set_attr took
    any value before: ``max_steps=0`` or a str broke later steps, far from the call that set it.
    ``default(game, name)``, where given, is what None stands for, as in the constructor (without it None
    goes to ``check``, which refuses it)."""

    def __init__(self, check: Callable[[Any, str, Any], Any],
                 default: Callable[[Any, str], Any] | None = None) -> None:
        self._check = check
        self.default = default
        self.name = ""

    def check(self, game: Any, name: str, value: Any) -> Any:
        """The value to keep for ``value`` (None: the default, where there is one), or the ValueError."""
        if value is None and self.default is not None:
            value = self.default(game, name)
        return self._check(game, name, value)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, game: Any, owner: type | None = None) -> Any:
        if game is None:
            return self
        try:  # kept in the instance's __dict__ under its own name: pickle and deepcopy see a plain attribute
            return game.__dict__[self.name]
        except KeyError:
            raise AttributeError(f"{type(game).__name__!r} object has no attribute {self.name!r}") from None

    def __set__(self, game: Any, value: Any) -> None:
        game.__dict__[self.name] = self.check(game, self.name, value)


def count_setting(lo: int = 1, default: Callable[[Any, str], int] | None = None) -> Setting:
    """A ``Setting`` that is a whole number >= ``lo`` (a step limit)."""
    return Setting(lambda game, name, value: whole(name, value, lo), default)


def flag_setting(default: Callable[[Any, str], bool] | None = None) -> Setting:
    """A ``Setting`` that is true or false."""
    return Setting(lambda game, name, value: flag(name, value), default)


def reward_setting(default: Callable[[Any, str], Any] | None = None) -> Setting:
    """A ``Setting`` that is a reward option the step reads live: ``finite`` within float32, and within
    float32 together with the others of each of the game's ``FLOAT32_TOGETHER`` groups it is in
    (``float32_together`` with the game's ``FLOAT32_SPANS``). A group is checked once all its options are
    set: the constructor sets them one by one and so checks the whole sum at the last (its message names
    every term), set_attr against the others' current values."""

    def check(game: Any, name: str, value: Any) -> float:
        x = finite(name, value, float32=True)
        for group in type(game).FLOAT32_TOGETHER:
            if name in group and all(k == name or k in game.__dict__ for k in group):
                float32_together(type(game).FLOAT32_SPANS,
                                 **{k: x if k == name else game.__dict__[k] for k in group})
        return x

    return Setting(check, default)


#: Names no episode figure may take. The vector env's ``episode`` entry holds SB3's ``r``, ``l``, ``t``
#: beside the figures; ``GameEnv``'s last info holds the figures beside ``episode`` (SB3's ``Monitor``,
#: Gymnasium's ``RecordEpisodeStatistics``), ``terminal_observation`` and ``TimeLimit.truncated`` (SB3's
#: vector envs). Refused in both envs, so a game that runs in one runs in the other.
RESERVED_FIGURES = ("r", "l", "t", "episode", "terminal_observation", "TimeLimit.truncated")


#: Key in a game's ``__dict__`` while its constructor runs: only then may its fixed options be assigned.
_MAKING = "_making"


def making(game: Any) -> bool:
    """Whether ``game``'s constructor is running (a fixed option may still be set)."""
    return _MAKING in vars(game)


def _making(init: Callable[..., None]) -> Callable[..., None]:
    """``init`` run with ``_MAKING`` set in the game, so that ``Game.__setattr__`` lets the constructor set
    the fixed options and refuses them once it returns; a base class's constructor called from a subclass's
    keeps the mark of the outermost. Pickle, deepcopy and copy build a game without the constructor, so the
    game they give (one pickled before this guard too) is guarded from the start. Wrapped, not a metaclass
    ``__call__``: ``inspect.signature`` of a game class still reads the constructor's parameters."""

    @functools.wraps(init)
    def run(self: Any, *args: Any, **kwargs: Any) -> None:
        if _MAKING in vars(self):
            init(self, *args, **kwargs)
            return
        _check_game_class(type(self))
        vars(self)[_MAKING] = True
        try:
            init(self, *args, **kwargs)
        finally:
            del vars(self)[_MAKING]
        _check_observation_space(self)

    return run


class GameDefinitionError(ValueError):
    """A game's class breaks the contract (its methods, ``name``, ``ACTION_NAMES``, ``observation_space``, the
    figures of ``figure_names``): a fault of the game's code, which the scripts report as it is, not as a
    refused option of the run."""


def _check_game_class(cls: type) -> None:
    """A ``GameDefinitionError`` naming what a game class lacks of ``name`` and ``ACTION_NAMES``, before it
    is made: a game of one's own without them failed later, far from the fix (an
    AttributeError inside ``Game.__init__``)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise GameDefinitionError(f"{cls.__name__}.name must be the game's name, a str (its name in "
                                  f"envs.GAMES or its entry point's), got {name!r}")
    actions = getattr(cls, "ACTION_NAMES", None)
    if not isinstance(actions, tuple) or not actions or not all(isinstance(a, str) for a in actions):
        raise GameDefinitionError(f"{cls.__name__}.ACTION_NAMES must be a tuple of the actions' names (str), "
                                  "one per action, as the action space is Discrete(len(ACTION_NAMES)); got "
                                  f"{actions!r}")


def _check_observation_space(game: Any) -> None:
    """A ``GameDefinitionError`` unless the made ``game``'s ``observation_space`` is a uint8 Box (C, H, W),
    C at most H and W where its bounds are 0 and 255 (SB3 reads such an image so): ``observe`` writes into a
    uint8 buffer of that shape, so a float space's observations were cut to whole numbers without a word (and
    SB3, reading the float space, did not divide them by 255)."""
    space = getattr(game, "observation_space", None)
    if not (isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3):
        raise GameDefinitionError(f"{type(game).__name__}.observation_space must be a uint8 Box of shape "
                                  "(channels, height, width), set in its constructor: observations stay "
                                  f"uint8 and channels-first (the policy divides them by 255); got {space!r}")
    # SB3 takes the smallest side of an image (bounds 0 and 255) for the channels and transposes the rest: a
    # (H, W, C) space trained so, and evaluate.py then refused the run's model as another game's. Other
    # bounds (one-hot planes of 0 and 1) are no image to SB3, which transposes none. The Game Boy refuses its
    # own (obs_size).
    channels, height, width = space.shape
    image = bool(np.all(space.low == 0) and np.all(space.high == 255))
    if image and channels > min(height, width):
        raise GameDefinitionError(f"{type(game).__name__}.observation_space must be a uint8 Box of shape "
                                  "(channels, height, width) with no more channels than rows or columns: "
                                  "SB3 takes the smallest side of an image (bounds 0 and 255) for the "
                                  f"channels and would transpose the observations; got shape {space.shape}: "
                                  "give the channels first (in observe too), at most as many as the rows "
                                  "and the columns")


def check_contract(game: Game) -> None:
    """A ``GameDefinitionError`` naming the method of ``game`` (one board, not yet played) whose result breaks
    what the scripts read from it: ``get_state``'s JSON (the export writes it) and ``render_state``'s RGB
    uint8 (H, W, 3) picture (videos, PNGs; a classmethod), each read once after a reset. A game of another
    package that broke them played every episode, then failed in a traceback; the built-in games' are the
    suite's to test. Resets board 0."""
    cls = type(game).__name__

    def called(call: str, method: Callable[..., Any], *args: Any) -> Any:
        # Its own fault, on fixed arguments (no option of the run's): train read a TypeError or ValueError
        # as a refused option (render_state without scale), the other scripts ended in its traceback.
        try:
            return method(*args)
        except Exception as e:
            raise GameDefinitionError(f"{cls}.{call} raised {type(e).__name__}: {e}") from e

    called("reset(indices, seeds)", game.reset, np.zeros(1, np.int64), np.zeros(1, np.uint64))
    state = called("get_state(0)", game.get_state, 0)
    try:
        if not isinstance(state, dict):
            raise TypeError(f"a {type(state).__name__}")
        json.dumps(state)
    except (TypeError, ValueError) as e:
        raise GameDefinitionError(f"{cls}.get_state must return a dict that JSON can hold (plain Python "
                                  "numbers, lists, str, bool, None: int(), .tolist()), as the export writes "
                                  f"it; got {e}") from None
    # Called through the class, as the export draws a state (no game made): a plain method took it as self.
    if not isinstance(inspect.getattr_static(type(game), "render_state"), (classmethod, staticmethod)):
        raise GameDefinitionError(f"{cls}.render_state must be a classmethod (@classmethod), as the export "
                                  f"draws a state without a game: {cls}.render_state(state, scale)")
    picture = called("render_state(state, 1)", type(game).render_state, state, 1)
    if not (isinstance(picture, np.ndarray) and picture.dtype == np.uint8 and picture.ndim == 3
            and picture.shape[2] == 3):
        got = (f"{picture.dtype} {picture.shape}" if isinstance(picture, np.ndarray)
               else type(picture).__name__)
        raise GameDefinitionError(f"{cls}.render_state must return an RGB picture, a uint8 array of shape "
                                  f"(height, width, 3); got {got} for a state get_state returned")


@functools.cache
def _fixed_options(cls: type[Game], init: Callable[..., None]) -> frozenset[str]:
    """``cls.options()``'s fixed names, read once per class and constructor ``init`` (``options`` reads
    signatures): a test that swaps the constructor for a while must not leave the names it read then."""
    return frozenset(cls.options()[0])


def _array(what: str, value: Any) -> np.ndarray:
    """``np.asarray(value)`` for reset's ``what``; a ragged list (``[[1, 2], 3]``) was NumPy's
    "inhomogeneous shape" error, which named no argument."""
    try:
        return np.asarray(value)
    except ValueError as e:
        raise ValueError(f"reset's {what} must be a 1-D array, got a ragged {type(value).__name__} ({e})"
                         ) from None


class Game(ABC):
    """``num_envs`` boards of one game, stepped together."""

    name: ClassVar[str]
    ACTION_NAMES: ClassVar[tuple[str, ...]]
    #: The keyboard keys of each action, in ``ACTION_NAMES`` order; any one of an action's keys plays it. A
    #: key is a character or a pygame key code (``KEY_UP``...), as gymnasium's ``play`` reads them.
    ACTION_KEYS: ClassVar[ActionKeys] = ()
    #: True when one batched step costs far less than a process round trip (microseconds per
    #: board): then the default vector env steps it in the training process (no workers).
    cheap: ClassVar[bool] = True
    #: Read by SB3's VecEnv: every game draws RGB arrays.
    render_mode: ClassVar[str] = "rgb_array"
    #: The observation is this many equal panels side by side (Rotation: target | current). The
    #: policy stacks them as channels, so its first convolution compares them pixel by pixel.
    OBS_PANELS: ClassVar[int] = 1
    #: The keys ``set_state`` reads from every state (the others have defaults); ``_check_state`` refuses a
    #: state without them with a ValueError naming the game and the missing keys.
    STATE_KEYS: ClassVar[tuple[str, ...]] = ()
    #: The keys ``set_state`` takes besides ``STATE_KEYS`` and ``game`` (get_state's others, which a
    #: hand-made state may leave out): ``_check_state`` refuses any other key, naming it. None lets any
    #: other key through (a game of one's own, the Game Boy's).
    STATE_OPTIONAL_KEYS: ClassVar[tuple[str, ...] | None] = None
    #: Modules the vector env's fork server imports besides the game's own, so that each worker forked from
    #: it inherits them instead of importing them at its start (Game Boy: PyBoy).
    WORKER_PRELOAD: ClassVar[tuple[str, ...]] = ()
    #: Reward options (``reward_setting``) one step can pay together: each group's magnitudes must sum
    #: within float32's range. ``FLOAT32_SPANS``: for a weight the step multiplies by a change, its largest.
    FLOAT32_TOGETHER: ClassVar[tuple[tuple[str, ...], ...]] = ()
    FLOAT32_SPANS: ClassVar[Mapping[str, float]] = {}
    #: Set by ``close()``; a class default, so a game unpickled from before it existed is open.
    _closed: bool = False
    #: True from the constructor until a step or observe finds a board holding an episode
    #: (``_check_playing``); False as a class default, so a game unpickled from before it existed is not
    #: checked.
    _unstarted: bool = False

    def __setattr__(self, name: str, value: Any) -> None:
        # Once the game is made, a fixed option is refused as set_attr refuses it: the compiled cores trust
        # the arrays it sized (game.size = 20 on a 10×10 Snake wrote past them), and others changed
        # nothing the game read. No option starts with "_": the step's own attributes skip the lookup.
        cls = type(self)
        if name[:1] != "_" and name in _fixed_options(cls, cls.__init__) and not making(self):
            self.check_setting(name, value)  # raises, naming the option
        super().__setattr__(name, value)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.__init__ = _making(vars(cls)["__init__"])  # type: ignore[method-assign]

    @_making  # and every subclass's own (__init_subclass__)
    def __init__(self, num_envs: int = 1) -> None:
        num_envs = whole("num_envs", num_envs, 1)
        self.num_envs = num_envs
        self.action_space = spaces.Discrete(len(self.ACTION_NAMES))
        self._all_boards = np.arange(num_envs, dtype=np.int64)
        self._unstarted = True

    @classmethod
    def keys_to_action(cls) -> dict[tuple[int], int]:
        """``ACTION_KEYS`` as gymnasium's ``play`` takes them: ``{(key code,): action}``, characters as their
        code points (pygame's codes for them), so ``PlayableGame`` can use the map as it is too."""
        if len(cls.ACTION_KEYS) != len(cls.ACTION_NAMES):
            raise ValueError(f"{cls.__name__} names keys for {len(cls.ACTION_KEYS)} of its "
                             f"{len(cls.ACTION_NAMES)} actions: give it ACTION_KEYS, one tuple of keys per "
                             "action, or pass play(env, keys_to_action={...})")
        return {(ord(key) if isinstance(key, str) else key,): action
                for action, keys in enumerate(cls.ACTION_KEYS) for key in keys}

    @classmethod
    def options(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The options the constructor takes, as (fixed, live): every named parameter of an ``__init__`` of
        the class or its Game bases (``**emulator_kwargs`` names the base's), live when the class checks it on
        assignment (a ``Setting``, or a property with a setter: duel Snake's ``opponent``), else fixed. Read
        from the signature, so that a new option is fixed until someone makes it live: most are read once,
        sizing the arrays and the observation space (``size``, ``frame_stack``) or kept in another form or
        name (Sokoban's ``num_boxes`` as a pair), and set_attr of one broke a
        later step or changed nothing the game read."""
        names: dict[str, None] = {}  # ordered, each once
        for c in cls.__mro__:
            if issubclass(c, Game) and "__init__" in vars(c):
                for p in list(inspect.signature(vars(c)["__init__"]).parameters.values())[1:]:
                    if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                        names[p.name] = None

        def live(name: str) -> bool:
            attr = inspect.getattr_static(cls, name, None)
            return isinstance(attr, Setting) or (isinstance(attr, property) and attr.fset is not None)

        return tuple(n for n in names if not live(n)), tuple(n for n in names if live(n))

    def check_setting(self, name: str, value: Any) -> None:
        """The ValueError that setting ``name`` to ``value`` would raise, changing nothing: for a ``Setting``
        the constructor's check, for an option fixed when the game is made (``options``) a refusal naming
        it; silent for a valid value and for any other attribute (set_attr may set anything there: tests
        swap in a game's methods). The vector env asks every worker first, so a value one of them refuses
        is set on none. Assigning a fixed option on a made game raises the same refusal (``__setattr__``)."""
        setting = inspect.getattr_static(type(self), name, None)
        if isinstance(setting, Setting):
            setting.check(self, name, value)
            return
        fixed, live = self.options()
        if name in fixed:
            given = f"{name}={value!r}"
            # One board is always one board: another num_envs is another vector env only.
            single = "" if name == "num_envs" else f" or, for one board, gymnasium.make(..., {given})"
            raise ValueError(f"{name} is fixed when the game is made: make a new env with it, e.g. "
                             f"make_vec(..., {given}){single}; "
                             f"set_attr changes only the {self.name} settings {', '.join(live) or '(none)'}")

    # The observation of ONE board: uint8, channels-first (C, H, W).
    observation_space: spaces.Box

    @abstractmethod
    def reset(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        """Start a new episode on boards ``indices`` (int array), board k seeded by ``seeds[k]``."""

    def _reset_args(self, indices: Any, seeds: Any) -> tuple[np.ndarray, np.ndarray]:
        """``reset``'s boards as int64 and seeds as uint64, one seed per board, else a ValueError. The
        compiled cores read ``seeds[k]`` for the k-th board unchecked: a short ``seeds`` seeded the boards
        past its end from whatever memory followed it, so the same call played different episodes."""
        self._check_open("reset")
        boards, given, seeds = _array("indices", indices), seeds, _array("seeds", seeds)
        if seeds.dtype.kind in "fO":  # ints past int64 (2**64 + 5; 2**63 beside -1) become objects or floats
            items = np.asarray(given, dtype=object).reshape(-1)
            if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in items):
                # Taken modulo 2**64, as GameEnv's and GameVecEnv's seeds are.
                seeds = np.array([int(s) % 2**64 for s in items], dtype=np.uint64).reshape(seeds.shape)
        for what, a in (("board indices", boards), ("seeds", seeds)):
            if a.size and a.dtype.kind not in "iu":  # a cast cut them: board 0.7 was 0, seed 1.5 played 1
                raise ValueError(f"reset's {what} must be whole numbers, got {a.dtype} {a.tolist()[:8]}")
        given_boards = boards  # as given, for _board_indices to name those off the game
        boards, seeds = boards.astype(np.int64, copy=False), seeds.astype(np.uint64, copy=False)
        # Each message names the argument at fault and the shape it needs: one that gave both shapes named
        # neither, and asked for "a 1-D array of board indices" where only the seeds were off.
        if boards.ndim != 1:
            raise ValueError(f"reset's indices must be a 1-D array of board indices, shape (n,), got shape "
                             f"{boards.shape}")
        if seeds.shape != boards.shape:
            raise ValueError(f"reset's seeds must hold one seed per board index, shape {boards.shape}, got "
                             f"shape {seeds.shape}")
        # A negative index reset a board counted from the end; one past the last, NumPy's IndexError.
        boards = self._board_indices(given_boards, "reset")
        if boards.size > 1:  # a board named twice played the last of its seeds without a word
            times = np.bincount(boards)  # the boards are in range now; 5x faster than np.unique
            if times.max() > 1:
                raise ValueError(f"reset's board indices must name each board once, got "
                                 f"{np.flatnonzero(times > 1).tolist()} more than once")
        return boards, seeds

    @abstractmethod
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every board by one action.

        Returns ``(reward float32, terminated bool, truncated bool)``, each of shape (num_envs,).
        A board whose episode has ended stays unchanged and reports 0, False, False until it is reset.
        """

    def _actions(self, actions: Any) -> np.ndarray:
        """``step``'s actions as int64 of shape (num_envs,). An integer array of that shape passes as it
        is (the compiled cores refuse out-of-range values themselves, so the hot path scans nothing);
        anything else goes through ``checked_actions``, so a fraction such as 2.7 does not play 2."""
        self._check_playing("step")
        a = np.asarray(actions)
        if a.dtype.kind in "iu" and a.shape == (self.num_envs,):
            return a.astype(np.int64, copy=False)
        return checked_actions(a, self.num_envs, self.ACTION_NAMES)

    @abstractmethod
    def observe(self, out: np.ndarray, indices: np.ndarray | None = None) -> None:
        """Write observations into ``out`` (uint8, (len, C, H, W)), in place: ``out[k]`` is board
        ``indices[k]``'s, or board k's when ``indices`` is None (every board). The vector env reads
        the ended boards' last observations this way, straight into the terminal-observation rows."""

    def _boards(self, indices: np.ndarray | None, out: np.ndarray, what: str = "observe") -> np.ndarray:
        """``observe``'s boards (``what`` names the call): ``indices`` as an int64 array, or every board;
        checks that a board holds an episode (``_check_playing``) and that ``out`` has a row for each (the
        compiled kernels do not check bounds), is uint8 and can be written."""
        self._check_playing(what)
        boards = self._all_boards if indices is None else self._board_indices(indices, what)
        shape = (len(boards), *self.observation_space.shape)
        if out.shape != shape or out.dtype != np.uint8:  # a float out was filled with floats
            raise ValueError(f"out must be a uint8 array of shape {shape}, got {out.dtype} of shape "
                             f"{out.shape}")
        if not out.flags.writeable:  # the kernels failed on it with a Numba TypingError naming no argument
            raise ValueError("out is read-only, and observe writes the observations into it: pass a "
                             "writeable array (game.new_obs_buffer(), or out.copy())")
        return boards

    def _board_indices(self, indices: Any, what: str) -> np.ndarray:
        """``indices`` as an int64 array of this game's boards (a board may come twice), else a ValueError
        naming ``what``: the compiled kernels do not check bounds, and NumPy's indexing read -1 as the
        last board, 0.7 as board 0 and a bool array as a mask."""
        given = np.asarray(indices)
        if given.ndim != 1 or (given.size and given.dtype.kind not in "iu"):
            raise ValueError(f"{what}'s indices must be a 1-D array of board numbers, got {given.dtype} "
                             f"{given.shape}")
        boards = given.astype(np.int64, copy=False)
        # One reduction, as episode_infos is on the step path: as uint64 a negative index is past every board.
        if boards.size and boards.view(np.uint64).max() >= self.num_envs:
            # Named as given: read from the int64 copy, a uint64 2**63 was shown as -9223372036854775808.
            raise ValueError(f"{what}'s board indices must be in 0..{self.num_envs - 1}, got "
                             f"{given[boards.view(np.uint64) >= self.num_envs].tolist()}")
        return boards

    def episode_info(self, i: int) -> dict[str, float]:
        """Figures of board ``i``'s current episode (``_episode_info``), read at episode end; a board never
        reset has none (``_check_started``): it gave the constructor's zeros."""
        self._check_started(i, "episode_info")
        return self._episode_info(i)

    @abstractmethod
    def _episode_info(self, i: int) -> dict[str, float]:
        """``episode_info`` of board ``i``, unchecked; must hold ``score``. Every episode reports the same
        keys (the vector env sizes its shared figure rows by them), none in ``RESERVED_FIGURES``
        (``figure_names`` refuses such a game), a board never reset too: the keys of no board are its."""

    def figure_names(self) -> tuple[str, ...]:
        """The keys every episode's figures have, else a ``GameDefinitionError`` for one in
        ``RESERVED_FIGURES`` (SB3's entry of that name would replace it) or for no ``score`` (evaluation, the
        rollout figures and the export read it: a run lacking it trained to its end, then failed with a
        KeyError and was lost).
        Both envs call it when made, before any reset (the keys of no board: ``episode_infos`` of none), as
        does ``agents.evaluation.GameSpec.of``, before a run folder is made."""
        names = tuple(self.episode_infos(np.zeros(0, np.int64)))
        if "score" not in names:
            raise GameDefinitionError(f"{self.name}'s episode figures ({', '.join(names) or 'none'}) lack "
                                      "'score', which every game reports: add it to _episode_info")
        clash = [k for k in names if k in RESERVED_FIGURES]
        if clash:
            raise GameDefinitionError(f"{self.name}'s episode figure {clash[0]!r} would replace SB3's "
                                      "episode entry of that name (r, l, t: its return, length and time "
                                      "beside the figures in the vector env's info['episode']; episode, "
                                      "terminal_observation, TimeLimit.truncated: beside them in GameEnv's "
                                      "last info): rename the figure")
        return names

    def episode_infos(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """``episode_info`` of boards ``indices`` as one float64 array per key (the vector env reads
        every ended episode this way; a game with many short episodes overrides it with array ops, starting
        with ``_check_open`` and ``_board_indices`` as this does, and refusing a board never reset with
        ``_check_started``)."""
        self._check_open("episode_infos")
        boards = [int(i) for i in self._board_indices(indices, "episode_infos")]
        for i in boards:  # each before any is read
            self._check_started(i, "episode_infos")
        rows = [self._episode_info(i) for i in boards]
        keys = rows[0] if rows else self._episode_info(0)  # of no board too: every episode has the same keys
        return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in keys}

    def _started(self, i: int) -> bool:
        """Whether board ``i`` holds an episode: it was reset or given a state since the game was made.
        A game tells it from its own arrays (the hot path keeps no flag for it)."""
        return True

    def _check_open(self, what: str) -> None:
        """A ``ClosedEnvironmentError`` (as ``GameEnv``'s) once the game is closed: a closed Game Boy's calls
        were an IndexError (its emulators gone), and the other games played on. The helpers every ``reset``,
        ``step``, ``observe`` and per-board call starts with call it."""
        if self._closed:
            raise ClosedEnvironmentError(f"{what} on a closed {self.name} game; make a new one")

    def _check_playing(self, what: str) -> None:
        """``_check_open``, then ``_check_boards_started`` while ``_unstarted``: ``step``, ``observe`` and the
        other whole-game reads start with it. Before any reset a game stepped its empty boards and returned
        zeros, and observe drew boards that never existed (blank, all wall), without a word. One call and two
        flag reads, as the open check alone cost: ``observe`` runs every step, and a call more per step cost
        ~0.1 µs, 1-2% of a one-board Snake step."""
        if self._closed or self._unstarted:
            self._check_open(what)
            self._check_boards_started(what)

    def _check_boards_started(self, what: str) -> None:
        """A ``ResetNeeded`` naming ``what`` unless a board holds an episode; clears ``_unstarted`` once one
        does. A board never reset among started ones steps as a finished one (0, no flags) and is observed as
        its game draws an empty board, as a state set into board 2 of 3 is played; its per-board reads
        (``get_state``, ``render``) refuse it (``_check_started``)."""
        if not any(self._started(i) for i in range(self.num_envs)):
            raise ResetNeeded(f"{what} before any reset: no board of this {self.name} game holds an episode "
                              "yet; call reset(indices, seeds) (or set_state) first")
        self._unstarted = False

    def _check_board(self, i: Any, what: str) -> None:
        """A ValueError naming ``i`` and the boards there are unless it is one of them: NumPy's indexing read
        -1 as the last board, 2 of two as a bare IndexError, and True (no integer here) as board 1 or an
        array. Every method of the contract that takes a board index calls it first."""
        self._check_open(what)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.num_envs:
            raise ValueError(f"{what}: the board must be an integer in 0..{self.num_envs - 1} (this game has "
                             f"{self.num_envs} board{'s' * (self.num_envs != 1)}), got {i!r}")

    def _check_started(self, i: int, what: str) -> None:
        """``_check_board``, then a ``ResetNeeded`` naming board ``i`` unless it holds an episode: a board
        never reset has none to read (Snake's get_state was an IndexError, other games gave a state
        set_state refuses). Every per-board read of a board's state starts with it (``episode_info``,
        ``get_state``, ``render``, the Game Boy's ``memory``, ``screen`` and ``read_facts``, Pokémon Red's
        ``milestones`` and ``visit_heatmap``)."""
        self._check_board(i, what)
        if not self._started(i):
            raise ResetNeeded(f"board {i} holds no episode yet: reset it (or set_state) before {what}")

    @abstractmethod
    def get_state(self, i: int) -> dict[str, Any]:
        """Board ``i`` as a JSON-able dict, complete enough to re-render and re-simulate it; starts with
        ``_check_started``."""

    @abstractmethod
    def set_state(self, i: int, state: dict[str, Any]) -> None:
        """Put board ``i`` into ``state`` (as returned by ``get_state``); starts with ``_check_state``."""

    def _check_state(self, i: int, state: Any) -> None:
        """``_check_board``, the state's ``game`` (get_state's name of the game that made it; hand-made states
        may leave it out), ``check_state_keys`` for this game's ``STATE_KEYS`` and, where the game lists
        them, no keys but those and ``STATE_OPTIONAL_KEYS``: every ``set_state`` calls it first."""
        self._check_board(i, "set_state")
        check_state_keys(self.name, state, self.STATE_KEYS)
        # A state naming another game was refused only for the keys it lacks (check_state_keys names its
        # game then); one holding every key this game reads, a mislabelled or merged dict, was taken.
        other = state.get("game", self.name)
        if other != self.name:
            raise ValueError(f"not a {self.name} state: its game is {other!r}, and a state loads only into "
                             "the game that made it")
        if self.STATE_OPTIONAL_KEYS is not None:
            check_unknown_keys(self.name, state, ("game", *self.STATE_KEYS, *self.STATE_OPTIONAL_KEYS),
                               listed_in=(type(self), "STATE_OPTIONAL_KEYS"))

    @classmethod
    @abstractmethod
    def render_state(cls, state: dict[str, Any], scale: int = RENDER_SCALE) -> np.ndarray:
        """Draw ``state`` as an RGB uint8 image (H, W, 3); ``scale`` sets its size."""

    def render(self, i: int = 0, scale: int = RENDER_SCALE) -> np.ndarray:
        self._check_started(i, "render")
        return self.render_state(self.get_state(i), scale)

    def close(self) -> None:
        """Release what the game holds outside Python (the Game Boy's emulators: an override calls this
        too); the game then refuses to be used (``_check_open``)."""
        self._closed = True

    def board_bytes(self) -> int:
        """Bytes of state each board takes in this game's arrays (those with a row per board): what one more
        board costs, at least, for the commands that size their play up front. Read on a game of one board
        (``num_envs`` 3 would count Rotation's 3-colour background too). An override adds what a board
        holds outside them (the Game Boy's emulator)."""
        rows = sum(v.nbytes for v in vars(self).values()
                   if isinstance(v, np.ndarray) and v.ndim and v.shape[0] == self.num_envs)
        return -(-rows // self.num_envs)

    def new_obs_buffer(self) -> np.ndarray:
        """A zeroed ``observe`` buffer for every board (not for a closed game, which cannot fill it)."""
        self._check_open("new_obs_buffer")
        return np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.uint8)
