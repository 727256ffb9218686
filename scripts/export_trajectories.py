#!/usr/bin/env python
"""Export a trained specialist's play as VLM training data: trajectory store, verifiable task records,
trainer formats (LLaMA-Factory, TRL/datasets, EasyR1, verl, OpenRLHF/ViGaL, ms-swift) and a dataset card.

    python scripts/export_trajectories.py runs/snake/<run> --episodes 500 --out datasets/snake --formats all
    python scripts/export_trajectories.py runs/snake/<run> --out datasets/snake --workers 2 --min-score 20 \\
        --minari --mix perception=0.3,strategy=0.4,state_prediction=0.2,vision_zero=0.1
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse
import sys

from agents.cli import (
    EPISODE_STEP_CAP,
    check_episode_seeds,
    finite_float,
    max_steps_arg,
    nonneg_int,
    path_arg,
    positive_int,
    positive_int_up_to,
    print_json,
    rerun_command,
    run_script,
    script_parser,
)
from agents.config import DEVICES, device_name


def parser() -> argparse.ArgumentParser:
    from vlm.export import MAX_SCALE, ExportOptions
    from vlm.formats import FORMATS
    from vlm.splits import DEFAULT_SPLIT

    # ExportOptions' defaults are the flags' own: one place states them, for the script and for callers.
    d = ExportOptions(run="", out="")
    p = script_parser(__doc__)
    p.add_argument("run_dir", type=path_arg, help="a run folder written by scripts/train_ppo.py")
    p.add_argument("--out", type=path_arg, required=True,
                   help="output folder (must be new or empty, or use --overwrite)")
    p.add_argument("--episodes", type=positive_int, default=d.episodes,
                   help="episodes to play (default %(default)s)")
    p.add_argument("--formats", default=d.formats,
                   help=f"comma list of trainer formats, 'all' or 'none' (default %(default)s); known: "
                        f"{', '.join(FORMATS)}")
    p.add_argument("--workers", type=positive_int, default=d.workers,
                   help="processes playing episodes and writing images in parallel (default %(default)s)")
    p.add_argument("--min-score", type=finite_float, help="keep only episodes scoring at least this")
    p.add_argument("--minari", action="store_true",
                   help='also write a Minari dataset (needs the vlm extra: pip install -e ".[vlm]")')
    p.add_argument("--seed", type=nonneg_int, default=d.seed,
                   help="episode k is seeded seed+k, below 2**64; also seeds tasks and splits "
                   "(default %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export in --out")
    p.add_argument("--checkpoint", type=path_arg,
                   help="model file (default: the run's model.zip or newest checkpoint)")
    p.add_argument("--tasks-per-state", type=nonneg_int, default=d.tasks_per_state,
                   help="task records drawn per game state (default %(default)s; 0: trajectories only); a "
                   "game draws at most one per task family, 4 (Pokemon Red 2), and a larger N gets those")
    p.add_argument("--mix", help="curriculum family ratios, e.g. perception=0.3,strategy=0.4,"
                   "state_prediction=0.2,vision_zero=0.1 (default: as drawn)")
    p.add_argument("--split", help=f"train,val,test fractions of episodes (default {DEFAULT_SPLIT})")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the argmax")
    # Frames are scale × cells pixels a side: 100000 would not fit in memory.
    p.add_argument("--scale", type=positive_int_up_to(MAX_SCALE, "pixels per cell"), default=d.scale,
                   help=f"pixels per board cell of the trajectory frames (default %(default)s, at most "
                   f"{MAX_SCALE}; a Game Boy screen is magnified N // 8 times, at least once; a rotation "
                   "view is 8·N pixels a side)")
    p.add_argument("--relative-paths", action="store_true",
                   help="write image paths relative to the dataset (default: absolute, as trainers prefer)")
    p.add_argument("--max-steps", type=max_steps_arg, default=d.max_steps,
                   help=f"cut every episode after this many moves (default: the game's own limits, at most "
                   f"{EPISODE_STEP_CAP:,})")
    p.add_argument("--device", type=device_name, default=d.device,
                   help=f"torch device for the policy: {DEVICES} (default %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check_episode_seeds(p, args.seed, args.episodes)
    # Recorded as run, with the folder it ran in: run configs name files relative to it (a Game Boy run's
    # roms/<game>.gb, a state file), so making only the run and --out absolute would not re-run elsewhere.
    command = rerun_command(__file__, argv)
    from agents.interrupts import stop_signals_interrupt
    from vlm.export import ExportError, ExportOptions, export
    from vlm.tasks import plural

    opts = ExportOptions(
        run=args.run_dir, out=args.out, episodes=args.episodes, formats=args.formats, workers=args.workers,
        min_score=args.min_score, minari=args.minari, seed=args.seed, overwrite=args.overwrite,
        checkpoint=args.checkpoint, tasks_per_state=args.tasks_per_state, mix=args.mix, split=args.split,
        stochastic=args.stochastic, scale=args.scale, relative_paths=args.relative_paths,
        max_steps=args.max_steps, device=args.device, progress=not args.no_progress,  # bars go to stderr
        command=command)
    try:
        with stop_signals_interrupt():  # Ctrl-C and SIGTERM: the half-written export is removed
            summary = export(opts)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: nothing written ({args.out} is as it was)", file=sys.stderr)
        return 130
    if args.json:
        print_json(summary)
    else:
        recs = summary["records"]
        images = plural(summary["images"], "image")
        made = (f"{plural(sum(recs.values()), 'record')} (train {recs['train']:,}, val {recs['val']:,}, "
                f"test {recs['test']:,}), {images}, formats: {', '.join(summary['formats']) or 'none'}"
                if any(recs.values()) else
                f"{images}, trajectories only (no task records, so no trainer formats)")
        sampled = ", sampled actions" if args.stochastic else ""  # the greedy line's, word for word, before
        played = plural(summary["episodes_played"], "episode")  # "1/1 episode", "1/2 episodes"
        print(f"{summary['out']}: {summary['episodes_kept']:,}/{played} of "
              f"{summary['checkpoint']} (step {summary['step']:,}{sampled}), "
              f"{plural(summary['steps'], 'step')}, {made}"
              + (f", Minari {summary['minari']}" if summary["minari"] else "")
              + f" in {summary['seconds']['total']:.1f} s")
    from vlm.splits import DEFAULT_SPLIT, parse_ratios

    ratios = dict(zip(summary["records"], parse_ratios(args.split or DEFAULT_SPLIT), strict=True))
    note = empty_split_note(summary["records"], summary["dropped"], ratios, args.stochastic)
    if note:
        print(note, file=sys.stderr)
    return 0


def empty_split_note(records: dict[str, int], dropped: dict[str, int],
                     ratios: dict[str, float] | None = None, stochastic: bool = False) -> str | None:
    """Why a split came out empty, and what to change: too few episodes, or every record repeated a
    state of an earlier split (identical episodes: greedy play from one start, as a Game Boy start
    state gives), which more episodes of the same play cannot fix. A split whose ``--split`` ratio is 0
    was asked to be empty and is not named. ``stochastic``: the export already sampled its actions, so
    --stochastic is no advice (short sampled episodes from one start state repeat too)."""
    empty = [s for s, n in records.items() if not n and (ratios is None or ratios.get(s, 1) > 0)]
    if not empty or not any(records.values()):
        return None
    repeats = [s for s in empty if dropped.get(s)]
    if not repeats:
        return (f"note: no records in {' and '.join(empty)}: splits take whole episodes, so play more "
                "--episodes (or set --split)")
    n = sum(dropped[s] for s in repeats)
    return (f"note: no records in {' and '.join(empty)}: "
            + (f"{' and '.join(repeats)} got episodes, but all {n:,} of their records repeated states of "
               "an earlier split and were dropped (the episodes play alike): "
               + ("play from varied start states, or longer episodes if --max-steps cut them short"
                  if stochastic else "play with --stochastic or from varied start states"))
            + ("" if repeats == empty else "; the rest need more --episodes (or set --split)"))


if __name__ == "__main__":
    run_script(main)
