#!/usr/bin/env python
"""Train a PPO specialist on a depthfirst game.

    python scripts/train_ppo.py --env snake
    python scripts/train_ppo.py --resume runs/snake/<run>
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse
import sys

from agents.cli import (
    add_game_arguments,
    game_arg,
    nonneg_int,
    path_arg,
    positive_int,
    rerun_command,
    run_folder_arg,
    run_script,
    script_parser,
    set_arg,
    whole_int,
)
from agents.config import DEVICES, any_case, device_name
from agents.interrupts import stop_signals_interrupt
from agents.presets import PRESETS
from agents.train_cli import train_command
from envs import GAMES


def parser() -> argparse.ArgumentParser:
    p = script_parser(__doc__)
    p.add_argument("--env", type=game_arg, help=f"game to train on: {', '.join(sorted(GAMES))}")
    p.add_argument("--config", type=path_arg,
                   help="your YAML, applied over the env's preset configs/<env>.yaml (any part "
                   "of a config; its env: key names the game when --env is left out)")
    p.add_argument("--total-timesteps", type=positive_int,
                   help="env steps for the whole run (default: the env's preset, configs/<env>.yaml)")
    p.add_argument("--num-envs", type=positive_int,
                   help="boards stepped in parallel (default: the env's preset; Snake's by device, "
                   "256 on CUDA and 64 on a CPU)")
    p.add_argument("--num-workers", type=nonneg_int, help="worker processes, at most --num-envs (0: in this "
                   "process; default: 0 for the batched games, one per core for the Game Boy ones)")
    p.add_argument("--policy", type=any_case(PRESETS), choices=sorted(PRESETS),
                   help="network preset (default: by device)")
    p.add_argument("--device", type=device_name,
                   help=f"{DEVICES} (default auto: CUDA when available; mps only when given)")
    p.add_argument("--seed", type=whole_int, help="board k's e-th episode is seeded seed + k + e·num_envs; "
                   "torch and PPO too (0 to 2**32 - 1, default 0)")
    p.add_argument("--run-dir", type=run_folder_arg,
                   help="run folder (default: runs/<env>/<policy>-s<seed>-<time>)")
    p.add_argument("--resume", type=run_folder_arg, metavar="RUN_DIR",
                   help="continue a run from its latest checkpoint")
    p.add_argument("--save-every", type=positive_int,
                   help="env steps between checkpoints (default: a tenth of the run, at most 1M)")
    p.add_argument("--keep-checkpoints", type=nonneg_int, metavar="K",
                   help="keep the newest K checkpoints, deleting older ones (0: keep every one; default 3)")
    p.add_argument("--video-every", type=positive_int,
                   help="env steps between TensorBoard videos (default: a fifth of the run)")
    p.add_argument("--recurrent", action="store_true", default=None, help="RecurrentPPO (CNN + LSTM)")
    p.add_argument("--force", action="store_true", help="replace an existing --run-dir")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", type=set_arg,
                   help="override any config value, e.g. --set ppo.learning_rate=1e-4")
    add_game_arguments(p)  # per-env options, shortcuts for --set env_kwargs.<name>=...
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    command = rerun_command(__file__, argv)
    try:
        with stop_signals_interrupt():  # Ctrl-C and SIGTERM: a clean exit, at any moment
            return train_command(p, args, command)
    except KeyboardInterrupt:  # before training started (once it has, train() saves and returns)
        kept = f"; {args.resume} keeps its model and checkpoints as they were" if args.resume else ""
        print(f"\ninterrupted before training started: nothing saved{kept}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    run_script(main)
