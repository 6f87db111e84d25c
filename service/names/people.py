"""The people and places an article names, from its Arabic text (pure: the lexicon and the collection's figures
come from the caller).

A person is two to four name units in a row (a given name first: محمد صلاح, دونالد ترامب, عبد الفتاح السيسي),
each unit attested in the lexicon (lexicon.py); one unit alone is too often a common word (أمل, كريم, سعيد) or
one person of many. A place is a country, territory or city the lexicon names (سوريا, المملكة العربية السعودية,
القاهرة). Precision first (bench/people.py measures it): a unit the collection inflects like a common word
(وزير: الوزير, وزيرة; guard.py) ends a name, and so does a single-word place the collection writes with the
article (مالي: المالي, financial).

Each name is keyed by its words' `name_key`, so every spelling of one name is one entry (ترامب and ترمب), with
its display form (English for places and foreign names, romanised for Arab names) and the spellings seen."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from service.names.collection import CLITICS, CollectionSpellings
from service.names.guard import is_probably_name
from service.names.lexicon import NameLexicon, Place
from service.names.spelling import fold, name_key, plain

PERSON, PLACE = "person", "place"
MIN_UNITS, MAX_UNITS = 2, 4
MIN_GIVEN_COUNT = 5  # attestations as a given name before a unit may start a person's name
MIN_UNIT_COUNT = 2  # attestations before a unit may continue one
# Occurrences in the collection before a unit no lexicon attests may continue a name (ترمب: 227 in 5,000
# articles; a verb that follows a name, خططت, 5)
MIN_UNATTESTED_COUNT = 20
# A unit with the article (الأسد, السيسي) continues a name only when this often attested as a surname
MIN_ARTICLE_SURNAME_COUNT = 5
# A unit this frequent in the collection is a function word, unless the lexicon knows it as a given name this
# often (محمد: 11,829 attestations). In 10,000 words of the ANT news: في 400, أن 117, لا 27, منذ 9, حيث 8; the
# Arab names of the news stay below 5 (صلاح 4.6), foreign ones below 20 (ترامب 15, دونالد 5.5), and the foreign
# names that are also common words above it (لا: La, أن: Ann) or are inflected (كان: كانت) for guard.py to stop.
MAX_UNIT_SHARE = 5e-4
MIN_WORDS_FOR_SHARES = 50_000  # about 200 articles
MAX_FOREIGN_UNIT_SHARE = 2e-3
MIN_CERTAIN_GIVEN_COUNT = 500
# A place's share of the collection's occurrences written with the article, at which it is a common word (مالي)
MAX_PLACE_ARTICLE_SHARE = 0.05
COMPOUND_HEADS = frozenset({"عبد", "ابو", "ابي", "ام", "بن", "ابن", "بنت", "ال"})  # folded; joined to the next word
ARTICLE = "ال"
MAX_NAMES = 40  # per article: the facet lists the most frequent
# Anything but Arabic letters, their marks and spaces ends a run of words (punctuation, digits, Latin, new lines)
_RUN = re.compile(r"[\u0621-\u065f\u0670-\u06d3\u0640 \u00a0]+")
_plain = functools.lru_cache(maxsize=65536)(plain)  # each token of the news is made plain and folded once
_fold = functools.lru_cache(maxsize=65536)(fold)


@dataclass(frozen=True)
class NamedEntity:
    key: str  # the words' name keys, space-separated (a person's and a place's never meet: places start "@")
    kind: str  # PERSON or PLACE
    display: str  # English or romanised
    spellings: tuple[str, ...]  # the Arabic forms the text used, most frequent first
    mentions: int


@dataclass(frozen=True)
class CollectionEvidence:
    """The collection's word counts (collection.py), and their total: what tells a name from a common word."""

    spellings: CollectionSpellings
    words: int

    @classmethod
    def of(cls, spellings: CollectionSpellings) -> CollectionEvidence:
        return cls(spellings, sum(spellings.counts.values()))

    def share(self, word: str) -> float:
        """The word's share of the collection's words; 0 in a collection too small for shares to tell."""
        return self.spellings.counts.get(word, 0) / self.words if self.words >= MIN_WORDS_FOR_SHARES else 0.0

    def name_like(self, word: str, most_share: float | None) -> bool:
        """Not a word with a clitic or suffix the collection also has bare (حديثه, بأول), not a function word (more
        frequent than most_share; None: any), and not inflected like a common word (guard.py)."""
        if not self.spellings.may_be_bare_name(word) or (most_share is not None and self.share(word) > most_share):
            return False
        share = self.spellings.inflected_share(word)
        return share is None or is_probably_name(word, inflected_share=share)


