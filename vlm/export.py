"""One export: a trained run's play -> trajectory store -> task records -> images -> splits -> trainer
formats -> dataset card. The logic behind ``scripts/export_trajectories.py``.

Everything a user could get wrong (run folder, model, task module, formats, ratios, output folder) is
checked before any work starts. The export is built in a hidden sibling folder and moved into place
only when complete, so a failed or interrupted export never leaves a half-written dataset, and an
existing one is replaced (``--overwrite``) only by a finished new one.

Parallelism: episodes go in fixed chunks of ``CHUNK`` to ``--workers`` processes (one chunk plays in this
process), which play them, then replay the kept ones writing frames, task images and step rows. Chunks,
seeds and record ids do not depend on the number of workers, so the same command gives byte-identical
records with any ``--workers``.
The workers ignore Ctrl-C and SIGTERM: the parent stops them and cleans up, so one message is shown.

An export without task records (``--tasks-per-state 0``) is trajectories only: no record files, no
curriculum and no trainer formats.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import importlib
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from agents.cli import (
    EPISODE_SEED,
    EPISODE_STEP_CAP,
    EpisodeProgress,
    figure,
    first_few,
    given_path,
    progress_bar,
)
from agents.config import check_device
from agents.evaluation import check_fits, eval_kwargs
from agents.interrupts import settled, stop_at_safe_points, stop_point, stop_signals_held, uninterruptible
from agents.outputs import (
    check_output_folder,
    empty_folder,
    exclusive_lock,
    folder_identity,
    json_object_or_none,
    made_in,
    missing_folders,
    not_written,
    process_running,
    remove_folders,
)
from agents.runs import (
    CHECKPOINT_NAME,
    OS_LITTER,
    RunError,
    file_sha1,
    foreign_entries,
    kept_checkpoints,
    moved_aside,
    replaced_aside,
    trainer,
    training_now,
)
from envs import GAMES, game_class, make_game
from envs.vector import prepare_workers, stop_forkserver
from envs.worker import JOB_STOP_SIGNALS
from vlm import formats as fmt
from vlm import splits as sp
from vlm.card import write_card
from vlm.imagestore import IMAGE_DIR, ImageStore, check_image
from vlm.record import FAMILIES, LEVELS, TaskDraft, record_id
from vlm.tasks import drawn_families, module_place, raised_problem
from vlm.trajectories import (
    EPISODE_FILE,
    OWNER,
    STEP_FILES,
    TRAJ_DIR,
    EpisodeLog,
    ReplayMismatch,
    RunInfo,
    StepWriter,
    episode_row,
    load_policy,
    package_versions,
    play,
    replay,
    resolve_run,
    write_episodes,
    write_minari,
)
from vlm.verify import spec_problem

# What a worker imports before its first job (torch through vlm.export's own imports, SB3 through
# agents.train: with Numba's one-off set-up ~3 s a worker on the 2-core box), done once in the fork server
# the workers are forked from (envs.vector.prepare_workers adds Numba's set-up and the game's modules).
_PRELOAD = ("vlm.export", "agents.train")
CHUNK = 32  # episodes per job: the unit of parallel work, fixed so results never depend on --workers
META = f"{TRAJ_DIR}/meta.json"  # also what marks a folder as a depthfirst export (--overwrite checks it)
# What an export writes at its top level (all that --overwrite may replace).
EXPORT_ENTRIES = ("README.md", "curriculum.json", IMAGE_DIR, TRAJ_DIR, "minari", OWNER,
                  *fmt.FORMATS, *(f"{split}.jsonl" for split in sp.SPLIT_NAMES), *OS_LITTER)
# The files an export writes inside those folders, as relative paths whose parts are glob patterns: a file
# there that matches none is the user's (a training config put in llamafactory/, a notebook in
# trajectories/), and --overwrite refuses to remove it with the old export.
EXPORT_FILES = (
    f"{IMAGE_DIR}/??/*.png",
    f"{TRAJ_DIR}/meta.json", EPISODE_FILE, STEP_FILES,
    "llamafactory/dataset_info.json",
    *(f"{folder}/{split}.{ext}" for split in sp.SPLIT_NAMES for folder, ext in (
        ("llamafactory", "json"), ("easyr1", "parquet"), ("verl", "parquet"), ("openrlhf", "jsonl"),
        ("swift", "jsonl"))),
    *(f"swift/{split}_rl.jsonl" for split in sp.SPLIT_NAMES),
    "trl/dataset_dict.json",
    *(f"trl/{split}/{name}" for split in fmt.HF_SPLIT.values()
      # cache-*.arrow: what `datasets` writes beside the data when a loaded split is mapped or filtered
      for name in ("data-*-of-*.arrow", "dataset_info.json", "state.json", "cache-*.arrow")),
    "minari/*/namespace_metadata.json", "minari/*/*/namespace_metadata.json",
    "minari/*/*/*/data/metadata.json", "minari/*/*/*/data/*/metadata.json", "minari/*/*/*/data/*/*.arrow",
)
MAX_SCALE = 64  # pixels per cell: a 20-cell board (or a Game Boy screen) is then 1,280 pixels wide


class ExportError(RuntimeError):
    """Bad input or an export that cannot be made; the message says what to change."""


@dataclass
class ExportOptions:
    run: str
    out: str
    episodes: int = 100
    formats: str = "all"
    workers: int = 1
    min_score: float | None = None
    minari: bool = False
    seed: int = EPISODE_SEED
    overwrite: bool = False
    checkpoint: str | None = None
    tasks_per_state: int = 2
    mix: str | None = None
    split: str | None = None  # None: splits.DEFAULT_SPLIT (None, not it, so a --split given can be told)
    stochastic: bool = False
    scale: int = 16
    relative_paths: bool = False
    max_steps: int = EPISODE_STEP_CAP
    device: str = "cpu"
    progress: bool = True
    command: str = ""


@dataclass
class Plan:
    """The checked, resolved export."""

    opts: ExportOptions
    run: RunInfo
    out: Path
    formats: list[str]
    mix: dict[str, float] | None
    ratios: tuple[float, float, float]
    task_module: str | None
    notes: list[str] = field(default_factory=list)  # told once on stderr before the play


def plan(opts: ExportOptions) -> Plan:
    """Check every input; raise ``ExportError`` naming the flag to fix. Writes nothing."""
    for name, value, low in (("--episodes", opts.episodes, 1), ("--workers", opts.workers, 1),
                             ("--tasks-per-state", opts.tasks_per_state, 0), ("--scale", opts.scale, 1),
                             ("--max-steps", opts.max_steps, 1), ("--seed", opts.seed, 0)):
        if value < low:
            raise ExportError(f"{name} must be >= {low}, got {value}")
    if opts.scale > MAX_SCALE:
        raise ExportError(f"--scale must be <= {MAX_SCALE} (pixels per cell), got {opts.scale}")
    try:
        formats = fmt.parse_formats(opts.formats)
        mix = sp.parse_mix(opts.mix)
        ratios = sp.parse_ratios(sp.DEFAULT_SPLIT if opts.split is None else opts.split)
    except ValueError as e:
        raise ExportError(str(e)) from None
    # "all" or "none" as parse_formats reads them ("ALL,", "all,all"): not the raw text, which named them
    # formats the user never typed.
    keyword = fmt.keyword(opts.formats)
    refused = _needs_task_records(opts, keyword, mix)
    if opts.tasks_per_state == 0:  # trajectories only: no task records, so nothing for a trainer format
        formats = []
    raise_tasks = " (or raise --tasks-per-state)"
    try:
        run = resolve_run(opts.run, opts.checkpoint)
    except RunError as e:
        if refused:  # the flags are told first, as before the run is read
            raise ExportError(refused + raise_tasks) from None
        raise ExportError(str(e)) from None
    if refused:
        from vlm.tasks import TASK_GAMES

        # A game without a task module refused a raised --tasks-per-state in turn: it is told so at once.
        raise ExportError(refused + (raise_tasks if run.env in TASK_GAMES else
                                     f"; {run.env} has no task module: its exports are trajectories only"))
    module, notes = _checked_task_module(opts, run.env, mix) if opts.tasks_per_state > 0 else (None, [])
    # After the run's game: a game with no task module is told to use --tasks-per-state 0 (which needs
    # no datasets package), not to install datasets for a trl format it could never write.
    if "trl" in formats and not _installed("datasets"):
        # Named as the user gave it: the default "all" holds trl without the user typing it.
        default = keyword == "all"
        given = f"--formats {opts.formats}" + (" (the default)" if default else "")
        others = ",".join(name for name in fmt.FORMATS if name != "trl")
        raise ExportError(f"{given} writes trl, which needs the Hugging Face datasets package: "
                          'pip install -e ".[vlm]" (or pip install datasets), or leave trl out of --formats '
                          f"(e.g. --formats {others})")
    if opts.minari and not _installed("minari"):
        raise ExportError('--minari needs the minari package: pip install -e ".[vlm]" '
                          '(or pip install "minari>=0.5.3"), or drop --minari')
    try:
        check_device(opts.device)
    except ValueError as e:
        raise ExportError(str(e)) from None
    out = _checked_out(opts, run)
    if not opts.relative_paths:
        notes += _split_path_notes(out, formats)
    notes += _training_now_note(run)
    return Plan(opts, run, out, formats, mix, ratios, module, notes)


def _needs_task_records(opts: ExportOptions, keyword: str | None, mix: dict[str, float] | None) -> str | None:
    """With ``--tasks-per-state 0`` (trajectories only: no task records), the refusal of the first flag
    given that needs them (``keyword``: ``fmt.keyword`` of --formats, ``mix``: the parsed --mix); None
    where there is none, or task records are drawn."""
    if opts.tasks_per_state != 0:
        return None
    if keyword is None:
        return (f"--formats {opts.formats}: trainer formats hold task records, and --tasks-per-state 0 draws "
                "none; drop --formats")
    if mix is not None:
        return (f"--mix {opts.mix}: the mix orders task records in the curriculum, and --tasks-per-state 0 "
                "draws none; drop --mix")
    if opts.split is not None:
        return (f"--split {opts.split}: the split deals the task records' episodes to train, val and test, "
                "and --tasks-per-state 0 draws none; drop --split")
    if opts.relative_paths and not opts.minari:  # with --minari: the card's Minari path made relative
        return ("--relative-paths: it makes the trainer formats' image paths relative, and "
                "--tasks-per-state 0 writes no trainer format; drop --relative-paths")
    return None


def _checked_task_module(opts: ExportOptions, env: str, mix: dict[str, float] | None
                         ) -> tuple[str, list[str]]:
    """The name of game ``env``'s task module, imported and checked before any play, and the notes on what
    it cannot draw of ``--mix`` and ``--tasks-per-state``; ``ExportError`` where it has none, it fails its
    contract, or it draws none of the families ``mix`` asks for."""
    from vlm.tasks import TASK_GAMES, drawn_families, listed, missing_module, plural, task_module

    if env not in TASK_GAMES:
        raise ExportError(
            f"env {env!r} has no task module: {missing_module(env)}; export only its "
            "trajectories with --tasks-per-state 0. Envs with task modules: "
            f"{', '.join(TASK_GAMES) or 'none'}")
    try:
        games_module = task_module(env)  # imports it and checks the contract, before any play
    except (ImportError, TypeError) as e:  # its message names the module (module_place) already
        raise ExportError(str(e)) from None
    notes: list[str] = []
    # A module may say which families it draws (FAMILIES; all of them when it does not): a --mix of
    # only families it never draws gave every curriculum stage an empty schedule, silently.
    drawn = drawn_families(games_module)
    if mix and not any(ratio > 0 and family in drawn for family, ratio in mix.items()):
        raise ExportError(f"--mix {opts.mix}: {env} has no records of "
                          f"{', '.join(f for f, r in mix.items() if r > 0)}; its families are "
                          f"{', '.join(drawn)}")
    undrawn = [f for f, r in mix.items() if r > 0 and f not in drawn] if mix else []
    if undrawn and mix:  # their share went to the others, while the card named the ratios given
        kept = [f for f, r in mix.items() if r > 0 and f in drawn]
        notes.append(f"note: --mix {opts.mix}: {env} draws no {listed(undrawn)} records (its "
                     f"families: {', '.join(drawn)}), so the curriculum mixes {listed(kept)}"
                     + (" alone" if len(kept) == 1 else ""))
    # make_tasks draws at most one task per family a state: more asked gave fewer, silently.
    if opts.tasks_per_state > len(drawn):
        notes.append(f"note: --tasks-per-state {opts.tasks_per_state}: {env} draws at most "
                     f"{plural(len(drawn), 'task')} per state (one per family: {', '.join(drawn)}), so "
                     f"each state gets all it has; --tasks-per-state {len(drawn)} is the most that counts")
    return games_module.__name__, notes


def _training_saves(run: RunInfo) -> str | None:
    """What the run's training does to the checkpoint played, as said to the user; None where it leaves it
    as it is (a copy of the user's, or a step_<N>.zip of a run that deletes none: --keep-checkpoints 0)."""
    own = _training_file(run)
    keeps_all = kept_checkpoints(run.cfg) == 0
    if own is None or (own == "checkpoint" and keeps_all):
        return None
    return "its saves rewrite model.zip" + ("" if keeps_all else " and delete older checkpoints")


def _training_now_note(run: RunInfo) -> list[str]:
    """A note where ``run`` is being trained and the checkpoint played is one of its own files: each save
    rewrites model.zip and deletes older checkpoints, and the export, refused at its end if the file changed
    (meta.json names it), said so only after the whole play, minutes in."""
    saves = _training_saves(run)
    if saves is None or not training_now(run.path):
        return []
    return [f"note: {run.path} is being trained now by {trainer(run.path)}: {saves}, and the export is "
            f"refused at its end if {run.checkpoint} changed; to be sure of it, copy the checkpoint out of "
            "the run folder and give the copy as --checkpoint"]


# Format -> the character its trainer splits its dataset argument on before it opens a file, the trainer,
# and what it reads there: EasyR1's RLHFDataset takes DATASET@SPLIT, OpenRLHF's (and lmm-r1's)
# blending_datasets a comma list of datasets.
_SPLIT_BY = {"easyr1": ("@", "EasyR1", "DATASET@SPLIT"), "openrlhf": (",", "OpenRLHF", "a list of datasets")}


def _split_path_notes(out: Path, formats: list[str]) -> list[str]:
    """A note for each of ``formats`` whose trainer would split the export's absolute path (``out``) as the
    card's command gives it: a folder ``a@b`` made EasyR1 look for the dataset ``.../a`` split ``b...``.
    Noted, not refused: the export is whole, its other formats read it, and with ``--relative-paths`` the
    card's commands name the files relative to the folder, where no such character is."""
    path = os.path.abspath(out)
    return [f"note: --out {path} holds {char!r}, which {trainer} reads as {what} in its dataset path: the "
            f"card's {name} command will fail in {trainer}; export to a folder without {char!r}, or with "
            "--relative-paths (then run the commands from the export's folder)"
            for name, (char, trainer, what) in _SPLIT_BY.items() if name in formats and char in path]


def _checked_out(opts: ExportOptions, run: RunInfo) -> Path:
    """The folder the export goes to (where ``--out`` points, if a link); ``ExportError`` where it, the run
    folder or the current folder is no UTF-8 path, where it lies inside the run folder or holds it or the
    current folder, is a file or a mount point, cannot be written, or is a folder ``--overwrite`` may not
    replace (``_out_problem``)."""
    out = Path(opts.out)
    try:
        target, home, cwd = out.resolve(), run.path.resolve(), Path.cwd().resolve()
    except (RuntimeError, OSError) as e:  # a symbolic link loop
        raise ExportError(f"--out {opts.out}: {e}") from None
    if out.is_symlink():  # export where the link points (the link stays), even to a folder not made yet
        out = target
    for what, path, fix in (("--out", target, "give another folder"),
                            ("the run folder", home, "rename it"),
                            ("the folder you are in", cwd, "run the export from another folder")):
        try:  # the records, meta.json and the card name these paths in UTF-8 text, found only at the end
            str(path).encode("utf-8")
        except UnicodeEncodeError:
            raise ExportError(f"{what} {os.fsencode(path)!r} is not a UTF-8 path, and the dataset's UTF-8 "
                              f"files name it; {fix}") from None
    if target == home or home in target.parents:
        raise ExportError(f"--out {out} is inside the run folder {run.path}; export somewhere else")
    if target in home.parents:
        raise ExportError(f"the run folder {run.path} is inside --out {out}, which an export replaces as a "
                          "whole; export somewhere else")
    if target == cwd or target in cwd.parents:
        raise ExportError(f"--out {out} is the folder you are in (or holds it), which an export replaces as "
                          f"a whole; give a new folder, e.g. --out {out / 'dataset'}")
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {opts.out} is a file; give a folder")  # as given, not where a link points
    if os.path.ismount(out):  # an empty mounted volume: the export is built beside --out and renamed in
        raise ExportError(f"--out {out} is a mount point, which an export cannot be renamed onto; export "
                          f"into a folder inside it, e.g. --out {out / 'dataset'}")
    try:  # a file in the way above --out, or a folder where nothing can be written
        check_output_folder(out, "--out")
    except ValueError as e:
        raise ExportError(str(e)) from None
    problem = _out_problem(out, opts.overwrite, run.env)
    if problem:
        raise ExportError(problem)
    return out


def _installed(package: str) -> bool:
    """Whether ``package`` can be imported as a real package. A plain folder of that name on ``sys.path``
    (the README's ``--out datasets/snake`` in the folder Python starts in) is only a namespace package,
    which ``find_spec`` finds too, and ``from datasets import Dataset`` then fails after all the work."""
    spec = importlib.util.find_spec(package)
    return spec is not None and spec.has_location


def _out_problem(out: Path, overwrite: bool, env: str) -> str | None:
    """Why the export of game ``env`` may not replace the folder ``out`` (None: it is missing,
    empty, or an export that ``--overwrite`` replaces). Checked before any work and again when the finished
    export moves in."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder"
    if not out.exists() or not any(out.iterdir()):
        return None
    export = (out / META).is_file()
    if not overwrite:
        game = _exported_game(out) if export else None
        if game not in (None, env):
            # Most likely a dataset of several games built in one folder, where --overwrite alone would
            # replace the first game's export.
            return (f"--out {out} already has data, a {game} export, and an export holds one game: "
                    f"export {env} into a folder of its own, then put the games together with "
                    "scripts/merge_exports.py (README.md's \"Several games in one dataset\"); or pass "
                    "--overwrite to replace that export")
        # --overwrite is offered only where it would be taken: it replaces an export, nothing else.
        fix = (", or pass --overwrite to replace that export" if export else
               f" (it is not a depthfirst export, no {META}, so --overwrite would not replace it either)")
        return f"--out {out} already has data; choose another folder{fix}"
    if not export:
        return f"--overwrite refuses to replace {out}: it is not a depthfirst export (no {META})"
    foreign = _foreign(out)
    if foreign:  # e.g. a predictions file put beside the splits: the export replaces the folder whole
        return (f"--overwrite refuses to replace {out}: it holds files an export does not write "
                f"({first_few(foreign, 5)}); move them out first")
    return None


def _exported_game(out: Path) -> str | None:
    """The game of the export in ``out``, by its meta.json; None where that cannot be read."""
    game = (json_object_or_none(out / META) or {}).get("env")
    return game if isinstance(game, str) else None


def _foreign(out: Path) -> list[str]:
    """What in ``out`` an export does not write: top-level entries, then files in its own folders, then
    files named as an export's that the export in ``out`` did not write (its meta.json says which)."""
    found = foreign_entries(out, EXPORT_ENTRIES) + _foreign_files(out)
    return found + sorted(set(_unwritten(out)) - set(found))


def _unwritten(out: Path) -> list[str]:
    """Files in ``out`` named as an export's own that the export there did not write, by its meta.json: a
    train.jsonl put into a trajectories-only export, swift/ beside an export without that format, a split
    file an empty split left unwritten, minari/ without --minari. The names alone passed these, and
    --overwrite deleted them. A meta.json that does not say what was written (unreadable, another
    version's) leaves the names to decide, as before."""
    meta = json_object_or_none(out / META) or {}
    try:
        wrote_records = sum(meta["counts"]["records"].values()) > 0
        formats = {name: set(files) for name, files in meta["formats"].items()}
        minari = meta["minari"] is not None
    except (TypeError, KeyError, AttributeError):  # none read, or not what an export writes
        return []
    found = [name for name in ("curriculum.json", *(f"{s}.jsonl" for s in sp.SPLIT_NAMES))
             if not wrote_records and (out / name).exists()]
    # Only the format folders and minari/ are walked: images/ holds a file per picture (hundreds of
    # thousands), all of them the export's by their content-addressed names (_foreign_files).
    for top in (*fmt.FORMATS, "minari"):
        for rel in _files_under(out, top):
            if any(fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], litter) for litter in OS_LITTER):
                continue  # OS litter is never the user's
            if top == "minari":
                written = minari
            else:  # datasets' own cache beside a loaded trl split is the export's (README: --overwrite)
                written = rel in formats.get(top, ()) or (
                    top == "trl" and top in formats and fnmatch.fnmatchcase(rel, "trl/*/cache-*.arrow"))
            if not written:
                found.append(rel)
    return found


