"""Sentence segmentation quality: boundary precision, recall and F1 on paragraphs built from known sentences.

Sentences from ../shared/data/parallel are normalised, joined five at a time into paragraphs, and
split again. Many tico19 lines end without punctuation, where no segmenter can see a boundary, and
some lines hold two sentences, which a correct split counts against precision; so figures are also
given for lines that end in sentence punctuation and for lines with no stop inside them. Then the
speed on real news (sentences per second, normalised paragraphs split again and again for a few
seconds), and the full stops inside dotted names (إف.بي.آي, العربية.نت) that became boundaries. Last,
the time to split hostile text (which once took quadratic or cubic time) beside ordinary text as long.
"""

from __future__ import annotations

import re
import time

from common import news_articles, read_lines, shared_file

from service.text.normalize import normalize_text
from service.text.segment import split_sentences

SETS = {
    "tico19": ("tico19_test", "src.ar"),
    "ud_pud": ("ud_pud", "ar.txt"),
    "tatoeba": ("tatoeba_v2021-08-07", "src.ar"),
}
TERMINALS = tuple(".!?؟…۔")
INNER_STOP = re.compile(r"[.!?؟…][\"'»”]*\s")
GROUP = 5
HOSTILE_CHARS = 100_000
HOSTILE = {
    "ordinary text": "قال الوزير إن المحادثات ستستأنف غدا. ",
    "e-mail-like: ب@": "ب@",
    "dotted: x.": "x.",
    "one word: x": "x",
    "acronym: إف.": "إف.",
    "long groups: ب…ب.": "ب" * 16 + ".",
    "dotted words: كلمة.": "كلمة.",
}
NEWS_ARTICLES = 2_000
SPEED_SECONDS = 3.0
# A full stop with letters on both sides in a run of three or more groups, or before an Arabic top-level domain.
DOTTED_NAME = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+){2,}|[^\W\d_]+\.(?:نت|كوم)(?![^\W\d_])")


def boundaries(sentences: list[str]) -> set[int]:
    ends, position = set(), 0
    for sentence in sentences[:-1]:
        position += len(sentence)
        ends.add(position)
        position += 1
    return ends


def score(sentences: list[str]) -> tuple[float, float, float, int]:
    true_positive = predicted_total = gold_total = 0
    for start in range(0, len(sentences), GROUP):
        group = sentences[start : start + GROUP]
        gold = boundaries(group)
        predicted = {end for _, end in split_sentences(" ".join(group))[:-1]}
        true_positive += len(gold & predicted)
        predicted_total += len(predicted)
        gold_total += len(gold)
    precision = true_positive / predicted_total if predicted_total else 1.0
    recall = true_positive / gold_total if gold_total else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, gold_total


def arabic_lines(folder: str, name: str) -> list[str]:
    lines = read_lines(shared_file("data", "parallel", folder, name))
    if folder.startswith("tatoeba"):
        labels = read_lines(shared_file("data", "parallel", folder, "src.labels"))
        lines = [line for line, label in zip(lines, labels, strict=True) if label == "ara"]  # MSA only
    return [text for text in map(normalize_text, lines) if text]


def main() -> None:
    print(f"{'set':<24}{'boundaries':>11}{'precision':>11}{'recall':>9}{'F1':>7}")
    for label, (folder, name) in SETS.items():
        sentences = arabic_lines(folder, name)
        punctuated = [s for s in sentences if s.endswith(TERMINALS)]
        single = [s for s in punctuated if not INNER_STOP.search(s)]
        for suffix, subset in (("all lines", sentences), ("punctuated", punctuated), ("one-sentence", single)):
            precision, recall, f1, gold = score(subset)
            print(f"{label + ' ' + suffix:<24}{gold:>11}{precision:>11.3f}{recall:>9.3f}{f1:>7.3f}")
    news_speed_and_dotted_breaks()
    hostile_timings()


def news_speed_and_dotted_breaks() -> None:
    paragraphs = [
        text
        for article in news_articles(NEWS_ARTICLES)
        for line in [article["title"], *article["body"].split("\n")]
        if (text := normalize_text(line))
    ]
    sentences = rounds = 0
    start = time.perf_counter()
    while time.perf_counter() - start < SPEED_SECONDS:
        sentences += sum(len(split_sentences(text)) for text in paragraphs)
        rounds += 1
    per_second = sentences / (time.perf_counter() - start)
    inside = sum(
        1
        for text in paragraphs
        for match in DOTTED_NAME.finditer(text)
        for _, end in split_sentences(text)[:-1]
        if match.start() < end < match.end()
    )
    print(f"\nnews, {NEWS_ARTICLES} articles: {per_second:,.0f} sentences/s ({rounds} rounds)")
    print(f"boundaries inside dotted names (3+ groups or Arabic domains): {inside}")


def hostile_timings() -> None:
    print(f"\n{'text of ' + str(HOSTILE_CHARS) + ' chars':<24}{'seconds':>11}")
    for label, unit in HOSTILE.items():
        text = unit * (HOSTILE_CHARS // len(unit))
        start = time.perf_counter()
        split_sentences(text)
        print(f"{label:<24}{time.perf_counter() - start:>11.3f}")


if __name__ == "__main__":
    main()
