"""Is a word probably a name? The precision guard that keeps common words that are also names (كريم, أمل,
"Hope") from being searched in other spellings (pure: the collection's figures come from the caller).

Arabic: names rarely take the article or a pronoun, plural or nisba suffix; common words do. Measured on 22,070
news articles (../shared ANT news): the 20 foreign names' usual spellings have an inflected share of 0 to 0.015,
common words that are also names mostly 0.13 to 0.88 (أمل 0.55, كريم 0.32, سلام 0.8), so a word is name-like at
MAX_INFLECTED_SHARE or below. Arabic personal names used mostly as names sit low too (طارق 0.004, محمود 0.044)
and their variants are other words (طرق, محمد): collection.py keeps only variants that other outlets use instead
(`used_apart`), which leaves 26 of 27 such words unexpanded (bench/names.py).
English: a word the collection's English writes capitalised mid-sentence nearly always (Trump, not "hope"), or,
when the collection has never seen it, a word the query writes capitalised and no common word."""

from __future__ import annotations

from service.names.spelling import MAX_NAME_LETTERS

MAX_INFLECTED_SHARE = 0.05
MIN_CAPITALISED_SHARE = 0.9


def is_probably_name(
    word: str,
    *,
    inflected_share: float | None = None,
    capitalised_share: float | None = None,
    common_words: frozenset[str] = frozenset(),
) -> bool:
    """inflected_share: of an Arabic word's occurrences in the collection, the share with the article or a suffix
    (collection.FormCounts); capitalised_share: of a Latin word's mid-sentence occurrences in the collection's
    English, the share written capitalised. None: the collection has not seen the word."""
    if not word or not word.isalpha() or len(word) > MAX_NAME_LETTERS:
        return False
    if not word.isascii():
        return inflected_share is not None and inflected_share <= MAX_INFLECTED_SHARE
    if word.lower() in common_words:
        return False
    if capitalised_share is not None:
        return capitalised_share >= MIN_CAPITALISED_SHARE
    return word[0].isupper()