def _files_under(out: Path, top: str) -> list[str]:
    """The files in folder ``out/top``, at any depth, and the links to folders there, as paths relative to
    ``out``; none where ``top`` is no folder or a link (a top-level entry is judged by its name alone:
    ``foreign_entries``). A linked folder is not walked (``--overwrite``'s rmtree removes only the link),
    but it is no export's either, so it is listed."""
    folder = out / top
    if folder.is_symlink() or not folder.is_dir():
        return []
    found = []
    for here, dirs, files in os.walk(folder):
        base = Path(here).relative_to(out)
        names = files + [d for d in dirs if os.path.islink(os.path.join(here, d))]
        found += [(base / name).as_posix() for name in names]
    return found


def _foreign_files(out: Path) -> list[str]:
    """Files (and links) inside the export's own folders of ``out`` that an export does not write, as
    paths relative to ``out``: ``--overwrite`` removes those folders whole, so it must not hold these."""
    return sorted(rel for top in EXPORT_ENTRIES for rel in _files_under(out, top) if not _export_file(rel))


def _export_file(rel: str) -> bool:
    """Whether the file at ``rel`` (relative to the export) is one an export writes, or OS litter."""
    parts = rel.split("/")
    if any(fnmatch.fnmatchcase(parts[-1], litter) for litter in OS_LITTER):
        return True
    # Names the glob patterns cannot pin down: an image is named by its SHA-1, in the folder of the hash's
    # first two digits (ImageStore.put), a step file by its chunk's number; "images/ab/cover.png" or
    # "steps/part-mine.parquet" is the user's.
    if parts[0] == IMAGE_DIR:
        return _IMAGE_FILE.fullmatch(rel) is not None
    if parts[:2] == [TRAJ_DIR, "steps"]:
        return _STEP_FILE.fullmatch(rel) is not None
    return any(len(pattern) == len(parts) and all(map(fnmatch.fnmatchcase, parts, pattern))
               for pattern in _EXPORT_FILE_PARTS)


