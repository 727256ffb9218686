"""The PyBoy layer shared by every Game Boy game: ``num_envs`` emulators stepped in one call.

One agent step presses a button for ``press_frames`` frames, releases it and runs to ``step_frames``
frames in all; only the last frame is rendered (the observed one). The observation is the screen in
grayscale, downsampled to ``obs_size`` (default 72x80, half the 144x160 screen, each pixel the mean of
a 2x2 block), the last ``frame_stack`` observed frames oldest first, then any game-specific channels.

An emulator is not batched arithmetic: ``step`` loops over the boards, and ``cheap = False`` makes the
vector env run several boards per worker process.

Reset loads the start state: the ``state`` file (a ``PyBoy.save_state`` dump, see
``scripts/make_state.py``) or, without one, the ROM booted for ``boot_frames`` frames once at
construction (a non-default ``boot_frames`` with a state is refused: it would be ignored). Episodes are
cut (truncated) after ``max_steps`` steps.

``get_state`` holds the RAM-derived facts, the whole emulator state (``emulator``: base64 of the zlib
compressed ``save_state`` bytes), the frame stack and its shape (``frame_shape``), the last observed
screen as a PNG (``screen_png``) and the board's step limit (``max_steps``). ``render_state`` draws that
PNG: it needs no ROM and no emulator. ``set_state`` loads the emulator state back, so play continues
exactly, to the state's own step limit (the game's for a state saved without one).

PyBoy is imported lazily, on the first emulator: ``import envs.gameboy`` works without it.
"""

from __future__ import annotations

import array
import base64
import contextlib
import ctypes
import gc
import hashlib
import importlib.metadata
import io
import sys
import time
import warnings
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from agents.config import not_a_file
from agents.interrupts import stop_at_safe_points
from envs.base import (
    KEY_DOWN,
    KEY_LEFT,
    KEY_RIGHT,
    KEY_UP,
    MAX_RENDER_SCALE,
    RENDER_SCALE,
    ActionKeys,
    Game,
    Setting,
    as_path,
    check_state_keys,
    checked_actions,
    count_setting,
    finite,
    flag,
    state_cell,
    whole,
)
from envs.gameboy.imaging import SCREEN_H, SCREEN_W, Downsampler
from envs.gameboy.roms import (
    RomError,
    StateError,
    check_state_record,
    is_state_record,
    no_start_state,
    not_a_rom,
    read_rom,
    refuse_non_rom,
    warn_of_file,
)
from envs.png import decode_png, encode_png
from envs.rng import seeds_from

BUTTONS: tuple[str, ...] = ("up", "down", "left", "right", "a", "b", "start")
#: The keys of BUTTONS for gymnasium's play: those of PyBoy's window (scripts/play_gameboy.py), the arrows,
#: A = a, B = s, Start = Enter ("\r": pygame's code for Enter is its code point, 13).
BUTTON_KEYS: ActionKeys = ((KEY_UP,), (KEY_DOWN,), (KEY_LEFT,), (KEY_RIGHT,), ("a",), ("s",), ("\r",))
#: An agent step's default frames: the button held PRESS_FRAMES, the step STEP_FRAMES in all (also what
#: envs/bench.py's bare-PyBoy yardstick plays)
PRESS_FRAMES, STEP_FRAMES = 8, 24


class PyBoyMissingError(RomError, ImportError):
    """PyBoy is not installed. A ``RomError`` too, so every script that reports a ROM problem as one line
    reports this one so, instead of a traceback (``pip install -e .`` leaves the ``gameboy`` extra out)."""


