"""Per-game task modules: ``vlm/tasks/<game>.py`` for each game of ``envs.GAMES`` that has one.

A task module defines ``GAME``, ``make_tasks(state, rng, source) -> list[TaskDraft]`` and
``move_task(state) -> TaskDraft`` (the contract in ``vlm/record.py``). A game added later plugs in by
adding its file here: ``TASK_GAMES`` lists the modules found, ``task_module(game)`` imports one.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

TASK_GAMES: tuple[str, ...] = tuple(sorted(
    m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")))


def plural(n: int, word: str, words: str | None = None) -> str:
    """``n`` and the noun for it: "1 move", "2 moves", "1,000 boxes" (``words``: an irregular plural)."""
    return f"{n:,} {word if n == 1 else words or word + 's'}"


def task_module(game: str) -> ModuleType:
    """The task module of ``game``; ValueError naming the games that have one if it has none."""
    if game not in TASK_GAMES:
        from envs import GAMES

        known = "a known env" if game in GAMES else f"not an env (envs: {', '.join(sorted(GAMES))})"
        raise ValueError(f"no VLM task module for {game!r} ({known}); games with task modules: "
                         f"{', '.join(TASK_GAMES)}. Add vlm/tasks/{game}.py to support it.")
    module = importlib.import_module(f"vlm.tasks.{game}")
    for name in ("GAME", "make_tasks", "move_task"):
        if not hasattr(module, name):
            raise TypeError(f"vlm/tasks/{game}.py lacks {name} (see the contract in vlm/record.py)")
    return module


__all__ = ["TASK_GAMES", "plural", "task_module"]