_EXPORT_FILE_PARTS = [pattern.split("/") for pattern in EXPORT_FILES]
_IMAGE_FILE = re.compile(rf"{IMAGE_DIR}/([0-9a-f]{{2}})/\1[0-9a-f]{{38}}\.png")
_STEP_FILE = re.compile(rf"{TRAJ_DIR}/steps/part-[0-9]{{5,}}\.parquet")  # part-{chunk:05d}


# ------------------------------------------------------------------------------------ worker side

_MODEL: Any = None
# A pool worker's failed load of the checkpoint, raised by its jobs: raised in its initializer, it printed a
# traceback and broke the pool, which the export took for a worker killed (out of memory).
_MODEL_ERROR: RunError | None = None
# The running job's progress(episodes ended, steps played): the parent's bar, directly (jobs run in this
# process) or through _PROGRESS_QUEUE (a pool); None outside a job.
_PROGRESS: Callable[[int, int], Any] | None = None
_PROGRESS_QUEUE: Any = None  # in a pool's worker: where _pooled_job sends (job, episodes, steps)
REFRESH_S = 0.25  # steps are passed on (and shown) at most this often; every episode's end at once


def _exit_when_gone(pid: int) -> None:
    """Ends this worker once process ``pid`` (the export) has exited."""
    try:
        fd = os.pidfd_open(pid)  # readable once the process exits (Linux 5.3+)
    except (AttributeError, OSError):  # no pidfd here, or the export already gone: poll instead
        while process_running(pid):
            time.sleep(1)
        os._exit(1)
    select.select([fd], [], [])
    os._exit(1)