def load_pyboy_class() -> type:
    """``pyboy.PyBoy``, imported on first use (its SDL2 notice silenced: we run headless)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pyboy import PyBoy
    except ImportError as exc:
        raise PyBoyMissingError('the Game Boy games need PyBoy: pip install -e ".[gameboy]" '
                                '(or pip install "pyboy>=2.8,<3")') from exc
    return PyBoy


def new_pyboy(rom: bytes, name: str | Path = "the ROM") -> Any:
    """A windowless PyBoy on ROM bytes, at full speed: sound off, no ``.ram``/``.rtc`` file read or written
    beside a ROM path. Bytes PyBoy cannot run raise ``RomError`` naming ``name`` (the ``--rom`` path)."""
    pyboy_cls = load_pyboy_class()
    problem = not_a_rom(rom)  # PyBoy's own checks, worded as check_rom does (and no CRITICAL log line)
    if problem:
        raise RomError(f"--rom {name} is not a Game Boy ROM: {problem}")
    try:
        pb = pyboy_cls(io.BytesIO(rom), window="null", sound_emulated=False, sound_volume=0,
                       log_level="ERROR")
    except Exception as e:  # PyBoy's own exceptions for what not_a_rom does not check
        raise RomError(f"--rom {name} is not a Game Boy ROM PyBoy can run "
                       f"({type(e).__name__}: {e})") from None
    pb.set_emulation_speed(0)
    return pb


WRAM, WRAM_SIZE = 0xC000, 0x2000  # the DMG's work RAM: 0xC000-0xDFFF
# Where a PyBoy ``RAM`` object keeps the address of its work-RAM memoryview: after the object header
# and Cython's method-table pointer (``internal_ram0`` is the class's first field, see ram.pxd).
_RAM_VIEW_AT = object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)


class WorkRamThroughApi:
    """Work RAM indexed from 0xC000 like ``work_ram``'s views, read through ``pyboy.memory``."""

    def __init__(self, memory: Any) -> None:
        self.memory = memory

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            return bytes(self.memory[key.start + WRAM:key.stop + WRAM])
        return self.memory[key + WRAM]


def stop_emulators(pyboys: list[Any]) -> None:
    """Stop every emulator in ``pyboys`` without writing any file."""
    for pb in pyboys:
        pb.stop(save=False)


def work_ram(pyboys: list[Any]) -> list[Any]:
    """Each emulator's work RAM indexed from 0xC000: ``work_ram(pbs)[i][0x135E]`` is
    ``pbs[i].memory[0xD35E]``, read live.

    PyBoy's API reads RAM a byte at a time in Python and a slice builds a list: Pokémon's 320 bytes
    of event flags cost ≈22 us a step through it and ≈2 us through the view, the env's largest own
    cost (about 2 points of its overhead over the emulator). PyBoy 2.x keeps the DMG's work RAM in one
    ``array('B')`` behind a typed memoryview of its private ``RAM`` object, and loads states into that
    same array, so a zero-copy view of it reads the same bytes for the emulator's life. Finding it
    touches no unknown memory: the RAM object comes from the garbage collector's referents, the
    address of its memoryview is read inside the object, and is used only if it is a live PyBoy
    memoryview of an 8 KB byte array that holds the API's bytes and sees a probe write. Otherwise
    (another PyBoy layout, a game in CGB mode) that emulator reads through the API
    (``WorkRamThroughApi``), with a warning. A test checks the view against the API on the PyBoy CI
    installs, loaded states included.
    """
    # Youngest generation first: emulators just made sit in generation 0 or 1 (a few thousand objects),
    # while the oldest holds torch's and SB3's heap (~240k objects, ~0.1 s to scan with them loaded).
    found: list[memoryview | None] = [None] * len(pyboys)
    for generation in range(3):
        views = {id(o): o for o in gc.get_objects(generation)
                 if type(o).__name__ == "memoryview" and type(o).__module__ == "pyboy.core.ram"}
        found = [_work_ram_view(pb, views) if view is None else view
                 for pb, view in zip(pyboys, found, strict=True)]
        if None not in found:
            break
    if None in found:
        version = importlib.metadata.version("pyboy")
        warnings.warn(f"{found.count(None)} of {len(found)} emulators read work RAM through PyBoy's API "
                      f"(slower): PyBoy {version} does not keep it as PyBoy 2.8 does for a DMG game, "
                      f"which depthfirst reads directly", RuntimeWarning, stacklevel=2)
    return [WorkRamThroughApi(pb.memory) if view is None else view
            for pb, view in zip(pyboys, found, strict=True)]


def _referent(obj: Any, type_name: str) -> Any:
    return next((o for o in gc.get_referents(obj) if type(o).__name__ == type_name), None)


def _work_ram_view(pb: Any, views: dict[int, Any]) -> memoryview | None:
    ram = _referent(_referent(pb, "Motherboard"), "RAM")
    if ram is None or type(ram).__basicsize__ < _RAM_VIEW_AT + ctypes.sizeof(ctypes.c_void_p):
        return None
    base = getattr(views.get(ctypes.c_void_p.from_address(id(ram) + _RAM_VIEW_AT).value), "base", None)
    if not (isinstance(base, array.array) and base.typecode == "B" and len(base) == WRAM_SIZE):
        return None
    view = memoryview(base)
    memory = pb.memory
    if bytes(view) != bytes(memory[WRAM:WRAM + WRAM_SIZE]):
        return None
    old = view[0]
    try:
        memory[WRAM] = old ^ 0xFF
        seen = view[0] == old ^ 0xFF
    finally:
        memory[WRAM] = old
    return view if seen else None


