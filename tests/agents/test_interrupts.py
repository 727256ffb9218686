"""agents/interrupts.py on its own (README, Stopping and resuming): a stop signal raises one
KeyboardInterrupt and later ones are ignored; a signal inside a checkpoint save takes effect after it;
each command's stop starts afresh; the handlers in place before are put back."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

import pytest

from agents import interrupts
from agents.interrupts import (
    deferred_stop,
    safe_to_stop,
    settled,
    stop_at_safe_points,
    stop_point,
    stop_requested,
    stop_signalled,
    stop_signals_held,
    stop_signals_interrupt,
    uninterruptible,
)
from tests.conftest import ROOT


def _handlers() -> dict[int, object]:
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_the_first_stop_signal_interrupts_and_a_repeat_is_ignored(sig, capsys):
    before = _handlers()
    with stop_signals_interrupt():
        assert not stop_signalled()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(sig)
        assert stop_signalled()
        signal.raise_signal(sig)  # ``timeout`` signals twice: the save that follows goes on
    assert "stopping: one moment" in capsys.readouterr().err
    assert _handlers() == before


def test_a_new_block_starts_with_no_stop_received():
    """A process running two commands (tests, a notebook) stops the second by its own signal."""
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    with stop_signals_interrupt():
        assert not stop_signalled()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_settled_work_ignores_a_stop_signal(capsys):
    with stop_signals_interrupt():
        settled()
        signal.raise_signal(signal.SIGTERM)  # no KeyboardInterrupt: the work is done
    # It said "stopping: one moment" (a Ctrl-C in train_ppo.py's final save), then "done: ..." and status 0:
    # the work was not stopped, and the line said it would be.
    assert capsys.readouterr().err.strip() == "finishing: the work is done; the signal is ignored"


def test_a_signal_once_a_failed_run_stops_says_it_stops(capsys):
    with stop_signals_interrupt():
        settled(finished=False)  # train's stopping(): a failure ends the run, saved as a stop
        signal.raise_signal(signal.SIGTERM)
    assert capsys.readouterr().err.strip() == "stopping: one moment"


def test_a_signal_inside_a_deferred_block_raises_once_the_block_is_done():
    done = []
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt), deferred_stop():
            signal.raise_signal(signal.SIGINT)
            done.append("saved")  # the block runs on to its end
        assert done == ["saved"]
        with deferred_stop():  # one signal, one interrupt: the next save is not stopped by it again
            done.append("saved again")
    with deferred_stop():  # alone, it installs the handler for itself
        pass
    with pytest.raises(KeyboardInterrupt), deferred_stop():
        signal.raise_signal(signal.SIGTERM)
    assert not interrupts._deferring
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # after a deferred block, a signal interrupts at once again


def test_stop_requested_only_sets_a_flag_and_puts_the_handlers_back():
    before = _handlers()
    with stop_requested() as stop:
        assert not stop()
        signal.raise_signal(signal.SIGTERM)
        assert stop()
    assert _handlers() == before


@pytest.mark.parametrize("outer", [deferred_stop, stop_requested, stop_at_safe_points])
def test_stop_requested_refuses_a_block_that_would_raise_the_stop_it_took_again(outer):
    """Inside a block that raises a stop as it ends, the stop that stop_requested's block had taken (the play
    ended and saved) was raised again there: refused by name, with nothing left pending."""
    refused = pytest.raises(RuntimeError, match=r"stop_requested\(\) must not be nested")
    with stop_signals_interrupt(), outer(), refused, stop_requested():
        pass
    with stop_requested() as stop:  # alone, as the scripts use it, it still works
        assert not stop()


def test_stop_requested_in_a_thread_reads_no_flag_of_the_main_thread():
    """A signal goes to the main thread: a block in another thread read the main thread's pending stop, one
    it would never clear, and took it for its own."""
    import threading

    seen: list[bool] = []

    def worker() -> None:
        with stop_requested() as stop:
            seen.append(stop())

    with pytest.raises(KeyboardInterrupt), deferred_stop():
        signal.raise_signal(signal.SIGINT)  # pending until the save ends
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == [False]


def test_a_stop_left_pending_by_a_failed_save_does_not_stop_the_next_command():
    """A signal during a save that then fails (a full disk) ends with the save's error; a later command in
    the same process is not interrupted by that old signal when its own save finishes."""
    with pytest.raises(OSError), deferred_stop():
        signal.raise_signal(signal.SIGINT)
        raise OSError("no space left on device")
    with stop_signals_interrupt(), deferred_stop():
        pass  # no KeyboardInterrupt


def test_a_stop_taken_by_a_stop_requested_block_that_raises_is_not_raised_again_by_a_later_save():
    """The block took the stop (its flag) and then failed: the stop stayed pending, and the next deferred
    block of the same command (a checkpoint save in the error's handling) raised it again as it ended."""
    with stop_signals_interrupt():
        with pytest.raises(ValueError), stop_requested() as stop:
            signal.raise_signal(signal.SIGINT)
            assert stop()
            raise ValueError("the play failed")
        try:  # a KeyboardInterrupt here would abort the whole pytest session, not fail this test
            with deferred_stop():
                pass
        except KeyboardInterrupt:
            pytest.fail("the stop the failed block took was raised again by the next deferred_stop")


def _sleep_when_ready(ready: Any) -> None:
    ready.set()
    time.sleep(60)


def test_held_signals_take_their_course_at_the_end_and_workers_forked_inside_heed_sigterm():
    before = _handlers()
    fork = multiprocessing.get_context("fork")
    ready = fork.Event()
    worker = fork.Process(target=_sleep_when_ready, args=(ready,), daemon=True)
    done = []
    with pytest.raises(KeyboardInterrupt), stop_signals_held():
        signal.raise_signal(signal.SIGINT)
        worker.start()
        done.append("started")  # the block runs on to its end
    assert done == ["started"] and _handlers() == before
    # The worker has the handlers of before, not the block's: multiprocessing's exit would wait on it.
    # Once it runs: Python drops a signal that comes while a forked child starts, whatever its handler.
    assert ready.wait(30)
    worker.terminate()
    worker.join(10)
    assert worker.exitcode == -signal.SIGTERM
    # An error leaving the block (a worker the same Ctrl-C stopped broke its pipe): the signal acts still.
    with pytest.raises(KeyboardInterrupt) as stop, stop_signals_held():
        signal.raise_signal(signal.SIGINT)
        raise BrokenPipeError
    assert isinstance(stop.value.__context__, BrokenPipeError)


def test_a_nested_block_keeps_the_stop_already_received():
    """deferred_stop inside a stopped run (the save after Ctrl-C) nests stop_signals_interrupt: the stop stays
    received, and a repeat signal is still ignored, not a second interrupt half-way through the save."""
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        with deferred_stop():
            assert stop_signalled()
            signal.raise_signal(signal.SIGTERM)
        assert stop_signalled()


def test_a_nested_deferred_block_defers_to_the_end_of_the_outer_one():
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_stop():
        with deferred_stop():
            signal.raise_signal(signal.SIGINT)
            done.append("inner")
        done.append("outer")  # the outer save runs on to its end too
    assert done == ["inner", "outer"]


def test_a_process_forked_in_a_nested_held_block_gets_the_handlers_of_before():
    before = _handlers()
    with stop_signals_held():
        with stop_signals_held():
            pass
        pid = os.fork()  # after the inner block: still held, and the child still gets those of before
        if pid == 0:
            os._exit(0 if _handlers() == before else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_only_the_first_held_signal_takes_its_course():
    """A SIGTERM (``timeout``) then a Ctrl-C while workers start: the SIGTERM's handler runs, once."""
    seen: list[int] = []
    old = {s: signal.signal(s, lambda signum, frame: seen.append(signum)) for s in _handlers()}
    try:
        with stop_signals_held():
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)
            assert seen == []
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    assert seen == [signal.SIGTERM]


def test_a_process_forked_in_a_held_block_can_hold_signals_itself():
    # A worker that starts workers of its own holds signals while it does: the block is not left "entered"
    # in the child, where a SIGTERM inside it would kill the child at once instead of at the block's end.
    with stop_signals_held():
        pid = os.fork()
        if pid == 0:
            try:
                with stop_signals_held():
                    signal.raise_signal(signal.SIGTERM)
                    os._exit(0)  # reached: the signal waits for the block's end
            finally:
                os._exit(1)  # the child never returns into pytest
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_uninterruptible_drops_a_stop_signal_and_puts_the_handlers_back():
    with stop_signals_interrupt():
        before = _handlers()
        with uninterruptible():
            signal.raise_signal(signal.SIGINT)  # dropped: no KeyboardInterrupt
            signal.raise_signal(signal.SIGTERM)
        assert _handlers() == before and not stop_signalled()


def test_exit_ignores_a_stop_signal_during_the_shutdown():
    # A signal while the interpreter shuts down (atexit here) would end with 130/143, not the status.
    code = ("import atexit, signal\nfrom agents.interrupts import exit_ignoring_stop_signals\n"
            "atexit.register(signal.raise_signal, signal.SIGTERM)\n"
            "atexit.register(signal.raise_signal, signal.SIGINT)\nexit_ignoring_stop_signals(3)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (proc.returncode, proc.stderr) == (3, "")


def test_the_blocks_run_in_a_thread_leaving_the_signal_handlers_to_the_main_one():
    # Only the main thread may set a handler (signal.signal raised ValueError in a thread): a block entered in
    # another thread runs as it is, and SIGINT stays the main thread's.
    import threading

    from agents.interrupts import stop_requested, stop_signals_interrupt, uninterruptible

    before = signal.getsignal(signal.SIGINT)
    ran: list[str] = []

    def worker() -> None:
        with uninterruptible():
            ran.append("uninterruptible")
        with stop_signals_interrupt():
            ran.append("interrupt")
        with stop_requested() as stopped:
            ran.append(f"stopped {stopped()}")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert ran == ["uninterruptible", "interrupt", "stopped False"]
    assert signal.getsignal(signal.SIGINT) is before


def test_inside_safe_points_a_signal_raises_only_at_a_stop_point(capsys):
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGTERM)  # recorded, not raised: the code here runs on
        assert stop_signalled()
        with pytest.raises(KeyboardInterrupt):
            stop_point()
        signal.raise_signal(signal.SIGTERM)  # taken: a repeat is ignored, the save goes on
    assert "stopping: one moment" in capsys.readouterr().err


def test_a_safe_to_stop_block_inside_safe_points_takes_a_stop_at_once(capsys):
    # A folder lock's wait (outputs._folders_locked) inside stop_at_safe_points: the first signal only marked
    # a stop for a stop point the wait never reached. Raised there now; one that came before, as it starts.
    with stop_signals_interrupt(), stop_at_safe_points():
        with safe_to_stop():
            pass
        signal.raise_signal(signal.SIGINT)  # after it: the block's stop points take it, as before
        with pytest.raises(KeyboardInterrupt), safe_to_stop():
            raise AssertionError("a stop that came before the block was not raised as it started")
    with stop_signals_interrupt(), stop_at_safe_points():
        with pytest.raises(KeyboardInterrupt), safe_to_stop():
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)  # taken: a repeat is ignored, and the block's end raises nothing
    assert "stopping: one moment" in capsys.readouterr().err


