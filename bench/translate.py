"""Translation speed: the raw CTranslate2 ceiling vs this pipeline vs the per-sentence loop, in one run.

Inputs: Arabic sentences from ../shared/data/parallel/tico19_test and whole articles from
../shared/data/news, translated with a generated model (`base` by default: opus-mt-ar-en's dimensions).
By default it is the model that ends each output near a human length for its source (`model generate
--realistic-length`), and every figure counts the tokens each side actually decoded. With `--lengths
forced` it is the plain random model, which never emits </s>, so every output is forced to a fixed
length: a tico19 sentence's reference length in target tokens, and for news sentences (which have no
reference) their source length times tico19's target/source token ratio; every figure counts those
fixed output tokens, so work wasted on padding shows up as a lower rate.

  (a) ceiling: the best translate_batch configuration on pre-segmented, pre-tokenised input
  (b) pipeline: raw text in, detect + normalise + segment + SentencePiece + batching (memory off)
  (c) naive: one translate_batch call per sentence, as most Flask MT services do
  (d) peak RSS of this process during (b), before any other model is loaded

Each configuration gets one untimed warm-up batch first, so none pays the process's cold start.
The three ceiling configurations run once each and the fastest is taken; then (a)'s best configuration
and (b) alternate for --rounds paired rounds (who goes first alternating), and b/a is taken over those
rounds, so the machine's drift and the pick of the fastest configuration do not decide it.
"""

from __future__ import annotations

import argparse
import time

import ctranslate2
import sentencepiece as spm
from common import add_model_options, bench_model_dir, model_line, news_articles, peak_rss_mb, read_lines, shared_file

from service.config import Settings
from service.pipeline import prepare, translate_articles
from service.runtime import loaded_onto_huge_pages, tune_malloc
from service.translation.batching import plan_batches
from service.translation.engine import Translator

WARM_UP_SENTENCES = 16


class FixedLengthTranslator:
    """The pipeline's translator, with each sentence's output length fixed for random weights."""

    def __init__(self, translator: Translator, lengths: dict[str, int]):
        self.translator = translator
        self.lengths = lengths

    def __getattr__(self, name):
        return getattr(self.translator, name)

    def translate(self, sentences):
        return self.translator.translate(sentences, target_lengths=[self.lengths[s] for s in sentences])


def build_workload(translator: Translator, target_sp, sentences: int, articles: int):
    """Items for the pipeline, and each MT input sentence with its fixed output length."""
    sources = read_lines(shared_file("data", "parallel", "tico19_test", "src.ar"), sentences)
    references = read_lines(shared_file("data", "parallel", "tico19_test", "ref.en"), sentences)
    source_tokens = sum(translator.count_tokens(s) for s in sources)
    target_lengths = [len(target_sp.encode(r)) + 1 for r in references]
    ratio = sum(target_lengths) / source_tokens
    items = [{"id": f"tico-{i}", "body": s} for i, s in enumerate(sources)]
    items += [{"id": a["id"], "title": a["title"], "body": a["body"]} for a in news_articles(articles)]
    lengths: dict[str, int] = {}
    for index, item in enumerate(items):
        units = prepare(item, translator.settings.max_input_tokens, translator.count_tokens).units
        for unit in units:
            own = target_lengths[index] if index < len(sources) and len(units) == 1 else None
            lengths[unit.source] = own or max(1, round(ratio * translator.count_tokens(unit.source)))
    return items, lengths, ratio


def decoding_options(lengths: list[int] | None, batch: list[int], limit: int) -> dict:
    """Forced: the batch decodes exactly to its longest output. Realistic: the model stops; limit caps it."""
    if lengths is None:
        return {"max_decoding_length": limit}
    longest = max(lengths[i] for i in batch)
    return {"min_decoding_length": longest, "max_decoding_length": longest}


def ceiling(model_dir, tokens, lengths, limit, inter, intra, batching) -> float:
    """Output tokens/s of raw CTranslate2: batches sorted by length, all queued at once.

    batching is ("sentences", n) or ("tokens", budget); lengths (forced) or limit: decoding_options.
    """
    with loaded_onto_huge_pages():  # as the service's engine loads it: only the Python around the model differs
        model = ctranslate2.Translator(str(model_dir), compute_type="int8", inter_threads=inter, intra_threads=intra)
    kind, size = batching
    if kind == "tokens":
        batches = plan_batches([len(t) for t in tokens], size)
    else:
        order = sorted(range(len(tokens)), key=lambda i: (len(tokens[i]), lengths[i] if lengths else 0), reverse=True)
        batches = [order[start : start + size] for start in range(0, len(order), size)]
    warm_up = batches[-1]  # the shortest batch: pages in the allocator's memory before timing
    model.translate_batch([tokens[i] for i in warm_up], beam_size=4, **decoding_options(lengths, warm_up, limit))
    started = time.perf_counter()
    futures = []
    for batch in batches:
        futures += model.translate_batch(
            [tokens[i] for i in batch], asynchronous=True, beam_size=4, **decoding_options(lengths, batch, limit)
        )
    decoded = sum(len(future.result().hypotheses[0]) for future in futures)
    elapsed = time.perf_counter() - started
    del model
    return decoded / elapsed


