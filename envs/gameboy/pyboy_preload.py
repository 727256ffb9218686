"""Imported by the fork server only (a Game Boy game's ``WORKER_PRELOAD``): PyBoy's import (0.4-0.7 s, its
SDL2 library included) is done there once, and each worker forked from the server inherits it instead of
importing it at its start."""

import contextlib

from envs.gameboy.core import load_pyboy_class

# No PyBoy, or one that fails to load: each worker reports it when it makes its emulators, as without this
# module. An exception here would stop the fork server, and every worker with it, saying nothing of why.
with contextlib.suppress(Exception):
    load_pyboy_class()
