"""Every depthfirst game, by name: ``make_game`` (batched core), ``make_env`` (one Gymnasium
env), ``make_vec`` (the worker-pool VecEnv used for training). Gymnasium ids: ``depthfirst/<Id>-v0``.
"""

from __future__ import annotations

# First: python -m envs.gameboy.cartridge.build imports this package (gymnasium: most of the build's time)
# before the module's own first line; a stop signal there exits 130 in one line, as one later does.
import agents.startup  # noqa: F401

# isort: split
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import re
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from agents.machine import choose_numba_cache

# Before any game imports numba: the folders of the jitted cores (cache=True).
choose_numba_cache([Path(__file__).parent, Path(__file__).parent / "gameboy"])

if TYPE_CHECKING:
    from envs.base import Game
    from envs.env import GameEnv
    from envs.vector import GameVecEnv

# name -> ("module:Class", Gymnasium id). A new built-in game is one line here; a game of your own package
# comes in through PLUGIN_GROUP (below), without editing this project.
GAMES: dict[str, tuple[str, str]] = {
    "gameboy": ("envs.gameboy.generic:GameBoy", "depthfirst/GameBoy-v0"),
    "pokemon_red": ("envs.gameboy.pokemon:PokemonRed", "depthfirst/PokemonRed-v0"),
    "snake": ("envs.snake:Snake", "depthfirst/Snake-v0"),
    "snake_duel": ("envs.snake_duel:SnakeDuel", "depthfirst/SnakeDuel-v0"),
    "rotation": ("envs.rotation:Rotation", "depthfirst/Rotation-v0"),
    "sokoban": ("envs.sokoban:Sokoban", "depthfirst/Sokoban-v0"),
}
#: The built-in games; the others in GAMES came from installed packages (``PLUGIN_GROUP``).
BUILTIN_GAMES: frozenset[str] = frozenset(GAMES)
#: The entry-point group through which an installed package adds a game of its own: each entry point is
#: ``name = "package.module:GameClass"`` (README "Adding your own game"). Read when ``envs`` is imported,
#: so every process (the scripts, the vector env's workers) knows the same games.
PLUGIN_GROUP = "depthfirst.games"
#: The form of every game's name (a package's game named otherwise is not added): it names run folders and
#: ``configs/<name>.yaml``, and an export's card and its YAML name the game by it.
GAME_NAME = re.compile(r"[a-z][a-z0-9_]*")


#: Set in the fork server's environment (envs.vector.start_forkserver): it imports this package again, and
#: would repeat each warning of ``_plugin_games`` that the script starting it has printed already.
PLUGIN_WARNINGS_SHOWN = "DEPTHFIRST_PLUGIN_WARNINGS_SHOWN"


def _entry_point_line(ep: importlib.metadata.EntryPoint) -> tuple[str, int] | None:
    """The installed ``entry_points.txt`` of ``ep``'s package and the line that holds ``ep``, where its
    record (RECORD) lists the file: the place a warning of it points at."""
    files = ep.dist.files if ep.dist is not None else None
    for file in files or ():
        if file.name == "entry_points.txt":
            path = Path(file.locate())
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                return None
            for number, line in enumerate(lines, 1):
                name, _, value = line.partition("=")
                if (name.strip(), value.strip()) == (ep.name, ep.value):
                    return str(path), number
            return str(path), 1
    return None


def import_problem(e: Exception, module: str) -> str:
    """Why a package's ``module`` (a game's, a task module) could not be imported, in one line for an
    error: message: the compiler's syntax error with its file and line (its own str names the file without
    its folder), an ImportError's text ("No module named ..." says it all), and any other exception (one the
    module's code raised, a SyntaxError too, or an ImportError with no text) as ``raised_at`` names it."""
    # The compiler's syntax error names its file (one raised by code, or 3.10/3.11's of a null byte, none)
    if isinstance(e, SyntaxError) and e.filename is not None:
        return f"{_one_line(e.msg)} ({e.filename}, line {e.lineno})"
    if isinstance(e, ImportError) and (text := _one_line(e)):
        return text
    return raised_at(e, module)


def _one_line(said: object) -> str:
    """``str(said)`` in one line of at most 300 characters: a package's message may be any length, hold
    newlines, or fail to convert (its own ``__str__``), whose traceback would replace the error line."""
    from agents.cli import one_line  # the error path only: not among the imports of every game

    try:
        return one_line(str(said))
    except Exception:
        return "<exception str() failed>"


