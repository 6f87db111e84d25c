"""The shared SQLite helpers: errors told apart by SQLite's result code, not by their text."""

import sqlite3

from service import sqlite


def full_database_error(tmp_path) -> sqlite3.Error:
    db = sqlite.connect(tmp_path / "small.sqlite3")
    db.execute("CREATE TABLE t (x)")
    db.execute("PRAGMA max_page_count = 2")  # no room to grow: the same SQLITE_FULL as a full disk
    try:
        for _ in range(100):
            db.execute("INSERT INTO t VALUES (?)", ("x" * 1000,))
    except sqlite3.Error as error:
        return error
    raise AssertionError("the database never filled up")


def test_a_full_database_is_told_by_its_code(tmp_path):
    error = full_database_error(tmp_path)
    assert sqlite.result_code(error) == sqlite3.SQLITE_FULL and sqlite.disk_full(error)


def test_other_errors_are_not_a_full_disk(tmp_path):
    db = sqlite.connect(tmp_path / "db.sqlite3")
    try:
        db.execute("SELECT * FROM missing_full_table")  # "full" in the text is not a full disk
    except sqlite3.Error as error:
        assert sqlite.result_code(error) == sqlite3.SQLITE_ERROR and not sqlite.disk_full(error)
    assert sqlite.result_code(sqlite3.OperationalError("disk is full")) is None  # not from SQLite: no code


def test_connect_opens_in_wal_mode(tmp_path):
    db = sqlite.connect(tmp_path / "nested" / "db.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
