"""Game Boy games through the PyBoy emulator.

- ``pokemon_red`` (``envs.gameboy.pokemon.PokemonRed``): Pokémon Red, rewarded from RAM, with a
  visited-tile channel and Go-Explore-style swarm restarts.
- ``gameboy`` (``envs.gameboy.generic.GameBoy``): Tetris, Super Mario Land or Kirby through PyBoy's
  game wrappers.
- ``cartridge/``: the project's own test cartridge (sm83 assembly + build script + built ROM), which
  keeps its state at Pokémon Red's RAM addresses; every test runs on it.

PyBoy is imported only when an emulator is made, so this package imports without it. Its games and
helpers are imported from their modules (``envs.gameboy.pokemon.PokemonRed``, ``envs.gameboy.roms``, ...).
"""
