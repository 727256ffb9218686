"""What ``scripts/train_ppo.py`` runs once its flags are parsed: the run's config, from the flags (a new run)
or from the run folder (``--resume``), checked before anything is written; the run folder made, claimed
and trained into; and, should training never start, the folders put back as they were."""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Collection
from pathlib import Path
from typing import IO, Any

from agents.config import (
    DEFAULTS,
    MINIBATCHES,
    apply_set,
    auto_batch_size,
    auto_intervals,
    check_device_defaults,
    deep_merge,
    flag_of,
    load_config,
    read_choices,
    resolve,
    set_item,
)
from agents.interrupts import deferred_stop
from agents.outputs import missing_folders
from agents.preflight import (
    ENV_FLAGS,
    add_game_flags,
    check_game,
    check_memory,
    check_self_play,
    env_flag,
    first_line_noted,
    probe_game,
    set_options,
)
from agents.runs import (
    GAME_FILES,
    MILESTONES_FILE,
    RunError,
    changed_game_files,
    claim_run,
    damaged_game_files,
    new_run_dir,
    read_run_config,
    refuse_inputs_in_replaced_run,
    resume_point,
    settle_run_dir,
)
from envs import GAMES, game_class
from envs.base import GameDefinitionError

FLAGS = ("total_timesteps", "num_envs", "num_workers", "policy", "device", "seed", "save_every",
         "keep_checkpoints", "video_every", "recurrent")
RESUME_FLAGS = {"total_timesteps", "num_workers", "device", "save_every", "keep_checkpoints", "video_every"}


def input_name(key: str, args: argparse.Namespace, typed: Collection[str]) -> str:
    """Where game option ``key`` (a file) was given: its flag, ``--set``, or a ``--config`` file's
    ``env_kwargs`` (named so, not as a flag the user did not type)."""
    if getattr(args, key) is None and key not in typed and args.config:
        return f"--config {args.config}: env_kwargs.{key} ="
    return env_flag(key, typed)


def refuse_flag_and_set(p: argparse.ArgumentParser, args: argparse.Namespace, training: bool = True) -> None:
    """A value given both as a flag and as ``--set`` (``--size 12 --set env_kwargs.size=8``): one of them
    would be dropped without a word, so neither is guessed. ``training=False``: the game flags only, for a
    script whose --set takes the game's options alone (compare, evaluate), and whose own --seed or --device,
    set by default, is no training flag (``flag_options`` refuses ``--set seed=3`` there)."""
    flags = ({f: f for f in FLAGS} if training else {}) | {f"env_kwargs.{f}": f for f in ENV_FLAGS}
    for item in args.set:
        flag = flags.get(".".join(set_item(item)[0]))
        if flag is not None and getattr(args, flag, None) is not None:
            p.error(f"{flag_of(flag)} and --set {item} set the same value; give one of them")


def model_mtime(run: Path) -> int:
    """The run's model.zip's modification time in ns, 0 while it has none."""
    model = run / "model.zip"
    return model.stat().st_mtime_ns if model.exists() else 0


