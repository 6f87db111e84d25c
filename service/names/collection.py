"""The spellings a collection actually uses, from its Arabic word counts (pure: the counts come from the caller).

Words carry clitics (و ف ب ل ك: وترامب, لأردوغان); a clitic is taken off only when the rest also stands alone
in the collection. Each bare form is grouped under its `name_key`, and its inflections are counted: names rarely
take the article or a pronoun or plural suffix (الترامب, ترامبها do not occur), common words do (الأمل, أمله), and
guard.py reads that share."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from service.names.guard import is_probably_name
from service.names.spelling import arabic_variants, fold, is_arabic_word, name_key, plain

CLITICS = "وفبلك"
ARTICLES = ("ال", "وال", "بال", "فال", "كال", "لل", "وبال", "ولل", "فبال")
SUFFIXES = ("ه", "ها", "هم", "هن", "هما", "كم", "نا", "ي", "ة", "ات", "ون", "ين", "ان", "ية", "يات", "يين", "وا", "ت")
VERB_PERSONS = "يتنأ"
MIN_BASE_LETTERS = 3
# Pronoun suffixes, and the accusative ا (رسميا, شرقا), on a word the collection also has without them
PRONOUN_SUFFIXES = ("ها", "هم", "هما", "هن", "كم", "نا", "ه", "ا")
# Total variation distance between two spellings' outlets at which they count as one name spelled apart
# (ANT news, 5 outlets: ترامب/ترمب 0.98, نتنياهو/نتانياهو 0.97, بوتين/بوتن 0.92, غوتيريس/غوتيريش 0.6,
# شولتز/شولز 0.55; the common word كانت and its look-alike كنت 0.14). A spelling seen once or twice is always apart.
MIN_SOURCE_DISTANCE = 0.5
_ARABIC_LETTERS = re.compile(r"[\u0621-\u064a]+")
# Letters with their marks, tatweel and presentation forms: what plain() turns into letters
_ARABIC_TOKEN = re.compile(r"[\u0610-\u061a\u0621-\u065f\u0670-\u06d3\ufb50-\ufdff\ufe70-\ufefc]+")


@dataclass(frozen=True)
class FormCounts:
    """How often a bare form occurs as a word (with or without a clitic), and inflected."""

    bare: int
    inflected: int

    @property
    def inflected_share(self) -> float:
        total = self.bare + self.inflected
        return self.inflected / total if total else 0.0


@dataclass
class CollectionSpellings:
    """The collection's bare forms, grouped by name key, with their counts."""

    counts: Mapping[str, int]
    by_key: dict[str, Counter] = field(default_factory=dict)
    by_source: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @classmethod
    def from_sources(cls, by_source: Mapping[str, Mapping[str, int]]) -> CollectionSpellings:
        """From each source's (outlet's) word counts: spellings are then also told apart by who uses them."""
        total: Counter = Counter()
        for counts in by_source.values():
            total.update(counts)
        return replace(cls.from_counts(total), by_source=by_source)

    @classmethod
    def from_counts(cls, counts: Mapping[str, int]) -> CollectionSpellings:
        by_key: dict[str, Counter] = defaultdict(Counter)
        for word, count in counts.items():
            if not is_arabic_word(word):
                continue
            by_key[name_key(word)][word] += count
            if word[0] in CLITICS and len(word) - 1 >= MIN_BASE_LETTERS and word[1:] in counts:
                by_key[name_key(word[1:])][word[1:]] += count
        return cls(counts=counts, by_key=dict(by_key))

    def occurrences(self, form: str) -> int:
        """The form's occurrences as a word, alone or after one clitic."""
        return self.by_key.get(name_key(form), Counter()).get(form, 0)

    def form_counts(self, form: str) -> FormCounts:
        inflected = sum(self.counts.get(article + form, 0) for article in ARTICLES)
        inflected += sum(self.counts.get(form + suffix, 0) for suffix in SUFFIXES)
        if form[-1] == "ة":  # كريمة: its inflections are written with ت
            inflected += sum(self.counts.get(form[:-1] + "ت" + suffix, 0) for suffix in SUFFIXES[:7])
        if form[0] in VERB_PERSONS:  # a verb is conjugated: يستعير, تستعير, نستعير
            inflected += sum(self.counts.get(person + form[1:], 0) for person in VERB_PERSONS if person != form[0])
        return FormCounts(bare=self.occurrences(form), inflected=inflected)

    def spellings_of(self, word: str) -> Counter:
        """The collection's forms that share a key with one of the word's variants (foreign letters included)."""
        keys = {name_key(variant) for variant in arabic_variants(word)}
        found: Counter = Counter()
        for key in keys:
            found.update(self.by_key.get(key, Counter()))
        return found

    def source_shares(self, form: str) -> dict[str, float]:
        counts = {source: words.get(form, 0) for source, words in self.by_source.items()}
        total = sum(counts.values())
        return {source: count / total for source, count in counts.items()} if total else {}

    def used_apart(self, form: str, other: str) -> bool:
        """Do the sources use the two spellings apart (one outlet's ترمب, another's ترامب)? A common word and its
        look-alike (كانت, كنت) are used alike by every outlet. True without per-source counts."""
        if not self.by_source:
            return True
        shares, other_shares = self.source_shares(form), self.source_shares(other)
        distance = sum(abs(shares.get(s, 0.0) - other_shares.get(s, 0.0)) for s in self.by_source) / 2
        return distance >= MIN_SOURCE_DISTANCE

    def spellings_for(self, listed: Iterable[str]) -> list[str]:
        """The collection's spellings of a name given as ranked candidate spellings (english.english_to_arabic):
        those of the best-ranked candidate that occurs and is name-like, and those of the most used of these ([]
        when none is). Only the one candidate: those further down can be another person (Merkel's list holds ماركل,
        Markle)."""
        for spelling in listed:
            if self.occurrences(spelling) and self.may_be_bare_name(spelling) and self.is_name(spelling):
                found = self.searchable_spellings(spelling)
                # the outlets' usual spelling (غوتيريس, where the candidate was a rare غوتريس) has its own variants
                usual = max(found, key=self.occurrences)
                return [*found, *(form for form in self.searchable_spellings(usual) if form not in found)]
        return []

    def may_be_bare_name(self, word: str) -> bool:
        """Not an article, clitic or suffix on a word the collection also has bare (وترامب: ask ترامب)."""
        if len(word) < MIN_BASE_LETTERS or not is_arabic_word(word) or word.startswith(ARTICLES):
            return False
        if word[0] in CLITICS and self.counts.get(word[1:], 0) >= 2 * self.counts.get(word, 0):  # not بايدن (ايدن)
            return False
        if word.endswith("ت" + "ه") and word[:-2] + "ة" in self.counts:  # وصافته: وصافة and its pronoun
            return False
        return not any(word.endswith(suffix) and word[: -len(suffix)] in self.counts for suffix in PRONOUN_SUFFIXES)

    def is_name(self, form: str) -> bool:
        return is_probably_name(form, inflected_share=self.inflected_share(form))

    def inflected_share(self, form: str) -> float | None:
        counts = self.form_counts(form)
        return counts.inflected_share if counts.bare or counts.inflected else None

    def searchable_spellings(self, word: str) -> list[str]:
        """The collection's spellings of an Arabic name: the word first, then the variants that occur and are
        name-like, most used first; [] for a word that is no name. A word the collection never writes is asked
        in the name-like variants it does write.

        No name: a common word (one the collection inflects), or a word with the article, a clitic or a pronoun
        suffix. A variant with other letters than the word's (not only a hamza seat, ى or ة) must also be used by
        other outlets than the word (`used_apart`): كانت and كنت, or محمود and محمد, are written by all alike."""
        word = plain(word)
        if not self.may_be_bare_name(word):  # tatweel alone is "" once plain
            return []
        unseen = self.inflected_share(word) is None  # ترامب asked of a collection that writes only ترمب
        if not (unseen or self.is_name(word)):
            return []
        variants = set(arabic_variants(word))
        found = [
            (form, count)
            for form, count in self.spellings_of(word).items()
            if form in variants
            and form != word
            and self.may_be_bare_name(form)
            and self.is_name(form)
            and (unseen or fold(form) == fold(word) or self.used_apart(form, word))
        ]
        return [word] + [form for form, _ in sorted(found, key=lambda pair: (-pair[1], pair[0]))]


def word_counts(texts: Iterable[str]) -> Counter:
    """Arabic words of the texts, counted (plain letters: no tashkeel or tatweel).

    Each distinct token is made plain once: normalising whole articles costs ~3 ms each, tokens ~0.1 ms in all."""
    tokens: Counter = Counter()
    for text in texts:
        tokens.update(_ARABIC_TOKEN.findall(text))
    counts: Counter = Counter()
    for token, count in tokens.items():
        for word in _ARABIC_LETTERS.findall(plain(token)):
            counts[word] += count
    return counts


_LATIN_WORD = re.compile(r"[A-Za-z]+")


def capitalised_shares(english_texts: Iterable[str]) -> dict[str, float]:
    """For each Latin word (lower-cased) of the texts, the share of its mid-sentence occurrences written
    capitalised (a sentence's first word says nothing)."""
    capitalised: Counter = Counter()
    seen: Counter = Counter()
    for text in english_texts:
        for sentence in re.split(r"(?<=[.!?:])\s+|\n", text):
            for word in _LATIN_WORD.findall(sentence)[1:]:
                seen[word.lower()] += 1
                capitalised[word.lower()] += word[0].isupper()
    return {word: capitalised[word] / count for word, count in seen.items()}
