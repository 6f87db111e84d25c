"""Opening the SQLite files that several processes share (translation memory, jobs) in WAL mode."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

WAL_SWITCH_TIMEOUT = 60.0
CONTENDED = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # another connection holds the lock the call needs


def result_code(error: sqlite3.Error) -> int | None:
    """SQLite's primary result code for the error (sqlite3.SQLITE_FULL, ...), or None when it did not come from SQLite."""
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF  # an extended code keeps the primary one in its low byte


def disk_full(error: sqlite3.Error) -> bool:
    """Whether SQLite refused a write because the disk (or the database's size limit) is full."""
    return result_code(error) == sqlite3.SQLITE_FULL


def connect(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """An autocommit connection in WAL mode; callers serialise its use across their threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + WAL_SWITCH_TIMEOUT
    while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            # Switching a new file to WAL needs exclusive access, and SQLite answers SQLITE_BUSY ("database
            # is locked") at once instead of waiting for it, so processes opening the file together retry here.
            if result_code(error) not in CONTENDED or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db
