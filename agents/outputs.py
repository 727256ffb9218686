"""Files and folders the scripts write, written safely: atomic writes (a temp file beside the output, renamed
into place, so a crash, Ctrl-C or full disk never leaves half a file in place of a good one), the checks of an
output path before any work, the folders made for an output and removed again should it fail, the flock
helpers, and the readers of the JSON files a command reads back. Nothing here knows about run folders
(agents/runs.py, which uses these).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from agents.cli import name_limit, shown_path
from agents.interrupts import deferred_stop, safe_to_stop, settled, uninterruptible

_T = TypeVar("_T")


def empty_folder(folder: Path, keep: Container[str] = ()) -> None:
    """Everything in ``folder`` removed but the entries named in ``keep``; a link is removed, never
    followed (its target's files are not this folder's)."""
    for entry in folder.iterdir():
        if entry.name not in keep:
            remove_entry(entry)


def remove_entry(entry: Path) -> None:
    """Remove ``entry``: a folder with all it holds, anything else (a link too, never followed) itself."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def exclusive_lock(f: IO[Any]) -> bool:
    """An exclusive, non-blocking lock on an open file (``BlockingIOError`` when another process holds
    it; the kernel drops it when the holder dies); none where fcntl is missing (Windows): False then."""
    return _flock(f, shared=False)


def _flock(f: IO[Any] | int, shared: bool, wait: bool = False) -> bool:
    """``exclusive_lock`` or ``shared_lock`` of an open file (or descriptor); ``wait``: until it is free,
    not ``BlockingIOError``. False, and no lock, where fcntl is missing (Windows)."""
    try:
        import fcntl
    except ImportError:
        return False
    flags = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
    fcntl.flock(f if isinstance(f, int) else f.fileno(), flags)
    return True


@contextlib.contextmanager
def _folders_locked(folders: Iterable[Path]) -> Iterator[None]:
    """Each folder locked (exclusive, waiting for it) inside the block, in one order, so two holders never
    wait on each other. No lock where a folder cannot be locked: NFS (flock there needs a file open for
    writing), Windows; the block runs all the same. The wait takes a stop signal as the caller's handler
    does (``KeyboardInterrupt`` out of it), inside ``stop_at_safe_points`` too (``safe_to_stop``): enter it
    before ``uninterruptible`` or ``deferred_stop``, which would leave a Ctrl-C waiting as long as another
    writer holds a lock."""
    with contextlib.ExitStack() as stack:
        for folder in sorted({os.path.realpath(f) for f in folders}):  # one folder twice: waits on itself
            try:
                fd = os.open(folder, os.O_RDONLY)
            except OSError:
                continue
            stack.callback(os.close, fd)
            with contextlib.suppress(OSError), safe_to_stop():
                _flock(fd, shared=False, wait=True)
        yield


def process_running(pid: int) -> bool:
    """Whether process ``pid`` runs (one writing the folders it named by its pid, now); not this
    process's own pid, which on a leftover folder is a killed process's, reused."""
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: no process can have such a pid
        return False
    except PermissionError:  # another user's process
        return True
    return True


def shared_lock(f: IO[Any]) -> bool:
    """A shared, non-blocking lock on an open file (``BlockingIOError`` while another process holds its
    ``exclusive_lock``): what a probe of a writer's lock takes, on a file opened to read. NFS emulates flock
    with byte-range locks, where an exclusive lock needs the file open for writing (EBADF). None where
    fcntl is missing (Windows): False then."""
    return _flock(f, shared=True)


@contextlib.contextmanager
def written_beside(path: Path, last: bool = False, new: bool = False, signals: bool = True) -> Iterator[Path]:
    """A temporary file beside ``path`` (same suffix, so writers pick the format) that replaces ``path``
    once the block completes, and is removed if it does not: a crash, Ctrl-C or full disk never leaves
    half a file in place of a good one. Opened normally, not with mkstemp (whose files are private to
    the user): the file gets the permissions of every other file beside it. A symlink stays a link:
    the file it points to is replaced. ``last``, ``new`` and ``signals``: as in ``written_together``.
    Every file the project writes whole goes through here (or ``place``, for a writer that opens its own
    temp file)."""
    with written_together([path], last=last, new=new, signals=signals) as (tmp,):
        yield tmp


