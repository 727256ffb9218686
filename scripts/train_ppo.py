#!/usr/bin/env python
"""Train a PPO specialist on a depthfirst game.

    python scripts/train_ppo.py --env snake
    python scripts/train_ppo.py --resume runs/snake/<run>
"""

from __future__ import annotations

import agents.startup  # noqa: F401 (first: a Ctrl-C during the imports below exits 130)

# isort: split
import argparse
import math
import os
import re
import shutil
import sys
from collections.abc import Collection
from pathlib import Path
from typing import IO, Any

from agents.cli import (
    game_arg,
    nonneg_int,
    path_arg,
    positive_int,
    rerun_command,
    run_folder_arg,
    run_script,
    script_parser,
    whole_int,
)
from agents.config import (
    DEFAULTS,
    apply_set,
    auto_intervals,
    check_device_defaults,
    deep_merge,
    load_config,
    load_yaml,
    resolve,
    set_item,
)
from agents.interrupts import (
    deferred_stop,
    stop_signals_interrupt,
    uninterruptible,
)
from agents.presets import PRESETS
from agents.runs import (
    RunError,
    claim_run,
    latest_checkpoint,
    missing_folders,
    new_run_dir,
    read_run_config,
    remove_folders,
)
from envs import GAMES
from envs.choices import GAMEBOY_GAMES, SNAKE_DUEL_OPPONENTS, SNAKE_OBS, SOKOBAN_DIFFICULTIES  # stdlib only


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
    p.add_argument("--policy", choices=sorted(PRESETS), help="network preset (default: by device)")
    p.add_argument("--device", help="auto (default: CUDA when available), cpu or cuda[:N]")
    p.add_argument("--seed", type=whole_int, help="board k's e-th episode is seeded seed + k + e·num_envs; "
                   "torch and PPO too (0 to 2**32 - 1, default 0)")
    p.add_argument("--run-dir", type=run_folder_arg,
                   help="run folder (default: runs/<env>/<policy>-s<seed>-<time>)")
    p.add_argument("--resume", type=run_folder_arg, metavar="RUN_DIR",
                   help="continue a run from its latest checkpoint")
    p.add_argument("--save-every", type=positive_int,
                   help="env steps between checkpoints (default: a tenth of the run, at most 1M)")
    p.add_argument("--video-every", type=positive_int,
                   help="env steps between TensorBoard videos (default: a fifth of the run)")
    p.add_argument("--recurrent", action="store_true", default=None, help="RecurrentPPO (CNN + LSTM)")
    p.add_argument("--force", action="store_true", help="replace an existing --run-dir")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set ppo.learning_rate=1e-4")
    # Per-env options, shortcuts for --set env_kwargs.<name>=...
    p.add_argument("--size", type=whole_int, help="snake, snake_duel, sokoban: board size")
    p.add_argument("--obs", choices=SNAKE_OBS, help="snake: observation kind")
    p.add_argument("--difficulty", choices=list(SOKOBAN_DIFFICULTIES), help="sokoban: level preset")
    p.add_argument("--opponent", choices=SNAKE_DUEL_OPPONENTS,
                   help="snake_duel: scripted bot, or policy = self-play against earlier snapshots")
    p.add_argument("--rom", type=path_arg, help="pokemon_red, gameboy: path of your ROM (see roms/README.md)")
    p.add_argument("--state", type=path_arg, help="pokemon_red, gameboy: start state (.state) to reset to "
                   "(none: boot the ROM)")
    p.add_argument("--game", choices=GAMEBOY_GAMES,
                   help="gameboy: which PyBoy game wrapper gives reward and game over")
    p.add_argument("--allow-unknown-rom", action="store_const", const=True,
                   help="pokemon_red: run a ROM whose SHA-1 is not in roms/README.md's table")
    p.add_argument("--swarm", action="store_const", const=True,
                   help="pokemon_red: archive milestone states in the run and restart resets from them")
    return p


FLAGS = ("total_timesteps", "num_envs", "num_workers", "policy", "device", "seed", "save_every",
         "video_every", "recurrent")
