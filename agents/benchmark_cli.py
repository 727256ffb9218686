"""What ``scripts/benchmark.py`` runs once its flags are parsed: the Snake figures (the raw core, the worker
VecEnv, training ours against stock SB3, MFU, the other games) or the Game Boy ones (bare PyBoy, the env,
the VecEnv, memory per emulator), printed as a table or one JSON object."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from agents.cli import print_json
from agents.config import check_device

QUICK_BOARDS, QUICK_SECONDS = 256, 0.2  # --quick: Snake's boards, either --env's seconds (plumbing only)


def benchmark_command(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Measure as the parsed flags ``args`` of parser ``p`` say (a flag the chosen --env does not use, or
    more workers than boards, is ``p.error``). Returns the exit status."""
    # Each env's figures read their own flags: one given for the other env would be ignored silently.
    snake_only = ("--device", "--policy", "--boards", "--rollouts")
    ignored = snake_only if args.env == "gameboy" else ("--emulators",)
    given = [flag for flag in ignored if getattr(args, flag[2:]) is not None]
    if given:
        p.error(f"{', '.join(given)}: not used with --env {args.env} (leave "
                f"{'them' if len(given) > 1 else 'it'} out, or choose the other --env)")
    replaced = [flag for flag in ("--boards", "--seconds") if getattr(args, flag[2:]) is not None]
    if args.quick and replaced:  # a measured "--quick --seconds 30" was timed for QUICK_SECONDS
        them = "them" if len(replaced) > 1 else "it"
        p.error(f"{', '.join(replaced)}: --quick replaces {them} with its tiny sizes (drop --quick to "
                f"measure with {them})")
    args.emulators = args.emulators or 4
    args.device = "cpu" if args.device is None else args.device  # an empty --device "" is refused below
    args.boards, args.rollouts = args.boards or 4096, args.rollouts or 2
    args.seconds = args.seconds or 3.0
    if args.quick:
        args.boards, args.seconds = QUICK_BOARDS, QUICK_SECONDS
    try:
        check_device(args.device)
    except ValueError as e:
        p.error(str(e))
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if args.env == "gameboy":
        return gameboy(args, say)
    # The default is one worker per core: a small --boards on a big machine (--quick's QUICK_BOARDS are at
    # least benchmark.py's MAX_WORKERS, so never with it).
    if args.workers > args.boards:
        p.error(f"--workers ({args.workers}) must not exceed the boards ({args.boards}): lower --workers or "
                "raise --boards")
    return snake(args, say)


