"""Imported first by every script in scripts/: a Ctrl-C (or SIGTERM) while the script starts (importing
torch and the rest, parsing its flags) exits with status 130 and one line, as one later does, not with a
``KeyboardInterrupt`` traceback (or, for SIGTERM, no word at all). Once the script installs its own
handling (``agents.interrupts``), that takes over; after its block, a signal once the work has settled (or
stopped) is ignored, as there. Stdlib only (``agents.machine`` is too), so it is in place within milliseconds.

It also fits torch's thread pool to a container's CPU quota (``agents.machine.cap_thread_pools``), before
the script imports torch, and lifts the soft limit of open files to the hard one (``lift_open_files_limit``)
for the workers to come.

A closed terminal (an SSH session that dropped, a window shut) sends SIGHUP, which killed a script on the
spot: a training run lost every step since its last checkpoint. It now stops the script as SIGTERM does
(training saves a checkpoint), its output going to ``os.devnull`` once the terminal is gone (also a line
printed before the SIGHUP, which the shell passes on a moment after the hang-up); ``nohup``, which starts
the script with SIGHUP ignored, still keeps it running.

Its stdout and stderr write what their encoding lacks escaped (``caf\\xe9``), not raise: a path printed
under ``PYTHONIOENCODING=ascii:strict``, or a Latin-1 name on strict UTF-8, failed a script after its work
was done (a traceback, or exit 2 as an "error:").

Only for a script run as the program (``python scripts/x.py``, or one of ``MODULE_PROGRAMS`` run with
``python -m``): a test that imports a script, or a worker process that re-imports it, keeps its own
handler; and a Ctrl-C the shell told the program to ignore (a background job) stays ignored.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import io
import os
import re
import signal
import stat
import sys
from pathlib import Path
from typing import Any

from agents.machine import cap_thread_pools, lift_open_files_limit

_PID = os.getpid()
#: SIGHUP, a closed terminal's signal, where the system has one (Windows has none).
HANGUP: tuple[signal.Signals, ...] = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ()
#: Every signal that stops a script: ignored once its stop is taken or its work done, while Python exits.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, *HANGUP)


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
    # "interrupted" again with an "Exception ignored in atexit callback" traceback, or killed it (143; 129 for
    # a SIGHUP once Python has put _hung_up back to SIG_DFL, early in its shutdown).
    ignore_stop_signals()
    raise SystemExit(130)


def ignore_stop_signals() -> None:
    """Ignores every ``STOP_SIGNALS`` from now on: a stopped or finished script's exit."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def _hung_up(signum: int, frame: Any) -> None:
    # What SIGTERM does now: stop (training saves first), or nothing where SIGTERM is ignored (a last step
    # that must finish, the exit of a script whose work is done, a parent that ignores SIGTERM).
    leave_hung_up_terminal()
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler):
        handler(signum, frame)


def leave_hung_up_terminal() -> None:
    """Points stdout and stderr at ``os.devnull`` where they are a terminal that has hung up: it is still a
    character device but no longer a tty, and each write to it fails with EIO, which would end a stopping
    run in a traceback before its checkpoint is saved. Elsewhere (a working terminal, a file, a pipe) they
    stay as they are."""
    for fd in (1, 2):
        try:
            hung_up = stat.S_ISCHR(os.fstat(fd).st_mode) and not os.isatty(fd)
        except OSError:  # closed
            continue
        if hung_up:  # os.devnull itself passes this test: pointing it at itself changes nothing
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)


class _HangUpProofFile(io.FileIO):
    """A terminal's file (not closed with the stream): a write that fails with EIO because the terminal has
    hung up goes to ``os.devnull`` (``leave_hung_up_terminal``) instead. The SIGHUP that stops the script
    comes from the shell once the kernel has told it (0.3 ms later here, more on a busy machine): a line
    printed in between failed the script with EIO, status 1 and its traceback unwritable (seen in a
    benchmark's phase line, one in fifteen hang-ups on two busy cores)."""

    def write(self, data: Any) -> int | None:
        try:
            return super().write(data)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            leave_hung_up_terminal()  # a terminal still there (another EIO) is left as it is: fails again
            return super().write(data)


def hang_up_proof(stream: Any) -> Any:
    """``stream`` anew over a ``_HangUpProofFile`` of its file descriptor where it is a terminal's text
    stream, with its encoding, errors and buffering; anything else (a file, a pipe, None) as it is. Where
    no terminal hangs up (Windows: no SIGHUP), kept as it is: a console's stream is no FileIO there."""
    if not HANGUP or not isinstance(stream, io.TextIOWrapper):
        return stream
    try:
        if not os.isatty(stream.fileno()):
            return stream
        stream.flush()
    except (OSError, ValueError):  # closed, or no file descriptor
        return stream
    raw = _HangUpProofFile(stream.fileno(), "w", closefd=False)
    # Unbuffered (python -u, PYTHONUNBUFFERED): Python gives the stream its FileIO alone; a BufferedWriter
    # there held every line until 8 KB or the exit.
    buffer = raw if isinstance(stream.buffer, io.RawIOBase) else io.BufferedWriter(raw)
    return io.TextIOWrapper(buffer, encoding=stream.encoding, errors=stream.errors,
                            line_buffering=stream.line_buffering, write_through=stream.write_through)


#: The error handler of a script's stdout and stderr (see ``_escape_unwritable``).
ESCAPE = "depthfirst.escape"


