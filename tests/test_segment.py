import pytest
from helpers import LINEAR_FACTOR, seconds

from service.text.segment import segment, split_long, split_sentences


def sentences(text):
    return [text[a:b] for a, b in split_sentences(text)]


def test_splits_on_arabic_and_latin_terminals():
    assert sentences("هل انتهى؟ نعم! وقال آخر. ماذا بعد…") == ["هل انتهى؟", "نعم!", "وقال آخر.", "ماذا بعد…"]


def test_decimals_abbreviations_and_initials_do_not_split():
    text = "قال د. أحمد إن النمو بلغ 3.5 في المئة وفق U.S. data. وأضاف أن الوضع مستقر."
    assert sentences(text) == ["قال د. أحمد إن النمو بلغ 3.5 في المئة وفق U.S. data.", "وأضاف أن الوضع مستقر."]


def test_urls_emails_and_domains_do_not_split():
    text = "زوروا https://news.example.com/a.b?c=1. راسلونا على info@bbc.co.uk. أو www.bbc.com/arabic اليوم."
    assert len(sentences(text)) == 3


def test_numbered_lists_keep_their_markers():
    assert sentences("1. البند الأول. 2. البند الثاني.") == ["1. البند الأول.", "2. البند الثاني."]


def test_closing_quotes_stay_with_their_sentence():
    assert sentences('قال "سنعود غدا." ثم غادر.') == ['قال "سنعود غدا."', "ثم غادر."]


def test_short_quotation_is_not_split_inside():
    assert sentences("قال: «سنعود غدا. ولن نستسلم.» ثم غادر. انتهى") == [
        "قال: «سنعود غدا. ولن نستسلم.» ثم غادر.",
        "انتهى",
    ]


def test_missing_space_after_arabic_stop_still_splits():
    assert sentences("انتهى الاجتماع.وقال الوزير") == ["انتهى الاجتماع.", "وقال الوزير"]


def words(text):
    return len(text.split())


def test_long_sentence_splits_at_arabic_commas_first():
    text = "أ ب ج د، ه و ز ح؛ ط ي ك ل"
    spans = split_long(text, (0, len(text)), 4, words)
    assert [text[a:b] for a, b in spans] == ["أ ب ج د،", "ه و ز ح؛", "ط ي ك ل"]


def test_long_clause_falls_back_to_word_windows_then_characters():
    text = "كلمة " * 9 + "x" * 40
    spans = segment(text.strip(), 3, lambda s: max(words(s), len(s) // 10))
    assert all(max(words(text[a:b]), (b - a) // 10) <= 3 for a, b in spans)
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    [
        "جملة أولى. جملة ثانية؟ ثالثة!",
        "...؟!",
        "a" * 500,
        "قال: «" + "كلام " * 100 + "» وانتهى.",
    ],
)
def test_no_text_is_ever_dropped(text):
    spans = segment(text, 5, words)
    covered = "".join(text[a:b] for a, b in spans)
    assert covered.replace(" ", "") == text.replace(" ", "")
    assert all(a < b for a, b in spans)


ORDINARY = "قال الوزير إن المحادثات ستستأنف الأسبوع المقبل في القاهرة، وأضاف أن الوفدين اتفقا على جدول الأعمال. "


@pytest.mark.parametrize(
    "text",
    [
        "ب@" * 1_000,  # e-mail: text@ many times, and no dot after
        "x." * 6_000,  # domain: dotted names with no top-level domain at the end
        "www." + ".," * 10_000 + "x",  # URL: punctuation that might end it, but does not
        "x" * 40_000,  # one word: split by tokens, and an @ looked for from every character
        "▁ " * 20_000 + "ب " * 300,  # words of no tokens: spans that fit grow without end
        # Full stops that are no boundary, each looked back to the sentence start; the emoji makes text 4 bytes a
        # character, so each look back copies more.
        "😀 " + "د. " * 60_000,
    ],
    ids=["at-signs", "dotted", "url-punctuation", "one-word", "zero-token-words", "abbreviations"],
)
def test_segmentation_time_is_linear_whatever_the_text(translator, text):
    ordinary = (ORDINARY * (len(text) // len(ORDINARY) + 1))[: len(text)]
    limit = LINEAR_FACTOR * seconds(lambda: segment(ordinary, 200, translator.count_tokens))
    took = seconds(lambda: segment(text, 200, translator.count_tokens), within=limit)
    assert took <= limit, f"{took:.3f} s, {took / limit * LINEAR_FACTOR:.0f} times ordinary text of the same length"
    spans = segment(text, 200, translator.count_tokens)
    assert all(translator.count_tokens(text[a:b]) <= 200 for a, b in spans)
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")