def raised_at(e: Exception, module: str) -> str:
    """An exception of a package's ``module`` in one line for an error: message, not its traceback: its type
    (the str of a KeyError is its key alone) and the package's line that raised it (os.environ's own line
    would name os.py), where its author starts. With no such line (raised in importlib, reading a damaged
    .pyc) none is named: the caller names the module."""
    try:
        spec = importlib.util.find_spec(module.partition(".")[0])
    except ValueError:  # its __init__ put a module with no __spec__ in sys.modules (lazy loading): no place
        spec = None
    places = [*(spec.submodule_search_locations or ()), spec.origin] if spec is not None else []
    own = [f for f in traceback.extract_tb(e.__traceback__)
           if any(p and (f.filename == p or f.filename.startswith(os.path.join(p, ""))) for p in places)]
    text = _one_line(e)
    said = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return f"{said} ({own[-1].filename}, line {own[-1].lineno})" if own else said


def skip_entry_point(ep: importlib.metadata.EntryPoint, group: str, problem: str, module: str) -> None:
    """Warn that entry point ``ep`` of ``group`` is not added, for ``problem``, naming its package and
    pointing at its line of the package's ``entry_points.txt`` (not at the line of ``module`` that reads
    it); once a command: not again in the fork server (``PLUGIN_WARNINGS_SHOWN``)."""
    if os.environ.get(PLUGIN_WARNINGS_SHOWN):
        return
    where = f"entry point {ep.name} = {ep.value!r} of group {group}"
    if ep.dist is not None:
        where += f" (package {ep.dist.name})"
    place = _entry_point_line(ep) or (f"<{group}>", 0)
    warnings.warn_explicit(f"{where} is not added: {problem}", UserWarning, *place, module=module)


def first_holder(first: importlib.metadata.EntryPoint, ep: importlib.metadata.EntryPoint) -> str:
    """Whose ``first`` is, the entry point that took ``ep``'s name in its group, for the warning that skips
    ``ep``: another package's (importlib lists the packages in sys.path's order), or ``ep``'s own, one name
    on two lines of its entry_points.txt."""
    package = first.dist.name if first.dist is not None else "(unknown)"
    if ep.dist is not None and package == ep.dist.name:
        return "this package's own (an earlier line of its entry_points.txt)"
    return f"package {package}'s (earlier on sys.path)"


def _plugin_games() -> dict[str, tuple[str, str]]:
    """The games of ``PLUGIN_GROUP``'s entry points, as ``GAMES`` entries (the id ``depthfirst/<Class>-v0``).
    One that cannot be added is skipped with a warning naming its package and what to change: raising here
    would stop every game, the built-in ones too, and every script with a traceback."""
    games: dict[str, tuple[str, str]] = {}
    firsts: dict[str, importlib.metadata.EntryPoint] = {}  # name -> the entry point that added it
    ids = {gym_id for _, gym_id in GAMES.values()}
    for ep in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        # Used once the value is checked below (ep.attr raised AttributeError on one importlib cannot parse).
        gym_id = f"depthfirst/{ep.value.partition(':')[2]}-v0"
        if not GAME_NAME.fullmatch(ep.name):  # it names run folders and configs/<name>.yaml
            problem = "its name must be lower-case letters, digits and _, starting with a letter"
        elif ep.name in games:
            problem = (f"the game {ep.name!r} exists already, {first_holder(firsts[ep.name], ep)}: give this "
                       "one another name")
        elif ep.name in GAMES:
            built_in = " (a built-in game)" if ep.name in BUILTIN_GAMES else ""
            problem = f"the game {ep.name!r} exists already{built_in}: give this one another name"
        elif not re.fullmatch(r"[\w.]+:\w+", ep.value):
            problem = "its value must name the game's class as 'package.module:GameClass'"
        elif gym_id in ids:
            problem = f"its Gymnasium id {gym_id} is another game's: rename the class"
        else:
            games[ep.name] = (ep.value, gym_id)
            firsts[ep.name] = ep
            ids.add(gym_id)
            continue
        skip_entry_point(ep, PLUGIN_GROUP, problem, "envs")
    return games


GAMES.update(_plugin_games())


def game_package(name: str, group: str = PLUGIN_GROUP) -> tuple[str, str] | None:
    """(name, version) of the installed package whose entry point of ``group`` (a game's; a task module's,
    ``vlm.tasks.TASK_PLUGIN_GROUP``) serves game ``name``, for the records that name the code behind their
    data (an export's versions); None for a built-in game."""
    if name in BUILTIN_GAMES:
        return None
    for ep in importlib.metadata.entry_points(group=group, name=name):
        if ep.dist is not None:
            return ep.dist.name, ep.dist.version
    return None


