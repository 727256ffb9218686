"""The run folder: ``runs/<env>/<run>/`` with config.yaml, command.txt, tb/, checkpoints/, model.zip.

Here: naming and making a run folder (``--force``'s old run moved aside), the trainer's lock on it, the
temp files its writers (and evaluate's, compare's) leave when killed, its config and game files read
back, checkpoints and which to resume from, the model file a command is given. Checkpoints are written
to a temporary file and renamed (agents/outputs.py, which holds the general file and folder helpers), so
a crash or Ctrl-C mid-write never leaves a half-written checkpoint in place of a good one.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import hashlib
import json
import os
import pickle
import re
import shlex
import shutil
import socket
import sys
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

from agents.cli import first_few
from agents.config import (
    DEFAULTS,
    file_kind,
    load_yaml,
    not_a_file,
    unnamed_key,
    whole_at_least,
    yaml_problem,
)
from agents.interrupts import deferred_stop, uninterruptible
from agents.outputs import (
    atomic_write_text,
    check_output_folder,
    empty_folder,
    exclusive_lock,
    folder_identity,
    not_written,
    process_running,
    read_json_object,
    remove_folders,
    same_file,
    shared_lock,
    written_beside,
)

RUNS_DIR = Path("runs")
# A number in the names the project writes, as str() writes a positive int: ASCII digits, no leading zero.
# \d took a user's step_<Arabic-Indic 1>.zip (int() reads it) for checkpoint 1, or .model.0123.tmp.zip for a
# killed writer's temp; a leading zero, a user's step_007.zip for checkpoint 7, pruned with the run's own.
_NUMBER = "[1-9][0-9]*"
# Whole names only: a search took a user's step_best_step_2.zip for checkpoint 2, which pruning deleted. The
# step as save_checkpoint writes it.
_STEP_NUMBER = f"(0|{_NUMBER})"
_STEP_NAME = rf"step_{_STEP_NUMBER}\.zip"
_STEP = re.compile(_STEP_NAME)
# What SB3 raises on a checkpoint that is cut short, damaged or not one: AssertionError on a zip without its
# "data" member (a foreign zip, or a truncated one whose end happens to read as the embedded torch archive);
# UnpicklingError from torch.load on a member that is no torch file.
CHECKPOINT_ERRORS = (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError, OSError,
                     AssertionError, pickle.UnpicklingError)
# Files file managers leave in any folder they show (macOS Finder, Windows Explorer): not the user's work.
OS_LITTER = (".DS_Store", "._*", "Thumbs.db", "desktop.ini")
_PID = _NUMBER  # the pid (or thread id) in a temp name, as temp_name writes it
# What training writes into a run's checkpoints/: checkpoints and their temp files, by exact name (a glob
# step_*.zip took a user's step_best.zip for one, which pruning never touches and --force deleted).
_CHECKPOINT_TEMP = rf"\.step_{_STEP_NUMBER}\.{_PID}\.tmp\.zip"  # written_together's .<stem>.<pid>.tmp<suffix>
CHECKPOINT_NAME = re.compile(rf"{_STEP_NAME}|{_CHECKPOINT_TEMP}")
# What training writes into a run folder; --force may clear these, the temp files of the writers there
# (``RUN_TEMP``) and evaluate's and compare's own results (``run_result``), nothing else.
MILESTONES_FILE = "milestones.json"  # a Game Boy run's best game/* figures, kept across --resume
# The SHA-1s of the ROM and start state a run started from: config.yaml keeps their paths alone, and a state
# made again at its path (make_state.py --force) was played on from without a word
GAME_FILES = "game_files.json"
RUN_ENTRIES = ("config.yaml", "command.txt", "tb", "checkpoints", "model.zip", "archive", MILESTONES_FILE,
               GAME_FILES, ".train.lock", *OS_LITTER)
# evaluate.py's result files, by exact name (globs eval-* and compare-* took a user's eval-notes/ or
# compare-ideas.txt for results, and --force deleted them): eval-step<N>[-<model file>-<SHA-1 8>]
# [-stochastic], eval-random or eval-vlm-<model>[@<host>[-<digest>]], then [-max<M>], then .json or the
# best episode's -best.mp4 / -best.gif. The slugs are file_slug's characters. N and M as evaluate writes them
# (_STEP_NUMBER, and _NUMBER as --max-steps is at least 1): \d took a user's eval-step007.json, or one in
# other digits, for a result, and --force deleted it.
_SLUG_CHARS = "A-Za-z0-9._-"  # what file_slug keeps of a name
_SLUG = rf"[{_SLUG_CHARS}]+"
_EVAL_STEM = (rf"eval-(step{_STEP_NUMBER}(-{_SLUG}-[0-9a-f]{{8}})?(-stochastic)?|random|"
              rf"vlm-{_SLUG}(@{_SLUG})?)(-max{_NUMBER})?")
EVAL_NAME = re.compile(rf"{_EVAL_STEM}(\.json|-best\.mp4|-best\.gif)")
# The temp files (``written_together``: .<stem>.<pid>.tmp<suffix>) that training's and evaluate's writers
# leave in a run folder when killed mid-write, by exact name: the glob .*.tmp* took a user's .notes.tmp for
# one, and --force deleted it. A video is written to a temp of its result's temp (write_video's own
# written_beside), hence the ..<stem>.<pid>.tmp.<pid>.tmp names.
_TRAINING_TEMP = rf"\.(model\.{_PID}\.tmp\.zip|config\.{_PID}\.tmp\.yaml|milestones\.{_PID}\.tmp\.json)"
# evaluate's, with the writer's pid (one of the three groups) for remove_dead_eval_temps
EVAL_TEMP = re.compile(rf"\.{_EVAL_STEM}(\.(?P<json>{_PID})\.tmp\.json|"
                       rf"-best\.(?P<video>{_PID})\.tmp\.(mp4|gif))|"
                       rf"\.\.{_EVAL_STEM}-best\.(?P<frames>{_PID})\.tmp\.{_PID}\.tmp\.(mp4|gif)")
# compare.py's default report folder in a run (reserve_default_out): compare-<YYYYmmdd-HHMMSS>[-<k>], k from
# 2, as it writes them (\d took a user's compare-<time>-01, or one in other digits, and --force deleted it).
COMPARE_NAME = re.compile(r"compare-[0-9]{8}-[0-9]{6}(-([2-9]|[1-9][0-9]+))?")
# The empty file beside it (temp_name's) that names the comparison playing for it, until that one ends: what
# tells the folder a comparison SIGKILLed while playing left from one still being played for.
COMPARE_MARK = re.compile(rf"\.(?P<folder>{COMPARE_NAME.pattern})\.(?P<pid>{_PID})\.tmp")
RUN_TEMP = re.compile(rf"{_TRAINING_TEMP}|{EVAL_TEMP.pattern}|{COMPARE_MARK.pattern}")


# The model attribute naming the env a model was trained on (train.build_model sets it): SB3 saves a
# model's plain attributes into its checkpoint's "data" and its load restores them. gameboy and pokemon_red
# on one cartridge give the same spaces, so a checkpoint of one played and resumed as the other unnoticed.
ENV_ATTR = "depthfirst_env"


class RunError(RuntimeError):
    """A run folder problem the user must fix (message says what)."""


class CheckpointNotWritten(RunError):
    """A checkpoint (or model.zip) the disk refused: training stops, naming the newest one it has."""


def new_run_dir(cfg: dict[str, Any], run_dir: str | None, force: bool) -> tuple[Path, Path | None, IO[str]]:
    """Create the run folder; returns it, with ``force`` where the run it replaces was moved, and its
    lock (``claim_run``).

    An existing non-empty folder is an error unless ``force``: then the old run is moved aside (a hidden
    sibling), not deleted, so the caller can put it back should the new run end without a saved model.
    """
    aside = None
    old_lock: IO[str] | None = None  # --force: the old run's lock (_move_old_run_aside)
    if run_dir is None:
        path = _new_named_run_dir(cfg)
    else:
        path = Path(run_dir)
        try:  # a file in the way, at the run folder or above it
            check_output_folder(path, "--run-dir")
        except ValueError as e:
            raise RunError(str(e)) from None
        if not training_now(path):  # none settles an aside of it: one there is a killed --force's, for good
            for left in asides(path):
                print(f"note: {left} holds a run that an earlier train_ppo.py --force moved aside from "
                      f"{path} and did not delete (it was killed before it finished): move it back, or "
                      "delete it if you no longer need it", file=sys.stderr)  # as training's other notes
        try:
            occupied = any(path.iterdir())
        except (FileNotFoundError, NotADirectoryError):  # none, or a file put there since the check:
            occupied = False  # mkdir below names that file
        if occupied:
            _refuse_occupied(path, force)
            # A symlinked run: the folder it points to is replaced, in place; "." and ".." have no name to
            # move aside by. Otherwise kept as typed, as the lines that name the run print it.
            if path.is_symlink() or path.name in ("", ".."):
                path = path.resolve()
            aside, old_lock = _move_old_run_aside(path)
    taken = False  # a folder another command made where --force had just moved the old run from
    try:
        try:
            # Once --force moved the old run aside, a folder at its name is another command's, made in the
            # moment between: refused, not shared (exist_ok trained into it, or into the old run put back).
            path.mkdir(parents=True, exist_ok=aside is None)
        except FileExistsError as e:
            taken = True
            if aside is None:  # exist_ok: a file (at the folder or above), put there since the checks above
                raise RunError(f"--run-dir {path}: {e.filename} is a file, made by another program while the "
                               "run folder was being made; move it, or choose another --run-dir") from None
            raise RunError(f"--run-dir {path} was made again by another command while --force moved the old "
                           f"run aside; the old run is in {aside}") from None
        except OSError as e:  # a full disk
            raise RunError(f"--run-dir {path}: the run folder cannot be made ({e.strerror or e})") from None
        return path, aside, claim_run(path)
    except RunError as e:  # no new run: the old one back in its place (the caller learns of it on return)
        if aside is None or taken:  # taken: that folder is the other command's, not ours to remove
            raise
        with uninterruptible():
            try:
                if path.is_dir():  # not made on a full disk; empty unless another command claimed it since
                    path.rmdir()
                aside.rename(path)
            except OSError:
                raise RunError(f"{e}; the old run is in {aside}") from None
        raise
    finally:
        if old_lock is not None:
            old_lock.close()


def _new_named_run_dir(cfg: dict[str, Any]) -> Path:
    """Make the run folder of a run without --run-dir, named for its config ``cfg`` and the time:
    ``runs/<env>/<policy>-s<seed>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... where that is taken."""
    stem = f"{cfg['policy']}-s{cfg['seed']}-{time.strftime('%Y%m%d-%H%M%S')}"
    path = RUNS_DIR / cfg["env"] / stem
    try:  # outside the loop: a file at runs/<env> raises FileExistsError too, which is not a name taken
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a full disk, or a file where runs/ or runs/<env> should be
        raise RunError(f"{path.parent}: the folder for the run cannot be made ({e.strerror or e}); free "
                       "some space, move a file in its way, or give --run-dir") from None
    k = 2
    while True:  # mkdir claims the name: two runs started within one second get two folders
        try:
            path.mkdir()
            return path
        except FileExistsError:
            path = RUNS_DIR / cfg["env"] / f"{stem}-{k}"
            k += 1
        except OSError as e:  # a full disk, or runs/<env> not writable
            raise RunError(f"{path}: the run folder cannot be made ({e.strerror or e}); free some space, "
                           "or give --run-dir") from None


def _move_old_run_aside(path: Path) -> tuple[Path, IO[str]]:
    """``--force``: move the run in ``path`` to a hidden sibling (``replaced_aside``), under its lock; returns
    where it went and the lock, which the caller holds until the new folder's own lock is: a second --force
    that claimed the old folder in between moved away the folder this one had just made, and both trained
    into the one made after it. The lock also refuses a run another process trains into now."""
    old_lock = claim_run(path)
    aside = path.with_name(f".{path.name}.replaced")
    k = 2
    while aside.exists() or aside.is_symlink():
        aside = path.with_name(f".{path.name}.replaced-{k}")
        k += 1
    try:
        path.rename(aside)
    except OSError as e:
        old_lock.close()
        raise RunError(f"--force cannot move {path} aside ({e}); remove it yourself") from None
    # a crash after a periodic checkpoint still puts the old run back: a saved model is not enough.
    # On stderr, as the note naming a killed --force's leftover (and training's other notes).
    print(f"--force: the old run waits in {aside} until the new one finishes or stops with a "
          "checkpoint and its --resume command", file=sys.stderr)
    return aside, old_lock


def _refuse_occupied(path: Path, force: bool) -> None:
    """``RunError`` for a --run-dir ``path`` that holds files, unless ``force`` may replace it: always for a
    run training now or a folder that holds no run; without ``force`` for a run (to ``--resume``, or one
    stopped before its first save); with it, for files a run does not write or another run inside."""
    # A run in training is said to be one first: until its config.yaml is written a second --force
    # called it "not a depthfirst run folder", and a new run offered --resume or --force.
    if training_now(path):
        raise RunError(training_now_refused(path))
    if not _is_run(path):  # neither --resume nor --force would take it
        if force:
            raise RunError(f"--force refuses to clear {path}: it is not a depthfirst run folder "
                           "(no config.yaml and command.txt)")
        raise RunError(f"--run-dir {path} already exists and holds files but no depthfirst run (no "
                       "config.yaml and command.txt); choose another --run-dir")
    # Killed before its first save (an empty checkpoints/ is one killed midway): no --resume
    if not (force or has_saved_model(path) or not_run_files(path)):
        raise RunError(f"--run-dir {path} already exists and holds a run stopped before its first "
                       "checkpoint (nothing to resume); pass --force to start it again there, or "
                       "choose another name")
    if not force:
        resume = shlex.quote(not_a_flag(path))  # as typed in a shell: "my runs/a" is two words
        raise RunError(f"--run-dir {path} already exists and is not empty; choose another name, "
                       f"continue it with --resume {resume}, or pass --force to replace it")
    foreign = not_run_files(path)
    if foreign:
        raise RunError(f"--force refuses to clear {path}: it holds files a run does not write "
                       f"({first_few(foreign, 5)}); move "
                       "them out first, or choose another --run-dir")
    nested = nested_runs(path)
    if nested:  # a run trained into its compare-<time>/ or tb/ passed the check above
        raise RunError(f"--force refuses to clear {path}: it holds another run folder ({nested[0]}), "
                       "which would be deleted with it; move that run out first, or choose another "
                       "--run-dir")


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


def settle_run_dir(created: Path | None, replaced: Path | None, keep: bool, existed: bool,
                   above: list[Path]) -> None:
    """Leave the run folder as a training command's end decides: ``created`` is the run ``new_run_dir``
    made (None for a ``--resume``, or where it failed), ``replaced`` where it moved the run ``--force``
    replaces, ``keep`` whether the new run stays, ``existed`` whether ``created`` was there before (the
    user's empty folder), ``above`` the folders above it that making it made (``missing_folders``)."""
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
            empty_folder(created)
        else:
            shutil.rmtree(created, ignore_errors=True)
            remove_folders(above)
    elif created is None:  # no run folder of this command's: any it made before failing is empty
        remove_folders(above)


def _this_host() -> str:
    """This machine's name as ``claim_run`` writes it: one the kernel holds in bytes that are not UTF-8
    comes from Python with surrogates, which no strict encoding writes (nor a terminal shows); escaped."""
    return socket.gethostname().encode(errors="backslashreplace").decode()


def trainer(path: Path) -> str:
    """"train_ppo.py (process N)": the trainer holding run folder ``path``'s lock, by the process id
    ``claim_run`` wrote into it, so the user can find the terminal (or ``kill`` it); without the id if
    the file holds none (written by an older version, or the disk refused it). A trainer on another
    machine (a run folder on NFS) is named with its host: its process id means nothing here."""
    try:
        first, *host = (path / ".train.lock").read_text(encoding="utf-8").split(maxsplit=1)
        pid = int(first)
    except (OSError, ValueError):
        return "train_ppo.py"
    if pid <= 0:  # no process's (a hand-edited lock): `kill 0` would stop the user's own process group
        return "train_ppo.py"
    elsewhere = f" on {host[0].strip()}" if host and host[0].strip() != _this_host() else ""
    return f"train_ppo.py (process {pid}{elsewhere})"


def training_now_refused(path: Path) -> str:
    """The refusal of a second trainer into run folder ``path`` while ``training_now(path)``."""
    return (f"{path}: another {trainer(path)} is training into this run folder right now; "
            "wait for it to finish (or, for a new run, choose another --run-dir)")


def lock_held(file: Path) -> bool:
    """Whether another process holds ``file``'s ``exclusive_lock``; the file is opened to read, so none is
    made (``shared_lock``)."""
    try:
        with open(file, "rb") as f:
            shared_lock(f)
    except BlockingIOError:
        return True
    except OSError:  # no such file (or unreadable): nobody has claimed it
        return False
    return False


def training_now(path: Path) -> bool:
    """Whether a train_ppo.py holds run folder ``path``'s lock (``claim_run``)."""
    return lock_held(path / ".train.lock")


def claim_run(path: Path) -> IO[str]:
    """Lock run folder ``path`` for training until the returned file is closed: a second train_ppo.py
    into the same folder (a new run, --resume or --force) is refused instead of mixing its files into
    the first one's."""
    try:
        f = open(path / ".train.lock", "a")  # noqa: SIM115 - the caller closes it when training ends
    except OSError as e:  # a read-only mount, a full disk: training could not save a checkpoint there
        raise RunError(f"{path}: cannot write in the run folder ({e.strerror or e}); training writes its "
                       "checkpoints there") from None
    try:
        try:
            locked = exclusive_lock(f)
        except BlockingIOError:  # a second look: training_now's probe holds the lock for a moment only
            time.sleep(0.1)
            locked = exclusive_lock(f)
    except BlockingIOError:
        f.close()
        raise RunError(training_now_refused(path)) from None
    # For `trainer`, unbuffered: a full disk refusing these few bytes leaves the refusal without them. First:
    # a trainer refused while the stale temps are removed was named the last one's ended process.
    try:
        os.ftruncate(f.fileno(), 0)
        os.write(f.fileno(), f"{os.getpid()} {_this_host()}\n".encode())
    except OSError:
        pass
    if locked:  # no other trainer can be writing them (without a lock, one might)
        remove_stale_temps(path)
    return f


# Temp files training's atomic writers (``written_together``) leave when killed mid-write (SIGKILL, a
# power cut): ``.<stem>.<pid>.tmp<suffix>``, each as large as the file it was to become.
_STALE_TEMPS = {".": re.compile(_TRAINING_TEMP),
                "checkpoints": re.compile(_CHECKPOINT_TEMP)}


def _remove_temps(folder: Path, pattern: re.Pattern[str],
                  in_use: Callable[[re.Match[str]], bool] = lambda m: False) -> list[str]:
    """Remove the plain files of ``folder`` whose names ``pattern`` matches, but those ``in_use``; their
    names. A folder that cannot be listed, or a file gone meanwhile or not ours to remove, is passed over."""
    removed: list[str] = []
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            m = pattern.fullmatch(entry.name)
            if m and not in_use(m) and entry.is_file() and not entry.is_symlink():
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry.name)
    return removed