def _init_worker(run: RunInfo, device: str, queue: Any, parent: int) -> None:
    # A Ctrl-C (or a closed terminal's SIGHUP) is the parent's to act on: it stops the workers (close). Set
    # here, not only inherited: the fork server ignores JOB_STOP_SIGNALS alone (envs.vector.start_forkserver),
    # and a server another module started, or a spawned worker, ignores none.
    for sig in (*JOB_STOP_SIGNALS, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    # An export killed outright (SIGKILL, the out-of-memory killer) cannot stop its pool, and a worker
    # (ignoring SIGTERM, a child of the fork server, which outlives the export) would wait on the pool's
    # queue for good, holding its model's memory: it ends itself instead.
    threading.Thread(target=_exit_when_gone, args=(parent,), daemon=True, name="export-watch").start()
    import torch

    global _MODEL, _MODEL_ERROR, _PROGRESS_QUEUE
    torch.set_num_threads(1)  # one core per worker process: N workers use N cores, not N²
    _PROGRESS_QUEUE = queue
    try:  # the file may be gone since the export loaded it: a run still training deletes its older ones
        _MODEL = load_policy(run, device)
    except RunError as e:
        _MODEL_ERROR = e


def _progress(episodes: int, steps: int) -> None:
    if _PROGRESS is not None:
        _PROGRESS(episodes, steps)


def _pooled_job(key: int, fn: Callable[..., Any], *job: Any) -> Any:
    """In a pool's worker: ``fn(*job)``, its progress sent to the parent as ``(key, episodes, steps)``,
    at each episode's end and otherwise at most every ``REFRESH_S`` (a long Game Boy episode's steps)."""
    global _PROGRESS
    if _MODEL_ERROR is not None:
        raise _MODEL_ERROR
    last, steps = time.monotonic(), 0

    def report(episodes: int, played: int) -> None:
        nonlocal last, steps
        steps += played
        now = time.monotonic()
        if episodes or now - last >= REFRESH_S:
            _PROGRESS_QUEUE.put((key, episodes, steps))
            last, steps = now, 0

    _PROGRESS = report
    try:
        return fn(*job)
    finally:
        _PROGRESS = None
        if steps:
            _PROGRESS_QUEUE.put((key, 0, steps))


def _play_job(episodes: list[int], env: str, env_kwargs: dict[str, Any], seed: int, max_steps: int,
              deterministic: bool) -> list[EpisodeLog]:
    return play(_MODEL, env, env_kwargs, episodes, seed, max_steps, deterministic, progress=_progress)


@dataclass
class ReplaySettings:
    env: str
    env_kwargs: dict[str, Any]
    root: str
    scale: int
    tasks_per_state: int
    seed: int
    task_module: str | None  # None with --tasks-per-state 0 (plan leaves it out): no task records
    source: dict[str, Any]  # env, run, checkpoint, policy: the same for every record
    minari: bool


@dataclass
class ChunkOutput:
    episodes: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    minari_files: list[str] = field(default_factory=list)
    rom_sha1: str | None = None  # the Game Boy ROM the replay's game read (None for the other games)


def _check_draft(d: Any, where: str) -> TaskDraft:
    if not isinstance(d, TaskDraft):
        raise ExportError(f"{where}: make_tasks must return TaskDraft objects, got {type(d).__name__}")
    problems = []
    if d.family not in FAMILIES:
        problems.append(f"family {d.family!r} is not one of {FAMILIES}")
    if d.plot_level not in LEVELS or d.qa_level not in LEVELS:
        problems.append(f"levels must be in {LEVELS}, got plot_level {d.plot_level!r}, "
                        f"qa_level {d.qa_level!r}")
    if not isinstance(d.images, list) or not d.images:
        problems.append("a task needs at least one image")
    for name in ("qa_type", "question", "analysis"):
        value = getattr(d, name)
        if not isinstance(value, str) or not value:
            problems.append(f"{name} must be a non-empty string")
    # The text of the trainers' messages (the answer and analysis make the SFT reply), where LLaMA-Factory
    # and ms-swift count every <image> against the record's images.
    for name in ("question", "answer", "analysis"):
        value = getattr(d, name)
        if isinstance(value, str) and fmt.IMAGE_TOKEN in value:
            problems.append(f"{name} must not contain {fmt.IMAGE_TOKEN!r}, which trainers read as an image "
                            "placeholder")
    if not isinstance(d.answer, str):
        problems.append("answer must be a string (it may be empty)")
    problem = spec_problem(d.verifier)
    if problem:
        problems.append(problem)
    if d.options is not None and not (isinstance(d.options, list)
                                      and all(isinstance(o, str) for o in d.options)):
        problems.append("options must be None or a list of strings")
    try:  # NaN and infinity too: json would write them as NaN and Infinity, which most JSON readers refuse
        json.dumps([d.verifier, d.extra, d.options], allow_nan=False)
    except (TypeError, ValueError) as e:
        problems.append(f"verifier/extra/options must be JSON-able, with finite numbers only ({e})")
    if problems:
        raise ExportError(f"{where} ({d.qa_type!r}): " + "; ".join(problems))
    return d


def _state_records(module: Any, view: Any, frame: str, store: ImageStore, s: ReplaySettings) -> list[dict]:
    log, t = view.log, view.t
    source = {**s.source, "seed": log.seed, "episode": log.episode, "step": t, "frame": frame}
    where = f"{module_place(s.env)} make_tasks (episode {log.episode}, step {t})"
    try:
        drafts = module.make_tasks(view.state, np.random.default_rng([s.seed, log.episode, t]), dict(source))
    except Exception as e:
        if (problem := raised_problem(s.env, e)) is None:
            raise
        raise ExportError(f"{where} raised {problem}") from e
    if not isinstance(drafts, list):
        raise ExportError(f"{where}: must return a list of TaskDraft, got {type(drafts).__name__}")
    # Every draft, not only those picked: --mix, --tasks-per-state and the card count the families from
    # FAMILIES, one task each a state, which wrote records of a family it lacked while --mix of that family
    # was refused as none, and more records a state than the note and the card said.
    families = drawn_families(module)
    seen: dict[str, str] = {}  # family -> the qa_type of the state's draft of it
    for d in drafts:
        if not (isinstance(d, TaskDraft) and d.family in FAMILIES):
            continue  # _check_draft names it
        if d.family not in families:
            raise ExportError(f"{where} ({d.qa_type!r}): family {d.family!r} is not in its FAMILIES "
                              f"({', '.join(families)}): add it there, or draw no {d.family} task")
        if d.family in seen:
            raise ExportError(f"{where} ({d.qa_type!r}): a second {d.family} task (after "
                              f"{seen[d.family]!r}): it draws at most one task of each family a state, as "
                              "--tasks-per-state and the dataset card count them; choose one with rng")
        seen[d.family] = d.qa_type
    chosen = range(len(drafts))
    if s.tasks_per_state < len(drafts):
        pick = np.random.default_rng([s.seed, log.episode, t, 1]).choice(len(drafts), s.tasks_per_state,
                                                                          replace=False)
        chosen = sorted(int(k) for k in pick)
    # A picture several drafts share (or a spy game shows several players) is hashed once, keyed by the
    # array's id: ``drafts`` holds every picture until the loop ends, so no id is reused meanwhile.
    stored: dict[int, str] = {}

    def put(img: np.ndarray) -> str:
        if id(img) not in stored:
            try:  # a float or wrong-shaped picture: refused by name like any other bad draft, not a traceback
                stored[id(img)] = store.put(check_image(img, where))
            except ValueError as e:
                raise ExportError(str(e)) from None
        return stored[id(img)]

    out = []
    for k in chosen:
        d = _check_draft(drafts[k], where)
        images = [put(img) for img in d.images]
        rid = record_id(s.env, log.episode, t, k, d.question, d.options, images)  # position + content tag
        # The fields of TaskRecord, in order (built directly: dataclasses.asdict deep-copies every state).
        out.append({"id": rid, "game": s.env, "family": d.family,
                    "qa_type": d.qa_type, "plot_level": int(d.plot_level), "qa_level": int(d.qa_level),
                    "images": images, "question": d.question, "options": d.options, "answer": d.answer,
                    "analysis": d.analysis, "verifier": d.verifier, "source": source, "extra": d.extra})
    return out


def _replay_job(chunk: int, logs: list[EpisodeLog], s: ReplaySettings) -> ChunkOutput:
    root = Path(s.root)
    cls = game_class(s.env)
    module = importlib.import_module(s.task_module) if s.task_module else None
    store = ImageStore(root)
    result = ChunkOutput()
    writer = StepWriter(root / TRAJ_DIR / "steps" / f"part-{chunk:05d}.parquet", cls.ACTION_NAMES)
    game = make_game(s.env, num_envs=1, **s.env_kwargs)
    result.rom_sha1 = getattr(game, "rom_sha1", None)  # for meta.json: no emulator started for it alone
    try:
        for log in logs:
            observations = []
            for view in replay(s.env, s.env_kwargs, log, observe=s.minari, game=game):
                frame = store.put(cls.render_state(view.state, s.scale))
                if view.obs is not None:
                    observations.append(view.obs)
                if view.final:
                    result.episodes.append(episode_row(view, frame))
                    break
                writer.add(view, frame)
                if module is not None:
                    result.records.extend(_state_records(module, view, frame, store, s))
                _progress(0, 1)
            if s.minari:
                file = root / ".tmp" / "minari" / f"ep-{log.episode:07d}.npy"
                file.parent.mkdir(parents=True, exist_ok=True)
                np.save(file, np.stack(observations))
                result.minari_files.append(str(file))
            _progress(1, 0)
    finally:
        writer.close()
        game.close()
    result.steps = writer.count
    return result


# ------------------------------------------------------------------------------------ parent side

def _pool_context(env: str) -> Any:
    """The fork server's context (spawn where there is none), the server started and ready: a worker starts
    from a fresh process (no threads, locks or open files of this one), as a spawned one did, but with the
    imports done once in the server rather than again in each worker. A server is started once a process
    with the preload of whoever starts it: after a ``GameVecEnv`` with workers, each worker imports torch."""
    if not prepare_workers(env, _PRELOAD):
        return get_context("spawn")
    ctx = get_context("forkserver")
    # The pool's first start would wait for the server's imports (seconds) inside uninterruptible(), where
    # a Ctrl-C is dropped: this no-op process waits for them out here instead.
    probe = ctx.Process(target=int)
    try:
        probe.start()
        probe.join()
    except BaseException:  # a Ctrl-C while the server imports: it would import on after this exits
        stop_forkserver()
        raise
    return ctx


class _Runner:
    """Runs jobs in this process (one worker, or one job) or in a pool of processes (forked from the fork
    server, or spawned where there is none: ``_pool_context``)."""

    def __init__(self, run: RunInfo, workers: int, device: str, model: Any, jobs: int) -> None:
        self.pool: ProcessPoolExecutor | None = None
        self.queue: Any = None
        self.forked = False  # the pool's processes come from the fork server (not spawned)
        # At most one process a job (``jobs``: the most any pass submits); more would get none, and the pool
        # sizes a C-int semaphore by the count (--workers 1e12 was an OverflowError traceback). A pool of one
        # would only add a process's start to the same serial play.
        processes = min(workers, jobs)
        if processes > 1:
            ctx = _pool_context(run.env)
            self.forked = ctx.get_start_method() == "forkserver"
            self.queue = ctx.SimpleQueue()  # the workers' progress (_pooled_job)
            self.pool = ProcessPoolExecutor(processes, mp_context=ctx, initializer=_init_worker,
                                            initargs=(run, device, self.queue, os.getpid()))
        else:
            global _MODEL
            _MODEL = model

    def map(self, fn: Any, jobs: list[tuple], bar: Any, size: Callable[[tuple], int]) -> list[Any]:
        """``fn(*job)`` for every job, results in job order; ``bar`` (episodes) moves as each job's
        episodes end, and reaches ``size(job)`` more when the job is done."""
        steps = EpisodeProgress(bar, REFRESH_S)
        if self.pool is None:
            global _PROGRESS
            out = []
            for job in jobs:
                done_before = bar.n
                _PROGRESS = steps
                try:
                    out.append(fn(*job))
                finally:
                    _PROGRESS = None
                bar.update(size(job) - (bar.n - done_before))
            return out
        # The pool starts its processes in submit(): forked, they have SIGINT ignored from the fork server,
        # so a stop signal meanwhile is held and acted on once they are started (dropped, under a loaded box
        # it lost Ctrl-Cs for a second); spawned, they inherit SIGINT and SIGTERM ignored from here (Python
        # leaves an ignored SIGINT alone), so such a signal is dropped. _init_worker ignores both. So a
        # Ctrl-C reaches only this process, which stops them (close) and prints one line.
        with stop_signals_held() if self.forked else uninterruptible():
            futures: dict[Future, int] = {self.pool.submit(_pooled_job, k, fn, *job): k
                                          for k, job in enumerate(jobs)}
        counted = [0] * len(jobs)  # episodes the bar shows of each job
        pending = set(futures)
        # A stop is taken between waits (at most REFRESH_S away): taken inside wait()'s Condition.wait,
        # after it released its lock, it came out as a RuntimeError traceback, not the stop.
        with stop_at_safe_points():
            while pending:
                stop_point()
                done, pending = wait(pending, timeout=REFRESH_S, return_when=FIRST_COMPLETED)
                # A worker puts a job's reports before it sends the job's result, so they are all here now.
                while not self.queue.empty():
                    k, episodes, played = self.queue.get()
                    counted[k] += episodes
                    steps(episodes, played)
                for fut in done:
                    fut.result()
                    k = futures[fut]
                    bar.update(size(jobs[k]) - counted[k])  # a capped episode never reported its end
        return [fut.result() for fut in futures]

    def close(self, stop: bool = False) -> None:
        """Shut the pool down; ``stop``: kill the workers first (they ignore signals) instead of waiting
        for their jobs, whose output is thrown away."""
        if self.pool is not None:
            if stop:
                for proc in list(self.pool._processes.values()):  # no public way in Python < 3.14
                    proc.kill()
            self.pool.shutdown(cancel_futures=True)
            self.queue.close()
        global _MODEL
        _MODEL = None


def _count_files(folder: Path) -> int:
    """How many files ``folder`` holds at any depth (0 where it is missing): meta.json's image count."""
    return sum(len(files) for _, _, files in os.walk(folder)) if folder.is_dir() else 0


def _not_written(out: Path, e: OSError) -> ExportError:
    """The refusal of an export the disk would not take (``not_written``), naming ``--out``."""
    return ExportError(f"--out {not_written(out, e)}")


def export(opts: ExportOptions) -> dict[str, Any]:
    """Run the whole export; returns a summary (counts, seconds per phase, output folder)."""
    _put_right(Path(opts.out))  # first: it may put back the --out that plan checks
    # Before plan reads the run: a train_ppo.py --force moving it aside later gives its name another folder.
    # Absolute now: "." read later would be the working folder, which a --force moves aside with the run.
    home = Path(os.path.abspath(opts.run))
    identity = folder_identity(home)
    p = plan(opts)
    for note in p.notes:
        print(note, file=sys.stderr, flush=True)
    run = p.run
    env_kwargs = eval_kwargs(run.cfg["env_kwargs"])  # a two-player game is played against the greedy bot
    try:
        played_sha1 = file_sha1(run.checkpoint)  # checked again after the play: a training run rewrites it
        model = load_policy(run, opts.device)
        check_fits(model, run.env, env_kwargs, run.checkpoint)  # another game's: refused here, not mid-play
    except RunError as e:
        raise ExportError(str(e)) from None
    import torch

    out = p.out
    made = missing_folders(out.parent)  # removed again if the export fails
    partial = out.parent / f".{out.name}.partial"
    try:
        lock = made_in(out.parent, lambda: _claim(partial, out))  # a parent another export removes: again
    except BaseException as e:  # a full disk, a stop, another export's folder: none made for it is left
        remove_folders(made)
        if isinstance(e, OSError):
            raise _not_written(out, e) from None
        raise
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # same arithmetic in every process: probabilities are bit-identical
        try:  # (the caller's thread count comes back even when the workers fail to start)
            runner = _Runner(run, opts.workers, opts.device, model, -(-opts.episodes // CHUNK))
            stopped = True
            try:
                logs, kept, outputs = _play_and_replay(p, runner, model, env_kwargs, partial, times)
                stopped = False
            finally:
                runner.close(stop=stopped)  # workers are done (or killed) before the partial folder goes
        finally:
            torch.set_num_threads(threads)
        # The workers may have loaded another; a replaced run's folder holds another run's config.
        changed = _replaced(run, home, identity) or _checkpoint_changed(run, played_sha1)
        if changed is not None:
            raise changed
        summary = _finish(p, partial, model, logs, kept, outputs, times, t0, env_kwargs, played_sha1)
        # Again before the swap: a --force while the formats, Minari and the card were written (minutes).
        changed = _replaced(run, home, identity)
        if changed is not None:
            raise changed
    except BaseException as e:
        shutil.rmtree(partial, ignore_errors=True)
        lock.close()  # only now: another export that took the folder in between had it removed under it
        remove_folders(made)
        if isinstance(e, ReplayMismatch):
            raise ExportError(str(e)) from None
        if isinstance(e, RunError):  # a worker's load of the checkpoint: one gone since, most often
            raise (_replaced(run, home, identity) or _checkpoint_changed(run, played_sha1)
                   or ExportError(str(e))) from None
        if isinstance(e, BrokenProcessPool):  # killed from outside: most often by the out-of-memory killer
            raise ExportError(f"an export worker process died ({str(e).rstrip('.')}); if the machine ran "
                              "out of memory, export with fewer --workers") from None
        if isinstance(e, OSError):  # a full disk (here or in a worker)
            raise _not_written(out, e) from None
        raise
    try:  # locked until the export is in place: a second export sees this one until then
        _swap_into_place(partial, out, opts.overwrite, run.env)
    except BaseException:  # refused, or a stop that came before the swap held the signals
        shutil.rmtree(partial, ignore_errors=True)
        remove_folders(made)
        raise
    finally:
        lock.close()
    summary["out"] = os.path.abspath(out)  # as the checkpoint's: the JSON is read from anywhere
    return summary


def _replaced(run: RunInfo, home: Path, identity: tuple[int, int] | None) -> ExportError | None:
    """The refusal of an export whose run folder, at ``home`` (absolute, as the export started), is no longer
    the one of ``identity`` (a train_ppo.py --force moved it aside and made a new run at its name), else None:
    meta.json would name the new run as its run, and the run's model.zip, another model now, was blamed on
    the run's training."""
    now = folder_identity(home)
    shown = given_path(run.path, home)
    if now == identity:
        return None
    if now is None:  # moved or deleted, not (yet) replaced: nothing trains there
        return ExportError(f"{shown} was moved or removed during the export: nothing is written, as the "
                           "export's meta.json would name a run folder that is not there; export the run "
                           "from where it is now")
    # The old run where --force moved it (agents.runs.new_run_dir's .NAME.replaced[-k]), found by its
    # identity: --force deletes it once the new run finishes, often before a long export ends.
    real, old = Path(os.path.realpath(home)), moved_aside(home, identity)
    where = (f", or copy the old run out of {old}, where --force moved it (it deletes it once the new run "
             "finishes), and export the copy" if old is not None else
             f" (the old run is no longer beside it as {real.parent / replaced_aside(real.name)}: --force "
             "deletes it once the new run finishes)")
    return ExportError(f"{shown} was replaced during the export (a train_ppo.py --force moved the run "
                       "aside and trains a new one there): nothing is written, as the export would name the "
                       f"new run; export the new run once it is trained{where}")


def _checkpoint_changed(run: RunInfo, played_sha1: str) -> ExportError | None:
    """The refusal of an export whose checkpoint no longer holds the model it loaded (of SHA-1
    ``played_sha1``), else None."""
    checkpoint = run.checkpoint
    try:
        now_sha1: str | None = file_sha1(checkpoint)
    except FileNotFoundError:
        now_sha1 = None
    if now_sha1 == played_sha1:
        return None
    how = "changed" if now_sha1 else "was removed"
    saves = _training_saves(run)
    if saves is None:  # nothing of the run's training explains it
        return ExportError(f"{checkpoint} {how} during the export; give a checkpoint that stays as it is "
                           "until the export ends")
    # Only a copy stays: a training run rewrites model.zip and deletes its older step_<N>.zip.
    return ExportError(f"{checkpoint} {how} during the export (is the run still training? {saves}); "
                       "copy the checkpoint out of the run folder and give the copy as --checkpoint")


def _training_file(run: RunInfo) -> str | None:
    """Which file the run's training rewrites or deletes the checkpoint played is, given by any path or link:
    "model" for its model.zip (a save replaces what that name resolves to), "checkpoint" for one of its
    checkpoints/step_<N>.zip (pruning deletes the name); None for any other (a copy kept as best.zip)."""
    given = run.checkpoint
    model, saved = os.path.realpath(run.path / "model.zip"), os.path.realpath(run.path / "checkpoints")
    paths = (Path(os.path.realpath(given.parent), given.name), Path(os.path.realpath(given)))
    if any(str(path) == model for path in paths):
        return "model"
    if any(str(path.parent) == saved and CHECKPOINT_NAME.fullmatch(path.name) for path in paths):
        return "checkpoint"
    return None


def _play_and_replay(p: Plan, runner: _Runner, model: Any, env_kwargs: dict[str, Any], partial: Path,
                     times: dict[str, float]) -> tuple[list[EpisodeLog], list[EpisodeLog], list[ChunkOutput]]:
    """Both passes over the episodes, in ``runner``'s workers: play every one, keep those that reach
    --min-score (``ExportError`` where none does), then replay the kept ones into ``partial`` (states,
    frames, step rows, task records). Returns (every episode's log, the kept ones, each chunk's output);
    each pass's seconds go into ``times``."""
    opts, run, env = p.opts, p.run, p.run.env
    # Pass 1: play every episode (the policy's actions, probabilities and values).
    t0 = time.perf_counter()
    chunks = [list(range(k, min(k + CHUNK, opts.episodes))) for k in range(0, opts.episodes, CHUNK)]
    with progress_bar(opts.episodes, f"play {env}", "ep", opts.progress) as bar:
        jobs = [(c, env, env_kwargs, opts.seed, opts.max_steps, not opts.stochastic) for c in chunks]
        played = runner.map(_play_job, jobs, bar, lambda job: len(job[0]))
    logs = [log for chunk in played for log in chunk]
    kept = logs if opts.min_score is None else [log for log in logs if log.score >= opts.min_score]
    if not kept:
        best = max(log.score for log in logs)
        raise ExportError(f"no episode reached --min-score {opts.min_score} (the best of {len(logs)} "
                          f"scored {figure(best)}); lower --min-score, play more --episodes or train the run "
                          "longer")
    times["play"] = time.perf_counter() - t0

    # Pass 2: replay the kept episodes: states, frames, step rows, task records and their images.
    t1 = time.perf_counter()
    source = {"env": env, "run": run.path.name, "checkpoint": run.checkpoint.name,
              "policy": f"{type(model).__name__}/{run.preset}@{int(model.num_timesteps)}"}
    settings = ReplaySettings(env, env_kwargs, str(partial), opts.scale, opts.tasks_per_state, opts.seed,
                              p.task_module, source, opts.minari)
    kept_chunks = [kept[k:k + CHUNK] for k in range(0, len(kept), CHUNK)]
    with progress_bar(len(kept), f"replay {env} (frames, tasks)", "ep", opts.progress) as bar:
        outputs = runner.map(_replay_job, [(k, c, settings) for k, c in enumerate(kept_chunks)], bar,
                             lambda job: len(job[1]))
    times["replay_and_tasks"] = time.perf_counter() - t1
    return logs, kept, outputs


def _finish(p: Plan, root: Path, model: Any, logs: list[EpisodeLog], kept: list[EpisodeLog],
            outputs: list[ChunkOutput], times: dict[str, float], t0: float, env_kwargs: dict[str, Any],
            checkpoint_sha1: str) -> dict[str, Any]:
    """Everything after the replay, in the parent: splits, formats, Minari, meta, card."""
    from agents.policies import count_params

    opts, run, env = p.opts, p.run, p.run.env
    records = [r for o in outputs for r in o.records]
    write_episodes(root / EPISODE_FILE, [e for o in outputs for e in o.episodes])

    t = time.perf_counter()
    assignment = sp.assign_episodes([log.episode for log in kept], p.ratios, opts.seed)
    splits, dropped = sp.split_records(records, assignment)
    # Without records (--tasks-per-state 0) there is nothing to split, schedule or convert: no empty
    # record files, curriculum or trainer folders, only the trajectories.
    formats = p.formats if records else []
    manifest = None
    split_files = {}
    if records:
        for name, recs in splits.items():  # JSON-able: _check_draft refused any draft that was not
            split_files[name] = root / f"{name}.jsonl"
            fmt.write_jsonl(split_files[name], recs)
        manifest = sp.curriculum(splits["train"], p.mix, opts.seed)
        (root / "curriculum.json").write_text(json.dumps(manifest, indent=1) + "\n")
    times["splits"] = time.perf_counter() - t

    t = time.perf_counter()
    written: dict[str, list[str]] = {}
    dataset_name = f"depthfirst_{env}"
    paths = fmt.ImagePaths(p.out, opts.relative_paths)
    with progress_bar(sum(map(len, splits.values())) * len(formats), "formats", "rec", opts.progress) as bar:
        for name in formats:
            bar.set_description(f"format {name}")
            written[name] = fmt.write_format(name, root, split_files, splits, dataset_name, paths, bar.update)
    times["formats"] = time.perf_counter() - t

    minari_id = None
    if opts.minari:
        t = time.perf_counter()
        files = [f for o in outputs for f in o.minari_files]
        minari_id = write_minari(root, env, env_kwargs, kept, (np.load(f) for f in files),
                                 algorithm=f"depthfirst PPO ({run.preset})",
                                 description=f"Expert play of a depthfirst {env} specialist "
                                             f"({run.path.name}).")
        times["minari"] = time.perf_counter() - t
    shutil.rmtree(root / ".tmp", ignore_errors=True)

    scores = np.array([log.score for log in logs])
    kept_scores = np.array([log.score for log in kept])
    rom_sha1 = outputs[0].rom_sha1  # kept episodes are replayed, so there is a chunk
    test_cartridge = None
    if rom_sha1 is not None:  # a Game Boy game: was it the project's own cartridge, as built now?
        from envs.gameboy.roms import is_test_cartridge

        test_cartridge = is_test_cartridge(rom_sha1)
    meta = {
        "format": "depthfirst-export", "version": 1,
        "env": env, "gym_id": GAMES[env][1], "env_kwargs": env_kwargs, "env_config": run.cfg,
        "run": {"path": os.path.abspath(run.path), "checkpoint": os.path.abspath(run.checkpoint),
                "checkpoint_sha1": checkpoint_sha1},
        "policy": {"algorithm": type(model).__name__, "preset": run.preset,
                   "recurrent": bool(run.cfg.get("recurrent")), "parameters": int(count_params(model.policy)),
                   "num_timesteps": int(model.num_timesteps)},
        "seeds": {"base": opts.seed, "rule": "episode k is seeded base + k",
                  "kept_episodes": [log.episode for log in kept]},
        "stochastic": opts.stochastic, "min_score": opts.min_score, "tasks_per_state": opts.tasks_per_state,
        "scale": opts.scale, "split_ratios": list(p.ratios), "mix": p.mix,
        "relative_paths": opts.relative_paths,
        "counts": {"episodes_played": len(logs), "episodes_kept": len(kept),
                   "steps": sum(o.steps for o in outputs), "images": _count_files(root / IMAGE_DIR),
                   "records": {k: len(v) for k, v in splits.items()}, "dropped": dropped},
        "scores": {"played_mean": float(scores.mean()), "played_max": float(scores.max()),
                   "played_min": float(scores.min()), "kept_mean": float(kept_scores.mean()),
                   "kept_max": float(kept_scores.max())},
        "rom_sha1": rom_sha1,
        # Read by a merge's card: the cartridge rebuilt since (another SHA-1) is no user's ROM
        "test_cartridge": test_cartridge,
        "versions": package_versions(env, tasks=p.task_module is not None),
        "formats": written, "minari": minari_id, "dataset_name": dataset_name,
        "command": opts.command,
    }
    (root / META).write_text(json.dumps(meta, indent=1, sort_keys=False) + "\n")
    write_card(root, meta, splits, manifest, formats, root_hint=os.path.abspath(p.out))
    times["total"] = time.perf_counter() - t0
    return {"env": env, "checkpoint": meta["run"]["checkpoint"], "step": meta["policy"]["num_timesteps"],
            "episodes_played": len(logs), "episodes_kept": len(kept),
            "steps": meta["counts"]["steps"], "records": meta["counts"]["records"],
            "images": meta["counts"]["images"], "dropped": dropped, "formats": formats, "minari": minari_id,
            "seconds": {k: round(v, 2) for k, v in times.items()}}


def _claim(partial: Path, out: Path) -> Any:
    """Make ``partial`` this export's, holding a lock on its owner file until the export ends: one a
    live export holds is refused, one a dead export left (the kernel dropped its lock) is emptied and
    taken over. The folder is never removed to be made again: whoever locks its owner file first owns it.
    A check of the lock then a new folder let a second export, in the moment between another's making
    the folder and locking it, take it for a dead one's and claim a new one: both held a lock."""
    busy = ExportError(f"another export into {out} is running (its work is in {partial}); wait for it to "
                       "finish or choose another --out")
    f, made, owned = None, False, False
    try:
        # A Ctrl-C between the mkdir and the lock left the folder, owned by no export, after "nothing
        # written": held until the folder is locked (then removed below as ours) or refused.
        with stop_signals_held():
            try:
                partial.mkdir()
                made = True
            except FileExistsError:
                # A file or a link (the user's) at that name: no export's (a link's folder was emptied as a
                # dead export's); the caller names --out.
                if partial.is_symlink() or not partial.is_dir():
                    raise
            try:
                f = open(partial / OWNER, "a")  # noqa: SIM115 (held for the whole export; "a": made if missing)
            except FileNotFoundError:  # removed since the mkdir: by an export that failed, or put in place
                raise busy from None
            exclusive_lock(f)
            # Locked after the export that held it moved its folder into place: that owner file is not here.
            if not os.path.samestat(os.fstat(f.fileno()), os.stat(partial / OWNER)):
                raise busy
            owned = True
        empty_folder(partial, keep={OWNER})  # a dead export's work
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
    except BaseException as e:
        if owned:  # ours (a full disk refused the pid, a stop): removed as a failed export's, lock held
            shutil.rmtree(partial, ignore_errors=True)
        if f is not None:
            f.close()
            if isinstance(e, (BlockingIOError, FileNotFoundError)):  # FileNotFoundError: moved since the open
                raise busy from None
        elif made:  # made for this export, but no owner file in it (a full disk): removed only while empty
            with contextlib.suppress(OSError):
                partial.rmdir()
        raise
    return f


def _put_right(out: Path) -> None:
    """What an export killed outright (SIGKILL, a power cut) while it replaced ``out`` left: the previous
    export, moved aside as ``.<name>.old-<pid>``. Put back when ``out`` is missing (killed between the
    two renames), else the rest of an export already replaced (killed while deleting it, which takes a
    while), deleted. Those of an export still running are left alone, and so is a folder holding anything
    an export does not write (the user's, merely so named: an export moves aside only an export)."""
    try:
        if out.is_symlink():
            out = out.resolve()
        aside = sorted(out.parent.glob(f".{glob.escape(out.name)}.old-*")) if out.parent.is_dir() else []
        with uninterruptible():
            for old in aside:
                pid = old.name.rpartition("-")[2]
                if not pid.isdigit() or process_running(int(pid)) or old.is_symlink() or not old.is_dir():
                    continue
                if _foreign(old):
                    continue
                if out.exists() or out.is_symlink():
                    print(f"removing {old}: the rest of an export that a killed export replaced",
                          file=sys.stderr, flush=True)
                    shutil.rmtree(old)
                else:
                    os.rename(old, out)
                    print(f"put back {out}, which an export killed while replacing it had moved to {old}",
                          file=sys.stderr, flush=True)
    except RuntimeError:  # a symbolic link loop: plan names it
        return
    except OSError as e:
        raise ExportError(f"--out {out}: what a killed export left beside it cannot be put right "
                          f"({e.strerror or e}); move the .{out.name}.old-* folder away (it may be the "
                          "previous export)") from None


def _swap_into_place(partial: Path, out: Path, overwrite: bool, env: str) -> None:
    """Move the finished export (of game ``env``) to ``out`` (without its owner file); an existing export
    there is replaced only now. Not interruptible: a signal between the renames would leave no ``out``, one
    during the old export's removal a stray copy. Once the export is in place, stop signals are ignored
    (``settled``): one in the moment after made the script say that nothing was written."""
    with uninterruptible():
        problem = _out_problem(out, overwrite, env)  # a folder made or filled at --out while it ran
        if problem:
            raise ExportError(f"{problem}. It appeared while this export ran, so the export was discarded "
                              f"and {out} left as it is")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        try:
            if out.exists():
                os.rename(out, old)
            os.rename(partial, out)
        except OSError as e:  # e.g. EBUSY: an --out that is a mount point cannot be renamed
            if old.exists():
                os.rename(old, out)  # the old export back in place
            raise ExportError(f"--out {out}: the finished export could not be moved into place "
                              f"({e.strerror or e}); {out} is as it was") from None
        settled()
        (out / OWNER).unlink()
        if old.exists():  # a large export takes a while to delete, with Ctrl-C held: say what it waits for
            if any(old.iterdir()):  # not the empty folder an export may be given as --out
                print(f"removing the previous export (moved to {old})", file=sys.stderr, flush=True)
            shutil.rmtree(old)


__all__ = ["ExportError", "ExportOptions", "export", "plan"]
