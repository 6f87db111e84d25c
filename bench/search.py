"""Search benchmark on the local node: bulk indexing speed, size on disk, and search latency under load.

The news articles in ../shared/data/news are translated once by the generated tiny model (beam 1,
output about as long as the input) and cached as pre-translated JSONL, so the indexing measured here
is not bound by CPU MT. Then, in one run:
  - ingest --pretranslated into a fresh index: articles/s;
  - store size per article after a flush;
  - latency p50/p95/p99 of the search function (parse, OpenSearch, shaping hits) for 1, 4 and 16
    concurrent clients, over 200 English and 200 Arabic queries drawn from the indexed text with a
    fixed seed and written to bench/.data/queries.tsv, so they can be repeated.
  - each latency pass runs in four modes side by side, alternating: "off" (every article, the query in its
    own language only), "collapse" (one hit per story cluster, with its members), and "all on" (collapse,
    and both-way queries: each query also translated, ar-en or en-ar, and searched on the other side), and
    "all on, MT cached" (the same queries again: their translations come from the process's query cache, so
    what remains is the search's own cost).
    The query models are generated tiny ones labelled real so that search uses them; the query-translation
    cache is emptied before every other pass, so there every query pays its MT once. The ratios of p99 to "off" are
    printed (target: "all on" within 1.5x at 4 clients).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from common import BENCH_MODELS, PROJECT_ROOT, generated_model_dir, local_node, news_articles
from tqdm import tqdm

from service.config import Settings
from service.files import jsonl_records
from service.index import lifecycle
from service.index.client import make_client
from service.ingest import ingest
from service.modelstore.generate import write_opus_mt_dir
from service.modelstore.install import RELEASES, install_from_path
from service.pipeline import translate_articles
from service.search import searcher
from service.search.request import SearchRequest
from service.search.searcher import search
from service.translation.engine import Translator

DATA = PROJECT_ROOT / "bench" / ".data"
ALIAS = "bench-news"
CLIENTS = (1, 4, 16)
WORD = re.compile(r"[^\W\d_]{4,}")


def pretranslated_corpus(limit: int, model_dir: Path | None = None) -> Path:
    """The news articles with English from a tiny model (the plain one unless given), as --pretranslated JSONL
    (built once per model)."""
    model_dir = model_dir or generated_model_dir("tiny")
    named = "" if model_dir.name == "tiny" else f"{model_dir.name}-"  # the plain model's cache keeps its name
    path = DATA / f"news-pretranslated-{named}{limit}.jsonl"
    if path.is_file():
        return path
    settings = Settings(
        model_dir=model_dir, beam_size=1, decode_length_ratio=1.0, decode_length_extra=2, memory_enabled=False
    )
    translator = Translator(model_dir, settings)
    articles = news_articles(limit)
    DATA.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with open(partial, "w", encoding="utf-8") as out:
        results = translate_articles(enumerate(articles), translator)
        for _, result in tqdm(results, total=len(articles), desc="translating with the tiny model"):
            if not isinstance(result, dict):
                continue
            body = [s for s in result["sentences"] if s["field"] == "body"]
            out.write(
                json.dumps(
                    {
                        "id": result["id"],
                        "title": result["title"],
                        "title_en": result["title_en"],
                        "body": result["body"],
                        "source": result["source"],
                        "date": result["date"],
                        "category": result["category"],
                        "url": result["url"],
                        "model": result["translation"]["model"],
                        "sentences": [
                            {"source": s["source"], "target": s["target"], "score": s["score"]} for s in body
                        ],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    partial.rename(path)
    return path


def write_queries(corpus: Path, count: int = 200, seed: int = 7) -> list[tuple[str, str]]:
    """200 English and 200 Arabic queries of one to three words taken from the indexed text."""
    rng = random.Random(seed)
    english, arabic = [], []
    with open(corpus, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            english.extend(WORD.findall(record["title_en"])[:5])
            arabic.extend(WORD.findall(record["title"])[:5])
    queries = [("en", " ".join(rng.sample(english, rng.randint(1, 3)))) for _ in range(count)]
    queries += [("ar", " ".join(rng.sample(arabic, rng.randint(1, 3)))) for _ in range(count)]
    (DATA / "queries.tsv").write_text("".join(f"{lang}\t{q}\n" for lang, q in queries), encoding="utf-8")
    return queries


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def query_translators(settings: Settings) -> tuple[Translator, Translator]:
    """(ar-en, en-ar) tiny models for query translation, labelled real (demo false) so search uses their noise.

    Random weights rarely stop early, so their outputs run to the length limit: the MT cost is an upper bound.
    """
    translators = []
    for direction in ("ar-en", "en-ar"):
        model_dir = BENCH_MODELS / f"tiny-{direction}-query"
        if not (model_dir / "manifest.json").is_file():
            release = write_opus_mt_dir("tiny", BENCH_MODELS / f".release-{direction}", direction=direction)
            install_from_path(
                release,
                model_dir,
                name=f"bench-query-{direction}",
                direction=direction,
                target_token=RELEASES[direction].target_token,
            )
        translators.append(Translator(model_dir, settings))
    return translators[0], translators[1]


def latencies(
    settings: Settings, queries, clients: int, translators=(None, None), collapse=True, cached=False
) -> list[float]:
    client = make_client(settings, maxsize=clients)
    if not cached:
        searcher._machine_translation.cache_clear()  # every pass pays each query's MT once

    def timed(item):
        lang, text = item
        started = time.perf_counter()
        search(client, ALIAS, SearchRequest(text, lang=lang, size=10, collapse=collapse), *translators)
        return (time.perf_counter() - started) * 1000

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(timed, queries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=22070, help="news articles to index (all: 22070)")
    parser.add_argument("--heap", default="1g", help="the bench node's Java heap")
    args = parser.parse_args()

    corpus = pretranslated_corpus(args.articles)
    with local_node("bench-search", args.heap) as local:
        measure(replace(Settings.from_env(), opensearch_urls=(local.url,)), corpus)


def measure(settings: Settings, corpus: Path) -> None:
    client = make_client(settings, timeout=120)
    lifecycle.delete(client, ALIAS)
    lifecycle.create(client, ALIAS)

    with open(corpus, "rb") as handle:
        started = time.perf_counter()
        report = ingest(jsonl_records(handle), client, ALIAS, pretranslated=True, window=500)
        client.indices.refresh(index=ALIAS)
        indexing = time.perf_counter() - started
    client.indices.flush(index=ALIAS)
    stats = client.indices.stats(index=ALIAS, metric="store")["_all"]["primaries"]["store"]["size_in_bytes"]
    print(
        f"indexed {report.indexed} articles ({len(report.rejects)} rejected) in {indexing:.1f}s: "
        f"{report.indexed / indexing:.0f} articles/s"
    )
    print(f"size on disk: {stats / 1e6:.1f} MB, {stats / max(1, report.indexed) / 1024:.1f} KiB per article")

    queries = write_queries(corpus)
    both_ways = query_translators(settings)
    modes = {  # label: (query translators, collapse, query MT cached by the pass before)
        "off": ((None, None), False, False),
        "collapse": ((None, None), True, False),
        "all on": (both_ways, True, False),
        "all on, MT cached": (both_ways, True, True),
    }
    latencies(settings, queries, 4)  # warm-up: caches and JIT, not measured
    for clients in CLIENTS:
        p99 = {}
        for label, (translators, collapse, cached) in modes.items():
            started = time.perf_counter()
            times = latencies(settings, queries, clients, translators, collapse, cached)
            elapsed = time.perf_counter() - started
            p99[label] = percentile(times, 99)
            print(
                f"{label:18s}{clients:>2} clients: p50 {percentile(times, 50):6.1f} ms  "
                f"p95 {percentile(times, 95):6.1f} ms  p99 {p99[label]:6.1f} ms  "
                f"({len(times) / elapsed:.0f} queries/s, mean {statistics.mean(times):.1f} ms)"
            )
        ratios = ", ".join(f"{label} x{p99[label] / p99['off']:.2f}" for label in list(modes)[1:])
        print(f"   p99 against off at {clients} clients: {ratios}")
    print(f"queries: {DATA / 'queries.tsv'}")


if __name__ == "__main__":
    main()
