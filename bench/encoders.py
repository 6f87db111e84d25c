"""Sentence encoders across the language line: English queries against Arabic sentences, for each ENCODER.

On the line-aligned Arabic–English sets in ../shared/data/parallel (tico19, tatoeba's Standard Arabic lines,
ud_pud), each English line asks for its Arabic line among all the Arabic lines of its set, by exact cosine:
  (a) the English sentence;
  (b) 4 English keywords: the sentence's four longest words (rare words and names: what an analyst types), and
      separately its first four content words. Only sentences with at least four content words are asked.
Printed per set and encoder: recall@1, recall@10 and MRR, and each encoder's ratio to USE side by side.
e5+use is the two vectors side by side over √2 (service/embedding/models.py SummedEncoder): computed from the
parts' vectors, which is exactly what the summed encoder returns.

Cost, each encoder in its own process on one thread (OMP_NUM_THREADS=1 and OPENBLAS_NUM_THREADS=1 are set before
anything loads): load time, Arabic sentences encoded per second (200 tico19 sentences, and the first 40 news
articles of ../shared split as the write path splits them, in calls of 8 as a job's passages go through the
scheduler), the ingest slowdown that adds to the real MT model's cost per article, a keyword query's latency
(p50/p99, one call per query, as a search makes), and the process's peak RSS. The sets' vectors are saved in
bench/.data/encoders and reused by the next run; the costs are measured every time.

    .venv/bin/python bench/encoders.py [--lines 1000] [--encoders use,e5]
"""

from __future__ import annotations

import os

os.environ["OMP_NUM_THREADS"] = "1"  # before numpy or an encoder loads: one core per encoder, as in the service
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import json
import random
import re
import subprocess
import sys
import time

import numpy as np
from common import PROJECT_ROOT, news_articles, peak_rss_mb, read_lines, shared_file

from service.embedding.models import load_encoder
from service.text.normalize import normalize_text
from service.text.segment import split_sentences

DATA = PROJECT_ROOT / "bench" / ".data" / "encoders"
SETS = {  # name: (folder, Arabic file, English file)
    "tico19": ("tico19_test", "src.ar", "ref.en"),
    "tatoeba": ("tatoeba_v2021-08-07", "src.ar", "ref.en"),
    "ud_pud": ("ud_pud", "ar.txt", "en.txt"),
}
QUERY_KINDS = ("sentence", "4 longest words", "4 first content words")
LATENCY_QUERIES = 200
NEWS_ARTICLES = 40
SPEED_SENTENCES = 200  # tico19 Arabic sentences timed for passages/s
MT_ARTICLES_PER_CORE_SECOND = 0.75  # the real opus-mt-ar-en at beam 4: 1.5 articles/s per 2-core host (docs/scaling.md)
PASSAGE_CALL = 8  # scheduler.BULK_CHUNK_SENTENCES: the largest chunk in which a job's passages reach the model
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off
    on once only or other our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours yourself yourselves said says one two may might must
    shall us s t don let get got"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def content_words(sentence: str) -> list[str]:
    return [w for w in WORD.findall(sentence) if w.lower() not in STOPWORDS and not w.isdigit()]


def longest_words(sentence: str, count: int = 4) -> str:
    """The sentence's longest distinct content words, in sentence order."""
    words = list(dict.fromkeys(content_words(sentence)))
    chosen = set(sorted(words, key=len, reverse=True)[:count])
    return " ".join(w for w in words if w in chosen)


def first_words(sentence: str, count: int = 4) -> str:
    return " ".join(list(dict.fromkeys(content_words(sentence)))[:count])


def parallel_set(name: str, lines: int) -> tuple[list[str], list[str]]:
    """(Arabic, English) pairs of the set, repeated lines on either side dropped, at most `lines` (a seeded sample)."""
    folder, arabic_file, english_file = SETS[name]
    arabic = read_lines(shared_file("data", "parallel", folder, arabic_file))
    english = read_lines(shared_file("data", "parallel", folder, english_file))
    keep = range(len(arabic))
    if name == "tatoeba":  # Standard Arabic only: dialects and Latin script are not what the service reads
        labels = read_lines(shared_file("data", "parallel", folder, "src.labels"))
        keep = [i for i in keep if labels[i] == "ara"]
    seen_ar, seen_en, pairs = set(), set(), []
    for i in keep:
        ar, en = arabic[i].strip(), english[i].strip()
        if ar and en and ar not in seen_ar and en.lower() not in seen_en:
            seen_ar.add(ar)
            seen_en.add(en.lower())
            pairs.append((ar, en))
    if len(pairs) > lines:
        pairs = random.Random(20).sample(pairs, lines)
    return [p[0] for p in pairs], [p[1] for p in pairs]


