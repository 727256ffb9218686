#!/usr/bin/env python
"""Draw a run's learning curve (a TensorBoard scalar vs env steps and wall clock) as a PNG
(or any image format matplotlib writes, chosen by --out's suffix: .svg, .pdf, ...).

    python scripts/plot_curve.py runs/snake/<run> --out docs/snake_curve.png
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import os
import sys
from pathlib import Path

from agents.cli import finite_float, out_file_arg, path_arg, run_script, script_parser


def main(argv: list[str] | None = None) -> int:
    p = script_parser(__doc__)
    p.add_argument("run_dir", type=path_arg, help="a run folder written by scripts/train_ppo.py")
    p.add_argument("--out", type=out_file_arg, required=True,
                   help="image file to write: .png, or another suffix matplotlib writes (.svg, .pdf, ...); "
                        "a name without one gets .png")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")
    p.add_argument("--tag", default="rollout/score_mean", help="the scalar to draw (default %(default)s)")
    p.add_argument("--title", help="the figure's title (default: the run folder)")
    p.add_argument("--baseline", type=finite_float,
                   help="a random agent's score: a dashed line labelled 'random agent'")
    args = p.parse_args(argv)
    from agents.curves import FolderError, OutputError, image_formats, plot_curve
    from agents.interrupts import stop_signals_interrupt
    from agents.outputs import check_output_file
    from agents.runs import remove_dead_temps

    out = Path(args.out)
    # splitext, not Path.suffix: "c." has the suffix "." (refused below), not none ("c..png" was written).
    suffix = os.path.splitext(out.name)[1]
    try:
        with stop_signals_interrupt():  # Ctrl-C and SIGTERM: a clean exit; the PNG is written whole or not
            # Before the events are read: matplotlib's own error named no flag.
            formats = image_formats()
            # ".png" (and "..png") has no suffix to splitext: .png.png (and the hidden ..png) was written.
            only_suffix = out.name.lstrip(".")
            if not suffix and only_suffix.lower() in formats:
                raise ValueError(f"--out {out}: name the file before its suffix, e.g. {out.parent / 'curve'}"
                                 f".{only_suffix}")
            if not (suffix or out.is_dir()):
                out, suffix = out.with_suffix(".png"), ".png"  # what is written; the path printed is true
            # Before the file's own checks: an existing model.zip was told to pass --force, then refused. A
            # folder: check_output_file says so (os.path: Path.is_dir raised on a name too long with .png).
            if not os.path.isdir(out) and suffix[1:].lower() not in formats:
                raise ValueError(f"--out {out}: matplotlib writes no {suffix} file; end the name in .png "
                                 f"(or .{', .'.join(sorted(formats - {'png'}))})")
            check_output_file(out, "--out", args.force, make_folders=True)
            remove_dead_temps(out, "plot_curve.py")  # a killed plot's half image
            # last=True: once the PNG is in place a signal is ignored (it said the file was as it was). new:
            # a file another command wrote at --out meanwhile (a plot of another run) is not replaced unasked.
            print(plot_curve(Path(args.run_dir), out, args.tag, args.title, args.baseline, last=True,
                             new=not args.force))
    except FolderError as e:
        print(f"error: --out {out}: {e}", file=sys.stderr)
        return 2
    except OutputError as e:
        print(f"error: --out {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as e:  # OSError: a file of the run that cannot be read
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {out} is as it was", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    run_script(main)