@contextlib.contextmanager
def written_together(paths: list[Path], stale: Sequence[Path] = (), last: bool = False, new: bool = False,
                     signals: bool = True, placed: Callable[[], None] | None = None) -> Iterator[list[Path]]:
    """``written_beside`` for files that belong together (a result and its videos): all of them are
    replaced, with no signal between the renames, once the block completes; none if it does not. The
    ``stale`` files (an older result's parts that this one lacks) are removed with the same step.
    ``last``: a command's last output; once it is in place, stop signals are ignored (``settled``), so a
    signal in the moment after cannot have the command say it wrote nothing. Otherwise a stop signal
    during the renames takes effect after them (a training run's periodic checkpoint): ignored, it was
    lost, and the run trained on. ``signals=False``: the renames leave signals as the caller set them (an
    export worker ignores them: its export stops it). ``new``: each file only where none is,
    ``FileExistsError`` otherwise (``place``), and then none of them. ``placed``: called once they are in
    place, before a stop deferred during the renames is raised, so the caller can tell them written.

    The temp files are ``.<stem>.<pid>.tmp<suffix>`` (``RUN_TEMP``), ``.<stem>.<pid>-<thread>.tmp<suffix>``
    from a thread other than the main one: two threads writing one file (a cache entry asked for twice at
    once) shared one temp file, and one renamed into place what the other was still writing."""
    # new: a link is a file there, even one to a missing file, not the way to the place to write
    finals = [Path(os.path.abspath(p) if new else os.path.realpath(p)) for p in paths]
    tag = os.getpid() if threading.current_thread() is threading.main_thread() else (
        f"{os.getpid()}-{threading.get_native_id()}")
    tmps = [f.with_name(temp_name(f, tag)) for f in finals]
    try:
        yield tmps
        # A set is placed under its folders' locks: two writers of one set (two evaluate.py of one model)
        # interleaved their renames, leaving one's result beside the other's videos. Taken before the
        # signals are held: a stop during the wait (another writer frozen by Ctrl-Z) ends it, nothing placed.
        folders = [p.parent for p in (*finals, *stale)] if len(finals) + len(stale) > 1 else []
        with _folders_locked(folders), (
                (uninterruptible() if last else deferred_stop()) if signals else contextlib.nullcontext()):
            _place_all(tmps, finals, new)
            for path in stale:
                path.unlink(missing_ok=True)
            if placed is not None:
                placed()
            if last:
                settled()
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def temp_name(path: Path, tag: int | str | None = None) -> str:
    """The name of ``written_together``'s temp file for ``path``: ``.<stem>.<tag>.tmp<suffix>``, the tag
    being this process's pid unless given."""
    return f".{path.stem}.{os.getpid() if tag is None else tag}.tmp{path.suffix}"


def check_name_fits(path: Path, flag: str, longest: str) -> None:
    """Refuse (``ValueError`` naming ``flag``) an output ``path`` whose name, or ``longest`` (the longest
    name its writer makes beside it: a temp file's or folder's, the name with some bytes added), is longer
    than the file system there takes. Found only once the work was done, a name a few bytes short of the
    limit was "File name too long" after it (an export's episodes played), or a raw OSError before it."""
    folder = str(path.parent)
    while folder and not os.path.isdir(folder):  # the missing folders would be made on that file system
        folder = os.path.dirname(folder)
    limit = name_limit(folder)
    size, extra = len(os.fsencode(path.name)), len(os.fsencode(longest)) - len(os.fsencode(path.name))
    if limit is None or size + extra <= limit:
        return
    beside = f", and the temporary name written beside it {extra} more" if extra else ""
    raise ValueError(f"{flag} {shown_path(str(path))}: the name is too long ({size} bytes{beside}; the file "
                     f"system takes {limit} at most); give a name of at most {limit - extra} bytes")


def folder_temp_name(path: Path) -> str:
    """The longest name a folder output's writers make beside it: a merge's ``.<name>.<pid>.partial``
    (longer than an export's ``.<name>.partial`` and train_ppo.py --force's ``.<name>.replaced``)."""
    return f".{path.name}.{os.getpid()}.partial"


