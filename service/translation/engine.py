"""The translation engine: opus-mt-ar-en (or any Marian model) in CTranslate2, with SentencePiece.

One Translator is built per process and shared by all threads: CTranslate2 queues batches to its
own worker threads (inter_threads), and SentencePiece encoding has no shared mutable state.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import ctranslate2
import sentencepiece as spm

from service.config import Settings
from service.errors import ServiceError
from service.modelstore.manifest import Manifest, resolve_model_dir
from service.runtime import loaded_onto_huge_pages
from service.translation.batching import plan_batches
from service.translation.interface import Counters, Translation
from service.wordalign import attention_alignment

MAX_DECODING_LENGTH = 512


class InputTooLong(ServiceError, ValueError):
    """A sentence exceeds the model's input limit; segmentation must split it first."""

    code = "input_too_long"  # status 500: segmentation splits every sentence below the limit first


def detokenize(pieces: Sequence[str]) -> str:
    """Join SentencePiece pieces; pieces unknown to target.spm are joined the same way."""
    return "".join(pieces).replace("\u2581", " ").strip()


class Translator:
    """A loaded model and its tokenizers; thread-safe. Implements interface.SentenceTranslator."""

    def __init__(self, model_dir: Path, settings: Settings):
        self.manifest = Manifest.read(model_dir)
        self.settings = settings
        inter, intra = settings.threads
        with loaded_onto_huge_pages() if settings.device == "cpu" else contextlib.nullcontext():
            self._model = ctranslate2.Translator(
                str(model_dir),
                device=settings.device,
                compute_type=settings.resolved_compute_type,
                inter_threads=inter,
                intra_threads=intra,
            )
        self._source = spm.SentencePieceProcessor(model_file=str(model_dir / "source.spm"))
        self.tokens_translated = 0
        self.model_seconds = 0.0
        self._count_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.manifest.id

    @property
    def demo(self) -> bool:
        return self.manifest.demo

    def tokenize(self, text: str) -> list[str]:
        """SentencePiece pieces, after the target-language token a multi-target model needs (>>ara<<)."""
        pieces = self._source.encode(text, out_type=str)
        token = self.manifest.target_token
        return [token, *pieces] if token and pieces else pieces

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def decoding_key(self, beam_size: int | None = None) -> str:
        """What, besides the model, decides a translation; part of the translation-memory key."""
        s = self.settings
        return (
            f"{self.model_id}|beam={beam_size or s.beam_size}|rep={s.repetition_penalty}|ngram={s.no_repeat_ngram_size}"
        )

    def counters(self) -> Counters:
        return Counters(self.tokens_translated, self.model_seconds)

    def encode(self, sentences: Sequence[str]) -> list[list[str]]:
        """Each sentence's pieces; InputTooLong for one over MT_MAX_INPUT_TOKENS, before any of them is decoded."""
        tokens = [self.tokenize(sentence) for sentence in sentences]
        limit = self.settings.max_input_tokens
        for sentence, pieces in zip(sentences, tokens, strict=True):
            if len(pieces) > limit:
                raise InputTooLong(f"sentence of {len(pieces)} tokens exceeds the limit of {limit}: {sentence[:60]}…")
        return tokens

    def translate(
        self,
        sentences: Sequence[str],
        beam_size: int | None = None,
        *,
        alignments: bool = True,
        target_lengths: Sequence[int] | None = None,
    ) -> list[Translation]:
        """Translate sentences in length-sorted token batches, in parallel, and keep their order.

        target_lengths forces each output to an exact length (benchmarks with random weights);
        beam_size overrides the configured beam for this call; alignments=False: the caller reads none.
        """
        tokens = self.encode(sentences)
        results: list[Translation | None] = [None] * len(sentences)
        pending = []
        for batch in plan_batches([len(t) for t in tokens], self.settings.batch_tokens):
            batch = [i for i in batch if tokens[i]]  # empty input needs no model call
            if batch:
                targets = [target_lengths[i] for i in batch] if target_lengths else None
                pending.append((batch, self._submit([tokens[i] for i in batch], beam_size, targets, alignments)))
        for batch, submission in pending:
            translations = self._collect([tokens[i] for i in batch], *submission)
            for index, translation in zip(batch, translations, strict=True):
                results[index] = translation
        nothing = self.empty_translation(alignments)
        return [r if r is not None else nothing for r in results]

    def aligns(self, wanted: bool = True) -> bool:
        """Whether translations carry word alignments: configured on (MT_ALIGNMENTS) and read by the caller."""
        return self.settings.alignments and wanted

    def empty_translation(self, alignments: bool = True) -> Translation:
        """What an empty sentence becomes, with no model call: its alignment empty where alignments are read."""
        return Translation("", 0.0, 0, "" if self.aligns(alignments) else None)

    def translate_batch(
        self,
        batch: Sequence[list[str]],
        beam_size: int | None = None,
        target_lengths: Sequence[int] | None = None,
        *,
        alignments: bool = True,
    ) -> list[Translation]:
        """One model call for one batch of non-empty encoded sentences, waited for (the scheduler's batches)."""
        return self._collect(batch, *self._submit(batch, beam_size, target_lengths, alignments))

    def _submit(
        self, batch: Sequence[list[str]], beam_size: int | None, target_lengths: Sequence[int] | None, alignments: bool
    ) -> tuple[list, float]:
        """Queue one batch on CTranslate2's workers; its futures and when they were queued (time.monotonic())."""
        beam = beam_size or self.settings.beam_size
        lengths = self._decoding_lengths([len(pieces) for pieces in batch], target_lengths)
        submitted = time.monotonic()
        futures = self._model.translate_batch(
            list(batch),
            asynchronous=True,
            max_batch_size=self._sentences_per_batch(beam, lengths["max_decoding_length"]),
            beam_size=beam,
            return_scores=True,
            # the attention the alignments are read from costs about 1% of a lone sentence's time (docs/scaling.md)
            return_attention=self.aligns(alignments),
            max_input_length=0,  # scores are divided by length (length_penalty 1)
            repetition_penalty=self.settings.repetition_penalty,
            no_repeat_ngram_size=self.settings.no_repeat_ngram_size,
            **lengths,
        )
        return futures, submitted

    def _collect(self, batch: Sequence[list[str]], futures: list, submitted: float) -> list[Translation]:
        """A batch submitted at `submitted` (time.monotonic()): its translations, waited for, and counted (output
        tokens, and the time from submission until every result was ready, queueing in CTranslate2 included)."""
        results = [future.result() for future in futures]
        model_seconds = time.monotonic() - submitted
        translations = []
        for pieces, result in zip(batch, results, strict=True):
            output = result.hypotheses[0]
            attention = result.attention  # a new list of lists of Python floats on every access: read it once
            alignment = attention_alignment(pieces, output, attention[0]) if attention else None
            translations.append(Translation(detokenize(output), float(result.scores[0]), len(output), alignment))
        with self._count_lock:
            self.tokens_translated += sum(t.tokens for t in translations)
            self.model_seconds += model_seconds
        return translations

    def decoded_together(
        self, longest_source: int, beam_size: int | None = None, target_length: int | None = None
    ) -> int:
        """How many sentences, the longest of longest_source tokens, CTranslate2 decodes as one piece."""
        lengths = self._decoding_lengths([longest_source], [target_length] if target_length else None)
        return self._sentences_per_batch(beam_size or self.settings.beam_size, lengths["max_decoding_length"])

    def _sentences_per_batch(self, beam_size: int, max_decoding_length: int) -> int:
        """How many sentences CTranslate2 decodes together (it splits a larger batch, in order).

        The decoder keeps keys and values for every beam of every sentence at every step, so a batch's memory grows
        with sentences x beam x output length: long outputs get smaller batches (MT_BATCH_DECODE_TOKENS).
        """
        return max(1, self.settings.batch_decode_tokens // (beam_size * max_decoding_length))

    def _decoding_lengths(self, source_lengths: list[int], targets: Sequence[int] | None) -> dict:
        if targets:
            return {"min_decoding_length": max(targets), "max_decoding_length": max(targets)}
        s = self.settings
        longest = max(source_lengths)
        limit = math.ceil(s.decode_length_ratio * longest) + s.decode_length_extra
        return {"max_decoding_length": min(MAX_DECODING_LENGTH, limit)}


_LOADED: dict[tuple, Translator] = {}
_LOAD_LOCK = threading.Lock()


def load_translator(settings: Settings) -> Translator:
    """The process-wide Translator for these settings, loaded on first use."""
    return load_translator_at(resolve_model_dir(settings.model_dir), settings)


def load_translator_at(model_dir: Path, settings: Settings) -> Translator:
    """The process-wide Translator of the model in model_dir (either direction), loaded on first use."""
    key = (model_dir.resolve(), settings)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = Translator(model_dir, settings)
        return _LOADED[key]
