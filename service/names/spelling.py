"""Spelling variants of an Arabic name as outlets write them, and a skeleton key shared by the variants (pure).

Outlets spell one foreign name several ways: hamza seats (أردوغان, إردوغان, اردوغان), alif maqsura or ya (مودي,
مودى), taa marbuta or ha, a long vowel written or left out (ترامب, ترمب; نتنياهو, نتانياهو), and a foreign sound
given different letters (G as غ or ج: أردوغان, أردوجان; a final S as س, ش or ز: غوتيريس, غوتيريش, غوتيريز).
`arabic_variants` lists such spellings; `name_key` maps them to one key, so the forms a collection uses can be
grouped (collection.py). The OpenSearch `arabic_normalization` filter already folds hamza seats, ى and ة at search
time; long vowels and foreign letters it does not fold, and those are what the variants add to a search.
"""

from __future__ import annotations

import re

from service.text.normalize import normalize_text

HAMZA_ALIFS = "أإآٱ"
LONG_VOWELS = "اوي"
# Letters outlets use for one foreign sound, each group tried in place of the others
FOREIGN_SOUND_LETTERS = ("غج", "سشز", "كق")
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"})
_ARABIC_WORD = re.compile(r"^[\u0621-\u064a\u0671]+$")
MAX_VARIANTS = 256  # the collection keeps the few that occur
# No name is longer: arabnamer's 22,797 names run to 17 Latin letters. A longer "word" (an unspaced scrape, a
# hostile query) would cost seconds and GBs to spell out: variants grow with the letters, arabnamer with them too.
MAX_NAME_LETTERS = 20
_GENERATED_AT_MOST = 4 * MAX_VARIANTS


def is_arabic_word(word: str) -> bool:
    return bool(_ARABIC_WORD.match(word))


def plain(word: str) -> str:
    """The word without tashkeel, tatweel and presentation forms (service/text/normalize.py)."""
    return normalize_text(word).strip()


def fold(word: str) -> str:
    """Hamza seats to bare alif (or their vowel letter), ة to ه, ى to ي: the letters outlets interchange."""
    return plain(word).translate(_FOLD)


def name_key(word: str) -> str:
    """The skeleton of a name: folded letters, with long vowels dropped except the first and last letter.

    ترامب and ترمب give ترمب; أردوغان, اردوغان and إردوغان give اردغن. Only for names: common words collide
    (كريم and كرم share a key), which is why guard.py decides what is expanded."""
    folded = fold(word)
    if len(folded) <= 2:
        return folded
    middle = "".join(letter for letter in folded[1:-1] if letter not in LONG_VOWELS)
    return folded[0] + middle + folded[-1]


def _hamza_forms(word: str) -> set[str]:
    if word[0] in HAMZA_ALIFS + "ا":
        return {seat + word[1:] for seat in "أإا"} | ({word} if word[0] == "آ" else set())
    return {word}


def _final_forms(word: str) -> set[str]:
    swaps = {"ي": "ى", "ى": "ي", "ة": "ه", "ه": "ة", "ئ": "ء"}
    last = word[-1]
    return {word, word[:-1] + swaps[last]} if last in swaps and len(word) > 2 else {word}


def _vowel_forms(word: str) -> set[str]:
    """Each inner long vowel dropped, and one added between two consonants (not after the last letter)."""
    forms = {word}
    for index in range(len(word) - 1):
        letter, following = word[index], word[index + 1]
        if letter in LONG_VOWELS and index > 0:
            forms.add(word[:index] + word[index + 1 :])
        elif letter not in LONG_VOWELS and following not in LONG_VOWELS + "ة" and index + 1 < len(word) - 1:
            forms.update(word[: index + 1] + vowel + word[index + 1 :] for vowel in LONG_VOWELS)
    return forms


def _foreign_letter_forms(word: str) -> set[str]:
    forms = {word}
    for index, letter in enumerate(word):
        for group in FOREIGN_SOUND_LETTERS:
            if letter in group:
                forms.update(word[:index] + other + word[index + 1 :] for other in group if other != letter)
    return forms


def arabic_variants(word: str) -> list[str]:
    """Spellings of an Arabic name as outlets write it, the word's own plain spelling first, then by closeness.

    Variants differ from the word in hamza seat, final ى/ي or ة/ه, one long vowel dropped or added, or one letter
    of a foreign sound (غ/ج, س/ش/ز, ك/ق). A word that is not Arabic letters gives only itself (stripped)."""
    base = plain(word)
    if not base or not is_arabic_word(base) or len(base) > MAX_NAME_LETTERS:
        return [base] if base else []
    ranked: dict[str, int] = {base: 0}
    for cost, expand in enumerate((_hamza_forms, _final_forms, _vowel_forms, _foreign_letter_forms), start=1):
        for form in list(ranked):
            if len(ranked) >= _GENERATED_AT_MOST:  # the closest kinds come first; enough to rank MAX_VARIANTS
                break
            for variant in expand(form):
                ranked.setdefault(variant, cost if ranked[form] == 0 else ranked[form] + cost)
    ordered = sorted(ranked, key=lambda form: (ranked[form], form))
    return ordered[:MAX_VARIANTS]
