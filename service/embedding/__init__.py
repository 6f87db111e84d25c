"""The embed stage: sentence vectors that cross the language line (an English query near the Arabic sentence
that says the same), for search beside BM25. The model (models.py) sits behind a scheduler (scheduler.py) that
puts analysts' queries before job workers' passages; interface.py is what callers see.
"""

from __future__ import annotations

from service.config import Settings
from service.embedding.interface import SentenceEncoder

# Columns of each encoder's rows, known without loading it: what an index's vector fields are made with.
DIMENSIONS = {"use": 512, "e5": 384, "e5+use": 896}


def dimension_of(settings: Settings) -> int | None:
    """The dimension of ENCODER's vectors; None when off."""
    return DIMENSIONS.get(settings.encoder)


def open_encoder(settings: Settings) -> SentenceEncoder | None:
    """The process's sentence encoder (ENCODER), loaded on first use and shared by every caller; None when off.

    EncoderNotInstalled when ENCODER names a model whose wheel is absent.
    """
    if settings.encoder == "off":
        return None
    from service.embedding.models import load_encoder
    from service.embedding.scheduler import scheduled

    return scheduled(settings.encoder, load_encoder)
