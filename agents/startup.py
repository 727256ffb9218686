"""Imported first by every script in scripts/: a Ctrl-C (or SIGTERM) while the script starts (importing
torch and the rest, parsing its flags) exits with status 130 and one line, as one later does, not with a
``KeyboardInterrupt`` traceback (or, for SIGTERM, no word at all). Once the script installs its own
handling (``agents.interrupts``), that takes over; after its block, a signal once the work has settled (or
stopped) is ignored, as there. Stdlib only, so it is in place within milliseconds.

Only for a script run as the program (``python scripts/x.py``): a test that imports a script, or a
worker process that re-imports it, keeps its own handler; and a Ctrl-C the shell told the program to
ignore (a background job) stays ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

_PID = os.getpid()


def _interrupted(signum: int, frame: Any) -> None:
    # A process forked from the script (SB3's SubprocVecEnv workers in benchmark.py) inherits this
    # handler: it stops quietly (a Ctrl-C printed the line once per worker), and always (multiprocessing's
    # exit sends its daemon children SIGTERM and waits for them).
    if os.getpid() != _PID:
        raise SystemExit(130)
    # Back in place once a script's ``stop_signals_interrupt`` block has ended: a stop that work there
    # took already, or settled (its output written), is not undone by a signal before the script exits.
    # Looked up, not imported: startup stays light, and a script that never imported it settled nothing.
    interrupts = sys.modules.get("agents.interrupts")
    if interrupts is not None and interrupts.stop_signalled():
        return
    os.write(2, b"\ninterrupted\n")  # no buffer: safe inside a handler
    # The stop is taken: a repeat while Python exits (atexit callbacks, then the handlers' teardown) said
    # "interrupted" again with an "Exception ignored in atexit callback" traceback, or killed it (143).
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    raise SystemExit(130)


def _run_as_script() -> bool:
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    return (getattr(main, "__name__", None) == "__main__" and file is not None
            and Path(file).resolve().parent == Path(__file__).resolve().parent.parent / "scripts")


if _run_as_script():
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:  # would kill the script with no word
        signal.signal(signal.SIGTERM, _interrupted)