def snake(args: argparse.Namespace, say: Callable[..., None]) -> int:
    """The Snake figures: the raw core, the VecEnv, training (ours against stock SB3), MFU, other games."""
    import torch

    from agents.config import check_ppo, device_key, load_config
    from agents.throughput import (
        check_whole_updates,
        ours,
        peak_flops,
        stock,
        stock_dummy,
        train_report,
        vec_env_sps,
    )
    from envs import BUILTIN_GAMES
    from envs.bench import game_sps
    from vlm.tasks import plural

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = load_config("snake")
    policy = args.policy or cfg[device_key("policy", args.device)]
    # The CPU default's boards on any device: the stock peer runs a process per board, and the GPU's
    # figures stay comparable with earlier ones (README "On a GPU" gives 256 boards' speed).
    num_envs = cfg["cpu_num_envs"]
    ppo = dict(cfg["ppo"])
    check_ppo(ppo, num_envs, recurrent=False)  # batch_size auto: its size for these boards
    check_whole_updates(ppo.get("target_kl"))  # mfu's, refused before minutes of figures, not after them
    boards, seconds = args.boards, args.seconds
    if args.quick:
        ppo.update(n_steps=16, batch_size=64, n_epochs=1)
        num_envs = 8
    out: dict[str, object] = {"device": args.device, "policy": policy,
                              "torch_threads": torch.get_num_threads(), "quick": args.quick}

    say("peak matmul ...")
    # Measured before and after the training figures, the best kept: this machine's speed drifts, and a
    # peak caught in a slow minute would overstate the utilisation.
    # The full run's 2048² matmul with --quick too (0.4 s a measurement at its 0.2 s): one peak, not a
    # size of its own. On a loaded box either can catch a slow moment and print a utilisation above 1.
    peak_before = peak_flops(args.device, seconds=seconds)
    say("raw Snake core ...")
    out["env_sps"] = game_sps("snake", seconds=seconds, num_envs=boards)
    say("worker VecEnv ...")
    out["vec_env_workers"] = args.workers
    out["vec_env_sps"] = vec_env_sps("snake", boards, args.workers, seconds=seconds)
    out["vec_env_efficiency"] = out["vec_env_sps"] / (out["env_sps"] * args.workers)
    out["vec_env_sps_in_process"] = vec_env_sps("snake", boards, 0, seconds=seconds)
    say(f"training, ours ({policy}) ...")
    same = ("snake", policy, num_envs, ppo, args.device, args.rollouts)
    mine = train_report(ours, *same)
    say(f"training, stock SB3 with SubprocVecEnv ({policy}) ...")
    theirs = train_report(stock, *same, flops=False)  # their speed only: the mfu figures are ours'
    say(f"training, stock SB3 with DummyVecEnv ({policy}) ...")
    dummy = train_report(stock_dummy, *same, flops=False)
    big = mine
    if policy != "10m":
        say("training, ours (10m) ...")
        # Shorter rollouts keep the 10M model's timing to tens of seconds on a CPU; timed --rollouts of
        # them, as the other training figures.
        big = train_report(ours, "snake", "10m", num_envs, {**ppo, "n_steps": min(ppo["n_steps"], 32)},
                           args.device, args.rollouts)
    say("peak matmul, again ...")
    out["peak_flops"] = peak = max(peak_before, peak_flops(args.device, seconds=seconds))
    out.update(train_sps=mine["sps"], sb3_train_sps=theirs["sps"], train_speedup=mine["sps"] / theirs["sps"],
               sb3_dummy_train_sps=dummy["sps"], train_speedup_dummy=mine["sps"] / dummy["sps"],
               **{f"{prefix}{part}": report[part] for prefix, report in (("", mine), ("sb3_", theirs),
                                                                        ("sb3_dummy_", dummy))
                  for part in ("rollout_s", "update_s")},
               mfu=mine["flops_per_step"] * mine["sps"] / peak, flops_per_step=mine["flops_per_step"],
               parameters=int(mine["parameters"]), mfu_10m=big["flops_per_step"] * big["sps"] / peak,
               train_sps_10m=big["sps"], parameters_10m=int(big["parameters"]))
    games: dict[str, float] = {}
    # This project's cores only: a game of an installed package is not ours to time (and its defaults
    # may not run at all, which would end the benchmark after the figures above).
    for name in sorted(BUILTIN_GAMES):
        if name in ("snake", "pokemon_red", "gameboy"):
            continue
        say(f"raw {name} core ...")
        games[name] = game_sps(name, seconds=seconds, num_envs=min(boards, 1024))
    try:
        from envs.gameboy.core import load_pyboy_class
        from envs.gameboy.roms import TEST_CARTRIDGE

        load_pyboy_class()  # PyBoy installed? (its SDL2 notice silenced, as the env does)

        say("pokemon_red on the test cartridge (one process) ...")
        games["pokemon_red (test cartridge, 1 core)"] = game_sps(
            "pokemon_red", seconds=seconds, num_envs=4, rom=TEST_CARTRIDGE)
    except ImportError:
        pass
    out["games"] = games

    if args.json:
        print_json(out)
        return 0
    rows = [
        ("peak matmul", f"{out['peak_flops'] / 1e9:,.1f} GFLOP/s"),
        ("env_sps (Snake core, 1 core)", f"{out['env_sps']:,.0f}"),
        (f"vec_env_sps ({plural(args.workers, 'worker')})", f"{out['vec_env_sps']:,.0f}  "
         f"({out['vec_env_efficiency']:.0%} of env_sps × workers)"),
        ("vec_env_sps (in process)", f"{out['vec_env_sps_in_process']:,.0f}  "
         f"({out['vec_env_sps_in_process'] / out['env_sps']:.0%} of env_sps)"),
        (f"train_sps (ours, {policy})", f"{out['train_sps']:,.0f}"),
        (f"sb3_train_sps (stock, SubprocVecEnv, {policy})", f"{out['sb3_train_sps']:,.0f}"),
        ("train_speedup", f"{out['train_speedup']:.2f}×"),
        (f"sb3_dummy_train_sps (stock, DummyVecEnv, {policy})", f"{out['sb3_dummy_train_sps']:,.0f}"),
        ("train_speedup_dummy", f"{out['train_speedup_dummy']:.2f}×"),
        ("PPO iteration, rollout + update", ", ".join(
            f"{name} {out[prefix + 'rollout_s']:.2f} + {out[prefix + 'update_s']:.2f} s" for name, prefix in (
                ("ours", ""), ("SubprocVecEnv", "sb3_"), ("DummyVecEnv", "sb3_dummy_")))),
        (f"mfu ({policy}, {out['parameters']:,} params)", f"{out['mfu']:.3f}"),
        (f"mfu_10m ({out['parameters_10m']:,} params, {out['train_sps_10m']:,.0f} sps)",
         f"{out['mfu_10m']:.3f}"),
        # "core" after the game's name, before a note such as the cartridge's "(test cartridge, 1 core)"
        *[(k.replace(" (", " core (", 1) if " (" in k else f"{k} core", f"{v:,.0f} steps/s")
          for k, v in games.items()],
    ]
    print_rows(rows, args.quick)
    return 0


