"""Raw speed of a game core: env steps/s of one process stepping a batch with random actions.

One loop for every game (the contract makes them interchangeable): step, observe, and reset the boards
whose episode ended, as the vector env does. A figure, not a test: ``scripts/benchmark.py`` prints it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from envs import make_game
from envs.rng import seeds_from


def game_sps(name: str, seconds: float = 2.0, num_envs: int = 1024, **game_kwargs: Any) -> float:
    game = make_game(name, num_envs=num_envs, **game_kwargs)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, game.action_space.n, size=(64, num_envs))
    obs = game.new_obs_buffer()
    game.reset(np.arange(num_envs), seeds_from(0, num_envs))
    seed = num_envs
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or steps == 0:
        for a in actions:
            _, terminated, truncated = game.step(a)
            game.observe(obs)
            ended = np.flatnonzero(terminated | truncated)
            if ended.size:
                game.reset(ended, seeds_from(seed, ended.size))
                seed += ended.size
            steps += num_envs
            if not game.cheap and time.perf_counter() - t0 >= seconds:
                break
    return steps / (time.perf_counter() - t0)
