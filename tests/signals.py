"""A stop signal delivered at a chosen bytecode of the standard library's waits, for tests of where a
Ctrl-C may land; a program run on a terminal that can be hung up."""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def stop_signal_after_condition_wait_releases_its_lock() -> Iterator[list[bool]]:
    """SIGINT in this thread just after ``Condition.wait`` released its lock, before its ``try``: where a
    real signal is taken at the check after ``_release_save()``'s call (a few bytecodes, so a Ctrl-C lands
    there seldom; here at once, through a trace function)."""
    lines, first = inspect.getsourcelines(threading.Condition.wait)
    target = first + next(k for k, line in enumerate(lines) if line.strip() == "gotit = False")
    fired: list[bool] = []

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line" and frame.f_lineno == target and not fired:
            fired.append(True)
            signal.raise_signal(signal.SIGINT)
        return local

    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: local if frame.f_code is threading.Condition.wait.__code__
                 and not fired else None)
    try:
        yield fired
    finally:
        sys.settrace(previous)


def on_a_terminal(args: list[str], **kwargs: Any) -> tuple[subprocess.Popen, int]:
    """``args`` started on a new pseudo-terminal (its stdin, stdout and stderr) as the leader of a session
    whose controlling terminal it is, SIGHUP at its default (not ignored, as under nohup); returned with the
    terminal's master end, to read from (a full terminal blocks the program's writes) and to close: the
    terminal then hangs up, and the kernel sends the leader SIGHUP."""
    import fcntl
    import termios

    def leading() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    master, terminal = os.openpty()
    try:
        proc = subprocess.Popen(args, stdin=terminal, stdout=terminal, stderr=terminal,
                                start_new_session=True, preexec_fn=leading, **kwargs)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(terminal)
    return proc, master
