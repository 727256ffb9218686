"""Stopping a run by signal: SIGINT and SIGTERM become ``KeyboardInterrupt``, so training saves a
checkpoint whichever way it is stopped (torch-free, so scripts install it before their heavy imports)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active = False  # one handler for the whole process, however deeply the contexts nest
_received = 0
_deferring = False  # inside deferred_stop(): the first signal waits for the block's end
_pending = False
_held: dict[int, Any] | None = None  # inside stop_signals_held(): the handlers it replaced


def _interrupt(signum: int, frame: Any) -> None:
    global _received, _pending
    _received += 1
    if _received == 1:
        if _deferring:
            _pending = True
            return
        raise KeyboardInterrupt
    print("stopping: one moment", file=sys.stderr)  # a repeat (``timeout`` signals twice) is ignored


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` once; later ones, while the program cleans up or
    saves, are ignored. Needed because a background job of a shell without job control starts with
    SIGINT ignored, and ``timeout``, ``kill`` and job schedulers send SIGTERM."""
    global _active, _received, _pending
    if _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    _active, _received = True, 0
    _pending = False
    try:
        with _handled_by(_interrupt):
            yield
    finally:
        _active = False


def stop_signalled() -> bool:
    """Whether a stop signal came since ``stop_signals_interrupt`` began: training polls it, as a library
    that swallows exceptions in a bare ``except:`` (moviepy, which the TensorBoard videos once went
    through, importing scipy) would otherwise eat the one ``KeyboardInterrupt`` raised, and every later
    signal is ignored. A script's startup handler, back once the block has ended, reads it too."""
    return _received > 0


def settled() -> None:
    """The work is done or being saved for the last time: from now on stop signals are ignored."""
    global _received
    _received = max(_received, 1)


def exit_ignoring_stop_signals(code: int) -> NoReturn:
    """``sys.exit(code)`` with stop signals ignored through the interpreter's shutdown (a second or two
    with torch loaded): a signal then would end a command whose work is done with status 130 or 143."""
    if threading.current_thread() is threading.main_thread():
        for s in _SIGNALS:
            signal.signal(s, signal.SIG_IGN)
    sys.exit(code)


@contextlib.contextmanager
def deferred_stop() -> Iterator[None]:
    """A stop signal inside the block raises ``KeyboardInterrupt`` when the block has finished, not
    half-way: for a checkpoint save, which a signal inside ``torch.save`` turns into a corrupt write and
    a ``RuntimeError`` (seen on a CUDA run stopped during its periodic save). Repeats are ignored as in
    ``stop_signals_interrupt``, which this installs for the block when it is not active already."""
    global _deferring, _pending
    if _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring = True
    try:
        with stop_signals_interrupt():
            yield
    finally:
        _deferring = False
    if _pending:
        _pending = False
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM inside the block take their course (the handler in place before) at its end, or
    as an exception leaves it: for starting forked workers. Python runs a handler at its next bytecode,
    which inside ``os.fork`` can be an at-fork hook (logging's) that prints and drops the exception raised:
    the stop was lost, and a worker stopped by the same Ctrl-C failed the start on a broken pipe instead.
    Processes forked inside start with the handlers of before."""
    global _held
    if _held is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    _held = {s: signal.getsignal(s) for s in _SIGNALS}
    try:
        with _handled_by(lambda signum, frame: received.append(signum)):
            yield
    finally:
        _held = None
        if received:
            signal.raise_signal(received[0])


def _unhold_in_child() -> None:
    # A forked process must heed SIGTERM: multiprocessing stops its daemon children with it at exit, and
    # waits for them. A signal that reaches it before this hook is lost, as one before Python's own
    # after-fork work always is; one sent to the group reaches the parent too, which stops its workers.
    global _held
    if _held is not None:
        for s, handler in _held.items():
            signal.signal(s, handler)
        _held = None


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_unhold_in_child)


@contextlib.contextmanager
def stop_requested() -> Iterator[Callable[[], bool]]:
    """SIGINT and SIGTERM only set a flag that the block polls through the function it gets: for work
    inside a library that swallows exceptions raised in its callbacks (PyBoy's ``tick``)."""
    received: list[int] = []
    with _handled_by(lambda signum, frame: received.append(signum)):
        yield lambda: bool(received)


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for a short last step that must not stop half-way (moving a finished
    export into place): a signal then is dropped, and the step completes."""
    with _handled_by(signal.SIG_IGN):
        yield


@contextlib.contextmanager
def _handled_by(handler: Any) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` inside the block (only the main thread may set them)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, handler) for s in _SIGNALS}
    try:
        yield
    finally:
        for s, previous in old.items():
            signal.signal(s, previous)
