from helpers import LINEAR_FACTOR, seconds

from service.text.normalize import MAX_COMBINING_MARKS, normalize, normalize_text


def test_presentation_forms_and_ligatures_become_plain_letters():
    assert normalize_text("ﻻ ﺍﻟﻌﺮﺑﻴﺔ") == "لا العربية"


def test_tatweel_and_diacritics_are_removed():
    assert normalize_text("مـرحبـاً إِنَّ") == "مرحبا إن"


def test_hamza_combines_before_diacritics_go():
    assert normalize_text("\u0627\u0654") == "أ"


def test_arabic_indic_digits_and_separators_become_ascii():
    assert normalize_text("٢٠٢٠ و١٢٫٥٪ و١٬٠٠٠ ۴") == "2020 و12.5% و1,000 4"


def test_zero_width_bidi_and_control_characters_are_removed():
    assert normalize_text("\ufeffأ\u200bب\u200fج\u202bد\u2066ه\x07و") == "أبجدهو"


def test_whitespace_collapses_and_trims():
    assert normalize_text("  a\t\u00a0b \n\n c  ") == "a b c"


def test_offsets_map_back_to_the_original():
    original = "  قال  الرئيـس\u200f: ١٢"
    result = normalize(original)
    word = result.text.index("الرئيس")
    start, end = result.original_span(word, word + len("الرئيس"))
    assert original[start:end] == "الرئيـس"
    start, end = result.original_span(len(result.text) - 2, len(result.text))
    assert original[start:end] == "١٢"


def test_empty_and_invisible_only_text_normalises_to_nothing():
    assert normalize("\u200b\u200f \t").text == ""


def test_already_normal_text_takes_the_fast_path_with_identity_offsets():
    text = "قال الرئيس إن النمو بلغ 3.5 في المئة."
    result = normalize(text)
    assert result.text == text
    assert result.original_span(0, len(text)) == (0, len(text))
    assert normalize(text + " ").text == text  # a trailing space still goes the slow way


def test_fast_path_does_not_skip_format_characters():
    assert normalize_text("أ\u2067ب") == "أب"  # FIRST STRONG ISOLATE, a Cf character


def test_time_is_linear_with_endless_combining_marks():
    marks = "a" + "\u0301\u0316" * 30_000  # two classes of mark in turn: NFKC sorts them one swap at a time
    diacritised = ("قَالَ الرَّئِيسُ إِنَّ الاقْتِصَادَ تَحَسَّنَ. " * (len(marks) // 40 + 1))[: len(marks)]
    limit = LINEAR_FACTOR * seconds(lambda: normalize(diacritised))
    took = seconds(lambda: normalize(marks), within=limit)
    assert took <= limit, f"{took:.3f} s, {took / limit * LINEAR_FACTOR:.0f} times diacritised text as long"
    result = normalize(marks)
    assert len(result.text) <= 1 + MAX_COMBINING_MARKS and result.original_span(0, len(result.text)) == (0, len(marks))
