"""What names look like, from data that ships in packages (the I/O half of names extraction; people.py is pure).

- Arab personal names: arabic-name-romanizer's names database (UNICEF, MIT; ~82k attested name units from
  Wikidata and Algerian corpora, each with its role, given name or surname, and counts), and its romaniser for
  their Latin display form (dictionary first, a small ONNX model for units nobody spelled).
- Foreign names in Arabic script: arabnamer's dictionary (MIT; 22,797 English names and their Arabic spelling),
  read backwards for their English display form.
- Places: the Unicode CLDR's Arabic and English names of countries and territories, and of the cities that name
  time zones, through Babel.

Each package is optional: a lexicon without one simply finds no names of that kind.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import metadata, resources

from service.names.spelling import fold, plain

# Territory codes that are groupings or placeholders, not places (the EU, the UN, the eurozone, pseudo-locales)
_NOT_PLACES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


@dataclass(frozen=True)
class Place:
    english: str
    code: str  # the CLDR territory code (SY), or the time zone a city names (Africa/Cairo)

    @property
    def is_city(self) -> bool:
        return "/" in self.code


@dataclass(frozen=True)
class NameLexicon:
    """Name units by their folded spelling: how often each is attested as a given name and as a surname, the
    English of foreign names, and places by their folded Arabic words."""

    given: Counter = field(default_factory=Counter)
    surname: Counter = field(default_factory=Counter)
    foreign: dict[str, str] = field(default_factory=dict)
    # Names written with a final ى as arabnamer spells them (مصطفى, موسى): folded, ى reads as ي, and the
    # preposition على would be the name علي
    final_alif_maqsura: frozenset[str] = frozenset()
    places: dict[tuple[str, ...], Place] = field(default_factory=dict)

    @functools.cached_property
    def longest_place(self) -> int:
        return max((len(words) for words in self.places), default=0)


def _romanizer_units() -> tuple[Counter, Counter]:
    given: Counter = Counter()
    surname: Counter = Counter()
    try:
        database = resources.files("arabic_name_romanizer") / "resources" / "names.sqlite3"
    except ModuleNotFoundError:
        return given, surname
    with resources.as_file(database) as path:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = connection.execute("SELECT arabic_key, role, SUM(count) FROM units GROUP BY arabic_key, role")
            for arabic, role, count in rows:
                key = fold(arabic)
                if role == "given":
                    given[key] += count
                elif role == "surname":
                    surname[key] += count
        finally:
            connection.close()
    return given, surname


def _arabnamer_pairs() -> dict[str, str]:
    """English name → its Arabic spelling."""
    try:
        with (resources.files("arabnamer") / "data" / "dict_FINAL.json").open(encoding="utf-8") as file:
            return json.load(file)
    except ModuleNotFoundError:
        return {}


def _foreign(pairs: dict[str, str]) -> dict[str, str]:
    """Folded Arabic spelling → English name; of several English spellings, the shortest (then first) one."""
    english_of: dict[str, list[str]] = defaultdict(list)
    for english, arabic in pairs.items():
        if english.isalpha():
            english_of[fold(arabic)].append(english)
    return {arabic: min(names, key=lambda name: (len(name), name)).title() for arabic, names in english_of.items()}


def _cldr_places() -> dict[tuple[str, ...], Place]:
    try:
        from babel import Locale
    except ImportError:
        return {}
    arabic, english = Locale("ar"), Locale("en")
    places: dict[tuple[str, ...], Place] = {}
    for code, name in arabic.territories.items():
        if len(code) == 2 and code.isalpha() and code not in _NOT_PLACES and code in english.territories:
            places.setdefault(_words(name), Place(english.territories[code], code))
    for zone, names in arabic.time_zones.items():
        city = names.get("city")
        # English names most cities only by the zone's id (Africa/Cairo)
        city_en = english.time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1].replace("_", " ")
        if city and "،" not in city:  # "بيولا، داكوتا الشمالية": a county's, not a city's name
            places.setdefault(_words(city), Place(city_en, zone))
    places.pop((), None)
    return places


def _words(name: str) -> tuple[str, ...]:
    return tuple(fold(word) for word in plain(name).split())


_LOAD_LOCK = threading.Lock()
_ROMANISER_LOCK = threading.Lock()


@functools.cache
def _loaded() -> NameLexicon:
    given, surname = _romanizer_units()
    pairs = _arabnamer_pairs()
    final_alif_maqsura = frozenset(plain(arabic) for arabic in pairs.values() if plain(arabic).endswith("ى"))
    return NameLexicon(given, surname, _foreign(pairs), final_alif_maqsura, _cldr_places())


def name_lexicon() -> NameLexicon:
    """The lexicon, loaded once per process (about a second)."""
    with _LOAD_LOCK:
        return _loaded()


# The distributions the lexicon reads: their versions name the data an article's names were found with
LEXICON_DISTRIBUTIONS = ("arabic-name-romanizer", "arabnamer", "babel")


@functools.cache
def lexicon_id() -> str:
    """Which data names are found with: each distribution the lexicon reads with its version ("-" where it is not
    installed). Stored on every article the write path names (names_lexicon), so an article named before a
    package was installed or upgraded is told apart, and `index names` names it again."""
    return " ".join(f"{name}={_installed_version(name)}" for name in LEXICON_DISTRIBUTIONS)


def _installed_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "-"


@functools.lru_cache(maxsize=65536)
def romanised(arabic: str) -> str | None:
    """arabic-name-romanizer's best Latin spelling of an Arab personal name (or name unit); None without it."""
    try:
        from arabic_name_romanizer import transliterate
    except ImportError:
        return None
    with _ROMANISER_LOCK:  # its model loads on first use
        return transliterate(arabic) or None