def train_command(p: argparse.ArgumentParser, args: argparse.Namespace, command: str) -> int:
    """Train as the parsed flags ``args`` of parser ``p`` say (a misused flag is ``p.error``); ``command``
    is recorded in the run folder. Returns the exit status: 0, 2 for an error said in one line, 130 for a
    Ctrl-C before training started."""
    from agents.callbacks import read_milestones
    from agents.train import TrainingStopped, train
    from envs.gameboy.generic import said_tetris_defaulted
    from envs.gameboy.roms import RomError, StateError
    from envs.vector import WorkerDiedError

    created: Path | None = None  # a run folder this command made: removed if training never started
    replaced: Path | None = None  # the run --force replaces: back in place unless keep
    existed = args.run_dir is not None and Path(args.run_dir).is_dir()
    # --run-dir and the folders above it that making it makes (a/b of a/b/run): removed if training never
    # starts (those that are still empty), also when new_run_dir made them and then failed.
    above = missing_folders(Path(args.run_dir)) if args.run_dir is not None and not args.resume else []
    run: Path | None = None
    keep = False  # the new run stays, not the one --force moved aside (see settle_run_dir)
    lock: IO[str] | None = None  # held on the run folder while this command trains into it
    model_before: int | None = None  # model.zip's mtime (0: none) when train() was called
    trained_on: str | None = None  # the device a resumed run last trained on
    notes: list[str] = []  # a resume's followed_notes, said once its checkpoint is loaded
    try:
        if args.resume:
            run = Path(args.resume)
            try:
                cfg = deep_merge(DEFAULTS, read_run_config(run, warn=False))
                damaged = damaged_game_files(run)
                if damaged:  # refused, not warned of: the resume writes a new record over it
                    raise RunError(f"{run}: {damaged}: put the run's own record back to go on with the "
                                   "run checked, or delete it to go on unchecked (the resume records the "
                                   "files it reads then)")
                # Refused, not started again: the resume's first new best writes over it (a damaged one
                # holds none to keep, and is read as none).
                read_milestones(run / MILESTONES_FILE)
                changed = changed_game_files(run, cfg["env_kwargs"])
                if changed:  # trained on from another start than its checkpoints learned
                    raise RunError(f"{run}: {changed}: put the run's own back there to go on with the run, "
                                   "or train a new run from this one (train_ppo.py without --resume); to go "
                                   f"on from this one all the same, delete {run / GAME_FILES}")
                trained_on = str(cfg["device"])  # before a --device given now
                lock = claim_run(run)
                # Before the game is built: a run killed (SIGKILL, a crash) before its first save has none.
                resume_point(run)
            except RunError as e:
                raise RunError(f"--resume {e}") from None
            cfg, notes = resumed_config(p, args, run, cfg)
        else:
            cfg, followed = new_config(p, args)
            # A stop while --force moves the old run aside waits until the caller knows where it went (it
            # would stay hidden there), and then puts it back.
            with deferred_stop():
                run, replaced, lock = new_run_dir(cfg, args.run_dir, args.force)
                created = run
            for line in followed_notes(cfg, followed):  # once the run folder is claimed
                print(line, file=sys.stderr)
        model_before = model_mtime(run)
        train(cfg, run, command, resume=bool(args.resume), progress=not args.no_progress,
              trained_on=trained_on, notes=notes)
        keep = True
    except StateError as e:  # --resume takes no --state: the run's config.yaml named the state
        print(f"error: --resume {run}: {e.in_run()}" if args.resume else f"error: {e}", file=sys.stderr)
        return 2
    except (RunError, ValueError, FileNotFoundError, RomError, WorkerDiedError) as e:
        keep = isinstance(e, TrainingStopped) and e.resumable
        message = str(e)
        if not (args.resume or args.config or args.game is not None or "game" in set_options(args.set)):
            message = said_tetris_defaulted(message)  # the preset's game: no file or flag chose it
        print(f"error: {message}", file=sys.stderr)
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
        settle_run_dir(created, replaced, keep, existed, above)
    return 0


def resumed_config(p: argparse.ArgumentParser, args: argparse.Namespace, run: Path, cfg: dict[str, Any]
                   ) -> tuple[dict[str, Any], list[str]]:
    """The config a ``--resume`` of ``run`` trains with: ``cfg``, its config.yaml, with the few flags a
    resume may change; refused (``p.error``) for any other flag, and checked as a new run's is. Returned
    with the ``followed_notes``, which ``train`` says once the checkpoint is loaded: a resume refused
    there (an edited config.yaml) said them of a run that did not go on."""
    import torch

    from envs.gameboy.roms import StateError

    bad = [f for f in (*FLAGS, *ENV_FLAGS) if getattr(args, f) is not None and f not in RESUME_FLAGS]
    if args.env and args.env != cfg["env"]:
        p.error(f"--env {args.env} does not match the run being resumed ({cfg['env']})")
    refused = [flag_of(f) for f in bad] + [
        flag for flag, given in (("--set", args.set), ("--config", args.config),
                                 ("--run-dir", args.run_dir), ("--force", args.force)) if given]
    if refused:
        # A PPO value is changed where the resumed run reads it (README, Stopping and resuming): a --set or
        # --config refused said only what may not change.
        edit = (f"; to change a PPO setting (ppo.learning_rate, say) for the rest of the run, edit it in "
                f"{run / 'config.yaml'} and resume" if args.set or args.config else "")
        p.error(f"--resume continues a run with its own config, so {', '.join(refused)} cannot be "
                "given; only --total-timesteps, --num-workers, --device, --save-every, "
                f"--keep-checkpoints and --video-every may change (and --no-progress be given){edit}")
    overrides = {f: getattr(args, f) for f in RESUME_FLAGS if getattr(args, f) is not None}
    old, cfg = cfg, {**cfg, **overrides}
    followed = follow_new_settings(cfg, old, overrides)  # intervals: their values in config.yaml
    try:
        cfg = resolve(cfg, torch.cuda.is_available())
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
        spec = probe_game(cfg["env"], probe, cfg["num_workers"])
    except (StateError, GameDefinitionError):  # worded by train_command; the game's code, not an option
        raise
    except ValueError as e:  # a game option of config.yaml (--resume takes no game flag to change)
        raise ValueError(f"--resume {run}: its config.yaml sets env_kwargs that {cfg['env']} "
                         f"refuses: {e}") from None
    check_memory(cfg, spec.obs_shape, resume=True, board_bytes=spec.board_bytes)
    return cfg, followed_notes(cfg, followed)


