"""Stopping a run by signal: SIGINT and SIGTERM become ``KeyboardInterrupt``, so training saves a
checkpoint whichever way it is stopped (torch-free, so scripts install it before their heavy imports)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, NoReturn, TypeVar

from agents.startup import ignore_stop_signals

_T = TypeVar("_T")

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active = False  # one handler for the whole process, however deeply the contexts nest
_received = 0
_deferring = False  # inside deferred_stop(): the first signal waits for the block's end
_pending = False
_held: dict[int, Any] | None = None  # inside stop_signals_held(): the handlers it replaced
_polled = False  # inside stop_at_safe_points(): the first signal waits for a stop_point()
_due = False  # a stop signal came in this block (not settled(), which only ignores later ones)
_finished = False  # settled() with the work done, no stop received: a signal then is no stop to announce
_first_at = 0.0  # time.monotonic() of the first
_REPEAT_S = 1.0  # a repeat this long after the first, still waiting for a stop point, stops at once


def _interrupt(signum: int, frame: Any) -> None:
    global _received, _pending, _due, _first_at
    _received += 1
    if _received == 1:
        _due, _first_at = True, time.monotonic()
        if _deferring:
            _pending = True
        elif not _polled:
            raise KeyboardInterrupt
        return
    if _polled and _due and not _deferring and time.monotonic() - _first_at >= _REPEAT_S:
        _raise_stop()  # pressed again: no stop point came (a step that hangs), so here, whatever it cuts
    # A repeat (``timeout`` signals twice) is ignored, as is any signal once the work is done.
    _say("finishing: the work is done; the signal is ignored" if _finished else "stopping: one moment")


def _say(text: str) -> None:
    """``text`` on stderr from the handler, past the stream's buffer: the handler may run inside a write
    to it that blocks (a full pipe), where ``print`` raised "RuntimeError: reentrant call" (a traceback in
    place of the stop's own lines). On a line of its own, not glued to a progress bar's. A stream without
    a file descriptor (a test's capture) gets a ``print``."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        print(text, file=sys.stderr)
        return
    with contextlib.suppress(OSError):  # its reader gone: nothing to tell, and no error out of a handler
        os.write(fd, f"\n{text}\n".encode())


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` once; later ones, while the program cleans up or
    saves, are ignored. Needed because a background job of a shell without job control starts with
    SIGINT ignored, and ``timeout``, ``kill`` and job schedulers send SIGTERM."""
    global _active, _received, _pending, _due, _finished
    if _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    _active, _received = True, 0
    _pending = _due = _finished = False
    try:
        with _handled_by(_interrupt):
            yield
    finally:
        # The stop was this block's: a stop_point() after it (a video played once train() returned) has none
        _active = _due = _finished = False


def stop_signalled() -> bool:
    """Whether a stop signal came (or the work settled) since ``stop_signals_interrupt`` began: a script's
    startup handler, back once the block has ended, reads it."""
    return _received > 0


@contextlib.contextmanager
def stop_at_safe_points() -> Iterator[None]:
    """Inside the block (in ``stop_signals_interrupt``) a stop signal raises ``KeyboardInterrupt`` only at
    the next ``stop_point()``, or as the block ends: for work inside libraries that a ``KeyboardInterrupt``
    raised at any bytecode leaves broken. Raised in TensorBoard's event writer between a lock's release
    and its re-acquisition (queue.Queue.join), it left the queue's lock held, and closing the writer
    after the checkpoint save hung the stopped run for good. A repeat a second or more later, with no stop
    point reached yet, raises at once. Inside ``deferred_stop`` (``stop_requested``) it is a plain block: the
    stop is that block's, for its end or its flag (raised here, it cut a save or a play half-way)."""
    global _polled
    if _polled or _deferring or not _active or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = _due
    _polled = True
    try:
        yield
    finally:
        waiting, _polled = _polled, False  # still True: no stop point raised the signal's stop
    if waiting and _due and not before:
        raise KeyboardInterrupt


def stop_point() -> None:
    """Raise ``KeyboardInterrupt`` if a stop signal came: a safe place to stop (no library mid-call). Also
    where it was raised before and swallowed by a library's bare ``except:`` (moviepy, which the
    TensorBoard videos once went through, importing scipy): every later signal is ignored. Not inside
    ``deferred_stop`` (``stop_requested``), whose stop waits for that block's end (or its flag): raised here,
    it cut a save or a play half-way."""
    if _due and not _deferring:
        _raise_stop()


@contextlib.contextmanager
def safe_to_stop() -> Iterator[None]:
    """Inside ``stop_at_safe_points``, a block that is a safe place to stop throughout (a wait in this
    project's own code that holds nothing, a folder lock's): a stop signal raises ``KeyboardInterrupt`` there
    at once, as outside, and one that came before raises as the block starts. The first signal only marked a
    stop for the next ``stop_point``, which a wait without end never reaches: it ended on a repeat alone.
    Elsewhere the block runs as it is, inside ``deferred_stop`` too, whose stop waits for its end: a stop due
    from before stays the outer block's (taken here, unraised, its end and a repeat's raise lost it)."""
    global _polled
    if not _polled or _deferring or threading.current_thread() is not threading.main_thread():
        yield
        return
    _polled = False  # before the look for one already come: a signal between the two was only marked
    try:
        stop_point()
        yield
    finally:
        _polled = not _due  # a stop raised in the block is taken, as _raise_stop leaves it: none again


# How often a wait for a future (result_at_stop_points) looks for a stop: the "at once" a user sees.
FUTURE_POLL_S = 0.05


def result_at_stop_points(future: Future[_T]) -> _T:
    """``future.result()``, a stop signal taken between short waits (``stop_point``), never inside one: a
    ``KeyboardInterrupt`` raised in ``Condition.wait`` just after it released its lock, before its
    ``try``, left the lock released, and ``Future.result``'s ``with`` then raised ``RuntimeError: cannot
    release un-acquired lock`` in its place (a traceback, status 1). Inside ``stop_signals_interrupt``
    only; elsewhere a signal acts as it would around a plain ``result()``."""
    with stop_at_safe_points():
        while True:
            try:
                return future.result(timeout=FUTURE_POLL_S)
            except FutureTimeout:
                if future.done():  # the call's own TimeoutError (the wait's class since Python 3.11)
                    return future.result()
                stop_point()


def _raise_stop() -> NoReturn:
    global _polled
    _polled = False  # taken: a repeat is ignored from here on, as during the save that follows
    raise KeyboardInterrupt


def settled(finished: bool = True, over_a_stop: bool = False) -> None:
    """The work is done or being saved for the last time: from now on stop signals are ignored. A signal
    then says so; with ``finished`` False (the work ends on a failure, saved as a stop) it says it stops,
    and so it does after a stop received, the command ending as stopped, unless ``over_a_stop``: that stop
    found the work done (train's, in its last update), and the command ends as done."""
    global _received, _finished
    _finished = finished and (_received == 0 or over_a_stop)
    _received = max(_received, 1)


def exit_ignoring_stop_signals(code: int) -> NoReturn:
    """``sys.exit(code)`` with stop signals ignored through the interpreter's shutdown (a second or two
    with torch loaded): a signal then would end a command whose work is done with status 130 or 143 (129 for
    a closed terminal's SIGHUP)."""
    if threading.current_thread() is threading.main_thread():
        # SIGHUP too (STOP_SIGNALS): agents.startup's handler only runs SIGTERM's, but Python puts its own
        # handlers back to SIG_DFL early in the shutdown, where a closed terminal's SIGHUP killed a finished
        # script (129).
        ignore_stop_signals()
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
        _raise_stop()


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
    """A stop signal inside the block only sets the flag that the function it yields reads (the block polls
    it), for work inside a library that swallows exceptions raised in its callbacks (PyBoy's ``tick``):
    ``deferred_stop``'s wait, with nothing raised as the block ends, since the block acts on the flag (a
    play ended and saved, or a ``KeyboardInterrupt`` of its own). Repeats are ignored, as everywhere.

    For the main thread's outermost stop handling (a script's play loop) only. Nested in a block that
    raises a stop as it ends (``deferred_stop``, ``stop_at_safe_points``, another ``stop_requested``) it is a
    ``RuntimeError``: that block would raise again the stop this one took. In another thread the flag is
    never set, as signals go to the main thread (it read the main thread's pending stop, never cleared)."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    if _deferring or _polled:
        raise RuntimeError("stop_requested() must not be nested in deferred_stop(), stop_at_safe_points() or "
                           "stop_requested(): the outer block would raise again the stop this one took. Poll "
                           "the flag outside them, or use stop_point() inside")
    with deferred_stop():
        try:
            yield lambda: _pending
        finally:  # also when the block raises: a later deferred_stop of the command raised it again
            _pending = False  # taken by the block: not raised by deferred_stop as it ends


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