def save_emulator(pb: Any) -> bytes:
    buf = io.BytesIO()
    pb.save_state(buf)
    return buf.getvalue()


def load_emulator(pb: Any, data: bytes) -> None:
    pb.load_state(io.BytesIO(data))


class RomNotState(ValueError):
    """``load_checked``'s refusal of a Game Boy ROM given as the state: no state to make again."""


def load_checked(pb: Any, data: bytes, version: int) -> bytes:
    """Load the state bytes ``data`` into ``pb``, whose states are of format ``version`` (the first byte
    of any state it saves), and return the state it held before; a ``ValueError`` saying what is wrong
    (the caller names the file) when the format differs or PyBoy cannot load them, and then ``pb`` is as
    it was (a load that failed half-way is undone).

    PyBoy reads older formats field by field, so a damaged first byte (8-10 here) made it read the rest
    as another layout, load, and then spin forever inside its compiled frame loop, where no Ctrl-C
    reaches. Every state file or archived state goes through this check first."""
    if data and data[0] != version:
        if not_a_rom(data) is None:  # --rom and --state swapped: no state to remake
            raise RomNotState("it is a Game Boy ROM, not a saved state (the --rom, given as --state?)")
        raise ValueError(f"it is no state of this PyBoy (state format {data[0]}, this PyBoy writes "
                         f"{version}): damaged, or saved by another PyBoy version")
    before = save_emulator(pb)
    stream = io.BytesIO(data)
    try:
        pb.load_state(stream)
    except Exception as e:  # PyBoy's own messages: "No data", "a newer version of PyBoy" for random bytes
        load_emulator(pb, before)
        raise ValueError(f"it is damaged or not a PyBoy state ({type(e).__name__}: {e})") from None
    # PyBoy reads a fixed layout and stops there: bytes added or cut inside a state shift every field after
    # them and loaded without complaint, as other values (bytes past the end were never read at all).
    if stream.tell() != len(data):
        load_emulator(pb, before)
        raise ValueError(f"it is damaged: PyBoy read {stream.tell()} of its {len(data)} bytes "
                         "(bytes added or cut)")
    return before


_UNCHECKED: set[str] = set()  # the warnings this process gave of start states loaded without a ROM record


def load_state_file(pb: Any, path: Path, rom: Path, rom_bytes: bytes, data: bytes | None = None) -> bytes:
    """Load the state file ``path`` into ``pb``, which runs the ROM ``rom`` (its bytes ``rom_bytes``), after
    ``check_state_record`` and ``load_checked``; its bytes. One it refuses raises ``StateError`` naming
    ``--state``. ``data``: the file's bytes where the caller has read them already (a pipe, bash's
    ``<(...)``, gives them once: read again, it was "damaged or not a PyBoy state")."""
    try:
        data = Path(path).read_bytes() if data is None else data
    except OSError as e:  # no permission, an I/O error: named by flag, not a traceback
        raise StateError(path, f"cannot be read ({e.strerror or e}): check the file and its permissions"
                         ) from None
    if is_state_record(data):  # --state X.state.json, as a shell completes it: "damaged ...; make it again"
        beside = f", {Path(path).with_suffix('')}" if Path(path).suffix == ".json" else ""
        raise StateError(path, "cannot be loaded: it is the ROM record of a start state (the .json the "
                         f"scripts write beside it), not a state: give the state itself{beside}")
    # First: a state of another cartridge of this memory layout loads below without a word
    unchecked = check_state_record(Path(path), data, rom, rom_bytes)
    version = save_emulator(pb)[0]
    try:
        load_checked(pb, data, version)
    except ValueError as e:
        if isinstance(e, RomNotState):
            remake = ""
        elif data[:1] == bytes([version]):  # this PyBoy's format, not loaded: damaged, or another ROM's
            remake = ("; or made on another cartridge (a state records no title or checksum of its ROM, and "
                      "loads only on a cartridge of its memory layout): make it again on this ROM with "
                      "scripts/make_state.py")
        else:
            remake = "; make it again with scripts/make_state.py"
        raise StateError(path, f"cannot be loaded: {e}{remake}") from None
    if unchecked is not None and unchecked not in _UNCHECKED:  # once: a command builds the game several times
        _UNCHECKED.add(unchecked)
        warn_of_file(unchecked, "start state", __name__)
    return data


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Raise, when the block ends, a ``KeyboardInterrupt`` that PyBoy swallowed inside it.

    A Ctrl-C (or the SIGTERM that the scripts turn into one) usually lands while PyBoy's compiled
    ``tick`` runs one of its Python callbacks; the ``KeyboardInterrupt`` raised there cannot leave the
    compiled code, which hands it to ``sys.unraisablehook`` (an "Exception ignored" traceback) and
    carries on. The scripts' handlers act on the first signal only, so the stop was lost: an
    evaluation or export ran to its end and wrote its results. Inside this block such an exception is
    kept (Cython has printed its traceback already) and raised again when the block ends. Under the
    scripts' handler (``agents.interrupts``) none is raised inside the block at all: the signal waits
    for its end (``stop_at_safe_points``), since Cython printed the kept one's traceback before the
    script's own "interrupted" line."""
    caught: list[BaseException] = []
    previous = sys.unraisablehook

    def keep(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            caught.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = keep
    try:
        with stop_at_safe_points():
            yield
    finally:
        sys.unraisablehook = previous
    if caught:
        raise KeyboardInterrupt


def pack_bytes(data: bytes) -> str:
    """bytes -> JSON-able text (zlib + base64)."""
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def screen_png(rgb: np.ndarray) -> str:
    """A screen as a state holds it (``screen_png``: base64 of a PNG), which ``render_state`` reads back."""
    return base64.b64encode(encode_png(rgb)).decode("ascii")


def unpack_bytes(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))