def test_a_signal_as_a_safe_to_stop_block_starts_is_raised_not_lost(monkeypatch):
    # One arriving just after the block's look for a stop already come, before it stopped polling: the
    # handler only marked it (still polled), the block then waited with none raised (a folder lock's wait,
    # for as long as it was held; a repeat was ignored, as no longer polled), and stop_at_safe_points' end
    # raised nothing either: the stop was lost to the next stop point.
    look = interrupts.stop_point

    def look_then_signal() -> None:
        look()
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(interrupts, "stop_point", look_then_signal)
    waited = []
    with pytest.raises(KeyboardInterrupt), stop_signals_interrupt(), stop_at_safe_points(), safe_to_stop():
        waited.append("the block's wait")
    assert waited == []


def test_a_stop_point_raises_nothing_without_a_signal_or_once_the_work_settled(monkeypatch):
    monkeypatch.setattr(interrupts, "_REPEAT_S", 0.01)
    with stop_signals_interrupt(), stop_at_safe_points():
        stop_point()
        settled()  # ignores later signals: not a stop to take
        stop_point()
        signal.raise_signal(signal.SIGINT)
        stop_point()
        time.sleep(0.05)
        signal.raise_signal(signal.SIGINT)  # nor a repeat to stop at once


def test_a_signal_no_stop_point_took_is_raised_as_the_block_ends():
    reached = False
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt), stop_at_safe_points():
        signal.raise_signal(signal.SIGINT)
        reached = True
    assert reached