def _say_removed(folder: Path, removed: Sequence[str], writer: str) -> None:
    """The one line the clean-ups below print when they removed the temp files ``removed`` (names under
    ``folder``) that ``writer`` left; on stderr, as a note: stdout is a --json script's JSON alone."""
    from vlm.tasks import plural

    if removed:
        print(f"{folder}: removed {plural(len(removed), 'temp file')} that {writer} left "
              f"({', '.join(sorted(removed))})", file=sys.stderr)


def remove_stale_temps(path: Path) -> None:
    """Remove the temp files an earlier trainer of run ``path`` left half-written (only training writes
    these names, so with the run's lock held none is in use), and say so in one line on stderr."""
    removed = [str(Path(folder) / name) for folder, pattern in _STALE_TEMPS.items()
               for name in _remove_temps(path / folder, pattern)]
    _say_removed(path, removed, "a killed save")


def remove_dead_eval_temps(folder: Path) -> None:
    """Remove the temp files that evaluations killed outright (SIGKILL, a power cut: no cleanup ran) left
    in ``folder``, as large as the results they were to become, and say so in one line: evaluate's exact
    names (``EVAL_TEMP``) whose writer's pid runs no more (``process_running``; one that runs may be writing
    them), on stderr. Before, nothing removed them."""
    def writing(m: re.Match[str]) -> bool:  # the pid in the name, one of the three forms'
        return process_running(int(m.group("json") or m.group("video") or m.group("frames")))

    _say_removed(folder, _remove_temps(folder, EVAL_TEMP, writing), "a killed evaluation")


