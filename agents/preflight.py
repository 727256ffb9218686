"""What ``scripts/train_ppo.py`` checks and settles in a new or resumed run's config before anything is
written: the game is built once with its options (an error names the flag, or the ``--set`` key, that set
each), the observation buffers fit in this machine's memory, self-play and swarm settings apply to the run,
and ROM, state and archive paths are stored absolute."""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from agents.config import DEFAULTS, MINIBATCHES, auto_batch_size, flag_of, load_yaml, misplaced, set_item
from agents.machine import address_space, memory_bytes, memory_figures

if TYPE_CHECKING:
    from agents.evaluation import GameSpec
    from envs.gameboy.roms import RomError

# The game options with a flag of their own in train_ppo.py (--size, ...; the rest take --set env_kwargs.KEY)
ENV_FLAGS = ("size", "obs", "difficulty", "opponent", "rom", "state", "game", "allow_unknown_rom", "swarm")
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
    return flag_of(key) if own else f"--set env_kwargs.{key}"


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
    cfg["env_kwargs"], spec = check_options(cfg["env"], cfg["env_kwargs"], typed, cfg["num_workers"])
    check_memory(cfg, spec.obs_shape, board_bytes=spec.board_bytes)
    check_swarm_prob(cfg["env"], cfg["env_kwargs"])  # a value the game accepts, but unused
    check_self_play(cfg)
    from agents.selfplay import uses_self_play

    changed = [k for k, v in cfg["self_play"].items() if v != DEFAULTS["self_play"][k]]
    if changed and not uses_self_play(cfg):  # new runs only: a --resume keeps what its run was given
        raise ValueError(f"{', '.join(f'self_play.{k}' for k in changed)} (--set or --config) applies to "
                         "self-play only (--env snake_duel --opponent policy), which this run does not use: "
                         "drop it, or train duel Snake with --opponent policy")


def check_options(env: str, env_kwargs: dict, typed: Collection[str] = (), workers: int = 0
                  ) -> tuple[dict, GameSpec]:
    """``env_kwargs`` as the game reads them, and what a board of ``env`` made with them is, from one board:
    a value the game refuses is a ``ValueError`` naming the flag, or ``--set env_kwargs.<key>`` for the
    options in ``typed`` (given so)."""
    from agents.runs import game_options
    from envs import game_class
    from envs.base import GameDefinitionError, whole_options
    from envs.gameboy.roms import RomError, StateError, StateOfAnotherRom  # no emulator: messages only

    # As the game reads them (--set env_kwargs.size=10.0 is size 10 in config.yaml too; 1e-2 a number)
    env_kwargs = whole_options(game_class(env), env_kwargs)
    kwargs = dict(env_kwargs)
    known = game_options(env)  # checked before the game is built: a Game Boy game checks its ROM first
    for key in kwargs:
        if known is not None and key not in known:
            # Its options named: --help lists flags for a few of them only (none of Rotation's)
            elsewhere = misplaced([key], "env_kwargs", env)  # ppo's n_epochs, the top-level seed
            raise ValueError(f"{env_flag(key, typed)} does not apply to --env {env} ({env}'s "
                             f"options: {', '.join(sorted(known))}){elsewhere}")
    if kwargs.get("swarm") and not kwargs.get("archive_dir"):
        kwargs["swarm"] = False  # its archive folder comes with the run folder, made next
    try:
        spec = probe_game(env, kwargs, workers)
    except GameDefinitionError:  # the game's code at fault, not an option: reported as it is
        raise
    except RomError as e:
        raise rom_flag_named(e, env_flag("rom", typed), kwargs.get("rom")) from None
    except TypeError as e:
        raise ValueError(f"env_kwargs for {env}: {e}") from e
    except ValueError as e:  # a value the game refuses: name the flags whose options the message names
        # A start state's refusal is --state's alone, whatever it says ("the --rom, given as --state?"),
        # but one made on another ROM is as much the ROM's
        if isinstance(e, StateOfAnotherRom):
            options = {"state": env_kwargs.get("state"), "rom": env_kwargs.get("rom")}
        elif isinstance(e, StateError):
            options = {"state": env_kwargs.get("state")}
        else:
            options = env_kwargs
        named = [flag for key, value in options.items() for flag in flags_named(str(e), key, value, typed)]
        raise ValueError(f"{e} (change {' or '.join(named)})" if named else
                         f"env_kwargs for {env}: {e}") from None
    return env_kwargs, spec


