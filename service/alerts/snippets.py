"""The sentence pair that shows why an article matched an alert (pure): kept with the match when it is recorded.

By words: the first sentence whose Arabic or English holds a word of the alert's query wordings (folded for case;
a word found inside a longer one counts, so "talk" shows "talks" and «نار» «النار»). By meaning: the sentence whose
vector is nearest the alert's. A match by both shows its words. An alert without words (a saved browse) shows the
article's lead, its first sentence pair. Sentences are kept to SNIPPET_CHARS each.

A document read back from the index (back-fill) has no vectors (the index keeps them out of _source): it carries
the sentence the index found nearest the alert's vector instead (NEAREST, search's meaning evidence, by the same
cosine), so back-fill and ingest show the same pair.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from service.alerts.meaning import AlertVector
from service.search.query import QueryWording

SNIPPET_CHARS = 400
NEAREST = "nearest_sentence"  # a document's sentence nearest the alert's vector, found by the index
_WORD = re.compile(r"\w+")


def pair(sentence: dict, by: str) -> dict:
    return {"ar": _cut(sentence.get("ar") or ""), "en": _cut(sentence.get("en") or ""), "by": by}


def by_words(document: dict, wordings: Sequence[QueryWording]) -> dict | None:
    """The first sentence pair of document holding a word of the wordings; None when none does."""
    words = {word.casefold() for wording in wordings for word in _WORD.findall(wording.query.terms)}
    for sentence in document.get("sentences") or ():
        text = f"{sentence.get('ar') or ''}\n{sentence.get('en') or ''}".casefold()
        if any(word in text for word in words):
            return pair(sentence, "words")
    return None


def lead(document: dict) -> dict | None:
    """The document's first sentence pair: what an alert without words (a saved browse) shows; None without one."""
    sentences = document.get("sentences") or ()
    return pair(sentences[0], "lead") if sentences else None


def by_meaning(document: dict, vector: AlertVector | None) -> dict | None:
    """The sentence pair of document nearest the alert's vector (of its encoder); None without one."""
    if vector is None or document.get("encoder") != vector.encoder_id:
        return None
    if document.get(NEAREST):
        return pair(document[NEAREST], "meaning")
    sentences = [s for s in document.get("sentences") or () if s.get("vector") is not None]
    if not sentences:
        return None
    rows = np.asarray([s["vector"] for s in sentences], dtype=np.float32)
    cosines = (rows @ vector.vector) / np.maximum(np.linalg.norm(rows, axis=1), 1e-12)
    return pair(sentences[int(np.argmax(cosines))], "meaning")


def _cut(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
