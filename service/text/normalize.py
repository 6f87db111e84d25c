"""Normalisation that is safe for MT input, with a map back to the original text's offsets.

Each choice (docs/text-handling.md explains why):
- NFKC, which also folds Arabic presentation forms and ligatures to plain letters;
- tatweel (U+0640) removed;
- harakat and Quranic marks removed (the model's training text is almost all undiacritised);
- Arabic-Indic and Persian digits become ASCII digits, and ٫ ٬ ٪ become . , %;
- zero-width, bidi and other format or control characters removed;
- every run of whitespace becomes one space, trimmed at both ends;
- a character keeps at most 30 combining marks, Unicode's stream-safe limit (NFKC sorts them in time
  quadratic in their number).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

TATWEEL = "\u0640"
MAX_COMBINING_MARKS = 30  # per character, as in Unicode's Stream-Safe Text Format (UAX #15)
_DIACRITICS = [
    *range(0x064B, 0x0660),
    0x0670,
    *range(0x06D6, 0x06DD),
    *range(0x06DF, 0x06E5),
    0x06E7,
    0x06E8,
    *range(0x06EA, 0x06EE),
]
_TABLE = {
    ord(TATWEEL): None,
    **{cp: None for cp in _DIACRITICS},
    **{0x0660 + d: str(d) for d in range(10)},
    **{0x06F0 + d: str(d) for d in range(10)},
    0x066B: ".",
    0x066C: ",",
    0x066A: "%",
}


@dataclass(frozen=True)
class Normalized:
    """Normalised text; starts[i]/ends[i] give the original span that produced text[i]."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the normalised text back to the original text."""
        return self.starts[start], self.ends[end - 1]


def _clusters(text: str):
    """Yield (start, end) of each base character with the combining marks that follow it."""
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or not unicodedata.combining(text[index]):
            yield start, index
            start = index


def _normalize_cluster(cluster: str) -> str:
    out = unicodedata.normalize("NFKC", cluster).translate(_TABLE)
    return "".join(c if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf") else "" for c in out)


@functools.cache
def _needs_work() -> re.Pattern:
    """Characters that normalisation changes or removes, besides what NFKC does (built once, lazily)."""
    removed = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) in ("Cc", "Cf") and chr(c) != " "]
    mapped = [chr(c) for c in _TABLE]
    return re.compile("[" + re.escape("".join(removed + mapped)) + r"]|\s\s|[^\S ]|^\s|\s$")


def normalize(text: str) -> Normalized:
    """Normalise text for MT, keeping the offset map."""
    if unicodedata.is_normalized("NFKC", text) and not _needs_work().search(text):
        positions = tuple(range(len(text)))  # already normal: every character maps to itself
        return Normalized(text, positions, tuple(i + 1 for i in positions))
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    space_at: tuple[int, int] | None = None
    for start, end in _clusters(text):
        for char in _normalize_cluster(text[start : min(end, start + 1 + MAX_COMBINING_MARKS)]):
            if char.isspace():
                space_at = space_at or (start, end)
                continue
            if space_at and chars:
                chars.append(" ")
                starts.append(space_at[0])
                ends.append(space_at[1])
            space_at = None
            chars.append(char)
            starts.append(start)
            ends.append(end)
    return Normalized("".join(chars), tuple(starts), tuple(ends))


def normalize_text(text: str) -> str:
    """Normalised text alone (the translation-memory key)."""
    return normalize(text).text
