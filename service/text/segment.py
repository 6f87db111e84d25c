"""Sentence segmentation for Arabic news, with character spans, and splitting of over-long sentences.

Works on normalised text (normalize.py). Boundaries fall after `.`, `!`, `?`, `؟`, `…`, `۔` and
runs of them, plus any closing quotes or brackets. A full stop is not a boundary in a decimal
(3.5), a URL, e-mail or domain, after an abbreviation or a single letter (د. for Dr., U.S.), or
after a list number (1.). Boundaries inside a short quotation are ignored. No text is ever
dropped: the spans cover every non-space character.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Span = tuple[int, int]

_TERMINAL = re.compile(r"[.!?؟…۔‼⁇⁈⁉]+[\"'”’»)\]›]*")
_URL_END = r"(?=[.,;:!?؟،؛»”)\]]*(?:\s|$))"  # trailing punctuation belongs to the sentence
_PROTECTED = re.compile(
    rf"(?:https?://|www\.)\S+?{_URL_END}|\S+@\S+?\.\w+{_URL_END}"
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|gov|edu|info|int|io|tv|news|[a-z]{2})\b(?:/\S*?)?" + _URL_END,
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"[(\[]?(?:\d{1,3}|[ivxIVX]{1,4}|\w)[)\]]?")
ABBREVIATIONS = frozenset(
    {
        # Latin abbreviations that appear inside Arabic news (lower-cased, without the dot)
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "inc",
        "ltd",
        "co",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "gen",
        "sen",
        # Arabic: page, part, number, doctor, professor, engineer, BC, AD, Hijri
        "ص",
        "ج",
        "رقم",
        "د",
        "أ",
        "م",
        "ق.م",
        "ه",
        "هـ",
        "مج",
        "ت",
    }
)
_OPENING_QUOTES = {"«": "»", "“": "”"}
MAX_QUOTE_CHARS = 250  # a quotation longer than this is split into its own sentences
_CLAUSE_BREAK = re.compile(r"[،؛;,:]\s+")


def _protected_spans(text: str) -> list[Span]:
    spans = [m.span() for m in _PROTECTED.finditer(text)]
    for opener, closer in _OPENING_QUOTES.items():
        for match in re.finditer(re.escape(opener) + r"[^" + opener + closer + r"]*" + re.escape(closer), text):
            if match.end() - match.start() <= MAX_QUOTE_CHARS:
                # The closing quote itself may still end a sentence.
                spans.append((match.start(), match.end() - 1))
    return spans


def _is_full_stop_boundary(text: str, dot: int, sentence_start: int) -> bool:
    before = text[dot - 1] if dot > 0 else ""
    after = text[dot + 1] if dot + 1 < len(text) else ""
    if before.isdigit() and after.isdigit():
        return False
    word = text[sentence_start:dot].rsplit(" ", 1)[-1].lower()
    if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    return not _LIST_MARKER.fullmatch(text[sentence_start:dot].strip())


def _follows_boundary(text: str, end: int, cluster: str) -> bool:
    """Whether what follows a terminal cluster allows a boundary there."""
    if end >= len(text):
        return True
    following = text[end]
    if following == " ":
        nxt = text[end + 1] if end + 1 < len(text) else ""
        return not (nxt.islower() and nxt.isascii())  # "e.g. this" or a mid-sentence Latin word
    # Scraped Arabic news often drops the space after a stop: "غدا.وقال".
    return following.isalpha() and not following.isascii() and not cluster.endswith(("'", '"'))


def split_sentences(text: str) -> list[Span]:
    """Split one normalised paragraph into sentence spans (start, end), stripped of spaces."""
    protected = _protected_spans(text)
    spans: list[Span] = []
    start = 0
    for match in _TERMINAL.finditer(text):
        position, end = match.span()
        if any(a <= position < b for a, b in protected):
            continue
        cluster = match.group()
        if (
            cluster[0] == "."
            and len(cluster.rstrip("\"'”’»)]›")) == 1
            and not _is_full_stop_boundary(text, position, start)
        ):
            continue
        if not _follows_boundary(text, end, cluster):
            continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    return [stripped for span in spans if (stripped := _strip(text, span))]


def _strip(text: str, span: Span) -> Span | None:
    start, end = span
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    return (start, end) if start < end else None


def split_long(text: str, span: Span, max_tokens: int, count_tokens: Callable[[str], int]) -> list[Span]:
    """Split a sentence longer than max_tokens at ، ؛ ; , : then at spaces, then inside a word."""
    start, end = span
    if count_tokens(text[start:end]) <= max_tokens:
        return [span]
    for pattern in (_CLAUSE_BREAK, re.compile(r" ")):
        cuts = [m.end() for m in pattern.finditer(text, start, end)]
        if cuts:
            return _pack(text, start, end, cuts, max_tokens, count_tokens)
    middle = start + max(1, (end - start) // 2)  # one huge "word": halve it until it fits
    return split_long(text, (start, middle), max_tokens, count_tokens) + split_long(
        text, (middle, end), max_tokens, count_tokens
    )


def _pack(text, start, end, cuts, max_tokens, count_tokens) -> list[Span]:
    """Greedily join pieces between cuts into spans that fit; re-split any piece that is too long."""
    pieces = [p for p in (_strip(text, s) for s in zip([start, *cuts], [*cuts, end], strict=True)) if p]
    spans: list[Span] = []
    current: Span | None = None
    for piece in pieces:
        merged = (current[0], piece[1]) if current else piece
        if count_tokens(text[merged[0] : merged[1]]) <= max_tokens:
            current = merged
            continue
        if current:
            spans.append(current)
        current = None
        if count_tokens(text[piece[0] : piece[1]]) <= max_tokens:
            current = piece
        else:
            spans.extend(split_long(text, piece, max_tokens, count_tokens))
    if current:
        spans.append(current)
    return spans


def segment(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[Span]:
    """Sentences of a normalised paragraph, none longer than max_tokens."""
    return [piece for span in split_sentences(text) for piece in split_long(text, span, max_tokens, count_tokens)]
