"""The translate stage: engine (CTranslate2 + SentencePiece), batching, and the translation memory."""

from __future__ import annotations

from service.config import Settings
from service.translation.interface import SentenceTranslator


def open_translator(settings: Settings, use_memory: bool = True) -> SentenceTranslator:
    """The process's translator, behind the translation memory when that is enabled."""
    from service.translation.engine import load_translator
    from service.translation.memory import CachedTranslator, open_memory

    translator = load_translator(settings)
    if not (use_memory and settings.memory_enabled):
        return translator
    return CachedTranslator(translator, open_memory(settings))


def check_translator(settings: Settings, use_memory: bool = True) -> None:
    """Raise what open_translator would for a missing model or an unusable memory store, without loading weights.

    A shared memory (MT_MEMORY_URL) is not checked: the service runs without it while it is unreachable.
    """
    from service.modelstore.manifest import Manifest, resolve_model_dir
    from service.translation.memory import open_memory

    Manifest.read(resolve_model_dir(settings.model_dir))
    if use_memory and settings.memory_enabled and not settings.memory_url:
        open_memory(settings).close()
