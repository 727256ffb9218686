"""Imported first by every script in scripts/: a Ctrl-C (or SIGTERM) while the script starts (importing
torch and the rest, parsing its flags) exits with status 130 and one line, as one later does, not with a
``KeyboardInterrupt`` traceback (or, for SIGTERM, no word at all). Once the script installs its own
handling (``agents.interrupts``), that takes over. Stdlib only, so it is in place within milliseconds.

Only for a script run as the program (``python scripts/x.py``): a test that imports a script, or a
worker process that re-imports it, keeps its own handler; and a Ctrl-C the shell told the program to
ignore (a background job) stays ignored.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

_PID = os.getpid()


def _interrupted(signum: int, frame: Any) -> NoReturn:
    # A process forked from the script (SB3's SubprocVecEnv workers in benchmark.py) inherits this
    # handler: it stops quietly, or a Ctrl-C, and the SIGTERM multiprocessing sends its daemon children
    # at exit, printed the line once per worker.
    if os.getpid() == _PID:
        os.write(2, b"\ninterrupted\n")  # no buffer: safe inside a handler
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