def follow_new_settings(cfg: dict[str, Any], old: dict[str, Any], given: Collection[str]
                        ) -> dict[str, tuple[int, str]]:
    """Values the old settings chose (auto) follow the new ones in ``cfg``. Intervals follow a new
    ``total_timesteps``: a short trial resumed to millions of steps, or its config.yaml given as ``--config``
    for them, checkpointed and recorded as often as the trial. ``ppo.batch_size`` follows a new ``num_envs``
    or ``ppo.n_steps``: a 16-board run's config.yaml given with --num-envs 64 split each rollout into 32
    minibatches, not auto's 8. ``num_workers`` above this machine's usable cores follows its automatic count,
    for a game with one worker per core: a 16-core node's config.yaml resumed on a 4-core laptop kept 16
    worker processes. ``old`` is the config before the settings given now (``given``, named as
    ``--set`` names them); a value given is set by hand and kept. Those that follow are set to auto in
    ``cfg``; returned with their old values and the new settings they follow."""
    followed: dict[str, tuple[int, str]] = {}
    if "total_timesteps" in given and isinstance(old["total_timesteps"], int):
        for key, value in auto_intervals(old["total_timesteps"]).items():
            if key not in given and cfg[key] == value:
                cfg[key] = "auto"
                followed[key] = (value, "--total-timesteps")
    new = _rollout_given(given)
    ppo = old["ppo"]
    if (new and "ppo.batch_size" not in given and isinstance(ppo, dict)
            and isinstance(old["num_envs"], int) and isinstance(ppo.get("n_steps"), int)
            and ppo.get("batch_size") == auto_batch_size(ppo["n_steps"], old["num_envs"])):
        cfg["ppo"]["batch_size"] = "auto"
        followed["ppo.batch_size"] = (ppo["batch_size"], new)
    # config.yaml cannot tell whether num_workers was another machine's automatic count; more than this
    # machine's cores is never its own, and the count changes no result, only speed and memory: it follows.
    workers = old["num_workers"]
    if "num_workers" not in given and type(workers) is int and workers_by_core(old["env"]):
        from envs.vector import usable_cores

        cores = usable_cores()
        if workers > cores:  # at least 1: a count of 0 or 1 never follows
            cfg["num_workers"] = "auto"
            followed["num_workers"] = (workers, f"this machine's {cores} usable core{'s' * (cores != 1)}")
    return followed


def fit_preset_batch(cfg: dict[str, Any], given: Collection[str], config: str | None
                     ) -> dict[str, tuple[int, str]]:
    """The env preset's fixed ``ppo.batch_size`` (2,048 of Sokoban's 64 boards × 128 steps) set to auto where
    it exceeds a smaller rollout (``--num-envs 8`` to try a run, or a ``--config`` file's ``num_envs``): it
    was refused, naming a batch size the user never chose. A batch size given by flag, ``--set`` or
    ``--config`` (unless it is the preset's own) is still refused; the preset's runs are unchanged. Returned
    as ``follow_new_settings`` returns its values, for ``followed_notes``."""
    ppo = cfg["ppo"]
    batch, n_steps, num_envs = ppo.get("batch_size"), ppo.get("n_steps"), cfg["num_envs"]
    if ("ppo.batch_size" in given or not all(type(v) is int for v in (batch, n_steps, num_envs))
            or batch <= n_steps * num_envs or batch != load_config(cfg["env"])["ppo"]["batch_size"]):
        return {}
    ppo["batch_size"] = "auto"
    return {"ppo.batch_size": (batch, _rollout_given(given) or f"num_envs of --config {config}")}


