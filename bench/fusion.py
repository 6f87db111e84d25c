"""Fusion of the two search channels, measured on a local node: BM25 alone, vectors alone, a weighted bool (the
vector channel's [0, 1] score times a weight added to BM25's, in one request) and reciprocal-rank fusion of the
two in the service; and the similarity floor: the best cosine of queries about nothing in the collection against
that of queries for an article.

The articles: examples/articles.jsonl's Arabic ones and 50 more of 16 tico19 sentences (Arabic with the human
English), ingested twice: with their human English, and with random words of the collection in its place (what the
demo model's noise is to BM25). Each article is asked for by one English sentence of
its own and by that sentence's 4 longest words; recall@1 and MRR@10 of the article.

    OMP_NUM_THREADS=1 .venv/bin/python bench/fusion.py [--articles 50] [--weights 2,5,10,20,40]
"""

from __future__ import annotations

import argparse
import json
import random
import re

from common import local_node, read_lines, shared_file

from service.config import PROJECT_ROOT, Settings
from service.embedding import open_encoder
from service.index import lifecycle
from service.index.client import make_client
from service.ingest import IndexTarget, human_translation, write_articles
from service.search.body import MeaningQuery, meaning_clause
from service.search.request import SearchRequest
from service.search.searcher import Meaning, query_vector, search

UNRELATED = [
    "quarterly earnings of a semiconductor maker",
    "football transfer window striker signs contract",
    "central bank raises interest rates",
    "new smartphone camera review",
    "election results parliament coalition",
    "oil prices fall on supply fears",
]
RRF_K = 60


def articles(count: int, sentences: int = 16) -> list[dict]:
    sample = [json.loads(line) for line in (PROJECT_ROOT / "examples" / "articles.jsonl").read_text().splitlines()]
    out = [r for r in sample if r.get("sentences")]
    folder = shared_file("data", "parallel", "tico19_test")
    arabic, english = read_lines(folder / "src.ar"), read_lines(folder / "ref.en")
    start = 1000  # past the lines the sample articles were built from
    for n in range(count):
        pairs = list(zip(arabic, english, strict=True))[start + n * sentences : start + (n + 1) * sentences]
        out.append(
            {
                "id": f"tico-{n}",
                "body": " ".join(ar for ar, _ in pairs),
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            }
        )
    return out


def with_noise(records: list[dict], rng: random.Random) -> list[dict]:
    """Each article with English like a random-weight model's: words of the collection drawn at random, so BM25 on
    the English side matches articles by chance."""
    vocabulary = [w for r in records for p in r["sentences"] for w in p["target"].split()]
    out = []
    for record in records:
        pairs = [
            {"source": p["source"], "target": " ".join(rng.choices(vocabulary, k=len(p["target"].split())))}
            for p in record["sentences"]
        ]
        out.append({**record, "sentences": pairs} | ({"title_en": "x"} if record.get("title_en") else {}))
    return out


def queries(records: list[dict], rng: random.Random) -> list[tuple[str, str, str]]:
    out = []
    for record in records:
        short = [p["target"] for p in record["sentences"][1:] if 40 < len(p["target"]) < 300]
        sentence = rng.choice(short or [record["sentences"][0]["target"][:300]])
        words = sorted(set(re.findall(r"[A-Za-z][A-Za-z-]+", sentence)), key=len, reverse=True)[:4]
        out += [("sentence", sentence, record["id"]), ("4 keywords", " ".join(words), record["id"])]
    return out


def ranks(ids: list[str], wanted: str) -> int | None:
    return ids.index(wanted) + 1 if wanted in ids else None


