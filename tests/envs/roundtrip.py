"""The round-trip property every game's ``set_state`` must keep: each state the game itself produces is
accepted, restores to the same state, and plays on identically (the refusals of impossible boards must
never refuse a real one)."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from envs.base import Game


def assert_round_trips(make: Callable[[], Game], steps: int, seed: int = 0) -> int:
    """Play ``make()``'s boards with random actions for ``steps`` steps (ended boards reset with new
    seeds); at every step put each board's state, through JSON, into a second game made the same way,
    and check that it reads back equal and that both games step to equal states and observations.
    Returns how many episodes ended (so a test can check it saw some)."""
    game, copy = make(), make()
    n = game.num_envs
    boards = np.arange(n, dtype=np.int64)
    game.reset(boards, np.arange(seed, seed + n, dtype=np.uint64))
    rng = np.random.default_rng(seed)
    next_seed, ended = seed + n, 0
    for _ in range(steps):
        states = [game.get_state(i) for i in range(n)]
        for i, state in enumerate(states):
            copy.set_state(i, json.loads(json.dumps(state)))
            assert copy.get_state(i) == state
        actions = rng.integers(0, len(game.ACTION_NAMES), n)
        if getattr(game, "opponent", None) == "policy":
            theirs = rng.integers(0, len(game.ACTION_NAMES), n)
            game.set_opponent_actions(theirs)
            copy.set_opponent_actions(theirs)
        a, b = game.step(actions), copy.step(actions)
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        assert [game.get_state(i) for i in range(n)] == [copy.get_state(i) for i in range(n)]
        seen, shown = game.new_obs_buffer(), copy.new_obs_buffer()
        game.observe(seen)
        copy.observe(shown)
        assert np.array_equal(seen, shown)
        done = np.flatnonzero(a[1] | a[2])
        ended += len(done)
        # The ended boards' last states are checked at the next step's round trip, then they reset.
        for i in done:
            state = game.get_state(int(i))
            copy.set_state(int(i), json.loads(json.dumps(state)))
            assert copy.get_state(int(i)) == state
        game.reset(done, np.arange(next_seed, next_seed + len(done), dtype=np.uint64))
        next_seed += len(done)
    return ended
