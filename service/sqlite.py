"""Opening the SQLite files that several processes share (translation memory, jobs) in WAL mode."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

WAL_SWITCH_TIMEOUT = 60.0


def connect(path: Path, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """An autocommit connection in WAL mode; callers serialise its use across their threads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + WAL_SWITCH_TIMEOUT
    while db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            # Switching a new file to WAL needs exclusive access, and SQLite answers "locked" at once
            # instead of waiting for it, so processes opening the file together retry here.
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db
