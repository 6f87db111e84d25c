"""Word alignments: pieces to words, attention to Pharaoh, model words to stored words, highlights to spans."""

import pytest
from helpers import LINEAR_FACTOR, seconds

from service.align import stored_alignment
from service.text.normalize import normalize
from service.translation.interface import Translation
from service.wordalign import (
    aligned_spans,
    attention_alignment,
    highlighted_spans,
    parse_pharaoh,
    piece_words,
    remap_source,
    word_spans,
)


def test_pieces_are_grouped_into_the_whitespace_words_they_join_into():
    pieces = ["▁", "ق", "ال", "▁الرئيس", "▁إن", "▁ال", "ح", "رب", "."]
    assert piece_words(pieces) == [None, 0, 0, 1, 2, 3, 3, 3, 3]
    assert piece_words([">>ara<<", "▁The", "▁army", "s", "▁", "."]) == [None, 0, 1, 1, None, 2]


def test_attention_aligns_each_target_word_to_its_most_attended_source_word():
    source = ["▁قال", "▁الرئ", "يس", "."]
    target = ["▁The", "▁president", "▁said", "."]
    attention = [
        [0.1, 0.7, 0.1, 0.1, 0.0],  # The → الرئ (word 1)
        [0.1, 0.1, 0.8, 0.0, 0.0],  # president → يس (word 1)
        [0.9, 0.0, 0.0, 0.1, 0.0],  # said → قال
        [0.0, 0.0, 0.0, 0.1, 0.9],  # "." looks at </s>: no pair
    ]
    assert attention_alignment(source, target, attention) == "0-2 1-0 1-1"


def test_model_words_are_renumbered_to_the_words_of_the_stored_text():
    stored = "قال  الرئيس \u200f إن\u0640ه"  # a stray RLM "word" and a tatweel: normalisation drops both
    normalized = normalize(stored)
    assert normalized.text == "قال الرئيس إنه"
    assert remap_source("0-0 1-1 2-2", normalized.text, stored, normalized.starts) == "0-0 1-1 3-2"
    assert stored_alignment(Translation("x", 0.0, 1, "2-0"), normalized.text, stored) == "3-0"
    assert stored_alignment(Translation("x", 0.0, 1, None), normalized.text, stored) is None
    assert stored_alignment(Translation("x", 0.0, 1, "0-0"), "something else", stored) is None


def test_renumbering_takes_time_linear_in_the_words():
    stored = "▁ " * 20_000  # ▁ is no token: a sentence of such words is any length and is never split
    normalized = normalize(stored)
    limit = LINEAR_FACTOR * seconds(lambda: (word_spans(normalized.text), word_spans(stored)))
    took = seconds(lambda: remap_source("", normalized.text, stored, normalized.starts), within=limit)
    assert took <= limit, f"{took:.3f} s, {took / limit * LINEAR_FACTOR:.0f} times finding the words"


def test_highlights_are_found_in_the_plain_text_whatever_the_html_escaping():
    highlighted = "Tom &amp; Jerry <mark>surrendered</mark> &lt;today&gt; to <mark>forces</mark>."
    plain = "Tom & Jerry surrendered <today> to forces."
    spans = highlighted_spans(highlighted)
    assert [plain[a:b] for a, b in spans] == ["surrendered", "forces"]


def test_each_highlighted_english_word_leads_to_its_arabic_words():
    arabic = "استسلم المقاتل للقوات الحكومية."
    english = "The fighter surrendered to government forces."
    alignment = "0-2 1-0 1-1 2-3 2-5 3-4"
    result = aligned_spans(english, arabic, "The fighter <mark>surrendered</mark> to government forces.", alignment)
    assert [english[a:b] for a, b in [r["en"] for r in result]] == ["surrendered"]
    assert [arabic[a:b] for a, b in result[0]["ar"]] == ["استسلم"]
    both = aligned_spans(english, arabic, "<mark>The fighter</mark> surrendered", alignment)
    assert [arabic[a:b] for a, b in both[0]["ar"]] == ["المقاتل"]
    assert aligned_spans(english, arabic, "no marks here", alignment) == []


def test_a_malformed_pharaoh_string_is_refused():
    assert parse_pharaoh("0-1 2-3") == [(0, 1), (2, 3)]
    with pytest.raises(ValueError):
        parse_pharaoh("0-x")
