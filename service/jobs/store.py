"""The job store: one row per job and one per item, safe for several worker processes.

JobStore holds the logic (SQL that SQLite and PostgreSQL both run); SqliteJobStore keeps it in one SQLite
file (WAL), the embedded default, and service.jobs.store_pg.PostgresJobStore in a PostgreSQL database that
workers on several hosts share. A store's JobDispatch tells workers of each new job: by default it does nothing,
as workers poll the store; Celery's (service.jobs.celery_queue) publishes the job's batches. This module knows
none of its back ends: service.jobs.backends.open_job_store picks and composes them from the settings.

Workers claim items in short BEGIN IMMEDIATE transactions and hold them under a lease. A worker
that dies (kill -9) leaves claims behind: a worker on the same host frees them at once (it can see
the process is gone: its name holds the pid and the process's start time, so a reused pid does not
fool it), and anywhere else they are taken once the lease runs out. Each time counts as an attempt of the
items: an item whose worker dies again and again (it kills it, say) runs alone, and after
JOB_ITEM_MAX_ATTEMPTS deaths it fails with that reason, so its job can end. An item's result
is written in the same transaction that marks it done, so it is stored once or not at all.
"""

from __future__ import annotations

import abc
import hashlib
import itertools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from service import sqlite
from service.config import Settings
from service.errors import JobsUnavailable, ServiceError

ACTIVE = ("queued", "running", "paused")
# Every job translates (and may index): nothing dispatches on a kind. The one kind stays in the jobs table's column,
# in the status a client reads, and in the fingerprint, so that a job stored before it left the API still matches.
JOB_KIND = "translate"
INSERT_CHUNK = 1000  # items stored per statement: an upload is read this many lines at a time
IN_ACTIVE = f"IN ({', '.join('?' * len(ACTIVE))})"  # SQL for "one of ACTIVE"; the states go in as parameters
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, options TEXT NOT NULL, state TEXT NOT NULL, reason TEXT,
    owner TEXT, fingerprint TEXT NOT NULL, total INTEGER NOT NULL, created REAL NOT NULL,
    started REAL, finished REAL, tokens INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_fingerprint ON jobs (fingerprint);