def test_a_stop_already_taken_is_not_raised_again_as_a_later_safe_points_block_ends():
    """The stop's own work after it (a wait for a future, a save) in a new block runs to its end: only a
    signal that came inside a block is that block's to raise as it ends."""
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt), stop_at_safe_points():
            signal.raise_signal(signal.SIGINT)
            stop_point()
        try:
            with stop_at_safe_points():
                pass
        except KeyboardInterrupt:
            pytest.fail("the stop taken before the block was raised again as the block ended")


def test_a_repeat_a_second_after_the_first_stops_at_once_where_no_stop_point_came(monkeypatch, capsys):
    """``timeout`` sends its signal twice within milliseconds: ignored; a user pressing Ctrl-C again
    because nothing happened (a step that hangs) is not."""
    monkeypatch.setattr(interrupts, "_REPEAT_S", 0.2)
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # at once: ignored
        assert "stopping: one moment" in capsys.readouterr().err
        time.sleep(0.25)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # taken: ignored again


def test_timeouts_two_signals_at_the_default_repeat_window_are_one_stop_taken_at_the_stop_point():
    """The window as shipped, not a test's: two signals milliseconds apart do not cut the work short."""
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGTERM)
        time.sleep(0.05)
        signal.raise_signal(signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt):
            stop_point()


