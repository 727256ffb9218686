"""Per-game task modules: ``vlm/tasks/<game>.py`` for each game of ``envs.GAMES`` that has one.

A task module defines ``GAME``, ``make_tasks(state, rng, source) -> list[TaskDraft]`` and
``move_task(state) -> TaskDraft`` (the contract in ``vlm/record.py``). A game added later plugs in by
adding its file here: ``TASK_GAMES`` lists the modules found, ``task_module(game)`` imports one.
"""

from __future__ import annotations

import importlib
import pkgutil
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

TASK_GAMES: tuple[str, ...] = tuple(sorted(
    m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")))
#: Each grid move's (dx, dy), x to the right and y down (Snake, Duel Snake and Sokoban move this way).
STEP: dict[str, tuple[int, int]] = {"UP": (0, -1), "DOWN": (0, 1), "LEFT": (-1, 0), "RIGHT": (1, 0)}
#: The move that goes back the way ``move`` came: OPPOSITE[move].
OPPOSITE: dict[str, str] = {"UP": "DOWN", "DOWN": "UP", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun for it: "1 move", "2 moves", "1,000 boxes" (``words``: an irregular plural)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def listed(words: list[str]) -> str:
    """``words`` as a sentence lists them: "a", "a and b", "a, b and c"."""
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


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
    played on it: the state after each move, stopping once the episode has ended (``done``)."""
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
    here for a game of this project; none for a game of another package (an entry point of
    ``depthfirst.games``), whose author cannot add a file to this folder: naming one sent them to edit
    this project."""
    from envs import BUILTIN_GAMES, GAMES

    if game in GAMES and game not in BUILTIN_GAMES:
        return ("task modules are this project's own (vlm/tasks/), and a game of another package cannot "
                "add one")
    return f"add vlm/tasks/{game}.py (GAME, make_tasks, move_task; see vlm/record.py)"


def task_module(game: str) -> ModuleType:
    """The task module of ``game``; ValueError naming the games that have one if it has none."""
    if game not in TASK_GAMES:
        from envs import GAMES

        known = "a known env" if game in GAMES else f"not an env (envs: {', '.join(sorted(GAMES))})"
        raise ValueError(f"no VLM task module for {game!r} ({known}); games with task modules: "
                         f"{', '.join(TASK_GAMES)}; {missing_module(game)}.")
    module = importlib.import_module(f"vlm.tasks.{game}")
    for name in ("GAME", "make_tasks", "move_task"):
        if not hasattr(module, name):
            raise TypeError(f"vlm/tasks/{game}.py lacks {name} (see the contract in vlm/record.py)")
    return module


def drawn_families(module: ModuleType) -> tuple[str, ...]:
    """The families a task module draws, one task each a state at most: its ``FAMILIES``, else them all."""
    from vlm.record import FAMILIES

    return tuple(getattr(module, "FAMILIES", FAMILIES))


__all__ = ["OPPOSITE", "STEP", "TASK_GAMES", "drawn_families", "grid_bfs", "missing_module", "play_moves",
           "plural", "scratch_game", "task_module"]
