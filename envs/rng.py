"""A per-board random stream that Numba kernels can advance: SplitMix64 on a uint64 state.

Each board owns one uint64 word; drawing from it is a few integer operations, needs no Python
object, and is identical in every process, so seeded episodes replay exactly everywhere.

Numba's cache (``cache=True``) checks only the file that defines each kernel: the games' kernels inline
these functions, so a change here must come with a change to each game module that uses them (snake,
snake_duel, rotation, sokoban), or the kernels compiled before it, in every user's cache after a git
pull too, keep the old stream. The same holds for a constant of envs/base.py that a kernel reads.
"""

from __future__ import annotations

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@numba.njit(cache=True, inline="always")
def next_u64(state: np.ndarray, i: int) -> np.uint64:
    """Advance board ``i``'s stream and return 64 random bits."""
    state[i] += _GOLDEN
    z = state[i]
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def randint(state: np.ndarray, i: int, n: int) -> np.int64:
    """A uniform integer in [0, n) from board ``i``'s stream (n >= 1), as int64: Numba's uint64
    mixed with int64 arithmetic would silently become float64."""
    return np.int64(next_u64(state, i) % np.uint64(n))


def seeds_from(seed: int, n: int) -> np.ndarray:
    """``n`` board seeds ``seed, seed+1, ...`` as uint64 (board k of a seeded vec env = seed + k)."""
    return (np.arange(n, dtype=np.uint64) + np.uint64(seed % (1 << 64))).astype(np.uint64)
