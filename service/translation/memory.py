"""Sentence-level translation memory: a store of sentence translations in front of the translator.

Keyed by (decoding key, normalised sentence), where the decoding key names the model manifest id
and the decoding options that change output. Two stores implement MemoryStore; open_memory picks
one from settings:

- TranslationMemory, the default: an SQLite file on this host. WAL mode and short BEGIN IMMEDIATE
  transactions make it safe to share between processes; it keeps at most max_entries rows, dropping
  the least recently used (checked every PRUNE_EVERY writes, or every tenth of the bound if smaller).
- RedisMemory (MT_MEMORY_URL=redis://...): one store for every process on every host, so no host
  translates a sentence another has already translated. Bounded by time: each entry expires
  MT_MEMORY_TTL_DAYS after its last use (every hit renews it, GETEX), so what is in use stays and
  what nobody asks for goes, with no scan, no shared counter and no coordination between hosts.
  A hard cap in bytes is Redis's own: maxmemory with volatile-lru (docs/scaling.md).

The memory is a cache: when its store fails (Redis unreachable or hung, an SQLite file on a full disk), lookups are
misses and writes are dropped, and translation goes on, only uncached. A Breaker then leaves the store alone for
RETRY_SECONDS before one call tries it again, so an outage costs one timeout or error now and then, not one per
request; and Redis calls time out after REDIS_TIMEOUT_SECONDS, unretried.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from service import sqlite
from service.translation.interface import Counters, SentenceTranslator, Translation, TranslatorWrapper

if TYPE_CHECKING:
    from service.config import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memory (
    decoding TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    score REAL NOT NULL,
    tokens INTEGER NOT NULL,
    used INTEGER NOT NULL,
    alignment TEXT,
    PRIMARY KEY (decoding, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memory_used ON memory (used);
"""
_COLUMNS = "decoding, source, target, score, tokens, used, alignment"
log = logging.getLogger(__name__)
PRUNE_EVERY = 1000  # writes between size checks, so counting rows stays off the hot path
_QUERY_CHUNK = 500  # stays under SQLite's limit on bound parameters
RETRY_SECONDS = 10.0  # a store that failed is left alone this long before one call tries it again
REDIS_TIMEOUT_SECONDS = 0.25  # a lookup slower than this costs more than translating without the memory
T = TypeVar("T")


class Breaker:
    """Runs a store's calls until one fails; then skips the store for retry_seconds, and lets one call try it again.

    One warning per outage, when it begins; a line at info level when the store answers again.
    """

    def __init__(self, store: str, errors: tuple[type[Exception], ...], retry_seconds: float = RETRY_SECONDS):
        self.store, self.errors, self.retry_seconds = store, errors, retry_seconds
        self._lock = threading.Lock()
        self._failing = False
        self._next_try = 0.0  # while failing, calls before this time (monotonic) skip the store

    def call(self, operation: Callable[[], T], fallback: T) -> T:
        """operation's result; fallback when it fails, or when the store is being left alone."""
        with self._lock:
            if self._failing:
                if time.monotonic() < self._next_try:
                    return fallback
                self._next_try = time.monotonic() + self.retry_seconds  # this call is the trial; the others skip
        try:
            result = operation()
        except self.errors as error:
            with self._lock:
                if not self._failing:
                    log.warning(
                        "translation memory (%s) failed, translating without it; trying it again every %gs: %s",
                        self.store,
                        self.retry_seconds,
                        error,
                    )
                self._failing, self._next_try = True, time.monotonic() + self.retry_seconds
            return fallback
        with self._lock:
            if self._failing:
                log.info("translation memory (%s) answers again", self.store)
            self._failing = False
        return result


class MemoryStore(Protocol):
    """Where CachedTranslator keeps sentence translations, keyed by (decoding key, normalised sentence)."""

    def get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        """Stored translations of those sources that are known, marking them recently used."""
        ...

    def put_many(self, decoding: str, items: Iterable[tuple[str, Translation]]) -> None: ...

    def close(self) -> None: ...

    def __len__(self) -> int: ...


def open_memory(settings: Settings) -> MemoryStore:
    """The store settings choose: Redis at MT_MEMORY_URL where set, else the SQLite file at MT_MEMORY_PATH."""
    if settings.memory_url:
        return RedisMemory(settings.memory_url, settings.memory_ttl_days * 86400)
    return TranslationMemory(settings.memory_path, settings.memory_max_entries)


