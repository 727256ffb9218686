"""ROM identification: SHA-1 tables, and errors that say what to do.

No commercial ROM ships with depthfirst: the user supplies it (see roms/README.md). The project's own
test cartridge (envs/gameboy/cartridge/depthfirst_test.gb) is accepted wherever Pokémon Red is, because
it keeps its state at Pokémon Red's RAM addresses.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import warnings
from pathlib import Path
from typing import Any

from agents.config import not_a_file
from agents.outputs import read_json_object
from agents.runs import file_sha1

README = "roms/README.md"
TEST_CARTRIDGE = Path(__file__).resolve().parent / "cartridge" / "depthfirst_test.gb"

# SHA-1 -> name. Red and Blue (UE) share one engine and RAM map (pret/pokered builds both).
POKEMON_RED_ROMS: dict[str, str] = {
    "ea9bcae617fdf159b045185467ae58b2e4a48b9a": "Pokemon - Red Version (USA, Europe)",
    "d7037c83e1ae5b39bde3c30787637ba1d4c48ce2": "Pokemon - Blue Version (USA, Europe)",
}

# Games that PyBoy's game wrappers know, by the cartridge title in the ROM header.
WRAPPER_TITLES: dict[str, str] = {
    "tetris": "TETRIS",
    "super_mario_land": "SUPER MARIOLAND",
    "kirby": "KIRBY DREAM LAN",
}


def no_start_state(state: Any) -> bool:
    """Whether a ``state`` option asks to boot the ROM instead of loading a start state: None, or the word
    ``none`` or ``null`` in any case, the one way everywhere (``--state none``, YAML's ``state: none``,
    ``gym.make(..., state="none")``, which looked for a file named none); a ``Path`` is always a file."""
    return state is None or (isinstance(state, str) and state.strip().lower() in ("none", "null"))


class RomError(RuntimeError):
    """A ROM that is missing, or is not one this game was written for."""


class RomNotFoundError(RomError, FileNotFoundError):
    pass


class StateError(ValueError):
    """A start state PyBoy cannot use. Its text names it ``--state PATH``, the flag of the commands that
    take one; a command that read the path elsewhere (a run's config.yaml) words it from ``path`` and
    ``problem`` instead."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"--state {path} {problem}")
        self.path = path
        self.problem = problem

    def in_run(self) -> str:
        """The words for a state a run's config.yaml named (evaluate, export, compare, ``--resume``:
        commands with no --state flag)."""
        return f"the run's start state {self.path} (env_kwargs.state in its config.yaml) {self.problem}"


class StateOfAnotherRom(StateError):
    """A start state whose ROM record (``state_record``) names another ROM than the one given: PyBoy loads
    a state on any cartridge of its memory layout, which then plays garbage. Worded by ``--state`` and
    ``--rom``, or by the run's config.yaml keys (``in_run``)."""

    def __init__(self, path: str | Path, record: Path, made: dict[str, Any], rom: Path, rom_sha1: str,
                 rom_title: str) -> None:
        self.made_on = (f"was made on the cartridge {made['rom_title']!r} (SHA-1 {made['rom_sha1']}, as "
                        f"{record.name} beside it records)")
        self.given = f"{rom} ({rom_title!r}, SHA-1 {rom_sha1})"
        super().__init__(path, f"{self.made_on}, not on --rom {self.given}{self._advice('the --rom')}")

    @staticmethod
    def _advice(rom: str) -> str:
        return (f": a state loads on any cartridge of its memory layout and plays garbage on another; give "
                f"{rom} it was made on, or make the state again on this ROM with scripts/make_state.py")

    def in_run(self) -> str:
        return (f"the run's start state {self.path} (env_kwargs.state in its config.yaml) {self.made_on}, "
                f"not on the run's ROM {self.given} (env_kwargs.rom){self._advice('the ROM')}")


def test_cartridge_sha1() -> str:
    return file_sha1(TEST_CARTRIDGE)


def is_test_cartridge(sha1: str | None) -> bool:
    return bool(sha1) and TEST_CARTRIDGE.exists() and sha1 == test_cartridge_sha1()


def pokemon_title(sha1: str | None) -> str:
    """The game a Pokémon ROM's screens show, as VLM prompts name it."""
    if is_test_cartridge(sha1):
        return "depthfirst's Game Boy test cartridge (a small game kept in Pokémon Red's memory layout)"
    name = POKEMON_RED_ROMS.get(sha1 or "", "")
    if "Blue" in name:
        return "Pokémon Blue"
    return "Pokémon Red" if name else "a Game Boy game in Pokémon Red's memory layout"


def supported_pokemon_roms() -> dict[str, str]:
    """Pokémon Red's table plus the test cartridge (hashed now, so a rebuilt cartridge stays accepted)."""
    table = dict(POKEMON_RED_ROMS)
    if TEST_CARTRIDGE.exists():
        table[test_cartridge_sha1()] = "depthfirst test cartridge (Pokémon Red RAM layout)"
    return table


def cartridge_title(data: bytes) -> str:
    """The title in a ROM's cartridge header (up to its first NUL)."""
    return data[0x134:0x144].split(b"\0", 1)[0].decode("ascii", "replace")


def state_record(state: Path) -> Path:
    """Where the ROM record of the start state ``state`` is kept: ``<state>.json`` beside it, or beside the
    file a link ``state`` points to (where the scripts write the state, and where it is read through
    another name)."""
    real = Path(os.path.realpath(state))
    return real.with_name(real.name + ".json")


def rom_record(rom_bytes: bytes, state: bytes) -> dict[str, str]:
    """What the record of the state ``state`` holds: the ROM it was made on (a PyBoy state names none),
    the state's own SHA-1 (a state replaced by hand keeps no record of another) and the PyBoy."""
    try:
        version = importlib.metadata.version("pyboy")
    except importlib.metadata.PackageNotFoundError:  # a PyBoy run from its source: the state still written
        version = "unknown"
    return {"rom_sha1": hashlib.sha1(rom_bytes).hexdigest(), "rom_title": cartridge_title(rom_bytes),
            "state_sha1": hashlib.sha1(state).hexdigest(), "pyboy_version": version}


def is_state_record(data: bytes) -> bool:
    """Whether ``data``, given as a start state, is a state's ROM record (``rom_record``'s JSON) instead."""
    if data[:1] != b"{" or len(data) > 1 << 16:  # a record is a few hundred bytes
        return False
    try:
        made = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return isinstance(made, dict) and {"rom_sha1", "state_sha1"} <= made.keys()


def check_state_record(state: Path, data: bytes, rom: Path, rom_bytes: bytes) -> str | None:
    """Refuse (``StateError``) the start state ``state`` (its bytes ``data``) for the ROM ``rom`` (its bytes
    ``rom_bytes``) where the state's record (``state_record``, written by make_state.py and
    play_gameboy.py) is another state's, names another ROM, or cannot be read. A state without one (made
    before records were, or elsewhere, or moved without it) is not checked: returned is the warning to give
    once it has loaded (None for a pipe or a name at the file system's limit, which can have none)."""
    record = state_record(Path(state))
    try:
        os.lstat(record)
    except FileNotFoundError:
        # A state moved without its record loaded on another cartridge of its layout unseen
        return None if not os.path.isfile(state) else (
            f"start state {state} has no ROM record {record.name} beside it, so it is not checked against "
            f"the ROM {rom}: a state made on another cartridge of its memory layout plays garbage; copy its "
            "record beside it, or make it again with scripts/make_state.py")
    except OSError:
        return None
    keys = ("rom_sha1", "rom_title", "state_sha1")
    try:
        made = read_json_object(record)
        why = f"not a JSON object of {', '.join(keys)}, as the scripts write it"
    except OSError as e:
        made, why = None, e.strerror or str(e)
    if made is None or not all(isinstance(made.get(k), str) for k in keys):
        raise StateError(state, f"has a ROM record {record} that cannot be read ({why}): delete it to load "
                         "the state unchecked, or make the state again with scripts/make_state.py")
    # First: a state copied over one with a record is no more the record's (whose ROM it would blame)
    own = hashlib.sha1(data).hexdigest()
    if made["state_sha1"] != own:
        raise StateError(state, f"has a ROM record {record} of another state (SHA-1 {made['state_sha1']}, "
                         f"not this one's {own}): the state was replaced since, or the record copied beside "
                         "it; delete the record to load the state unchecked, or put the state's own record "
                         "beside it")
    sha1 = hashlib.sha1(rom_bytes).hexdigest()
    if made["rom_sha1"] != sha1:
        raise StateOfAnotherRom(state, record, made, rom, sha1, cartridge_title(rom_bytes))
    return None


# Header titles of the games check_rom accepts: Pokémon Red and Blue, and the test cartridge (an older
# build of it has another hash but this title).
POKEMON_TITLES = ("POKEMON RED", "POKEMON BLUE", "DEPTHFIRST")


# The magic numbers of the archives ROMs are shared in: a ROM given still packed is told to be extracted.
_ARCHIVES = ((b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"7z\xbc\xaf\x27\x1c", "7z"),
             (b"\x1f\x8b", "gzip"), (b"Rar!\x1a\x07", "RAR"))


# A hint naming flags, not the flag to change: a script still names --rom (agents.preflight.rom_flag_named).
STATE_AS_ROM = "(the --state, given as --rom?)"


def not_a_rom(data: bytes) -> str | None:
    """Why ``data`` cannot be a Game Boy ROM PyBoy runs (what PyBoy itself checks, and a file shorter
    than its header's ROM size), or None. An archive is named as one: "not a whole number of 16 KiB banks"
    sent its user to copy it again."""
    problem = _not_rom_bytes(data)
    if problem is None:  # judged by the checks alone: a ROM's first bytes may be anything
        return problem
    kind = packed_in(data)
    if kind is not None:
        return f"a {kind} archive, not the ROM in it: extract the .gb file from it and give that"
    if saved_state(data):  # --rom and --state swapped: "copy your dump again" would not help
        return f"a saved PyBoy state, not a ROM {STATE_AS_ROM}"
    if is_state_record(data):  # start.state.json, where a shell's completion stops: no dump to copy again
        return ("the ROM record of a start state (the .json the scripts write beside it), not a ROM: give "
                "the ROM itself")
    return problem


def saved_state(data: bytes) -> bool:
    """Whether ``data`` begins as the states this PyBoy saves do: its state format, then the boot ROM,
    double-speed and CGB flags (0 or 1). False without PyBoy."""
    try:
        with warnings.catch_warnings():  # its SDL2 notice: no window is opened here
            warnings.simplefilter("ignore")
            from pyboy.utils import STATE_VERSION
    except ImportError:
        return False
    return len(data) > 5 and data[0] == STATE_VERSION and all(data[i] in (0, 1) for i in (1, 4, 5))


def packed_in(data: bytes) -> str | None:
    """The archive format (zip, 7z, ...) whose magic number ``data`` starts with, or None."""
    return next((name for magic, name in _ARCHIVES if data.startswith(magic)), None)


def _not_rom_bytes(data: bytes) -> str | None:
    if not data:
        return "the file is empty"
    if len(data) % 0x4000:
        return f"{len(data):,} bytes, not a whole number of 16 KiB banks"
    checksum = 0
    for byte in data[0x134:0x14D]:  # the cartridge header's checksum over title..version
        checksum = (checksum - byte - 1) & 0xFF
    if checksum != data[0x14D]:
        return "its cartridge header checksum does not match (byte 0x14D)"
    # A copy cut at a bank boundary passes the checks above, and PyBoy wraps the missing banks onto
    # those present (garbage code, no error). Codes 0-8 are 32 KiB << code; the rare others are not judged.
    code = data[0x148]
    if code <= 8 and len(data) < 0x8000 << code:
        return f"cut short: its header gives {32 << code:,} KiB, the file holds {len(data) // 1024:,} KiB"
    return None


def read_rom(path: Path, game: str) -> bytes:
    """The bytes of the ROM file ``path``; ``RomError`` naming it when they cannot be read (no
    permission, an I/O error), not a traceback."""
    try:
        return path.read_bytes()
    except OSError as e:
        raise RomError(f"{game}: the ROM {path} cannot be read ({e.strerror or e}): check the file and its "
                       "permissions") from None


def _expected_lines(table: dict[str, str]) -> str:
    return "\n".join(f"    {sha}  {name}" for sha, name in table.items())


_WARNED: set[tuple[str, str]] = set()  # (game, SHA-1) of the unknown ROMs this process has warned about


def warn_of_file(message: str, about: str, module: str) -> None:
    """A UserWarning of ``message``, about a file (``about``: "ROM", "start state", "archive"), placed at
    ``<about>``, line 0, which no line cache reads: warn() placed it at the project's line that called it
    and printed that source line under the message, which tells a user nothing. ``module``: for -W filters."""
    warnings.warn_explicit(message, UserWarning, f"<{about}>", 0, module=module)


def refuse_non_file(rom: Path, game: str) -> None:
    """``RomError`` for a ``--rom`` that is a folder, a pipe or a device: it exists, so "no ROM file" would
    puzzle."""
    if rom.is_dir():
        raise RomError(f"{game}: {rom} is a folder; give the ROM file itself (e.g. {rom}/<game>.gb).\n"
                       f"  Where ROMs go: {README}")
    why = not_a_file(rom, "the ROM is read again (by each worker process, and by --resume)")
    if why is not None:
        raise RomError(f"{game}: {rom} {why}.\n  Where ROMs go: {README}")


def refuse_non_rom(rom: Path, data: bytes, game: str, hashes: str = "") -> None:
    """``RomError`` naming ``game`` and where ROMs go when ``data``, read from ``rom``, is no Game Boy ROM
    (``not_a_rom``); ``hashes``: lines to give between the two (the SHA-1s, where a game checks them)."""
    problem = not_a_rom(data)
    if problem:
        # intact: extracting the ROM, or giving it in the state's place, is the fix
        advice = (f"Where ROMs go: {README}" if packed_in(data) or saved_state(data) or is_state_record(data)
                  else f"Copy your dump again (a failed copy or download?); where ROMs go: {README}")
        raise RomError(f"{game}: {rom} is not a Game Boy ROM: {problem}.\n{hashes}  {advice}")


def shown(path: Path) -> str:
    """``path`` as a missing file's message names it: a relative one with its absolute form beside it
    (which folder it was looked for in is what the user needs to know)."""
    return str(path) if path.is_absolute() else f"{path} (absolute: {path.resolve()})"


def check_rom(path: str | Path, allow_unknown: bool = False) -> str:
    """Return the SHA-1 of ``path`` if it is in ``supported_pokemon_roms()`` (Pokémon Red, the one game
    checked by hash); raise ``RomError`` otherwise.

    ``allow_unknown=True`` (the ``--allow-unknown-rom`` flag) turns an unknown hash into a warning.
    """
    table, game = supported_pokemon_roms(), "pokemon_red"
    rom = Path(path)
    refuse_non_file(rom, game)
    if not rom.is_file():
        raise RomNotFoundError(
            f"{game}: no ROM file at {shown(rom)}.\n"
            f"  Supply your own copy; supported SHA-1s:\n{_expected_lines(table)}\n"
            f"  Where ROMs go and how to make a start state: {README}"
        )
    data = read_rom(rom, game)
    digest = hashlib.sha1(data).hexdigest()
    if digest in table:
        return digest
    hashes = f"  SHA-1 found:    {digest}\n  SHA-1 expected (one of):\n{_expected_lines(table)}\n"
    # Not a revision or a hack but a broken file (empty, cut short, text): --allow-unknown-rom
    # cannot help, as PyBoy refuses it next, so it is not suggested.
    refuse_non_rom(rom, data, game, hashes)
    # Another game (Tetris given by mistake) is told by its header title, not offered as a "revision".
    title = cartridge_title(data)
    other_game = "" if title in POKEMON_TITLES else (
        f"  Its cartridge title is {title!r}, not Pokémon Red's 'POKEMON RED' (or Blue's 'POKEMON BLUE'):\n"
        "  another game? Give your Pokémon Red ROM as --rom.\n")
    message = (
        f"{game}: unknown ROM {rom}\n{hashes}{other_game}"
        f"  Rewards and observations read fixed RAM addresses, so another revision or a hack may\n"
        f"  silently give wrong rewards. Read {README}"
    )
    if not allow_unknown:
        # Without a run there is no config.yaml to set: a VLM then plays the game's defaults, known ROMs.
        raise RomError(message + "; to proceed anyway pass --allow-unknown-rom to train_ppo.py\n"
                       "  (for a run's --resume, evaluate, export or compare, which take no such flag: "
                       "env_kwargs.allow_unknown_rom: true in its config.yaml;\n"
                       "  a VLM played without a run (compare without --specialist, evaluate.py --vlm with "
                       "--env) plays known ROMs only: give it such a run, compare --specialist RUN, "
                       "evaluate.py RUN --vlm).")
    if (game, digest) not in _WARNED:  # once: a training command builds the game several times
        _WARNED.add((game, digest))
        warn_of_file(message + ".\n  Proceeding, as --allow-unknown-rom asks.", "ROM", __name__)
    return digest
