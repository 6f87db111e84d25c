"""The translate stage: engine (CTranslate2 + SentencePiece), batching, and the translation memory."""

from __future__ import annotations

import logging

from service.config import Settings
from service.translation.interface import SentenceTranslator

log = logging.getLogger(__name__)


def open_translator(settings: Settings, use_memory: bool = True) -> SentenceTranslator:
    """The process's translator: the engine behind its scheduler, behind the translation memory when that is enabled.

    Cached sentences never reach the scheduler; what does shares batches with every other caller in the process.
    """
    from service.translation.engine import load_translator
    from service.translation.memory import CachedTranslator, open_memory
    from service.translation.scheduler import scheduled

    translator = scheduled(load_translator(settings))
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


def open_reverse_translator(settings: Settings) -> SentenceTranslator | None:
    """The English→Arabic model for English queries, or None when it is off, absent or unusable.

    No translation memory: query translations are cached in the search package. When no model is
    installed this only looks for a manifest, so start-up is not slowed; a broken reverse model is logged
    and left out, and never stops the Arabic→English model from serving.
    """
    from service.modelstore.manifest import Manifest, resolve_reverse_model_dir
    from service.translation.engine import load_translator_at
    from service.translation.scheduler import scheduled

    model_dir = resolve_reverse_model_dir(settings.reverse_model_dir)
    if model_dir is None:
        return None
    try:
        if Manifest.read(model_dir).direction != "en-ar":
            log.warning("%s is not an English→Arabic model; English queries search the English side only", model_dir)
            return None
        return scheduled(load_translator_at(model_dir, settings))
    except (RuntimeError, OSError, ValueError) as error:  # ModelNotInstalled, or a model CTranslate2 cannot load
        log.warning("no English→Arabic query translation: %s", error)
        return None
