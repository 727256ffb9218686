"""Imported by the fork server only (``GameVecEnv`` preloads it): Numba's one-off set-up in a process
(its compiler and LLVM target, about a second even when every kernel comes from the disk cache) is done
there once, and each worker forked from the server inherits it instead of paying it at its start."""

import numba


@numba.njit(cache=True)
def _one(x: int) -> int:
    return x + 1


_one(1)
