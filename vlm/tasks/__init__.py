"""Per-game task modules: ``vlm/tasks/<game>.py`` for each built-in game of ``envs.GAMES`` that has one,
and for a game of another package the module its entry point of ``TASK_PLUGIN_GROUP`` names.

A task module defines ``GAME``, ``make_tasks(state, rng, source) -> list[TaskDraft]`` and
``move_task(state) -> TaskDraft`` (the contract in ``vlm/record.py``). A built-in game added later plugs
in by adding its file here, a package's game by its entry point: ``TASK_GAMES`` lists the games with one,
``task_module(game)`` imports it and checks the contract.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import pkgutil
import re
import threading
from collections import deque
from collections.abc import Callable, Collection, Hashable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from envs.base import Game

G = TypeVar("G")

#: The entry-point group through which an installed package gives its game (one of ``envs.PLUGIN_GROUP``'s)
#: a task module: ``name = "package.module"``, name the game's (README "Adding your own game").
TASK_PLUGIN_GROUP = "depthfirst.tasks"
_BUILTIN_TASKS = tuple(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                       if not m.name.startswith("_"))


def _plugin_tasks() -> dict[str, str]:
    """game -> module of ``TASK_PLUGIN_GROUP``'s entry points. One that cannot be used is skipped with a
    warning naming its package and what to change, as ``envs._plugin_games`` does a game's: raising here
    would stop every script. Whether the module imports and keeps the contract is checked when it is used
    (``task_module``): importing every installed one here would slow every script down."""
    from envs import BUILTIN_GAMES, GAMES, PLUGIN_GROUP, first_holder, skip_entry_point

    firsts: dict[str, importlib.metadata.EntryPoint] = {}  # game -> the entry point that gave its module
    for ep in importlib.metadata.entry_points(group=TASK_PLUGIN_GROUP):
        if ep.name in firsts:
            first = firsts[ep.name]
            problem = (f"the game {ep.name!r} has a task module already, {first.value}, "
                       f"{first_holder(first, ep)}: a game takes one: remove one of the two entry points")
        elif ep.name in BUILTIN_GAMES:
            # Refused even where the game has none (gameboy): a built-in's questions are this project's file,
            # and gameboy's would fit one cartridge of the several its runs play.
            has = (f"whose task module is this project's vlm/tasks/{ep.name}.py" if ep.name in _BUILTIN_TASKS
                   else "which has no task module")
            problem = (f"{ep.name!r} is a built-in game, {has}: a package's is for a game it adds (group "
                       f"{PLUGIN_GROUP}): add yours under a name of its own and name this entry point as it")
        elif ep.name not in GAMES:  # the built-in games are refused above: only the others can be named
            others = ", ".join(sorted(set(GAMES) - BUILTIN_GAMES)) or "none"
            problem = (f"{ep.name!r} is no game (an entry point of group {PLUGIN_GROUP} adds one): name the "
                       f"entry point as the game's; games of installed packages: {others}")
        elif not re.fullmatch(r"\w+(\.\w+)*", ep.value):
            problem = "its value must name the task module as 'package.module'"
        else:
            firsts[ep.name] = ep
            continue
        skip_entry_point(ep, TASK_PLUGIN_GROUP, problem, "vlm.tasks")
    return {game: ep.value for game, ep in firsts.items()}


#: game -> its task module's import name: the built-in ones' files, then the entry points'.
TASK_MODULES: dict[str, str] = {**{name: f"vlm.tasks.{name}" for name in _BUILTIN_TASKS}, **_plugin_tasks()}
TASK_GAMES: tuple[str, ...] = tuple(sorted(TASK_MODULES))
#: Each grid move's (dx, dy), x to the right and y down (Snake, Duel Snake and Sokoban move this way).
STEP: dict[str, tuple[int, int]] = {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}
#: The move that goes back the way ``move`` came: OPPOSITE[move].
OPPOSITE: dict[str, str] = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun for it: "1 move", "2 moves", "1,000 boxes" (``words``: an irregular plural)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def listed(words: list[str], last: str = "and") -> str:
    """``words`` as a sentence lists them: "a", "a and b", "a, b and c" (``last``: the word before the last,
    "or" for alternatives)."""
    return f" {last} ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def grid_bfs(size: int, start: tuple[int, int], blocked: Collection[tuple[int, int]],
             goals: Collection[tuple[int, int]]) -> tuple[int | None, int]:
    """(moves from ``start`` to the nearest of ``goals`` through unblocked cells of a ``size`` × ``size``
    grid, or None, cells reachable from ``start``)."""
    dist = {start: 0}
    queue = deque([start])
    found = None
    while queue:
        c = queue.popleft()
        if found is None and c in goals:
            found = dist[c]
        for dx, dy in STEP.values():
            nxt = (c[0] + dx, c[1] + dy)
            if 0 <= nxt[0] < size and 0 <= nxt[1] < size and nxt not in blocked and nxt not in dist:
                dist[nxt] = dist[c] + 1
                queue.append(nxt)
    return found, len(dist) - 1


_scratch = threading.local()  # per thread: the VLM player asks its questions from a thread pool


def scratch_game(key: Hashable, make: Callable[[], G]) -> G:
    """This thread's engine for ``key``, made by ``make()`` on first use and kept: the games a task module
    simulates questions on (key them by the module's ``GAME`` and what ``make`` depends on)."""
    games = _scratch.__dict__.setdefault("games", {})
    if key not in games:
        games[key] = make()
    return games[key]


def play_moves(game: Game, state: dict[str, Any], moves: Sequence[str]) -> list[dict[str, Any]]:
    """Board 0 of ``game`` (a task module's scratch game) put into ``state``, then ``moves`` (action names)
    played on it: the state after each move, stopping once the episode has ended: the state's ``done``,
    which a game of another package must have for it (README "Adding your own game" step 4)."""
    game.set_state(0, state)
    out = []
    for m in moves:
        game.step(np.array([game.ACTION_NAMES.index(m)]))
        out.append(game.get_state(0))
        if out[-1]["done"]:
            break
    return out


def missing_module(game: str) -> str:
    """Where ``game``'s task module would come from, for a message about its having none: a file to add
    here for a game of this project; an entry point of ``TASK_PLUGIN_GROUP`` for a game of another package
    (one of ``depthfirst.games``), whose author cannot add a file to this folder."""
    from envs import BUILTIN_GAMES, GAMES

    if game in GAMES and game not in BUILTIN_GAMES:
        return (f"a package gives it one by an entry point of group {TASK_PLUGIN_GROUP}: {game} = "
                "'package.module' (GAME, make_tasks, move_task; see vlm/record.py and README 'Adding your "
                "own game')")
    return f"add vlm/tasks/{game}.py (GAME, make_tasks, move_task; see vlm/record.py)"


def package_module(game: str) -> str | None:
    """The import name of ``game``'s task module where a package gives it (its entry point); None for a
    built-in module (this project's file, whose faults are this project's bugs) or none."""
    module = TASK_MODULES.get(game)
    return None if module is None or module == f"vlm.tasks.{game}" else module


def module_place(game: str) -> str:
    """Where ``game``'s task module is, for a message about it: its file here, or its entry point."""
    if (module := package_module(game)) is None:
        return f"vlm/tasks/{game}.py"
    return f"task module {module} (entry point {game} of group {TASK_PLUGIN_GROUP})"


class TaskModuleError(ValueError):
    """A package's task module raised as it ran (``raised_problem``): said in one error: line."""


def raised_problem(game: str, e: Exception) -> str | None:
    """Exception ``e`` that ``game``'s task module raised as it ran, in one line naming the package's line
    that raised it (``envs.raised_at``): its traceback through this project's frames read as this project's
    failure. None for a built-in module's, a bug of this project, which its traceback reports best."""
    if (name := package_module(game)) is None:
        return None
    from envs import raised_at

    return raised_at(e, name)


def task_module(game: str) -> ModuleType:
    """The task module of ``game``; ValueError naming the games that have one if it has none, ImportError
    naming the module if it cannot be imported (``envs.import_problem`` says why in one line), TypeError if it
    breaks the contract (lacks ``GAME``, ``make_tasks`` or ``move_task``, has a function that is none, another
    game's ``GAME``, ``FAMILIES`` other than a tuple or list of families)."""
    if game not in TASK_GAMES:
        from envs import GAMES

        known = "a known env" if game in GAMES else f"not an env (envs: {', '.join(sorted(GAMES))})"
        raise ValueError(f"no VLM task module for {game!r} ({known}); games with task modules: "
                         f"{', '.join(TASK_GAMES)}; {missing_module(game)}.")
    name = TASK_MODULES[game]  # TASK_GAMES lists its games
    place = module_place(game)
    try:
        module = importlib.import_module(name)
    except Exception as e:  # a package's code, run as it is imported: one error line, not its traceback
        from envs import import_problem

        raise ImportError(f"{place} cannot be imported: {import_problem(e, name)}") from e
    for attr in ("GAME", "make_tasks", "move_task"):
        if not hasattr(module, attr):
            raise TypeError(f"{place} lacks {attr} (see the contract in vlm/record.py)")
        if attr != "GAME" and not callable(getattr(module, attr)):  # else a TypeError mid-play
            raise TypeError(f"{place} has {attr} = {getattr(module, attr)!r}, not a function (see the "
                            "contract in vlm/record.py)")
    if game != module.GAME:  # a module of another game's questions, or a copy left unrenamed
        raise TypeError(f"{place} has GAME = {module.GAME!r}, not {game!r}: set GAME = {game!r}")
    from vlm.record import FAMILIES

    families = getattr(module, "FAMILIES", FAMILIES)  # drawn_families: a str was read letter by letter
    if not (isinstance(families, (tuple, list)) and families and all(f in FAMILIES for f in families)):
        raise TypeError(f"{place} has FAMILIES = {families!r}: give the families it draws as a tuple or list "
                        f"of {', '.join(FAMILIES)}")
    return module


#: The verifier rules of a move question (``move_task``'s): those ``vlm.verify.parse_move`` reads a move from.
MOVE_RULES = ("word", "snake_best_worst")


def check_move_task(game: str) -> None:
    """A TypeError naming the task module of ``game``, a game of another package, unless its ``move_task`` of
    a start state (board 0 of the game with its default options, seed 0) asks which of the game's actions to
    play: a draft whose verifier is rule ``word`` with actions of the game as its ``choices``
    (``vlm.prompts.word_draft``) or ``snake_best_worst`` with them as its ``moves``. A VLM's play asked
    another (lettered options: ``choice``) and failed in a traceback at the first answer; with other words
    every answer was illegal. The built-in modules skip it (the tests check theirs), as does a game that
    cannot be made so: the play's own check of the game names its fault."""
    if package_module(game) is None:
        return
    from envs import make_game

    try:
        with contextlib.closing(make_game(game, 1)) as made:
            made.reset(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.uint64))
            state, actions = made.get_state(0), made.ACTION_NAMES
    except Exception:
        return
    place = module_place(game)
    try:
        draft = task_module(game).move_task(state)
    except Exception as e:
        # Worded as the play's own (agents/vlm_player.py), which names the step: here no step is played yet.
        raise TypeError(f"{place} move_task (a start state) raised {raised_problem(game, e)}") from e
    spec = getattr(draft, "verifier", None)
    rule = spec.get("rule") if isinstance(spec, dict) else None
    named = spec.get({"word": "choices", "snake_best_worst": "moves"}.get(rule, "")) if rule else None
    names = {a.upper() for a in actions}
    if rule not in MOVE_RULES:
        problem = f"its verifier's rule is {rule!r}"
    elif not isinstance(named, list) or not all(isinstance(n, str) and n.upper() in names for n in named):
        shown = ", ".join(map(str, named)) if isinstance(named, list) else repr(named)
        problem = f"its choices {shown} are not all actions of {game} ({', '.join(actions)})"
    else:
        return
    raise TypeError(f"{place}: move_task must ask which of {game}'s actions to play, a draft whose verifier "
                    "is rule 'word' with the actions as its choices and the good moves as accepted "
                    f"(vlm.prompts.word_draft), or 'snake_best_worst'; {problem}")


def drawn_families(module: ModuleType) -> tuple[str, ...]:
    """The families a task module draws, one task each a state at most: its ``FAMILIES``, else them all."""
    from vlm.record import FAMILIES

    return tuple(getattr(module, "FAMILIES", FAMILIES))


__all__ = ["MOVE_RULES", "OPPOSITE", "STEP", "TASK_GAMES", "TASK_MODULES", "TASK_PLUGIN_GROUP",
           "TaskModuleError", "check_move_task", "drawn_families", "grid_bfs", "missing_module",
           "module_place", "package_module", "play_moves", "plural", "raised_problem", "scratch_game",
           "task_module"]