def rom_flag_named(error: RomError, flag: str, rom: Any) -> Exception:
    """``error``, a ROM refused (not a Game Boy ROM, cut short, missing), as a ``ValueError`` whose first
    line, the one that starts ``error:``, names ``flag`` (``--rom``) to change, its explanation kept below:
    the game names the file only. Left as it is where that line names a flag already (``--game``, ``--rom``;
    not the hint of a state given as the ROM, ``STATE_AS_ROM``) or PyBoy is missing (``PyBoyMissingError``:
    no ROM fixes that). ``rom``: the ROM's path, as the game got it, whose own " --" (``/data/old
    --roms/x.gb``) is no flag."""
    from envs.gameboy.roms import STATE_AS_ROM

    first = str(error).partition("\n")[0].replace(STATE_AS_ROM, "")  # a hint, not the flag to change
    if isinstance(rom, str) and rom:
        first = first.replace(rom, "")
    if isinstance(error, ImportError) or re.search(r"(^|\s)--\w", first):  # a flag, not a path's "--"
        return error
    return ValueError(first_line_noted(str(error), f"(change {flag})"))


def first_line_noted(message: str, note: str) -> str:
    """``message`` with ``note`` at the end of its first line (before its full stop), the line that starts
    ``error:``: a multi-line error's explanation below is kept, and a note after it went unseen."""
    first, newline, rest = message.partition("\n")
    end = "." if first.endswith(".") else ""
    return f"{first.removesuffix('.')} {note}{end}{newline}{rest}"


def game_options_given(args: argparse.Namespace) -> list[str]:
    """The game's options a script parsed with ``add_game_arguments`` and ``--set`` was given, as typed
    (``--size``, ``--set env_kwargs.size=8``): refused where a run folder's config.yaml sets them."""
    return [flag_of(f) for f in ENV_FLAGS if getattr(args, f, None) is not None] + [
        f"--set {item}" for item in args.set]


#: The game options evaluation sets itself (``eval_kwargs``), each with whether ``refuse_fixed_options``
#: refuses the value given, ``refused(given, defaults, bot)`` (``given``: the options as the game reads
#: them; ``defaults``: the game's; ``bot``: evaluation's opponent), and why evaluation never uses it. One
#: table: the keys evaluation_fixes_them knows are the keys refused, and each has its reason.
EVAL_FIXED: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any], str], bool], str]] = {
    "opponent": (lambda given, defaults, bot: given.get("opponent", bot) != bot,
                 "evaluation plays every duel against the {bot} bot (one yardstick for all)"),
    "swarm": (lambda given, defaults, bot: bool(given.get("swarm")),
              "evaluation starts every episode from the start state"),
    "swarm_prob": (lambda given, defaults, bot: defaults.get("swarm_prob") is not None
                   and given.get("swarm_prob", defaults["swarm_prob"]) != defaults["swarm_prob"],
                   "it weighs swarm restarts, which evaluation never plays"),
    "archive_dir": (lambda given, defaults, bot: given.get("archive_dir") is not None,  # null: none
                    "evaluation archives no state"),
}


def evaluation_fixes_them(args: argparse.Namespace) -> bool:
    """Whether every game option given (``game_options_given``) is one evaluation sets itself: refused beside
    a run, played without it, it is refused or does nothing too, so that is no way out to point to."""
    keys = [f for f in ENV_FLAGS if getattr(args, f, None) is not None]
    keys += [".".join(set_item(item)[0][1:]) for item in args.set]
    return all(key in EVAL_FIXED for key in keys)


