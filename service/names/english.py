"""English names in Arabic script: ranked spellings from arabnamer (when installed) and their outlet variants.

arabnamer (MIT, bundled XGBoost model and a 22,798-pair name dictionary) is optional: without it an English name
gives no Arabic spellings here, and the search keeps its other bridges. Its first spelling matches the outlets'
usual one for about half of the foreign names in the news (bench/names.py); it drops an initial alif (Erdogan →
ردوغان), which `_initial_alif_forms` puts back, and the outlets' other spellings come from `arabic_variants`."""

from __future__ import annotations

import functools
import itertools
import re
import threading

from service.names.spelling import MAX_NAME_LETTERS, arabic_variants, is_arabic_word

MAX_SPELLINGS = 32
_ENGINES = ("hybrid", "model", "rules")  # arabnamer's: its dictionary, then XGBoost; XGBoost; its rules
_ENGLISH_VOWELS = "aeiou"


_LOAD_LOCK = threading.Lock()


@functools.cache
def _loaded_transliterators() -> tuple:
    try:
        from arabnamer import Transliterator
    except ImportError:
        return ()
    return tuple(Transliterator(engine=engine) for engine in _ENGINES)


def _transliterators() -> tuple:
    """arabnamer's transliterators, loaded once per process (XGBoost: about 9 s); () when it is not installed.

    Under a lock: functools.cache alone let four concurrent first searches load the models twelve times."""
    with _LOAD_LOCK:
        return _loaded_transliterators()


def arabnamer_available() -> bool:
    return bool(_transliterators())


def _transliterations(token: str) -> list[str]:
    spellings: list[str] = []
    for transliterator in _transliterators():
        arabic = transliterator.translit(token).arabic.strip()
        if is_arabic_word(arabic) and arabic not in spellings:
            spellings.append(arabic)
    return spellings


def _initial_alif_forms(english: str, arabic: str) -> list[str]:
    if english[:1].lower() in _ENGLISH_VOWELS and arabic[0] not in "اأإآع":
        return ["أ" + arabic, "ا" + arabic, "إ" + arabic]
    return []


def token_spellings(token: str, transliterate=_transliterations) -> list[str]:
    """Arabic spellings of one English name token, ranked: the transliterations (with an initial alif put back
    where arabnamer dropped it), then each one's variants."""
    ranked: list[str] = []
    for arabic in transliterate(token):
        for form in [*_initial_alif_forms(token, arabic), arabic]:
            if form not in ranked:
                ranked.append(form)
    for form in list(ranked):
        ranked.extend(variant for variant in arabic_variants(form) if variant not in ranked)
    return ranked


def english_to_arabic(name: str, transliterate=_transliterations) -> list[str]:
    """Ranked Arabic spellings of an English name ("Trump", "Xi Jinping"); [] without arabnamer.

    A name of several words gives the combinations of its words' spellings, best ranks first, at most
    MAX_SPELLINGS."""
    tokens = re.findall(r"[A-Za-z'-]+", name)
    if any(len(token) > MAX_NAME_LETTERS for token in tokens):
        return []
    per_token = [token_spellings(token, transliterate)[:MAX_SPELLINGS] for token in tokens]
    if not tokens or not all(per_token):
        return []
    ranked = sorted(
        itertools.product(*(list(enumerate(spellings)) for spellings in per_token)),
        key=lambda combination: sum(rank for rank, _ in combination),
    )
    return [" ".join(spelling for _, spelling in combination) for combination in ranked[:MAX_SPELLINGS]]