def naive(model_dir, source_sp, sentences, lengths, limit) -> float:
    """Output tokens/s of one call per sentence, tokenising as it goes."""
    model = ctranslate2.Translator(str(model_dir), compute_type="int8", inter_threads=1, intra_threads=2)
    model.translate_batch(
        [source_sp.encode(sentences[0], out_type=str)], beam_size=4, **decoding_options(lengths, [0], limit)
    )
    started = time.perf_counter()
    decoded = 0
    for index, sentence in enumerate(sentences):
        result = model.translate_batch(
            [source_sp.encode(sentence, out_type=str)], beam_size=4, **decoding_options(lengths, [index], limit)
        )
        decoded += len(result[0].hypotheses[0])
    return decoded / (time.perf_counter() - started)


def main() -> None:
    tune_malloc()  # as `python -m service` does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200, help="tico19 sentences")
    parser.add_argument("--articles", type=int, default=10, help="news articles")
    parser.add_argument("--naive-sentences", type=int, default=40, help="sentences for the slow per-sentence loop")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds of (a)'s best configuration and (b)")
    add_model_options(parser)
    args = parser.parse_args()

    model_dir = bench_model_dir(args)
    forced = args.lengths == "forced"
    print(model_line(model_dir))
    settings = Settings(model_dir=model_dir, memory_enabled=False)
    translator = Translator(model_dir, settings)
    source_sp = spm.SentencePieceProcessor(model_file=str(model_dir / "source.spm"))
    target_sp = spm.SentencePieceProcessor(model_file=str(model_dir / "target.spm"))
    items, lengths, ratio = build_workload(translator, target_sp, args.sentences, args.articles)
    sentences = list(lengths)
    tokens = [translator.tokenize(s) for s in sentences]
    fixed = [lengths[s] for s in sentences] if forced else None
    limit = max(len(t) for t in tokens) * 2 + 10  # a cap the realistic-length model stays well under
    inter, intra = settings.threads
    print(
        f"workload: {args.sentences} tico19 lines + {args.articles} news articles = {len(sentences)} "
        f"MT sentences, {sum(len(t) for t in tokens)} source tokens, "
        + (f"{sum(fixed)} output tokens forced" if forced else "outputs as long as the model makes them")
        + f" (human target/source ratio {ratio:.2f}); beam 4, int8, {inter}x{intra} threads"
    )

    shortest = sorted(sentences, key=len)[:WARM_UP_SENTENCES]
    translator.translate(shortest, target_lengths=[lengths[s] for s in shortest] if forced else None)
    pipeline_translator = FixedLengthTranslator(translator, lengths) if forced else translator

    def pipeline_pass() -> float:
        decoded_before = translator.tokens_translated
        started = time.perf_counter()
        results = list(translate_articles(enumerate(items), pipeline_translator))
        assert all(isinstance(r, dict) for _, r in results), "every workload item must translate"
        return (translator.tokens_translated - decoded_before) / (time.perf_counter() - started)

    first_pipeline = pipeline_pass()
    pipeline_rss = peak_rss_mb()  # measured before any other model is loaded

    configs = [
        (inter, intra, ("sentences", 32)),
        (inter, intra, ("tokens", settings.batch_tokens)),
        (inter, intra, ("tokens", 1024)),
    ]
    ceilings = {c: ceiling(model_dir, tokens, fixed, limit, *c) for c in configs}
    best_config = max(ceilings, key=ceilings.get)
    for (i, j, (kind, size)), rate in ceilings.items():
        print(f"  ceiling inter={i} intra={j} batches of {size} {kind}: {rate:7.1f} tokens/s")
    print(f"  pipeline, first pass: {first_pipeline:7.1f} tokens/s")
    pipeline_rates, ceiling_rates = [], []
    for round_ in range(args.rounds):
        for side in ("ceiling", "pipeline") if round_ % 2 == 0 else ("pipeline", "ceiling"):
            if side == "ceiling":
                ceiling_rates.append(ceiling(model_dir, tokens, fixed, limit, *best_config))
            else:
                pipeline_rates.append(pipeline_pass())
        print(f"  round {round_ + 1}: ceiling {ceiling_rates[-1]:7.1f}, pipeline {pipeline_rates[-1]:7.1f} tokens/s")
    best, pipeline = sum(ceiling_rates) / args.rounds, sum(pipeline_rates) / args.rounds

    step = max(1, len(sentences) // args.naive_sentences)
    sample = sentences[::step][: args.naive_sentences]
    loop = naive(model_dir, source_sp, sample, [lengths[s] for s in sample] if forced else None, limit)

    print(
        f"(a) raw CTranslate2 ceiling (inter={best_config[0]} intra={best_config[1]} "
        f"{best_config[2][1]} {best_config[2][0]}, mean of {args.rounds} rounds): {best:7.1f} output tokens/s"
    )
    print(
        f"(b) pipeline end to end (mean of the same rounds): {pipeline:7.1f} output tokens/s   b/a = {pipeline / best:.2f}"
    )
    print(f"(c) per-sentence loop ({len(sample)} sentences): {loop:7.1f} output tokens/s   b/c = {pipeline / loop:.2f}")
    print(
        f"(d) peak RSS of the pipeline run: {pipeline_rss:.0f} MB ({args.model} model loaded; model.bin "
        f"{(model_dir / 'model.bin').stat().st_size / 1e6:.0f} MB)"
    )


if __name__ == "__main__":
    main()