def _state_bytes(state: dict[str, Any], key: str) -> bytes:
    """A state's packed field (``pack_bytes``), else a ValueError naming ``key``: a number raised a bare
    TypeError, a cut string zlib's or base64's error naming no key."""
    text = state[key]
    if not isinstance(text, str):
        raise ValueError(f"state's {key} must be text (zlib + base64) as get_state returns, "
                         f"got {type(text).__name__}")
    try:
        return unpack_bytes(text)
    except (ValueError, zlib.error) as e:  # base64's binascii.Error is a ValueError
        raise ValueError(f"state's {key} is damaged (not zlib + base64 as get_state writes it): {e}") \
            from None


def _frames_setting(game: Any, name: str, value: Any) -> int:
    """press_frames or step_frames checked against the other, where it is set already: the press must end
    before the step does (a press past it ran the step to press_frames + 1 frames)."""
    if name == "press_frames":
        step = getattr(game, "step_frames", None)
        return whole(name, value, 1, None if step is None else step - 1,
                     "" if step is None else f" (less than step_frames {step})")
    press = getattr(game, "press_frames", None)
    return whole(name, value, 2 if press is None else press + 1,
                 note="" if press is None else f" (more than press_frames {press})")


#: Resident memory one more emulator adds, at least: benchmark.py --env gameboy measures 0.9-1.1 MB.
EMULATOR_BYTES = 900 * 2**10