def test_a_repeat_a_second_after_the_first_stops_at_once_with_the_default_window(monkeypatch):
    """The window as shipped (README: a second Ctrl-C a second or more after the first stops a step that
    hangs), on a clock of the test's: a window ten times as long left a user's repeats ignored."""
    now = 100.0
    monkeypatch.setattr(interrupts, "time", SimpleNamespace(monotonic=lambda: now))
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGINT)
        now = 100.9
        try:  # a KeyboardInterrupt here would abort the whole pytest session, not fail this test
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pytest.fail("a repeat 0.9 s after the first stopped at once")
        now = 101.0
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_a_signal_in_a_deferred_block_inside_safe_points_raises_at_the_deferred_end():
    """A periodic checkpoint save during training: the stop comes as the save is done, a safe point."""
    saved = False
    with stop_signals_interrupt(), stop_at_safe_points(), pytest.raises(KeyboardInterrupt), deferred_stop():
        signal.raise_signal(signal.SIGINT)
        saved = True
    assert saved


def test_a_late_repeat_during_a_deferred_save_inside_safe_points_waits_for_the_save(monkeypatch):
    """Ctrl-C again during a periodic checkpoint save must not cut the save: it is not a hung step."""
    monkeypatch.setattr(interrupts, "_REPEAT_S", 0.01)
    saved = False
    with stop_signals_interrupt(), stop_at_safe_points(), pytest.raises(KeyboardInterrupt), deferred_stop():
        signal.raise_signal(signal.SIGINT)
        time.sleep(0.05)
        signal.raise_signal(signal.SIGINT)
        saved = True
    assert saved


def test_a_stop_a_library_swallowed_is_raised_again_at_the_next_stop_point():
    """A bare ``except:`` in a library between our stop point and the caller drops the stop: the next
    stop point raises it again, or training would go on with every later Ctrl-C ignored."""
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGINT)
        with contextlib.suppress(KeyboardInterrupt):  # the library's bare except
            stop_point()
        with pytest.raises(KeyboardInterrupt):
            stop_point()


