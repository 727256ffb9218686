#!/usr/bin/env python
"""Put several exports (scripts/export_trajectories.py --relative-paths, a game each) together in one new
folder: the task records, images, LLaMA-Factory entries and the EasyR1, verl, OpenRLHF and ms-swift files,
with a card (README.md) naming the settings that fit every game in it.

    python scripts/merge_exports.py datasets/snake datasets/sokoban --out datasets/mixed
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import sys
from pathlib import Path

from agents.cli import path_arg, print_json, run_script, script_parser


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("exports", type=path_arg, nargs="+",
                   help="export folders, each written by export_trajectories.py with --relative-paths")
    p.add_argument("--out", type=path_arg, required=True, help="the new folder to write (must not exist)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = p.parse_args(argv)

    from agents.interrupts import stop_signals_interrupt
    from vlm.merge import MergeError, left_out_warnings, merge, plan
    from vlm.tasks import plural

    try:
        with stop_signals_interrupt():  # Ctrl-C and SIGTERM: the half-built folder is removed
            planned = plan(Path(args.out), [Path(e) for e in args.exports])
            for line in left_out_warnings(planned):
                print(line, file=sys.stderr)
            summary = merge(planned, not args.no_progress)
    except MergeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing written ({args.out} not made)", file=sys.stderr)
        return 130
    if args.json:
        print_json(summary)
        return 0
    recs = summary["records"]
    print(f"{summary['out']}: {plural(sum(recs.values()), 'record')} (train {recs['train']:,}, val "
          f"{recs['val']:,}, test {recs['test']:,}) of {', '.join(dict.fromkeys(summary['games']))}, "
          f"{plural(summary['images'], 'image')}, formats: {', '.join(summary['formats']) or 'none'}")
    print("settings for every game in it (the largest of the exports' cards; paths relative to --out, "
          "run from there; also in its README.md):")
    for line in summary["settings_lines"]:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    run_script(main)
