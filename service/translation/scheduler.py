"""One translation scheduler per process and model: every caller's sentences share the model's batches.

Callers (API and LibreTranslate requests, the UI, query translation, job workers) each submit their sentences and
wait for their own results. MT_INTER_THREADS runner threads each take the next batch, decode it on CTranslate2
(which releases the GIL), hand the results back and take the next, so about inter_threads batches are in flight
and the next batch is formed the moment one finishes, with whatever has arrived meanwhile from any caller.

Runner threads rather than one dispatcher holding asynchronous futures: CTranslate2's futures have no completion
callback, so a single dispatcher could only learn that a batch finished by polling; a runner just returns.

A batch is cut by plan_batches (length-sorted, MT_BATCH_TOKENS) from a window: the oldest request whole and the
requests behind it, up to FILL_WINDOW_BATCHES batches' worth. So requests are served first come first served, none
waits forever behind a stream of others, and a large request is sorted as a whole, as when it was alone. Only
sentences with the same decoding options (beam size, forced target length) share a batch; a batch asks the model
for the attention word alignments are read from when any of its sentences' callers reads them. With less than a batch's
worth queued, a runner waits up to MT_SCHEDULER_WAIT_MS after the oldest sentence arrived, for others to join.
On CPU, where runners are idle, a runner takes only its share of the window's tokens and the idle ones take the
rest: CTranslate2 decodes a batch on one worker, so a lone paragraph's sentences would otherwise go through one
core while the others wait (on the base model on 2 cores a batch of two took 1.4 times one, two runners
side by side 1.0: docs/scaling.md). The rest of a request already on the model never waits for company.

Interactive work always goes first; bulk work (job workers: `bulk_priority()`) fills the slots interactive work
leaves. By default bulk may hold every slot while nobody else asks, and all but one once an interactive request
has come in the last INTERACTIVE_RECENT_SECONDS, so a job runs at full speed on an idle service and analysts find a
slot free as soon as they are there (MT_SCHEDULER_BULK_SLOTS fixes the number instead). The first interactive
request after a quiet spell waits for at most one running batch, and a batch is never more than CTranslate2
decodes as one piece (MT_BATCH_DECODE_TOKENS). Past MT_SCHEDULER_QUEUE_SENTENCES waiting sentences, interactive
submits raise TranslatorBusy (HTTP 503 with Retry-After) and bulk submits wait for room: a job is never dropped.

Nothing here is CUDA-specific: the engine's device and compute type come from settings as before.
"""

from __future__ import annotations

import contextlib
import enum
import math
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from service.errors import ServiceError, TranslatorBusy
from service.translation.batching import plan_batches
from service.translation.interface import Translation, TranslatorWrapper

if TYPE_CHECKING:
    from service.translation.engine import Translator

FILL_WINDOW_BATCHES = 4  # requests behind the oldest that one batch may draw from, in batches' worth of tokens
MAX_RETRY_AFTER = 60  # seconds; a client told to wait longer would rather be told to go elsewhere
INTERACTIVE_RECENT_SECONDS = 30.0  # after an interactive request, bulk work leaves a slot free this long


class Priority(enum.IntEnum):
    INTERACTIVE = 0  # someone waits on the answer: requests, pages, query translation
    BULK = 1  # job workers: throughput matters, each sentence's latency does not


_PRIORITY: ContextVar[Priority] = ContextVar("translation_priority", default=Priority.INTERACTIVE)


def current_priority() -> Priority:
    """This thread's priority: BULK within bulk_priority(), else INTERACTIVE (the sentence encoder reads it too)."""
    return _PRIORITY.get()


@contextlib.contextmanager
def bulk_priority() -> Iterator[None]:
    """Within this block, this thread's translations are bulk work: they yield to interactive requests."""
    token = _PRIORITY.set(Priority.BULK)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


class TranslatorClosed(ServiceError, RuntimeError):
    """The scheduler was closed before these sentences were translated."""

    status, code = 503, "translator_closed"


@dataclass(eq=False)
class _Request:
    """One caller's sentences: results fill in as batches finish; done once all have, or on the first error."""

    results: list[Translation]
    remaining: int
    arrived: float = field(default_factory=time.monotonic)
    started: bool = False  # some of it is on the model: the rest waits for no company
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def deliver(self, index: int, translation: Translation) -> None:
        self.results[index] = translation
        self.remaining -= 1
        if self.remaining == 0:
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
            self.done.set()


