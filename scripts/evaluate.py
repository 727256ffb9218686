#!/usr/bin/env python
"""Evaluate a trained run: scores over N seeded episodes, and an MP4 + GIF of the best episode.

    python scripts/evaluate.py runs/snake/<run> --episodes 100 [--json] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="a run folder written by scripts/train_ppo.py")
    p.add_argument("--episodes", type=positive_int, default=100)
    p.add_argument("--checkpoint", help="model file (default: the run's model.zip or newest checkpoint)")
    p.add_argument("--seed", type=int, default=1_000_000, help="episode k is seeded seed+k (default "
                   "1000000, away from the training seeds)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the argmax")
    p.add_argument("--no-video", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = p.parse_args(argv)

    from tqdm import tqdm

    from agents.evaluation import replay_frames, run_episodes, summarize, write_video
    from agents.runs import RunError, read_run_config
    from agents.train import load_model

    run = Path(args.run_dir)
    try:
        cfg = read_run_config(run)
        if args.checkpoint:
            ckpt = Path(args.checkpoint)
            if not ckpt.is_file():
                raise RunError(f"--checkpoint {ckpt}: no such file")
        else:
            ckpt = run / "model.zip"
            if not ckpt.is_file():
                from agents.runs import latest_checkpoint

                ckpt = latest_checkpoint(run)
        model = load_model(cfg, ckpt, device=args.device)
    except RunError as e:
        print(f"error: {e.args[0].replace('--resume ', '')}", file=sys.stderr)
        return 2
    with tqdm(total=args.episodes, unit="ep", disable=args.json, dynamic_ncols=True) as bar:
        episodes = run_episodes(model, cfg["env"], cfg["env_kwargs"], args.episodes, seed=args.seed,
                                deterministic=not args.stochastic, progress=bar.update)
    summary = summarize(episodes)
    summary.update(env=cfg["env"], checkpoint=str(ckpt), step=int(model.num_timesteps), seed=args.seed)
    if not args.no_video:
        best = max(episodes, key=lambda e: (e.score, -e.length))
        frames = replay_frames(cfg["env"], cfg["env_kwargs"], best.seed, best.actions)
        stem = run / f"eval-step{model.num_timesteps}-best"
        for suffix in (".mp4", ".gif"):
            write_video(frames, stem.with_suffix(suffix))
        summary.update(video=str(stem.with_suffix(".mp4")), gif=str(stem.with_suffix(".gif")),
                       best_episode_seed=best.seed)
    atomic_json = run / f"eval-step{model.num_timesteps}.json"
    atomic_json.write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{cfg['env']} step {model.num_timesteps:,}, {summary['episodes']} episodes: "
              f"mean score {summary['mean_score']:.2f}, median {summary['median_score']:.1f}, "
              f"max {summary['max_score']:.0f}, mean length {summary['mean_length']:.1f}")
        if "video" in summary:
            print(f"best episode (seed {summary['best_episode_seed']}): {summary['video']}, {summary['gif']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
