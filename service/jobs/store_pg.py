"""The job store in PostgreSQL (psycopg 3): the same tables and the same SQL as SQLite's, shared by every host.

Selected by JOBS_DATABASE_URL=postgresql://user:password@host:5432/db. Claims lock the job row and take items
with SELECT ... FOR UPDATE SKIP LOCKED; a result is written in the transaction that marks its item done, and only
while the item is still claimed by the committing worker, so each (job, seq) is stored once. One connection per
store, behind a lock, like SQLite's; when the server restarts, the statement that finds the connection dropped is
retried once on a new one (a longer outage raises JobsUnavailable, and the worker's back-off waits it out).

A server that stops answering (frozen, or its host cut off) must not hold a thread: a call waits at most
JOBS_TIMEOUT for the lock, for the connection, and for each answer, then raises JobsUnavailable. The server
is asked to give up on a statement or a lock wait as long, and TCP keepalives and a user timeout notice a
peer that is gone while the connection sits idle.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import psycopg

from service.config import Settings
from service.errors import JobsUnavailable, hide_credentials
from service.jobs.store import POLLING, JobDispatch, JobStore

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jobs ("
    "id TEXT PRIMARY KEY, kind TEXT NOT NULL, options TEXT NOT NULL, state TEXT NOT NULL, reason TEXT, "
    "owner TEXT, fingerprint TEXT NOT NULL, total INTEGER NOT NULL, created DOUBLE PRECISION NOT NULL, "
    "started DOUBLE PRECISION, finished DOUBLE PRECISION, tokens BIGINT NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS jobs_fingerprint ON jobs (fingerprint)",
    "CREATE TABLE IF NOT EXISTS items ("
    "job_id TEXT NOT NULL, seq INTEGER NOT NULL, line INTEGER NOT NULL, input TEXT, status TEXT NOT NULL, "
    "result TEXT, error TEXT, claimed_by TEXT, lease_until DOUBLE PRECISION, attempts INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY (job_id, seq))",
    "ALTER TABLE items ADD COLUMN IF NOT EXISTS attempts INTEGER NOT NULL DEFAULT 0",  # a database from before it
    "CREATE INDEX IF NOT EXISTS items_pending ON items (status, job_id, seq)",
)
_SCHEMA_LOCK = 0x6A6F6273  # an advisory lock key: processes starting together create the tables one at a time
RETRIES_ON_CONFLICT = 5  # a deadlock or serialization failure: PostgreSQL rolled back, so the work runs again


class _BoundedConnection(psycopg.Connection):
    """A connection whose every wait for the server ends after answer_timeout seconds with an OperationalError."""

    answer_timeout: float | None = None

    def wait(self, gen, *args, timeout: float | None = None, **kwargs):
        if self.answer_timeout is not None:
            timeout = self.answer_timeout if timeout is None else min(timeout, self.answer_timeout)
        return super().wait(gen, *args, timeout=timeout, **kwargs)


class _Db:
    """A connection that speaks the shared SQL: "?" parameters become psycopg's "%s"."""

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def execute(self, sql: str, params: tuple = ()) -> psycopg.Cursor:
        return self._conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: list) -> None:
        if rows:
            with self._conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)


class PostgresJobStore(JobStore):
    """Jobs and their items in a PostgreSQL database that several service processes and worker hosts share."""

    _IS = "IS NOT DISTINCT FROM"
    _FOR_UPDATE = " FOR UPDATE"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self,
        url: str,
        lease_seconds: float = 120.0,
        max_attempts: int = Settings().job_item_max_attempts,
        timeout: float = 5.0,
        dispatch: JobDispatch = POLLING,
    ):
        self.url, self.lease_seconds, self.max_attempts, self.timeout = url, lease_seconds, max_attempts, timeout
        self.dispatch = dispatch
        self.where = hide_credentials(url)
        self._lock = threading.RLock()  # one connection, shared by request threads and worker threads
        self._conn: psycopg.Connection | None = None
        self._transaction(self._create_schema)

    @staticmethod
    def _create_schema(db: _Db) -> None:
        db.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
        for statement in _SCHEMA:
            db.execute(statement)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            millis = round(self.timeout * 1000)
            self._conn = _BoundedConnection.connect(
                self.url,
                autocommit=True,
                connect_timeout=math.ceil(self.timeout),  # libpq waits at least 2 s
                keepalives=1,
                keepalives_idle=math.ceil(self.timeout),
                keepalives_interval=math.ceil(self.timeout / 3),
                keepalives_count=3,
                tcp_user_timeout=millis,
                options=f"-c statement_timeout={millis} -c lock_timeout={millis} "
                f"-c idle_in_transaction_session_timeout={millis}",
            )
            self._conn.answer_timeout = self.timeout
        return self._conn

    def _run(self, work: Callable, in_transaction: bool):
        """work(db), retried once on a new connection when the old one turns out dropped at once (a server
        restart); one that timed out is not tried again."""
        if not self._lock.acquire(timeout=self.timeout):  # the thread ahead of this one is waiting on the server
            raise JobsUnavailable(f"the job database at {self.where} is busy: no turn within {self.timeout:g} s")
        started = time.monotonic()
        try:
            reconnected, conflicts = False, 0
            while True:
                try:
                    conn = self._connection()
                    if not in_transaction:
                        return work(_Db(conn))
                    with conn.transaction():
                        return work(_Db(conn))
                except psycopg.errors.TransactionRollback:
                    conflicts += 1
                    if conflicts > RETRIES_ON_CONFLICT:
                        raise
                except psycopg.OperationalError as error:
                    if self._conn is not None:
                        self._conn.close()  # whatever state it was left in (the server may have dropped it mid-reply)
                    self._conn = None
                    # A server restart yields one dropped connection; more, or silence, is an outage.
                    if reconnected or time.monotonic() - started >= self.timeout:
                        raise JobsUnavailable(
                            f"the job database at {self.where} is unreachable or did not answer within "
                            f"{self.timeout:g} s ({error})"
                        ) from None
                    log.warning(
                        "job store: the connection to PostgreSQL dropped (%s); reconnecting once",
                        hide_credentials(str(error)),
                    )
                    reconnected = True
        finally:
            self._lock.release()

    def _transaction(self, work: Callable):
        return self._run(work, in_transaction=True)

    def _read(self, sql: str, params: tuple = ()) -> list:
        return self._run(lambda db: db.execute(sql, params).fetchall(), in_transaction=False)

    def _serialize_create(self, db, submitter: str) -> None:
        db.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", (submitter,))
