"""Language detection: script ratios for short or mixed text, langdetect (seeded) for the rest."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from langdetect import DetectorFactory, LangDetectException, detect_langs

SHORT_TEXT_LETTERS = 30  # below this, langdetect's guesses are unreliable; the script decides
# Text this Arabic that uses only the Arabic alphabet is Arabic: the other languages written in the
# script all add letters of their own. It skips langdetect, which costs milliseconds per article.
CLEARLY_ARABIC = 0.8
UNDETERMINED = "und"
LATIN_LINE_SHARE = 0.9  # a line of an Arabic text this Latin (and with no Arabic letter) is kept as it is
_ARABIC_BLOCKS = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_LANGDETECT_LOCK = threading.Lock()  # langdetect seeds and draws from the global `random` module


@dataclass(frozen=True)
class Detection:
    """A detected language (ISO 639-1, or "und") with a confidence in [0, 1] and how it was found."""

    language: str
    confidence: float
    method: str  # "script", "langdetect" or "none"

    def to_dict(self) -> dict:
        return {"language": self.language, "confidence": round(self.confidence, 4), "method": self.method}


def _is_arabic(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _ARABIC_BLOCKS)


def _is_arabic_alphabet(char: str) -> bool:
    """The 28 letters, hamza forms, ta marbuta and alef maqsura: what Arabic itself writes."""
    return "\u0621" <= char <= "\u063a" or "\u0641" <= char <= "\u064a"


def script_shares(text: str) -> tuple[int, float, float]:
    """Number of letters, and the shares of them in Arabic and Latin script."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0, 0.0, 0.0
    arabic = sum(map(_is_arabic, letters))
    latin = sum(1 for c in letters if c.isascii() or 0x00C0 <= ord(c) <= 0x024F)
    return len(letters), arabic / len(letters), latin / len(letters)


def is_latin_only(text: str) -> bool:
    """Letters all in the Latin script, none Arabic: an English line quoted inside Arabic text (a name alone too),
    which the Arabic model would only garble."""
    letters, arabic, latin = script_shares(text)
    return letters > 0 and arabic == 0 and latin >= LATIN_LINE_SHARE


def _langdetect(text: str) -> Detection | None:
    with _LANGDETECT_LOCK:
        DetectorFactory.seed = 0
        try:
            best = detect_langs(text)[0]
        except LangDetectException:
            return None
    return Detection(best.lang, float(best.prob), "langdetect")


def _only_arabic_alphabet(text: str) -> bool:
    """No letter of Persian, Urdu, Kurdish, Pashto... (پ چ ژ گ ک ی ٹ ے ێ ڕ ښ ...) in the Arabic script."""
    return all(_is_arabic_alphabet(c) for c in text if c.isalpha() and _is_arabic(c))


def detect(text: str) -> Detection:
    """Detect the language of a text; mixed Arabic/Latin text is judged on its dominant script."""
    letters, arabic, latin = script_shares(text)
    if letters == 0:
        return Detection(UNDETERMINED, 0.0, "none")
    if letters < SHORT_TEXT_LETTERS:
        if arabic >= 0.5:
            return Detection("ar", arabic, "script")
        if latin >= 0.5:
            return Detection("en", latin, "script")
        return _langdetect(text) or Detection(UNDETERMINED, 0.0, "none")
    if arabic >= CLEARLY_ARABIC and _only_arabic_alphabet(text):
        return Detection("ar", arabic, "script")
    if arabic >= 0.5:  # drop the Latin names and acronyms that news quotes, so they don't sway langdetect
        text = "".join(c for c in text if not (c.isascii() and c.isalpha()))
    elif latin >= 0.5:
        text = "".join(c for c in text if not _is_arabic(c))
    return _langdetect(text) or Detection(UNDETERMINED, 0.0, "none")