def settings_beside_run(args: argparse.Namespace, config: str) -> str | None:
    """Why the ``--set`` items that set no game option (``seed=3``, ``ppo.n_steps=5``) are refused beside a
    run, whose ``config`` (its config.yaml) sets the game's options; None where there is none. Refused as
    game options, they were said to be set by the run's config.yaml; a script's own flag (``--seed``,
    ``--device``) is named in place of its ``--set``."""
    import shlex

    other = [item for item in args.set if set_item(item)[0][0] != "env_kwargs"]
    if not other:
        return None
    fixes = []
    for item in other:
        parts, raw = set_item(item)
        own = len(parts) == 1 and parts[0] in ("seed", "device")  # both callers have --seed and --device
        fixes.append(f"give --{parts[0]} {shlex.quote(raw.strip())} in place of --set {item}" if own else
                     f"drop --set {item}")
    return (f"{' and '.join(f'--set {item}' for item in other)}: --set takes only the game's options "
            f"(env_kwargs.KEY=VALUE) here, which {config} sets; {', '.join(fixes)}")


def flag_options(env: str, args: argparse.Namespace) -> tuple[dict[str, Any], GameSpec]:
    """The game options a script that plays ``env`` without a run folder (compare.py, evaluate.py --vlm) was
    given: its game flags (``add_game_arguments``) and ``--set env_kwargs.KEY=VALUE``, over the game's own
    defaults, read as train_ppo.py reads them and checked by building one board; a bad one is a
    ``ValueError`` naming its flag. ``--state none`` boots the ROM. A flag and a ``--set`` of one option:
    ``refuse_flag_and_set``. With the options, what a board of the game is (``check_options``'s one build).
    The callers play them through ``eval_kwargs``, after this check of the values as given."""
    from agents.config import apply_set, read_choices
    from envs.gameboy.roms import RomError  # no emulator imported: hashing and messages only

    for item in args.set:
        if set_item(item)[0][0] != "env_kwargs":
            raise ValueError(f"--set {item}: only the game's options (--set env_kwargs.KEY=VALUE) apply here")
    given = apply_set({"env_kwargs": {}}, args.set)
    read_choices(given)  # --set env_kwargs.obs=PIXELS, as --obs PIXELS
    kwargs = given["env_kwargs"]
    add_game_flags(env, kwargs, args)  # as in a run's config.yaml: the report is read from anywhere later
    refuse_fixed_options(env, kwargs, args.set)
    try:
        return check_options(env, kwargs, set_options(args.set))
    except (RomError, FileNotFoundError) as e:  # a --rom or --state it cannot use, said as train_ppo.py does
        raise ValueError(str(e)) from None


def refuse_fixed_options(env: str, env_kwargs: dict, assignments: list[str]) -> None:
    """Refuse the game options that evaluation sets itself (``eval_kwargs``), given another value to a game
    played without a run: they were accepted and then never used (a duel's ``opponent=random`` played the
    greedy bot). An option ``env`` lacks is left to ``check_options``, which names the game's options. The
    refusal names a value that the ``--set`` ``assignments`` gave as it was typed (``swarm=yes``, not the
    ``True`` YAML reads)."""
    from agents.evaluation import EVAL_OPPONENT
    from agents.runs import game_defaults, game_options
    from envs import game_class
    from envs.base import whole_options

    known = game_options(env)
    given = whole_options(game_class(env), env_kwargs)  # swarm_prob=5e-1 is the default's 0.5
    defaults = game_defaults(env)
    typed = set_options(assignments)
    raw = {parts[1]: value.strip() for parts, value in map(set_item, assignments)  # the later of two wins
           if len(parts) == 2 and parts[0] == "env_kwargs"}
    for key, (refused, reason) in EVAL_FIXED.items():
        if refused(given, defaults, EVAL_OPPONENT) and (known is None or key in known):
            flag = env_flag(key, typed)
            # As typed: --set env_kwargs.opponent=random, --opponent random, --swarm (a flag without a value)
            shown = (f"{flag}={raw.get(key, given[key])}" if flag.startswith("--set") else
                     flag if given[key] is True else f"{flag} {given[key]}")
            reason = reason.format(bot=EVAL_OPPONENT)
            raise ValueError(f"{shown}: {reason}, so the value is never used; drop it")


