"""Every depthfirst game, by name: ``make_game`` (batched core), ``make_env`` (one Gymnasium
env), ``make_vec`` (the worker-pool VecEnv used for training). Gymnasium ids: ``depthfirst/<Id>-v0``.
"""

from __future__ import annotations

# First: python -m envs.gameboy.cartridge.build imports this package (gymnasium: most of the build's time)
# before the module's own first line; a stop signal there exits 130 in one line, as one later does.
import agents.startup  # noqa: F401

# isort: split
import importlib
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

# name -> ("module:Class", Gymnasium id). A new game is one line here.
GAMES: dict[str, tuple[str, str]] = {
    "gameboy": ("envs.gameboy.generic:GameBoy", "depthfirst/GameBoy-v0"),
    "pokemon_red": ("envs.gameboy.pokemon:PokemonRed", "depthfirst/PokemonRed-v0"),
    "snake": ("envs.snake:Snake", "depthfirst/Snake-v0"),
    "snake_duel": ("envs.snake_duel:SnakeDuel", "depthfirst/SnakeDuel-v0"),
    "rotation": ("envs.rotation:Rotation", "depthfirst/Rotation-v0"),
    "sokoban": ("envs.sokoban:Sokoban", "depthfirst/Sokoban-v0"),
}


def game_class(name: str) -> type[Game]:
    if not isinstance(name, str) or name not in GAMES:  # a list is unhashable: a bare TypeError
        raise ValueError(f"unknown env {name!r}; known envs: {', '.join(sorted(GAMES))}")
    module, cls = GAMES[name][0].split(":")
    return getattr(importlib.import_module(module), cls)


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

    return GameVecEnv(name, num_envs=num_envs, num_workers=num_workers, seed=seed, game_kwargs=kwargs)


for _name, (_, _gym_id) in GAMES.items():
    if _gym_id not in gym.registry:
        # The game's own entry point (envs.env.__getattr__): it refuses a depthfirst_game of another game.
        # Without Gymnasium's passive checker (check_env passes for every game, in the tests): after a
        # refused first reset (options=...) it failed every later step with a TypeError of its own.
        gym.register(id=_gym_id, entry_point=f"envs.env:registered_{_name}",
                     kwargs={"depthfirst_game": _name}, disable_env_checker=True)