@dataclass(frozen=True, eq=False)
class _Sentence:
    request: _Request
    index: int  # in the request
    tokens: list[str]
    decoding: tuple[int, int | None]  # (beam size, forced target length): only equal ones share a batch
    alignment: bool  # its caller reads its word alignment


@dataclass(frozen=True)
class _Batch:
    priority: Priority
    sentences: list[_Sentence]


class SchedulingTranslator(TranslatorWrapper):
    """Implements interface.SentenceTranslator over an engine Translator, batching across concurrent callers."""

    inner: Translator  # the engine: encode, translate_batch and decoded_together are its alone

    def __init__(self, engine: Translator):
        super().__init__(engine)
        settings = engine.settings
        self.slots = settings.threads[0]
        self.bulk_slots = min(settings.scheduler_bulk_slots, self.slots)  # 0: by interactive traffic
        self.wait_seconds = settings.scheduler_wait_ms / 1000
        self.queue_bound = settings.scheduler_queue_sentences
        self.batches, self.batched_sentences = 0, 0  # model calls made and the sentences they carried, for /metrics
        self._queues: dict[Priority, dict[tuple, deque[_Sentence]]] = {p: {} for p in Priority}
        self._queued = dict.fromkeys(Priority, 0)
        self._in_flight = dict.fromkeys(Priority, 0)
        self._done_sentences, self._busy_seconds = 0, 0.0  # for Retry-After: how fast the queue drains
        self._closed = False
        self._interactive_seen = -math.inf  # time.monotonic() of the last interactive request
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # runners wait here for sentences or a free bulk slot
        self._room = threading.Condition(self._lock)  # bulk submitters wait here for room in the queue
        self._runners: list[threading.Thread] = []  # started by the first request, never by building the app
        with _OPEN_LOCK:
            _OPEN.add(self)

    def stats(self) -> SchedulerStats:
        with self._lock:
            return SchedulerStats(self._waiting(), self.batches, self.batched_sentences)

    def queued(self) -> dict[Priority, int]:
        """Sentences waiting for a batch, by priority."""
        with self._lock:
            return dict(self._queued)

    def translate(
        self,
        sentences: Sequence[str],
        beam_size: int | None = None,
        *,
        alignments: bool = True,
        target_lengths: Sequence[int] | None = None,
    ) -> list[Translation]:
        """One Translation per sentence, in order, decoded in batches shared with other callers.

        alignments=False: the caller reads no word alignments (its sentences may still get them, from a batch
        shared with a caller who does).

        InputTooLong is raised here, before anything is queued, so it fails this request alone; an engine error
        fails the requests whose sentences were in that batch. The priority is the caller's (bulk_priority()).
        """
        tokens = self.inner.encode(sentences)
        nothing = self.inner.empty_translation(alignments)
        todo = [i for i, pieces in enumerate(tokens) if pieces]  # empty input needs no model call
        request = _Request([nothing] * len(sentences), len(todo))
        if not todo:
            return request.results
        beam = beam_size or self.settings.beam_size
        self._enqueue(
            _PRIORITY.get(),
            [
                _Sentence(request, i, tokens[i], (beam, target_lengths[i] if target_lengths else None), alignments)
                for i in todo
            ],
        )
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.results

    def close(self) -> None:
        """Stop the runners after their batch in hand; every request still waiting fails with TranslatorClosed."""
        with _OPEN_LOCK:
            _OPEN.discard(self)
        with self._lock:
            self._closed = True
            for groups in self._queues.values():
                for group in groups.values():
                    for sentence in group:
                        sentence.request.fail(TranslatorClosed("the translator was closed"))
                groups.clear()
            self._queued = dict.fromkeys(Priority, 0)
            self._work.notify_all()
            self._room.notify_all()

    def _enqueue(self, priority: Priority, sentences: list[_Sentence]) -> None:
        with self._lock:
            if priority is Priority.INTERACTIVE:
                self._interactive_seen = time.monotonic()
                waiting = self._queued[priority]
                if waiting and waiting + len(sentences) > self.queue_bound:  # a request alone always goes in
                    raise TranslatorBusy(
                        f"the translator has {waiting} sentences waiting; try again shortly", self._retry_after()
                    )
            else:  # a job's sentences are never dropped: they wait for room (a request alone always goes in)
                while not self._closed and self._waiting() and self._waiting() + len(sentences) > self.queue_bound:
                    self._room.wait()
            if self._closed:
                raise TranslatorClosed("the translator was closed")
            if not self._runners:
                self._runners = [
                    threading.Thread(target=self._run, name=f"translation-runner-{n}", daemon=True)
                    for n in range(self.slots)
                ]
                for runner in self._runners:
                    runner.start()
            for sentence in sentences:
                self._queues[priority].setdefault(sentence.decoding, deque()).append(sentence)
            self._queued[priority] += len(sentences)
            self._work.notify_all()

    def _waiting(self) -> int:
        return sum(self._queued.values())

    def _retry_after(self) -> int:
        """Seconds until the interactive queue has drained, at the rate batches have been finishing."""
        if not self._busy_seconds:
            return 1
        per_second = self._done_sentences / self._busy_seconds * self.slots
        return max(1, min(MAX_RETRY_AFTER, math.ceil(self._queued[Priority.INTERACTIVE] / per_second)))

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            started = time.monotonic()
            beam, target = batch.sentences[0].decoding
            try:
                translations = self.inner.translate_batch(
                    [s.tokens for s in batch.sentences],
                    beam,
                    [target] * len(batch.sentences) if target else None,
                    alignments=any(s.alignment for s in batch.sentences),
                )
                failure = None
            except Exception as error:  # this batch's requests fail; the runner and every other request go on
                failure = error
            with self._lock:
                for position, sentence in enumerate(batch.sentences):
                    if failure is None:
                        sentence.request.deliver(sentence.index, translations[position])
                    else:
                        sentence.request.fail(failure)
                self._in_flight[batch.priority] -= 1
                self._done_sentences += len(batch.sentences)
                self._busy_seconds += time.monotonic() - started
                self._work.notify_all()

    def _next_batch(self) -> _Batch | None:
        """The next batch to decode (interactive first), waiting for one; None once closed."""
        with self._lock:
            while not self._closed:
                group, priority = self._oldest_group()
                if group is None:
                    self._work.wait()
                    continue
                now, fill_by = time.monotonic(), group[0].request.arrived + self.wait_seconds
                # company is worth waiting for only where there is traffic: with no batch on the model, a request
                # is alone (one client, or a quiet service) and waiting would only add its time
                busy = any(self._in_flight.values())
                if (
                    busy
                    and not group[0].request.started
                    and now < fill_by
                    and self._tokens_up_to(group, self.settings.batch_tokens) < self.settings.batch_tokens
                ):
                    self._work.wait(fill_by - now)  # let other requests join this batch
                    continue
                batch = self._take_batch(group, priority)
                if batch:
                    self._in_flight[priority] += 1
                    self.batches += 1
                    self.batched_sentences += len(batch)
                    self._room.notify_all()
                    return _Batch(priority, batch)
            return None

    def _take_batch(self, group: deque[_Sentence], priority: Priority) -> list[_Sentence]:
        """Take one batch from the front of a group: the longest of plan_batches' batches over the window that
        holds a sentence of the oldest request, cut to what the engine decodes as one piece and to this runner's
        share of the window where other runners are idle (they take the rest).

        The window is the whole of the oldest request (sorted as one, its padding is as low as when it had the
        model to itself) and the requests behind it up to FILL_WINDOW_BATCHES batches' worth of tokens. Each
        batch comes from the window and holds a sentence of the oldest request, so the oldest request finishes
        first. Sentences of requests that have failed meanwhile are dropped; what the batch leaves of the window
        goes back to the front, in order.
        """
        budget = FILL_WINDOW_BATCHES * self.settings.batch_tokens
        oldest = group[0].request
        window, tokens = [], 0
        while group and (group[0].request is oldest or tokens + len(group[0].tokens) <= budget):
            sentence = group.popleft()
            self._queued[priority] -= 1
            if sentence.request.error is None:
                window.append(sentence)
                tokens += len(sentence.tokens)
        if not window:
            return []
        lengths = [len(s.tokens) for s in window]
        plan = plan_batches(lengths, self.settings.batch_tokens)  # longest first
        # the longest batch holding a sentence of the oldest request: a short sentence behind a stream of longer
        # ones is never left for later again and again (it waited 14 s of a 14 s pass at 64 clients)
        first = next((batch for batch in plan if any(window[i].request is oldest for i in batch)), plan[0])
        beam, target = window[first[0]].decoding
        # no more than CTranslate2 decodes as one piece (MT_BATCH_DECODE_TOKENS): a request is answered when its
        # piece is done, and an interactive request waits for one piece, not for a batch of many. The oldest
        # request's sentences go first; the piece is sized for the batch's longest, so any of them fit.
        oldest_first = sorted(first, key=lambda i: window[i].request is not oldest)
        piece = oldest_first[: self.inner.decoded_together(lengths[first[0]], beam, target)]
        chosen = set(self._share(piece, lengths, self._idle_slots(priority)))
        left = [s for i, s in enumerate(window) if i not in chosen]
        for index in chosen:
            window[index].request.started = True
        group.extendleft(reversed(left))
        self._queued[priority] += len(left)
        return [s for i, s in enumerate(window) if i in chosen]

    @staticmethod
    def _share(piece: list[int], lengths: list[int], idle: int) -> list[int]:
        """The front of `piece` (the oldest request's sentences first, each part longest first) up to this
        runner's share of the window's tokens, at least one sentence: with idle runners to take the rest, the
        longest sentences go alone or nearly, the short ones together, so the runners finish about together."""
        share, taken, chosen = sum(lengths) / idle, 0, []
        for index in piece:
            if chosen and taken + lengths[index] > share:
                break
            chosen.append(index)
            taken += lengths[index]
        return chosen

    def _idle_slots(self, priority: Priority) -> int:
        """Runners free to take a batch of this priority now, the one asking included. 1 on CUDA: there a batch
        costs about what one sentence does, and the runners share one device."""
        if self.settings.device != "cpu":
            return 1
        idle = self.slots - sum(self._in_flight.values())
        if priority is Priority.BULK:
            idle = min(idle, self._bulk_cap() - self._in_flight[priority])
        return max(1, idle)

    def _tokens_up_to(self, group: deque[_Sentence], enough: int) -> int:
        """Source tokens waiting in a group, counted until there are enough."""
        tokens = 0
        for sentence in group:
            tokens += len(sentence.tokens)
            if tokens >= enough:
                break
        return tokens

    def _oldest_group(self) -> tuple[deque[_Sentence] | None, Priority]:
        """The waiting sentences of the decoding options whose oldest sentence came first, interactive ones before
        bulk ones (bulk ones only while a bulk slot is free); a group left empty is dropped."""
        for priority in Priority:
            if priority is Priority.BULK and self._in_flight[priority] >= self._bulk_cap():
                break
            groups = self._queues[priority]
            for decoding in [d for d, group in groups.items() if not group]:
                del groups[decoding]
            if groups:
                return min(groups.values(), key=lambda g: g[0].request.arrived), priority
        return None, Priority.INTERACTIVE

    def _bulk_cap(self) -> int:
        """Batches bulk work may have on the model now: MT_SCHEDULER_BULK_SLOTS where set, else every slot while
        no interactive request came in the last INTERACTIVE_RECENT_SECONDS, and all but one (at least one) after."""
        if self.bulk_slots:
            return self.bulk_slots
        recent = time.monotonic() - self._interactive_seen < INTERACTIVE_RECENT_SECONDS
        return max(1, self.slots - 1) if recent else self.slots