def check_output_file(path: Path, flag: str, force: bool, inputs: Mapping[str, Path | None] | None = None,
                      make_folders: bool = False) -> None:
    """Refuse, before any work, an output file that cannot or should not be written (``ValueError``
    naming ``flag``): a folder or device in the way, one of the command's ``inputs`` (name -> file; even
    with ``force``), an existing file without ``force``, a missing folder (with ``make_folders``: a file
    where one would be made) or a read-only one, or a name too long (``check_name_fits``)."""
    check_name_fits(path, flag, temp_name(path))
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder; give a file name")
    for name, file in (inputs or {}).items():
        if file is not None and same_file(path, file):
            raise ValueError(f"{flag} {path} is the {name} file, which writing it would destroy; choose "
                             "another name")
    if path.exists() and not path.is_file():
        raise ValueError(f"{flag} {path} is not a regular file; give a file name")
    if (path.exists() or path.is_symlink()) and not force:
        raise ValueError(f"{flag} {path} exists; pass --force to replace it, or give a new file name")
    if make_folders:
        folder = _nearest_folder(path.parent, flag, path)
    elif not path.parent.is_dir():
        raise ValueError(f"{flag} {path}: {path.parent} is a file, not a folder" if path.parent.exists() else
                         f"{flag} {path}: no folder {path.parent}")
    else:
        folder = Path(os.path.realpath(path)).parent
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{flag} {path}: not writable here; choose another place")


def check_output_folder(path: Path, flag: str, fix: str = "choose another place",
                        beside: bool = True) -> None:
    """Refuse, before any work, a results folder that cannot be made or written (``ValueError`` naming
    ``flag``): a file in the way, or missing folders that could not be made there. ``fix``: what to do
    about a folder not writable, where ``flag`` is no flag (a default folder: the flag that moves it). A
    name too long (``check_name_fits``): with ``beside``, for the temp folders made beside it too (those of
    the export, the merge and train_ppo.py --force; compare's and evaluate's write only inside theirs)."""
    check_name_fits(path, flag, folder_temp_name(path) if beside else path.name)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {path} is a file; give a folder")
    folder = _nearest_folder(path, flag, path)
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{flag} {path}: {folder} is not writable; {fix}")


def make_output_folder(path: Path, flag: str, fix: str = "choose another place") -> list[Path]:
    """``check_output_folder`` (with ``fix``; its outputs are written inside it, none beside), then make
    ``path`` now, before the work (a paid VLM play): a full disk is found before the money is spent.
    Returns the folders it made (``missing_folders``), for ``remove_folders`` should the work fail;
    ``ValueError`` naming ``flag`` when it cannot be made."""
    check_output_folder(path, flag, fix, beside=False)
    made = missing_folders(path)
    try:  # a parent that another output started together removes as it fails: made again
        made_in(path.parent, lambda: path.mkdir(exist_ok=True))
    except OSError as e:
        remove_folders(made)  # those made before the disk was full
        raise ValueError(f"{flag} {path}: the folder cannot be made ({e.strerror or e}); free some space or "
                         "choose another place") from None
    return made


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and the folders above it that do not exist yet, innermost first: those that
    ``folder.mkdir(parents=True)`` makes, for ``remove_folders`` should the output then fail."""
    return [p for p in (folder, *folder.absolute().parents) if not os.path.lexists(p)]


def remove_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (``missing_folders``' list, innermost first) that are empty: those made for an
    output that failed, also when the ``mkdir`` failed half-way. One that holds something now stays."""
    for folder in folders:
        with contextlib.suppress(OSError):  # not made after all, or not empty: left as it is
            folder.rmdir()


def made_in(folder: Path, make: Callable[[], _T], tries: int = 10) -> _T:
    """``make()``, which makes this output's own entry in ``folder``, once ``folder`` and the folders above
    it are made (those there already are taken as they are: another output may make them at the same
    moment). Another output that found them missing too and failed removes them again (``remove_folders``:
    empty until an entry is made in them), and ``make`` or the ``mkdir`` then finds no folder
    (``FileNotFoundError``): they are made again, up to ``tries`` times."""
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return make()
        except FileNotFoundError:
            tries -= 1
            if tries <= 0 or folder.is_dir():  # not the folder removed: another file missing
                raise


