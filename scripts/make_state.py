"""Replay a scripted button sequence on a Game Boy ROM, headless, and save the emulator state.

    python scripts/make_state.py --rom roms/pokemon_red.gb --inputs intro.txt \\
        --out roms/pokemon_red_start.state

The inputs format (one ``BUTTON [frames]`` per line, ``wait N``, ``#`` comments) is documented in
envs/gameboy/scripting.py. The ROM's SHA-1 and title are recorded beside the state (``OUT.json``), so
the state is refused on another ROM rather than played there. A state made from a commercial ROM is as
private as the ROM: never commit or share it (roms/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
from agents.cli import out_file_arg, path_arg, run_script, script_parser
from agents.interrupts import stop_requested
from envs.gameboy.roms import RomError, state_record
from envs.gameboy.scripting import make_state


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--rom", type=path_arg, required=True, help="the Game Boy ROM (.gb)")
    parser.add_argument("--inputs", type=path_arg, required=True, help="the button script (see above)")
    parser.add_argument("--out", type=out_file_arg, required=True, help="where to write the state")
    parser.add_argument("--state", type=path_arg, default=None,
                        help="start from this state instead of booting (none: boot, the default)")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    args = parser.parse_args(argv)
    try:
        # PyBoy swallows a KeyboardInterrupt raised inside its tick: Ctrl-C only sets a flag, polled.
        with stop_requested() as stop:
            summary = make_state(args.rom, args.inputs, args.out, force=args.force, state=args.state,
                                 stop=stop, started=lambda: print(
                                     f"playing {args.inputs} on {args.rom} (Ctrl-C stops it, nothing "
                                     "written)", file=sys.stderr))
    except (OSError, ValueError, RomError) as exc:  # the files' errors name the flag and the file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {args.out} not written", file=sys.stderr)
        return 130
    print(f"wrote {summary['out']} ({summary['bytes']} bytes) after {summary['frames']} frames; "
          f"ROM SHA-1 {summary['rom_sha1']}, recorded in {state_record(Path(args.out))}")
    return 0


if __name__ == "__main__":
    run_script(main)
