"""Stopping a run by signal: SIGINT and SIGTERM become ``KeyboardInterrupt``, so training saves a
checkpoint whichever way it is stopped (torch-free, so scripts install it before their heavy imports)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` (once; a repeat while the checkpoint is being
    written is ignored). Needed because a background job of a shell without job control starts with
    SIGINT ignored, and ``timeout``, ``kill`` and job schedulers send SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = 0

    def interrupt(signum: int, frame: Any) -> None:
        nonlocal received
        received += 1
        if received == 1:
            raise KeyboardInterrupt
        print("stopping: saving what there is to save, one moment", file=sys.stderr)

    old = {s: signal.signal(s, interrupt) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
