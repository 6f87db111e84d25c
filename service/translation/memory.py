"""Sentence-level translation memory: an SQLite cache in front of the translator.

Keyed by (decoding key, normalised sentence), where the decoding key names the model manifest id
and the decoding options that change output. WAL mode and short BEGIN IMMEDIATE transactions make
it safe to share between processes; it keeps at most max_entries rows, dropping the least
recently used (checked every PRUNE_EVERY writes, or every tenth of the bound if smaller).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service import sqlite
from service.translation.interface import Counters, SentenceTranslator, Translation

if TYPE_CHECKING:
    from service.config import Settings
    from service.modelstore.manifest import Manifest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memory (
    decoding TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    score REAL NOT NULL,
    tokens INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (decoding, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memory_used ON memory (used);
"""
PRUNE_EVERY = 1000  # writes between size checks, so counting rows stays off the hot path
_QUERY_CHUNK = 500  # stays under SQLite's limit on bound parameters


class TranslationMemory:
    """A bounded, process-safe store of sentence translations."""

    def __init__(self, path: Path, max_entries: int):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._writes = 0
        self._db = sqlite.connect(path)
        self._db.executescript(_SCHEMA)

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
                    f"SELECT source, target, score, tokens FROM memory WHERE decoding = ? AND source IN ({marks})",
                    [decoding, *chunk],
                )
                found.update((s, Translation(t, sc, n)) for s, t, sc, n in rows)
            self._db.executemany(
                "UPDATE memory SET used = ? WHERE decoding = ? AND source = ?",
                [(time.time_ns(), decoding, s) for s in found],
            )
        return found

    def put_many(self, decoding: str, items: Iterable[tuple[str, Translation]]) -> None:
        rows = [(decoding, s, t.target, t.score, t.tokens, time.time_ns()) for s, t in items]
        if not rows:
            return
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO memory VALUES (?, ?, ?, ?, ?, ?)", rows)
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


class CachedTranslator:
    """A translator that looks each sentence up in the memory first and stores what it translates.

    Implements interface.SentenceTranslator; what it does not cache (the model, its settings) is the inner one's.
    """

    def __init__(self, inner: SentenceTranslator, memory: TranslationMemory):
        self.inner = inner
        self.memory = memory
        self.hits = 0
        self.misses = 0

    @property
    def settings(self) -> Settings:
        return self.inner.settings

    @property
    def manifest(self) -> Manifest:
        return self.inner.manifest

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def demo(self) -> bool:
        return self.inner.demo

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def decoding_key(self, beam_size: int | None = None) -> str:
        return self.inner.decoding_key(beam_size)

    def counters(self) -> Counters:
        return dataclasses.replace(self.inner.counters(), memory_hits=self.hits, memory_misses=self.misses)

    def translate(self, sentences: Sequence[str], beam_size: int | None = None) -> list[Translation]:
        unique = list(dict.fromkeys(sentences))
        key = self.inner.decoding_key(beam_size)
        known = self.memory.get_many(key, unique)
        missing = [s for s in unique if s not in known]
        fresh = self.inner.translate(missing, beam_size=beam_size) if missing else []
        self.memory.put_many(key, zip(missing, fresh, strict=True))
        known.update(zip(missing, fresh, strict=True))
        self.hits += len(sentences) - len(missing)
        self.misses += len(missing)
        return [known[s] for s in sentences]
