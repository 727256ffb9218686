#!/usr/bin/env python
"""Draw a run's learning curve (a TensorBoard scalar vs env steps and wall clock) as a PNG.

    python scripts/plot_curve.py runs/snake/<run> --out docs/snake_curve.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--tag", default="rollout/score_mean")
    p.add_argument("--title")
    p.add_argument("--baseline", type=float, help="a horizontal reference line (e.g. a random agent's score)")
    args = p.parse_args(argv)
    from agents.curves import plot_curve

    out = Path(args.out)
    try:
        if out.is_dir():
            raise ValueError(f"--out {out} is a folder; give a PNG file name")
        print(plot_curve(Path(args.run_dir), out, args.tag, args.title, args.baseline))
    except (ValueError, OSError) as e:  # OSError: the PNG could not be written there
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