@dataclass(frozen=True)
class _Unit:
    words: tuple[str, ...]  # plain, as written (less a clitic)
    width: int  # tokens taken
    attested: bool  # by the lexicon (else by the collection alone)


def names_in(
    texts: Iterable[str],
    lexicon: NameLexicon,
    collection: CollectionEvidence | None = None,
    romanise: Callable[[str], str | None] = lambda arabic: None,
) -> list[NamedEntity]:
    """The people and places named in the texts (an article's title and body), most mentioned first.

    collection: the collection's word counts (guard.py's evidence); without them no unit is taken for a common word.
    romanise: Latin spelling of an Arab name (lexicon.romanised); without it, foreign names are given in English
    and others in Arabic."""
    found: dict[str, list[tuple[str, ...]]] = {}
    kinds: dict[str, tuple[str, Place | None]] = {}
    for text in texts:
        for run in _RUN.findall(text):
            tokens = [_plain(token) for token in run.split()]
            for key, words, kind, place in _names_in_run([t for t in tokens if t], lexicon, collection):
                found.setdefault(key, []).append(words)
                kinds.setdefault(key, (kind, place))
    entities = []
    for key, mentions in found.items():
        kind, place = kinds[key]
        spellings = _by_frequency(" ".join(words) for words in mentions)
        display = place.english if place else _person_display(mentions[0], lexicon, romanise)
        entities.append(NamedEntity(key, kind, display, spellings, len(mentions)))
    entities.sort(key=lambda entity: (-entity.mentions, entity.key))
    return entities[:MAX_NAMES]


def _by_frequency(spellings: Iterable[str]) -> tuple[str, ...]:
    counts = Counter(spellings)
    return tuple(sorted(counts, key=lambda spelling: (-counts[spelling], spelling)))


def _names_in_run(tokens: list[str], lexicon: NameLexicon, collection: CollectionEvidence | None):
    index = 0
    while index < len(tokens):
        place = _place_at(tokens, index, lexicon, collection)
        if place is not None:
            words, width, found = place
            yield "@" + " ".join(name_key(word) for word in words), words, PLACE, found
            index += width
            continue
        units = _person_at(tokens, index, lexicon, collection)
        if units:
            words = tuple(word for unit in units for word in unit.words)
            yield " ".join(name_key(word) for word in words), words, PERSON, None
            index += sum(unit.width for unit in units)
            continue
        index += 1


def _without_clitic(token: str, collection: CollectionEvidence | None) -> list[str]:
    """The token, and what it may be under a clitic: وترامب → ترامب, للعراق → العراق, بالقاهرة → القاهرة; not
    a word the collection writes as one (بيونغ of بيونغ يانغ is no ب before يونغ)."""
    forms = [token]
    if collection is not None and collection.spellings.may_be_bare_name(token):
        return forms
    if token.startswith("لل") and len(token) > 4:
        forms.append(ARTICLE + token[2:])
    if token[0] in CLITICS and len(token) > 3:
        forms.append(token[1:])
        if token[1] in CLITICS and token[2:].startswith(ARTICLE):  # وبالقاهرة
            forms.append(token[2:])
    return forms


def _place_at(tokens: list[str], index: int, lexicon: NameLexicon, collection: CollectionEvidence | None):
    longest = min(lexicon.longest_place, len(tokens) - index)
    for width in range(longest, 0, -1):
        rest = tuple(_fold(token) for token in tokens[index + 1 : index + width])
        for first in _without_clitic(tokens[index], collection):
            place = lexicon.places.get((_fold(first), *rest))
            if place and (width > 1 or not _common_word_place(first, place, collection)):
                return (first, *tokens[index + 1 : index + width]), width, place
    return None


def _common_word_place(word: str, place: Place, collection: CollectionEvidence | None) -> bool:
    """A one-word place the collection also writes with the article (مالي, المالي: financial), or a city's name
    that it inflects like a common word (ترك, Chuuk: تركه, تركت). A country's name is not asked the latter: the
    nisba inflects it (مصر, مصري)."""
    if collection is None or word.startswith(ARTICLE):
        return False
    if place.is_city and not collection.name_like(word, MAX_FOREIGN_UNIT_SHARE):
        return True
    counts = collection.spellings.counts
    bare, with_article = counts.get(word, 0), counts.get(ARTICLE + word, 0)
    return with_article > MAX_PLACE_ARTICLE_SHARE * (bare + with_article)