ENV_FLAGS = ("size", "obs", "difficulty", "opponent", "rom", "state", "game", "allow_unknown_rom", "swarm")
RESUME_FLAGS = {"total_timesteps", "num_workers", "device", "save_every", "video_every"}
PATH_OPTIONS = ("rom", "state", "archive_dir")  # the game options that name a file or folder


def absolute_paths(env: str, env_kwargs: dict) -> None:
    """Store ROM, state and archive paths absolute: they are read from the folder training starts in,
    and the run's config.yaml must find them again when evaluate or export run from another folder (or
    a ``--resume`` does: a relative ``archive_dir`` gave it a new, empty swarm archive there). A null ROM
    (``rom: null``, or empty, in a --config file; ``--set env_kwargs.rom=null``) is the game's default."""
    if env == "gameboy" and env_kwargs.get("rom") is None:
        from envs.gameboy.generic import default_rom

        env_kwargs["rom"] = str(default_rom(env_kwargs.get("game", "tetris")))
    elif env == "pokemon_red" and env_kwargs.get("rom") is None:
        from envs.gameboy.pokemon import DEFAULT_ROM

        env_kwargs["rom"] = DEFAULT_ROM
    for key in PATH_OPTIONS:
        value = env_kwargs.get(key)
        if isinstance(value, str) and value.strip():
            env_kwargs[key] = os.path.abspath(os.path.expanduser(value))


def env_flag(key: str, typed: Collection[str]) -> str:
    """The flag that sets game option ``key``: ``--set env_kwargs.<key>`` where the user typed that
    (``typed``: the game options given by ``--set``), or where the option has no flag of its own."""
    own = key in ENV_FLAGS and key not in typed
    return f"--{key.replace('_', '-')}" if own else f"--set env_kwargs.{key}"


def input_name(key: str, args: argparse.Namespace, typed: Collection[str]) -> str:
    """Where game option ``key`` (a file) was given: its flag, ``--set``, or a ``--config`` file's
    ``env_kwargs`` (named so, not as a flag the user did not type)."""
    if getattr(args, key) is None and key not in typed and args.config:
        return f"--config {args.config}: env_kwargs.{key} ="
    return env_flag(key, typed)


def set_options(assignments: list[str]) -> set[str]:
    """The game options that ``--set`` assignments set (``env_kwargs.size=8`` sets ``size``)."""
    keys = (set_item(item)[0] for item in assignments)
    return {parts[1] for parts in keys if len(parts) > 1 and parts[0] == "env_kwargs"}


def refuse_blank_paths(assignments: list[str], env: str) -> None:
    """A path option set blank by ``--set`` (``env_kwargs.rom=``, or ``'  '`` quoted): YAML read it as null
    (the default ROM, no start state) or as a name of spaces. Refused, naming ``--set``, as the path
    flags refuse an empty path (``path_arg``). An option ``env`` lacks is left to ``check_game``: that it
    does not apply is the error to fix first."""
    from agents.runs import game_options

    known = game_options(env)
    for item in assignments:
        parts, raw = set_item(item)
        if len(parts) != 2 or parts[0] != "env_kwargs" or parts[1] not in PATH_OPTIONS:
            continue
        if known is not None and parts[1] not in known:
            continue
        value = load_yaml(raw) if raw.strip() else None  # as apply_set, which read it first, reads it
        if not raw.strip() or (isinstance(value, str) and not value.strip()):
            what = "a folder" if parts[1] == "archive_dir" else "a file"
            hint = " (or none: boot the ROM)" if parts[1] == "state" else ""
            raise ValueError(f"--set {item!r}: the {parts[1]} path is empty; name {what}{hint}")


def flags_named(message: str, key: str, value: Any, typed: Collection[str] = ()) -> list[str]:
    """The flags of game option ``key`` that an error ``message`` names: for a mapping option (Pokémon's
    reward) ``reward.badge`` in the message is ``--set env_kwargs.reward.badge``; else the option's flag
    (``env_flag``: as the user typed it)."""
    entries = re.findall(rf"\b{key}\.(\w+)", message) if isinstance(value, dict) else []
    if entries:
        return [f"--set env_kwargs.{key}.{entry}" for entry in dict.fromkeys(entries)]
    return [env_flag(key, typed)] if re.search(rf"\b{key}\b", message) else []