def remove_dead_compare_folders(folder: Path) -> None:
    """Remove the empty default report folders in ``folder`` that comparisons killed outright (SIGKILL, a
    power cut) while they played left, by the mark beside each (``COMPARE_MARK``) whose process runs no
    more; one line on stderr each. A folder that holds anything (a report placed before the kill) stays;
    its mark goes. The mark is removed first: of comparisons clearing it together, only the one that
    removed it removes the folder (folder first, a second one removed the folder the first had just made
    again as its own)."""
    def playing(m: re.Match[str]) -> bool:
        return process_running(int(m.group("pid")))

    for mark in sorted(_remove_temps(folder, COMPARE_MARK, playing)):
        out = folder / COMPARE_MARK.fullmatch(mark)["folder"]  # matched: _remove_temps removed it
        with contextlib.suppress(OSError):  # not empty, gone, or no folder (rmdir follows no link)
            out.rmdir()
            print(f"{folder}: removed {out.name}, the empty report folder of a killed comparison",
                  file=sys.stderr)


def remove_dead_temps(path: Path, script: str) -> None:
    """Remove the temp files (``temp_name``'s, beside where ``written_together`` writes ``path``) that a
    ``script`` killed outright while writing ``path`` left, and say so in one line on stderr: only those
    whose writer's pid runs no more (one that runs may be writing now, this process's other threads too).
    Before, nothing removed them."""
    final = Path(os.path.realpath(path))
    tag = rf"(?P<pid>{_PID})(-{_PID})?"  # temp_name's: a pid, then a thread's id where not the main one's
    pattern = re.compile(rf"\.{re.escape(final.stem)}\.{tag}\.tmp{re.escape(final.suffix)}")

    def writing(m: re.Match[str]) -> bool:
        pid = int(m.group("pid"))
        return pid == os.getpid() or process_running(pid)

    _say_removed(final.parent, _remove_temps(final.parent, pattern, writing), f"a killed {script}")


