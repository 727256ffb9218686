#!/usr/bin/env python
"""Evaluate a trained run: scores over N seeded episodes, and an MP4 + GIF of the best episode.

    python scripts/evaluate.py runs/snake/<run> --episodes 100 [--json] [--checkpoint PATH ...]

A VLM (any OpenAI-compatible chat-completions endpoint) plays instead of the run's model with
``--vlm MODEL@URL``: on the run's env and settings, or on ``--env NAME`` without a run folder (files
then go to ``--out``, default runs/<env>/vlm-<model>/).

    python scripts/evaluate.py --env snake --vlm qwen2.5-vl-7b@http://localhost:8000/v1 --episodes 5
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse

from agents.cli import (
    EPISODE_SEED,
    EPISODE_STEP_CAP,
    add_game_arguments,
    game_arg,
    max_steps_arg,
    nonneg_int,
    path_arg,
    positive_int,
    run_script,
    script_parser,
    set_arg,
    vlm_arg,
)
from agents.config import DEVICES, device_name
from agents.evaluate_cli import VIDEO_STEPS, evaluate_command


def parser() -> argparse.ArgumentParser:
    p = script_parser(__doc__)
    p.add_argument("run_dir", type=path_arg, nargs="?", help="a run folder written by scripts/train_ppo.py")
    p.add_argument("--episodes", type=positive_int, default=100, help="episodes to play (default 100)")
    p.add_argument("--checkpoint", type=path_arg, action="extend", nargs="+", metavar="PATH",
                   help="model file (default: the run's model.zip or newest checkpoint); one from outside "
                   "the run, or any with --out, writes eval-step<N>-<name>-<sha1>* files, so it never "
                   "replaces the run's own results. Several (RUN/checkpoints/step_*.zip) are evaluated in "
                   "turn in one process, each writing its own files; with --json, one line each")
    p.add_argument("--seed", type=nonneg_int, default=EPISODE_SEED,
                   help=f"episode k is seeded seed+k, below 2**64 (default {EPISODE_SEED}: away from the "
                   "seeds of a run with --seed 0 unless it played about a million episodes or was resumed "
                   f"near step {EPISODE_SEED}; README, Evaluation)")
    p.add_argument("--device", type=device_name, default="cpu",
                   help=f"torch device for the policy: {DEVICES} (default cpu)")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the argmax")
    p.add_argument("--random", action="store_true",
                   help="a uniformly random agent on the run's game and settings (the baseline)")
    p.add_argument("--no-video", action="store_true", help="no replay of the best episode (MP4 and GIF)")
    p.add_argument("--video-steps", type=positive_int,
                   help=f"the video shows the best episode's last N steps (default {VIDEO_STEPS})")
    p.add_argument("--max-steps", type=max_steps_arg,
                   help="cut every episode after this many moves, as export_trajectories.py and compare.py "
                   f"do (default: the game's own limits, at most {EPISODE_STEP_CAP:,}); the files get a "
                   "-max<N> suffix")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the result lines "
                   "(one a line with several --checkpoint)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--vlm", type=vlm_arg, metavar="MODEL@URL",
                   help="let a VLM play instead of the run's model")
    p.add_argument("--env", type=game_arg, help="the game for --vlm without a run folder")
    p.add_argument("--out", type=path_arg, help="folder for the results instead of the run folder (one you "
                   "cannot write in); for --vlm without a run folder default runs/<env>/vlm-<model>")
    # The game's options for --vlm --env, where no run folder's config.yaml gives them, as train_ppo.py
    # takes them
    add_game_arguments(p, training=False)
    p.add_argument("--set", action="append", default=[], metavar="env_kwargs.KEY=VALUE", type=set_arg,
                   help="any other game option, for --vlm with --env, e.g. --set env_kwargs.max_steps=500")
    from agents.vlm_client import add_client_arguments

    add_client_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    return evaluate_command(p, p.parse_args(argv))


if __name__ == "__main__":
    run_script(main)
