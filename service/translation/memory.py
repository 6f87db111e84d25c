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
  A hard cap in bytes is Redis's own: maxmemory with volatile-lru (docs/scaling.md). When Redis is
  unreachable, lookups are misses and writes are dropped: translation goes on, only uncached.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

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
        self._db = sqlite.connect(path)
        self._db.executescript(_SCHEMA)
        if "alignment" not in {row[1] for row in self._db.execute("PRAGMA table_info(memory)")}:
            self._db.execute("ALTER TABLE memory ADD COLUMN alignment TEXT")  # a file from before alignments

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        """Stored translations of those sources that are known, marking them recently used."""
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
        if not rows:
            return
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
        self._errors = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)

    def _key(self, decoding: str, source: str) -> str:
        return f"{self.KEY_PREFIX}{decoding}\0{source}"

    def close(self) -> None:
        self._redis.close()

    def get_many(self, decoding: str, sources: Sequence[str]) -> dict[str, Translation]:
        """Stored translations of those sources that are known, renewing their time to live (GETEX)."""
        found: dict[str, Translation] = {}
        try:
            for start in range(0, len(sources), _QUERY_CHUNK):
                chunk = sources[start : start + _QUERY_CHUNK]
                pipe = self._redis.pipeline(transaction=False)
                for source in chunk:
                    pipe.getex(self._key(decoding, source), ex=self.ttl_seconds)
                for source, value in zip(chunk, pipe.execute(), strict=True):
                    if value is not None:
                        found[source] = Translation(*json.loads(value))
        except self._errors as error:  # the memory is a cache: without it, translate everything
            log.warning("translation memory unreachable, translating without it: %s", error)
            return {}
        return found

    def put_many(self, decoding: str, items: Iterable[tuple[str, Translation]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for source, t in items:
            pipe.set(
                self._key(decoding, source), json.dumps([t.target, t.score, t.tokens, t.alignment]), ex=self.ttl_seconds
            )
        if not len(pipe):
            return
        try:
            pipe.execute()
        except self._errors as error:
            log.warning("translation memory unreachable, not storing %d sentences: %s", len(pipe), error)

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

    def translate(self, sentences: Sequence[str], beam_size: int | None = None) -> list[Translation]:
        unique = list(dict.fromkeys(sentences))
        key = self.inner.decoding_key(beam_size)
        known = self.memory.get_many(key, unique)
        if self.settings.alignments:  # a sentence stored without its alignment is translated again, and restored
            known = {s: t for s, t in known.items() if t.alignment is not None}
        missing = [s for s in unique if s not in known]
        fresh = self.inner.translate(missing, beam_size=beam_size) if missing else []
        self.memory.put_many(key, zip(missing, fresh, strict=True))
        known.update(zip(missing, fresh, strict=True))
        self.hits += len(sentences) - len(missing)
        self.misses += len(missing)
        return [known[s] for s in sentences]