def queries(english: list[str]) -> dict[str, tuple[list[int], list[str]]]:
    """Per query kind: (the indices of the lines asked for, the query texts)."""
    asked = [i for i, sentence in enumerate(english) if len(set(content_words(sentence))) >= 4]
    return {
        "sentence": (list(range(len(english))), english),
        "4 longest words": (asked, [longest_words(english[i]) for i in asked]),
        "4 first content words": (asked, [first_words(english[i]) for i in asked]),
    }


def news_sentences(count: int) -> list[list[str]]:
    """The first news articles of ../shared, each its title and body sentences as the write path splits them."""
    articles = []
    for article in news_articles(count):
        paragraphs = [normalize_text(article["title"]), *(normalize_text(p) for p in article["body"].split("\n"))]
        articles.append([p[a:b] for p in paragraphs if p for a, b in split_sentences(p)])
    return articles


def in_calls(encode, texts: list[str]) -> np.ndarray:
    """Rows of texts encoded PASSAGE_CALL at a time, as the scheduler hands a job's passages to the model."""
    return np.vstack([encode(texts[i : i + PASSAGE_CALL]) for i in range(0, len(texts), PASSAGE_CALL)])


def encode_sets(name: str, lines: int) -> dict:
    """In this process: encode every set with encoder `name` (vectors saved once and reused), then measure its costs."""
    started = time.perf_counter()
    encoder = load_encoder(name)
    load_seconds = time.perf_counter() - started
    keyword_queries = []
    for set_name in SETS:
        arabic, english = parallel_set(set_name, lines)
        asked = queries(english)
        keyword_queries.extend(text for kind in QUERY_KINDS[1:] for text in asked[kind][1])
        path = DATA / f"{name}-{set_name}-{lines}.npz"
        if path.is_file():
            continue
        vectors = {"passages": in_calls(encoder.encode_passages, arabic)}
        vectors.update(
            {kind.replace(" ", "_"): in_calls(encoder.encode_queries, texts) for kind, (_, texts) in asked.items()}
        )
        np.savez(path, **vectors)

    arabic = parallel_set("tico19", SPEED_SENTENCES)[0]
    started = time.perf_counter()
    in_calls(encoder.encode_passages, arabic)
    passage_seconds = time.perf_counter() - started
    news = news_sentences(NEWS_ARTICLES)
    started = time.perf_counter()
    for sentences in news:
        in_calls(encoder.encode_passages, sentences)
    news_seconds = time.perf_counter() - started
    latencies = []
    for text in random.Random(7).sample(keyword_queries, min(LATENCY_QUERIES, len(keyword_queries))):
        started = time.perf_counter()
        encoder.encode_queries([text])
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "encoder_id": encoder.encoder_id,
        "dimension": encoder.dimension,
        "load_s": load_seconds,
        "passages_per_s": len(arabic) / passage_seconds,
        "news_sentences_per_s": sum(map(len, news)) / news_seconds,
        "news_seconds_per_article": news_seconds / len(news),
        "news_words_per_sentence": sum(len(s.split()) for a in news for s in a) / sum(map(len, news)),
        "query_p50_ms": latencies[len(latencies) // 2],
        "query_p99_ms": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        "peak_rss_mb": peak_rss_mb(),
    }


def load_vectors(name: str, set_name: str, lines: int) -> dict[str, np.ndarray]:
    if "+" in name:  # SummedEncoder: the parts side by side over √n
        parts = [load_vectors(part, set_name, lines) for part in name.split("+")]
        scale = np.float32(1 / np.sqrt(len(parts)))
        return {key: np.hstack([p[key] for p in parts]) * scale for key in parts[0]}
    with np.load(DATA / f"{name}-{set_name}-{lines}.npz") as saved:
        return {key: saved[key] for key in saved.files}


