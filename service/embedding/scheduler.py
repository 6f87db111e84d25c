"""One encoder scheduler per process and model: an analyst's query never waits behind a job's article.

The model runs one call at a time (models.py). Interactive callers (search queries, a page) take the model as
soon as the call in progress ends, ahead of any bulk caller waiting; bulk callers (job workers, which run under
translation.scheduler.bulk_priority(), the same mark the translation scheduler reads) encode their passages a
chunk at a time and let waiting interactive callers go between two chunks. So a query waits for at most one chunk.
A chunk is sized by time: as many sentences as the model encodes in about BULK_CHUNK_SECONDS of CPU at the pace of
the last chunks, BULK_CHUNK_SENTENCES at most (USE: 5-7 news sentences; e5-small: one). A fixed 8 long news
sentences made a query behind a job wait p99 28-108 ms on USE and 1.2-2.5 s on e5 (bench/encoder_capacity.py;
docs/scaling.md); USE's throughput pays 7% for the smaller chunks, and ingest spends a few per cent of its time
encoding. CPU time, not wall time: on a busy machine every chunk takes longer on the clock, and chunks sized by the
clock shrank to one sentence there and halved USE's throughput.

Simpler than the translation scheduler on purpose: one call at a time costs nothing here (each model runs on one
thread), and batching across callers gains little (e5's batches are about 15% faster per sentence than single
calls, USE batches a call's sentences itself), while a query is one short text.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from service.embedding.interface import SentenceEncoder
from service.errors import ServiceError
from service.translation.scheduler import Priority, current_priority

BULK_CHUNK_SENTENCES = 8  # most sentences of a bulk call encoded between two looks for waiting interactive callers
BULK_CHUNK_SECONDS = 0.01  # about the CPU time one bulk chunk holds the model: what a query waits behind a job
STUCK_AFTER_S = 30.0  # one call holding the model this long is stuck: a bulk chunk takes about BULK_CHUNK_SECONDS


class EncoderBusy(ServiceError, RuntimeError):
    """An interactive caller waited too long for the model; a search goes on by its words."""

    status, code = 503, "encoder_busy"


class _Turns:
    """Who uses the model next: one caller at a time, interactive callers before bulk ones."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._held_since = 0.0
        self._waiting = dict.fromkeys(Priority, 0)

    @contextlib.contextmanager
    def turn(self, priority: Priority) -> Iterator[None]:
        """The model, once it is this caller's turn. An interactive caller gives up (EncoderBusy) when one call
        has held the model for STUCK_AFTER_S: a stuck encoder must not hold every search of the process, while a
        queue that moves, however slowly on a busy machine, is waited for."""
        interactive = priority is Priority.INTERACTIVE
        with self._changed:
            self._waiting[priority] += 1
            try:
                while self._busy or (not interactive and self._waiting[Priority.INTERACTIVE]):
                    if not interactive:
                        self._changed.wait()
                        continue
                    left = self._held_since + STUCK_AFTER_S - time.monotonic() if self._busy else STUCK_AFTER_S
                    if left <= 0:
                        raise EncoderBusy(f"one call has held the sentence encoder for over {STUCK_AFTER_S:g} s")
                    self._changed.wait(left)
            finally:
                self._waiting[priority] -= 1
            self._busy, self._held_since = True, time.monotonic()
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()

    def waiting(self) -> dict[Priority, int]:
        with self._changed:
            return dict(self._waiting)


class ScheduledEncoder:
    """Implements interface.SentenceEncoder over a loaded model, taking turns by the caller's priority."""

    def __init__(self, inner: SentenceEncoder):
        self.inner = inner
        self._turns = _Turns()
        self._seconds_a_sentence = math.inf  # CPU time a sentence of the last bulk chunks: unknown until one is timed

    def bulk_chunk(self) -> int:
        """Sentences in the next bulk chunk: about BULK_CHUNK_SECONDS of the model's CPU at its recent pace."""
        pace = self._seconds_a_sentence
        fits = BULK_CHUNK_SECONDS / pace if pace > 0 else BULK_CHUNK_SENTENCES  # a clock too coarse to see it
        return max(1, min(BULK_CHUNK_SENTENCES, int(fits)))

    @property
    def encoder_id(self) -> str:
        return self.inner.encoder_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def waiting(self) -> dict[Priority, int]:
        """Callers waiting for the model, by priority."""
        return self._turns.waiting()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.inner.encode_queries)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.inner.encode_passages)

    def _encode(self, texts: Sequence[str], encode: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
        priority = current_priority()
        if priority is Priority.INTERACTIVE:
            with self._turns.turn(priority):
                return encode(texts)
        chunks, start = [], 0
        while start < len(texts):
            size = self.bulk_chunk()
            with self._turns.turn(priority):
                began = time.thread_time()  # both models compute on the calling thread (one thread each)
                chunks.append(encode(texts[start : start + size]))
                pace = (time.thread_time() - began) / len(chunks[-1])
            # halfway to the new pace: one chunk of short sentences does not make the next one long
            self._seconds_a_sentence = (
                pace if math.isinf(self._seconds_a_sentence) else (self._seconds_a_sentence + pace) / 2
            )
            start += size
        return np.vstack(chunks) if chunks else encode([])


_SCHEDULED: dict[str, ScheduledEncoder] = {}
_SCHEDULED_LOCK = threading.Lock()


def scheduled(name: str, load: Callable[[str], SentenceEncoder]) -> ScheduledEncoder:
    """The process-wide scheduler in front of the model ENCODER=name (loaded by load on first use)."""
    with _SCHEDULED_LOCK:
        if name not in _SCHEDULED:
            _SCHEDULED[name] = ScheduledEncoder(load(name))
        return _SCHEDULED[name]
