"""A job worker: claim a batch of items, translate (and index) them, commit the results; pause on outages.

Several workers, threads in the service or separate `python -m service jobs worker` processes, can
share one store: claims are transactions, and a dead worker's claims expire. Redoing an item after
a crash costs nothing twice: its sentences come from the translation memory, and indexing by
document id overwrites rather than duplicates.

A worker does not die of its work: a bad record fails its item with the reason, a batch that
raises something unexpected is tried again item by item (so one poison item fails alone), and
anything else is logged and retried after a pause. A search-cluster outage (unreachable, timing out, a
429/502/503/504, the index closed or blocked) is never an item's fault: the batch is given back and the
job paused until the cluster answers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict

from service import sqlite
from service.config import Settings
from service.errors import ArticleError, SearchUnavailable
from service.index import lifecycle
from service.index.bulk import is_outage
from service.ingest import REJECTED, IndexTarget, Outcome, Translate, write_articles
from service.jobs.store import Item, JobStore, worker_name
from service.pipeline import translate_articles
from service.translation.interface import SentenceTranslator
from service.translation.scheduler import bulk_priority

log = logging.getLogger(__name__)
IDLE_WAIT = 1.0  # seconds between looks for new work when there is none
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 30.0  # seconds to wait after an unexpected error, doubling while it repeats
KEPT_BATCHES = 2  # translated-but-unstored batches a worker keeps, so a paused job is not translated again
RENEWALS_PER_LEASE = 3  # a claim is renewed this often within its lease, so one late renewal does not lose it
PAUSED_FOR_OUTAGE = "the search cluster is unreachable or refuses the index; the job resumes when it is back"


class Worker:
    def __init__(
        self,
        store: JobStore,
        translator: SentenceTranslator,
        client=None,
        alias: str | None = None,
        batch: int = 32,
        name: str | None = None,
        job_id: str | None = None,
        shards: int = 1,
        replicas: int | None = 0,
        cluster_threshold: float = Settings().cluster_threshold,
        encoder=None,
        cluster_xlang_threshold: float = Settings().cluster_xlang_threshold,
        meaning_floor: float = Settings().meaning_floor,
    ):
        self.store, self.translator, self.client, self.batch = store, translator, client, batch
        # where jobs that index write; an outage is waited out by pausing the job, so each call tries only 3 times
        self.target = (
            None
            if client is None
            else IndexTarget(
                client,
                alias,
                shards=shards,
                replicas=replicas,
                cluster_threshold=cluster_threshold,
                attempts=3,
                encoder=encoder,
                cluster_xlang_threshold=cluster_xlang_threshold,
                meaning_floor=meaning_floor,
            )
        )
        self.name = name or worker_name()
        self.job_id = job_id  # only this job's items, when set
        # (job, line) → a translation not stored yet: kept across attempts, so a paused job is not translated again
        self._unstored: OrderedDict[tuple[str, int], dict | ArticleError] = OrderedDict()

    def run_once(self) -> bool:
        """Process one batch; False when there was nothing to do."""
        job_id, items = self.store.claim(self.name, self.batch, self.job_id)
        if not items:
            return False
        self.process_claimed(job_id, items)
        return True

    def process_claimed(self, job_id: str, items: list[Item]) -> str | None:
        """Translate (and index) items this worker has claimed and commit them; None when they are stored, else
        the reason they were given back and their job paused (an outage, an operator's problem)."""
        with LeaseKeeper(self.store, job_id, self.name):
            return self._process_claimed(job_id, items)

    def _process_claimed(self, job_id: str, items: list[Item]) -> str | None:
        try:
            options = self.store.status(job_id).options
            before = self.translator.counters().tokens_translated
            done, failed = self._process_batch(job_id, items, options)
            tokens = self.translator.counters().tokens_translated - before
            self.store.finish(job_id, self.name, done, failed, tokens)
        except lifecycle.LifecycleError as error:  # e.g. an index named like the alias: an operator must act
            log.warning("job %s paused: %s", job_id, error)
            self.store.release(job_id, self.name, str(error))
            return str(error)
        except sqlite3.OperationalError as error:
            if not sqlite.disk_full(error):
                self._give_back(job_id)
                raise
            reason = f"no space left to store results ({error})"
            self.store.release(job_id, self.name, reason)
            return reason
        except Exception as error:
            if not _outage(error):
                self._give_back(job_id)
                raise
            log.warning("job %s paused: %s", job_id, error)
            self.store.release(job_id, self.name, PAUSED_FOR_OUTAGE)
            return PAUSED_FOR_OUTAGE
        except BaseException:
            self._give_back(job_id)
            raise
        for item in items:
            self._unstored.pop((job_id, item.line), None)
        return None

    def _process_batch(self, job_id: str, items: list[Item], options: dict):
        """(done, failed) for a batch; when it raises something unexpected, each item is tried on its own."""
        try:
            return self._process(job_id, items, options)
        except Exception as error:
            if not _items_fault(error):
                raise
            log.exception("job %s: a batch of %d items failed; trying them one by one", job_id, len(items))
        done, failed = [], []
        for item in items:
            try:
                one_done, one_failed = self._process(job_id, [item], options)
            except Exception as error:
                if not _items_fault(error):
                    raise
                log.exception("job %s: item %d (line %d) failed", job_id, item.seq, item.line)
                one_done, one_failed = [], [(item.seq, _reason(error))]
            done += one_done
            failed += one_failed
        return done, failed

    def _process(self, job_id: str, items: list[Item], options: dict):
        """Translate the items, or store them through the write path when the job indexes; bad records fail alone,
        with their reason. (done, failed): [(seq, result)], [(seq, reason)]."""
        seq_of = {item.line: item.seq for item in items}  # an item is one line of its job's input
        pairs = [(item.line, item.input) for item in items]
        translate = self._translation(job_id, options)
        done, failed = [], []
        if options.get("index"):
            # an item translated here before, or whose worker died, may be indexed but not matched or not committed
            rewrite = {item.line for item in items if item.attempts or (job_id, item.line) in self._unstored}
            for outcome in write_articles(pairs, self.target, translate, rewrite):
                if outcome.status == REJECTED:
                    failed.append((seq_of[outcome.line], outcome.reason))
                else:
                    done.append((seq_of[outcome.line], job_result(outcome)))
            return done, failed
        for line, result in translate(pairs):
            if isinstance(result, ArticleError):
                failed.append((seq_of[line], str(result)))
            else:
                done.append((seq_of[line], result))
        return done, failed

    def _translation(self, job_id: str, options: dict):
        """A Translate that reuses what this worker translated in an attempt that could not be stored (a paused
        job is not translated again), and keeps what it translates until its batch is committed."""
        decoding = {"beam_size": options["beam_size"]} if options.get("beam_size") else {}

        def translate(pairs: list[tuple[int, dict]]) -> list[tuple[int, dict | ArticleError]]:
            todo = []
            for line, record in pairs:
                if (job_id, line) in self._unstored:
                    self._unstored.move_to_end((job_id, line))  # in use again: the last to be forgotten
                else:
                    todo.append((line, record))
            with bulk_priority():  # an analyst's request goes before a job's sentences
                for line, result in translate_articles(todo, self.translator, **decoding):
                    self._unstored[(job_id, line)] = result
            translated = [(line, self._unstored[(job_id, line)]) for line, _ in pairs]
            while len(self._unstored) > max(KEPT_BATCHES * self.batch, len(pairs)):
                self._unstored.popitem(last=False)
            return translated

        return Translate(translate, self.translator.demo)

    def _give_back(self, job_id: str) -> None:
        """After an unexpected error, free this worker's claims at once rather than at the end of the lease."""
        try:
            self.store.release(job_id, self.name)
        except Exception:
            log.exception("job %s: could not give back the claims of %s; they wait for the lease", job_id, self.name)

    def resume_if_possible(self) -> None:
        """Paused jobs run again once the cluster answers."""
        if self.client is not None and self.store.paused_jobs():
            try:
                if self.client.ping():
                    self.store.resume_paused()
            except Exception as error:  # still down: stay paused
                log.debug("paused jobs stay paused: %s", error)

    def run(self, stop: threading.Event, until_idle: bool = False) -> None:
        """Work until stopped (or, with until_idle, until no runnable item is left); errors never end it."""
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            try:
                self.store.release_dead_local_claims()
                while not stop.is_set():
                    if self.run_once():
                        backoff = FIRST_BACKOFF
                        continue
                    self.resume_if_possible()
                    if until_idle and self.store.queued_items() == 0:
                        return
                    stop.wait(IDLE_WAIT)
            except Exception:
                log.exception("job worker %s: unexpected error; carrying on in %.0f s", self.name, backoff)
                stop.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)


