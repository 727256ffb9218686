"""Play a Game Boy ROM in a PyBoy window; the emulator state is saved when the window closes.

    python scripts/play_gameboy.py --rom roms/pokemon_red.gb --save-state roms/pokemon_red_start.state

Keys: arrows, A = a, B = s, Start = Enter, Select = Backspace, Escape quits (and saves; so does Ctrl-C),
with the ROM's SHA-1 and title recorded beside it (``STATE.json``: the state is refused on another ROM).
An existing file is never overwritten without --force (checked before the window opens). Use it to play
past a game's intro and hand the state to an env (``state: ...`` in configs/pokemon_red.yaml). A state
made from a commercial ROM is as private as the ROM: never commit or share it (roms/README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse

from agents.cli import nonneg_int, out_file_arg, path_arg, positive_int_up_to, run_script, script_parser
from agents.interrupts import stop_requested
from envs.gameboy.roms import RomError, state_record
from envs.gameboy.scripting import play

# The window is 160x144 pixels times --scale: 30 fills an 8K screen's 4,320 rows. A larger one is a typo,
# which PyBoy either opened as a window no screen shows or failed on as "no desktop session" (1e12).
MAX_SCALE = 30


def main(argv: list[str] | None = None) -> int:
    parser = script_parser(__doc__)
    parser.add_argument("--rom", type=path_arg, required=True, help="the Game Boy ROM (.gb)")
    parser.add_argument("--save-state", type=out_file_arg, required=True,
                        help="where to save the state on exit")
    parser.add_argument("--state", type=path_arg, default=None,
                        help="start from this state instead of booting (none: boot, the default)")
    parser.add_argument("--force", action="store_true", help="overwrite --save-state if it exists")
    parser.add_argument("--scale", default=3,
                        type=positive_int_up_to(MAX_SCALE, "the window is 160x144 pixels times it"),
                        help=f"window scale (default 3, at most {MAX_SCALE})")
    parser.add_argument("--window", default="SDL2", choices=("SDL2", "OpenGL", "GLFW", "null"),
                        help=argparse.SUPPRESS)  # "null" for tests
    parser.add_argument("--max-frames", type=nonneg_int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        # Ctrl-C ends the session like closing the window (saved); PyBoy would swallow a KeyboardInterrupt.
        with stop_requested() as stop:
            summary = play(args.rom, args.save_state, force=args.force, state=args.state,
                           window=args.window, scale=args.scale, max_frames=args.max_frames, stop=stop,
                           started=lambda: print("playing: close the window, press Escape or Ctrl-C to "
                                                 f"save the state to {args.save_state}", file=sys.stderr))
    except (OSError, ValueError, RomError) as exc:  # the files' errors name the flag and the file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted before play began: {args.save_state} not written", file=sys.stderr)
        return 130
    from vlm.tasks import plural  # here: the window opens without it ("1 frame", "2 frames")

    print(f"saved {summary['out']} after {plural(summary['frames'], 'frame')}; ROM SHA-1 "
          f"{summary['rom_sha1']}, recorded in {state_record(Path(args.save_state))}")
    return 0


if __name__ == "__main__":
    run_script(main)