def check_game(cfg: dict, typed: Collection[str] = ()) -> None:
    """Build one board before anything is written, so a bad option or a missing ROM fails first. An error
    names each option's flag, or ``--set env_kwargs.<key>`` for the options in ``typed`` (given so)."""
    from agents.runs import game_options
    from envs import game_class
    from envs.base import whole_options

    # As the game reads them (--set env_kwargs.size=10.0 is size 10 in config.yaml too; 1e-2 a number)
    cfg["env_kwargs"] = whole_options(game_class(cfg["env"]), cfg["env_kwargs"])
    kwargs = dict(cfg["env_kwargs"])
    known = game_options(cfg["env"])  # checked before the game is built: a Game Boy game checks its ROM first
    for key in kwargs:
        if known is not None and key not in known:
            raise ValueError(f"{env_flag(key, typed)} does not apply to --env {cfg['env']} (env_kwargs.{key} "
                             "is not one of its options; see the per-env flags in --help)")
    if kwargs.get("swarm") and not kwargs.get("archive_dir"):
        kwargs["swarm"] = False  # its archive folder comes with the run folder, made next
    try:
        obs_shape = observation_shape(cfg["env"], kwargs, cfg["num_workers"])
    except TypeError as e:
        raise ValueError(f"env_kwargs for {cfg['env']}: {e}") from e
    except ValueError as e:  # a value the game refuses: name the flags whose options the message names
        named = [flag for key, value in cfg["env_kwargs"].items()
                 for flag in flags_named(str(e), key, value, typed)]
        raise ValueError(f"{e} (change {' or '.join(named)})" if named else
                         f"env_kwargs for {cfg['env']}: {e}") from None
    check_memory(cfg, obs_shape)
    check_swarm_prob(cfg["env"], cfg["env_kwargs"])  # a value the game accepts, but unused
    check_self_play(cfg)
    from agents.selfplay import uses_self_play

    changed = [k for k, v in cfg["self_play"].items() if v != DEFAULTS["self_play"][k]]
    if changed and not uses_self_play(cfg):  # new runs only: a --resume keeps what its run was given
        raise ValueError(f"{', '.join(f'self_play.{k}' for k in changed)} (--set or --config) applies to "
                         "self-play only (--env snake_duel --opponent policy), which this run does not use: "
                         "drop it, or train duel Snake with --opponent policy")


