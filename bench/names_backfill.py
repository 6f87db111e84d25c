"""`index names` (ingest.name_stored) on a local node: articles/s naming ANT news articles stored before names, on an
index without vectors and on one with them (each named article is embedded again: an update loses its vectors).

Each round stores the articles afresh through the write path without its naming step (not timed; pre-translated:
each sentence's "English" is a placeholder, as names and vectors read the Arabic), then times name_stored on it.
The two kinds alternate within a round, so a busy machine weighs on both alike.

    OMP_NUM_THREADS=1 .venv/bin/python bench/names_backfill.py [--articles 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import local_node, news_articles, peak_rss_mb

from service import ingest
from service.config import Settings
from service.embedding import open_encoder
from service.index import lifecycle
from service.index.client import make_client
from service.ingest import IndexTarget, human_translation, name_stored, write_articles
from service.names.lexicon import name_lexicon
from service.text.segment import split_sentences


def records(count: int) -> list[dict]:
    out = []
    for article in news_articles(count):
        body = article["body"]
        sentences = [body[start:end] for start, end in split_sentences(body)]
        out.append({**article, "sentences": [{"source": sentence, "target": "…"} for sentence in sentences]})
    return out


def store_unnamed(client, alias: str, articles: list[dict], encoder) -> None:
    lifecycle.delete(client, alias)
    lifecycle.ensure(client, alias, dimension=encoder.dimension if encoder else None)
    steps = ingest.ENRICHMENT_STEPS
    ingest.ENRICHMENT_STEPS = tuple(step for step in steps if step.__name__ != "_name")
    try:
        target = IndexTarget(client, alias, encoder=encoder)
        outcomes = write_articles(list(enumerate(articles, 1)), target, human_translation)
    finally:
        ingest.ENRICHMENT_STEPS = steps
    assert all(o.status == ingest.INDEXED for o in outcomes), [o.reason for o in outcomes if o.reason][:3]
    client.indices.refresh(index=alias)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    articles = records(args.articles)
    name_lexicon()  # loaded once per process, before any timing
    encoder = open_encoder(Settings(encoder="use"))
    kinds = {"without vectors": None, "with vectors (embedded again)": encoder}
    seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
    with local_node("bench-names-backfill", heap="1g") as node:
        client = make_client(Settings(opensearch_urls=(node.url,)))
        for _ in range(args.rounds):
            for kind, kind_encoder in kinds.items():
                alias = "bench-names-" + ("vectors" if kind_encoder else "plain")
                store_unnamed(client, alias, articles, kind_encoder)
                started = time.perf_counter()
                named = name_stored(IndexTarget(client, alias, encoder=kind_encoder))
                seconds[kind].append(time.perf_counter() - started)
                assert named == len(articles), named
    print(f"{len(articles)} ANT news articles, {args.rounds} rounds, load average {os.getloadavg()}")
    for kind, times in seconds.items():
        median = statistics.median(times)
        rounds = ", ".join(f"{t:.2f}" for t in times)
        print(f"  {kind}: {len(articles) / median:.1f} articles/s (median {median:.2f} s; rounds {rounds} s)")
    ratio = statistics.median(seconds["with vectors (embedded again)"]) / statistics.median(seconds["without vectors"])
    print(f"  with vectors / without: {ratio:.2f}x the time; peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
