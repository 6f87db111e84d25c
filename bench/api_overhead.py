"""HTTP overhead: /api/v1/search and /api/v1/translate through gunicorn vs the same library calls, in one run.

bench/api.py measures serving capacity (concurrent clients against one request, and beside a bulk job).

Search runs over the news articles pre-translated by the tiny model (bench/search.py's corpus and
queries); translate sends tico19 sentences to the tiny model with the translation memory off, so
every request does real work. For 1, 4 and 16 concurrent clients on loopback it prints throughput
and p50/p99 latency of each path, and the HTTP overhead as 1 - (HTTP throughput / library
throughput). The target is at most 15% on search at 4 clients. Each client thread keeps one
HTTP/1.1 connection open, and gunicorn's access log is off.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from api import Server, request
from common import BENCH_MODELS, read_lines, shared_file
from search import DATA, percentile, pretranslated_corpus, write_queries

from service.config import Settings
from service.files import jsonl_records
from service.index import lifecycle, node
from service.index.client import make_client
from service.index.node import local_node
from service.ingest import ingest
from service.pipeline import translate_articles
from service.search.request import SearchRequest
from service.search.searcher import search
from service.translation.engine import Translator

ALIAS = "bench-api"
CLIENTS = (1, 4, 16)


def prepare_index(settings: Settings, articles: int) -> None:
    client = make_client(settings, timeout=120)
    if lifecycle.current_index(client, ALIAS) and client.count(index=ALIAS)["count"] > 0:
        return
    lifecycle.create(client, ALIAS)
    with open(pretranslated_corpus(articles), "rb") as handle:
        ingest(jsonl_records(handle), client, ALIAS, pretranslated=True, window=500)
    client.indices.refresh(index=ALIAS)


def start_server(settings: Settings, port: int, workers: int) -> Server:
    env = {
        **os.environ,
        "OPENSEARCH_URL": settings.opensearch_urls[0],
        "OPENSEARCH_INDEX": ALIAS,
        "MT_MODEL_DIR": str(settings.model_dir),
        "MT_MEMORY": "off",
        "RATE_LIMIT": "off",
        "JOBS_WORKERS": "0",
    }
    return Server(env, port, workers, 16 // workers)


def run(calls, clients: int) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) of running every call with this many clients."""

    def timed(call):
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(timed, calls))
    return len(calls) / (time.perf_counter() - started), latencies


def http_get(port: int, path: str):
    return lambda: request(port, "GET", path)


def http_post(port: int, path: str, body: dict):
    data = json.dumps(body).encode()
    return lambda: request(port, "POST", path, data, {"Content-Type": "application/json"})


def report(name: str, clients: int, http: tuple, library: tuple) -> None:
    (http_qps, http_ms), (lib_qps, lib_ms) = http, library
    print(
        f"{name:<9} {clients:>2} clients | HTTP {http_qps:6.1f}/s p50 {percentile(http_ms, 50):6.1f} "
        f"p99 {percentile(http_ms, 99):6.1f} ms | library {lib_qps:6.1f}/s p50 {percentile(lib_ms, 50):6.1f} "
        f"p99 {percentile(lib_ms, 99):6.1f} ms | overhead {1 - http_qps / lib_qps:+.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=22070, help="news articles in the search index")
    parser.add_argument("--texts", type=int, default=120, help="tico19 sentences for /translate")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (16 threads shared among them)")
    args = parser.parse_args()

    settings = replace(Settings.from_env(), model_dir=BENCH_MODELS / "tiny", memory_enabled=False)
    node.start(local_node(settings))
    prepare_index(settings, args.articles)
    queries = (
        write_queries(pretranslated_corpus(args.articles))
        if not (DATA / "queries.tsv").is_file()
        else [tuple(line.split("\t", 1)) for line in read_lines(DATA / "queries.tsv")]
    )
    texts = read_lines(shared_file("data", "parallel", "tico19_test", "src.ar"), args.texts)
    server = start_server(settings, args.port, args.workers)
    try:
        client = make_client(settings, maxsize=16)
        translator = Translator(settings.model_dir, settings)
        search_http = [
            http_get(args.port, "/api/v1/search?" + urllib.parse.urlencode({"q": q, "lang": lang}))
            for lang, q in queries
        ]
        search_lib = [
            lambda lang=lang, q=q: search(client, ALIAS, SearchRequest(q, lang=lang), None) for lang, q in queries
        ]
        translate_http = [http_post(args.port, "/api/v1/translate", {"text": t}) for t in texts]
        translate_lib = [lambda t=t: list(translate_articles([(0, {"body": t})], translator)) for t in texts]
        run(search_http[:50], 4), run(search_lib[:50], 4), run(translate_http[:8], 4)  # warm up both paths
        print(
            f"{len(queries)} search queries, {len(texts)} translate texts; gunicorn {args.workers} workers x "
            f"{16 // args.workers} threads; "
            f"tiny model, translation memory off"
        )
        for clients in CLIENTS:
            report("search", clients, run(search_http, clients), run(search_lib, clients))
        for clients in CLIENTS:
            report("translate", clients, run(translate_http, clients), run(translate_lib, clients))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
