"""A folder of emulator states reached at milestones, for Go-Explore-style swarm restarts.

Layout of ``folder``: one ``*.state`` file per archived state (raw ``PyBoy.save_state`` bytes, loadable
by ``scripts/play_gameboy.py --state`` too) and ``index.sqlite`` with one row per file. Several worker
processes (of one run or of several) may share one folder (the index has a random identity of its own,
which tells another index moved into its place): every file has a random name of its own (no
writer can replace another's file), is written to ``<its name>.tmp`` under an exclusive lock and renamed,
and SQLite serialises the index writes. Opening the archive removes the temp files a killed writer left:
one with bytes in it whose lock can be taken (a writer locks its temp file before the first byte, and the
kernel drops the lock when the writer dies), and any untouched for an hour whose lock can be taken (an
empty one, or one of the unlocked ``*_p<pid>_<n>.tmp`` files of older versions of this module).

A milestone is a tuple of ints compared lexicographically, here ``(badges, event_flags, maps_visited)``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Container, Iterator
from contextlib import contextmanager
from pathlib import Path

from agents.cli import first_few
from agents.outputs import exclusive_lock, place, shared_lock
from envs.gameboy.roms import warn_of_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS states (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file TEXT NOT NULL,
    game TEXT NOT NULL,
    rom_sha1 TEXT NOT NULL,
    badges INTEGER NOT NULL,
    event_flags INTEGER NOT NULL,
    maps INTEGER NOT NULL,
    tiles INTEGER NOT NULL,
    max_level INTEGER NOT NULL,
    step INTEGER NOT NULL,
    score REAL NOT NULL,
    created REAL NOT NULL
)
"""

# The index's identity: a random token written once, by whichever opening makes the table (or finds an
# older version's index without it), and read back at each opening.
_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

_COLUMNS = ", ".join(line.split()[0] for line in _SCHEMA.strip().splitlines()[1:-1])

# What ``StateArchive.add`` names its temp files: ``b<badges>_e<events>_m<maps>_<32 hex digits>.tmp``.
_TEMP = re.compile(r"b\d+_e\d+_m\d+_[0-9a-f]{32}\.tmp")
# Those of older versions, written without a lock: ``b<badges>_e<events>_m<maps>_p<pid>_<counter>.tmp``.
_OLD_TEMP = re.compile(r"b\d+_e\d+_m\d+_p\d+_\d+\.tmp")
# Seconds after its last write past which a temp file has no live writer: a writer, old or new, writes a
# state (~210 KB) and renames it within milliseconds of creating its temp file.
STALE_TEMP_SECONDS = 3600.0
_WARNED: set[Path] = set()  # the archive folders this process has warned about missing state files