def print_rows(rows: list[tuple[str, str]], quick: bool) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if quick:
        print("--quick: tiny sizes that check the plumbing; these figures are not the project's speeds")


def gameboy(args: argparse.Namespace, say: Callable[..., None]) -> int:
    from envs.gameboy.core import STEP_FRAMES, load_pyboy_class

    try:
        load_pyboy_class()  # its SDL2 notice silenced, as the env does
    except ImportError:
        print('error: --env gameboy needs PyBoy: pip install -e ".[gameboy]"', file=sys.stderr)
        return 2
    from agents.throughput import vec_env_sps
    from envs import make_game
    from envs.bench import memory_per_emulator, pyboy_bare_sps, random_play
    from envs.gameboy.roms import TEST_CARTRIDGE
    from vlm.tasks import plural

    seconds = args.seconds  # QUICK_SECONDS with --quick, as Snake's
    kwargs = {"rom": str(TEST_CARTRIDGE)}
    out: dict[str, object] = {"env": "pokemon_red on the test cartridge",
                              "emulators_per_worker": args.emulators, "quick": args.quick}
    say("bare PyBoy ...")
    out["pyboy_sps"] = pyboy_bare_sps(TEST_CARTRIDGE, seconds)
    out["pyboy_fps"] = out["pyboy_sps"] * STEP_FRAMES
    say("full env, one process ...")
    # The overhead splits one run's time into PyBoy's share and the rest: this shared machine's
    # speed drifts by tens of percent within a minute, which comparing two runs would read as cost.
    game = make_game("pokemon_red", num_envs=args.emulators, **kwargs)
    try:
        # Steady state, as a long run sees it: an untimed second first (Python specialises hot code
        # after a few runs, compiled kernels resolve their argument types once).
        random_play(game, min(1.0, seconds))
        out["env_sps"], wall = random_play(game, seconds)  # zeroes game.emulator_seconds at its clock start
        out["env_overhead"] = wall / game.emulator_seconds - 1.0
    finally:
        game.close()
    for w in sorted({1, args.workers}):
        say(f"worker VecEnv, {plural(w, 'worker')} ...")
        out[f"vec_env_sps_w{w}"] = vec_env_sps("pokemon_red", w * args.emulators, w, seconds, **kwargs)
    say("memory ...")
    mem = memory_per_emulator("pokemon_red", 8, **kwargs)
    out["memory_per_emulator_mb"] = None if mem is None else mem / 2**20
    if args.json:
        print_json(out)
        return 0
    rows = [("bare PyBoy (1 core)", f"{out['pyboy_sps']:,.0f} steps/s ({out['pyboy_fps']:,.0f} frames/s)"),
            ("full env (1 core)", f"{out['env_sps']:,.0f} steps/s, overhead {out['env_overhead']:.1%}"),
            *[(f"VecEnv, {plural(int(k[len('vec_env_sps_w'):]), 'worker')} × {args.emulators} emulators",
               f"{v:,.0f} steps/s") for k, v in out.items() if k.startswith("vec_env_sps_w")],
            ("memory per emulator", "n/a" if mem is None else f"{out['memory_per_emulator_mb']:.1f} MB")]
    print_rows(rows, args.quick)
    return 0