def folder_chain(path: Path) -> list[tuple[int, int] | None]:
    """The identities (``folder_identity``) of folder ``path`` and of each folder above it, for
    ``make_again``."""
    path = Path(os.path.abspath(path))
    return [folder_identity(p) for p in (path, *path.parents)]


def make_again(path: Path, chain: list[tuple[int, int] | None]) -> bool:
    """Make output folder ``path`` again where it is gone, with those above it gone too, while the nearest
    folder above them left is still the one it was (``chain``: ``folder_chain`` of ``path`` once made):
    another output that found it missing too (or made it first) failed and removed it, empty
    (``remove_folders``), while this one worked. Not where a folder above it is another now (a
    train_ppo.py --force moved the run it was in aside): the output is not for the folder now there.
    Returns whether it was made again."""
    path = Path(os.path.abspath(path))
    for folder, was in zip((path, *path.parents), chain, strict=True):  # the root at least is there
        now = folder_identity(folder)
        if now is None:  # gone: removed, or moved away with a folder above it (seen there)
            continue
        if now != was or folder == path:  # another folder now, or not gone at all
            return False
        break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # a full disk: the write that follows says so
        return False
    return True


class MadeFolders:
    """The folders an output made (``missing_folders``' list, innermost first), removed again (``remove``,
    those still empty) where they are then: through a handle on the folder above them, held until ``close``.
    A train_ppo.py --force moves a run aside with the ``compare-<time>`` made in it, and ``remove_folders``
    looked at the old name, in the new run, leaving it empty in the old one. Where no handle can be had:
    ``remove_folders``. ``marks``: files beside them, under the same handle, that ``remove`` (before the
    folders) and ``close`` delete."""

    def __init__(self, made: list[Path], marks: Sequence[Path] = ()) -> None:
        self.made, self.marks = made, list(marks)
        above = os.path.dirname(os.path.abspath(made[-1])) if made else ""
        self.names = [os.path.relpath(os.path.abspath(folder), above) for folder in made]  # now: "." may move
        self.mark_names = [os.path.relpath(os.path.abspath(mark), above) for mark in self.marks]
        self.handle: int | None = None
        if made and os.rmdir in os.supports_dir_fd:
            with contextlib.suppress(OSError):  # a folder one may write in but not read
                self.handle = os.open(above, getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)

    def remove(self) -> None:
        self._remove_marks()  # first: one in a folder made for the output kept it
        if self.handle is None:
            remove_folders(self.made)
            return
        for name in self.names:  # innermost first
            with contextlib.suppress(OSError):  # not made after all, or not empty: left as it is
                os.rmdir(name, dir_fd=self.handle)

    def _remove_marks(self) -> None:
        for name, mark in zip(self.mark_names, self.marks, strict=True):
            with contextlib.suppress(OSError):  # gone already
                if self.handle is None:
                    mark.unlink()
                else:
                    os.unlink(name, dir_fd=self.handle)
        self.marks, self.mark_names = [], []

    def close(self) -> None:
        self._remove_marks()
        if self.handle is not None:
            os.close(self.handle)
            self.handle = None


@contextlib.contextmanager
def folders_made_for(folder: Path) -> Iterator[None]:
    """Around making ``folder`` (``mkdir(parents=True)``) and writing an output in it: should either fail, a
    stop included, the folders made for it are removed again (``remove_folders``), so no empty folder is
    left for an output not written."""
    made = missing_folders(folder)
    try:
        yield
    except BaseException:
        remove_folders(made)
        raise


def _nearest_folder(folder: Path, flag: str, path: Path) -> Path:
    """The nearest existing folder at or above ``folder`` (where missing ones would be made)."""
    found = next(p for p in (folder.absolute(), *folder.absolute().parents) if os.path.lexists(p))
    if not found.is_dir():
        raise ValueError(f"{flag} {path}: {found} is not a folder; choose another place")
    return found