def _person_at(
    tokens: list[str], index: int, lexicon: NameLexicon, collection: CollectionEvidence | None
) -> list[_Unit]:
    first = next(
        (
            unit
            for form in _without_clitic(tokens[index], collection)
            # a unit is one word or two: the rest of the run is not copied (a long run would cost its square)
            if (unit := _unit_at([form, *tokens[index + 1 : index + 2]], 0, lexicon, collection, first=True))
        ),
        None,
    )
    if first is None:
        return []
    units = [first]
    position = index + first.width
    # a unit only the collection vouches for ends the name (إيمانويل ماكرون, not ماكرون حيث)
    while len(units) < MAX_UNITS and position < len(tokens) and units[-1].attested:
        unit = _unit_at(tokens, position, lexicon, collection, first=False)
        if unit is None:
            break
        units.append(unit)
        position += unit.width
    return units if len(units) >= MIN_UNITS else []


def _unit_at(
    tokens: list[str], index: int, lexicon: NameLexicon, collection: CollectionEvidence | None, first: bool
) -> _Unit | None:
    """A name unit at tokens[index]: one word, or a compound head and the word after it (عبد الله, بن سلمان)."""
    word = tokens[index]
    folded = _fold(word)
    if folded in COMPOUND_HEADS and index + 1 < len(tokens):
        following = tokens[index + 1]
        found = _unit_kind(following, lexicon, collection, first=False) or _unit_kind(
            folded + _fold(following), lexicon, collection, first=False
        )
        return _Unit((word, following), 2, found is _ATTESTED) if found else None
    found = _unit_kind(word, lexicon, collection, first)
    return _Unit((word,), 1, found is _ATTESTED) if found else None


_ATTESTED, _SEEN = "attested", "seen"  # a unit the lexicon knows; one only the collection writes as a name


def _unit_kind(word: str, lexicon: NameLexicon, collection: CollectionEvidence | None, first: bool) -> str | None:
    folded = _fold(word)
    if (word.endswith("ى") and word not in lexicon.final_alif_maqsura) or (folded,) in lexicon.places:
        return None
    if folded.startswith(ARTICLE):
        return _ATTESTED if not first and lexicon.surname[folded] >= MIN_ARTICLE_SURNAME_COUNT else None
    given, surname = lexicon.given[folded], lexicon.surname[folded]
    attested = (given >= MIN_GIVEN_COUNT if first else given + surname >= MIN_UNIT_COUNT) or folded in lexicon.foreign
    if collection is None:
        return _ATTESTED if attested else None
    if not attested:  # a surname no lexicon holds (دونالد ترمب): one the collection writes often, and as a name,
        # and no adverb in the accusative (ماي حالياً: May, now)
        seen = (
            not first
            and not word.endswith("ا")
            and collection.spellings.counts.get(word, 0) >= MIN_UNATTESTED_COUNT
            and collection.name_like(word, MAX_FOREIGN_UNIT_SHARE)
        )
        return _SEEN if seen else None
    if given >= MIN_CERTAIN_GIVEN_COUNT:
        return _ATTESTED if collection.name_like(word, None) else None
    most_share = MAX_UNIT_SHARE if given + surname else MAX_FOREIGN_UNIT_SHARE
    return _ATTESTED if collection.name_like(word, most_share) else None


def _person_display(words: tuple[str, ...], lexicon: NameLexicon, romanise: Callable[[str], str | None]) -> str:
    """Foreign units in their English (دونالد ترامب → Donald Trump), Arab ones romanised (محمد صلاح → Mohamed
    Salah), unit by unit so that one of each kind (إيمانويل ماكرون) gets both."""
    shown: list[str] = []
    pending: list[str] = []  # Arab units, romanised together so compounds and particles read as the romaniser's

    def flush() -> None:
        if pending:
            shown.append(romanise(" ".join(pending)) or " ".join(pending))
            pending.clear()

    for word in words:
        folded = _fold(word)
        english = lexicon.foreign.get(folded)
        if english and not (lexicon.given[folded] or lexicon.surname[folded]):
            flush()
            shown.append(english)
        else:
            pending.append(word)
    flush()
    return " ".join(shown)
