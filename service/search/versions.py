"""What each version of a story adds or drops against the first report (pure): sentences, and words within a
sentence an outlet reworded.

Versions are compared by their English sentences, the text the analyst reads; one Arabic sentence translates to
the same English every time, so identical Arabic compares equal. A sentence counts as reworded (not dropped and
added) when enough of its words survive (REWORDED_SIMILARITY); its changed words are then marked.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

REWORDED_SIMILARITY = 0.6  # difflib ratio of two sentences' words at which one is a rewording of the other
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Piece:
    """A sentence of a version: "same" as in the first report, "added", "dropped" (in the first report only), or
    "reworded", with its words as (kind, text) where kind is "same", "added" or "dropped"."""

    kind: str
    text: str
    words: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class VersionDiff:
    pieces: tuple[Piece, ...] = field(default_factory=tuple)

    def count(self, kind: str) -> int:
        return sum(1 for piece in self.pieces if piece.kind == kind)

    @property
    def identical(self) -> bool:
        return all(piece.kind == "same" for piece in self.pieces)


def body_sentences(sentences: list[dict], side: str = "en") -> list[str]:
    """A stored article's body sentences on one side, in order (the title's are left out)."""
    return [s.get(side, "") for s in sentences if s.get("field", "body") == "body" and s.get(side, "").strip()]


def lead(sentences: list[dict], side: str = "en") -> str:
    """The first sentence of the body: what the version leads with."""
    body = body_sentences(sentences, side)
    return body[0] if body else ""


def _key(sentence: str) -> tuple[str, ...]:
    return tuple(word.casefold() for word in _WORD.findall(sentence))


def compare(first: list[str], version: list[str]) -> VersionDiff:
    """The version's sentences against the first report's: same, added, reworded, and the first's dropped ones."""
    first_keys, version_keys = [_key(s) for s in first], [_key(s) for s in version]
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=first_keys, b=version_keys, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            pieces += [Piece("same", s) for s in version[b0:b1]]
        else:
            pieces += _unmatched(first[a0:a1], version[b0:b1])
    return VersionDiff(tuple(pieces))


def _unmatched(dropped: list[str], added: list[str]) -> list[Piece]:
    """Sentences of a changed stretch: each added one paired with the dropped one it rewords, if any."""
    pieces: list[Piece] = []
    left = list(dropped)
    for sentence in added:
        closest = max(left, key=lambda old: _similarity(old, sentence), default=None)
        if closest is not None and _similarity(closest, sentence) >= REWORDED_SIMILARITY:
            for old in left[: left.index(closest)]:  # dropped before the rewording, in the first report's order
                pieces.append(Piece("dropped", old))
            left = left[left.index(closest) + 1 :]
            pieces.append(Piece("reworded", sentence, word_changes(closest, sentence)))
        else:
            pieces.append(Piece("added", sentence))
    pieces += [Piece("dropped", old) for old in left]
    return pieces


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(a=_key(a), b=_key(b), autojunk=False).ratio()


def word_changes(old: str, new: str) -> tuple[tuple[str, str], ...]:
    """The new sentence's words, and the old one's it lost, each marked same, added or dropped, in reading order."""
    old_words, new_words = old.split(), new.split()
    matcher = difflib.SequenceMatcher(a=[_key(w) for w in old_words], b=[_key(w) for w in new_words], autojunk=False)
    marked: list[tuple[str, str]] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            marked.append(("same", " ".join(new_words[b0:b1])))
            continue
        if a1 > a0:
            marked.append(("dropped", " ".join(old_words[a0:a1])))
        if b1 > b0:
            marked.append(("added", " ".join(new_words[b0:b1])))
    return tuple(marked)
