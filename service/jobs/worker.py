"""A job worker: claim a batch of items, translate (and index) them, commit the results; pause on outages.

Several workers, threads in the service or separate `python -m service jobs worker` processes, can
share one store: claims are transactions, and a dead worker's claims expire. Redoing an item after
a crash costs nothing twice: its sentences come from the translation memory, and indexing by
document id overwrites rather than duplicates.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Optional

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

from service.index.bulk import Unavailable, index_documents
from service.index.documents import content_hash, document_id, to_document
from service.jobs.store import Item, JobStore, worker_name
from service.pipeline import ArticleError, translate_articles

log = logging.getLogger(__name__)
IDLE_WAIT = 1.0  # seconds between looks for new work when there is none


class Worker:
    def __init__(self, store: JobStore, translator, client=None, alias: Optional[str] = None, batch: int = 32,
                 name: Optional[str] = None, job_id: Optional[str] = None):
        self.store, self.translator, self.client, self.alias, self.batch = store, translator, client, alias, batch
        self.name = name or worker_name()
        self.job_id = job_id  # only this job's items, when set

    def run_once(self) -> bool:
        """Process one batch; False when there was nothing to do."""
        job_id, items = self.store.claim(self.name, self.batch, self.job_id)
        if not items:
            return False
        options = self.store.status(job_id).options
        engine = getattr(self.translator, "translator", self.translator)
        before = engine.tokens_translated
        try:
            done, failed = self._process(items, options)
        except (Unavailable, OpenSearchConnectionError) as error:
            log.warning("job %s paused: %s", job_id, error)
            self.store.release(job_id, self.name, "the search cluster is unreachable; the job resumes when it is back")
            return True
        except sqlite3.OperationalError as error:
            if "full" not in str(error):
                raise
            self.store.release(job_id, self.name, f"no space left to store results ({error})")
            return True
        self.store.finish(job_id, self.name, done, failed, engine.tokens_translated - before)
        return True

    def _process(self, items: list[Item], options: dict):
        decoding = {"beam_size": options["beam_size"]} if options.get("beam_size") else {}
        results = translate_articles(((item, item.input) for item in items), self.translator, **decoding)
        done, failed, documents = [], [], []
        for item, result in results:
            if isinstance(result, ArticleError):
                failed.append((item.seq, str(result)))
                continue
            done.append((item.seq, result))
            if options.get("index"):
                digest = content_hash(item.input)
                documents.append((item.seq, to_document(result, document_id(item.input, digest), digest, _now())))
        if documents:
            refused = index_documents(self.client, self.alias, [d for _, d in documents], attempts=3)
            refused_seqs = {seq: refused[d["id"]] for seq, d in documents if d["id"] in refused}
            done = [(seq, r) for seq, r in done if seq not in refused_seqs]
            failed += [(seq, f"refused by OpenSearch: {reason}") for seq, reason in refused_seqs.items()]
        return done, failed

    def resume_if_possible(self) -> None:
        """Paused jobs run again once the cluster answers."""
        if self.client is not None and any(j.state == "paused" for j in self.store.list()):
            try:
                if self.client.ping():
                    self.store.resume_paused()
            except Exception:  # still down: stay paused
                pass

    def run(self, stop: threading.Event, until_idle: bool = False) -> None:
        """Work until stopped (or, with until_idle, until no runnable item is left)."""
        self.store.release_dead_local_claims()
        while not stop.is_set():
            if self.run_once():
                continue
            self.resume_if_possible()
            if until_idle and self.store.queued_items() == 0:
                return
            stop.wait(IDLE_WAIT)


def _now() -> str:
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