class TranslationMemory:
    """A bounded, process-safe store of sentence translations in an SQLite file (one host)."""

    def __init__(self, path: Path, max_entries: int):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._writes = 0
        self._breaker = Breaker(str(path), (sqlite3.Error,))
        self._db = sqlite.connect(path)
        self._db.executescript(_SCHEMA)
        if "alignment" not in {row[1] for row in self._db.execute("PRAGMA table_info(memory)")}:
            self._db.execute("ALTER TABLE memory ADD COLUMN alignment TEXT")  # a file from before alignments

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        """Stored translations of those sources that are known, marking them recently used."""
        return self._breaker.call(lambda: self._get_many(decoding, sources), {})

    def _get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        found: dict[str, Translation] = {}
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for start in range(0, len(sources), _QUERY_CHUNK):
                chunk = list(sources[start : start + _QUERY_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT source, target, score, tokens, alignment FROM memory"
                    f" WHERE decoding = ? AND source IN ({marks})",
                    [decoding, *chunk],
                )
                found.update((s, Translation(t, sc, n, a)) for s, t, sc, n, a in rows)
            self._db.executemany(
                "UPDATE memory SET used = ? WHERE decoding = ? AND source = ?",
                [(time.time_ns(), decoding, s) for s in found],
            )
        return found

    def put_many(self, decoding: str, items: Iterable[tuple[str, Translation]]) -> None:
        rows = [(decoding, s, t.target, t.score, t.tokens, time.time_ns(), t.alignment) for s, t in items]
        if rows:
            self._breaker.call(lambda: self._put_many(rows), None)

    def _put_many(self, rows: list[tuple]) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(f"INSERT OR REPLACE INTO memory ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._writes += len(rows)
            if self._writes >= min(PRUNE_EVERY, max(1, self.max_entries // 10)):
                self._writes = 0
                self._prune()

    def _prune(self) -> None:
        excess = self._db.execute("SELECT COUNT(*) FROM memory").fetchone()[0] - self.max_entries
        if excess > 0:
            self._db.execute(
                "DELETE FROM memory WHERE (decoding, source) IN "
                "(SELECT decoding, source FROM memory ORDER BY used LIMIT ?)",
                (excess,),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM memory").fetchone()[0]


def fail_fast(timeout: float) -> dict:
    """redis-py's options for a store the service can go on without: every call gives up after timeout seconds."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # redis-py retries a timeout 3 times by default, with backoff: 4 timeouts and more per call
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": Retry(NoBackoff(), 0)}


class RedisMemory:
    """Sentence translations in Redis, shared by every process and host that reaches it; entries expire unused.

    One key per (decoding key, sentence): KEY_PREFIX + decoding + NUL + sentence, the key of the SQLite store
    exactly (Redis keys are binary-safe, so nothing is hashed); the value is [target, score, tokens, alignment] in
    JSON (entries written before alignments have three items: no alignment).
    """

    KEY_PREFIX = "mt:tm:"

    def __init__(self, url: str, ttl_seconds: int):
        import redis

        self.ttl_seconds = ttl_seconds
        self._breaker = Breaker("Redis", (redis.RedisError, OSError))
        self._redis = redis.Redis.from_url(url, health_check_interval=30, **fail_fast(REDIS_TIMEOUT_SECONDS))

    def _key(self, decoding: str, source: str) -> str:
        return f"{self.KEY_PREFIX}{decoding}\0{source}"

    def close(self) -> None:
        self._redis.close()

    def get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        """Stored translations of those sources that are known, renewing their time to live (GETEX)."""
        return self._breaker.call(lambda: self._get_many(decoding, sources), {})

    def _get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        found: dict[str, Translation] = {}
        for start in range(0, len(sources), _QUERY_CHUNK):
            chunk = sources[start : start + _QUERY_CHUNK]
            pipe = self._redis.pipeline(transaction=False)
            for source in chunk:
                pipe.getex(self._key(decoding, source), ex=self.ttl_seconds)
            for source, value in zip(chunk, pipe.execute(), strict=True):
                if value is not None:
                    found[source] = Translation(*json.loads(value))
        return found

    def put_many(self, decoding: str, items: Iterable[tuple[str, Translation]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for source, t in items:
            pipe.set(
                self._key(decoding, source), json.dumps([t.target, t.score, t.tokens, t.alignment]), ex=self.ttl_seconds
            )
        if len(pipe):
            self._breaker.call(pipe.execute, None)

    def __len__(self) -> int:
        return sum(1 for _ in self._redis.scan_iter(match=self.KEY_PREFIX + "*", count=1000))


class CachedTranslator(TranslatorWrapper):
    """A translator that looks each sentence up in the memory first and stores what it translates.

    Implements interface.SentenceTranslator; what it does not cache (the model, its settings) is the inner one's.
    """

    def __init__(self, inner: SentenceTranslator, memory: MemoryStore):
        super().__init__(inner)
        self.memory = memory
        self.hits = 0
        self.misses = 0

    def counters(self) -> Counters:
        return dataclasses.replace(self.inner.counters(), memory_hits=self.hits, memory_misses=self.misses)

    def translate(
        self, sentences: Sequence[str], beam_size: int | None = None, *, alignments: bool = True
    ) -> list[Translation]:
        """alignments=False: the caller reads none, so a stored translation without one will do; what the model
        translates is stored with its alignment all the same, for the callers who read them."""
        unique = list(dict.fromkeys(sentences))
        key = self.inner.decoding_key(beam_size)
        known = self.memory.get_many(key, unique)
        if self.settings.alignments and alignments:  # one stored without its alignment is translated again, restored
            known = {s: t for s, t in known.items() if t.alignment is not None}
        missing = [s for s in unique if s not in known]
        fresh = self.inner.translate(missing, beam_size=beam_size) if missing else []
        self.memory.put_many(key, zip(missing, fresh, strict=True))
        known.update(zip(missing, fresh, strict=True))
        self.hits += len(sentences) - len(missing)
        self.misses += len(missing)
        return [known[s] for s in sentences]
