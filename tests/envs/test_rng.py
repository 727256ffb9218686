"""envs.rng: the per-board SplitMix64 stream every seeded game draws from."""

from __future__ import annotations

import numpy as np

from envs.rng import next_u64, randint, seeds_from


def test_next_u64_is_splitmix64() -> None:
    """The published SplitMix64 outputs for state 0: a seed replays the same boards in every process and
    in every version, so a stored trajectory still replays (a changed shift or constant would not)."""
    state = np.zeros(2, dtype=np.uint64)
    assert [int(next_u64(state, 1)) for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4,
                                                           0x06C45D188009454F]
    assert int(state[0]) == 0 and int(state[1]) == 3 * 0x9E3779B97F4A7C15 % 2**64  # only board 1 moved


def test_randint_covers_zero_to_n_minus_one() -> None:
    state = np.array([7], dtype=np.uint64)
    draws = {int(randint(state, 0, 5)) for _ in range(200)}
    assert draws == {0, 1, 2, 3, 4}
    assert int(randint(state, 0, 1)) == 0


def test_seeds_from_counts_up_from_seed_as_uint64_up_to_2_64_minus_1() -> None:
    """Board k's seed is seed + k; the command line takes seeds up to 2**64 - 1 (agents/cli.py)."""
    assert seeds_from(5, 3).tolist() == [5, 6, 7]
    top = seeds_from(2**64 - 2, 2)
    assert top.dtype == np.uint64 and top.tolist() == [2**64 - 2, 2**64 - 1]


def test_seeds_from_wraps_a_seed_past_2_64_as_the_vector_env_does() -> None:
    """Callers add an offset to a seed the command line took up to 2**64 - 1 (evaluation's seed + start,
    the exports' seed + episode): the sum wraps modulo 2**64, as the vector env's board seeds do, rather
    than failing to fit a uint64."""
    assert seeds_from(2**64 - 1 + 3, 2).tolist() == [2, 3]
    assert seeds_from(-1, 2).tolist() == [2**64 - 1, 0]
