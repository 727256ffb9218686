"""Raw speed of a game core: env steps/s of one process stepping a batch with random actions.

One loop for every game (the contract makes them interchangeable): step, observe, and reset the boards
whose episode ended, as the vector env does. A figure, not a test: ``scripts/benchmark.py`` prints it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from envs import make_game
from envs.rng import seeds_from


def game_sps(name: str, seconds: float = 2.0, num_envs: int = 1024, **game_kwargs: Any) -> float:
    game = make_game(name, num_envs=num_envs, **game_kwargs)
    try:
        return random_play(game, seconds)[0]
    finally:
        game.close()  # the Game Boy's emulators, else open until the garbage collector finds them


def random_play(game: Any, seconds: float) -> tuple[float, float]:
    """Reset every board of ``game``, play uniformly random actions for ``seconds``: steps/s and the
    seconds it ran. One step before the clock starts: it compiles the core (or loads Numba's cache),
    which on a fresh checkout takes seconds and would be counted as play. A game's ``emulator_seconds``
    (the Game Boy's time inside PyBoy) is zeroed with the clock start, so it covers the same steps."""
    num_envs = game.num_envs
    rng = np.random.default_rng(0)
    actions = rng.integers(0, game.action_space.n, size=(64, num_envs))
    obs = game.new_obs_buffer()
    game.reset(np.arange(num_envs), seeds_from(0, num_envs))
    seed = num_envs

    def step(a: np.ndarray) -> None:
        nonlocal seed
        _, terminated, truncated = game.step(a)
        game.observe(obs)
        ended = np.flatnonzero(terminated | truncated)
        if ended.size:
            game.reset(ended, seeds_from(seed, ended.size))
            seed += ended.size

    step(actions[-1])
    if hasattr(game, "emulator_seconds"):  # the Game Boy's own clock covers the timed steps only, as wall
        game.emulator_seconds = 0.0
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or steps == 0:
        for a in actions:
            step(a)
            steps += num_envs
            if not game.cheap and time.perf_counter() - t0 >= seconds:
                break
    wall = time.perf_counter() - t0
    return steps / wall, wall


def pyboy_bare_sps(rom: str | Path, seconds: float = 2.0) -> float:
    """Agent steps/s of a bare PyBoy: the same frames per step as ``GameBoyGame`` (the last one
    rendered) and the same uniformly random buttons, but no observation, no RAM reading. The
    yardstick for the env's overhead: with the same input the game does the same kind of work (an
    idle game emulates at a different speed than one being walked around)."""
    from envs.gameboy.core import BUTTONS, PRESS_FRAMES, STEP_FRAMES, GameBoyGame, new_pyboy

    pb = new_pyboy(Path(rom).read_bytes())
    buttons = np.random.default_rng(0).integers(0, len(BUTTONS), 4096)
    try:
        pb.tick(GameBoyGame.BOOT_FRAMES, False)  # past the boot logo, as the env's start without a state is
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds or steps == 0:
            button = BUTTONS[buttons[steps % len(buttons)]]
            pb.button_press(button)
            pb.tick(PRESS_FRAMES, False)
            pb.button_release(button)
            pb.tick(STEP_FRAMES - PRESS_FRAMES - 1, False)
            pb.tick(1, True)
            steps += 1
        return steps / (time.perf_counter() - t0)
    finally:
        pb.stop(save=False)


def rss_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc``; None elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def memory_per_emulator(name: str, count: int = 8, **game_kwargs: Any) -> float | None:
    """Resident bytes each emulator adds: ``count`` boards of game ``name`` against one.

    Measured in a fresh (spawned) process: in a long-lived one the new emulators reuse pages that
    earlier work freed, and the difference can read 0.
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_resident_growth, (name, count, game_kwargs))


def _resident_growth(name: str, count: int, game_kwargs: dict[str, Any]) -> float | None:
    one = make_game(name, num_envs=1, **game_kwargs)
    one.reset(np.arange(1), seeds_from(0, 1))
    before = rss_bytes()
    many = make_game(name, num_envs=count, **game_kwargs)
    many.reset(np.arange(count), seeds_from(0, count))
    after = rss_bytes()
    for game in (one, many):
        game.close()
    if before is None or after is None:
        return None
    return (after - before) / count
