"""Functions the vector tests send to worker processes through set_attr. A worker unpickles a function by
importing its module: from test_vector.py that import pulled in stable-baselines3 and torch (about 3.5 s a
worker on a 2-core box), so they live here, in a module that imports nothing heavy."""

import os
import time
from pathlib import Path

import numpy as np


def exit_at_once(*args) -> None:
    os._exit(3)


def slow_step(actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A game's step that answers late (set on one worker's game through set_attr)."""
    time.sleep(0.5)
    n = len(actions)
    return np.zeros(n, np.float32), np.zeros(n, np.bool_), np.zeros(n, np.bool_)


def slow_raise(actions: np.ndarray) -> None:
    """A game's step that fails late (set on one worker's game through set_attr)."""
    time.sleep(0.5)
    raise ValueError("a late failure")


def touch(path: Path, delay: float = 0.0) -> None:
    """Leaves ``path`` behind, after ``delay`` seconds: set (through functools.partial) as a worker game's
    ``close``."""
    time.sleep(delay)
    Path(path).touch()


class NeedsTwo(Exception):
    """Pickles but does not unpickle: pickle calls NeedsTwo(message), one argument short."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a} {b}")


def raise_unloadable(*args) -> None:
    raise NeedsTwo("cannot", "travel")


def _refuse_to_load() -> None:
    raise AttributeError("Can't get attribute 'Note' on <module '__main__' (built-in)>")


class LoadsNowhere:
    """Pickles in the parent but fails to load in a worker, as an instance of a class defined in a notebook,
    an interactive session or ``python -c`` does (the worker has no such class)."""

    def __reduce__(self) -> tuple:
        return _refuse_to_load, ()


def exit_after_closing_the_pipe(conn, *args) -> None:
    """A worker (in place of worker_main) that dies while starting, its pipe closed a moment before it exits,
    as a dying process's is: the parent reads the closed pipe before the process can be reaped."""
    conn.close()
    time.sleep(0.3)
    os._exit(3)
