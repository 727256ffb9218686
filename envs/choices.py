"""The values of the games' named-choice options. Stdlib only: the games check their options against
these tables, and scripts/train_ppo.py offers them in ``--help`` without importing Numba or PyBoy
(a second or more), so a value added here is one the command line takes too."""

from __future__ import annotations

from envs.gameboy.wrapped import GAMES as _WRAPPED_GAMES

SNAKE_OBS: tuple[str, ...] = ("grid", "pixels")  # snake's obs: one pixel per cell, or a rendered board

SNAKE_DUEL_OPPONENTS: tuple[str, ...] = ("greedy", "random", "policy")  # snake_duel's opponent

#: sokoban's difficulty -> (size incl. walls, (min boxes, max boxes), max_steps)
SOKOBAN_DIFFICULTIES: dict[str, tuple[int, tuple[int, int], int]] = {
    "easy": (6, (1, 1), 120),
    "medium": (8, (2, 2), 120),
    "hard": (10, (3, 4), 200),
}

GAMEBOY_GAMES: tuple[str, ...] = tuple(_WRAPPED_GAMES)  # gameboy's game (envs/gameboy/wrapped.py)