def test_a_nested_safe_points_block_leaves_the_outer_one_polling():
    with stop_signals_interrupt(), stop_at_safe_points():
        with stop_at_safe_points():
            pass
        signal.raise_signal(signal.SIGINT)  # recorded, not raised mid-work
        with pytest.raises(KeyboardInterrupt):
            stop_point()


def test_safe_points_outside_a_stop_block_leave_signals_as_they_are():
    before = _handlers()
    with stop_at_safe_points():
        assert _handlers() == before
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # Python's own handler: raised at once
        # Nor does it hold back the stop of a stop block begun inside it: taken for its own, the signal was
        # only marked, that block's end cleared the mark, and the stop was lost.
        with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGTERM)


def test_a_stop_taken_does_not_stop_the_next_work_outside_a_block():
    """``train()`` returns the model once stopped: a video or evaluation played after it in the same
    process (a notebook, a test), outside any stop block and with no new signal, runs (it raised at its
    first step)."""
    with stop_signals_interrupt(), stop_at_safe_points(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        stop_point()
    stop_point()


def test_a_repeat_while_stderr_is_blocked_mid_write_is_ignored_without_an_error(monkeypatch):
    """A repeat landing inside a stderr write that blocks (a full pipe: ``2>&1 | less`` paused, a terminal
    stopped with Ctrl-S) runs the handler inside that write: its ``print`` to the same stream raised
    ``RuntimeError: reentrant call inside <_io.BufferedWriter name=...>`` there, a traceback in place of the
    stop's own lines ("interrupted at step ...: saved ..."). The repeat is still said, on the pipe."""
    import threading

    read_end, write_end = os.pipe()
    stream = open(write_end, "w", buffering=1)  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stderr", stream)
    os.set_blocking(write_end, False)
    with contextlib.suppress(BlockingIOError):
        while True:
            os.write(write_end, b"." * 65536)  # full: the next write blocks until read
    os.set_blocking(write_end, True)
    main = threading.main_thread().ident
    assert main is not None

    read: list[bytes] = []

    def repeat_then_read() -> None:
        time.sleep(0.3)
        signal.pthread_kill(main, signal.SIGINT)  # to the main thread: its blocked write sees EINTR
        time.sleep(0.3)
        # Up to the end of the file (the stream closed below): whenever the handler ran, its write (one
        # below PIPE_BUF, so whole) is in the pipe by then.
        while chunk := os.read(read_end, 65536):
            read.append(chunk)

    reader = threading.Thread(target=repeat_then_read, daemon=True)
    try:
        with stop_signals_interrupt():
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)  # the stop, taken
            reader.start()
            stream.write("interrupted at step 1: saved ...\n" * 4096)  # blocks: the repeat lands inside
            stream.flush()
    finally:
        stream.close()
        reader.join(timeout=30)  # before read_end is closed: its last reads are not cut off
        os.close(read_end)
    assert not reader.is_alive()
    assert b"".join(read).count(b"\nstopping: one moment\n") == 1  # the repeat's line, whole


def test_a_future_that_raised_timeout_error_is_raised_not_waited_on(monkeypatch):
    # concurrent.futures.TimeoutError is the builtin TimeoutError since Python 3.11: a call's own (a socket's
    # read timed out) was taken for the short wait's, and the wait went on polling the finished future.
    from concurrent.futures import Future

    def polled() -> None:
        raise AssertionError("a finished future was waited on again")

    monkeypatch.setattr(interrupts, "stop_point", polled)
    future: Future[int] = Future()
    future.set_exception(TimeoutError("read timed out"))
    with pytest.raises(TimeoutError, match="read timed out"):
        interrupts.result_at_stop_points(future)


def test_say_writes_its_line_on_a_line_of_its_own_past_the_stream(monkeypatch):
    # Past the stream's buffer, straight to its descriptor, with a newline first: a progress bar's line
    # (no newline yet) had the handler's words glued to its end.
    read_end, write_end = os.pipe()
    stream = open(write_end, "w")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        stream.write("buffered, not yet written")
        interrupts._say("stopping: one moment")
        assert os.read(read_end, 1024) == b"\nstopping: one moment\n"
    finally:
        os.close(read_end)
        with contextlib.suppress(OSError):
            stream.close()