def foreign_entries(path: Path, entries: Iterable[str]) -> list[str]:
    """Names in ``path`` that match none of the glob patterns ``entries`` (what depthfirst writes there)."""
    patterns = tuple(entries)
    return sorted(e.name for e in path.iterdir()
                  if not any(fnmatch.fnmatchcase(e.name, pattern) for pattern in patterns))


def not_run_files(path: Path) -> list[str]:
    """The entries of run folder ``path`` (and of its checkpoints/) that neither training nor evaluate's
    or compare's results are: the user's, which ``--force`` must not delete with the run."""
    foreign = [name for name in foreign_entries(path, RUN_ENTRIES)
               if not run_result(path / name) and not (RUN_TEMP.fullmatch(name) and (path / name).is_file())]
    if (path / "checkpoints").is_dir():  # a model kept there (pruning takes step_*.zip only)
        kept = [name for name in foreign_entries(path / "checkpoints", OS_LITTER)
                if not CHECKPOINT_NAME.fullmatch(name)]
        foreign += [f"checkpoints/{name}" for name in kept]
    return foreign


def run_result(entry: Path) -> bool:
    """Whether ``entry``, in a run folder, is evaluate.py's or compare.py's own output: a result file by
    its exact name (``EVAL_NAME``), or a default report folder (``COMPARE_NAME``)."""
    if EVAL_NAME.fullmatch(entry.name):
        return entry.is_file()
    return COMPARE_NAME.fullmatch(entry.name) is not None and entry.is_dir()


def nested_runs(path: Path) -> list[Path]:
    """Run folders (config.yaml and command.txt) below run folder ``path``, not ``path`` itself; symlinks are
    not followed (``--force`` deletes a link, never what it points to)."""
    return sorted(f.parent for f in path.rglob("command.txt")
                  if f.parent != path and (f.parent / "config.yaml").is_file())


def write_run_files(path: Path, cfg: dict[str, Any], command: str) -> None:
    """config.yaml (replaced whole) and a line in command.txt; ``RunError`` naming the file the disk
    could not take."""
    name = "config.yaml"
    try:
        # allow_unicode: a ROM or state under "gb ü/" shows as named there, not as "gb \xFC/" (the README
        # has the user edit those paths in config.yaml, which is read as UTF-8); and a long one on one line,
        # not folded at a space past 80 characters.
        text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=1 << 30)
        atomic_write_text(path / name, text)
        name = "command.txt"
        # The command's own bytes in any locale: an argument that is not UTF-8 text here (a --config name in
        # an ASCII locale) comes back from surrogateescape as typed; strict encoding raised after the
        # run folder was made.
        with open(path / name, "a", encoding="utf-8", errors="surrogateescape") as f:
            f.write(command + "\n")
        name = GAME_FILES
        files = game_files(cfg.get("env_kwargs") or {})
        if files:
            atomic_write_text(path / name, json.dumps(files, indent=1) + "\n")
    except OSError as e:
        raise RunError(f"{path}: the run's {name} could not be written ({e.strerror or e})") from None