class LeaseKeeper:
    """Renews a worker's claims on a job while its batch is worked on, so a batch slower than the lease is not
    taken by another worker; a worker that dies stops renewing, and its claims run out as before."""

    def __init__(self, store: JobStore, job_id: str, worker: str):
        self.store, self.job_id, self.worker = store, job_id, worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{worker}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        every = self.store.lease_seconds / RENEWALS_PER_LEASE
        if every <= 0:
            return
        while not self._stop.wait(every):
            try:
                self.store.renew(self.job_id, self.worker)
            except Exception as error:  # the store is unreachable: the batch's own commit will say so
                log.warning("job %s: could not renew the claims of %s (%s)", self.job_id, self.worker, error)


def job_result(outcome: Outcome) -> dict:
    """An indexing job's result for an article stored or found unchanged: its document id and outcome ("indexed" or
    "unchanged") and, when translated now, the aligned translation with its story cluster (and the fields left out
    of the document). The record's own fields keep their names: the outcome's are doc_id and outcome."""
    result = {**(outcome.translation or {}), "doc_id": outcome.doc_id, "outcome": outcome.status}
    if outcome.cluster_id:
        result["cluster_id"] = outcome.cluster_id
    if outcome.dropped:
        result["rejected_fields"] = outcome.dropped
    return result


def _outage(error: Exception) -> bool:
    """The search cluster is down or refusing its index: the batch waits for it, whatever its items hold."""
    return isinstance(error, SearchUnavailable) or is_outage(error)


def _items_fault(error: Exception) -> bool:
    """Whether an error may come from the items themselves, rather than from an outage, the index's state or a
    full disk, which would fail every item alike."""
    return not (_outage(error) or isinstance(error, (lifecycle.LifecycleError, sqlite3.Error)))


def _reason(error: Exception) -> str:
    return f"unexpected error: {type(error).__name__}: {error}"[:300]
