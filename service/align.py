"""The align stage: put each translated sentence beside its source span and rebuild the English article.

This builds the one JSON shape that the CLI, the API and the index share (docs/translation-format.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from service.provenance import PRETRANSLATED_MODEL
from service.text.langid import Detection
from service.text.normalize import normalize
from service.translation.interface import Translation
from service.wordalign import remap_source


@dataclass(frozen=True)
class SentenceUnit:
    """One sentence of an article field: its paragraph, its span in the field's original text, and its MT input."""

    field: str  # "title" or "body"
    paragraph: int  # line index within the field
    start: int
    end: int
    source: str  # normalised text, as sent to the model


def join_paragraphs(text: str, units: Sequence[SentenceUnit], targets: Sequence[str], field: str) -> str:
    """English text with the same line structure as the original field."""
    lines = [[] for _ in text.split("\n")]
    for unit, target in zip(units, targets, strict=True):
        if unit.field == field and target:
            lines[unit.paragraph].append(target)
    return "\n".join(" ".join(parts) for parts in lines)


def mean_score(translations: Sequence[Translation]) -> float:
    """Token-weighted mean of sentence scores: the article's confidence."""
    tokens = sum(t.tokens for t in translations)
    if tokens == 0:
        return 0.0
    return sum(t.score * t.tokens for t in translations) / tokens


def stored_alignment(translation: Translation, model_text: str, stored_text: str) -> str | None:
    """The translation's word alignment over the stored Arabic text's words instead of the model input's.

    None when there is none, or when the stored text does not normalise to what the model read.
    """
    if translation.alignment is None:
        return None
    normalized = normalize(stored_text)
    if normalized.text != model_text:
        return None
    return remap_source(translation.alignment, model_text, stored_text, normalized.starts)


def _alignment_entry(alignment: str | None) -> dict:
    """{"alignment": ...} where the sentence has one; sentences without keep the shape they had."""
    return {} if alignment is None else {"alignment": alignment}


def assemble(
    article: dict,
    detection: Detection,
    units: Sequence[SentenceUnit],
    translations: Sequence[Translation],
    model_id: str | None,
    demo: bool,
    kept: Collection[int] = (),
) -> dict:
    """The article with `language`, `title_en`, `body_en`, `sentences` and `translation` added.

    model_id None means the article is English and was kept as it is; `kept` are the indices of the units of an
    Arabic article that are English and were kept as they are (their sentences say so: "kept": "en").
    """
    texts = {"title": article.get("title") or "", "body": article["body"]}
    targets = [t.target for t in translations]
    translated = model_id is not None
    sentences = [
        {
            "field": u.field,
            "paragraph": u.paragraph,
            "span": [u.start, u.end],
            "source": texts[u.field][u.start : u.end],
            "target": t.target,
            "score": round(t.score, 4),
            **_alignment_entry(stored_alignment(t, u.source, texts[u.field][u.start : u.end])),
            **({"kept": "en"} if index in kept else {}),
        }
        for index, (u, t) in enumerate(zip(units, translations, strict=True))
    ]
    return {
        **article,
        "language": detection.to_dict(),
        "title_en": join_paragraphs(texts["title"], units, targets, "title") if translated else texts["title"],
        "body_en": join_paragraphs(texts["body"], units, targets, "body") if translated else texts["body"],
        "sentences": sentences,
        "translation": {
            "model": model_id,
            "demo": demo,
            "translated": translated,
            "score": round(mean_score(translations), 4),
        },
    }


def _pretranslated_pairs(article: dict) -> list[tuple[str, str, float]]:
    pairs = article.get("sentences")
    if not isinstance(pairs, list) or not pairs:
        raise ValueError("'sentences' must be a non-empty list of {source, target}")
    checked = []
    for pair in pairs:
        if not (isinstance(pair, dict) and isinstance(pair.get("source"), str) and isinstance(pair.get("target"), str)):
            raise ValueError("'sentences' must be a non-empty list of {source, target}")
        score = pair.get("score")
        checked.append((pair["source"], pair["target"], float(score) if isinstance(score, (int, float)) else 0.0))
    return checked


def assemble_pretranslated(article: dict, detection: Detection) -> dict:
    """The shared JSON shape for an article that arrives with `sentences: [{source, target}]`.

    Each source sentence is located in the body to recover its span ([-1, -1] if it is not there).
    Raises ValueError when the pairs are malformed.
    """
    body = article["body"]
    cursor = 0
    sentences = []
    for source, target, score in _pretranslated_pairs(article):
        start = body.find(source, cursor)
        start = start if start >= 0 else body.find(source)
        if start >= 0:
            cursor = start + len(source)
        span = [start, start + len(source)] if start >= 0 else [-1, -1]
        sentences.append(
            {
                "field": "body",
                "paragraph": body.count("\n", 0, max(start, 0)),
                "span": span,
                "source": source,
                "target": target,
                "score": round(score, 4),
            }
        )
    lines = [[] for _ in body.split("\n")]
    for sentence in sentences:
        lines[sentence["paragraph"]].append(sentence["target"])
    scores = [s["score"] for s in sentences]
    return {
        **article,
        "language": detection.to_dict(),
        "title_en": article.get("title_en") or "",
        "body_en": "\n".join(" ".join(parts) for parts in lines),
        "sentences": sentences,
        "translation": {
            "model": str(article.get("model") or PRETRANSLATED_MODEL),
            "demo": False,
            "translated": True,
            "score": round(sum(scores) / len(scores), 4),
        },
    }