def retrieval(query_rows: np.ndarray, wanted: list[int], passage_rows: np.ndarray) -> tuple[float, float, float]:
    """(recall@1, recall@10, MRR) of each query's own line among all the set's Arabic lines."""
    scores = query_rows @ passage_rows.T
    own = scores[np.arange(len(wanted)), wanted]
    ranks = 1 + (scores > own[:, None]).sum(axis=1)  # ties count for the wanted line
    return float(np.mean(ranks <= 1)), float(np.mean(ranks <= 10)), float(np.mean(1 / ranks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1000, help="pairs per set at most (a seeded sample)")
    parser.add_argument("--encoders", default="use,e5", help="encoders to measure, comma-separated (use, e5)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one encoder, in its own process
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    if args.child:
        print(json.dumps(encode_sets(args.child, args.lines)))
        return

    models = args.encoders.split(",")
    costs = {}
    for name in models:
        print(f"encoding the sets with {name}…", file=sys.stderr)
        child = subprocess.run(
            [sys.executable, __file__, "--child", name, "--lines", str(args.lines)],
            check=True,
            capture_output=True,
            text=True,
        )
        costs[name] = json.loads(child.stdout.splitlines()[-1])
    names = [*models, "+".join(reversed(models))] if len(models) == 2 else models
    base = names[0]

    print(f"\nretrieval: each English query against all Arabic lines of its set (exact cosine); ratios to {base}")
    header = "".join(f"{n:>22s}" for n in names)
    for set_name in SETS:
        english = parallel_set(set_name, args.lines)[1]
        asked = queries(english)
        vectors = {name: load_vectors(name, set_name, args.lines) for name in names}
        for kind in QUERY_KINDS:
            wanted = asked[kind][0]
            print(f"\n{set_name}, {kind} → Arabic sentence ({len(wanted)} queries among {len(english)} lines)")
            print(f"{'':8s}{header}")
            results = {n: retrieval(vectors[n][kind.replace(" ", "_")], wanted, vectors[n]["passages"]) for n in names}
            for column, metric in enumerate(("R@1", "R@10", "MRR")):
                cells = "".join(
                    f"{results[n][column]:>13.3f} (x{results[n][column] / max(results[base][column], 1e-9):.2f})"
                    for n in names
                )
                print(f"{metric:8s}{cells}")

    print("\ncost, one thread each (the sum loads and runs both: its costs add up)")
    for name in models:
        c = costs[name]
        print(
            f"{name:8s}{c['encoder_id']:48s} {c['dimension']:4d}-d  load {c['load_s']:4.1f} s  "
            f"{c['passages_per_s']:6.1f} Arabic sentences/s  keyword query p50 {c['query_p50_ms']:5.1f} ms "
            f"p99 {c['query_p99_ms']:5.1f} ms  peak RSS {c['peak_rss_mb']:4.0f} MB"
        )
    mt_seconds = 1 / MT_ARTICLES_PER_CORE_SECOND
    print(
        f"\nnews articles ({NEWS_ARTICLES}, title and body sentences, "
        f"{costs[models[0]]['news_words_per_sentence']:.0f} words a sentence), one thread; ingest slowed against the "
        f"real MT model's {mt_seconds:.2f} s an article per core (target: 10%)"
    )
    news_cost = {m: costs[m]["news_seconds_per_article"] for m in models}
    news_rate = {m: costs[m]["news_sentences_per_s"] for m in models}
    if len(models) == 2:
        news_cost[names[-1]] = sum(news_cost.values())
        news_rate[names[-1]] = 1 / sum(1 / rate for rate in news_rate.values())
    for name, seconds in news_cost.items():
        per_s = news_rate[name]
        print(
            f"{name:8s}{seconds * 1000:7.0f} ms an article  {per_s:6.1f} sentences/s  "
            f"ingest +{seconds / mt_seconds:.1%}  (x{seconds / news_cost[base]:.1f} {base}'s cost)"
        )
    if len(models) == 2:
        a, b = (costs[m] for m in models)
        print(
            f"{names[-1]:8s}{'':48s} {a['dimension'] + b['dimension']:4d}-d  "
            f"{1 / (1 / a['passages_per_s'] + 1 / b['passages_per_s']):6.1f} Arabic sentences/s  "
            f"keyword query p50 {a['query_p50_ms'] + b['query_p50_ms']:5.1f} ms; "
            f"passages/s ratio to {base}: "
            + ", ".join(f"{m} x{costs[m]['passages_per_s'] / costs[base]['passages_per_s']:.2f}" for m in models)
        )


if __name__ == "__main__":
    main()