def _identity(db: sqlite3.Connection) -> str | None:
    """The index's identity token; None for an index without one (made by an older version and not opened
    by this one since)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'id'").fetchone()
    return None if row is None else str(row[0])


class ArchiveError(ValueError):
    """An archive folder that cannot hold the archive: ``folder`` and why (``reason``), for a caller that
    knows better what the user can do about it (a ``--resume`` cannot be given another folder)."""

    def __init__(self, folder: Path, reason: str) -> None:
        super().__init__(f"archive_dir {folder} cannot hold the archive of milestone states ({reason}): give "
                         "a folder that can be made and written, or move what is in its way")
        self.folder, self.reason = folder, reason

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # a worker process sends it to the training one
        return type(self), (self.folder, self.reason)


class StateArchive:
    """Milestone states of one ROM in ``folder`` (created if missing)."""

    def __init__(self, folder: str | Path, rom_sha1: str) -> None:
        # Absolute: a relative folder was read from the current one at each write, so a process that
        # changed folder (os.chdir) found its archive "deleted or moved while in use".
        self.folder = Path(folder).absolute()
        self.rom_sha1 = rom_sha1
        self.index = self.folder / "index.sqlite"
        # The index rows read so far, kept between calls: a swarm reset reads only the rows appended
        # since (re-reading every row took 60 ms a reset at 20,000 rows).
        self._read_to = 0  # the highest row id read
        # The highest row id read or written: the index's row counter is never below it (_check_same_index)
        self._seen = 0
        self._files: dict[tuple[int, int, int], list[str]] = {}  # this ROM's file names per milestone
        self._ranked: list[tuple[int, int, int]] = []  # the milestones of _files, highest first
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._connect(create=True) as db:
                db.execute(_SCHEMA)
                # An index.sqlite of another program, whose "states" table lacks these columns, failed
                # at the first read with sqlite3's traceback.
                db.execute(f"SELECT {_COLUMNS} FROM states LIMIT 0")
                db.execute(_META)
                # In one write transaction with the read below: of several workers opening at once, the
                # first one's token stays and every one reads it.
                db.execute("INSERT OR IGNORE INTO meta VALUES ('id', ?)", (uuid.uuid4().hex,))
                self._id = _identity(db)
        except OSError as e:  # a file in the way, no permission (_connect names a damaged or alien index)
            raise ArchiveError(self.folder, str(e)) from None
        self.remove_stale_temps()

    def remove_stale_temps(self) -> list[Path]:
        """Remove the temp files of writers that died mid-write (SIGKILL, a power cut); returns them.

        Another process may be writing into the folder right now, so a temp file goes only when it
        provably has no live writer: its lock can be taken, and it holds bytes (its writer had locked it
        by then) or was last written ``STALE_TEMP_SECONDS`` ago. The temp files of older versions, which
        wrote without a lock, go by age alone; so does any where locks are not available."""
        removed: list[Path] = []
        try:
            names = [e.name for e in os.scandir(self.folder)
                     if _TEMP.fullmatch(e.name) or _OLD_TEMP.fullmatch(e.name)]
        except OSError:
            return removed
        for name in names:
            path = self.folder / name
            try:
                f = open(path, "rb")  # noqa: SIM115 - closed below, after the unlink
            except OSError:  # renamed into place, or removed by another process, meanwhile
                continue
            try:
                stat = os.fstat(f.fileno())
                untouched = time.time() - stat.st_mtime > STALE_TEMP_SECONDS
                written = stat.st_size > 0 and _TEMP.fullmatch(name) is not None  # locked before its bytes
                # Locked only then (BlockingIOError while a live writer holds it): a writer between
                # creating its file and locking it would find the lock taken and fail.
                # A shared lock, as a probe takes (an exclusive one on a file opened to read fails on NFS).
                if (untouched or written) and (shared_lock(f) or untouched):
                    path.unlink()
                    removed.append(path)
            except OSError:  # BlockingIOError: its writer is alive; or already gone
                pass
            finally:
                f.close()
        return removed

    @contextmanager
    def _connect(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        """The index, made only when ``create`` (on opening). An index deleted or damaged while the archive
        is in use is an ArchiveError: it was a bare sqlite3 error ("no such table: states" from the empty
        index the connection made in its place) that stopped training."""
        # A URI, so that the index is opened read-write without being made (mode=rw); as_uri escapes the
        # characters a URI reserves.
        uri = f"{self.index.absolute().as_uri()}?mode={'rwc' if create else 'rw'}"
        try:
            db = sqlite3.connect(uri, uri=True, timeout=60)  # waits while another worker writes
            try:
                with db:  # commits on success
                    yield db
            finally:
                db.close()
        except sqlite3.Error as e:
            if "locked" in str(e):  # busy past the timeout, not damaged: moving the archive aside is no cure
                raise
            gone = not create and not self.index.exists()
            raise ArchiveError(self.folder, f"its {self.index.name} was deleted or moved while in use" if gone
                               else f"{self.index.name}: {e}") from None

    def _check_same_index(self, db: sqlite3.Connection) -> None:
        """An ArchiveError when ``db`` is not the index this archive opened. Another identity is another
        index, made in a deleted one's place or moved over it. An older copy of the same index has its
        identity: AUTOINCREMENT's counter, which never goes down in one index (not even as rows are
        deleted), below the highest id read or written tells it."""
        (highest,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'states'"
                                ).fetchone()
        if _identity(db) != self._id or highest < self._seen:
            raise ArchiveError(self.folder, f"its {self.index.name} was replaced by another while in use")

    def add(self, emulator_state: bytes, game: str, milestone: tuple[int, int, int], tiles: int,
            max_level: int, step: int, score: float) -> Path:
        """Write one state file and its index row; returns the file's path. When either cannot be written
        the exception goes on, and neither file nor temp file is left."""
        badges, events, maps = milestone
        # A random name: a counter with the pid repeated itself in a new archive object or a reused pid,
        # and the rename then replaced another writer's state file.
        stem = f"b{badges:02d}_e{events:04d}_m{maps:03d}_{uuid.uuid4().hex}"
        name = f"{stem}.state"
        path = self.folder / name
        tmp = self.folder / f"{stem}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # as for its index: training then saves a checkpoint and advises
            raise ArchiveError(self.folder, "the folder was deleted or moved while in use") from None
        try:
            with os.fdopen(fd, "wb") as f:
                exclusive_lock(f)  # before the first byte: remove_stale_temps leaves it alone
                f.write(emulator_state)
                f.flush()
                # Not written_beside, which renames once the file is closed: a temp file with bytes and no
                # lock is a dead writer's to another worker's remove_stale_temps, which deleted it.
                place(tmp, path)  # still locked: the lock ends when the file is closed
            with self._connect() as db:
                # A run that archives without --swarm reads the index only on opening: it would write into
                # a replacement, another archive's index or an older copy, and never stop.
                self._check_same_index(db)
                row = db.execute(
                    "INSERT INTO states (file, game, rom_sha1, badges, event_flags, maps, tiles, max_level,"
                    " step, score, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, game, self.rom_sha1, badges, events, maps, tiles, max_level, step, score,
                     time.time()),
                ).lastrowid
            self._seen = max(self._seen, row or 0)  # committed: a commit that failed wrote no row
        except BaseException:  # a full disk, the index locked past the timeout, Ctrl-C: no file is left
            for leftover in (tmp, path):  # unlisted, which no restart would use and nothing would remove
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise
        return path

    def _milestones(self) -> Iterator[tuple[tuple[int, int, int], list[Path]]]:
        """Each milestone archived for this ROM, highest first, with the state files its index rows
        name, oldest first (whether or not they are still there).

        Only the rows appended since the last call are read. Their ids grow in the order other processes'
        rows become visible (SQLite lets one writer at a time assign an id and commits its row whole, and
        AUTOINCREMENT never reuses an id), so no row can appear later below the highest id read."""
        with self._connect() as db:
            self._check_same_index(db)
            rows = db.execute(
                "SELECT id, rom_sha1, badges, event_flags, maps, file FROM states WHERE id > ? ORDER BY id",
                (self._read_to,),
            ).fetchall()
        for _, rom_sha1, badges, events, maps, file in rows:
            if rom_sha1 == self.rom_sha1:
                self._files.setdefault((int(badges), int(events), int(maps)), []).append(file)
        if rows:
            self._read_to = int(rows[-1][0])
            self._seen = max(self._seen, self._read_to)
            self._ranked = sorted(self._files, reverse=True)
        for milestone in self._ranked:
            yield milestone, [self.folder / name for name in self._files[milestone]]

    def restart_files(self, skip: Container[Path] = (), warn: bool = True
                      ) -> tuple[tuple[int, int, int], list[Path]] | None:
        """The highest milestone that still has state files, other than those in ``skip`` (files a swarm
        could not load), and those files, oldest first; None when no milestone has any. A warning (once
        per folder and process, unless ``warn`` is False) when files the index lists above it or at it
        are missing: restarts then come from the files left, from a lower milestone, or from the start
        state."""
        listed, missing = 0, []
        shown: list[tuple[int, int, int]] = []  # the milestones with missing files
        chosen = None
        for milestone, paths in self._milestones():
            paths = [p for p in paths if p not in skip]
            found = [p for p in paths if p.is_file()]
            lost = [p for p in paths if p not in found]
            if lost:
                listed += len(paths)
                missing += lost
                shown.append(milestone)
            if found:
                chosen = milestone, found
                break
        if missing and warn and self.folder not in _WARNED:
            _WARNED.add(self.folder)
            if chosen is None:
                rest = "the start state, as none is left"
            elif chosen[0] == shown[-1]:
                rest = f"its other {len(chosen[1])}"
            else:
                rest = f"milestone {chosen[0]}, the best with its files"
            names = first_few([p.name for p in missing], 3)
            milestones = first_few([str(m) for m in shown], 3)
            warn_of_file(f"archive {self.folder}: {len(missing)} of the {listed} state files of milestone"
                         f"{'s' if len(shown) > 1 else ''} (badges, event flags, maps) {milestones} that "
                         f"index.sqlite lists are missing ({names}); swarm restarts use {rest}", "archive",
                         __name__)
        return chosen

    def entries(self) -> list[dict]:
        """Every index row as a dict (for reports and tests)."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM states ORDER BY id").fetchall()
        return [dict(r) for r in rows]
