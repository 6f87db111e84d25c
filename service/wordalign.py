"""Word alignments (pure): from the model's attention to Pharaoh pairs, and from Pharaoh pairs to character spans.

One mapping of words throughout: a word is a run of non-space characters (`\\S+`) of a sentence's text.
- At translation time the model's words are its SentencePiece pieces joined and split at whitespace (the ▁
  marker becomes a space): on the source side that is the normalised sentence the model read, on the target
  side it is exactly the English text stored (engine.detokenize).
- The align stage renumbers source words from the normalised sentence to the stored Arabic text (`remap_source`),
  so that the stored alignment "i-j" always means: word i of `sentences.ar`, word j of `sentences.en`.
- At search time both sentences are split the same way, and each highlighted English word leads to the
  character spans of the Arabic words it aligns to.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Sequence

SPACE_MARK = "\u2581"  # SentencePiece's word-boundary marker
_WORD = re.compile(r"\S+")
_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)
_LANGUAGE_TOKEN = re.compile(r"^>>\w+<<$")  # OPUS-MT's target-language token, e.g. >>ara<<


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each whitespace-separated word of text."""
    return [m.span() for m in _WORD.finditer(text)]


def piece_words(pieces: Sequence[str]) -> list[int | None]:
    """The word index of each piece in the text the pieces join into.

    None for a piece with no visible character, and for a target-language token, which is no word of the text.
    """
    kept = ["" if _LANGUAGE_TOKEN.match(piece) else piece for piece in pieces]
    starts = [start for start, _ in word_spans("".join(kept).replace(SPACE_MARK, " "))]
    words: list[int | None] = []
    offset, word = 0, -1
    for piece in kept:
        visible = len(piece) - len(piece.lstrip(SPACE_MARK + " "))
        if visible == len(piece):
            words.append(None)
        else:
            while word + 1 < len(starts) and starts[word + 1] <= offset + visible:
                word += 1
            words.append(word)
        offset += len(piece)
    return words


def attention_alignment(
    source_pieces: Sequence[str], target_pieces: Sequence[str], attention: Sequence[Sequence[float]]
) -> str:
    """Pharaoh "i-j" pairs (source word - target word): each target piece aligns to its most attended source piece.

    Attention to positions past the source pieces (the end-of-sentence token) aligns nothing.
    """
    source_words = piece_words(source_pieces)
    target_words = piece_words(target_pieces)
    pairs = set()
    for target_word, weights in zip(target_words, attention, strict=False):
        if target_word is None or not weights:
            continue
        best = max(range(len(weights)), key=weights.__getitem__)
        if best < len(source_words) and source_words[best] is not None:
            pairs.add((source_words[best], target_word))
    return format_pharaoh(pairs)


def format_pharaoh(pairs) -> str:
    return " ".join(f"{i}-{j}" for i, j in sorted(pairs))


def parse_pharaoh(text: str) -> list[tuple[int, int]]:
    """The (source word, target word) pairs of a Pharaoh string; ValueError when it is not one."""
    pairs = []
    for item in text.split():
        source, _, target = item.partition("-")
        pairs.append((int(source), int(target)))
    return pairs


def remap_source(alignment: str, model_text: str, stored_text: str, original_offsets: Sequence[int]) -> str | None:
    """The alignment renumbered from the words of the normalised model input to the words of the stored text.

    original_offsets[k] is the offset in stored_text of model_text[k] (normalize.Normalized.starts, made relative).
    None when a model word falls outside every stored word, which the offset map rules out for normalised text.
    """
    stored = word_spans(stored_text)
    stored_starts = [start for start, _ in stored]
    renumbered = {}
    for index, (start, _) in enumerate(word_spans(model_text)):
        offset = original_offsets[start]
        found = bisect.bisect_right(stored_starts, offset) - 1  # a scan per word was quadratic in the words
        if found < 0 or offset >= stored[found][1]:
            return None
        renumbered[index] = found
    try:
        return format_pharaoh({(renumbered[i], j) for i, j in parse_pharaoh(alignment)})
    except (KeyError, ValueError):
        return None


def highlighted_spans(highlighted: str) -> list[tuple[int, int]]:
    """Character spans, in the plain text, of the <mark>ed parts of an HTML-encoded highlight."""
    spans = []
    plain_offset, last = 0, 0
    for match in _MARK.finditer(highlighted):
        plain_offset += len(html.unescape(highlighted[last : match.start()]))
        length = len(html.unescape(match.group(1)))
        spans.append((plain_offset, plain_offset + length))
        plain_offset += length
        last = match.end()
    return spans


def aligned_spans(english: str, arabic: str, english_highlighted: str, alignment: str) -> list[dict]:
    """For each highlighted English span, the character spans of the Arabic words its words align to."""
    en_words = word_spans(english)
    ar_words = word_spans(arabic)
    by_target: dict[int, set[int]] = {}
    for source, target in parse_pharaoh(alignment):
        by_target.setdefault(target, set()).add(source)
    result = []
    for start, end in highlighted_spans(english_highlighted):
        touched = [j for j, (a, b) in enumerate(en_words) if a < end and start < b]
        sources = sorted({i for j in touched for i in by_target.get(j, ()) if i < len(ar_words)})
        result.append({"en": [start, end], "ar": [list(ar_words[i]) for i in sources]})
    return result