def _rollout_given(given: Collection[str]) -> str:
    """The settings among ``given`` that size a rollout, which an automatic ``ppo.batch_size`` follows, as
    the notes name them ("--num-envs and ppo.n_steps"); "" for none."""
    named = (("num_envs", "--num-envs"), ("ppo.n_steps", "ppo.n_steps"))
    return " and ".join(name for key, name in named if key in given)


def workers_by_core(env: Any) -> bool:
    """Whether ``env``'s automatic worker count is one per core: a game stepped in process has 0 on every
    machine, so a count in its config was set by hand."""
    try:
        return not game_class(env).cheap
    except ValueError:  # an unknown game, or one that breaks the contract: refused later, by its own check
        return False


def followed_notes(cfg: dict[str, Any], followed: dict[str, tuple[int, str]]) -> list[str]:
    """A ``note:`` line for each value ``follow_new_settings`` changed: a config cannot tell a value set by
    hand that equals the automatic one, so the flag (or --set) that keeps it is named."""
    notes = []
    for key, (old, by) in followed.items():
        if key == "ppo.batch_size":
            n_steps, num_envs = cfg["ppo"]["n_steps"], cfg["num_envs"]
            rollout = n_steps * num_envs  # a batch size above it is refused: no --set keeps it
            keep = (f"give --set {key}={old} to keep {old:,}" if old <= rollout else
                    f"{old:,} exceeds ppo.n_steps × --num-envs, {n_steps} × {num_envs} = {rollout:,}")
            if cfg["ppo"]["batch_size"] != old:
                notes.append(f"note: {key} follows the new {by}, {old:,} -> {cfg['ppo']['batch_size']:,} "
                             f"(the automatic value, each rollout in {MINIBATCHES} minibatches; {keep})")
        elif key == "num_workers":
            notes.append(f"note: {key} follows {by}, {old} -> {cfg[key]} worker "
                         f"process{'es' * (cfg[key] != 1)} (the automatic value; "
                         f"give --num-workers {old} to keep {old})")
        elif cfg[key] != old:
            notes.append(f"note: {key} follows the new {by}, {old:,} -> {cfg[key]:,} steps (the "
                         f"automatic value; give {flag_of(key)} {old} to keep {old:,})")
    return notes


def new_config(p: argparse.ArgumentParser, args: argparse.Namespace
               ) -> tuple[dict[str, Any], dict[str, tuple[int, str]]]:
    """A new run's config: the env's preset, ``--config``, the flags and ``--set`` over it; checked (the game
    built once) before anything is written, and refused where ``--force`` would delete one of its inputs.
    Returned with the values that follow new settings (``follow_new_settings``), said once the run starts."""
    import torch

    if not args.env and not args.config:
        p.error(f"--env is required (one of: {', '.join(sorted(GAMES))})")
    cfg = load_config(args.env, args.config)
    refuse_flag_and_set(p, args)
    old = copy.deepcopy(cfg)  # the preset's, or the --config file's (a run's config.yaml)
    given = {f for f in FLAGS if getattr(args, f) is not None} | {".".join(set_item(i)[0]) for i in args.set}
    cfg.update({f: getattr(args, f) for f in FLAGS if getattr(args, f) is not None})
    cfg = apply_set(cfg, args.set)
    read_choices(cfg)  # the --config file's and --set's, in any case as the flags take them
    followed = follow_new_settings(cfg, old, given)
    followed.update(fit_preset_batch(cfg, given, args.config))
    add_game_flags(cfg["env"], cfg["env_kwargs"], args)
    typed = set_options(args.set)  # errors name --set env_kwargs.KEY for these, as typed
    try:
        check_device_defaults(cfg)
        cfg = resolve(cfg, torch.cuda.is_available())
        check_game(cfg, typed)
    except ValueError as e:  # the message names a flag; the value may be the user's file's
        if not args.config or isinstance(e, GameDefinitionError):
            raise
        raise ValueError(first_line_noted(str(e), f"(a value in --config {args.config} counts as that "
                                                  "flag or --set key)")) from None
    if args.force and args.run_dir is not None:
        refuse_inputs_in_replaced_run(Path(args.run_dir), {
            "--config": args.config,
            **{input_name(key, args, typed): cfg["env_kwargs"].get(key) for key in ("rom", "state")}})
    return cfg, followed
