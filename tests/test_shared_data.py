"""Checks on real text from ../shared; skipped where it is absent."""

from itertools import islice

from helpers import shared_path

from service.text.langid import detect
from service.text.segment import split_sentences


def _lines(*parts):
    with open(shared_path(*parts), encoding="utf-8") as handle:
        return [line.strip() for line in islice(handle, 300) if line.strip()]


def test_tico19_arabic_is_detected_as_arabic_and_english_as_english():
    arabic = _lines("data", "parallel", "tico19_test", "src.ar")
    english = _lines("data", "parallel", "tico19_test", "ref.en")
    assert sum(detect(s).language == "ar" for s in arabic) / len(arabic) >= 0.98
    assert sum(detect(s).language == "en" for s in english) / len(english) >= 0.95


def test_segmenter_recovers_joined_ud_pud_sentences():
    sentences = _lines("data", "parallel", "ud_pud", "ar.txt")[:200]
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
    found = sum(len(split_sentences(p)) for p in paragraphs)
    assert abs(found - len(sentences)) / len(sentences) < 0.1
