"""The composition root: one Services object, made from settings, behind every front door.

The CLI's commands, the web app (service/web) and the Celery worker all build what they work with here, the way
datasette's one Datasette object stands behind its CLI and its app: the translators, the OpenSearch client and the
index target writers store to, the job store, the alert store, job workers and the alert deliverer. Nothing here
opens a connection until it is used, so a command pays only for what it touches.

Two registries are process-wide on purpose, and Services is their one user: the loaded models
(translation/engine.py `load_translator_at`: weights are loaded once per process, however many Services or apps
a process makes, tests included) and the batching schedulers in front of them (translation/scheduler.py
`scheduled`: every caller of a model shares its batches, so request threads and job workers fill one batch).
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property

from opensearchpy import OpenSearch

from service.alerts.delivery import Deliverer, DeliveryThread
from service.alerts.digests import DigestSender
from service.alerts.store import AlertStore
from service.config import Settings
from service.embedding import open_encoder
from service.embedding.interface import SentenceEncoder
from service.embedding.models import EncoderNotInstalled
from service.index import vectors
from service.index.client import make_client
from service.ingest import IndexTarget
from service.jobs.backends import open_job_store
from service.jobs.pool import WorkerPool
from service.jobs.store import JobStore
from service.jobs.worker import Worker
from service.modelstore.manifest import ModelNotInstalled
from service.names.english import arabnamer_available
from service.search.names import collection_names
from service.search.searcher import Meaning
from service.translation import check_translator, open_reverse_translator, open_translator
from service.translation.interface import SentenceTranslator

log = logging.getLogger(__name__)


class Services:
    """What a process works with, opened from settings on first use and shared by its threads."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.translator: SentenceTranslator | None = None  # Arabic→English; set by load_translator
        self.model_error: str | None = None  # why there is no translator, where the process runs without one
        self.reverse_translator: SentenceTranslator | None = None  # English→Arabic, for English queries
        self._reverse_looked_for = False  # whether reverse_translator was opened (it may be None: no such model)
        self.workers: WorkerPool | None = None  # the job worker threads, where the process serves (start_workers)
        self.deliverer: DeliveryThread | None = None  # the webhook deliverer thread, where the process serves

    @classmethod
    def open(cls, settings: Settings, load_model: bool = True) -> Services:
        """Services for a serving process: the job store opened and the models loaded (or, with load_model false,
        only checked), so start-up fails early. Without a model the process still serves: translation says 503."""
        services = cls(settings)
        # made now, before request threads share them (cached_property takes no lock), and so that a bad JOBS_DB or
        # database URL stops start-up rather than a request. Not the sentence encoder (about 140 MB): a process that
        # only translates never needs it, and warm_up loads it where the process serves a collection; threads that
        # race for it on first use get the one process-wide model (embedding.open_encoder)
        services.job_store, services.alert_store  # noqa: B018
        try:
            if load_model:
                services.load_translator()
            else:
                check_translator(settings)
        except ModelNotInstalled as error:
            log.warning("%s", error)
            services.model_error = str(error)
        if load_model:
            services.query_translators()
        return services

    def load_translator(self, use_memory: bool = True) -> SentenceTranslator:
        """The Arabic→English translator (the model behind its scheduler, behind the translation memory unless
        use_memory is false); ModelNotInstalled when there is no model."""
        if self.translator is None:
            self.translator = open_translator(self.settings, use_memory)
        return self.translator

    def query_translators(self) -> dict[str, SentenceTranslator | None]:
        """{"en": the Arabic→English translator, "ar": the English→Arabic one}, None where that model is missing:
        what a query is translated to its other side with (search, alerts). Opened on first use."""
        if self.translator is None and self.model_error is None:
            try:
                self.load_translator()
            except ModelNotInstalled as error:  # the Arabic side is searched as written
                self.model_error = str(error)
        if not self._reverse_looked_for:
            self.reverse_translator, self._reverse_looked_for = open_reverse_translator(self.settings), True
        return {"en": self.translator, "ar": self.reverse_translator}

    @cached_property
    def client(self) -> OpenSearch:
        return make_client(self.settings)

    @property
    def alias(self) -> str:
        return self.settings.opensearch_index

    @cached_property
    def index_target(self) -> IndexTarget:
        """Where writers store articles (service/ingest.py), as the settings say."""
        return IndexTarget.from_settings(self.settings, self.client, encoder=self.encoder)

    @cached_property
    def encoder(self) -> SentenceEncoder | None:
        """The sentence encoder (ENCODER) behind its scheduler, loaded once per process; None when off, or when its
        wheel is missing (logged: articles are then stored and searched without vectors, as with ENCODER=off)."""
        try:
            return open_encoder(self.settings)
        except EncoderNotInstalled as error:
            log.warning("%s; searching by words only", error)
            return None

    @property
    def meaning(self) -> Meaning:
        """How searches use the sentence encoder: the vector channel, its floor, margin and weight (words only when off)."""
        return Meaning.from_settings(self.settings, self.encoder)

    @cached_property
    def job_store(self) -> JobStore:
        """The store request threads and commands share (each worker thread opens its own: see start_workers)."""
        return open_job_store(self.settings)

    @cached_property
    def alert_store(self) -> AlertStore:
        return AlertStore(self.client, self.alias)

    @property
    def demo(self) -> bool:
        return bool(self.translator is not None and self.translator.demo)

    @property
    def model_id(self) -> str | None:
        """The loaded model's manifest id; None when no model is loaded."""
        return self.translator.model_id if self.translator is not None else None

    def worker(self, job_store: JobStore | None = None, job_id: str | None = None) -> Worker:
        """A job worker on the configured alias, batch size and index shape (only job_id's items, when given)."""
        settings = self.settings
        return Worker(
            job_store or self.job_store,
            self.load_translator(),
            self.client,
            self.alias,
            settings.job_batch_items,
            job_id=job_id,
            shards=settings.opensearch_shards,
            replicas=settings.opensearch_replicas,
            cluster_threshold=settings.cluster_threshold,
            encoder=self.encoder,
            cluster_xlang_threshold=settings.cluster_xlang_threshold,
            meaning_floor=settings.meaning_floor,
        )

    def alert_deliverer(self) -> Deliverer:
        digests = DigestSender(self.alert_store, self.settings) if self.settings.smtp_host else None
        return Deliverer(self.alert_store, self.settings, digests=digests)

    def start_workers(self) -> WorkerPool | None:
        """Start JOBS_WORKERS job worker threads sharing this process's translator, and the webhook deliverer
        (ALERT_DELIVERY); only where the process serves. The pool; None when there is no model or no workers."""
        settings = self.settings
        if settings.alert_delivery and self.deliverer is None:
            self.deliverer = DeliveryThread(self.alert_deliverer()).start()
        if self.translator is None or settings.jobs_workers < 1 or self.workers is not None:
            return self.workers
        # Each worker thread opens its own job store rather than sharing the request threads' one: a store serialises
        # its one SQLite connection behind a lock, so a worker committing a batch of results would hold up status and
        # results requests; on their own connections, WAL lets those reads go on while a worker writes.
        workers = [self.worker(open_job_store(settings)) for _ in range(settings.jobs_workers)]
        self.workers = WorkerPool(workers).start()
        return self.workers

    def warm_up(self) -> None:
        """Where the process serves analysts (its alias holds a collection): load the name transliterator (about
        9 s) and the sentence encoder, and read the collection's spellings, in the background, before the first
        search needs them, so no analyst's request pays for either. A process with no collection only translates
        (a LibreTranslate-style deployment): it loads neither, and keeps their memory (several hundred MB) free."""
        threading.Thread(target=self._warm_search, name="warm-search", daemon=True).start()

    def _warm_search(self) -> None:
        try:
            serves_search = bool(self.client.indices.exists_alias(name=self.alias))
        except Exception:  # the cluster is away: the first search loads what it needs
            log.info("no collection reachable at start: the encoder and the names load on the first search")
            return
        if serves_search:
            threading.Thread(target=self._warm_names, name="warm-names", daemon=True).start()
            self._report_missing_vectors()

    def _report_missing_vectors(self) -> None:
        """Load the encoder before the first search needs it, and log how many articles lack its vectors (after
        ENCODER changed, or where they were stored without): `index embed` gives them theirs."""
        try:
            encoder = self.encoder
            if encoder is None:
                return
            missing = vectors.count_missing(self.client, self.alias, encoder.encoder_id)
        except Exception:  # no index yet, or the cluster is away: nothing to report
            log.debug("articles without vectors not counted", exc_info=True)
            return
        if missing:
            log.warning(
                "%d articles of %s have no vectors of %s: search and saved searches match them by words only until "
                "`python -m service index embed`",
                missing,
                self.alias,
                encoder.encoder_id,
            )

    def _warm_names(self) -> None:
        try:
            arabnamer_available()
            collection_names(self.client, self.alias)
        except Exception:  # a search reads them again when it needs them
            log.warning("the names' spellings could not be made ready at start", exc_info=True)

    def stop_workers(self) -> None:
        """Stop the worker threads and the deliverer, giving back what they hold."""
        deliverer, self.deliverer = self.deliverer, None
        if deliverer is not None:
            deliverer.stop()
        pool, self.workers = self.workers, None
        if pool is not None:
            pool.stop()

    def close(self) -> None:
        """Close the job store if it was opened (the translator is the process's, and stays loaded)."""
        if "job_store" in self.__dict__:
            self.job_store.close()