def folder_identity(path: Path) -> tuple[int, int] | None:
    """Folder ``path``'s identity on its file system (device, inode); None where there is none. A folder
    renamed keeps it; one made at its name since (a ``train_ppo.py --force`` moved it aside) has another."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def same_file(a: Path, b: Path) -> bool:
    """Whether writing ``a`` would write ``b``: the same path once resolved (as ``sub/../b`` is once
    ``sub`` is made), or a hard link."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def not_written(path: Path | str, e: OSError, left: str = "any file there before is unchanged") -> str:
    """The line for a write the disk refused (full, read-only): which file or output folder, why (with
    the file it failed on, where that is another: one inside the folder), and that its earlier contents
    stay (every writer here goes through ``written_beside``, or builds a folder aside and swaps it in), or
    what else the write ``left``, where that is not so. A caller whose flag named ``path`` puts the flag
    first: ``--out <path> could not be written ...``."""
    # A copy's error (shutil's) names the file it read first and the one it wrote second: the one written.
    failed = e.filename2 or e.filename
    where = f": {failed}" if failed and os.fspath(failed) != os.fspath(path) else ""
    return f"{path} could not be written ({e.strerror or e}{where}); {left}"


def place(tmp: Path, final: Path, new: bool = False) -> None:
    """``tmp`` renamed to ``final``: the last step of every atomic write (``written_together``, the
    archive's). ``new``: only where no file is, ``FileExistsError`` otherwise (an
    output without --force that another command wrote while this one worked: a check before the work let
    the later of two commands replace it). A hard link never replaces; a file system without them (FAT,
    some network mounts) gets a check and a rename."""
    if new:
        try:
            os.link(tmp, final)  # tmp itself is removed by its writer, as a renamed one would be gone
            return
        except FileExistsError:
            raise
        except OSError:
            if os.path.lexists(final):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(final)) from None
    os.replace(tmp, final)


def _place_all(tmps: list[Path], finals: list[Path], new: bool) -> None:
    """Each of ``tmps`` to its place in ``finals``; ``new``: all or none, so the files placed before one
    whose place is taken are removed again (new files: nothing is lost). They were left: half a set."""
    done: list[Path] = []
    try:
        for tmp, final in zip(tmps, finals, strict=True):
            place(tmp, final, new)
            done.append(final)
    except OSError:
        if new:
            for final in done:
                final.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, last: bool = False, new: bool = False) -> None:
    """``text`` into ``path``, whole or not at all (``last`` and ``new``: as in ``written_together``)."""
    with written_beside(path, last=last, new=new) as tmp:
        tmp.write_text(text, encoding="utf-8")  # as every reader reads it, whatever the locale


def json_object_or_none(path: Path) -> dict[str, Any] | None:
    """The JSON object that file ``path`` holds, or None where it holds none: missing or unreadable, not
    UTF-8 text, not JSON, nested past the parser's depth (a RecursionError, which each reader caught or
    missed on its own), or not an object. For the files a command reads back to decide what to do (a
    cache entry, an export's meta.json, an earlier result), which a damaged one must not end in a
    traceback. A file that does not start with ``{`` (a model's zip given by mistake) is not read whole,
    and no regular file is not opened at all: a FIFO's open waits for a writer, and the command hung
    without a word. A reader that says what is wrong with the file uses ``read_json_object``, which tells
    an unreadable one apart."""
    try:
        return read_json_object(path)
    except OSError:
        return None


def read_json_object(path: Path) -> dict[str, Any] | None:
    """``json_object_or_none``, but raising where the file cannot be read: a folder, or a file the system
    will not read (permission denied, an I/O error), raises its ``OSError`` ("not a JSON object" misnamed
    what is wrong with it); None still where the file holds no JSON object. Whitespace before the object is
    JSON's, and a UTF-8 byte-order mark is skipped (RFC 8259 lets a parser ignore one): a Windows editor
    (Notepad) may write it, as the project's other readers of hand-edited files take it (config, inputs)."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8-sig") as f:
            if not _starts_an_object(f):
                return None
            f.seek(0)
            data = json.load(f)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _starts_an_object(f: Any) -> bool:
    """Whether text file ``f``'s first character past JSON's whitespace is ``{``. Read a chunk at a time and
    kept none: a file of lines of whitespace is gone through in little memory, and any other file (a zip)
    ends the look at its first chunk, not read whole."""
    while chunk := f.read(4096):
        if rest := chunk.lstrip(" \t\n\r"):
            return rest[0] == "{"
    return False