def game_files(env_kwargs: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The ROM and start state files of a game's options ``env_kwargs``, by key: each one's path and SHA-1,
    for ``GAME_FILES`` (none for ``state: none``, or a game that reads no file)."""
    from envs.gameboy.roms import no_start_state  # no PyBoy import

    files = {}
    for key in ("rom", "state"):
        value = env_kwargs.get(key)
        if isinstance(value, (str, Path)) and str(value) and not no_start_state(value) and \
                Path(value).is_file():
            files[key] = {"path": str(value), "sha1": file_sha1(Path(value))}
    return files


_SHA1 = re.compile(r"[0-9a-f]{40}")  # as file_sha1 writes one


def _kept_game_files(path: Path) -> tuple[dict[str, Any], str | None]:
    """Run ``path``'s ``GAME_FILES`` record, its entries that hold a SHA-1 ({} without one: older runs read
    as before), and what is wrong with it where it is there but cannot be read as written (not JSON, not an
    object, an entry that is no {path, sha1}, a SHA-1 that is none, an object of neither entry, no regular
    file, or one the system will not read: permission denied, an I/O error). Training writes the file only
    where it records a file: one of no entry ({}, a key miswritten) is damaged too, not a run that recorded
    nothing."""
    file = path / GAME_FILES
    if not os.path.lexists(file):
        return {}, None
    kind, unread = _no_file(file), None
    try:
        kept = read_json_object(file) if kind is None else None
    except OSError as e:
        kept, unread = None, f"cannot be read ({e.strerror or e})"
    entries = kept or {}  # read_json_object's None: no object
    valid = {key: entries[key] for key in ("rom", "state")
             if isinstance(entries.get(key), dict) and isinstance(entries[key].get("sha1"), str)
             and _SHA1.fullmatch(entries[key]["sha1"])}
    if valid and valid.keys() == {key for key in ("rom", "state") if key in entries}:
        return valid, None
    why = (f"is {kind}, not a file" if kind is not None else unread if unread is not None else
           "is not a JSON object" if kept is None else 'is no record of them as training writes it (an '
           'object of "rom", "state" or both, each a {"path", "sha1"} of 40 hex digits)')
    return valid, (f"{file} (the record of the ROM and start state the run started from) {why}, so they "
                "cannot be checked against it")


def changed_game_files(path: Path, env_kwargs: Mapping[str, Any]) -> str | None:
    """What differs of the ROM and start state run ``path`` reads now (its config.yaml's ``env_kwargs``)
    from those it started from (its ``GAME_FILES``), or None: also for a run without a readable record
    (``damaged_game_files`` says what is wrong with one) and a file no longer named (``state: none``
    written in by hand)."""
    kept = _kept_game_files(path)[0]
    changed = []
    for key, now in game_files(env_kwargs).items():
        then = kept.get(key)
        if then is not None and then["sha1"] != now["sha1"]:
            what = "start state" if key == "state" else "ROM"
            changed.append(f"the run's {what} {now['path']} (env_kwargs.{key} in its config.yaml) is not the "
                           f"one the run started from: its SHA-1 is {now['sha1']}, the run's {then['sha1']} "
                           f"({path / GAME_FILES} records it; made again at that path since?)")
    return "; ".join(changed) or None


def damaged_game_files(path: Path) -> str | None:
    """What is wrong with run ``path``'s ``GAME_FILES`` where it is there but cannot be read as written, or
    None: read as no record, it left the ROM and start state unchecked without a word."""
    return _kept_game_files(path)[1]


def read_run_config(path: Path, model_flag: str | None = None, warn: bool = True) -> dict[str, Any]:
    """The run's config.yaml; ``model_flag`` as in ``given_a_file``. ``warn``: say where its ROM or start
    state is another file than the run started from (``changed_game_files``): evaluate, the export and
    compare play it all the same; ``--resume`` refuses it instead."""
    cfg = _load_run_config(path, model_flag)
    _check_env(path, cfg)
    _check_env_kwargs(path, cfg)
    if warn:
        _warn_game_files(path, cfg["env_kwargs"])
    return cfg


def _load_run_config(path: Path, model_flag: str | None) -> dict[str, Any]:
    """Run folder ``path``'s config.yaml as a mapping that names an env; ``RunError`` for a folder that is
    no run, or a config.yaml that cannot be read as one."""
    file = path / "config.yaml"
    if path.is_file():
        raise RunError(given_a_file(path, model_flag))
    kind = file_kind(path)
    if kind is not None:  # --resume <(...): "no such run folder" named a path that is there
        raise RunError(f"{path} is {kind}, not a run folder; give the folder a run was written to")
    if not path.is_dir():
        raise RunError(f"{path}: no such run folder")
    if not file.is_file():
        if training_now(path):  # a run in its first seconds (evaluate or --resume started with it)
            raise RunError(f"{path}: a {trainer(path)} is training into this run folder and has not written "
                           "its config.yaml yet; try again in a moment")
        raise RunError(f"{path}: not a depthfirst run folder (no config.yaml){run_hint(path)}")
    try:
        cfg = load_yaml(file.read_text(encoding="utf-8"))  # a key edited in twice is named, not half-read
    except (yaml.YAMLError, UnicodeDecodeError) as e:  # e.g. saved as UTF-16 by an editor
        why = yaml_problem(e) if isinstance(e, yaml.YAMLError) else e
        raise RunError(f"{path}: config.yaml is corrupt (it must be UTF-8 YAML): {why}") from e
    except OSError as e:  # no permission, an I/O error: evaluate, the export and compare printed a traceback
        raise RunError(f"{path}: config.yaml cannot be read ({e.strerror or e})") from None
    if not isinstance(cfg, dict) or "env" not in cfg:
        raise RunError(f"{path}: config.yaml is corrupt (no env)")
    odd = unnamed_key(cfg)
    if odd is not None:  # sorting it with the named keys for a message was a TypeError traceback
        raise RunError(f"{path}: config.yaml is corrupt: the key {odd} is not a name (YAML reads 1, on or "
                       "null as a number, a switch or null)")
    return cfg


def _check_env(path: Path, cfg: dict[str, Any]) -> None:
    """``RunError`` where run ``path``'s config ``cfg`` names an env this depthfirst does not know, or a
    ``recurrent`` that is no bool."""
    from envs import GAMES, PLUGIN_GROUP

    if not isinstance(cfg["env"], str) or cfg["env"] not in GAMES:
        # A game of another package's run, read by a Python without that package (another venv): named so,
        # as "this depthfirst does not know" alone sent its author looking for a fault in the project.
        # Its PYTHONPATH too: a package put in a folder by pip install --target is found through it, and the
        # Python alone was the very one command.txt names.
        now = os.environ.get("PYTHONPATH") or "unset here"
        raise RunError(f"{path}: config.yaml names env {cfg['env']!r}, which this depthfirst does not know "
                       f"(known: {', '.join(sorted(GAMES))}); a game of another package is known where its "
                       f"package is installed in the Python running this ({sys.executable}) or in a folder "
                       f"on its PYTHONPATH ({now}; pip install --target DIR puts it in DIR), through entry "
                       f"point group {PLUGIN_GROUP}: the run's command.txt names the Python that trained it")
    if not isinstance(cfg.get("recurrent", False), bool):  # it picks the algorithm that loads the model
        raise RunError(f"{path}: config.yaml sets recurrent: {cfg['recurrent']!r}; write true or false")


def _check_env_kwargs(path: Path, cfg: dict[str, Any]) -> None:
    """Run ``path``'s ``cfg["env_kwargs"]`` made a mapping (``{}`` for none) with its ``~`` paths expanded;
    ``RunError`` for an option the game does not take, or a ROM or start state that is not there."""
    file = path / "config.yaml"
    if cfg.get("env_kwargs") is None:  # a hand-written config may leave the game's defaults implicit
        cfg["env_kwargs"] = {}
    if not isinstance(cfg["env_kwargs"], dict):
        raise RunError(f"{path}: config.yaml is corrupt (env_kwargs is not a mapping)")
    known = game_options(cfg["env"])
    unknown = [] if known is None else sorted(set(cfg["env_kwargs"]) - known)
    if unknown:
        # Named with the game's options: a typo edited in (sise:) was put down to a newer version alone
        raise RunError(f"{path}: config.yaml sets env_kwargs {unknown}, which {cfg['env']} in this "
                       f"version of depthfirst does not take ({cfg['env']}'s options: "
                       f"{', '.join(sorted(known))}): correct a typo in {file}, or, for a run from a newer "
                       "version of depthfirst, use that version")
    from agents.preflight import PATH_OPTIONS
    from envs.gameboy.roms import no_start_state  # no PyBoy import

    for key in PATH_OPTIONS:  # "~/roms/x.gb" written in by hand, as a --config takes it (not a folder "~")
        value = cfg["env_kwargs"].get(key)
        if isinstance(value, str) and value.startswith("~"):
            cfg["env_kwargs"][key] = os.path.expanduser(value)
    for key in ("rom", "state"):  # files the run was trained with, which evaluation needs again
        value = cfg["env_kwargs"].get(key)
        if key == "state" and no_start_state(value):  # `state: none` boots the ROM, as everywhere else
            continue
        if isinstance(value, str) and value and Path(value).is_dir():  # there, so "not there" would puzzle
            raise RunError(f"{path}: the run's {key} file {value} is a folder; write the file itself as "
                           f"env_kwargs.{key} in {file}")
        if isinstance(value, str) and value and not Path(value).is_file():
            raise RunError(f"{path}: the run's {key} file {value} is not there (moved, or a relative path "
                           f"read from another folder?): put it back, or write its place as env_kwargs.{key} "
                           f"in {file}")


def _warn_game_files(path: Path, env_kwargs: Mapping[str, Any]) -> None:
    """Warn, on stderr, where run ``path``'s ``GAME_FILES`` record cannot be read, or its ROM or start state
    (``env_kwargs``) is another file than the run started from.

    A record that cannot be read is warned of, not refused as a damaged config.yaml or checkpoint is: the
    game and the model are whole, only the check is lost, and nothing here writes over the record (the
    --resume, whose save would, refuses it: train_cli)."""
    damaged = damaged_game_files(path)
    if damaged:
        print(f"warning: {path}: {damaged}: put the run's own record back to check them, or delete it to "
              "play on unchecked without this warning", file=sys.stderr)
    changed = changed_game_files(path, env_kwargs)
    if changed:
        print(f"warning: {path}: {changed}: it plays from another start than it was trained from; put the "
              "run's own back there to play as it was trained", file=sys.stderr)


def not_a_flag(path: Path | str) -> str:
    """``path`` as a command's argument that no parser reads as a flag: ``./-x`` for a folder named ``-x``."""
    return os.path.join(".", path) if str(path).startswith("-") else str(path)


def given_a_file(path: Path, model_flag: str | None = None) -> str:
    """The refusal of file ``path`` given as a run folder, naming the run it belongs to: its folder, or for a
    checkpoint (RUN/checkpoints/step_N.zip) the run, not its checkpoints/ folder. ``model_flag``: the
    command's flag for a model file (evaluate's --checkpoint), named for a .zip given as the run."""
    folder = _named_parent(path)
    if not _is_run(folder) and _is_run(folder.parent):
        folder = _named_parent(folder)
    model = (f", and the model file as {model_flag} {path}" if model_flag and path.suffix.lower() == ".zip"
             else "")
    return f"{path} is a file; give the run folder ({folder}){model}"


def _named_parent(path: Path) -> Path:
    """The folder ``path`` is in, as a message names it: absolute where that is the current folder ("."
    named a run's checkpoints/ itself, given from inside the run)."""
    return Path(os.path.abspath(path)).parent if path.parent == Path(".") else path.parent


def _is_run(folder: Path) -> bool:
    """Whether ``folder`` looks like a run folder: what train_ppo.py writes into it first."""
    return (folder / "config.yaml").is_file() and (folder / "command.txt").is_file()


def run_hint(path: Path) -> str:
    """For a folder given in place of a run: the run to give instead. The run it sits in (its
    ``checkpoints/`` or ``tb/``, where tab completion goes on to), else, for a folder of runs
    (``runs/snake``, ``runs``), the one trained into last (its config.yaml, which a --resume rewrites, is the
    newest); else ""."""
    parent = _named_parent(path)  # "checkpoints" given from inside the run: named absolute, not "."
    if _is_run(parent):
        return f"; it is inside the run folder {parent}: give that"
    try:
        configs = (*path.glob("*/config.yaml"), *path.glob("*/*/config.yaml"))
        found = [(f.stat().st_mtime, f.parent) for f in configs if _is_run(f.parent)]
    except OSError:  # an unreadable folder: no suggestion, the refusal stands
        return ""
    return f"; it holds run folders: give one, e.g. the newest, {max(found)[1]}" if found else ""


def _init_params(env: str) -> list[list[Any]] | None:
    """The parameters past ``self`` of each ``__init__`` on ``env``'s game class's MRO, the class first;
    None when the game cannot be read (an unknown env, an uninstalled extra)."""
    import inspect

    from envs import game_class

    try:
        classes = [c for c in game_class(env).__mro__ if "__init__" in vars(c)]
    except (ImportError, ValueError):
        return None
    return [list(inspect.signature(cls.__init__).parameters.values())[1:] for cls in classes]


def game_options(env: str) -> set[str] | None:
    """The keyword options ``env``'s game class takes (with those its ``**kwargs`` pass on to the base
    classes' ``__init__``); None when it cannot say (an unknown env, an uninstalled extra). Neither ``self``
    nor ``num_envs`` is one: the trainer passes the boards (``--num-envs``), and in ``env_kwargs`` either
    passed config checks and then failed with Python's "got multiple values for argument"."""
    options: set[str] = set()
    for params in _init_params(env) or ():
        options |= {p.name for p in params if p.kind is not p.VAR_KEYWORD and p.name != "num_envs"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return options
    return None


def game_defaults(env: str) -> dict[str, Any]:
    """The default of each of ``env``'s game options that has one (a subclass's over its bases'); none
    where the game cannot be read (``game_options``)."""
    defaults: dict[str, Any] = {}
    for params in reversed(_init_params(env) or []):
        defaults |= {p.name: p.default for p in params if p.default is not p.empty and p.name != "num_envs"}
    return defaults


def checkpoint_step(name: str) -> int | None:
    """The step of checkpoint file ``name`` (``step_<N>.zip`` as ``save_checkpoint`` writes it); None for
    any other name."""
    m = _STEP.fullmatch(name)
    return int(m.group(1)) if m else None


def checkpoints(path: Path) -> list[tuple[int, Path]]:
    """(step, file) of every checkpoint in the run, oldest first."""
    found = []
    for f in (path / "checkpoints").glob("step_*.zip"):
        step = checkpoint_step(f.name)
        if step is not None:
            found.append((step, f))
    return sorted(found)


def has_saved_model(path: Path) -> bool:
    """Whether run ``path`` holds a model file a ``--resume`` loads (``latest_checkpoint``): a checkpoint,
    or its model.zip."""
    return bool(checkpoints(path)) or (path / "model.zip").is_file()


def trained_env(tag: object, checkpoint: Path) -> str | None:
    """The env a checkpoint was trained on: its ``ENV_ATTR`` ``tag``; for one saved before checkpoints named
    it, the env of the run folder it sits in as model.zip or a checkpoints/ file (that run's config.yaml);
    else None (a file elsewhere, a config that does not say)."""
    if isinstance(tag, str):
        return tag
    if checkpoint.parent.name == "checkpoints":
        home = checkpoint.parent.parent
    elif checkpoint.name == "model.zip":
        home = checkpoint.parent
    else:
        return None
    if not _is_run(home):  # a config.yaml of the user's, not a run's
        return None
    try:
        cfg = load_yaml((home / "config.yaml").read_text(encoding="utf-8"))  # as read_run_config reads it
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    env = cfg.get("env") if isinstance(cfg, dict) else None
    return env if isinstance(env, str) else None


def saved_env_tag(checkpoint: Path) -> object:
    """``checkpoint``'s ``ENV_ATTR`` as SB3 saved it, read without loading the model; None where it cannot
    be read (its load says why)."""
    return _saved_data(checkpoint).get(ENV_ATTR)


def _saved_data(file: Path) -> dict[str, Any]:
    """The JSON "data" member of SB3 model file ``file``, read without loading the model; empty where it
    cannot be read (a damaged file is reported by whatever loads it), or ``file`` is no regular file (a
    FIFO's open waits for a writer)."""
    if not file.is_file():
        return {}
    try:
        with zipfile.ZipFile(file) as z:
            data = json.loads(z.read("data"))
    except CHECKPOINT_ERRORS:
        return {}
    return data if isinstance(data, dict) else {}


def untagged_note(checkpoint: Path, env: str) -> str:
    """The line told for a checkpoint with no ``ENV_ATTR`` tag (saved before checkpoints named their env):
    nothing tells it from a checkpoint of another game with the same spaces (gameboy, pokemon_red), so the
    user is told which env it is taken as."""
    return (f"note: checkpoint {checkpoint} carries no env tag (it was saved before checkpoints named their "
            f"env): taken as {env}, this run's env")


def file_sha1(path: Path) -> str:
    """The SHA-1 of a file, read in 1 MiB blocks (a checkpoint is never held in memory whole)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_slug(text: str, fallback: str) -> str:
    """``text`` as a short, safe part of a file name (a model or player name may hold "/" or spaces)."""
    return re.sub(rf"[^{_SLUG_CHARS}]+", "-", text).strip("-")[:60] or fallback


def saved_step(file: Path) -> int | None:
    """The step a model file holds (SB3's ``num_timesteps``); None where it cannot be read."""
    step = _saved_data(file).get("num_timesteps")
    return step if isinstance(step, int) else None


def resume_point(path: Path) -> Path:
    """``latest_checkpoint`` for a ``--resume``, refused (``RunError``) where the run's model.zip holds a
    later step: the newer checkpoints were deleted by hand, and the resume's first save would replace
    model.zip, its steps lost without a word. The user chooses: continue from it, or go back. Refused too
    where model.zip is a folder, which the resume's saves cannot replace."""
    ckpt = latest_checkpoint(path)
    own = path / "model.zip"
    # Every checkpoint's save replaces model.zip: a FIFO or a symlink is replaced, a folder is not, and the
    # resume trained to its first checkpoint before it said so.
    if own.is_dir() and not own.is_symlink():
        raise RunError(f"{path}: {own} is a folder, not a file, and each checkpoint the resume saves "
                       "writes model.zip too, which cannot replace a folder: training would stop at its "
                       "first checkpoint; move it out of the run folder (or remove it, if it holds nothing "
                       "you need) and resume again")
    step = checkpoint_step(ckpt.name)  # None for model.zip
    ahead = saved_step(own) if step is not None else None
    if step is not None and ahead is not None and ahead > step:
        copy = path / "checkpoints" / f"step_{ahead}.zip"
        raise RunError(f"{path}: its model.zip holds step {ahead:,}, past its newest checkpoint {ckpt} (were "
                       "newer ones deleted?), and a resume from that checkpoint would replace it: to "
                       f"continue from model.zip, copy it to {copy}; to go back to step "
                       f"{step:,}, move model.zip out of the run folder")
    return ckpt


def latest_checkpoint(path: Path, instead: str = "start a new run") -> Path:
    """The run's newest checkpoint, else its model.zip; else ``RunError`` saying what to do: start the
    run again or, as the command allows, ``instead`` (e.g. "give --checkpoint FILE"), naming a model.zip
    that is there but no file."""
    found = checkpoints(path)
    if found:
        return found[-1][1]
    if (path / "model.zip").is_file():
        return path / "model.zip"
    command = path / "command.txt"
    how = (f"start it again with its command (in {command}) plus --force --run-dir "
           f"{shlex.quote(os.path.abspath(path))}"  # it cds to its folder
           if command.is_file() else "train it first (scripts/train_ppo.py)")
    # The first save makes checkpoints/: with it there, the run's files were most likely deleted or renamed
    # since (a copy kept as best.zip is not looked for), not "stopped before its first checkpoint".
    folder = path / "checkpoints"
    renamed = sorted(f.name for f in folder.glob("*.zip") if not CHECKPOINT_NAME.fullmatch(f.name))
    own = path / "model.zip"
    kind = _no_file(own)
    if kind is not None:  # there but no file (a bad copy): "no checkpoint ... or model.zip" hid it
        if renamed:
            how = (f"rename the one to load ({', '.join(renamed)}, in {folder}) to step_<N>.zip, N the step "
                   "it was saved at")
        held = f"{folder} holds no step_<N>.zip" if folder.is_dir() else f"{folder} is not there"
        raise RunError(f"{path}: no checkpoint to load: {held}, and {own} is {kind}, not a file: put the "
                       f"run's model.zip back there to resume from it, or {how}, or {instead}")
    if renamed:  # --force refuses such a file of the user's: renaming comes first
        how = (f"{folder} holds no step_<N>.zip but {', '.join(renamed)} (a copy under another name is not "
               "looked for): rename the one to load step_<N>.zip, N the step it was saved at")
    elif folder.is_dir():
        how = f"{folder} holds no step_<N>.zip (deleted since saved, or the first save failed): {how}"
    elif command.is_file():
        how = f"the run stopped before its first checkpoint: {how}"
    raise RunError(f"{path}: no checkpoint to load (checkpoints/step_*.zip or model.zip); {how}, or "
                   f"{instead}")


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")  # a variable a command line sets: PYTHONPATH=...


def restart_command(run: Path) -> str | None:
    """The command that started ``run`` (command.txt's first line), made to start it over in its own folder,
    which is not empty: with --force, and --run-dir ``run`` (an auto-named run had none; a moved or copied
    run's, or a relative one read from elsewhere, named another folder, which --force replaced); None
    without one. A command recorded with the folder it ran in (``cd DIR && ...``, ``rerun_command``) keeps
    it, and names ``run`` absolute, as it runs there, and its ``PYTHONPATH=...`` before the interpreter; a
    hand-edited ``cd`` of another form gives None, and so does a command.txt that is no regular file (a
    FIFO's open waits for a writer: the --resume that asked hung)."""
    if not (run / "command.txt").is_file():
        return None
    try:
        with open(run / "command.txt", encoding="utf-8", errors="surrogateescape") as f:
            args = shlex.split(f.readline())
    except (OSError, ValueError):  # missing, or hand-edited past what shlex reads
        return None
    cd = args[:3] if args[:1] == ["cd"] else []
    if cd and cd[2:] != ["&&"]:  # hand-edited: a cd that leads to no command
        return None
    args = args[len(cd):]  # kept apart: shlex.join would quote the "&&"
    env = ""  # kept apart too (rerun_command's PYTHONPATH): quoted whole, the shell ran it as a command
    while args and _ASSIGNMENT.match(args[0]):
        name, value = args.pop(0).split("=", 1)
        env += f"{name}={shlex.quote(value)} "
    if not args:
        return None
    if cd:
        run = Path(os.path.abspath(run))
    for i, a in enumerate(args):  # the recorded --run-dir, in place, or at the end
        if a.startswith("--run-dir="):
            args[i] = f"--run-dir={run}"
            break
        if a == "--run-dir":
            args[i + 1:i + 2] = [str(run)]
            break
    else:
        args += ["--run-dir", str(run)]
    if "--force" not in args:
        args.append("--force")
    return (f"cd {shlex.quote(cd[1])} && " if cd else "") + env + shlex.join(args)


def given_checkpoint(file: str | Path) -> Path:
    """A ``--checkpoint`` model file the user gave; ``RunError`` for a folder or a missing file."""
    ckpt = Path(file)
    if ckpt.is_dir():
        raise RunError(f"--checkpoint {ckpt} is a folder; give a model file (.zip)")
    why = not_a_file(ckpt, "a checkpoint (a zip) is read by seeking in it")
    if why is not None:
        raise RunError(f"--checkpoint {ckpt} {why}")
    if not ckpt.is_file():
        raise RunError(f"--checkpoint {ckpt}: no such file")
    return ckpt


def _no_file(path: Path) -> str | None:
    """What ``path`` is where it is there but no regular file (a folder, a FIFO, a symlink loop or one to
    a missing file); None where it is a file or missing."""
    if path.is_file() or not os.path.lexists(path):
        return None
    if path.is_dir():
        return "a folder"
    kind = file_kind(path)
    if kind is not None:
        return kind
    try:
        path.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "a symlink loop"
        if e.errno == errno.ENOENT:
            return f"a broken symlink (to {os.readlink(path)})"
        return f"unreadable ({e.strerror})"
    return "of an unknown kind"


def other_model(path: Path, run: Path | None) -> str:
    """For a model file that cannot be loaded to play: another of ``run``'s files, which may load
    (--checkpoint): its model.zip, else its newest checkpoint. A --resume (no ``run``) says its own."""
    if run is None:
        return ""
    found = [f for _, f in reversed(checkpoints(run))]
    # Whole zips only: a copy cut short (the zero-byte file of an interrupted copy) would not load either.
    others = [f for f in (run / "model.zip", *found)
              if f.is_file() and not same_file(f, path) and zipfile.is_zipfile(f)]
    if not others:
        return "; the run has no other model file: give one with --checkpoint, or train the run again"
    what = ("model.zip" if others[0].name == "model.zip" else
            "newest checkpoint" if others[0] == found[0] else "older checkpoint")
    return f"; the run's {what} may load: --checkpoint {others[0]}"


def no_file_refusal(path: Path, kind: str, run: Path | None) -> RunError:
    """The refusal of model file ``path``, which is ``kind`` (``_no_file``, ``file_kind``), not a file: to
    play (``model_file``) and in ``load_model``, with ``run``'s ``other_model``."""
    return RunError(f"cannot load checkpoint {path}: it is {kind}, not a file{other_model(path, run)}")


def model_file(run: Path, checkpoint: str | Path | None, instead: str) -> Path:
    """The model file a command plays: ``checkpoint`` (``--checkpoint``) if given, else the run's
    model.zip, else its newest checkpoint; else ``RunError``, which ends with ``instead``. A model.zip that
    is there but no file is refused (``RunError``), not passed over."""
    if checkpoint is not None:
        try:
            ckpt = given_checkpoint(checkpoint)
        except RunError as e:
            inside = run / checkpoint  # given as `ls RUN/checkpoints` shows it, relative to the run
            if not (Path(checkpoint).is_absolute() or Path(checkpoint).exists()) and inside.is_file():
                raise RunError(f"{e} (paths are read from the folder the command runs in: the run's is "
                               f"{inside})") from None
            if not os.path.lexists(checkpoint):
                raise RunError(f"{e}{_pruned_note(run, Path(checkpoint))}") from None
            raise
        # Not a zip at all (config.yaml given by mistake, say): SB3's load said only zipfile's "BadZipFile:
        # File is not a zip file". A zip cut short or damaged starts as one and load_model names its error.
        with contextlib.suppress(OSError), open(ckpt, "rb") as f:  # unreadable: load_model says so
            if f.read(4) != b"PK\x03\x04":
                raise RunError(f"--checkpoint {ckpt} is not a checkpoint (a model file SB3 saved, a .zip); "
                               f"the run's are in {run / 'checkpoints'} and {run / 'model.zip'}")
        return ckpt
    own = run / "model.zip"
    if own.is_file():
        return own
    kind = _no_file(own)
    if kind is not None:  # damage or a bad copy: the newest checkpoint, played instead, was labelled as it
        raise no_file_refusal(own, kind, run)
    try:
        return latest_checkpoint(run, instead)
    except RunError:
        # Not a run that stopped early: its advice, start it again with --force, is refused while it trains.
        if training_now(run):
            raise RunError(f"{run}: a {trainer(run)} is training into this run folder and has saved no "
                           "checkpoint yet (the first comes at its save_every steps, or when Ctrl-C stops "
                           f"it); try again then, or {instead}") from None
        raise


def kept_checkpoints(cfg: Mapping[str, Any]) -> int:
    """The newest checkpoints the run of config ``cfg`` keeps (0: every one); the default where it names
    none (an older run) or no count training takes (a hand-edited config.yaml: -1, 2.5, true, all). Only
    notes read it (evaluate's, the export's), so such a run is not refused here; ``--resume`` refuses it."""
    default = DEFAULTS["keep_checkpoints"]
    try:
        return whole_at_least(cfg.get("keep_checkpoints", default), "keep_checkpoints", 0)
    except ValueError:
        return default


def _pruned_note(run: Path, given: Path) -> str:
    """For a missing ``given`` named as one of ``run``'s checkpoints/step_<N>.zip (from here or from the
    run): which checkpoints the run holds, and that training deletes all but the newest where it may have
    deleted this one; "" otherwise."""
    kept = checkpoints(run)
    home = os.path.realpath(run / "checkpoints")
    step = checkpoint_step(given.name)
    # The run holding that name (as a folder, say) is another matter: its hint is model_file's.
    if not kept or step is None or given.name in {f.name for _, f in kept} or \
            home not in (os.path.realpath(given.parent), os.path.realpath(run / given.parent)):
        return ""
    from vlm.tasks import listed

    held = f"{run} holds {listed([str(f) for _, f in kept])}"
    try:
        keep = kept_checkpoints(read_run_config(run, warn=False))
    except RunError:  # no readable config: the default
        keep = DEFAULTS["keep_checkpoints"]
    # Said deleted only where it can have been: older than those kept, of a run that holds all it keeps (a
    # later step is a typo or not saved yet; a run keeping every one deletes none).
    if not keep or len(kept) < keep or step > kept[0][0]:
        return f" ({held})"
    return f" (training keeps a run's newest {keep} checkpoints, deleting older ones as it saves; {held})"


def replaced_aside(name: str) -> str:
    """Where ``train_ppo.py --force`` moves the run folder ``name`` aside (``new_run_dir``), as a glob:
    ``.NAME.replaced``, or ``.NAME.replaced-k`` where that is taken."""
    return f".{name}.replaced*"


def moved_aside(path: Path, identity: tuple[int, int] | None) -> Path | None:
    """The folder of ``identity`` (``folder_identity``) that ``--force`` moved aside from run ``path``
    (resolved), if it is still there: ``--force`` deletes it once the new run finishes."""
    return next((p for p in asides(path) if folder_identity(p) == identity), None)


def asides(path: Path) -> list[Path]:
    """The folders ``--force`` moved aside from run ``path`` (resolved, as it moves a linked run's folder)
    that are still there, sorted: ``.NAME.replaced`` and its ``-k`` siblings (``replaced_aside``), folders by
    those exact names (the glob alone took a user's .NAME.replaced-notes.txt for a run moved aside)."""
    home = Path(os.path.realpath(path))
    name = re.compile(rf"\.{re.escape(home.name)}\.replaced(-{_NUMBER})?")
    return sorted(p for p in home.parent.glob(replaced_aside(glob.escape(home.name)))
                  if name.fullmatch(p.name) and p.is_dir() and not p.is_symlink())


def save_model(model: Any, path: Path) -> None:
    """``model.save`` into a temp file beside ``path``, then rename it into place. A write that fails (a
    full disk) raises ``CheckpointNotWritten`` naming the file, which keeps its previous contents."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with written_beside(path) as tmp, open(tmp, "wb") as f:
            model.save(f)
    except OSError as e:
        raise CheckpointNotWritten(not_written(path, e)) from None


def save_checkpoint(model: Any, run: Path, keep: int = DEFAULTS["keep_checkpoints"]) -> Path:
    """Write checkpoints/step_<N>.zip and model.zip; keep the newest ``keep`` (0: every one). A stop
    signal during the save takes effect once both files are written."""
    file = run / "checkpoints" / f"step_{model.num_timesteps}.zip"
    with deferred_stop():
        save_model(model, file)
        save_model(model, run / "model.zip")
        for _, old in checkpoints(run)[:-keep] if keep else []:
            old.unlink(missing_ok=True)
    return file
