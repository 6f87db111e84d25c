"""What the web app works with, built once per process from settings: the translator and the OpenSearch client."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opensearchpy import OpenSearch

from service.config import Settings
from service.index.client import make_client
from service.modelstore.manifest import ModelNotInstalled
from service.translation.interface import SentenceTranslator

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    client: OpenSearch
    translator: SentenceTranslator | None = None  # None when no model is installed
    model_error: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        from service.translation import open_translator

        client = make_client(settings)
        try:
            return cls(settings, client, open_translator(settings))
        except ModelNotInstalled as error:
            log.warning("%s", error)
            return cls(settings, client, None, str(error))

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