def _escape_unwritable(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: what the encoding lacks, backslash-escaped; a name's bytes that are no UTF-8
    (argv's, kept by Python as surrogate escapes) as those bytes (``\\xe9``), not as ``\\udce9``."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start:error.end]
    # The bytes as on the disk, UTF-8 read where they are (an ASCII locale keeps é as two escapes); a lone
    # surrogate that stands for no byte (JSON's "\ud800") cannot be encoded so, and stays as it is.
    with contextlib.suppress(UnicodeEncodeError):
        bad = bad.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return bad.encode("ascii", "backslashreplace").decode("ascii"), error.end


codecs.register_error(ESCAPE, _escape_unwritable)


def escape_unwritable(stream: object) -> None:
    """Makes ``stream`` escape what its encoding lacks where it would raise (``strict``) or show a byte that
    is no UTF-8 as ``\\udce9`` (``backslashreplace``, stderr's default). A ``surrogateescape`` stream (a
    C or UTF-8-mode locale) writes a name's own bytes back, so ``$(...)`` gets the path: it is kept, as is
    a handler the user chose (``:replace``)."""
    if isinstance(stream, io.TextIOWrapper) and stream.errors in ("strict", "backslashreplace"):
        stream.reconfigure(errors=ESCAPE)


#: The project's programs run with ``python -m`` rather than from scripts/ (they import this module first).
MODULE_PROGRAMS = ("envs.gameboy.cartridge.build",)


#: The checkout this package is imported from (a site-packages folder for ``pip install .``).
CHECKOUT = Path(__file__).resolve().parent.parent


def _script_checkout() -> Path | None:
    """The checkout whose ``scripts/`` holds the program being run, if it is this project's script (one of
    any checkout: a folder ``scripts`` beside an ``agents/startup.py``); None for any other program."""
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if getattr(main, "__name__", None) != "__main__" or file is None:
        return None
    scripts = Path(file).resolve().parent
    return scripts.parent if scripts.name == "scripts" and (scripts.parent / "agents" / "startup.py"
                                                            ).is_file() else None


def _check_checkout(checkout: Path) -> None:
    """A script runs with the package of its own checkout. Another one (``pip install .``, which copies
    the packages alone, or ``pip install -e`` of another clone) ran silently: its code, not the one beside
    the script, and, for a copy, without the checkout's ``configs/``, so each game trained without its
    preset (Snake at half its learning rate)."""
    if _same_folder(checkout, CHECKOUT):
        return
    if not (CHECKOUT / "configs").is_dir():
        raise SystemExit(f"depthfirst: Python imports this project's packages from {CHECKOUT}, a copy that "
                         "pip install . made without the checkout's configs/ (each game would train without "
                         f"its preset), not from {checkout}, whose script this is: install the checkout "
                         f"editable, pip install -e {checkout}")
    raise SystemExit(f"depthfirst: this script is {checkout}'s, but Python imports the project's packages "
                     f"from another checkout, {CHECKOUT} (installed editable there, or on PYTHONPATH), whose "
                     f"code would run: run that checkout's scripts, or set PYTHONPATH={checkout}, or pip "
                     f"install -e {checkout}")


def _refuse_a_deleted_current_folder() -> None:
    """Exits with one ``error:`` line (status 2) where the current folder was deleted after the shell went
    into it (``cd d; rm -rf ../d``): os.getcwd() fails there, and each script ended in a FileNotFoundError
    traceback wherever it first asked (a recorded command, an absolute path), or in torch's "oneMKL FATAL
    ERROR" at its import. Checked here, before any import, as every script asks sooner or later."""
    try:
        os.getcwd()
    except FileNotFoundError:
        print("error: the current folder was deleted: cd to an existing folder", file=sys.stderr)
        raise SystemExit(2) from None


def _same_folder(a: Path, b: Path) -> bool:
    """One folder, also where resolve() leaves two spellings of it: a bind mount, a network share's two
    mount points, a case-insensitive disk's other case (macOS resolves no case)."""
    return a == b or os.path.samefile(a, b)


#: ``-m``, alone or after Python's flags that take no value in one word (``-um``), its module joined or not
#: (``-mNAME``); in ``-Wmodule`` or ``-Xm`` the m is a value.
MODULE_OPTION = re.compile(r"-([bBdEiIOPqRsStuvx]*)m(.*)")
#: ``-c``, alone, after such flags (``-Bc``) or with its code joined (``-cCODE``): the options end there.
COMMAND_OPTION = re.compile(r"-[bBdEiIOPqRsStuvx]*c.*", re.DOTALL)
_VALUE_OPTIONS = ("-W", "-X", "--check-hash-based-pycs")  # their value is the next word


def _module_program() -> bool:
    """Whether this is ``python -m`` of one of ``MODULE_PROGRAMS``, read from the command line: Python
    imports the module's packages (``envs``, which imports gymnasium) before ``__main__`` names it. The
    interpreter's options end at -m, ``-c`` or a script: words after those are the program's."""
    words = iter(sys.orig_argv[1:])
    for word in words:
        module = MODULE_OPTION.fullmatch(word)
        if module:
            return (module[2] or next(words, "")) in MODULE_PROGRAMS
        if not word.startswith("-") or COMMAND_OPTION.fullmatch(word):
            return False
        if word in _VALUE_OPTIONS:
            next(words, None)
    return False


_checkout = _script_checkout()
if _checkout is not None:
    _check_checkout(_checkout)  # exits unless it is this package's checkout
if _checkout is not None or _module_program():
    _refuse_a_deleted_current_folder()
    sys.stdout, sys.stderr = hang_up_proof(sys.stdout), hang_up_proof(sys.stderr)
    escape_unwritable(sys.stdout)
    escape_unwritable(sys.stderr)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:  # would kill the script with no word
        signal.signal(signal.SIGTERM, _interrupted)
    # Ignored (``nohup``): the script is to outlive its terminal.
    if HANGUP and signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:
        signal.signal(signal.SIGHUP, _hung_up)
    cap_thread_pools(os.environ)  # before any script imports torch
    lift_open_files_limit()  # before any worker starts