def memory_bytes() -> int | None:
    """This machine's RAM plus swap in bytes (more than a run may take, never less); None where the
    system cannot say."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return None
    if ram <= 0:
        return None
    swap = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("SwapTotal:"):
                swap = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):  # not Linux
        pass
    return ram + swap


def check_memory(cfg: dict, obs_shape: tuple[int, ...], resume: bool = False) -> None:
    """Refuse a run whose observation buffers alone outgrow this machine's RAM and swap: allocating them
    took minutes (or ended in a bus error) before failing. Counted: the vector env's step buffers (the
    observations, the ended episodes' last ones, a copy of the observations) and, unless it lives on a
    CUDA device, the rollout buffer's ``ppo.n_steps`` observations per board, all uint8; everything
    else a run holds comes on top, so a run refused here could never fit. ``resume``: a ``--resume``,
    which keeps the run's --num-envs and ppo.n_steps (a run trained on CUDA resumed with --device cpu
    brings its rollout buffer into RAM)."""
    limit = memory_bytes()
    if limit is None:
        return
    per_board = math.prod(obs_shape)
    steps = cfg["ppo"]["n_steps"]
    host_rollout = bool(cfg["recurrent"]) or not str(cfg["device"]).startswith("cuda")
    need = per_board * cfg["num_envs"] * (3 + (steps if host_rollout else 0))
    if need <= limit:
        return
    what = (f"ppo.n_steps {steps:,} × --num-envs {cfg['num_envs']:,} observations of {per_board:,} bytes "
            "(the rollout buffer), with the step buffers," if host_rollout else
            f"the step buffers of --num-envs {cfg['num_envs']:,} boards ({per_board:,} bytes an observation)")
    change = "a smaller --num-envs or --set ppo.n_steps" if host_rollout else "a smaller --num-envs"
    if resume:
        on_gpu = ("--device cuda, where the rollout buffer is not in RAM (the run keeps its --num-envs "
                  "and ppo.n_steps)")
        change = on_gpu if host_rollout and not cfg["recurrent"] else "a machine with more memory"
    raise ValueError(f"{what} need at least {need / 2**30:,.1f} GiB of memory, more than this machine has "
                     f"({limit / 2**30:,.1f} GiB of RAM and swap): the run does not fit in memory; use "
                     f"{change}")


def observation_shape(env: str, kwargs: dict, workers: int) -> tuple[int, ...]:
    """The observation shape of ``env`` made with ``kwargs``, from one board (closed again). With ``workers``
    to come, their fork server is started first: its imports (1-2 s) run while the board is made."""
    from envs import make_game
    from envs.vector import prepare_workers

    if workers:
        prepare_workers(env)
    probe = make_game(env, num_envs=1, **kwargs)
    try:
        return tuple(probe.observation_space.shape)
    finally:
        probe.close()


def check_swarm_prob(env: str, kwargs: dict) -> None:
    """A swarm_prob other than the default without --swarm: the run would train without restarts and
    drop the setting without a word (new runs only: a --resume keeps what its run was given)."""
    import inspect

    from envs import game_class

    if "swarm_prob" not in kwargs or kwargs.get("swarm"):
        return
    param = inspect.signature(game_class(env)).parameters.get("swarm_prob")
    if param is not None and kwargs["swarm_prob"] != param.default:
        raise ValueError(f"env_kwargs.swarm_prob={kwargs['swarm_prob']} applies to swarm restarts only "
                         "(--swarm), which this run does not use: drop it, or add --swarm")


def check_self_play(cfg: dict) -> None:
    """Settings self-play cannot train with: refused before a run file is written (new run or --resume)."""
    from agents.selfplay import uses_self_play

    if uses_self_play(cfg) and cfg["num_workers"] != 0:
        raise ValueError("--opponent policy (self-play) steps the game in the training process: "
                         "use --num-workers 0")
    if uses_self_play(cfg) and cfg["recurrent"]:  # the snapshots would need an LSTM state per board
        raise ValueError("--opponent policy (self-play) plays feed-forward snapshots: drop --recurrent, "
                         "or train against --opponent greedy or random")


def refuse_inputs_in_replaced_run(run_dir: Path, inputs: dict[str, Any]) -> None:
    """``--force`` moves the old run aside and deletes it once the new run can go on without it: an
    input of this command inside it (a ``--state`` kept in its folder, its own config.yaml as
    ``--config``) would be missing while the new run starts, then deleted with the old run. Refused,
    naming the flag."""
    if not run_dir.is_dir():
        return
    folder = Path(os.path.realpath(run_dir))
    for flag, file in inputs.items():
        if isinstance(file, str) and file.strip() and Path(os.path.realpath(file)).is_relative_to(folder):
            raise RunError(f"{flag} {file} is inside --run-dir {run_dir}, which --force replaces (its files "
                           "are moved aside, then deleted): copy it out of the run folder first, or choose "
                           "another --run-dir")


def refuse_flag_and_set(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A value given both as a flag and as ``--set`` (``--size 12 --set env_kwargs.size=8``): one of them
    would be dropped without a word, so neither is guessed."""
    flags = {f: f for f in FLAGS} | {f"env_kwargs.{f}": f for f in ENV_FLAGS}
    for item in args.set:
        flag = flags.get(".".join(set_item(item)[0]))
        if flag is not None and getattr(args, flag) is not None:
            p.error(f"--{flag.replace('_', '-')} and --set {item} set the same value; give one of them")


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


def model_mtime(run: Path) -> int:
    """The run's model.zip's modification time in ns, 0 while it has none."""
    model = run / "model.zip"
    return model.stat().st_mtime_ns if model.exists() else 0