@dataclass(frozen=True)
class SchedulerStats:
    """What the process's schedulers hold and have done, for /metrics."""

    waiting: int  # sentences waiting for a batch
    batches: int  # model calls made
    sentences: int  # sentences those calls carried (over batches: the mean batch size)


def process_stats() -> SchedulerStats:
    """The sums over every open scheduler of this process (one per loaded model)."""
    with _OPEN_LOCK:
        schedulers = list(_OPEN)
    each = [scheduler.stats() for scheduler in schedulers]
    return SchedulerStats(sum(s.waiting for s in each), sum(s.batches for s in each), sum(s.sentences for s in each))


_SCHEDULERS: dict[Translator, SchedulingTranslator] = {}  # the process's, by engine
_SCHEDULERS_LOCK = threading.Lock()
_OPEN: weakref.WeakSet[SchedulingTranslator] = weakref.WeakSet()  # every scheduler not closed, for process_stats
_OPEN_LOCK = threading.Lock()


def scheduled(engine: Translator) -> SchedulingTranslator:
    """The process's scheduler in front of this engine (one per loaded model), started on first use."""
    with _SCHEDULERS_LOCK:
        if engine not in _SCHEDULERS:
            _SCHEDULERS[engine] = SchedulingTranslator(engine)
        return _SCHEDULERS[engine]