def game_class(name: str) -> type[Game]:
    if not isinstance(name, str) or name not in GAMES:  # a list is unhashable: a bare TypeError
        raise ValueError(f"unknown env {name!r}; known envs: {', '.join(sorted(GAMES))}")
    module, cls = GAMES[name][0].split(":")
    if name in BUILTIN_GAMES:
        return getattr(importlib.import_module(module), cls)
    # A game of another package: a failure names its entry point, the one place that tells where it came from.
    from envs.base import Game, GameDefinitionError

    where = f"game {name!r} ({GAMES[name][0]}, an entry point of group {PLUGIN_GROUP})"
    try:
        imported = importlib.import_module(module)
    except Exception as e:  # the package's code, run as it is imported: one error line, not its traceback
        raise GameDefinitionError(f"{where} cannot be loaded: {import_problem(e, module)}") from e
    try:
        found = getattr(imported, cls)
    except AttributeError as e:
        raise GameDefinitionError(f"{where} cannot be loaded: {e}") from e
    if not (isinstance(found, type) and issubclass(found, Game)):
        raise GameDefinitionError(f"{where} is {found!r}, not a subclass of envs.base.Game")
    if inspect.isabstract(found):  # else Python's TypeError when made, reported as an option the run set
        raise GameDefinitionError(f"{where} lacks {', '.join(sorted(found.__abstractmethods__))} of the game "
                                  "contract (envs/base.py): implement them")
    # make_game passes num_envs: its TypeError was reported as an option the run set (env_kwargs).
    params = inspect.signature(found).parameters.values()
    if not any((p.name == "num_envs" and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD
               for p in params):
        raise GameDefinitionError(f"{where}: its constructor takes no num_envs, which every game is made "
                                  f"with ({cls}(num_envs=N, **options)): def __init__(self, num_envs=1, ...) "
                                  "and pass it to super().__init__")
    own = getattr(found, "name", None)
    if isinstance(own, str) and own != name:  # a run trained as one, then looked the game up as the other
        raise GameDefinitionError(f"{where} is named {own!r} ({found.__name__}.name): give the class and the "
                                  "entry point the same name")
    return found


def is_builtin(cls: type) -> bool:
    """Whether ``cls`` is a built-in game's class (not one of another package, nor a subclass of one)."""
    return any(GAMES[name][0] == f"{cls.__module__}:{cls.__qualname__}" for name in BUILTIN_GAMES)


def make_game(name: str, num_envs: int = 1, **kwargs: Any) -> Game:
    if "game_kwargs" in kwargs:  # GameVecEnv's argument given to make_vec, make_env or gym.make
        raise TypeError(f"game_kwargs={kwargs['game_kwargs']!r}: make_game, make_env, make_vec and gym.make "
                        "take the game's options as keywords (make_vec(name, num_envs, size=8)); "
                        "game_kwargs, a dict of them, is GameVecEnv's argument")
    return game_class(name)(num_envs=num_envs, **kwargs)


def make_env(name: str, **kwargs: Any) -> GameEnv:
    from envs.env import GameEnv

    return GameEnv(name, **kwargs)


def make_vec(name: str, num_envs: int, num_workers: int | None = None, seed: int | None = 0,
             **kwargs: Any) -> GameVecEnv:
    from envs.vector import GameVecEnv

    # GameVecEnv's other arguments went on to the game: "Snake.__init__() got an unexpected keyword argument".
    # Not game (the Game Boy's option too) nor game_kwargs (make_game's own message).
    own = sorted(set(kwargs) & (set(inspect.signature(GameVecEnv).parameters) - {"game", "game_kwargs"}))
    if own:
        raise TypeError(f"{own[0]} is an argument of envs.vector.GameVecEnv, not a {name} option: make_vec "
                        f"passes its keywords to the game; make the env as GameVecEnv({name!r}, {num_envs}, "
                        f"num_workers=..., seed=..., game_kwargs={{...}}, {own[0]}=...)")
    return GameVecEnv(name, num_envs=num_envs, num_workers=num_workers, seed=seed, game_kwargs=kwargs)


for _name, (_, _gym_id) in GAMES.items():
    if _gym_id not in gym.registry:
        # The game's own entry point (envs.env.__getattr__): it refuses a depthfirst_game of another game.
        # Without Gymnasium's passive checker (check_env passes for every game, in the tests): after a
        # refused first reset (options=...) it failed every later step with a TypeError of its own.
        gym.register(id=_gym_id, entry_point=f"envs.env:registered_{_name}",
                     kwargs={"depthfirst_game": _name}, disable_env_checker=True)
