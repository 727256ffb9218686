"""Scripted inputs and start states: the logic behind scripts/make_state.py and scripts/play_gameboy.py.

Inputs file format (``make_state``), one command per line, ``#`` starts a comment, blank lines skip
(a file with no command at all is refused):

    BUTTON [FRAMES]   hold BUTTON for FRAMES frames (default 8), release it, then run 1 frame with
                      nothing held (so two presses of one button in a row are two presses)
    wait N            run N frames with nothing held
    boot N            same as wait; reads better as the first line (the boot ROM takes ~70 frames)

BUTTON is one of up, down, left, right, a, b, start, select (any case). FRAMES and N are whole numbers
as the scripts' flags take them (1e3 and 1_000 too), 1 to 216,000 (an hour of game time: a larger count is
taken for a typo and refused). Example: skipping a title
screen and walking two steps::

    boot 300
    start
    wait 60
    right 16
    right 16
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.config import whole_number
from agents.outputs import (
    check_name_fits,
    check_output_file,
    folders_made_for,
    not_written,
    temp_name,
    written_together,
)
from envs.gameboy.core import MAX_BOOT_FRAMES, load_pyboy_class, load_state_file, new_pyboy, save_emulator
from envs.gameboy.roms import no_start_state, rom_record, state_record

SCRIPT_BUTTONS = ("up", "down", "left", "right", "a", "b", "start", "select")
DEFAULT_PRESS_FRAMES = 8
CHECK_FRAMES = 600  # a long ``wait`` runs in chunks this long (10 s of game, ~50 ms here) to notice a stop
# The most frames one command may take: an hour of game time (the Game Boy runs 59.73 frames a second).
# Boot, title screens and Pokémon's intro take seconds to minutes; a count past this is a typo (10**9
# frames ran for about 15 hours here, headless at ~18,700 frames/s), refused before the ROM is booted.
MAX_COMMAND_FRAMES = MAX_BOOT_FRAMES  # the same hour: the boot's own limit


@dataclass(frozen=True)
class Input:
    """Hold ``button`` (None: nothing) for ``frames`` frames."""

    button: str | None
    frames: int


def parse_inputs(text: str, source: str = "<inputs>") -> list[Input]:
    """Parse the inputs format above into a flat list of holds (a press adds its released frame)."""
    out: list[Input] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        word = parts[0].lower()
        where = f"{source}:{lineno}: {raw.strip()!r}"
        if len(parts) > 2:
            raise ValueError(f"{where}: expected 'BUTTON [FRAMES]', 'wait N' or 'boot N'")
        try:  # as the scripts' number flags read one (1e3, 10.0 and 1_000 too): one rule for both
            count = whole_number(parts[1], "FRAMES") if len(parts) == 2 else None
        except ValueError:
            raise ValueError(f"{where}: {parts[1]!r} is not a whole number of frames") from None
        if count is not None and count < 1:
            raise ValueError(f"{where}: frame counts must be >= 1")
        if count is not None and count > MAX_COMMAND_FRAMES:
            # Typed digits past float's range (10**400) make an exact int that count / 59.73 cannot divide.
            hours = f"{count / 59.73 / 3600:,.1f} hours" if count < 10**300 else "far more than an hour"
            raise ValueError(f"{where}: {count:,} frames is {hours} of game time; "
                             f"one command takes at most {MAX_COMMAND_FRAMES:,} frames (an hour): split "
                             "a longer wait into several lines")
        if word in ("wait", "boot"):
            if count is None:
                raise ValueError(f"{where}: '{word}' needs a frame count")
            out.append(Input(None, count))
        elif word in SCRIPT_BUTTONS:
            out.append(Input(word, count or DEFAULT_PRESS_FRAMES))
            out.append(Input(None, 1))
        else:
            raise ValueError(f"{where}: unknown command {parts[0]!r}; buttons: {', '.join(SCRIPT_BUTTONS)}, "
                             f"wait N or boot N")
    if not out:
        # An empty file (or only comments) is a wrong or unsaved file, not a script: playing it would
        # save the ROM's first frame as a "start state" that trains from the boot screen.
        raise ValueError(f"{source} has no commands (only blank lines or comments): expected lines like "
                         "'boot 300', 'start', 'right 16'")
    return out


def run_inputs(pyboy: Any, inputs: list[Input], stop: Callable[[], bool] = lambda: False) -> int:
    """Play ``inputs`` on ``pyboy`` headless; returns the number of frames run. Raises
    ``KeyboardInterrupt`` within ``CHECK_FRAMES`` frames of ``stop()`` turning true."""
    frames = 0
    for step in inputs:
        if step.button is not None:
            pyboy.button_press(step.button)
        for done in range(0, step.frames, CHECK_FRAMES):
            if stop():
                raise KeyboardInterrupt
            pyboy.tick(min(CHECK_FRAMES, step.frames - done), False)
        if step.button is not None:
            pyboy.button_release(step.button)
        frames += step.frames
    pyboy.tick(1, True)  # leave a rendered screen in the state
    return frames + 1


def release_buttons(pyboy: Any) -> None:
    """Release every button and run the frame that applies it (not counted as played). PyBoy's state holds
    the joypad: a key the person still held as the session ended was saved held, and every episode from
    that state pressed it (an env releases only the buttons it presses)."""
    for button in SCRIPT_BUTTONS:
        pyboy.button_release(button)
    pyboy.tick()  # rendered, as every frame of the window is


# More than any ROM (8 MiB at most), state or button script: a larger input is the wrong file. Read past it,
# a device without end (--rom /dev/zero) filled the memory until the process was killed.
MAX_INPUT_BYTES = 64 << 20


def _read_input(path: Path, flag: str) -> bytes:
    """The bytes of an input file, or an error naming ``flag`` (not a traceback: a folder, no file, one
    larger than ``MAX_INPUT_BYTES``)."""
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"{flag} {path}: no such file") from None
    except OSError as e:
        raise ValueError(f"{flag} {path} cannot be read ({e.strerror or e})") from None
    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"{flag} {path} holds more than {MAX_INPUT_BYTES >> 20} MiB, more than any ROM, "
                         "state or button script: is it the right file?")
    return data


def check_state_output(out: Path, flag: str, force: bool, inputs: dict[str, Path | None]) -> None:
    """``check_output_file`` for the state ``out`` and its ROM record (``state_record``), before any play:
    the record must not be one of the ``inputs`` either, nor be left there (from a state deleted since)
    without ``force``; neither may be the record of the input ``--state``."""
    record = state_record(out)
    if inputs.get("--state") is not None:  # its record too (start.state.json, a shell's completion)
        inputs = {**inputs, "--state's ROM record": state_record(inputs["--state"])}
    # The longest name written for it: the record's temp file (a name the file system takes, but not with
    # ".json" after it, was "error: [Errno 36] File name too long: '...json'", no flag named).
    check_name_fits(out, flag, temp_name(record))
    check_output_file(out, flag, force, inputs, make_folders=True)
    check_output_file(record, f"{flag} {out}: its ROM record", True, inputs, make_folders=True)
    if os.path.lexists(record) and not force:
        raise ValueError(f"{flag} {out}: its ROM record {record} exists (left from a state deleted since?); "
                         "pass --force to replace it, or give a new file name")


def _write_state(out: Path, data: bytes, flag: str, force: bool, rom_bytes: bytes) -> None:
    """Write ``data`` to a temp file beside ``out``, and the ROM record of ``rom_bytes`` (``rom_record``)
    beside it at ``state_record(out)``, and rename both into place together, the state last: a full disk or a
    stop never leaves half a state in place of a good one, nor a new state beside an older one's record, nor
    the temp files (a state whose own rename failed after its record's is the old one, beside a record that
    loading refuses as another state's, which the message says: ``_left_behind``). The command's last
    output (``last``): a signal during the renames is dropped, not raised after them, which had the command
    say it wrote nothing. Without ``force``, a file another run wrote at ``out`` since the first check is
    kept (``new``: a check before the rename let one written between the two be replaced)."""
    text = json.dumps(rom_record(rom_bytes, data), indent=2) + "\n"
    try:
        with folders_made_for(out.parent):  # a full disk or a stop leaves no empty folder for it
            out.parent.mkdir(parents=True, exist_ok=True)
            # The record first: one whose rename fails (a full folder) leaves the old pair as it was
            with written_together([state_record(out), out], last=True, new=not force) as (record, tmp):
                tmp.write_bytes(data)
                record.write_text(text, encoding="utf-8")
    except OSError as e:
        # new's refusal leaves a file at out; the mkdir's FileExistsError (a file in the folder's way) not
        if isinstance(e, FileExistsError) and not force and os.path.lexists(out):
            raise FileExistsError(f"{flag} {out} appeared while playing; pass --force to overwrite it"
                                  ) from None
        raise OSError(f"{flag} {not_written(out, e, _left_behind(out, data, text))}") from None


def _left_behind(out: Path, data: bytes, text: str) -> str:
    """What a failed ``_write_state`` of ``data`` and its record ``text`` left: nothing changed, or (with
    --force, where the state's own rename failed after its record's) the new record, which "any file there
    before is unchanged" denied: beside the old state, which loading then refuses, or beside none."""
    record = state_record(out)

    def holds(path: Path, content: bytes) -> bool:
        try:  # a regular file only: a FIFO's read waits for a writer
            return os.path.isfile(path) and path.read_bytes() == content
        except OSError:
            return False

    if holds(out, data) or not holds(record, text.encode("utf-8")):
        return "any file there before is unchanged"
    if os.path.lexists(out):
        return (f"its ROM record {record} was replaced all the same (it is written first), so the state "
                "there before, which stays, is refused beside it as another state's: write it again once the "
                f"disk takes it, or delete {record} to load the old state unchecked")
    return (f"its ROM record {record} was written all the same (it is written first), with no state beside "
            f"it: write the state again with --force once the disk takes it, or delete {record}")


def _keep_beside(out: Path, data: bytes, rom_bytes: bytes) -> Path | None:
    """Where a session that could not be saved at ``out`` was kept: ``<stem>.unsaved-<pid>``, numbered on
    past one there already (a second play in one process, or a process id used again, lost the play with
    the first refusal); None if none could be written."""
    for n in range(1, 100):
        kept = out.with_name(f"{out.stem}.unsaved-{os.getpid()}{f'-{n}' if n > 1 else ''}{out.suffix}")
        try:
            _write_state(kept, data, "--save-state", False, rom_bytes)
        except FileExistsError:
            continue
        except OSError:
            return None
        return kept
    return None


def _check_display(window: str) -> None:
    """PyBoy's SDL2 window on a Linux machine without a display shows nothing and never closes."""
    shown = any(os.environ.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"))
    if window not in ("null", "headless", "dummy") and sys.platform.startswith("linux") and not shown:
        raise ValueError("no display to open the game window on (DISPLAY and WAYLAND_DISPLAY are unset): "
                         "run it in a desktop session (or ssh -X), or script the buttons with "
                         "scripts/make_state.py, which needs no window")


# SDL's video drivers that show no window: SDL falls back to them where no display answers (a DISPLAY
# left set in a tmux or ssh session whose X server is gone), and PyBoy then plays, unseen, for ever.
HIDDEN_VIDEO_DRIVERS = ("offscreen", "dummy")


def _open_window(pyboy_cls: type, rom_bytes: bytes, window: str, scale: int) -> Any:
    """A PyBoy in ``window`` for a person to play; ``ValueError`` when no window can be shown: SDL could
    not open one, or opened it with a driver that shows nothing (unless SDL_VIDEODRIVER asked for it)."""
    try:
        pb = pyboy_cls(io.BytesIO(rom_bytes), window=window, scale=scale, sound_emulated=window != "null",
                       log_level="ERROR")
    except Exception as e:  # SDL's "video failed": the video driver asked for is not available
        if "Dependency" in type(e).__name__:  # --window OpenGL/GLFW without PyOpenGL or glfw installed
            raise ValueError(f"--window {window} needs a package that is not installed ({e}): install it, "
                             "or leave --window out for PyBoy's SDL2 window") from None
        raise ValueError(f"the game window could not be opened ({type(e).__name__}: {e}): run it in a "
                         "desktop session (or ssh -X), or script the buttons with scripts/make_state.py, "
                         "which needs no window") from None
    driver = ""
    if window == "SDL2" and not os.environ.get("SDL_VIDEODRIVER"):
        try:
            import sdl2  # PyBoy's SDL2 window runs on it

            driver = (sdl2.SDL_GetCurrentVideoDriver() or b"").decode("ascii", "replace")
        except ImportError:
            pass
    if driver in HIDDEN_VIDEO_DRIVERS:
        pb.stop(save=False)
        shown = ", ".join(f"{k}={os.environ[k]}" for k in ("DISPLAY", "WAYLAND_DISPLAY") if os.environ.get(k))
        raise ValueError(f"no display answered ({shown or 'none set'}), so SDL fell back to its '{driver}' "
                         "video driver, which shows no window: run it in a desktop session (or ssh -X), or "
                         "script the buttons with scripts/make_state.py, which needs no window")
    return pb


def make_state(rom: str | Path, inputs: str | Path, out: str | Path, force: bool = False,
               state: str | Path | None = None, stop: Callable[[], bool] = lambda: False,
               started: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Boot ``rom`` (or load ``state``), play the inputs file headless, save the emulator state to ``out``
    and its ROM record beside it (``state_record``).

    Returns a summary (frames run, ROM SHA-1, output path, state size). Bad files raise before
    ``started()`` is called; ``stop()`` turning true raises ``KeyboardInterrupt`` before anything is
    written.
    """
    rom, inputs, out = Path(rom), Path(inputs), Path(out)
    state = None if no_start_state(state) else Path(state)  # --state none boots, as in train_ppo
    check_state_output(out, "--out", force, {"--rom": rom, "--inputs": inputs, "--state": state})
    rom_bytes = _read_input(rom, "--rom")
    text = _read_input(inputs, "--inputs")
    try:
        # utf-8-sig: Windows editors (Notepad) may start the file with a byte-order mark, which would
        # otherwise glue itself to the first command ('\ufeffboot': unknown command).
        steps = parse_inputs(text.decode("utf-8-sig"), str(inputs))
    except UnicodeDecodeError as e:
        # A Latin-1 comment (é) is text all the same: what to change is its encoding, or the file given.
        raise ValueError(f"--inputs {inputs} is not UTF-8 (byte {e.start} is not): save the button script as "
                         "UTF-8 (or, if this file is another, give the button script)") from None
    state_bytes = None if state is None else _read_input(state, "--state")
    pb = new_pyboy(rom_bytes, name=rom)
    try:
        if state is not None:
            load_state_file(pb, state, rom, rom_bytes, state_bytes)
        started()
        frames = run_inputs(pb, steps, stop)
        data = save_emulator(pb)
    finally:
        pb.stop(save=False)
    if stop():  # during the last frames or the save: still nothing written
        raise KeyboardInterrupt
    _write_state(out, data, "--out", force, rom_bytes)
    return {"out": str(out), "frames": frames, "rom_sha1": hashlib.sha1(rom_bytes).hexdigest(),
            "bytes": len(data)}


def play(rom: str | Path, save_state: str | Path, force: bool = False, state: str | Path | None = None,
         window: str = "SDL2", scale: int = 3, max_frames: int | None = None,
         stop: Callable[[], bool] = lambda: False, started: Callable[[], None] = lambda: None
         ) -> dict[str, Any]:
    """Open a PyBoy window for a person; when it closes (or ``stop()`` turns true: Ctrl-C), save the emulator
    state to ``save_state``, with its ROM record (``state_record``): the play is kept. A stop before play
    begins (``started()`` is called then) raises ``KeyboardInterrupt`` and writes nothing.

    Keys (PyBoy's defaults): arrows, A = a, B = s, Start = Enter, Select = Backspace; Escape quits.
    ``max_frames`` (with ``window="null"``) lets tests run it headless.
    """
    rom, out = Path(rom), Path(save_state)
    state = None if no_start_state(state) else Path(state)  # --state none boots, as in train_ppo
    # Everything that can fail fails before the person plays, not after.
    _check_display(window)
    check_state_output(out, "--save-state", force, {"--rom": rom, "--state": state})
    rom_bytes = _read_input(rom, "--rom")
    state_bytes = None if state is None else _read_input(state, "--state")
    check = new_pyboy(rom_bytes, name=rom)  # PyBoy's ROM check and its --rom error, windowless
    try:
        if state is not None:  # a state it refuses, named before a window opens
            load_state_file(check, state, rom, rom_bytes, state_bytes)
    finally:
        check.stop(save=False)
    pb = _open_window(load_pyboy_class(), rom_bytes, window, scale)
    if window == "null":
        pb.set_emulation_speed(0)
    frames = 0
    try:
        if state is not None:
            load_state_file(pb, state, rom, rom_bytes, state_bytes)
        if stop():  # nothing played yet: a saved state would only replace the old one with a blank
            raise KeyboardInterrupt
        started()
        while (max_frames is None or frames < max_frames) and not stop():
            if not pb.tick():
                break
            frames += 1
        release_buttons(pb)
        data = save_emulator(pb)
    finally:
        pb.stop(save=False)
    try:
        _write_state(out, data, "--save-state", force, rom_bytes)
    except OSError as e:  # a person's play is not thrown away: kept beside, under a name of its own
        kept = _keep_beside(out, data, rom_bytes)
        if kept is None:
            raise e from None
        raise OSError(f"{e}; the session was saved to {kept} instead") from None
    return {"out": str(out), "frames": frames, "rom_sha1": hashlib.sha1(rom_bytes).hexdigest()}