def test_say_to_a_stderr_whose_reader_is_gone_raises_nothing(monkeypatch):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader gone: a write is EPIPE (Python ignores SIGPIPE)
    stream = open(write_end, "w")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        interrupts._say("stopping: one moment")
    finally:
        with contextlib.suppress(OSError):
            stream.close()


@pytest.mark.parametrize("error", [ValueError, OSError])
def test_say_prints_to_a_stream_whose_descriptor_is_refused(monkeypatch, error):
    # A stream detached or closed underneath raises ValueError from fileno(); one with no descriptor of its
    # own (a wrapper over a socket or a queue) may raise a plain OSError.
    class NoDescriptor:
        def __init__(self) -> None:
            self.text = ""

        def fileno(self) -> int:
            raise error("no descriptor")

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    stream = NoDescriptor()
    monkeypatch.setattr(sys, "stderr", stream)
    interrupts._say("stopping: one moment")
    assert stream.text == "stopping: one moment\n"


def test_a_wait_for_a_future_takes_a_stop_signal_at_once():
    # The future never finishes: the stop comes at the next short wait's end, not when the call returns.
    import threading
    from concurrent.futures import Future

    main = threading.main_thread().ident
    assert main is not None
    future: Future[int] = Future()
    sender = threading.Timer(0.1, signal.pthread_kill, (main, signal.SIGINT))
    finisher = threading.Timer(2.0, future.set_result, (1,))  # ends a wait that missed the stop
    with stop_signals_interrupt():
        start = time.monotonic()
        sender.start()
        finisher.start()
        with pytest.raises(KeyboardInterrupt):
            interrupts.result_at_stop_points(future)
        waited = time.monotonic() - start
    sender.join()
    finisher.cancel()  # not needed once the stop was taken
    finisher.join()
    assert waited < 1.0


def test_a_wait_for_a_future_takes_a_stop_signal_between_its_short_waits_never_inside_one():
    # Raised inside Future.result's Condition.wait it left the lock released (a RuntimeError in place of the
    # stop): the signal is only noted there, and raised at the stop point after the wait has returned.
    from concurrent.futures import Future
    from concurrent.futures import TimeoutError as FutureTimeout

    class SignalledInsideTheWait(Future[int]):
        waits_ended = 0

        def result(self, timeout: float | None = None) -> int:
            signal.raise_signal(signal.SIGINT)  # the handler runs here, inside the wait
            self.waits_ended += 1
            raise FutureTimeout

    future = SignalledInsideTheWait()
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt):
        interrupts.result_at_stop_points(future)
    assert future.waits_ended == 1


def test_a_signal_after_a_stop_is_saved_says_it_stops(capsys):
    # A stop received, then its save settled: a repeat is the stop's, not a signal after finished work.
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        settled()
        signal.raise_signal(signal.SIGTERM)
    assert capsys.readouterr().err.strip() == "stopping: one moment"


def test_a_signal_after_a_stop_that_found_the_work_done_says_it_finishes(capsys):
    # train's stop in its last update: the run ends as done, so a repeat is no stop to announce.
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        settled(over_a_stop=True)
        signal.raise_signal(signal.SIGTERM)
    assert capsys.readouterr().err.strip() == "finishing: the work is done; the signal is ignored"


def test_work_settled_outside_a_stop_block_leaves_the_next_block_stoppable(capsys):
    with stop_signals_interrupt():
        pass  # no signal received, as in a fresh process
    settled()  # written_together(last=True) outside any block: the next block's repeat is no "finishing"
    with stop_signals_interrupt():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGTERM)
    assert capsys.readouterr().err.strip() == "stopping: one moment"


