"""Alerts benchmark on a local node: ingest throughput with 0, 100 and 1,000 saved searches, and the delay from
ingest to a recorded match.

The news articles in ../shared/data/news, pre-translated once by the tiny model (bench/search.py's cache), are
ingested --pretranslated in the writers' windows into three aliases that differ only in how many saved searches
their alerts index holds. Saved searches are drawn with a fixed seed from the topic words of the articles' titles
(in at least two articles, at most 1% of them): single words, two words, phrases, NOT, source and date filters.
They are Arabic: the cached English is the tiny model's noise, though every article still carries it, so the
percolator reads both sides as it does in production.
Throughput is measured side by side in one run: the corpus is cut into rounds, and each round is ingested into
every alias in turn, the order rotating each round (0, 100, 1000, then 100, 1000, 0, ...), so drift in the
machine's load falls on all three alike. Target: at most 20% slower with 1,000 saved searches than with none.
With none, ingest skips percolation (it re-analyses every article's text), so "none" is ingest without matching;
the percolate and record columns show where the extra time goes.

The delay is the time from calling ingest for one article until its match can be read from the alert's matches
(the matches index refreshes every second), with the largest number of saved searches present.

    .venv/bin/python bench/alerts.py [--articles 3000] [--alerts 0,100,1000] [--rounds 6] [--delays 10]

With --meaning, it measures instead what matching by meaning adds per window of WINDOW_RECORDS new articles (the
news articles' Arabic sentences embedded by ENCODER, as the write path hands them to matching) with 100 and 1,000
saved searches holding query vectors (the same drawn searches, encoded as search encodes them): reading the saved
vectors, scoring them against the window's sentences (numpy), and percolating the candidates' filters; beside it,
the words' percolate of the same window.

    OMP_NUM_THREADS=1 .venv/bin/python bench/alerts.py --meaning [--alerts 100,1000] [--windows 3]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from collections import Counter
from pathlib import Path

from common import add_model_options, bench_model_dir, local_node, model_line, news_articles, peak_rss_mb
from search import pretranslated_corpus

from service.alerts import matching as alert_matching
from service.alerts.meaning import meaning_matches
from service.alerts.model import search_request
from service.alerts.store import AlertStore
from service.config import Settings
from service.index import lifecycle
from service.index.client import make_client
from service.ingest import WINDOW_RECORDS, ingest
from service.search import query as query_parser
from service.search.searcher import query_wordings

ALIAS = "bench-alerts-{}"
WORD = re.compile(r"[^\W\d_]{4,}")
TOPIC_SHARE = 0.01
DELAY_DEADLINE = 30.0  # seconds an awaited match may take before the bench calls it lost


def topic_words(records: list[dict]) -> list[str]:
    """Title words that name a topic rather than fill a sentence: in at least two articles and at most TOPIC_SHARE
    of them, title or body (an analyst watches a name or a subject, not a word like "التي")."""
    frequency = Counter(word for r in records for word in set(WORD.findall(f"{r['title']} {r['body']}")))
    titles = {word for r in records for word in WORD.findall(r["title"])}
    return sorted(w for w in titles if 2 <= frequency[w] <= max(2, TOPIC_SHARE * len(records)))


def saved_searches(records: list[dict], count: int, seed: int = 11) -> list[tuple[str, dict]]:
    """(query, filters) pairs drawn from the articles' words, in the shapes analysts save."""
    rng = random.Random(seed)
    words = topic_words(records)
    sources = sorted({r["source"] for r in records if r.get("source")})
    searches = []
    for _ in range(count):
        shape = rng.random()
        if shape < 0.45:
            query, filters = rng.choice(words), {}
        elif shape < 0.6:
            query, filters = f"{rng.choice(words)} {rng.choice(words)}", {}
        elif shape < 0.7:
            query, filters = f'"{rng.choice(words)} {rng.choice(words)}"', {}
        elif shape < 0.8:
            query, filters = f"{rng.choice(words)} NOT {rng.choice(words)}", {}
        elif shape < 0.9:
            query, filters = rng.choice(words), {"source": [rng.choice(sources)]}
        else:
            month = rng.randint(1, 12)
            query, filters = rng.choice(words), {"from": f"2018-{month:02d}-01", "to": f"2018-{month:02d}-28"}
        searches.append((query, filters))
    return searches


def save_all(store: AlertStore, searches: list[tuple[str, dict]]) -> None:
    store.ensure()
    for n, (query, filters) in enumerate(searches):
        wordings, _ = query_wordings(search_request(query, filters), query_parser.parse(query), {})
        store.create(f"bench-owner-{n % 20}", f"saved {n}", query, filters, wordings, refresh=False)
    store.client.indices.refresh(index=store.alerts_index)


