"""Articles in, parallel text out: detect → normalise → segment → translate → align.

Articles are processed in windows of a bounded number of sentences, so memory stays flat whatever
the input size, while each window's sentences, from many articles, share the model's batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from service import align
from service.align import SentenceUnit
from service.errors import ArticleError
from service.limits import MAX_BODY_CHARS
from service.text import langid, normalize, segment
from service.translation.interface import Translation

Key = TypeVar("Key")
WINDOW_SENTENCES = 2048
DETECT_CHARS = 600  # enough to tell an article's language; langdetect's cost grows with length


@dataclass(frozen=True)
class Prepared:
    article: dict
    detection: langid.Detection
    units: list[SentenceUnit]
    kept: frozenset[int] = frozenset()  # indices of units on English lines of an Arabic text: kept as they are

    @property
    def needs_translation(self) -> bool:
        return self.detection.language == "ar"

    @property
    def to_translate(self) -> list[SentenceUnit]:
        return [unit for index, unit in enumerate(self.units) if index not in self.kept]


def segment_field(text: str, field: str, max_tokens: int, count_tokens) -> list[SentenceUnit]:
    """Split a field into sentences, each with its span in the original text."""
    units = []
    offset = 0
    for index, line in enumerate(text.split("\n")):
        norm = normalize.normalize(line)
        for start, end in segment.segment(norm.text, max_tokens, count_tokens):
            a, b = norm.original_span(start, end)
            units.append(SentenceUnit(field, index, offset + a, offset + b, norm.text[start:end]))
        offset += len(line) + 1
    return units


def validate(article) -> dict:
    """The article if it can be translated, else ArticleError with the reason."""
    if not isinstance(article, dict):
        raise ArticleError("record is not a JSON object")
    body = article.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ArticleError("missing or empty 'body'")
    if not isinstance(article.get("title", ""), (str, type(None))):
        raise ArticleError("'title' is not a string")
    if len(body) > MAX_BODY_CHARS:
        raise ArticleError(f"body of {len(body)} characters exceeds the limit of {MAX_BODY_CHARS}")
    return article


def prepare(article, max_tokens: int, count_tokens, language: str | None = None) -> Prepared:
    """Validate, detect the language and segment an article; refuse what is neither Arabic nor English.

    language="ar" skips detection: the caller says the text is Arabic.
    """
    article = validate(article)
    title = article.get("title") or ""
    if language == "ar":
        detection = langid.Detection("ar", 1.0, "given")
    else:
        detection = langid.detect(f"{title}\n{article['body']}"[:DETECT_CHARS])
    if detection.language not in ("ar", "en"):
        raise ArticleError(
            f"language is {detection.language} (confidence {detection.confidence:.2f}), not Arabic or English"
        )
    units = segment_field(title, "title", max_tokens, count_tokens) + segment_field(
        article["body"], "body", max_tokens, count_tokens
    )
    kept = english_lines(units, {"title": title, "body": article["body"]}) if detection.language == "ar" else set()
    return Prepared(article, detection, units, frozenset(kept))


def english_lines(units: list[SentenceUnit], texts: dict[str, str]) -> set[int]:
    """The units of an Arabic text that lie on lines written in Latin letters only (an English quote, a
    by-line): the Arabic model would garble them, so they are kept as they are."""
    lines = {field: text.split("\n") for field, text in texts.items()}
    return {index for index, unit in enumerate(units) if langid.is_latin_only(lines[unit.field][unit.paragraph])}


def translate_articles(
    items: Iterable[tuple[Key, object]],
    translator,
    window_sentences: int = WINDOW_SENTENCES,
    language: str | None = None,
    **decoding,
) -> Iterator[tuple[Key, dict | ArticleError]]:
    """Translate (key, article) pairs; yield (key, result or ArticleError) in input order.

    An item whose article is already an ArticleError (say, a line that is not JSON) passes through.
    """
    window: list[tuple[Key, Prepared | ArticleError]] = []
    weight = 0  # sentences to translate, and at least one per item, so memory stays bounded
    max_tokens = translator.settings.max_input_tokens
    for key, article in items:
        if not isinstance(article, ArticleError):
            try:
                article = prepare(article, max_tokens, translator.count_tokens, language)
            except ArticleError as error:
                article = error
        window.append((key, article))
        weight += (
            max(1, len(article.to_translate)) if isinstance(article, Prepared) and article.needs_translation else 1
        )
        if weight >= window_sentences:
            yield from _translate_window(window, translator, decoding)
            window, weight = [], 0
    yield from _translate_window(window, translator, decoding)


def _translate_window(window, translator, decoding):
    arabic = [p for _, p in window if isinstance(p, Prepared) and p.needs_translation]
    sentences = [u.source for p in arabic for u in p.to_translate]
    translations = iter(translator.translate(sentences, **decoding) if sentences else [])
    for key, prepared in window:
        if isinstance(prepared, ArticleError):
            yield key, prepared
        elif prepared.needs_translation:
            targets = [
                _kept_as_it_is(prepared, unit) if index in prepared.kept else next(translations)
                for index, unit in enumerate(prepared.units)
            ]
            yield (
                key,
                align.assemble(
                    prepared.article,
                    prepared.detection,
                    prepared.units,
                    targets,
                    translator.model_id,
                    translator.demo,
                    kept=prepared.kept,
                ),
            )
        else:  # English is kept as it is
            kept = [_kept_as_it_is(prepared, unit) for unit in prepared.units]
            yield key, align.assemble(prepared.article, prepared.detection, prepared.units, kept, None, False)


def _kept_as_it_is(prepared: Prepared, unit: SentenceUnit) -> Translation:
    """The unit's own text as its English: no tokens, so it weighs nothing in the article's score."""
    text = (prepared.article.get("title") or "") if unit.field == "title" else prepared.article["body"]
    return Translation(text[unit.start : unit.end], 0.0, 0)