def train_command(p: argparse.ArgumentParser, args: argparse.Namespace, command: str) -> int:
    import torch

    from agents.train import TrainingStopped, train
    from envs.gameboy.roms import RomError, StateError, no_start_state
    from envs.vector import WorkerDiedError

    created: Path | None = None  # a run folder this command made: removed if training never started
    replaced: Path | None = None  # the run --force replaces: back in place unless keep
    existed = args.run_dir is not None and Path(args.run_dir).is_dir()
    # --run-dir and the folders above it that making it makes (a/b of a/b/run): removed if training never
    # starts (those that are still empty), also when new_run_dir made them and then failed.
    above = missing_folders(Path(args.run_dir)) if args.run_dir is not None and not args.resume else []
    run: Path | None = None
    keep = False  # the new run stays, not the one --force moved aside (see finally)
    lock: IO[str] | None = None  # held on the run folder while this command trains into it
    model_before: int | None = None  # model.zip's mtime (0: none) when train() was called
    try:
        if args.resume:
            run = Path(args.resume)
            try:
                cfg = deep_merge(DEFAULTS, read_run_config(run))
                lock = claim_run(run)
                # Before the game is built: a run killed (SIGKILL, a crash) before its first save has none.
                latest_checkpoint(run)
            except RunError as e:
                raise RunError(f"--resume {e}") from None
            bad = [f for f in (*FLAGS, *ENV_FLAGS) if getattr(args, f) is not None and f not in RESUME_FLAGS]
            if args.env and args.env != cfg["env"]:
                p.error(f"--env {args.env} does not match the run being resumed ({cfg['env']})")
            refused = [f"--{f.replace('_', '-')}" for f in bad] + [
                flag for flag, given in (("--set", args.set), ("--config", args.config),
                                         ("--run-dir", args.run_dir), ("--force", args.force)) if given]
            if refused:
                p.error(f"--resume continues a run with its own config, so {', '.join(refused)} cannot be "
                        "given; only --total-timesteps, --num-workers, --device, --save-every and "
                        "--video-every may change (and --no-progress be given)")
            overrides = {f: getattr(args, f) for f in RESUME_FLAGS if getattr(args, f) is not None}
            if "total_timesteps" in overrides and isinstance(cfg["total_timesteps"], int):
                # Intervals the old total chose (auto) follow the new one: a short trial resumed to millions
                # of steps checkpointed and recorded as often as the trial. A value set by hand is kept.
                cfg.update({key: "auto" for key, value in auto_intervals(cfg["total_timesteps"]).items()
                            if key not in overrides and cfg[key] == value})
            try:
                cfg = resolve({**cfg, **overrides}, torch.cuda.is_available())
            except ValueError as e:  # a value of the run's own config.yaml, unless a flag given set it
                raise ValueError(f"--resume {run}: {e} (from its config.yaml, unless given as a flag)"
                                 ) from None
            check_self_play(cfg)  # else refused once training starts, with the run's config.yaml rewritten
            # As for a new run: a run trained on CUDA, resumed with --device cpu, brings its rollout into RAM.
            # The probe restarts from no archive and archives nothing.
            probe = {k: v for k, v in cfg["env_kwargs"].items() if k != "archive_dir"}
            if probe.get("swarm"):
                probe["swarm"] = False
            try:
                shape = observation_shape(cfg["env"], probe, cfg["num_workers"])
            except StateError:  # worded for a run's config.yaml below
                raise
            except ValueError as e:  # a game option of config.yaml (--resume takes no game flag to change)
                raise ValueError(f"--resume {run}: its config.yaml sets env_kwargs that {cfg['env']} "
                                 f"refuses: {e}") from None
            check_memory(cfg, shape, resume=True)
        else:
            if not args.env and not args.config:
                p.error(f"--env is required (one of: {', '.join(sorted(GAMES))})")
            cfg = load_config(args.env, args.config)
            refuse_flag_and_set(p, args)
            cfg.update({f: getattr(args, f) for f in FLAGS if getattr(args, f) is not None})
            cfg = apply_set(cfg, args.set)
            refuse_blank_paths(args.set, cfg["env"])
            cfg["env_kwargs"].update({f: getattr(args, f) for f in ENV_FLAGS if getattr(args, f) is not None})
            state = cfg["env_kwargs"].get("state")
            if state is not None and no_start_state(state):  # the word: stored as null in config.yaml
                # --state none: boot the ROM instead of loading a state; so too from --set or a --config
                # file (YAML reads `none` and `None` as text), which looked for a file named none
                cfg["env_kwargs"]["state"] = None
            absolute_paths(cfg["env"], cfg["env_kwargs"])
            typed = set_options(args.set)  # errors name --set env_kwargs.KEY for these, as typed
            try:
                check_device_defaults(cfg)
                cfg = resolve(cfg, torch.cuda.is_available())
                check_game(cfg, typed)
            except ValueError as e:  # the message names a flag; the value may be the user's file's
                if not args.config:
                    raise
                raise ValueError(f"{e} (a value in --config {args.config} counts as that flag or "
                                 "--set key)") from None
            if args.force and args.run_dir is not None:
                refuse_inputs_in_replaced_run(Path(args.run_dir), {
                    "--config": args.config,
                    **{input_name(key, args, typed): cfg["env_kwargs"].get(key) for key in ("rom", "state")}})
            # A stop while --force moves the old run aside waits until the caller knows where it went (it
            # would stay hidden there), and then puts it back.
            with deferred_stop():
                run, replaced, lock = new_run_dir(cfg, args.run_dir, args.force)
                created = run
        model_before = model_mtime(run)
        train(cfg, run, command, resume=bool(args.resume), progress=not args.no_progress)
        keep = True
    except StateError as e:  # --resume takes no --state: the run's config.yaml named the state
        print(f"error: --resume {run}: {e.in_run()}" if args.resume else f"error: {e}", file=sys.stderr)
        return 2
    except (RunError, ValueError, FileNotFoundError, RomError, WorkerDiedError) as e:
        keep = isinstance(e, TrainingStopped) and e.resumable
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before training started: from its start line on, train() saves and returns
        # Saved only if this command wrote model.zip: a resumed run's is there from before.
        saved = run is not None and model_before is not None and model_mtime(run) != model_before
        kept = f"; {run} keeps its model and checkpoints as they were" if args.resume else ""
        print("\ninterrupted" + ("; the model is saved" if saved else " before training started: nothing "
                                 f"saved{kept}"), file=sys.stderr)
        return 130
    finally:
        if lock is not None:
            lock.close()
        # A run --force was replacing comes back unless the new one finished or stopped with a checkpoint
        # and its --resume command printed: on Ctrl-C, or on a failure train() handles (TrainingStopped:
        # a damaged archive, a worker dead again, milestones.json or a checkpoint refused). --force gave
        # the old run up; it is kept only until the new one has something to resume from, and putting it
        # back over a resumable new run deleted the checkpoint just named (and made that --resume continue
        # the old run). A run that crashed (a traceback, no --resume advice: NaN losses, a bug), even after
        # a periodic checkpoint, must not have cost the old one. Without --force, a run that failed before
        # training started (TensorBoard's folder comes just before it) leaves nothing; once training ran,
        # its logs stay.
        if replaced is not None:
            with uninterruptible():  # a Ctrl-C while the failed run is deleted would leave the old one aside
                if keep:
                    shutil.rmtree(replaced, ignore_errors=True)
                else:
                    shutil.rmtree(created, ignore_errors=True)
                    replaced.rename(created)
            if not keep:
                print(f"the new run did not finish: {created} holds the old run again", file=sys.stderr)
        elif created is not None and not (created / "tb").exists() and not (created / "model.zip").exists():
            if existed:  # the user's empty folder stays, without our files
                for f in created.iterdir():
                    if f.is_dir():
                        shutil.rmtree(f)
                    else:
                        f.unlink()
            else:
                shutil.rmtree(created, ignore_errors=True)
                remove_folders(above)
        elif created is None:  # no run folder of this command's: any it made before failing is empty
            remove_folders(above)
    return 0


if __name__ == "__main__":
    run_script(main)