class MatchingTimes:
    """Seconds spent in the store's percolate and record_matches calls, by alias, to show where matching's cost goes."""

    def __init__(self):
        self.seconds: dict[tuple[str, str], float] = {}
        for name in ("percolate", "record_matches"):
            setattr(AlertStore, name, self._timed(name, getattr(AlertStore, name)))

    def _timed(self, name: str, method):
        def timed(store: AlertStore, *args, **kwargs):
            started = time.perf_counter()
            try:
                return method(store, *args, **kwargs)
            finally:
                key = (store.alias, name)
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started

        return timed

    def of(self, alias: str, name: str) -> float:
        return self.seconds.get((alias, name), 0.0)


def match_delays(client, alias: str, store: AlertStore, template: dict, count: int) -> list[float]:
    """Seconds from calling ingest for one article to reading its match, for count articles, one at a time."""
    delays = []
    for n in range(count):
        token = f"benchtoken{n}x{random.randrange(10**9)}"
        wordings, _ = query_wordings(search_request(token, {}), query_parser.parse(token), {})
        alert, _ = store.create("bench-delay", token, token, {}, wordings)
        article = {**template, "id": f"delay-{token}", "title_en": f"{template['title_en']} {token}"}
        started = time.perf_counter()
        ingest([(1, article)], client, alias, pretranslated=True)
        while store.matches(alert.id)[0] == 0:
            if time.perf_counter() - started > DELAY_DEADLINE:
                raise SystemExit(f"no match recorded {DELAY_DEADLINE:.0f}s after ingest")
            time.sleep(0.02)  # polling for the match, against a deadline
        delays.append(time.perf_counter() - started)
    return delays


def embedded_windows(encoder, count: int) -> list[list[dict]]:
    """count windows of news articles as the write path hands them to matching: their Arabic sentences with vectors
    (the English side is left out: matching by meaning reads the vectors, the filters only title, body and dates)."""
    from service.index import vectors
    from service.text.normalize import normalize_text
    from service.text.segment import split_sentences

    articles = news_articles(count * WINDOW_RECORDS)
    documents = []
    for n, article in enumerate(articles):
        body = normalize_text(article["body"])
        sentences = [
            {"ar": body[start:end], "en": "", "position": i} for i, (start, end) in enumerate(split_sentences(body))
        ]
        documents.append(
            {
                "id": article["id"],
                "title": article["title"],
                "body": article["body"],
                "source": article.get("source") or f"outlet {n % 7}",
                "published": f"2018-{n % 12 + 1:02d}-{n % 27 + 1:02d}T09:00:00Z",
                "language": "ar",
                "sentences": sentences,
            }
        )
    embedded = vectors.embed_documents(encoder, documents)
    return [embedded[n : n + WINDOW_RECORDS] for n in range(0, len(embedded), WINDOW_RECORDS)]