@pytest.mark.parametrize("outer", ["deferred_stop", "stop_requested"])
def test_a_safe_points_block_inside_a_block_that_holds_the_stop_leaves_it_held(outer):
    """A Game Boy step (``interrupts_kept``) inside ``stop_requested`` or ``deferred_stop``: the stop is
    the outer block's, for its flag or its end. Raised as the inner block ended, it cut the outer one's
    work half-way (a play ended unsaved, a save left half done)."""
    done = []
    if outer == "stop_requested":
        with stop_requested() as stop:
            with stop_at_safe_points():
                signal.raise_signal(signal.SIGINT)
            done.append("played on")
            assert stop()
    else:
        with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt), deferred_stop():
            with stop_at_safe_points():
                signal.raise_signal(signal.SIGINT)
            done.append("saved")
    assert done and not interrupts._polled and not interrupts._pending


@pytest.mark.parametrize("outer", ["deferred_stop", "stop_requested"])
def test_a_stop_point_inside_a_block_that_holds_the_stop_leaves_it_held(outer):
    """A stop point (a vector env's, a folder lock's wait: ``safe_to_stop``) reached inside a save
    (``deferred_stop``, here inside training's ``stop_at_safe_points``) or a play (``stop_requested``)
    raised the stop there, half-way through the work those blocks finish first."""
    done = []
    if outer == "stop_requested":
        with stop_requested() as stop:
            signal.raise_signal(signal.SIGINT)
            stop_point()
            done.append("played on")
            assert stop()
    else:
        with stop_signals_interrupt(), stop_at_safe_points(), pytest.raises(KeyboardInterrupt), \
                deferred_stop():
            signal.raise_signal(signal.SIGINT)
            stop_point()
            with safe_to_stop():
                done.append("saved")
    assert done


def test_a_stop_due_before_a_save_that_waits_for_a_lock_is_still_raised_and_a_repeat_still_stops(monkeypatch):
    """A folder lock's wait (``safe_to_stop``) inside a save (``deferred_stop``) inside training's
    ``stop_at_safe_points``, with a stop due from before the save: the wait, which may no longer raise it
    there, left the outer block no longer polling, so its end raised nothing (the stop lost to the next stop
    point, which a step that hangs never reaches) and a repeat a second later was ignored."""
    monkeypatch.setattr(interrupts, "_REPEAT_S", 0.01)
    saved = []
    with stop_signals_interrupt(), pytest.raises(KeyboardInterrupt), stop_at_safe_points():
        signal.raise_signal(signal.SIGINT)
        with deferred_stop(), safe_to_stop():
            saved.append("saved")
    assert saved == ["saved"]
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGINT)
        with deferred_stop(), safe_to_stop():
            pass
        time.sleep(0.05)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # pressed again: the step hangs, so here


def test_a_stop_due_before_a_save_is_raised_at_the_first_stop_point_after_it_not_inside():
    """ae2717c7's other half: a stop marked before a save began (no stop point reached yet) is not taken by a
    stop point inside the save (``deferred_stop``), which would cut it half-way, but by the next one after."""
    done = []
    with stop_signals_interrupt(), stop_at_safe_points():
        signal.raise_signal(signal.SIGINT)
        with deferred_stop():
            try:  # a KeyboardInterrupt here would abort the whole pytest session, not fail this test
                stop_point()
            except KeyboardInterrupt:
                pytest.fail("a stop point inside the save raised the stop due from before it")
            done.append("saved")
        with pytest.raises(KeyboardInterrupt):
            stop_point()
    assert done == ["saved"]


def test_a_block_entered_in_another_thread_leaves_the_main_threads_handling_alone():
    # Signals reach the main thread alone: a worker thread's block (a thread pool's job) installs nothing,
    # and must not mark the handling active either, or the main thread's block, entered meanwhile, took it
    # as already there and left a Ctrl-C to Python's KeyboardInterrupt at any bytecode.
    import threading

    entered, leave = threading.Event(), threading.Event()

    def worker() -> None:
        with stop_signals_interrupt():
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert entered.wait(30)
        with stop_signals_interrupt():
            assert signal.getsignal(signal.SIGINT) is interrupts._interrupt
    finally:
        leave.set()
        thread.join()
