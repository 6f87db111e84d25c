"""Hybrid search's cost, side by side in one run: query latency lexical vs hybrid, ingest with and without vectors,
and the serving process's peak RSS.

Real Arabic news from ../shared (ANT) goes through the write path with the generated tiny MT model (random
weights, decoding held to the input's length) in windows, each window into two aliases in turn, the order
alternating: one without vectors, one with every sentence embedded by ENCODER (USE by default). That gives
ingest articles/s both ways on the same articles, the embedding's cost per article, and from it the slowdown
derived for the real MT model (its cost per article: bench/encoders.py's MT_ARTICLES_PER_CORE_SECOND, from
docs/scaling.md; derived, not measured).

Then two real servers (`serve`: gunicorn, 1 worker, the demo model, MT memory and rate limits off) search the
alias with vectors: "lexical" with ENCODER=off (BM25 on both sides, and the names' spellings), "hybrid" with the
encoder (the same, plus the k-NN meaning channel). Each client keeps one HTTP/1.1 connection and sends GET
/api/v1/search, the path analysts use. The queries mix English keywords (ud_pud's English news sentences), Arabic
keywords (the indexed titles) and names in English and in Arabic. For 1, 4 and 16 clients each round runs both
servers, the order alternating (the machine is shared and noisy); p50 and p99 are over every round's latencies.
Target: hybrid's p99 at 4 clients at most 1.5x lexical's. Peak RSS: each server's processes (VmHWM, master and
worker summed) after the passes, and a fresh process's after loading the app alone, then with the encoder, then
with arabnamer.

    OMP_NUM_THREADS=1 .venv/bin/python bench/hybrid.py [--articles 3000] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from api import Server, control, machine, request
from common import PROJECT_ROOT, free_port, generated_model_dir, local_node, news_articles, read_lines, shared_file
from encoders import MT_ARTICLES_PER_CORE_SECOND
from search import percentile

from service.config import Settings
from service.embedding import open_encoder
from service.index import lifecycle, node
from service.index.client import make_client
from service.ingest import IndexTarget, machine_translation, write_articles
from service.translation.engine import Translator

ALIAS = "bench-hybrid"  # with vectors: both servers search it
WORDS_ALIAS = "bench-hybrid-words"  # the same articles without vectors, for the ingest comparison only
CLIENTS = (1, 4, 16)
SERVER_THREADS = 32  # more than the most clients, so no request waits for a thread
WORD = re.compile(r"[^\W\d_]{5,}")
ENGLISH_NAMES = (
    "Trump", "Putin", "Erdogan", "Macron", "Netanyahu", "Assad", "Merkel", "Rouhani", "Khamenei", "Salah", "Messi",
    "Ronaldo", "Abbas", "Sisi", "Haftar", "Maduro", "Pompeo", "Khashoggi", "Hariri", "Nasrallah", "Guterres",
    "Bolton", "Tillerson", "Zidane", "Kim Jong Un",
)  # fmt: skip
ARABIC_NAMES = (
    "ترامب", "ترمب", "بوتين", "أردوغان", "اردوغان", "ماكرون", "نتنياهو", "الأسد", "ميركل", "روحاني", "خامنئي",
    "صلاح", "ميسي", "رونالدو", "عباس", "السيسي", "حفتر", "مادورو", "بومبيو", "خاشقجي", "الحريري", "نصر الله",
    "غوتيريش", "بولتون", "زيدان",
)  # fmt: skip
# A fresh process's peak RSS after loading what a serving process loads (create_app: the composition root, the
# model, the encoder), then arabnamer's transliterators as the names' warm-up does.
RSS_PROBE = """
import resource, sys
from service.config import Settings
from service.embedding import open_encoder
from service.web import create_app
create_app()
encoder = open_encoder(Settings.from_env())  # the one the app's services hold, loaded on its first use
if encoder is not None:
    encoder.encode_queries(["query"])
