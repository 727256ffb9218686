"""A folder of emulator states reached at milestones, for Go-Explore-style swarm restarts.

Layout of ``folder``: one ``*.state`` file per archived state (raw ``PyBoy.save_state`` bytes, loadable
by ``scripts/play_gameboy.py --state`` too) and ``index.sqlite`` with one row per file. Several worker
processes may share one folder: files are written to a temporary name and renamed, and SQLite
serialises the index writes.

A milestone is a tuple of ints compared lexicographically, here ``(badges, event_flags, maps_visited)``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class StateArchive:
    """Milestone states of one ROM in ``folder`` (created if missing)."""

    def __init__(self, folder: str | Path, rom_sha1: str) -> None:
        self.folder = Path(folder)
        self.rom_sha1 = rom_sha1
        self.index = self.folder / "index.sqlite"
        self._counter = 0
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:  # a file in the way, no permission, a damaged index
            raise ValueError(f"archive_dir {self.folder} cannot hold the archive of milestone states "
                             f"({e}): give a folder that can be made and written, or move what is in its way"
                             ) from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.index, timeout=60)  # waits while another worker writes
        try:
            with db:  # commits on success
                yield db
        finally:
            db.close()

    def add(self, emulator_state: bytes, game: str, milestone: tuple[int, int, int], tiles: int,
            max_level: int, step: int, score: float) -> Path:
        """Write one state file and its index row; returns the file's path."""
        badges, events, maps = milestone
        self._counter += 1
        name = f"b{badges:02d}_e{events:04d}_m{maps:03d}_p{os.getpid()}_{self._counter:05d}.state"
        path = self.folder / name
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(emulator_state)
        os.replace(tmp, path)
        with self._connect() as db:
            db.execute(
                "INSERT INTO states (file, game, rom_sha1, badges, event_flags, maps, tiles, max_level, step,"
                " score, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, game, self.rom_sha1, badges, events, maps, tiles, max_level, step, score, time.time()),
            )
        return path

    def best(self) -> tuple[int, int, int] | None:
        """The highest milestone archived for this ROM, or None when there is none."""
        with self._connect() as db:
            row = db.execute(
                "SELECT badges, event_flags, maps FROM states WHERE rom_sha1 = ?"
                " ORDER BY badges DESC, event_flags DESC, maps DESC LIMIT 1", (self.rom_sha1,),
            ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]))

    def files_at(self, milestone: tuple[int, int, int]) -> list[Path]:
        """The archived state files of ``milestone``, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT file FROM states WHERE rom_sha1 = ? AND badges = ? AND event_flags = ? AND maps = ?"
                " ORDER BY id", (self.rom_sha1, *milestone),
            ).fetchall()
        return [self.folder / r[0] for r in rows if (self.folder / r[0]).exists()]

    def entries(self) -> list[dict]:
        """Every index row as a dict (for reports and tests)."""
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM states ORDER BY id").fetchall()
        return [dict(r) for r in rows]