CREATE TABLE IF NOT EXISTS items (
    job_id TEXT NOT NULL, seq INTEGER NOT NULL, line INTEGER NOT NULL, input TEXT, status TEXT NOT NULL,
    result TEXT, error TEXT, claimed_by TEXT, lease_until REAL, attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_pending ON items (status, job_id, seq);
"""


class ActiveJobLimit(ServiceError, RuntimeError):
    """The owner already has as many unfinished jobs as it may."""

    status, code = 429, "rate_limited"


@dataclass(frozen=True)
class Item:
    job_id: str
    seq: int
    line: int
    input: dict
    attempts: int = 0  # how often a worker died holding it


@dataclass(frozen=True)
class JobStatus:
    id: str
    state: str
    reason: str | None
    options: dict
    total: int
    done: int
    failed: int
    tokens: int
    created: float
    started: float | None
    finished: float | None
    owner: str | None = None  # a hash of the submitting key ("cli" from the command line); never shown

    @property
    def tokens_per_second(self) -> float:
        end = self.finished or time.time()
        return self.tokens / (end - self.started) if self.started and end > self.started else 0.0

    @property
    def items_per_minute(self) -> float:
        """Items done per minute of work: what a person can weigh (tokens are the model's unit, not theirs). It stops
        at `finished`, so a cancelled job's figure stays as it was when it was cancelled."""
        end = self.finished or time.time()
        return self.done * 60 / (end - self.started) if self.started and end > self.started else 0.0

    @property
    def eta_seconds(self) -> float | None:
        remaining = self.total - self.done - self.failed
        if not self.started or not self.done or remaining <= 0 or self.state != "running":
            return None if remaining > 0 else 0.0
        rate = self.done / (time.time() - self.started)
        return remaining / rate if rate > 0 else None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": JOB_KIND,
            "state": self.state,
            "reason": self.reason,
            "options": self.options,
            "counts": {"done": self.done, "failed": self.failed, "total": self.total},
            "tokens_per_second": round(self.tokens_per_second, 1),
            "items_per_minute": round(self.items_per_minute, 1),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
        }


class JobDispatch:
    """Tells workers of stored jobs; this one leaves them to find the jobs by polling the store."""

    def job_submitted(self, store: JobStore, job_id: str, created: bool) -> None:
        """Called once store.create returned job_id: created now, or the submitter's identical job found active."""

    def health(self) -> dict[str, bool]:
        """/readyz's checks of what the dispatch relies on, by name: none when workers poll."""
        return {}


POLLING = JobDispatch()


class JobStore(abc.ABC):
    """Jobs and their items, opened by the service and by worker processes alike; subclasses bring the database.

    A subclass provides _transaction(work) (run work(db) in one write transaction, where db.execute(sql, params)
    returns a cursor and db.executemany(sql, rows) runs a statement per row; "?" marks a parameter), _read and
    close, and the few words of SQL that differ between the databases.
    """

    lease_seconds: float
    max_attempts: int  # deaths of an item's worker after which the item fails
    where: str  # the store's location for logs: a file, or a database URL without its password
    _IS = "IS"  # null-safe equality (owner may be NULL)
    _FOR_UPDATE = ""  # locks a job row for the rest of the transaction (SQLite's writers are serialized already)
    _SKIP_LOCKED = ""  # lets claimers pass over item rows another claimer holds
    dispatch: JobDispatch = POLLING

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def _transaction(self, work: Callable): ...

    @abc.abstractmethod
    def _read(self, sql: str, params: tuple = ()) -> list: ...

    def _serialize_create(self, db, submitter: str) -> None:  # noqa: B027 - a hook; SQLite needs no body
        """Make one submitter's creates take turns, so that each sees the jobs the others made: two identical
        submissions do not both create a job, nor do two that the limit allows only one of (SQLite: the write
        lock does already)."""

    def _lock_job(self, db, job_id: str) -> str | None:
        """The job's state, its row locked until the transaction ends; None when there is no such job."""
        row = db.execute(f"SELECT state FROM jobs WHERE id = ?{self._FOR_UPDATE}", (job_id,)).fetchone()
        return row[0] if row else None

    def create(
        self,
        records: Iterable[tuple[int, object]],
        options: dict,
        owner: str | None = None,
        max_active: int | None = None,
        repeats=None,
    ) -> tuple[str, bool]:
        """Store a job and its items durably; (job id, created). The owner's identical active job is returned instead.

        The records are read once, while they are stored, a chunk at a time: an upload's size never sits in memory.
        ActiveJobLimit when the owner has max_active unfinished jobs already: counted in the transaction that
        inserts, so submissions at the same moment cannot all pass the count.
        repeats (an indexing job's service.ingest.RepeatedIds): an item that a later item replaces fails at once,
        with the reason that writer gives, so the job counts a file the way `ingest` does.
        """
        records, started = iter(records), False

        def work(db) -> str:
            nonlocal started
            if started:  # PostgreSQL runs work again on a new connection, but the records read so far are gone
                raise JobsUnavailable("the connection to the job store dropped while the job was stored; send it again")
            started = True
            job_id = uuid.uuid4().hex[:16]
            total, fingerprint = _insert_items(
                db, job_id, records, hashlib.sha256(json.dumps([JOB_KIND, options], sort_keys=True).encode()), repeats
            )
            self._serialize_create(db, fingerprint if owner is None else owner)
            existing = db.execute(
                f"SELECT id FROM jobs WHERE fingerprint = ? AND owner {self._IS} ? AND state {IN_ACTIVE}",
                (fingerprint, owner, *ACTIVE),
            ).fetchone()
            if existing:
                raise _Duplicate(existing[0])  # its items, stored already, go with the rollback
            if max_active is not None:
                active = db.execute(
                    f"SELECT COUNT(*) FROM jobs WHERE owner = ? AND state {IN_ACTIVE}", (owner, *ACTIVE)
                ).fetchone()[0]
                if active >= max_active:
                    raise ActiveJobLimit(f"at most {max_active} unfinished jobs per owner")
            db.execute(
                "INSERT INTO jobs (id, kind, options, state, owner, fingerprint, total, created) "
                "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, JOB_KIND, json.dumps(options), owner, fingerprint, total, time.time()),
            )
            self._settle(db, job_id)  # nothing runnable (every item invalid): done at once, not queued forever
            return job_id

        try:
            job_id, created = self._transaction(work), True
        except _Duplicate as duplicate:
            job_id, created = duplicate.job_id, False
        self.dispatch.job_submitted(self, job_id, created)
        return job_id, created

    def active_jobs(self, owner: str) -> int:
        """The owner's unfinished jobs: a cheap look before an upload is read (create() counts again, to decide)."""
        return self._read(f"SELECT COUNT(*) FROM jobs WHERE owner = ? AND state {IN_ACTIVE}", (owner, *ACTIVE))[0][0]

    def health(self) -> dict[str, bool]:
        """/readyz's checks of the store's back ends and its dispatch's, by name: whether each answers (within its
        timeout)."""
        try:
            self._read("SELECT 1")
            answers = True
        except Exception:  # any failure to reach the store means "not ready", never a 500
            answers = False
        return {"jobs_store": answers, **self.dispatch.health()}

    def claim(self, worker: str, limit: int, job_id: str | None = None) -> tuple[str | None, list[Item]]:
        """Up to limit runnable items of the oldest job that has some (or of job_id); expired claims are runnable."""
        now = time.time()
        only = "AND j.id = ?" if job_id else ""

        def work(db) -> tuple[str | None, list]:
            row = db.execute(
                "SELECT i.job_id FROM items i JOIN jobs j ON j.id = i.job_id WHERE j.state IN ('queued', 'running') "
                f"AND (i.status = 'queued' OR (i.status = 'claimed' AND i.lease_until < ?)) {only} "
                "ORDER BY j.created LIMIT 1",
                (now, job_id) if job_id else (now,),
            ).fetchone()
            if row is None or self._lock_job(db, row[0]) not in ("queued", "running"):  # it may have changed since
                return None, []
            chosen = row[0]
            self._take_back(db, chosen, "lease_until < ?", (now,))
            suspect_running = self._suspect_running(db, chosen, now)
            untouched = " AND attempts = 0" if suspect_running else ""  # the other suspects wait their turn
            items = _alone_if_a_worker_died_on_it(
                db.execute(
                    f"SELECT seq, line, input, attempts FROM items WHERE job_id = ? AND status = 'queued'{untouched} "
                    f"ORDER BY seq LIMIT ?{self._SKIP_LOCKED}",
                    (chosen, limit),
                ).fetchall(),
                suspect_running,
            )
            db.executemany(
                "UPDATE items SET status = 'claimed', claimed_by = ?, lease_until = ? WHERE job_id = ? AND seq = ?",
                [(worker, now + self.lease_seconds, chosen, seq) for seq, *_ in items],
            )
            db.execute(
                "UPDATE jobs SET state = 'running', started = COALESCE(started, ?) WHERE id = ? AND state = 'queued'",
                (now, chosen),
            )
            return chosen, items

        chosen, items = self._transaction(work)
        if not items:
            return None, []
        return chosen, [Item(chosen, seq, line, json.loads(text), attempts) for seq, line, text, attempts in items]

    def claim_items(self, worker: str, job_id: str, seqs: list[int]) -> tuple[list[Item], int]:
        """Claim the named items of job_id that are runnable (queued, or claimed with an expired lease), if the job
        is queued or running: (the items claimed, how many of the others are not runnable yet: held under a live
        lease, or waiting to run alone after a worker died on them)."""
        now = time.time()
        marks = ", ".join("?" * len(seqs))

        def work(db) -> tuple[list, int]:
            if not seqs or self._lock_job(db, job_id) not in ("queued", "running"):
                return [], 0
            self._take_back(db, job_id, "lease_until < ?", (now,))
            runnable = db.execute(
                f"SELECT seq, line, input, attempts FROM items WHERE job_id = ? AND seq IN ({marks}) "
                f"AND status = 'queued' ORDER BY seq{self._SKIP_LOCKED}",
                (job_id, *seqs),
            ).fetchall()
            items = _alone_if_a_worker_died_on_it(runnable, self._suspect_running(db, job_id, now))
            held = db.execute(
                f"SELECT COUNT(*) FROM items WHERE job_id = ? AND seq IN ({marks}) AND status = 'claimed' "
                "AND lease_until >= ?",
                (job_id, *seqs, now),
            ).fetchone()[0]
            db.executemany(
                "UPDATE items SET status = 'claimed', claimed_by = ?, lease_until = ? WHERE job_id = ? AND seq = ?",
                [(worker, now + self.lease_seconds, job_id, seq) for seq, *_ in items],
            )
            if items:
                db.execute(
                    "UPDATE jobs SET state = 'running', started = COALESCE(started, ?) WHERE id = ? "
                    "AND state = 'queued'",
                    (now, job_id),
                )
            return items, held + len(runnable) - len(items)

        items, waiting = self._transaction(work)
        return [Item(job_id, seq, line, json.loads(text), attempts) for seq, line, text, attempts in items], waiting

    def finish(
        self, job_id: str, worker: str, done: list[tuple[int, dict]], failed: list[tuple[int, str]], tokens: int = 0
    ) -> None:
        """Commit finished items (seq, result) and failures (seq, error) claimed by this worker, in one transaction.

        Only items still claimed by this worker change, so a batch committed twice (a retry after a lost reply, a
        redelivery) stores each result once.
        """

        def work(db) -> None:
            self._lock_job(db, job_id)  # finishers of one job take turns, so the last one sees every item settled
            db.executemany(
                "UPDATE items SET status = 'done', result = ?, claimed_by = NULL "
                "WHERE job_id = ? AND seq = ? AND status = 'claimed' AND claimed_by = ?",
                [(json.dumps(r, ensure_ascii=False), job_id, seq, worker) for seq, r in done],
            )
            db.executemany(
                "UPDATE items SET status = 'failed', error = ?, claimed_by = NULL "
                "WHERE job_id = ? AND seq = ? AND status = 'claimed' AND claimed_by = ?",
                [(error, job_id, seq, worker) for seq, error in failed],
            )
            # a batch that ends after its job was cancelled stores nothing, so its tokens would only move the rate
            db.execute(
                f"UPDATE jobs SET tokens = tokens + ? WHERE id = ? AND state {IN_ACTIVE}", (tokens, job_id, *ACTIVE)
            )
            self._settle(db, job_id)

        self._transaction(work)

    def renew(self, job_id: str, worker: str) -> int:
        """Extend the leases of the job's items this worker holds (its batch is still being worked on); how many."""
        until = time.time() + self.lease_seconds
        return self._transaction(
            lambda db: (
                db.execute(
                    "UPDATE items SET lease_until = ? WHERE job_id = ? AND status = 'claimed' AND claimed_by = ?",
                    (until, job_id, worker),
                ).rowcount
            )
        )

    def release(self, job_id: str, worker: str, reason: str | None = None) -> None:
        """Give claimed items back; with a reason, pause the job (e.g. the search cluster is down)."""

        def work(db) -> None:
            self._lock_job(db, job_id)
            db.execute(
                "UPDATE items SET status = 'queued', claimed_by = NULL, lease_until = NULL "
                "WHERE job_id = ? AND status = 'claimed' AND claimed_by = ?",
                (job_id, worker),
            )
            if reason:
                db.execute(
                    "UPDATE jobs SET state = 'paused', reason = ? WHERE id = ? AND state = 'running'", (reason, job_id)
                )

        self._transaction(work)

    def release_claims(self, worker: str) -> int:
        """Give back every item this worker holds (it stops, or its thread died); the number freed."""
        return self._transaction(
            lambda db: (
                db.execute(
                    "UPDATE items SET status = 'queued', claimed_by = NULL, lease_until = NULL "
                    "WHERE status = 'claimed' AND claimed_by = ?",
                    (worker,),
                ).rowcount
            )
        )

    def release_dead_local_claims(self) -> int:
        """Free items claimed by worker processes on this host that no longer exist (no lease wait)."""
        host = f"{socket.gethostname()}-"
        owners = [r[0] for r in self._read("SELECT DISTINCT claimed_by FROM items WHERE status = 'claimed'")]
        dead = [o for o in owners if o and o.startswith(host) and not _alive(o[len(host) :])]
        if not dead:
            return 0

        def work(db) -> None:
            for owner in dead:
                jobs = db.execute(
                    "SELECT DISTINCT job_id FROM items WHERE status = 'claimed' AND claimed_by = ?", (owner,)
                ).fetchall()
                for (job_id,) in jobs:
                    self._lock_job(db, job_id)
                    self._take_back(db, job_id, "claimed_by = ?", (owner,))

        self._transaction(work)
        return len(dead)

    @staticmethod
    def _suspect_running(db, job_id: str, now: float) -> bool:
        """Whether an item a worker died on is running now (alone, under a live lease)."""
        return (
            db.execute(
                "SELECT 1 FROM items WHERE job_id = ? AND status = 'claimed' AND attempts > 0 AND lease_until >= ? "
                "LIMIT 1",
                (job_id, now),
            ).fetchone()
            is not None
        )

    def _take_back(self, db, job_id: str, abandoned: str, params: tuple) -> None:
        """Queue again the job's claimed items whose worker died (those the SQL condition abandoned picks), one more
        attempt each; an item that has had max_attempts fails with the reason instead, and may end its job."""
        died = f"WHERE job_id = ? AND status = 'claimed' AND {abandoned}"
        failed = db.execute(
            "UPDATE items SET status = 'failed', error = ?, claimed_by = NULL, lease_until = NULL, "
            f"attempts = attempts + 1 {died} AND attempts + 1 >= ?",
            (
                f"the worker died {self.max_attempts} times processing this item "
                "(killed, out of memory, or stalled past its lease)",
                job_id,
                *params,
                self.max_attempts,
            ),
        ).rowcount
        db.execute(
            f"UPDATE items SET status = 'queued', claimed_by = NULL, lease_until = NULL, attempts = attempts + 1 {died}",
            (job_id, *params),
        )
        if failed:
            self._settle(db, job_id)

    def paused_jobs(self) -> int:
        """How many jobs wait for their cause (an outage) to pass, however old."""
        return self._read("SELECT COUNT(*) FROM jobs WHERE state = 'paused'")[0][0]

    def resume_paused(self) -> int:
        """Let paused jobs run again (a worker calls this once the cause looks fixed)."""
        return self._transaction(
            lambda db: db.execute("UPDATE jobs SET state = 'running', reason = NULL WHERE state = 'paused'").rowcount
        )

    def cancel(self, job_id: str) -> bool:
        def work(db) -> int:
            self._lock_job(db, job_id)
            changed = db.execute(
                f"UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ? AND state {IN_ACTIVE}",
                (time.time(), job_id, *ACTIVE),
            ).rowcount
            db.execute(
                "UPDATE items SET status = 'cancelled' WHERE job_id = ? AND status IN ('queued', 'claimed')", (job_id,)
            )
            return changed

        return bool(self._transaction(work))

    def _settle(self, db, job_id: str) -> None:
        left = db.execute(
            "SELECT COUNT(*) FROM items WHERE job_id = ? AND status IN ('queued', 'claimed')", (job_id,)
        ).fetchone()[0]
        if left == 0:
            done = db.execute("SELECT COUNT(*) FROM items WHERE job_id = ? AND status = 'done'", (job_id,)).fetchone()[
                0
            ]
            # a job none of whose items succeeded failed, whatever the reasons: "done" would read as a success
            state, reason = ("done", None) if done else ("failed", "every item failed: see the errors")
            db.execute(
                "UPDATE jobs SET state = ?, reason = COALESCE(reason, ?), finished = ? "
                "WHERE id = ? AND state IN ('running', 'queued')",
                (state, reason, time.time(), job_id),
            )

    def status(self, job_id: str) -> JobStatus | None:
        rows = self._read(
            "SELECT id, state, reason, options, total, created, started, finished, tokens, owner, "
            "(SELECT COUNT(*) FROM items WHERE job_id = jobs.id AND status = 'done'), "
            "(SELECT COUNT(*) FROM items WHERE job_id = jobs.id AND status = 'failed') FROM jobs WHERE id = ?",
            (job_id,),
        )
        if not rows:
            return None
        id_, state, reason, options, total, created, started, finished, tokens, owner, done, failed = rows[0]
        return JobStatus(
            id_,
            state,
            reason,
            json.loads(options),
            total,
            done,
            failed,
            tokens,
            created,
            started,
            finished,
            owner,
        )

    def list(self, limit: int = 100, owner: str | None = None) -> list[JobStatus]:
        """The newest jobs, of every owner or only of owner."""
        where, params = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        ids = [r[0] for r in self._read(f"SELECT id FROM jobs {where} ORDER BY created DESC LIMIT ?", (*params, limit))]
        return [status for job_id in ids if (status := self.status(job_id)) is not None]

    def queued_seqs(self, job_id: str) -> list[int]:
        """The job's items waiting for a worker, by seq, in order."""
        return [
            row[0]
            for row in self._read(
                "SELECT seq FROM items WHERE job_id = ? AND status = 'queued' ORDER BY seq", (job_id,)
            )
        ]

    def queued_items(self) -> int:
        return self._read("SELECT COUNT(*) FROM items WHERE status IN ('queued', 'claimed')")[0][0]

    def results(self, job_id: str) -> Iterator[str]:
        """The done items' results as JSON lines, in input order, read in pages so memory stays flat."""
        seq = -1
        while True:
            page = self._read(
                "SELECT seq, result FROM items WHERE job_id = ? AND status = 'done' AND seq > ? ORDER BY seq LIMIT 500",
                (job_id, seq),
            )
            if not page:
                return
            for seq, result in page:  # noqa: B007 - the last seq is the next page's cursor
                yield result + "\n"

    def errors(self, job_id: str) -> Iterator[str]:
        for line, error in self._read(
            "SELECT line, error FROM items WHERE job_id = ? AND status = 'failed' ORDER BY seq", (job_id,)
        ):
            yield json.dumps({"line": line, "error": error}, ensure_ascii=False) + "\n"


def _alone_if_a_worker_died_on_it(items: list, suspect_running: bool) -> list:
    """The rows (seq, line, input, attempts) to claim: all of them, or only the first whose worker died before, so
    that an item that kills its worker fails alone, not with the batch it came in. While one such item runs, the
    others wait and only untouched items are claimed: a death (a deploy, an out-of-memory kill) then counts against
    one suspect of the job, not against one per worker."""
    retried = [item for item in items if item[3]]
    if suspect_running:
        return [item for item in items if not item[3]]
    return retried[:1] or items


class _Duplicate(Exception):
    """The job being stored is already active: its transaction rolls back, and the caller gets the existing job."""

    def __init__(self, job_id: str):
        super().__init__(job_id)
        self.job_id = job_id


def _insert_items(db, job_id: str, records: Iterator[tuple[int, object]], digest, repeats) -> tuple[int, str]:
    """Store the records as the job's items, INSERT_CHUNK at a time; (how many, the job's fingerprint: the digest
    updated with every record). Items that a later one replaces (repeats) fail with the reason it gives."""
    total = 0
    while chunk := list(itertools.islice(records, INSERT_CHUNK)):
        rows = [
            (job_id, total + offset, line, *_item_columns(record, digest))
            for offset, (line, record) in enumerate(chunk)
        ]
        db.executemany("INSERT INTO items (job_id, seq, line, input, status, error) VALUES (?, ?, ?, ?, ?, ?)", rows)
        if repeats is not None:
            replaced = [repeats.replaces(total + offset, line, record) for offset, (line, record) in enumerate(chunk)]
            db.executemany(
                "UPDATE items SET status = 'failed', input = NULL, error = ? WHERE job_id = ? AND seq = ?",
                [(reason, job_id, earlier) for earlier, _doc_id, reason in filter(None, replaced)],
            )
        total += len(rows)
    return total, digest.hexdigest()


def _item_columns(record, digest) -> tuple[str | None, str, str | None]:
    """(input, status, error) of a record's item; a valid record's text goes into the digest too."""
    if isinstance(record, Exception):
        columns = (None, "failed", str(record))
    elif not isinstance(record, dict):  # a JSON line that is not an object can never run
        columns = (None, "failed", "record is not a JSON object")
    else:
        text = json.dumps(record, ensure_ascii=False, sort_keys=True)
        digest.update(text.encode())
        columns = (text, "queued", None)
    digest.update(b"\n")
    return columns


class SqliteJobStore(JobStore):
    """Jobs and their items in one SQLite file (the embedded default: one host, no server)."""

    def __init__(self, path: Path, lease_seconds: float = 120.0, max_attempts: int = Settings().job_item_max_attempts):
        self.path, self.lease_seconds, self.max_attempts, self.where = path, lease_seconds, max_attempts, str(path)
        self._db = sqlite.connect(path, synchronous="FULL")  # a 202 means the upload survives a power cut
        self._db.executescript(_SCHEMA)
        if "attempts" not in {row[1] for row in self._db.execute("PRAGMA table_info(items)")}:
            self._db.execute("ALTER TABLE items ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")  # an older file
        self._lock = threading.RLock()  # one connection, shared by request threads and worker threads

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self, work: Callable):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    def _read(self, sql: str, params: tuple = ()) -> list:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


def worker_name() -> str:
    """host-pid-starttime-random: lets another worker on this host see that a claim's process is gone."""
    pid = os.getpid()
    return f"{socket.gethostname()}-{pid}-{process_start_time(pid) or 0}-{uuid.uuid4().hex[:6]}"


def process_start_time(pid: int) -> int | None:
    """When the process started, in clock ticks after boot (/proc/PID/stat field 22); None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # the name in parentheses may hold spaces; fields 3.. follow


def _alive(claimer: str) -> bool:
    """Whether the process named by `pid-starttime-random` (or the older `pid-random`) still runs."""
    parts = claimer.split("-")
    try:
        pid = int(parts[0])
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # it exists and belongs to another user: alive
    if len(parts) == 3 and parts[1].isdigit() and int(parts[1]):
        return process_start_time(pid) in (None, int(parts[1]))  # same pid, other start: the pid was reused
    return True
