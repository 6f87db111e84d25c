"""The translate stage: engine (CTranslate2 + SentencePiece), batching, and the translation memory."""

from __future__ import annotations

from service.config import Settings
from service.translation.interface import SentenceTranslator


def open_translator(settings: Settings, use_memory: bool = True) -> SentenceTranslator:
    """The process's translator, behind the translation memory when that is enabled."""
    from service.translation.engine import load_translator
    from service.translation.memory import CachedTranslator, TranslationMemory

    translator = load_translator(settings)
    if not (use_memory and settings.memory_enabled):
        return translator
    return CachedTranslator(translator, TranslationMemory(settings.memory_path, settings.memory_max_entries))


def check_translator(settings: Settings, use_memory: bool = True) -> None:
    """Raise what open_translator would for a missing model or an unusable memory file, without loading weights."""
    from service.modelstore.manifest import Manifest, resolve_model_dir
    from service.translation.memory import TranslationMemory

    Manifest.read(resolve_model_dir(settings.model_dir))
    if use_memory and settings.memory_enabled:
        TranslationMemory(settings.memory_path, settings.memory_max_entries).close()