class GameBoyGame(Game):
    """Base of the PyBoy games; subclasses add rewards (``_after_step``) and RAM facts."""

    cheap: ClassVar[bool] = False
    ACTION_NAMES: ClassVar[tuple[str, ...]] = BUTTONS
    ACTION_KEYS: ClassVar[ActionKeys] = BUTTON_KEYS
    #: observation channels after the frame stack (e.g. Pokémon's visited-tile mask)
    EXTRA_CHANNELS: ClassVar[int] = 0
    STATE_KEYS: ClassVar[tuple[str, ...]] = ("rom_sha1", "emulator", "frames", "step", "done",
                                             "episode_return")
    #: frames the ROM boots for without a start state, unless ``boot_frames`` is given
    BOOT_FRAMES: int = 120  # a wrapped game sets its own on the instance (PyBoy's wrapper boots the ROM)
    WORKER_PRELOAD: ClassVar[tuple[str, ...]] = ("envs.gameboy.pyboy_preload",)
    #: set_attr may change these (checked as the constructor checks them): the frames from the next step,
    #: max_steps from each board's next reset
    press_frames = Setting(_frames_setting)
    step_frames = Setting(_frames_setting)
    max_steps = count_setting()

    @property
    def rom_owner(self) -> str:
        """The game a ROM message names first (``pokemon_red``, ``gameboy/tetris``)."""
        return self.name

    def __init__(self, num_envs: int = 1, *, rom: str | Path, state: str | Path | None = None,
                 press_frames: int = PRESS_FRAMES, step_frames: int = STEP_FRAMES,
                 obs_size: tuple[int, int] | list[int] = (72, 80),
                 frame_stack: int = 1, max_steps: int = 8192, boot_frames: int | None = None) -> None:
        super().__init__(num_envs)
        self.step_frames = step_frames  # first: press_frames is checked against it
        self.press_frames = press_frames
        self.frame_stack = whole("frame_stack", frame_stack, 1)
        self.max_steps = max_steps
        self.boot_frames = (self.BOOT_FRAMES if boot_frames is None
                            else whole("boot_frames", boot_frames, 0, MAX_BOOT_FRAMES))
        state = None if no_start_state(state) else state
        if state is not None and self.boot_frames != self.BOOT_FRAMES:  # it would be ignored without a word
            raise ValueError(f"boot_frames {boot_frames} is for booting the ROM, but a start state is given "
                             f"(state {state}, already past the boot), so it would be ignored: drop "
                             "boot_frames, or boot the ROM instead with state none")
        if not isinstance(obs_size, (list, tuple)) or len(obs_size) != 2:
            raise ValueError(f"obs_size must be a [height, width] pair, got {obs_size!r}")
        h = whole("obs_size height", obs_size[0], 1, SCREEN_H)
        w = whole("obs_size width", obs_size[1], 1, SCREEN_W)
        self.obs_height, self.obs_width = h, w
        channels = self.frame_stack + self.EXTRA_CHANNELS
        if channels > min(h, w):  # SB3 takes the smallest axis for the channels and would transpose
            extra = f" + {self.EXTRA_CHANNELS}" if self.EXTRA_CHANNELS else ""
            raise ValueError(f"obs_size {h}x{w} is smaller than its {channels} channels (frame_stack "
                             f"{self.frame_stack}{extra}): SB3 would read the frames as image columns; "
                             "raise obs_size or lower frame_stack")
        self.state_path = None if state is None else as_path("state", state)
        self.rom_path = as_path("rom", rom)
        self.rom_bytes = read_rom(self.rom_path, self.rom_owner)
        refuse_non_rom(self.rom_path, self.rom_bytes, self.rom_owner)  # named as check_rom names it
        self.rom_sha1 = hashlib.sha1(self.rom_bytes).hexdigest()
        self.observation_space = spaces.Box(0, 255, (self.frame_stack + self.EXTRA_CHANNELS, h, w), np.uint8)
        self._pyboys: list[Any] = []
        # Emulators never closed are stopped at exit (or when the game is collected): left to PyBoy's
        # __del__ during the interpreter's teardown, with torch imported, they printed "Error in
        # sys.excepthook" three times, empty. It holds the list that close() empties, not the game.
        self._stop_emulators = weakref.finalize(self, stop_emulators, self._pyboys)
        # The checks that need the emulators (the cartridge's title, the start state) come after they
        # start: one that refused left them running until the garbage collector found the game.
        try:
            for _ in range(num_envs):
                self._pyboys.append(new_pyboy(self.rom_bytes, name=self.rom_path))
            self._downsample = Downsampler(h, w, self._pyboys[0].screen.raw_buffer_format)
            # PyBoy draws every frame into one buffer for the emulator's life (loading a state too), so
            # the views a step reads are made once.
            self._words = [Downsampler.words(pb.screen.ndarray) for pb in self._pyboys]
            self._wram = work_ram(self._pyboys)  # RAM views, also live for the emulators' life
            self._start_state = self._make_start_state()
            n = num_envs
            self._frames = np.zeros((n, self.frame_stack, h, w), np.uint8)
            self._newest = [self._frames[i, -1] for i in range(n)]
            # Per-board scalars as Python lists: a step reads and writes them one board at a time, where
            # NumPy scalar access costs several times more (more so right after emulating frames).
            self._steps: list[int] = [0] * n
            self._done: list[bool] = [False] * n
            self._returns: list[float] = [0.0] * n
            # Each board's step limit, max_steps as its episode began: one set later (set_attr) applies
            # from the board's next reset, as in the other games, not to the episode under way.
            self._limits: list[int] = [self.max_steps] * n
            self._rngs = [np.random.default_rng(k) for k in range(n)]
            self._begun: list[bool] = [False] * n  # reset or given a state by the user: ``_started``
            #: Seconds ``step`` has spent driving PyBoy (buttons and frames): the rest of a step is this
            #: env's own cost, measured in the same run (the benchmark's overhead figure).
            self.emulator_seconds = 0.0
            self._init_tracking()
            self.reset(np.arange(n), seeds_from(0, n))  # readies each board's frames and bookkeeping
            # ... but the user's reset starts the episodes, as in every game: until then step skips the
            # boards (done) and observe, get_state and render refuse them. They played and showed this
            # seed-0 episode, where the other games' refused or drew boards that never existed.
            self._begun, self._done = [False] * n, [True] * n
        except BaseException:  # Ctrl-C too
            self.close()
            raise

    # ---- hooks for subclasses ---------------------------------------------------------------------
    def _init_tracking(self) -> None:
        """Allocate per-board bookkeeping (called once, before the first reset)."""

    def _prepare(self, i: int) -> None:
        """Called once per emulator after the start state exists (e.g. start a game wrapper)."""

    def _episode_start(self, i: int) -> None:
        """Put emulator ``i`` at the start of an episode (default: load the start state)."""
        load_emulator(self._pyboys[i], self._start_state)

    def _after_reset(self, i: int) -> None:
        """Reset board ``i``'s bookkeeping from the freshly loaded emulator."""

    def _after_step(self, i: int) -> tuple[float, bool]:
        """Reward and terminated flag of board ``i``'s step just run."""
        return 0.0, False

    def _observe_extra(self, out: np.ndarray, boards: slice | np.ndarray) -> None:
        """Fill the ``EXTRA_CHANNELS`` channels of ``boards`` (every board, or an index array):
        ``out`` is (len, EXTRA, H, W)."""

    def _state_extra(self, i: int) -> dict[str, Any]:
        return {}

    def _read_state_extra(self, state: dict[str, Any]) -> Any:
        """The subclass's part of ``state``, checked (a ValueError naming the key) before ``set_state``
        touches the board; ``_set_state_extra`` gets it."""
        return None

    def _loaded_problem(self, i: int, extra: Any) -> str | None:
        """What makes ``extra`` disagree with emulator ``i``, just loaded from the same state (None: they
        agree); ``set_state`` then loads the board's emulator back and refuses the state with it."""
        return None

    def _set_state_extra(self, i: int, extra: Any) -> None:
        pass

    # ---- emulator plumbing ------------------------------------------------------------------------
    def _make_start_state(self) -> bytes:
        if self.state_path is not None:
            if self.state_path.is_dir():  # it exists: "not found" would send the user looking for it
                raise StateError(self.state_path, "is a folder; give the .state file itself (made with "
                                 "scripts/make_state.py or scripts/play_gameboy.py --save-state)")
            why = not_a_file(self.state_path, "the start state is read again (by each worker process, and by "
                             "--resume)")
            if why is not None:
                raise StateError(self.state_path, why)
            if not self.state_path.is_file():
                raise FileNotFoundError(
                    f"start state {self.state_path} not found; make one with scripts/make_state.py or "
                    f"scripts/play_gameboy.py --save-state (see roms/README.md), or boot the ROM instead "
                    f"with --state none (env kwarg state=None or \"none\")"
                )
            data = load_state_file(self._pyboys[0], self.state_path, self.rom_path, self.rom_bytes)
        else:
            pb = self._pyboys[0]
            if self.boot_frames:  # render the last boot frame: it is the first observation
                with interrupts_kept():  # a Ctrl-C inside the boot's ticks stops the constructor, not lost
                    if self.boot_frames > 1:
                        pb.tick(self.boot_frames - 1, False)
                    pb.tick(1, True)
            data = save_emulator(pb)
        #: the state format of this PyBoy, which states are checked against before loading
        self.state_version = data[0]  # a state it saved, or a file checked against one it saved
        # A subclass's _prepare may tick (a wrapper game's title-screen check and start_game): a Ctrl-C in
        # those ticks stops the constructor, as in the boot's
        with interrupts_kept():
            for i in range(self.num_envs):
                load_emulator(self._pyboys[i], data)
                self._prepare(i)
        return data

    def memory(self, i: int) -> Any:
        """Board ``i``'s address space (``pyboy.memory``): ``memory(i)[0xD362]``. Not of a board never reset:
        every emulator boots in the constructor, whose memory was no episode's."""
        self._check_started(i, "memory")
        return self._pyboys[i].memory

    def screen(self, i: int) -> np.ndarray:
        """Board ``i``'s last observed frame, full size RGB (144, 160, 3) uint8 (a copy); not of a board never
        reset (the constructor's boot screen)."""
        self._check_started(i, "screen")
        raw = self._pyboys[i].screen.ndarray
        return np.ascontiguousarray(raw[:, :, list(self._downsample.rgb)])

    def _grab(self, i: int, fill: bool = False) -> None:
        if self.frame_stack > 1 and not fill:
            self._frames[i, :-1] = self._frames[i, 1:]
        self._downsample(self._words[i], self._newest[i])
        if self.frame_stack > 1 and fill:
            self._frames[i, :-1] = self._newest[i]

    def __getstate__(self) -> dict[str, Any]:
        # PyBoy cannot be pickled: copy.deepcopy(env) and pickle.dumps(env) said only "no default
        # __reduce__ due to non-trivial __cinit__".
        raise TypeError(f"a {type(self).__name__} game holds PyBoy emulators, which cannot be copied or "
                        "pickled; make another env with the same arguments and give it this one's "
                        "get_state() through set_state() (vector envs pickle a function that makes the "
                        "env, which works)")

    def board_bytes(self) -> int:
        return super().board_bytes() + EMULATOR_BYTES

    def close(self) -> None:
        """Stop every emulator without writing any file."""
        # PyBoy's stop() is compiled noexcept, as its tick: a Ctrl-C taken inside it is raised as close() ends
        with interrupts_kept():
            self._stop_emulators()  # once: a second close() finds the finalizer spent
            self._pyboys, self._words, self._wram = [], [], []
            super().close()

    # ---- the Game contract ------------------------------------------------------------------------
    def reset(self, indices: np.ndarray, seeds: np.ndarray) -> None:
        boards, seeds = self._reset_args(indices, seeds)
        with interrupts_kept():  # a wrapper's reset_game ticks the emulator
            for k, i in enumerate(boards):
                i = int(i)
                self._rngs[i] = np.random.default_rng(int(seeds[k]))
                self._episode_start(i)
                self._steps[i] = 0
                self._limits[i] = self.max_steps
                self._done[i] = False
                self._returns[i] = 0.0
                self._begun[i] = True
                self._grab(i, fill=True)
                self._after_reset(i)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._check_playing("step")
        n = self.num_envs
        rewards, terminated, truncated = [0.0] * n, [False] * n, [False] * n
        rest = self.step_frames - self.press_frames
        # Checked: a negative action would index ACTION_NAMES from the end and press the last button.
        checked = checked_actions(actions, n, self.ACTION_NAMES).tolist()
        with interrupts_kept():  # a Ctrl-C inside a tick is raised after the step, not lost
            for i, action in enumerate(checked):
                if self._done[i]:
                    continue
                pb = self._pyboys[i]
                button = self.ACTION_NAMES[action]
                t0 = time.perf_counter()
                pb.button_press(button)
                pb.tick(self.press_frames, False)
                pb.button_release(button)
                if rest > 1:
                    pb.tick(rest - 1, False)
                pb.tick(1, True)
                self.emulator_seconds += time.perf_counter() - t0
                self._steps[i] += 1
                self._grab(i)
                reward, term = self._after_step(i)
                trunc = not term and self._steps[i] >= self._limits[i]
                rewards[i], terminated[i], truncated[i] = reward, term, trunc
                self._returns[i] += reward
                self._done[i] = term or trunc
        return np.array(rewards, np.float32), np.array(terminated), np.array(truncated)

    def observe(self, out: np.ndarray, indices: np.ndarray | None = None) -> None:
        checked = self._boards(indices, out)
        boards = slice(None) if indices is None else checked
        out[:, :self.frame_stack] = self._frames[boards]
        if self.EXTRA_CHANNELS:
            self._observe_extra(out[:, self.frame_stack:], boards)

    def _episode_info(self, i: int) -> dict[str, float]:
        return {"score": float(self._returns[i]), "steps": float(self._steps[i])}

    def _started(self, i: int) -> bool:
        return self._begun[i]

    def get_state(self, i: int) -> dict[str, Any]:
        self._check_started(i, "get_state")
        state: dict[str, Any] = {
            "game": self.name,
            "rom_sha1": self.rom_sha1,
            "step": int(self._steps[i]),
            "done": bool(self._done[i]),
            "episode_return": float(self._returns[i]),
            "max_steps": int(self._limits[i]),  # the board's limit, which set_attr("max_steps") leaves be
            "emulator": pack_bytes(save_emulator(self._pyboys[i])),
            "frames": pack_bytes(self._frames[i].tobytes()),
            "frame_shape": list(self._frames.shape[1:]),  # (frame_stack, height, width)
            "screen_png": screen_png(self.screen(i)),
        }
        state.update(self._state_extra(i))
        return state

    def set_state(self, i: int, state: dict[str, Any]) -> None:
        self._check_state(i, state)  # the subclass's keys too
        if state.get("rom_sha1") != self.rom_sha1:
            raise ValueError(f"state was made with ROM {state.get('rom_sha1')}, "
                             f"this game runs {self.rom_sha1}")
        frames = np.frombuffer(_state_bytes(state, "frames"), np.uint8)
        shape = list(self._frames.shape[1:])
        # Its shape too where the state keeps it (older ones do not): 4 frames of 36x40 are as many bytes
        # as 1 of 72x80, and loaded as those, scrambled.
        made = state.get("frame_shape")
        made = None if made is None else state_cell("state's frame_shape", made, 3)
        if frames.size != self._frames[i].size or made not in (None, shape):  # before the emulator is touched
            held = "" if made is None else " as {} of {}x{}".format(*made)
            raise ValueError(f"state holds {frames.size} bytes of frames{held}, this game stacks {shape[0]} "
                             f"of {shape[1]}x{shape[2]} ({self._frames[i].size} bytes): it was made with "
                             "another frame_stack or obs_size; use the settings it was made with")
        emulator = _state_bytes(state, "emulator")
        # Every value is read before the emulator is loaded: a bad one left the board half set.
        step = whole("state's step", state["step"], 0)
        done = flag("state's done", state["done"])
        episode_return = finite("state's episode_return", state["episode_return"])
        # The state's own limit, so that its episode ends where it would have (states saved before they
        # kept it take the game's).
        limit = whole("state's max_steps", state.get("max_steps", self.max_steps), 1)
        if "max_steps" in state:  # its own limit: a board not done is short of it (old states as before)
            step = whole("state's step", step, 0, limit if done else limit - 1,
                         f" with max_steps {limit} in a state {'that is' if done else 'not'} done")
        extra = self._read_state_extra(state)
        try:  # a damaged state-format byte is refused before loading: it hung PyBoy's next frame
            before = load_checked(self._pyboys[i], emulator, self.state_version)
        except ValueError as e:
            raise ValueError(f"state's emulator cannot be loaded: {e}") from None
        problem = self._loaded_problem(i, extra)
        if problem:
            load_emulator(self._pyboys[i], before)
            raise ValueError(problem)
        self._frames[i] = frames.reshape(self._frames.shape[1:])
        self._steps[i] = step
        self._limits[i] = limit
        self._done[i] = done
        self._returns[i] = episode_return
        self._begun[i] = True
        self._set_state_extra(i, extra)

    @classmethod
    def render_state(cls, state: dict[str, Any], scale: int = RENDER_SCALE) -> np.ndarray:
        """The state's last screen (160x144 RGB) magnified ``max(1, scale // 8)`` times: a Game Boy 8x8
        tile is the "cell", so the default ``scale=16`` gives 320x288."""
        # Checked as set_state checks its keys (states come back from files): a state without it was a
        # KeyError, a number a TypeError naming no key, and a PNG of another shape was returned as drawn.
        check_state_keys(cls.name, state, ("screen_png",))
        text = state["screen_png"]
        if not isinstance(text, str):
            raise ValueError(f"state's screen_png must be text (base64 of a PNG) as get_state returns, "
                             f"got {type(text).__name__}")
        try:
            rgb = decode_png(base64.b64decode(text, validate=True))
        except ValueError as e:  # base64's binascii.Error is one, as is decode_png's
            raise ValueError(f"state's screen_png is damaged (not base64 of a PNG as get_state writes it): "
                             f"{e}") from None
        if rgb.shape != (SCREEN_H, SCREEN_W, 3):
            raise ValueError(f"state's screen_png must be a {SCREEN_W}x{SCREEN_H} RGB screen, got an image "
                             f"of shape {rgb.shape}")
        return _magnify(rgb, scale)

    def render(self, i: int = 0, scale: int = RENDER_SCALE) -> np.ndarray:
        """``render_state(get_state(i))`` from the live screen: no emulator state packed and no PNG
        (40 ms a frame that way; a replay or a video renders every step)."""
        self._check_started(i, "render")
        return _magnify(self.screen(i), scale)


# The most frames the ROM boots for: an hour of game time, as a scripted command's (scripting's
# MAX_COMMAND_FRAMES is this). Unbounded, a typo such as 10**9 booted every emulator in the constructor for
# hours (scripting measured ~18,700 frames/s: about 15 hours), silently.
MAX_BOOT_FRAMES = 216_000


def _magnify(rgb: np.ndarray, scale: int) -> np.ndarray:
    f = max(1, whole("scale", scale, 1, MAX_RENDER_SCALE) // 8)
    return np.repeat(np.repeat(rgb, f, axis=1), f, axis=0) if f > 1 else rgb  # columns first: faster


__all__ = ["BUTTONS", "SCREEN_H", "SCREEN_W", "WRAM", "GameBoyGame", "new_pyboy", "work_ram"]