def add_game_flags(env: str, env_kwargs: dict, args: argparse.Namespace) -> None:
    """The game flags given (``add_game_arguments``) set over ``env_kwargs``, which ``--set`` has set:
    blank paths refused, ``--state none`` (the word, from a flag, ``--set`` or a --config file, where YAML
    reads it as text) stored as null, to boot the ROM rather than look for a file named none, and paths
    stored absolute (``absolute_paths``)."""
    from envs.gameboy.roms import no_start_state

    refuse_blank_paths(args.set, env)
    env_kwargs.update({f: getattr(args, f) for f in ENV_FLAGS if getattr(args, f, None) is not None})
    if env_kwargs.get("state") is not None and no_start_state(env_kwargs["state"]):
        env_kwargs["state"] = None
    absolute_paths(env, env_kwargs)


# What the rollout buffer keeps a board each step besides its observation: the action (int64 in
# DeviceRolloutBuffer, float32 in SB3's) and six float32s (reward, return, episode start, value, log-prob,
# advantage).
STEP_SCALARS = 32


def lstm_state_bytes() -> int:
    """What sb3-contrib's ``RecurrentRolloutBuffer`` keeps a board each step for a ``--recurrent`` run: the
    hidden and cell states of the policy's LSTM and the value's (four float32 arrays, kept even for a shared
    one), of the policy's defaults, which the presets keep (256 units, one layer: 4,096 bytes, ten times a
    Snake observation)."""
    import inspect

    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    params = inspect.signature(RecurrentActorCriticPolicy).parameters
    return 4 * params["n_lstm_layers"].default * params["lstm_hidden_size"].default * 4


def check_memory(cfg: dict, obs_shape: tuple[int, ...], resume: bool = False, board_bytes: int = 0) -> None:
    """Refuse a run whose buffers, boards and network passes alone outgrow this machine's RAM and swap:
    allocating them took minutes (or ended in a bus error) before failing, or failed once training started.
    Counted: the vector env's step buffers (the observations, the ended episodes' last ones, a copy of the
    observations), unless it lives on a CUDA device the rollout buffer's ``ppo.n_steps`` steps per board (a
    uint8 observation, its ``STEP_SCALARS``, and a ``--recurrent`` run's LSTM states, ``lstm_state_bytes``,
    always in RAM), each board's state, ``board_bytes`` (``Game.board_bytes``: a Game Boy's emulator, 0.9
    MB, is 13 times its step buffers), and, unless the network runs on a CUDA device, the larger of its
    passes (``activation_bytes``: a rollout step over every board, an update step over ``ppo.batch_size``
    observations); everything else a run holds comes on top, so a run refused here could never fit.
    ``resume``: a ``--resume``, which keeps the run's --num-envs, ppo.n_steps, ppo.batch_size and --policy
    (a run trained on CUDA resumed with --device cpu brings its rollout buffer and network passes into RAM;
    --device cuda is named where what stays in RAM then fits)."""
    limit = memory_bytes()
    if limit is None:
        return
    boards, steps = cfg["num_envs"], cfg["ppo"]["n_steps"]
    per_board = math.prod(obs_shape)
    lstm = lstm_state_bytes() if cfg["recurrent"] else 0
    per_step = per_board + STEP_SCALARS + lstm
    on_gpu = str(cfg["device"]).startswith("cuda")
    host_rollout = bool(cfg["recurrent"]) or not on_gpu
    in_ram = boards * (per_board * 3 + board_bytes)  # on any device: step buffers and boards
    buffers = in_ram + (boards * per_step * steps if host_rollout else 0)
    network, net_text, net_change = 0, "", ""
    if not on_gpu:
        from agents.policies import activation_bytes

        rollout, update = activation_bytes(cfg["policy"], cfg["env"], obs_shape)
        batch = cfg["ppo"]["batch_size"]
        if rollout * boards >= update * batch:
            network = rollout * boards
            net_text = (f", and the network's rollout step, which passes all {boards:,} boards through the "
                        f"{cfg['policy']} policy at once ({rollout:,} bytes a board)")
            net_change = "a smaller --num-envs or --policy"
        else:
            network = update * batch
            net_text = (f", and the network's update step over ppo.batch_size {batch:,} observations "
                        f"({update:,} bytes each, before its gradients)")
            auto = batch == auto_batch_size(steps, boards)  # likely auto's: --num-envs sizes it too
            net_change = (f"a smaller --set ppo.batch_size (auto: ppo.n_steps × --num-envs / {MINIBATCHES}), "
                          "--num-envs or --policy" if auto else "a smaller --set ppo.batch_size or --policy")
    need = buffers + network
    if need <= limit:
        return
    state = f" and the games' state ({board_bytes:,} bytes a board)" if board_bytes else ""
    lstm_text = f", {lstm:,} of LSTM state" if lstm else ""
    what = (f"ppo.n_steps {steps:,} × --num-envs {boards:,} steps of {per_step:,} bytes (the rollout buffer: "
            f"an observation of {per_board:,}{lstm_text}, and the action, reward and value), with the step "
            f"buffers{state}{net_text}," if host_rollout else
            f"the step buffers of --num-envs {boards:,} boards ({per_board:,} bytes an observation){state}")
    # The settings that size the larger part.
    change = net_change if network > buffers else (
        "a smaller --num-envs or --set ppo.n_steps" if host_rollout else "a smaller --num-envs")
    if resume:
        import torch

        # Said where it applies: a CPU-only box told "--device cuda" got torch's "no CUDA" next.
        where = "" if torch.cuda.is_available() else " on a machine with a CUDA GPU (this one has none)"
        gpu = (f"--device cuda{where}, where the rollout buffer and the network's passes are not in RAM (the "
               "run keeps its --num-envs, ppo.n_steps, ppo.batch_size and --policy)")
        cuda_fits = host_rollout and not cfg["recurrent"] and in_ram <= limit
        change = gpu if cuda_fits else "a machine with more memory"
    raise ValueError(f"{what} need {memory_shortfall(need, limit)}: the run does not fit in memory; "
                     f"use {change}")


