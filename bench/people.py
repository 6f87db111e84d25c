"""People and places: the precision of names extraction (service/names/people.py) on a hand-checked sample of the
ANT news in ../shared, and the share of articles that name at least one person or place.

The sample is fixed (seed 21): the news shuffled, the first EVIDENCE articles give the collection's word counts
(guard.py's evidence, as the service reads its newest 5,000), the next SAMPLE articles are extracted. Every name
found was checked by hand against its sentence: bench/people_verdicts.tsv holds the article id, the name's key and
the verdict (the news' licence keeps its text out of the project; it is read from ../shared at run time):
  ok       a person or place, named in full as the text names it;
  partial  the right person or place, its name cut short or with a word too many (Kim Jong of Kim Jong-un);
  wrong    no person or place (a common word, a club, a month), or another one.
Precision counts ok only; ok + partial is printed beside it. A name the extractor finds that has no verdict yet is
listed as unchecked: check it and add its line (--list prints every name with its sentence).

    .venv/bin/python bench/people.py [--list]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import re
import time
from collections import Counter
from pathlib import Path

from common import news_articles, peak_rss_mb

from service.names.collection import CollectionSpellings, word_counts
from service.names.lexicon import name_lexicon, romanised
from service.names.people import CollectionEvidence, names_in

SEED = 21
EVIDENCE = 5000
SAMPLE = 40
VERDICTS = Path(__file__).with_name("people_verdicts.tsv")
CONTEXT = 70  # characters each side of a name's first mention, for --list


def sample() -> tuple[list[dict], CollectionEvidence]:
    articles = news_articles(30000)
    random.Random(SEED).shuffle(articles)
    evidence = CollectionSpellings.from_counts(word_counts(f"{a['title']}\n{a['body']}" for a in articles[:EVIDENCE]))
    return articles[EVIDENCE : EVIDENCE + SAMPLE], CollectionEvidence.of(evidence)


def read_verdicts() -> dict[tuple[str, str], str]:
    if not VERDICTS.exists():
        return {}
    with open(VERDICTS, encoding="utf-8", newline="") as handle:
        rows = csv.reader((line for line in handle if not line.startswith("#")), delimiter="\t")
        return {(row[0], row[1]): row[2] for row in rows if row}


def context(text: str, spelling: str) -> str:
    """Around the spelling's first mention as a word (a clitic or the article before it, nothing after)."""
    found = re.search(rf"(?<![\u0621-\u064a])[وفبلك]?(?:ال|ل)?{re.escape(spelling)}(?![\u0621-\u064a])", text)
    if not found:
        return ""
    start, end = max(0, found.start() - CONTEXT), found.end() + CONTEXT
    return text[start:end].replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="print every name found with its sentence")
    args = parser.parse_args()
    started = time.perf_counter()
    lexicon = name_lexicon()
    articles, evidence = sample()
    loaded = time.perf_counter() - started
    verdicts = read_verdicts()
    counted: Counter = Counter()
    by_kind: Counter = Counter()
    unchecked: list[str] = []
    with_names = 0
    extracting = 0.0
    for article in articles:
        text = f"{article['title']}\n{article['body']}"
        started = time.perf_counter()
        found = names_in([article["title"], article["body"]], lexicon, evidence, romanised)
        extracting += time.perf_counter() - started
        with_names += bool(found)
        for entity in found:
            verdict = verdicts.get((article["id"], entity.key))
            if args.list:
                print(
                    f"{article['id']}\t{entity.key}\t{verdict or '?'}\t{entity.kind}\t{entity.display}\t"
                    f"{' / '.join(entity.spellings)}\t{context(text, entity.spellings[0])}"
                )
            if verdict is None:
                unchecked.append(f"{article['id']}\t{entity.key}\t{entity.display}")
                continue
            counted[verdict] += 1
            by_kind[entity.kind, verdict] += 1
    checked = sum(counted.values())
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load} (shared with other work)")
    print(
        f"sample: {len(articles)} articles (seed {SEED}), evidence from {EVIDENCE}; lexicon and evidence {loaded:.1f} s"
    )
    print(
        f"articles naming at least one person or place: {with_names}/{len(articles)} = {with_names / len(articles):.2f}"
    )
    print(
        f"extraction: {1000 * extracting / len(articles):.0f} ms an article (romanisation included); peak RSS {peak_rss_mb():.0f} MB"
    )
    if checked:
        print(
            f"names checked: {checked}; precision {counted['ok'] / checked:.3f} (ok), "
            f"{(counted['ok'] + counted['partial']) / checked:.3f} (ok + partial); "
            f"ok {counted['ok']}, partial {counted['partial']}, wrong {counted['wrong']}"
        )
        for kind in ("person", "place"):
            total = sum(count for (k, _), count in by_kind.items() if k == kind)
            if total:
                print(f"  {kind}s: {total}, precision {by_kind[kind, 'ok'] / total:.3f}")
    if unchecked:
        print(f"unchecked (no verdict in {VERDICTS.name}): {len(unchecked)}")
        print("\n".join(unchecked))


if __name__ == "__main__":
    main()
