"""Game Boy games through the PyBoy emulator.

- ``pokemon_red`` (``envs.gameboy.pokemon.PokemonRed``): Pokémon Red, rewarded from RAM, with a
  visited-tile channel and Go-Explore-style swarm restarts.
- ``gameboy`` (``envs.gameboy.generic.GameBoy``): Tetris, Super Mario Land or Kirby through PyBoy's
  game wrappers.
- ``cartridge/``: the project's own test cartridge (sm83 assembly + build script + built ROM), which
  keeps its state at Pokémon Red's RAM addresses; every test runs on it.

PyBoy is imported only when an emulator is made, so this package imports without it. The names below
load their module on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "PokemonRed": "envs.gameboy.pokemon",
    "REWARD_WEIGHTS": "envs.gameboy.pokemon",
    "GameBoy": "envs.gameboy.generic",
    "GameBoyGame": "envs.gameboy.core",
    "RomError": "envs.gameboy.roms",
    "RomNotFoundError": "envs.gameboy.roms",
    "StateArchive": "envs.gameboy.archive",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'envs.gameboy' has no attribute {name!r}")