def memory_shortfall(need: int, limit: int) -> str:
    """How a refusal says that ``need`` bytes outgrow the ``limit`` of ``memory_bytes``, naming the cgroup
    or the address-space limit where that is its cap (a user who sees the machine's figures in ``free``
    would doubt it)."""
    space = address_space()
    if space is not None and space[1] <= limit:  # the process maps more since; RAM and swap leave more
        return (f"at least {need / 2**30:,.1f} GiB of memory, more than this process may take "
                f"({space[1] / 2**30:,.1f} GiB of address space left under its limit of "
                f"{space[0] / 2**30:,.1f} GiB: ulimit -v)")
    figures = memory_figures()
    capped = figures is not None and figures[1] == limit < figures[0]
    cause = ", as capped by its cgroup: a container's or job's memory limit" if capped else ""
    return (f"at least {need / 2**30:,.1f} GiB of memory, more than this machine has "
            f"({limit / 2**30:,.1f} GiB of RAM and swap{cause})")


def probe_game(env: str, kwargs: dict, workers: int) -> GameSpec:
    """What a board of ``env`` made with ``kwargs`` is, from one board (closed again). With ``workers`` to
    come, their fork server is started first: its imports (1-2 s) run while the board is made."""
    from agents.evaluation import GameSpec
    from envs import make_game
    from envs.vector import prepare_workers

    if workers:
        prepare_workers(env)
    probe = make_game(env, num_envs=1, **kwargs)
    try:
        return GameSpec.of(probe)
    finally:
        probe.close()


def check_swarm_prob(env: str, kwargs: dict) -> None:
    """A swarm_prob other than the default without --swarm: the run would train without restarts and
    drop the setting without a word (new runs only: a --resume keeps what its run was given)."""
    from agents.runs import game_defaults

    if "swarm_prob" not in kwargs or kwargs.get("swarm"):
        return
    default = game_defaults(env).get("swarm_prob")
    if default is not None and kwargs["swarm_prob"] != default:
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
