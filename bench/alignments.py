"""What word alignments (MT_ALIGNMENTS) cost: translation throughput and index size, each with them on and off.

(a) throughput: the pipeline on news articles with the generated `base` model (opus-mt-ar-en's dimensions),
    outputs forced to bench/translate.py's lengths, alignments off and on in alternating rounds (the order
    flips each round), so drift in the machine's load falls on both alike; the median of the rounds is shown.
(b) index size: the same news articles translated by the generated tiny model (beam 1) and ingested into two
    fresh indices on the local node, one with alignments and one without; store size after a force merge to
    one segment, per 1,000 articles.
"""

from __future__ import annotations

import argparse
import statistics
import time

import sentencepiece as spm
from common import BENCH_MODELS, base_model_dir, news_articles
from translate import FixedLengthTranslator, build_workload

from service.config import Settings
from service.index import lifecycle, node
from service.index.client import make_client
from service.index.node import local_node
from service.ingest import ingest
from service.modelstore.generate import generate
from service.pipeline import translate_articles
from service.runtime import tune_malloc
from service.translation.engine import Translator

ALIAS = "bench-alignments"
TICO_SENTENCES = 40


def throughput(articles: int, rounds: int) -> dict[bool, list[float]]:
    """Output tokens/s of the pipeline per round, by whether alignments are on."""
    model_dir = base_model_dir()
    translators = {
        on: Translator(model_dir, Settings(model_dir=model_dir, memory_enabled=False, alignments=on))
        for on in (False, True)
    }
    target_sp = spm.SentencePieceProcessor(model_file=str(model_dir / "target.spm"))
    items, lengths, _ = build_workload(translators[False], target_sp, TICO_SENTENCES, articles)
    output_tokens = sum(lengths.values())
    print(
        f"(a) workload: {TICO_SENTENCES} tico19 lines + {articles} news articles, {len(lengths)} MT sentences, {output_tokens} output tokens"
    )
    rates: dict[bool, list[float]] = {False: [], True: []}
    for number in range(rounds + 1):  # round 0 warms both up and is not counted
        for on in (False, True) if number % 2 else (True, False):
            fixed = FixedLengthTranslator(translators[on], lengths)
            started = time.perf_counter()
            results = list(translate_articles(enumerate(items), fixed))
            elapsed = time.perf_counter() - started
            assert all(isinstance(r, dict) for _, r in results)
            if number:
                rates[on].append(output_tokens / elapsed)
    return rates


def index_sizes(articles: int) -> dict[bool, int]:
    """Store bytes of the news articles indexed with and without alignments (one segment each)."""
    settings = Settings.from_env()
    node.start(local_node(settings))
    client = make_client(settings, timeout=300)
    model_dir = BENCH_MODELS / "tiny"
    if not (model_dir / "manifest.json").is_file():
        generate("tiny", model_dir)
    records = news_articles(articles)
    sizes = {}
    for on in (False, True):
        translator = Translator(
            model_dir,
            Settings(model_dir=model_dir, beam_size=1, decode_length_ratio=1.0, decode_length_extra=2, alignments=on),
        )
        alias = f"{ALIAS}-{'on' if on else 'off'}"
        lifecycle.delete(client, alias)
        lifecycle.create(client, alias)
        report = ingest(enumerate(records), client, alias, translator, window=200)
        client.indices.forcemerge(index=alias, max_num_segments=1, request_timeout=600)
        client.indices.refresh(index=alias)
        store = client.indices.stats(index=alias, metric="store")["_all"]["primaries"]["store"]["size_in_bytes"]
        sizes[on] = store * 1000 // max(1, report.indexed)
        lifecycle.delete(client, alias)
    return sizes


def main() -> None:
    tune_malloc()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=8, help="news articles for the throughput rounds")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each setting")
    parser.add_argument("--index-articles", type=int, default=1000, help="news articles for the index size")
    parser.add_argument("--skip-index", action="store_true", help="throughput only (no OpenSearch node)")
    args = parser.parse_args()

    rates = throughput(args.articles, args.rounds)
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    for setting, values in (("off", rates[False]), ("on ", rates[True])):
        print(f"    alignments {setting}: " + "  ".join(f"{v:7.1f}" for v in values) + " output tokens/s")
    print(f"(a) median: off {off:.1f}, on {on:.1f} output tokens/s; on/off = {on / off:.3f}")
    if not args.skip_index:
        sizes = index_sizes(args.index_articles)
        print(
            f"(b) index size per 1,000 articles: off {sizes[False] / 1e6:.2f} MB, on {sizes[True] / 1e6:.2f} MB; "
            f"on/off = {sizes[True] / sizes[False]:.3f}"
        )


if __name__ == "__main__":
    main()