def summary(found: list[int | None]) -> str:
    recall1 = sum(1 for r in found if r == 1) / len(found)
    mrr = sum(1 / r for r in found if r and r <= 10) / len(found)
    return f"{recall1:.3f} / {mrr:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--weights", default="2,5,10,20,40")
    parser.add_argument("--floor", type=float, default=Settings().meaning_floor)
    args = parser.parse_args()
    settings = Settings.from_env()
    encoder = open_encoder(settings)
    records = articles(args.articles)
    asked = queries(records, random.Random(7))
    weights = [float(w) for w in args.weights.split(",")]
    with local_node("bench-fusion") as local:
        client = make_client(Settings(opensearch_urls=(local.url,)), timeout=120)
        print(f"{len(records)} articles, {len(asked)} queries, {encoder.encoder_id}, floor {args.floor}")
        print("recall@1 / MRR@10")
        for english, written in (
            ("human English", records),
            ("noise English (random words)", with_noise(records, random.Random(3))),
        ):
            alias = "bench-fusion"
            lifecycle.delete(client, alias)
            lifecycle.ensure(client, alias, dimension=encoder.dimension)
            write_articles(list(enumerate(written, 1)), IndexTarget(client, alias, encoder=encoder), human_translation)
            client.indices.refresh(index=alias)
            print(
                f"\n{english}\n| query | BM25 | vectors | RRF | " + " | ".join(f"bool w={w:g}" for w in weights) + " |"
            )
            print("|---" * (4 + len(weights)) + "|")
            for kind in ("sentence", "4 keywords"):
                found: dict[str, list] = {}
                for _, text, wanted in (q for q in asked if q[0] == kind):
                    request = SearchRequest(text, lang="en", size=10, collapse=False)
                    lexical = [h["id"] for h in search(client, alias, request)["hits"]]
                    vector = MeaningQuery(query_vector(encoder, text), encoder.encoder_id, args.floor, 1.0)
                    body = {"size": 10, "_source": False, "query": meaning_clause(vector)}
                    by_vector = [h["_id"] for h in client.search(index=alias, body=body)["hits"]["hits"]]
                    fused: dict[str, float] = {}
                    for ranked in (lexical, by_vector):
                        for rank, doc in enumerate(ranked, 1):
                            fused[doc] = fused.get(doc, 0) + 1 / (RRF_K + rank)
                    rrf = sorted(fused, key=fused.get, reverse=True)
                    found.setdefault("BM25", []).append(ranks(lexical, wanted))
                    found.setdefault("vectors", []).append(ranks(by_vector, wanted))
                    found.setdefault("RRF", []).append(ranks(rrf, wanted))
                    for w in weights:
                        meaning = Meaning(encoder, args.floor, w)
                        hits = [h["id"] for h in search(client, alias, request, meaning=meaning)["hits"]]
                        found.setdefault(f"w{w}", []).append(ranks(hits, wanted))
                cells = [summary(found[k]) for k in ("BM25", "vectors", "RRF", *(f"w{w}" for w in weights))]
                print(f"| {kind} | " + " | ".join(cells) + " |")
        print("\nfloor: best cosine of each unrelated query, and the lowest best cosine of the keyword queries")
        for text in UNRELATED:
            vector = MeaningQuery(query_vector(encoder, text), encoder.encoder_id, -1.0, 1.0)
            hits = client.search(index=alias, body={"size": 1, "query": meaning_clause(vector)})["hits"]["hits"]
            print(f"  {text!r}: {2 * hits[0]['_score'] - 1:.3f}" if hits else f"  {text!r}: none")
        best = []
        for _, text, wanted in (q for q in asked if q[0] == "4 keywords"):
            vector = MeaningQuery(query_vector(encoder, text), encoder.encoder_id, -1.0, 1.0)
            body = {
                "size": 1,
                "query": {"bool": {"filter": [{"ids": {"values": [wanted]}}], "must": [meaning_clause(vector)]}},
            }
            hits = client.search(index=alias, body=body)["hits"]["hits"]
            best.append(2 * hits[0]["_score"] - 1 if hits else -1)
        best.sort()
        print(
            f"  keyword queries, their article's best sentence: min {best[0]:.3f}, 5th percentile "
            f"{best[len(best) // 20]:.3f}, median {best[len(best) // 2]:.3f}"
        )
        lifecycle.delete(client, alias)


if __name__ == "__main__":
    main()
