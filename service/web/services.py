"""What the web app works with, opened once per process from settings: the translator, the OpenSearch client and
the job store its request threads share."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opensearchpy import OpenSearch

from service.config import Settings
from service.index.client import make_client
from service.jobs.store import JobStore
from service.modelstore.manifest import ModelNotInstalled
from service.translation.interface import SentenceTranslator

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    client: OpenSearch
    jobs: JobStore  # the request threads' store; each job worker thread opens its own (web.start_workers)
    translator: SentenceTranslator | None = None  # None when no model is installed
    model_error: str | None = None

    @classmethod
    def open(cls, settings: Settings, load_model: bool = True) -> Services:
        """Make the client, load the model (behind the translation memory) and open the job store.

        With load_model false, the model is only checked (manifest and memory file) and translator stays None.
        """
        from service.translation import check_translator, open_translator

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
        return cls(settings, client, JobStore(settings.jobs_db, settings.job_lease_seconds), translator, model_error)

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
