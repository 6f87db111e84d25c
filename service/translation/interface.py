"""The translator as its callers see it: the Translation a sentence becomes, the protocol the engine
(engine.Translator) and its wrappers (memory.CachedTranslator, scheduler.SchedulingTranslator) implement, and
the base those wrappers share.

Light on purpose: align.py, the pipeline and the web layer import it without loading CTranslate2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from service.config import Settings
    from service.modelstore.manifest import Manifest


@dataclass(frozen=True)
class Translation:
    """One translated sentence; score is the length-normalised log-probability (0 is certain)."""

    target: str
    score: float
    tokens: int
    alignment: str | None = None  # Pharaoh "i-j" over the model's words (service/wordalign.py); None: not recorded


@dataclass(frozen=True)
class Counters:
    """What a translator has done since it was loaded; the memory's counts are None where there is no memory."""

    tokens_translated: int  # output tokens the model produced
    model_seconds: float = 0.0  # time batches spent in CTranslate2, from submission until their results were ready
    memory_hits: int | None = None  # sentences served from the translation memory
    memory_misses: int | None = None  # sentences the memory sent on to the model


class SentenceTranslator(Protocol):
    """What callers use of a translator: translate sentences, count their tokens, name the model, report counters."""

    @property
    def settings(self) -> Settings:
        """The settings it decodes with: beam size, input token limit, decoding lengths, batch budget."""
        ...

    @property
    def manifest(self) -> Manifest:
        """The installed model's manifest: what it is and where it came from."""
        ...

    @property
    def model_id(self) -> str:
        """The manifest id, recorded with every translation and part of the translation-memory key."""
        ...

    @property
    def demo(self) -> bool:
        """Whether the model is a generated one with random weights (every translation is noise)."""
        ...

    def count_tokens(self, text: str) -> int:
        """How many source tokens the model sees for text (segmentation keeps sentences under the limit)."""
        ...

    def decoding_key(self, beam_size: int | None = None) -> str:
        """What, besides the sentence, decides a translation: the translation memory's key."""
        ...

    def translate(
        self, sentences: Sequence[str], beam_size: int | None = None, *, alignments: bool = True
    ) -> list[Translation]:
        """One Translation per sentence, in order; beam_size overrides the configured beam for this call.

        alignments=False says the caller reads no word alignments (Translation.alignment), so the model may skip
        the attention they are read from; a translation may carry one all the same.
        """
        ...

    def counters(self) -> Counters:
        """Tokens translated so far and, behind a translation memory, its hits and misses."""
        ...


class TranslatorWrapper:
    """A translator that adds one thing to an inner one (a memory, a scheduler) and is the inner one in every other
    respect: its model, settings, token counts and counters. Subclasses give translate()."""

    def __init__(self, inner: SentenceTranslator):
        self.inner = inner

    @property
    def settings(self) -> Settings:
        return self.inner.settings

    @property
    def manifest(self) -> Manifest:
        return self.inner.manifest

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def demo(self) -> bool:
        return self.inner.demo

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def decoding_key(self, beam_size: int | None = None) -> str:
        return self.inner.decoding_key(beam_size)

    def counters(self) -> Counters:
        return self.inner.counters()