if sys.argv[1] == "names":
    from service.names.english import arabnamer_available
    arabnamer_available()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def tiny_translator() -> Translator:
    """The generated tiny model, decoding held to about the input's length (random weights never stop)."""
    model_dir = generated_model_dir("tiny")
    settings = Settings(
        model_dir=model_dir, beam_size=1, decode_length_ratio=1.0, decode_length_extra=2, memory_enabled=False
    )
    return Translator(model_dir, settings)


class TimedEncoder:
    """The encoder, with the seconds its passages took summed, wall and CPU: the embedding's own share of the ingest.
    CPU time is the process's, the writer waiting meanwhile: on a busy machine it is what the encoding costs, where
    the wall time also counts the other processes' turns."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.encoder_id, self.dimension = encoder.encoder_id, encoder.dimension
        self.seconds = self.cpu_seconds = 0.0

    def encode_queries(self, texts):
        return self.encoder.encode_queries(texts)

    def encode_passages(self, texts):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return self.encoder.encode_passages(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.process_time() - cpu


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def ingest_both(client, records: list[dict], encoder: TimedEncoder, window: int, node_pid: int) -> dict:
    """{mode: (wall seconds, the node's CPU seconds)} of writing every window without and with vectors, the order
    alternating by window."""
    translate = machine_translation(tiny_translator())
    targets = {
        "without vectors": IndexTarget(client, WORDS_ALIAS),
        "with vectors": IndexTarget(client, ALIAS, encoder=encoder),
    }
    seconds = {name: [0.0, 0.0] for name in targets}
    for number, start in enumerate(range(0, len(records), window)):
        chunk = list(enumerate(records[start : start + window], start + 1))
        for name in list(targets)[:: 1 if number % 2 == 0 else -1]:
            started, node_cpu = time.perf_counter(), cpu_seconds(node_pid)
            write_articles(chunk, targets[name], translate)
            seconds[name][0] += time.perf_counter() - started
            seconds[name][1] += cpu_seconds(node_pid) - node_cpu
        print(f"  ingested {start + len(chunk)}/{len(records)}", file=sys.stderr)
    return seconds


def make_queries(records: list[dict], keywords: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, query): English and Arabic keywords (one to three words of one sentence or title), and names."""
    rng = random.Random(seed)
    english_lines = read_lines(shared_file("data", "parallel", "ud_pud", "en.txt"))
    queries = []
    for _ in range(keywords):
        words = [w.lower() for w in WORD.findall(rng.choice(english_lines))] or ["government"]
        queries.append(("English keywords", " ".join(rng.sample(words, min(len(words), rng.randint(1, 3))))))
        words = WORD.findall(rng.choice(records)["title"]) or ["الحكومة"]
        queries.append(("Arabic keywords", " ".join(rng.sample(words, min(len(words), rng.randint(1, 3))))))
    queries += [("English names", name) for name in ENGLISH_NAMES]
    queries += [("Arabic names", name) for name in ARABIC_NAMES]
    rng.shuffle(queries)
    return queries


def server_env(local_url: str, encoder: str) -> dict[str, str]:
    return {
        **os.environ,
        "OPENSEARCH_URL": local_url,
        "OPENSEARCH_INDEX": ALIAS,
        "MT_MODEL_DIR": str(generated_model_dir("tiny")),
        "MT_MEMORY": "off",
        "RATE_LIMIT": "off",
        "JOBS_WORKERS": "0",
        "ENCODER": encoder,
        "OMP_NUM_THREADS": "1",
        "OPENSEARCH_TIMEOUT": "60",  # a shared machine's stalls are measured as latency, not turned into 503s
    }


def timed_pass(port: int, queries: list[tuple[str, str]], clients: int) -> tuple[float, list[float]]:
    """(queries per second, each query's latency in ms, in the queries' order) of one pass with this many clients."""

    def timed(query: tuple[str, str]) -> float:
        path = "/api/v1/search?" + urllib.parse.urlencode({"q": query[1], "size": 10})
        started = time.perf_counter()
        request(port, "GET", path)
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = list(pool.map(timed, queries))
    return len(queries) / (time.perf_counter() - started), latencies


def hits_shown(port: int, queries: list[tuple[str, str]]) -> tuple[float, float]:
    """(hits a page shows on average, the share of queries that find nothing): what each server has to render."""
    counts = [
        len(control(port, "GET", "/api/v1/search?" + urllib.parse.urlencode({"q": text, "size": 10}))["hits"])
        for _, text in queries
    ]
    return sum(counts) / len(counts), sum(1 for count in counts if count == 0) / len(counts)


def searched_by(port: int, query: str) -> list[str]:
    """The channels one search used (query.searched's `by`), to show the hybrid server really searched by meaning."""
    answer = control(port, "GET", "/api/v1/search?" + urllib.parse.urlencode({"q": query}))
    return sorted({wording["by"] for wording in answer["query"]["searched"]})


def component_rss(names: bool, encoder: str) -> float:
    with tempfile.TemporaryDirectory() as jobs:
        env = {**server_env("http://127.0.0.1:9", encoder), "JOBS_DB": f"{jobs}/jobs.db"}
        command = [sys.executable, "-c", RSS_PROBE, "names" if names else "-"]
        out = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return float(out.split()[-1])


def measure_search(local_url: str, queries: list[tuple[str, str]], rounds: int) -> None:
    servers = {}
    for mode, encoder in (("lexical", "off"), ("hybrid", "use")):
        servers[mode] = Server(server_env(local_url, encoder), free_port(), 1, SERVER_THREADS, f"server-{mode}.log")
    try:
        for mode, server in servers.items():  # warm-up: arabnamer, the spellings, the encoder, OpenSearch's caches
            server.wait_idle()  # the names' warm-up thread first: a search racing it loads arabnamer a second time
            timed_pass(server.port, queries, 1)
            by = ", ".join(searched_by(server.port, "Trump"))
            shown, empty = hits_shown(server.port, queries)
            print(f"{mode} server: searches by {by} (query: Trump); {shown:.1f} hits a page, {empty:.0%} find none")
        table: dict[tuple[str, int], list[float]] = {}
        rate: dict[tuple[str, int], float] = {}
        for round_ in range(rounds):
            for clients in CLIENTS:
                for mode in list(servers)[:: 1 if (round_ + clients) % 2 == 0 else -1]:
                    per_second, latencies = timed_pass(servers[mode].port, queries, clients)
                    table.setdefault((mode, clients), []).extend(latencies)
                    rate[(mode, clients)] = rate.get((mode, clients), 0.0) + per_second / rounds
            print(f"  round {round_ + 1}/{rounds} done", file=sys.stderr)
        print(
            "\n| clients | lexical p50 | lexical p99 | hybrid p50 | hybrid p99 | p99 hybrid/lexical "
            "| queries/s lexical | queries/s hybrid |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for clients in CLIENTS:
            lexical, hybrid = table[("lexical", clients)], table[("hybrid", clients)]
            print(
                f"| {clients} | {percentile(lexical, 50):.1f} ms | {percentile(lexical, 99):.1f} ms "
                f"| {percentile(hybrid, 50):.1f} ms | {percentile(hybrid, 99):.1f} ms "
                f"| {percentile(hybrid, 99) / percentile(lexical, 99):.2f}x "
                f"| {rate[('lexical', clients)]:.1f} | {rate[('hybrid', clients)]:.1f} |"
            )
        print("\nat 4 clients, by kind of query (p50 / p99, ms):")
        kinds = sorted({kind for kind, _ in queries})
        for kind in kinds:
            cells = []
            for mode in servers:
                picked = [ms for n, ms in enumerate(table[(mode, 4)]) if queries[n % len(queries)][0] == kind]
                cells.append(f"{mode} {percentile(picked, 50):.1f} / {percentile(picked, 99):.1f}")
            print(f"  {kind:<17} " + "   ".join(cells))
        print("\npeak RSS of the serving processes (gunicorn master + worker, VmHWM):")
        for mode, server in servers.items():
            print(f"  {mode}: {server.peak_rss_mb():.0f} MB")
    finally:
        for server in servers.values():
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=3000, help="ANT news articles ingested (each alias)")
    parser.add_argument("--window", type=int, default=100, help="articles a write_articles call takes")
    parser.add_argument("--keywords", type=int, default=100, help="English and Arabic keyword queries, each")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the latency passes (both modes each)")
    parser.add_argument("--heap", default="1g", help="the bench node's Java heap")
    parser.add_argument("--quick", action="store_true", help="a short run: 100 articles, 20 keywords each, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.articles, args.keywords, args.rounds, args.window = 100, 20, 1, 50
    settings = Settings.from_env()
    encoder = open_encoder(settings)
    if encoder is None:
        sys.exit("error: hybrid search needs an encoder: run with ENCODER=use (the default) or e5")
    load = os.getloadavg()
    print(f"{machine()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    records = news_articles(args.articles)
    with local_node("bench-hybrid", args.heap) as local:
        client = make_client(replace(settings, opensearch_urls=(local.url,)), timeout=120)
        for alias in (ALIAS, WORDS_ALIAS):
            lifecycle.delete(client, alias)
        encoder = TimedEncoder(encoder)
        seconds = ingest_both(client, records, encoder, args.window, node.running_pid(local))
        client.indices.refresh(index=f"{ALIAS},{WORDS_ALIAS}")
        stored = client.count(index=ALIAS)["count"]
        print(
            f"\ningest of {len(records)} ANT articles ({stored} stored), tiny generated MT model, {encoder.encoder_id}"
        )
        print("| ingest | articles/s | seconds | the node's CPU an article |")
        print("|---|---|---|---|")
        for name, (spent, node_cpu) in seconds.items():
            print(f"| {name} | {len(records) / spent:.2f} | {spent:.1f} | {node_cpu / len(records) * 1000:.0f} ms |")
        extra = (seconds["with vectors"][0] - seconds["without vectors"][0]) / len(records)
        storing = (seconds["with vectors"][1] - seconds["without vectors"][1]) / len(records)
        encoding, encoding_cpu = encoder.seconds / len(records), encoder.cpu_seconds / len(records)
        real_mt = 1 / MT_ARTICLES_PER_CORE_SECOND  # core-seconds an article
        print(
            f"with vectors: {extra * 1000:.0f} ms more an article (wall), of which encoding {encoding * 1000:.0f} ms "
            f"wall, {encoding_cpu * 1000:.0f} ms CPU (one thread); storing the vectors (bulk, HNSW) costs the node "
            f"{storing * 1000:.0f} ms CPU more"
        )
        print(
            f"derived, not measured: the real MT model costs {real_mt:.2f} core-seconds an article (docs/scaling.md); "
            f"encoding's CPU adds {encoding_cpu / real_mt:+.1%} to it (target: at most +10%), encoding and storing "
            f"{(encoding_cpu + storing) / real_mt:+.1%}"
        )
        queries = make_queries(records, args.keywords)
        print(f"\n{len(queries)} queries a pass, {args.rounds} rounds, through GET /api/v1/search on gunicorn")
        measure_search(local.url, queries, args.rounds)
    print("peak RSS of a fresh process loading the app (create_app, the demo model), MB:")
    for names in (False, True):
        cells = [f"ENCODER={enc} {component_rss(names, enc):.0f}" for enc in ("off", "use")]
        print(f"  {'with arabnamer' if names else 'without arabnamer':<18} " + "   ".join(cells))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")


if __name__ == "__main__":
    main()
