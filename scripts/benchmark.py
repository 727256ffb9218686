#!/usr/bin/env python
"""Speed figures, measured in one run so ratios are fair on a shared machine.

    python scripts/benchmark.py [--json] [--device cuda --policy 10m]
    python scripts/benchmark.py --env gameboy [--json]      # the emulator path, on the test cartridge

env_sps       raw batched Snake core, 10×10, --boards boards, one core
vec_env_sps   the same through the worker VecEnv (W workers), random actions
vec_env_sps_in_process  the same VecEnv with no workers (W=0): the cost of SB3's VecEnv contract alone
              (one info dict per board, the ended ones' terminal observations, the observation copy)
train_sps     this project's default pipeline (PPO + batched env + device buffer), --policy, on the
              CPU default's 64 boards on any device
sb3_train_sps the stock pipeline the speed target is set against (gymnasium Env, make_vec_env with
              SubprocVecEnv, SB3 RolloutBuffer and Adam)
train_speedup train_sps / sb3_train_sps
sb3_dummy_train_sps, train_speedup_dummy   the same with make_vec_env's default DummyVecEnv, the faster
              stock choice for a game this cheap
rollout_s, update_s (sb3_*, sb3_dummy_*)   seconds one PPO iteration of each pipeline spent collecting its
              rollout and updating the network: both pipelines train the same network, so its update
              bounds the speed-up a faster env and buffer can give
mfu, mfu_10m  FLOPs per env step (FlopCounterMode) × training SPS / peak matmul FLOP/s (peak_flops,
              the best of one measurement before and one after the training figures)
games         raw core steps/s of every other built-in game (one core; not an installed package's)

--env gameboy (Pokémon reward and observation code on the project's test cartridge):
pyboy_sps       bare PyBoy: the env's frames per step (24, the last rendered), random buttons, nothing else
env_sps         the full env in one process (button, frames, screen downsampling, RAM rewards, mask)
env_overhead    the env's own time per step over the time it spends in PyBoy (buttons and frames),
                both measured in the same run, after an untimed warm-up second
vec_env_sps_wN  through the worker VecEnv with N workers (--emulators per worker), random actions
memory_per_emulator_mb  resident memory each emulator adds
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse

from agents.benchmark_cli import benchmark_command
from agents.cli import positive_float, positive_int_up_to, run_script, script_parser
from agents.config import DEVICES, any_case, device_name
from agents.machine import usable_cores
from agents.presets import PRESETS


def measure_seconds(text: str) -> float:
    value = positive_float(text)
    if value < 0.1:  # shorter timings are noise, and may not complete a single step (a 0 in a ratio)
        raise argparse.ArgumentTypeError(f"must be >= 0.1, got {text}")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SECONDS} ({STEADY}), got {text}")
    return value


# Upper bounds on the sizes: the figures are rates, which stop changing long before these, and larger
# values only fail on memory (a traceback from NumPy or the shared step buffers, 1e12 boards asking 7 TiB).
MAX_BOARDS = 2**20  # ~1 GB of observations and step buffers for Snake
MAX_EMULATORS = 64  # per worker
MAX_WORKERS = 256
# And on the time: 1e99 seconds a figure, or 1e99 timed rollouts, was a benchmark without end.
MAX_SECONDS = 600
MAX_ROLLOUTS = 1000
BENCHMARK_ENVS = ("snake", "gameboy")  # --env: the batched-core figures, or the emulator path
STEADY = "a rate stops changing long before"


def parser() -> argparse.ArgumentParser:
    p = script_parser(__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--env", type=any_case(BENCHMARK_ENVS), choices=BENCHMARK_ENVS, default="snake",
                   help="snake: the batched-core and training figures; gameboy: the emulator path")
    p.add_argument("--emulators", type=positive_int_up_to(MAX_EMULATORS, "emulators per worker"),
                   help=f"emulators per worker for --env gameboy (default 4, at most {MAX_EMULATORS})")
    p.add_argument("--device", type=device_name,
                   help=f"torch device for the training figures: {DEVICES} (default cpu)")
    p.add_argument("--policy", type=any_case(PRESETS), choices=sorted(PRESETS),
                   help="preset for train_sps/mfu (default: the device's default)")
    p.add_argument("--boards", type=positive_int_up_to(MAX_BOARDS, STEADY),
                   help=f"boards for env_sps and vec_env_sps (default 4096, at most {MAX_BOARDS:,})")
    p.add_argument("--workers", type=positive_int_up_to(MAX_WORKERS, "worker processes"),
                   default=min(usable_cores(), MAX_WORKERS),
                   help=f"workers for vec_env_sps (default: one per core, at most {MAX_WORKERS})")
    p.add_argument("--seconds", type=measure_seconds,  # 3 where not given, told apart for --quick
                   help=f"seconds per raw-speed figure (default 3, at least 0.1, at most {MAX_SECONDS})")
    p.add_argument("--rollouts", type=positive_int_up_to(MAX_ROLLOUTS, STEADY),
                   help=f"timed PPO iterations per training figure, mfu_10m's too (default 2, at most "
                   f"{MAX_ROLLOUTS:,})")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes (replaces --boards and --seconds): checks the plumbing, not the speed")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    return benchmark_command(p, p.parse_args(argv))


if __name__ == "__main__":
    run_script(main)
