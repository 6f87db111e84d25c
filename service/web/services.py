"""What the web app works with, and the one way views reach it: app_services().

Opened once per process from settings: the translator, the OpenSearch client, the job store the request threads
share, and the app's metrics; the job worker pool joins them where the process serves (web.start_workers).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import Flask, current_app
from opensearchpy import OpenSearch

from service.config import Settings
from service.index.client import make_client
from service.jobs.backends import open_job_store
from service.jobs.store import JobStore
from service.modelstore.manifest import ModelNotInstalled
from service.translation import check_translator, open_reverse_translator, open_translator
from service.translation.interface import SentenceTranslator
from service.web.metrics import Metrics

if TYPE_CHECKING:
    from service.alerts.delivery import DeliveryThread
    from service.jobs.pool import WorkerPool

log = logging.getLogger(__name__)
EXTENSION = "mt"  # where create_app keeps the Services in app.extensions


@dataclass
class Services:
    """The process's translator, client and job store, with the app's metrics and, once started, its job workers."""

    settings: Settings
    client: OpenSearch
    jobs: JobStore  # the request threads' store; each job worker thread opens its own (web.start_workers)
    translator: SentenceTranslator | None = None  # None when no model is installed
    model_error: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    workers: WorkerPool | None = None  # the job worker threads, where the process serves (web.start_workers)
    reverse_translator: SentenceTranslator | None = None  # English→Arabic, for English queries; None when absent
    deliverer: DeliveryThread | None = None  # the alert webhook deliverer, where the process serves (start_workers)

    def __post_init__(self):
        """The metrics read the translator's counters and the job queue's depth when scraped."""
        if self.translator is not None:
            self.metrics.watch_translator(self.translator)
        self.metrics.watch_queue(self.jobs.queued_items)

    @classmethod
    def open(cls, settings: Settings, load_model: bool = True) -> Services:
        """Make the client, load the model (behind the translation memory) and open the job store.

        With load_model false, the model is only checked (manifest and memory file) and translator stays None.
        """
        client = make_client(settings)
        translator, model_error = None, None
        try:
            if load_model:
                translator = open_translator(settings)
            else:
                check_translator(settings)
        except ModelNotInstalled as error:  # the app serves without a model: translation answers 503
            log.warning("%s", error)
            model_error = str(error)
        reverse = open_reverse_translator(settings) if load_model else None
        return cls(settings, client, open_job_store(settings), translator, model_error, reverse_translator=reverse)

    def close(self) -> None:
        """Close the job store (the translator is the process's, and stays loaded)."""
        self.jobs.close()

    @property
    def alias(self) -> str:
        return self.settings.opensearch_index

    @property
    def demo(self) -> bool:
        return bool(self.translator is not None and self.translator.demo)

    @property
    def model_id(self) -> str | None:
        """The loaded model's manifest id; None when no model is installed."""
        return self.translator.model_id if self.translator is not None else None


def services_of(app: Flask) -> Services:
    """The Services an app was built with (tests, gunicorn hooks: anywhere outside a request)."""
    return app.extensions[EXTENSION]


def app_services() -> Services:
    """The current app's Services, for views and request hooks."""
    return services_of(current_app)