def meaning_cost(args) -> None:
    """Per window: seconds to read the saved vectors, score them, percolate the candidates' filters; beside words."""
    from service.alerts.matching import alert_vector
    from service.embedding import open_encoder

    settings = Settings.from_env()
    encoder = open_encoder(settings)
    if encoder is None:
        raise SystemExit("ENCODER is off: nothing to measure")
    counts = [int(n) for n in args.alerts.split(",") if int(n)]
    started = time.perf_counter()
    windows = embedded_windows(encoder, args.windows)
    sentences = sum(len(d["sentences"]) for w in windows for d in w)
    print(
        f"{len(windows)} windows of {WINDOW_RECORDS} articles, {sentences} sentences, embedded in "
        f"{time.perf_counter() - started:.0f} s by {encoder.encoder_id}; floor {settings.meaning_floor}"
    )
    records = [{"title": d["title"], "body": d["body"], "source": d["source"]} for w in windows for d in w]
    searches = saved_searches(records, max(counts))
    with local_node("bench-alerts", args.heap) as local:
        client = make_client(Settings(opensearch_urls=(local.url,)), timeout=120)
        print(
            f"{'saved searches':>15} {'read s':>7} {'score s':>8} {'filters s':>10} {'meaning s':>10} {'words s':>8} {'(alert, article) by meaning':>28}"
        )
        for count in counts:
            alias = ALIAS.format(f"meaning-{count}")
            lifecycle.delete(client, alias)
            client.indices.delete(index=f"{alias}-alert*")
            store = AlertStore(client, alias)
            store.ensure()
            for n, (query, filters) in enumerate(searches[:count]):
                wordings, _ = query_wordings(search_request(query, filters), query_parser.parse(query), {})
                vector = alert_vector(encoder, query)
                store.create(
                    f"bench-owner-{n % 20}", f"saved {n}", query, filters, wordings, refresh=False, meaning=vector
                )
            client.indices.refresh(index=store.alerts_index)
            times = {"read": [], "score": [], "filters": [], "meaning": [], "words": []}
            pairs = 0
            for window in windows:
                t0 = time.perf_counter()
                saved = store.saved_meanings()
                t1 = time.perf_counter()
                candidates = meaning_matches({a.alert_id: a.vector for a in saved}, window, settings.meaning_floor)
                t2 = time.perf_counter()
                reads = {a.alert_id: a.filters_read for a in saved}
                filtered = {a: slots for a, slots in candidates.items() if reads[a] != "nothing"}
                store.percolate_filters(window, filtered, {a for a in filtered if reads[a] == "text"})
                t3 = time.perf_counter()
                found = alert_matching.by_meaning(store, window, None, settings.meaning_floor)
                t4 = time.perf_counter()
                store.percolate(window)
                t5 = time.perf_counter()
                pairs += sum(len(slots) for _, slots in found.values())
                for name, seconds in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                    times[name].append(seconds)
            medians = {name: statistics.median(values) for name, values in times.items()}
            print(
                f"{count:>15} {medians['read']:>7.3f} {medians['score']:>8.3f} {medians['filters']:>10.3f}"
                f" {medians['meaning']:>10.3f} {medians['words']:>8.3f} {pairs / len(windows):>28.0f}"
            )
            lifecycle.delete(client, alias)
            client.indices.delete(index=f"{alias}-alert*")
        print("medians per window; meaning = by_meaning whole (read + score + filters), words = the words' percolate")
        print(f"peak RSS {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000, help="news articles ingested into each alias")
    parser.add_argument(
        "--corpus", type=int, default=3000, help="articles in the pre-translated cache (bench/search.py's; built once)"
    )
    parser.add_argument("--alerts", default="0,100,1000", help="saved-search counts compared, comma-separated")
    parser.add_argument("--rounds", type=int, default=6, help="rounds the articles are cut into (ABAB)")
    parser.add_argument("--delays", type=int, default=10, help="single-article ingests timed to their match")
    parser.add_argument("--heap", default="1g", help="the bench node's Java heap")
    parser.add_argument("--meaning", action="store_true", help="measure matching by meaning per window instead")
    parser.add_argument("--windows", type=int, default=3, help="with --meaning: windows of new articles measured")
    add_model_options(parser, size="tiny")
    args = parser.parse_args()
    if args.meaning:
        if args.alerts == parser.get_default("alerts"):
            args.alerts = "100,1000"
        return meaning_cost(args)
    counts = [int(n) for n in args.alerts.split(",")]

    model_dir = bench_model_dir(args)
    print(f"{model_line(model_dir)}; its English is what the articles carry")
    corpus: Path = pretranslated_corpus(max(args.articles, args.corpus), model_dir)
    records = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()][: args.articles]
    searches = saved_searches(records, max(counts))
    with local_node("bench-alerts", args.heap) as local:
        client = make_client(Settings(opensearch_urls=(local.url,)), timeout=120)
        stores = {}
        for count in counts:
            alias = ALIAS.format(count)
            lifecycle.delete(client, alias)
            client.indices.delete(index=f"{alias}-alert*")
            lifecycle.create(client, alias)
            stores[count] = AlertStore(client, alias)
            save_all(stores[count], searches[:count])
        size = -(-len(records) // args.rounds)
        seconds = dict.fromkeys(counts, 0.0)
        matching = MatchingTimes()
        for round_ in range(args.rounds):
            batch = list(enumerate(records[round_ * size : (round_ + 1) * size], 1))
            order = counts[round_ % len(counts) :] + counts[: round_ % len(counts)]
            for count in order:
                started = time.perf_counter()
                ingest(batch, client, ALIAS.format(count), pretranslated=True)
                seconds[count] += time.perf_counter() - started
        print(f"{len(records)} articles per alias, {args.rounds} rounds, alternating; peak RSS {peak_rss_mb():.0f} MB")
        print(
            f"{'saved searches':>15} {'articles/s':>11} {'time vs none':>13} {'stories matched':>16}"
            f" {'percolate s':>12} {'record s':>9} {'ingest s':>9}"
        )
        for count in counts:
            store = stores[count]
            client.indices.refresh(index=store.matches_index)
            entries = client.count(index=store.matches_index)["count"] if count else 0
            ratio = seconds[count] / seconds[counts[0]]
            alias = ALIAS.format(count)
            print(
                f"{count:>15} {len(records) / seconds[count]:>11.1f} {ratio:>12.2f}x {entries:>16}"
                f" {matching.of(alias, 'percolate'):>12.1f} {matching.of(alias, 'record_matches'):>9.1f}"
                f" {seconds[count]:>9.1f}"
            )
        if args.delays:
            largest = max(counts)
            delays = match_delays(client, ALIAS.format(largest), stores[largest], records[0], args.delays)
            print(
                f"ingest → match readable, {largest} saved searches, {len(delays)} articles: "
                f"median {statistics.median(delays) * 1000:.0f} ms, max {max(delays) * 1000:.0f} ms "
                "(includes the matches index's 1 s refresh)"
            )
        print(f"peak RSS {peak_rss_mb():.0f} MB (this process; the node is Java, heap {args.heap})")


if __name__ == "__main__":
    main()
