"""Game Boy layer without an emulator: the test cartridge's build, ROM checks, lazy PyBoy import,
RAM helpers, the PNG codec and the inputs-script parser."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numba
import numpy as np
import pytest

from agents.runs import file_sha1
from envs.gameboy import imaging, ram
from envs.gameboy.cartridge import build, layout
from envs.gameboy.imaging import Downsampler
from envs.gameboy.roms import (
    POKEMON_RED_ROMS,
    TEST_CARTRIDGE,
    RomError,
    RomNotFoundError,
    check_rom,
    not_a_rom,
)
from envs.gameboy.scripting import (
    CHECK_FRAMES,
    SCRIPT_BUTTONS,
    Input,
    parse_inputs,
    release_buttons,
    run_inputs,
)
from tests.scripts.test_startup import in_a_terminal

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
def test_cartridge_rebuilds_byte_for_byte() -> None:
    assert build.build() == TEST_CARTRIDGE.read_bytes()


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
def test_build_into_a_missing_folder_is_a_clear_error(capsys, tmp_path) -> None:
    out = tmp_path / "no" / "x.gb"
    assert build.main(["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --out {out}: no folder {out.parent}\n", err  # not "not writable here"


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
def test_build_out_expands_a_tilde(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # --out=~/x.gb: bash expands no ~ after "="
    monkeypatch.chdir(tmp_path)
    assert build.main(["--out=~/x.gb"]) == 0
    assert (tmp_path / "x.gb").read_bytes() == TEST_CARTRIDGE.read_bytes() and not (tmp_path / "~").exists()


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
def test_build_keeps_an_existing_out_file_unless_forced(capsys, tmp_path) -> None:
    # --out replaced any file it named without a word (a ROM of the user's, typed by mistake).
    mine = tmp_path / "pokemon_red.gb"
    mine.write_bytes(b"the user's ROM")
    assert build.main(["--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out ") and "--force" in err and "Traceback" not in err
    assert mine.read_bytes() == b"the user's ROM"
    assert build.main(["--out", str(mine), "--force"]) == 0
    assert mine.read_bytes() == TEST_CARTRIDGE.read_bytes()


@pytest.mark.parametrize(("name", "module", "attr"), [
    ("game.s", build, "SOURCE"), ("layout.py", layout, "__file__"), ("build.py", build, "__file__")],
    ids=["game.s", "layout.py", "build.py"])
def test_build_refuses_an_out_that_is_one_of_its_sources_even_forced(monkeypatch, capsys, tmp_path, name,
                                                                      module, attr) -> None:
    # `--out envs/gameboy/cartridge/game.s --force` wrote the ROM over the assembler source it builds from.
    source = tmp_path / name  # a copy stands in for the source: a failing test must not destroy the real one
    source.write_text(Path(getattr(module, attr)).read_text())
    monkeypatch.setattr(module, attr, source if attr == "SOURCE" else str(source))
    text = source.read_text()
    assert build.main(["--out", str(source), "--force"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {source} is the {name} file") and "Traceback" not in err
    assert source.read_text() == text


def test_build_check_refuses_out_and_force_it_would_ignore(capsys, tmp_path) -> None:
    # `--check --out X.gb` compared the committed ROM and exited 0, as though X.gb had been checked.
    for extra in (["--out", str(tmp_path / "x.gb")], ["--force"]):
        with pytest.raises(SystemExit) as exit_info:
            build.main(["--check", *extra])
        assert exit_info.value.code == 2
        # Said in the error line: the usage line above it names --check whatever the error is.
        assert ("error: --check compares a rebuild with the committed ROM and writes nothing: drop --out and "
                "--force\n") in capsys.readouterr().err
    assert not (tmp_path / "x.gb").exists()


def test_build_without_sdcc_is_a_clear_error_not_a_traceback(monkeypatch, capsys, tmp_path) -> None:
    # SDCC is optional (README, Tests); `python -m envs.gameboy.cartridge.build` without it raised a
    # RuntimeError traceback, and exited 1 with --check, as for a stale ROM.
    monkeypatch.setenv("PATH", str(tmp_path))  # no SDCC tool there
    rom = TEST_CARTRIDGE.read_bytes()
    for argv in ([], ["--check"], ["--out", str(tmp_path / "x.gb")]):
        assert build.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: missing sdasgb, sdldgb, makebin") and "apt-get install sdcc" in err
    assert not (tmp_path / "x.gb").exists() and TEST_CARTRIDGE.read_bytes() == rom


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
@pytest.mark.parametrize("size", [0x4000, 0x10000])  # cut short, or code grown past 32 KiB
def test_a_build_whose_rom_is_not_32_kib_is_refused_and_writes_nothing(monkeypatch, tmp_path, size) -> None:
    run = subprocess.run

    def other_makebin(cmd, cwd, **kwargs):  # the tools' output is checked, not taken on trust
        if cmd[0] == "makebin":
            (Path(cwd) / "game.gb").write_bytes(bytes(size))
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return run(cmd, cwd=cwd, **kwargs)

    monkeypatch.setattr(build.subprocess, "run", other_makebin)
    with pytest.raises(RuntimeError, match=f"expected a 32 KiB ROM, got {size} bytes"):
        build.build(tmp_path / "x.gb")
    assert not (tmp_path / "x.gb").exists()


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
def test_a_failing_assembler_is_reported_with_its_output_and_writes_nothing(monkeypatch, capsys,
                                                                             tmp_path) -> None:
    broken = tmp_path / "game.s"
    broken.write_text(build.SOURCE.read_text() + "\n\tnot_an_instruction a, b\n")
    monkeypatch.setattr(build, "SOURCE", broken)
    assert build.main(["--out", str(tmp_path / "x.gb")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: sdasgb -o game.rel game.s failed:\n") and len(err.splitlines()) > 1
    assert "Traceback" not in err and not (tmp_path / "x.gb").exists()


@pytest.mark.skipif(shutil.which("sdasgb") is None, reason="SDCC (sdasgb) not installed")
def test_build_check_compares_a_rebuild_with_the_committed_rom(monkeypatch, capsys, tmp_path) -> None:
    # --check exits 0 when the committed ROM is what its source builds, 1 when it is stale; it writes nothing.
    assert build.main(["--check"]) == 0
    assert capsys.readouterr().out == "depthfirst_test.gb matches its source\n"
    stale = tmp_path / "depthfirst_test.gb"
    stale.write_bytes(bytes(32768))
    monkeypatch.setattr(build, "ROM_PATH", stale)
    assert build.main(["--check"]) == 1
    assert capsys.readouterr().out == "depthfirst_test.gb is STALE: rebuild it\n"
    assert stale.read_bytes() == bytes(32768)


@pytest.fixture
def fake_sdcc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SDCC's three tools as shell scripts first on PATH: makebin writes a 32 KiB ROM of zeros, sdasgb first
    touches ``assembling`` in the folder it returns and waits ``$SDASGB_SLEEP`` seconds (a build to stop)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {"sdasgb": f'touch "{tmp_path}/assembling"; sleep "${{SDASGB_SLEEP:-0}}"', "sdldgb": ":",
               "makebin": 'for last; do :; done; head -c 32768 /dev/zero > "$last"'}
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_the_builders_flags_are_read_as_every_scripts(capsys) -> None:
    # Its own argparse took abbreviations (--ch ran --check; a new flag sharing the prefix would change what
    # a recorded command does) and an empty --out as the current folder ("--out . is a folder").
    for argv, said in ((["--ch"], "unrecognized arguments: --ch"),
                       (["--out", ""], "argument --out: is empty")):
        with pytest.raises(SystemExit) as exit_info:
            build.main(argv)
        assert exit_info.value.code == 2 and said in capsys.readouterr().err


def test_a_rom_the_disk_refuses_keeps_the_out_file_and_names_the_flag(fake_sdcc, monkeypatch, capsys) -> None:
    # The ROM was written in place: a full disk (or a stop) half-way left a truncated file where the user's
    # (or the committed) ROM was, and the error was Python's "[Errno 28] ...", naming no flag.
    import errno

    mine = fake_sdcc / "x.gb"
    mine.write_bytes(b"the ROM before")
    write_bytes = Path.write_bytes

    def disk_full_half_way(self: Path, data: bytes) -> int:
        if self.parent == fake_sdcc:
            write_bytes(self, data[:100])
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_full_half_way)
    assert build.main(["--out", str(mine), "--force"]) == 2
    assert capsys.readouterr().err == (f"error: --out {mine} could not be written (No space left on device); "
                                       "any file there before is unchanged\n")
    assert mine.read_bytes() == b"the ROM before" and sorted(p.name for p in fake_sdcc.iterdir()) == [
        "assembling", "bin", "x.gb"]


def test_a_file_made_at_out_during_the_build_is_kept_without_force(fake_sdcc, monkeypatch, capsys) -> None:
    # Checked free before the build, --out was then replaced whatever another command put there meanwhile.
    out, build_rom = fake_sdcc / "x.gb", build.build

    def another_command_writes_out(*args: object, **kwargs: object) -> bytes:
        out.write_bytes(b"theirs")
        return build_rom(*args, **kwargs)

    monkeypatch.setattr(build, "build", another_command_writes_out)
    assert build.main(["--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert said == f"error: --out {out} appeared while building; pass --force to overwrite it\n"
    assert out.read_bytes() == b"theirs" and sorted(p.name for p in fake_sdcc.iterdir()) == [
        "assembling", "bin", "x.gb"]
    assert build.main(["--out", str(out), "--force"]) == 0 and len(out.read_bytes()) == 32768


def test_a_rebuild_in_place_replaces_the_committed_rom_without_force(fake_sdcc, monkeypatch, capsys) -> None:
    # No --out: the committed ROM is always rebuilt in place; it is there, and that is no "appeared while
    # building" (a copy stands in for it: a failing test must not touch the real one).
    committed = fake_sdcc / "depthfirst_test.gb"
    committed.write_bytes(TEST_CARTRIDGE.read_bytes())
    monkeypatch.setattr(build, "ROM_PATH", committed)
    assert build.main([]) == 0
    assert capsys.readouterr().out == f"wrote {committed}\n" and committed.read_bytes() == bytes(32768)


def test_an_out_naming_the_committed_rom_rebuilds_it_in_place(fake_sdcc, monkeypatch, capsys) -> None:
    # --out naming the committed ROM (by any path) skipped the existing-file check, as a rebuild in place
    # should, but then was written as a new file: "appeared while building; pass --force", though nothing
    # appeared, and nothing was rebuilt.
    committed = fake_sdcc / "depthfirst_test.gb"
    committed.write_bytes(TEST_CARTRIDGE.read_bytes())
    monkeypatch.setattr(build, "ROM_PATH", committed)
    monkeypatch.chdir(fake_sdcc)
    assert build.main(["--out", "depthfirst_test.gb"]) == 0
    assert capsys.readouterr().out == "wrote depthfirst_test.gb\n" and committed.read_bytes() == bytes(32768)


def _build_module(fake_sdcc: Path, *argv: str, **env: str) -> subprocess.Popen:
    """``python -m envs.gameboy.cartridge.build`` as a user runs it, its temp folders under ``fake_sdcc``."""
    return subprocess.Popen([sys.executable, "-m", "envs.gameboy.cartridge.build", *argv], cwd=fake_sdcc,
                            env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(fake_sdcc), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=in_a_terminal)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_stopped_build_exits_130_in_one_line_and_leaves_nothing(fake_sdcc, sig) -> None:
    # A Ctrl-C was a KeyboardInterrupt traceback; a SIGTERM ended it with no word and left its temp folder
    # (dfcart_*) behind, the assembler still running.
    proc = _build_module(fake_sdcc, "--out", "x.gb", SDASGB_SLEEP="60")
    try:
        deadline = time.monotonic() + 30
        while not (fake_sdcc / "assembling").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "\ninterrupted\n")
    assert sorted(p.name for p in fake_sdcc.iterdir()) == ["assembling", "bin"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_a_build_stopped_while_python_imports_its_packages_exits_130_in_one_line(fake_sdcc, sig) -> None:
    # python -m imports envs (and gymnasium, ~0.5 s of the build's ~0.6 s) before the module's first line:
    # a Ctrl-C there was a KeyboardInterrupt traceback, a SIGTERM an exit with no word (timed signals).
    slow = "import sys, time\nprint('importing', file=sys.stderr, flush=True)\ntime.sleep(60)\n"
    (fake_sdcc / "gymnasium.py").write_text(slow)
    proc = _build_module(fake_sdcc, "--out", "x.gb", PYTHONPATH=os.pathsep.join([str(fake_sdcc), str(REPO)]))
    try:
        assert proc.stderr.readline() == "importing\n"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert (proc.returncode, out, err.strip()) == (130, "", "interrupted")


def test_a_built_rom_is_said_in_any_output_encoding(fake_sdcc) -> None:
    # "wrote café.gb" to an ASCII stdout raised UnicodeEncodeError once the ROM was written: exit 1.
    proc = _build_module(fake_sdcc, "--out", "café.gb", PYTHONIOENCODING="ascii:strict")
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, out, err) == (0, "wrote caf\\xe9.gb\n", "")
    assert (fake_sdcc / "café.gb").read_bytes() == bytes(32768)


def test_too_many_rooms_names_the_count_and_what_to_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layout, "ROOMS", (("#@#",),) + (("###",),) * 8)  # one start, in 9 rooms
    with pytest.raises(ValueError, match=r"ROOMS has 9 rooms, at most 8 fit .* raise DATA_ADDR"):
        build.generate_data()
    monkeypatch.setattr(layout, "ROOMS", (("#@#",),) + (("###",),) * 7)  # 8: as many as fit
    assert "; room 7" in build.generate_data()


def test_cartridge_header() -> None:
    rom = TEST_CARTRIDGE.read_bytes()
    assert len(rom) == 32768
    assert rom[0x134:0x134 + len(build.TITLE)] == build.TITLE.encode()
    assert rom[0x147] == 0 and rom[0x148] == 0 and rom[0x149] == 0  # ROM only, 32 KiB, no RAM
    checksum = 0
    for b in rom[0x134:0x14D]:
        checksum = (checksum - b - 1) & 0xFF
    assert rom[0x14D] == checksum


def test_layout_is_consistent() -> None:
    world = layout.parse_rooms()
    assert len(world["doors"]) % 2 == 0 and world["doors"]
    # every door leads to a door cell of another room, and back
    for room, x, y, dr, dx, dy in world["doors"]:
        assert world["cells"][dr][dy][dx] == layout.DOOR
        assert (dr, dx, dy, room, x, y) in world["doors"]
    flags = [p[3] for p in world["pickups"]]
    assert len(set(flags)) == len(flags)
    assert sorted(p[4] for p in world["pickups"] if p[4] >= 0) == [0, 1]
    for ch, cell in world["by_char"].items():  # every pick-up can be reached from the start
        assert layout.plan_path(world["start"], cell) is not None, ch
    assert layout.plan_path(world["start"], (0, 0, 0)) is None  # a wall
    with pytest.raises(ValueError, match="16 rows"):
        layout.tile_bytes(("." * 16,) * 15)
    with pytest.raises(ValueError, match="16 characters"):
        layout.tile_bytes(("." * 16,) * 15 + ("." * 15,))


def test_an_item_letter_past_p_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Items a-z were accepted, but flag 16 on is the goals': an item q set goal A's flag (the room
    # builder then hides goal A as collected, its badge out of reach).
    monkeypatch.setattr(layout, "ROOMS", (("#@pq#",),))
    with pytest.raises(ValueError, match="unknown cell 'q'"):
        layout.parse_rooms()


@pytest.mark.parametrize("blocker", [" ", ",", "a"])
def test_a_path_goes_round_void_tall_grass_and_pick_ups(monkeypatch: pytest.MonkeyPatch,
                                                         blocker: str) -> None:
    # One cell of each kind between the start and a floor cell: the walk goes round it, in order.
    monkeypatch.setattr(layout, "ROOMS", (("######", f"#.@{blocker}.#", "#....#", "######"),))
    world = layout.parse_rooms()
    assert world["start"] == world["by_char"]["@"] == (0, 2, 1)
    assert layout.plan_path((0, 2, 1), (0, 4, 1)) == ["down", "right", "right", "up"]
    assert layout.plan_path((0, 2, 1), (0, 3, 1)) == ["right"]  # the cell itself may be the goal


@pytest.mark.parametrize(("room", "error"), [
    (("#@#",) + ("###",) * 11, "room 0 is larger than 11x11"),
    (("#@" + "#" * 10,), "room 0 is larger than 11x11"),
    (("#@I#",), "unknown cell 'I'"),  # goals are A-H: one bit each of the badge byte
    (("#@aa#",), "cell 'a' appears twice"),
    (("#@1#",), "door '1' must appear in exactly two places, found 1"),
    (("#1@11#",), "door '1' must appear in exactly two places, found 3"),  # not "too many values to unpack"
    (("#.#",), "no start cell '@'"),
])
def test_a_layout_that_breaks_the_legend_is_refused(monkeypatch: pytest.MonkeyPatch, room, error) -> None:
    monkeypatch.setattr(layout, "ROOMS", (room,))
    with pytest.raises(ValueError, match=re.escape(error)):
        layout.parse_rooms()


def test_import_without_pyboy() -> None:
    code = ("import sys; sys.modules['pyboy'] = None\n"
            "import envs.gameboy, envs.gameboy.pokemon, envs.gameboy.generic, envs.gameboy.scripting\n"
            "try:\n    envs.gameboy.pokemon.PokemonRed(rom=envs.gameboy.roms.TEST_CARTRIDGE)\n"
            "except ImportError as e:\n"
            "    print('lazy:', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "lazy: the Game Boy games need PyBoy" in proc.stdout


def test_rom_check_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gb"
    with pytest.raises(RomNotFoundError) as err:
        check_rom(missing)
    text = str(err.value)
    assert text.startswith(f"pokemon_red: no ROM file at {missing}") and "roms/README.md" in text
    assert all(sha in text for sha in POKEMON_RED_ROMS)
    assert "allow-unknown-rom" not in text  # no file, no hash: the flag could not help (README says so)
    assert isinstance(err.value, FileNotFoundError)


def test_a_relative_missing_rom_is_also_named_by_its_absolute_path(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RomNotFoundError) as err:
        check_rom("roms/red.gb")
    absolute = tmp_path.resolve() / "roms" / "red.gb"
    assert f"no ROM file at roms/red.gb (absolute: {absolute})." in str(err.value)


def test_prompts_name_the_game_a_rom_shows_and_guess_no_title_for_an_unknown_one() -> None:
    from envs.gameboy.roms import pokemon_title

    red, blue = POKEMON_RED_ROMS
    assert (pokemon_title(red), pokemon_title(blue)) == ("Pokémon Red", "Pokémon Blue")
    assert pokemon_title(file_sha1(TEST_CARTRIDGE)).startswith("depthfirst's Game Boy test cartridge")
    for unknown in ("ab" * 20, None):  # --allow-unknown-rom: a hack or another revision
        assert pokemon_title(unknown) == "a Game Boy game in Pokémon Red's memory layout"


def test_rom_check_unknown_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import envs.gameboy.roms

    monkeypatch.setattr(envs.gameboy.roms, "_WARNED", set())  # another test may have warned about it
    rom = tmp_path / "hack.gb"
    hack = bytearray(TEST_CARTRIDGE.read_bytes())
    hack[0x5000] ^= 0xFF  # a ROM PyBoy runs, outside the header: another revision or a hack
    rom.write_bytes(bytes(hack))
    found = file_sha1(rom)
    with pytest.raises(RomError) as err:
        check_rom(rom)
    text = str(err.value)
    for needle in (str(rom), found, "ea9bcae617fdf159b045185467ae58b2e4a48b9a", "roms/README.md",
                   "--allow-unknown-rom", "for a run's --resume, evaluate, export or compare",
                   "env_kwargs.allow_unknown_rom: true in its config.yaml"):
        assert needle in text
    with pytest.warns(UserWarning, match=found):
        assert check_rom(rom, allow_unknown=True) == found
    with warnings.catch_warnings():  # once per process: training builds the game several times
        warnings.simplefilter("error")
        assert check_rom(rom, allow_unknown=True) == found
    # the env constructor checks before any emulator exists
    from envs.gameboy.pokemon import PokemonRed

    with pytest.raises(RomError, match="unknown ROM"):
        PokemonRed(rom=rom)


def test_an_unknown_rom_of_another_game_is_named_by_its_title(tmp_path: Path) -> None:
    # Tetris given as --rom for pokemon_red read as "another revision or a hack" and was offered
    # --allow-unknown-rom, which trains on it with Pokémon's RAM rewards: its title says what it is.
    other = bytearray(TEST_CARTRIDGE.read_bytes())
    other[0x134:0x144] = b"TETRIS".ljust(16, b"\0")
    other[0x14D] = 0
    for byte in other[0x134:0x14D]:
        other[0x14D] = (other[0x14D] - byte - 1) & 0xFF
    rom = tmp_path / "pokemon_red.gb"
    rom.write_bytes(bytes(other))
    with pytest.raises(RomError, match=r"unknown ROM") as err:
        check_rom(rom)
    assert "Its cartridge title is 'TETRIS', not Pokémon Red's 'POKEMON RED'" in str(err.value)
    hack = bytearray(TEST_CARTRIDGE.read_bytes())
    hack[0x5000] ^= 0xFF  # the test cartridge's own title: no such line for a revision of a known game
    rom.write_bytes(bytes(hack))
    with pytest.raises(RomError) as err:
        check_rom(rom)
    assert "cartridge title" not in str(err.value)


def _titled(title: bytes) -> bytes:
    """The test cartridge with the header's title bytes 0x134-0x143 set to ``title`` (padded with NULs),
    its header checksum made right again."""
    rom = bytearray(TEST_CARTRIDGE.read_bytes())
    rom[0x134:0x144] = title.ljust(16, b"\0")
    rom[0x14D] = -sum(b + 1 for b in rom[0x134:0x14D]) & 0xFF
    return bytes(rom)


def test_an_unknown_rom_titled_as_pokemon_blue_or_with_a_cgb_flag_is_named_by_its_title(tmp_path: Path
                                                                                      ) -> None:
    # Blue shares Red's RAM map: a Blue revision is a revision, not "another game". The title ends at its
    # first NUL: a colour cartridge keeps its CGB flag in the title's last byte (0x143).
    rom = tmp_path / "pokemon_red.gb"
    rom.write_bytes(_titled(b"POKEMON BLUE"))
    with pytest.raises(RomError, match="unknown ROM") as err:
        check_rom(rom)
    assert "cartridge title" not in str(err.value)
    rom.write_bytes(_titled(b"TETRIS DX".ljust(15, b"\0") + b"\x80"))
    with pytest.raises(RomError, match="unknown ROM") as err:
        check_rom(rom)
    assert "Its cartridge title is 'TETRIS DX', not Pokémon Red's" in str(err.value)


def test_a_rom_of_any_whole_number_of_16_kib_banks_passes_the_size_check() -> None:
    rom = TEST_CARTRIDGE.read_bytes()  # two banks
    assert not_a_rom(rom + bytes(0x4000)) is None  # three
    assert not_a_rom(rom + bytes(1)) == f"{len(rom) + 1:,} bytes, not a whole number of 16 KiB banks"


def test_a_rom_cut_short_at_a_bank_boundary_is_refused_as_no_rom(tmp_path: Path) -> None:
    # A copy cut at a 16 KiB boundary (a 64 KiB block, say) kept its header, so it was taken for an
    # unknown revision and --allow-unknown-rom was suggested: PyBoy then runs it, wrapping the missing
    # banks onto those there, and the game plays garbage.
    rom = TEST_CARTRIDGE.read_bytes()  # its header gives 32 KiB (byte 0x148 = 0)
    assert not_a_rom(rom[:0x4000]) == "cut short: its header gives 32 KiB, the file holds 16 KiB"
    cut = tmp_path / "cut.gb"
    cut.write_bytes(rom[:0x4000])
    for allow in (False, True):
        with pytest.raises(RomError, match=r"cut\.gb is not a Game Boy ROM: cut short") as err:
            check_rom(cut, allow_unknown=allow)
        assert "allow-unknown-rom" not in str(err.value)
    odd = bytearray(rom)
    odd[0x148], odd[0x14D] = 0x52, (odd[0x14D] - 0x52) & 0xFF  # a size code outside 0-8: not judged
    assert not_a_rom(bytes(odd)) is None


def test_the_largest_size_code_8_is_judged_too() -> None:
    # Code 8 (8 MiB, the largest) is the last one not_a_rom knows: a 32 KiB file whose header gives it is
    # cut short, not a size code left unjudged as 0x52 is.
    rom = bytearray(TEST_CARTRIDGE.read_bytes())
    rom[0x148], rom[0x14D] = 8, (rom[0x14D] - 8) & 0xFF  # the header checksum follows the size byte
    assert not_a_rom(bytes(rom)) == "cut short: its header gives 8,192 KiB, the file holds 32 KiB"


def test_rom_check_names_a_folder_or_a_file_that_is_no_rom(tmp_path: Path) -> None:
    folder = tmp_path / "roms"
    folder.mkdir()
    with pytest.raises(RomError, match="is a folder; give the ROM file itself"):
        check_rom(folder)
    cut = TEST_CARTRIDGE.read_bytes()[:20000]
    header = bytearray(TEST_CARTRIDGE.read_bytes())
    header[0x134] ^= 0xFF  # the title: the header checksum no longer matches
    cases = (("empty.gb", b"", "the file is empty"), ("note.gb", b"hello\n", "6 bytes"),
             ("cut.gb", cut, "20,000 bytes"), ("header.gb", bytes(header), "its cartridge header checksum"),
             ("banks.gb", TEST_CARTRIDGE.read_bytes()[:0x6000], "24,576 bytes, not a whole number of 16 KiB"))
    for name, data, why in cases:
        rom = tmp_path / name
        rom.write_bytes(data)
        for allow in (False, True):  # --allow-unknown-rom cannot make it run, so it is not suggested
            with pytest.raises(RomError) as err:
                check_rom(rom, allow_unknown=allow)
            text = str(err.value)
            assert f"{rom} is not a Game Boy ROM: {why}" in text and file_sha1(rom) in text
            assert "allow-unknown-rom" not in text


def test_a_rom_still_in_its_archive_is_told_to_be_extracted(tmp_path: Path) -> None:
    # ROMs are shared zipped (or 7z, gzip, RAR): the archive given as --rom was "not a whole number of 16 KiB
    # banks" with "Copy your dump again (a failed copy or download?)", which another copy cannot help.
    rom = TEST_CARTRIDGE.read_bytes()
    packed = tmp_path / "pokemon_red.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("pokemon_red.gb", rom)
    sevenzip = b"7z\xbc\xaf\x27\x1c" + bytes(0x8000 - 6)  # a whole number of banks: the magic tells it
    cases = ((packed, "zip"), (tmp_path / "rom.gb.gz", "gzip"), (tmp_path / "rom.7z", "7z"),
             (tmp_path / "rom.rar", "RAR"))
    cases[1][0].write_bytes(gzip.compress(rom))
    cases[2][0].write_bytes(sevenzip)
    cases[3][0].write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(100))
    for path, kind in cases:
        why = f"a {kind} archive, not the ROM in it: extract the .gb file from it and give that"
        assert not_a_rom(path.read_bytes()) == why
        with pytest.raises(RomError) as err:
            check_rom(path)
        text = str(err.value)
        assert f"{path} is not a Game Boy ROM: {why}" in text
        assert "Copy your dump again" not in text and "roms/README.md" in text
    assert not_a_rom(rom) is None  # a ROM's own bytes are never taken for an archive's
    # Nor where they start as an archive does (bank 0 opens with RST code, any bytes): the ROM checks judge.
    for magic in (b"PK\x03\x04", b"\x1f\x8b", b"Rar!\x1a\x07"):
        assert not_a_rom(magic + rom[len(magic):]) is None, magic
    # An empty zip is its end record alone: a zip too.
    assert not_a_rom(b"PK\x05\x06" + bytes(18)) == (
        "a zip archive, not the ROM in it: extract the .gb file from it and give that")


def test_a_rom_that_is_a_device_is_named_as_one_with_where_roms_go() -> None:
    # As a folder's refusal: the pointer to the README that says where a ROM file goes.
    with pytest.raises(RomError) as err:
        check_rom("/dev/null")
    assert str(err.value) == ("pokemon_red: /dev/null is a character device, not a file.\n"
                              "  Where ROMs go: roms/README.md")


def test_test_cartridge_is_a_supported_pokemon_rom() -> None:
    assert check_rom(TEST_CARTRIDGE) == file_sha1(TEST_CARTRIDGE)


def test_roms_readme_lists_the_hashes() -> None:
    readme = (REPO / "roms" / "README.md").read_text()
    assert all(sha in readme for sha in POKEMON_RED_ROMS)


def test_bit_count() -> None:
    mem = bytearray(0x10000)
    mem[0xD747] = 0b1011
    mem[0xD886] = 0x80
    mem[0xD748] = 0b110
    mem[0xD887] = 0xFF  # wGrassRate: just past the flags
    assert ram.bit_count(mem, 0xD747, 320) == 6
    assert ram.bit_count(mem, 0xD747) == 3  # one byte by default (badges)
    mem[0xD356] = 0xFF  # all eight badges
    assert ram.bit_count(mem, 0xD356) == 8


def test_downsampler() -> None:
    gray = np.zeros((144, 160, 4), np.uint8)
    gray[:, :, :3] = 200
    gray[::2, ::2, :3] = 0  # one dark pixel in each 2x2 block
    half = Downsampler(72, 80)(gray)
    assert half.shape == (72, 80) and half.dtype == np.uint8 and np.all(half == 150)
    odd = Downsampler(84, 84)(gray)
    assert odd.shape == (84, 84) and set(np.unique(odd)) <= {0, 200}


@pytest.mark.parametrize(("size", "order"), [((72, 80), "RGBA"), ((48, 40), "BGRA"), ((144, 160), "RGBA")])
def test_compiled_block_mean_matches_a_plain_reference(size, order) -> None:
    screen = np.random.default_rng(1).integers(0, 256, (144, 160, 4), dtype=np.uint8)
    h, w = size
    fy, fx = 144 // h, 160 // w
    blocks = screen.astype(np.int64).reshape(h, fy, w, fx, 4).sum(axis=(1, 3))
    r, g, b = (blocks[:, :, order.index(c)] for c in "RGB")
    n = fy * fx
    expected = (77 * r + 150 * g + 29 * b + n * 128) // (n * 256)
    assert np.array_equal(Downsampler(h, w, order)(screen), expected.astype(np.uint8))


def test_a_block_kernel_compiled_in_one_process_is_loaded_from_numba_s_disk_cache_in_the_next(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each Game Boy worker (and each process making a game) compiled its kernel again, ~1 s (1.5-3 s on a
    # loaded box). A new dispatcher stands for a new process: the second of each loads the first's code,
    # keyed by its captured sizes and shifts (two configurations share one cache index).
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    words = Downsampler.words(np.random.default_rng(3).integers(0, 256, (144, 160, 4), dtype=np.uint8))
    configs = [((2, 2), (0, 8, 16)), ((3, 4), (16, 8, 0))]
    outs: dict[tuple[int, int], list[np.ndarray]] = {}
    for process in range(2):
        for (fy, fx), shifts in configs:
            kernel = imaging._block_kernel.__wrapped__(fy, fx, *shifts)  # not the one this process holds
            out = np.empty((144 // fy, 160 // fx), np.uint8)
            kernel(words, out)
            assert sum(kernel.stats.cache_hits.values()) == process, (fy, fx)
            outs.setdefault((fy, fx), []).append(out)
    for compiled, loaded in outs.values():
        assert np.array_equal(compiled, loaded)


@pytest.mark.parametrize(("size", "order"), [((84, 84), "RGBA"), ((72, 84), "BGRA"), ((100, 160), "RGBA")])
def test_other_sizes_pick_the_nearest_pixel_with_rounded_luma(size, order) -> None:
    # Sizes that do not divide the screen both ways (72x84: only the height does) take the nearest pixel:
    # rows and columns spread over the whole screen, the channels read in the emulator's order.
    screen = np.random.default_rng(2).integers(0, 256, (144, 160, 4), dtype=np.uint8)
    h, w = size
    picked = screen.astype(np.int64)[(np.arange(h) * 144) // h][:, (np.arange(w) * 160) // w]
    r, g, b = (picked[:, :, order.index(c)] for c in "RGB")
    expected = ((77 * r + 150 * g + 29 * b + 128) >> 8).astype(np.uint8)
    out = np.zeros((h, w), np.uint8)
    assert Downsampler(h, w, order)(screen, out) is out  # written into the caller's buffer
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("size", [(72, 80), (84, 84)])
def test_a_screen_given_as_its_words_reads_as_the_screen(size) -> None:
    # The emulator wrapper passes the word view it made once (``words``), not the (144, 160, 4) screen.
    screen = np.random.default_rng(4).integers(0, 256, (144, 160, 4), dtype=np.uint8)
    down = Downsampler(*size)
    assert np.array_equal(down(Downsampler.words(screen)), down(screen))


@pytest.mark.parametrize("size", [(72, 80), (84, 84)])
def test_a_big_endian_word_holds_the_first_byte_highest(size, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a big-endian machine the word view puts a pixel's byte 0 in the top 8 bits: the shifts follow.
    screen = np.random.default_rng(5).integers(0, 256, (144, 160, 4), dtype=np.uint8)
    expected = Downsampler(*size, "BGRA")(screen)
    monkeypatch.setattr(sys, "byteorder", "big")
    big_words = np.ascontiguousarray(screen).view(">u4").reshape(144, 160).astype(np.uint32)
    assert np.array_equal(Downsampler(*size, "BGRA")(big_words), expected)


@pytest.mark.parametrize(("h", "w", "order"), [(0, 80, "RGBA"), (72, 0, "RGBA"), (145, 80, "RGBA"),
                                               (72, 161, "RGBA"), (72, 80, "RGB")])
def test_a_size_off_the_screen_or_a_3_byte_pixel_is_refused(h, w, order) -> None:
    with pytest.raises(ValueError, match=r"observation size|4 bytes a pixel"):
        Downsampler(h, w, order)


@pytest.mark.parametrize("size", [(72, 80), (84, 84)])
@pytest.mark.parametrize(("shape", "dtype"), [((288, 320, 4), "uint8"), ((144, 160, 3), "uint8"),
                                              ((144, 160, 4), "float32")])
def test_a_screen_of_another_size_is_refused(size, shape, dtype) -> None:
    # A (288, 320) screen was read as its top-left 144x160 corner without a word (a smaller one read
    # past its end in the compiled kernel, or was NumPy's IndexError). Another pixel size or dtype is
    # refused by the same message, not NumPy's about views and reshapes.
    got = re.escape(f"got {dtype} {shape}")
    with pytest.raises(ValueError, match=rf"expected a \(144, 160, 4\) uint8 screen, {got}"):
        Downsampler(*size)(np.zeros(shape, dtype))


def test_parse_inputs() -> None:
    steps = parse_inputs("boot 100\n# comment\nRight\nA 3  # trailing\n\nwait 5\n")
    assert steps == [Input(None, 100), Input("right", 8), Input(None, 1), Input("a", 3), Input(None, 1),
                     Input(None, 5)]
    for bad, match in (("jump", "unknown command"), ("wait", "needs a frame count"), ("a x", "whole number"),
                       ("a 0", ">= 1"), ("a 1 2", "expected")):
        with pytest.raises(ValueError, match=match):
            parse_inputs(bad)


def test_run_inputs_holds_each_button_its_frames_in_chunks_and_renders_the_last_frame() -> None:
    class Recorder:  # PyBoy's calls that run_inputs makes
        def __init__(self) -> None:
            self.calls: list[tuple] = []

        def button_press(self, button: str) -> None:
            self.calls.append(("press", button))

        def button_release(self, button: str) -> None:
            self.calls.append(("release", button))

        def tick(self, count: int, render: bool) -> bool:
            self.calls.append(("tick", count, render))
            return True

    pb, stops = Recorder(), []
    frames = run_inputs(pb, [Input("a", 3), Input(None, 1), Input(None, 2 * CHECK_FRAMES + 5)],
                        stop=lambda: stops.append(1) and False)
    assert pb.calls == [("press", "a"), ("tick", 3, False), ("release", "a"), ("tick", 1, False),
                        ("tick", CHECK_FRAMES, False), ("tick", CHECK_FRAMES, False), ("tick", 5, False),
                        ("tick", 1, True)]  # the state's screen is drawn
    assert frames == 3 + 1 + 2 * CHECK_FRAMES + 5 + 1 and len(stops) == 5  # a stop is looked for each chunk


def test_release_buttons_releases_all_eight_then_runs_a_frame() -> None:
    # A session ended holding A or Start saved it held (PyBoy's state keeps the joypad), not only arrows.
    calls: list[tuple] = []
    pb = type("Recorder", (), {"button_release": lambda self, b: calls.append(("release", b)),
                               "tick": lambda self: calls.append(("tick",))})()
    release_buttons(pb)
    assert calls == [*(("release", b) for b in SCRIPT_BUTTONS), ("tick",)]
    assert set(SCRIPT_BUTTONS) == {"up", "down", "left", "right", "a", "b", "start", "select"}


def test_frame_counts_are_read_as_the_scripts_number_flags_read_them() -> None:
    # int() took 1_000 but refused 1e3 and 10.0, which every whole-number flag (--max-frames) takes.
    from agents.cli import nonneg_int

    assert [nonneg_int(t) for t in ("1e3", "8.0", "1_000")] == [1000, 8, 1000]
    assert parse_inputs("wait 1e3\nright 8.0\nwait 1_000") == [Input(None, 1000), Input("right", 8),
                                                               Input(None, 1), Input(None, 1000)]
    for bad in ("a 1.5", "wait nan", "wait 1e400", "wait 0x10"):
        with pytest.raises(ValueError, match="is not a whole number of frames"):
            parse_inputs(bad)


@pytest.mark.parametrize("zeros", [309, 400])  # 10**309: just past float's range, below 10**400
def test_a_frame_count_past_a_float_is_refused_as_too_long(zeros: int) -> None:
    # 400 typed digits make an exact int that the hours in the message overflowed (OverflowError, which
    # make_state.py does not catch: a traceback); 1e400 is inf, refused as no whole number above.
    count = "1" + "0" * zeros
    with pytest.raises(ValueError, match=r"f\.txt:1: .*one command takes at most 216,000 frames"):
        parse_inputs(f"wait {count}", "f.txt")


def test_a_frame_count_of_exactly_an_hour_is_taken_and_one_more_is_refused() -> None:
    # README: FRAMES and N run 1 to 216,000 (an hour of game time); the refusal's boundary is inclusive.
    assert parse_inputs("wait 216000\na 216000") == [Input(None, 216_000), Input("a", 216_000),
                                                       Input(None, 1)]
    for line in ("wait 216001", "a 216001"):
        with pytest.raises(ValueError, match=r"216,001 frames is 1\.0 hours .*at most 216,000 frames"):
            parse_inputs(line)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   # another\n", "\r\n"])
def test_inputs_without_a_command_are_refused(text: str) -> None:
    # an empty or unsaved file would otherwise save the boot screen as a start state
    with pytest.raises(ValueError, match=r"intro\.txt has no commands"):
        parse_inputs(text, "intro.txt")
