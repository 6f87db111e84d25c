import gzip
import json
import re

import pytest
from helpers import LINEAR_FACTOR, seconds, shared_path

from service.text.normalize import normalize_text
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


@pytest.mark.parametrize(
    "name",
    [
        "تي.آر.تي",  # TRT
        "إف.بي.آي",  # FBI
        "إي.إس.بي.إن",  # ESPN
        "العربية.نت",
        "بيت.كوم",
        "(د.ب.أ)",  # dpa, in Arabic letters
        "وبي.إم.دبليو",  # and BMW: a proclitic on the first letter
        "الإف.بي.آي",
        "سي.إن.إن.ترك",  # CNN Türk: a word after the letters
        "جورج دبليو.بوش",  # an initial with its space lost
        "باتون.بارتون.دورستين",  # three dotted words are a name, not two lost spaces
    ],
)
def test_dotted_acronyms_and_arabic_domains_do_not_split(name):
    text = f"قالت {name} إن التحقيق مستمر. وأضافت أن النتائج ستعلن لاحقا."
    assert sentences(text) == [f"قالت {name} إن التحقيق مستمر.", "وأضافت أن النتائج ستعلن لاحقا."]


@pytest.mark.parametrize(
    "text",
    [
        "نقلت الخبر شبكة إف.بي.آي. وأضاف المتحدث",  # a sentence that ends in an acronym
        "بحسب ما نشرت العربية.نت. وأضاف المتحدث",  # or in a domain
        "اندلعت النار.وأضاف المتحدث",  # a lost space after an ordinary word
        "قالها مرة ذلك.ثم أضاف المتحدث",
        "تأجلت المباراة التي.وأضاف المتحدث",  # a proclitic and a letter name that together are a word (ال+تي)
    ],
)
def test_sentences_after_dotted_names_and_lost_spaces_still_split(text):
    assert len(sentences(text)) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The U.S. President met U.N. officials, e.g. the envoy. Then he left.", 2),
        ("He moved to the U.S. Then he left.", 2),
        ("She got an A. Then she left.", 2),  # a sentence that ends in a one-letter word
        ("Officials at the U.N. Security Council met in Washington D.C. on Friday.", 1),
        ("J. Smith and George W. Bush spoke.", 1),
        ("قال مسؤول في U.S. وأضاف آخر", 2),  # Arabic after Latin initials begins a sentence
    ],
)
def test_latin_dotted_acronyms_split_only_before_a_sentence(text, expected):
    assert len(sentences(text)) == expected


# A dotted token, as the issue counts them: three or more dot-joined letter groups, an Arabic domain, or two
# Latin letters' Arabic names (after a proclitic و, ل, ال or لل on the first).
LETTER_NAMES = {
    *("إيه", "أيه", "آيه", "ايه", "بي", "سي", "دي", "إي", "إف", "اف", "جي", "إتش", "اتش", "آي", "جيه", "كيه", "كي"),
    *("إل", "ال", "إم", "ام", "إن", "ان", "أن", "أو", "او", "كيو", "آر", "ار", "أر", "إس", "اس", "أس", "تي", "يو"),
    *("في", "دبليو", "إكس", "واي", "زد"),
}
DOTTED_RUN = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)+")


def is_dotted_token(groups: list[str]) -> bool:
    if len(groups) >= 3 or groups[-1] in ("نت", "كوم"):
        return True
    first = re.sub(r"^(?:لل|ال|و|ل)(?=..)", "", groups[0])
    return all(len(group) == 1 or group in LETTER_NAMES for group in (first, groups[1]))


def breaks_inside_dotted_tokens(text: str) -> int:
    ends = {end for _, end in split_sentences(text)[:-1]}
    return sum(
        1
        for run in DOTTED_RUN.finditer(text)
        if is_dotted_token(run.group().split("."))
        for end in ends
        if run.start() < end < run.end()
    )


def test_no_break_inside_dotted_tokens_in_the_shared_news():
    """Issue 21 item 4 counted 55 such breaks in 21 of 425 articles; before the fix: 1,468 in 620 of the 22,070."""
    path = shared_path("data", "news", "ant-dev.jsonl.gz")
    breaks, articles, paragraphs_with_tokens = [], 0, 0
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            article = json.loads(line)
            articles += 1
            for paragraph in [article["title"], *article["body"].split("\n")]:
                if not DOTTED_RUN.search(paragraph):
                    continue
                text = normalize_text(paragraph)
                paragraphs_with_tokens += 1
                if count := breaks_inside_dotted_tokens(text):
                    breaks.append((count, article["id"], text[:80]))
    assert articles > 20_000 and paragraphs_with_tokens > 500  # the corpus is really there and has such names
    assert breaks == []


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
        "إف." * 30_000,  # dots inside an acronym: letter names looked up on both sides of each
        ("ب" * 16 + ".") * 6_000,  # the longest letter groups each dot looks at
        "كلمة." * 20_000,  # dotted words: each dot looks a group further on both sides
        "U.S. " * 20_000,  # Latin initials: the next word read after each
    ],
    ids=[
        *("at-signs", "dotted", "url-punctuation", "one-word", "zero-token-words", "abbreviations"),
        *("acronym-letters", "long-letter-groups", "dotted-words", "latin-initials"),
    ],
)
def test_segmentation_time_is_linear_whatever_the_text(translator, text):
    ordinary = (ORDINARY * (len(text) // len(ORDINARY) + 1))[: len(text)]
    limit = LINEAR_FACTOR * seconds(lambda: segment(ordinary, 200, translator.count_tokens))
    took = seconds(lambda: segment(text, 200, translator.count_tokens), within=limit)
    assert took <= limit, f"{took:.3f} s, {took / limit * LINEAR_FACTOR:.0f} times ordinary text of the same length"
    spans = segment(text, 200, translator.count_tokens)
    assert all(translator.count_tokens(text[a:b]) <= 200 for a, b in spans)
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "")
