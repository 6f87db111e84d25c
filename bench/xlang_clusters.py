"""Story clusters across the language line: an English original and its Arabic translation join one story, two
different articles on the same topic do not.

True pairs come from the parallel sets in ../shared: tico19 (COVID-19 only, so every other document is a same-topic
hard negative, and the next chunk of the same source text is the hardest) cut into documents of CHUNK consecutive
lines, and ud_pud's documents (news and Wikipedia, grouped by their ids; those of two sentences or more). Each
document's Arabic side is a "new article" looking for its English original among all English documents, as the
clustering step does (its first XLANG_SENTENCES sentences, each one's best cosine with a candidate's sentences,
scored by clusters.counterpart_share), and the other way round. Three cases:

- whole: the Arabic document translates the whole English one;
- partial: the Arabic report translates only the first half of the original;
- absent: the original is not among the candidates: any join is a false merge.

Printed per (sentence cosine, share threshold): recall (joined its own original), precision (of the joins made
with the original present, the right ones) and false merges (joins made when the original is absent), over both
directions. Pure: exact cosines in numpy, no OpenSearch (the node returns the same best cosine per sentence).

With --node, the tico19 documents go through the write path on the local node (OPENSEARCH_URL, started like
bench/clusters.py does), as the writers store them: the English documents of even number first, then every Arabic
document in batches of BATCH, with the cross-language step on and off. An Arabic document of even number should join
its original's story, one of odd number (its original absent) none. Printed: the joins, the write time per Arabic
article with and without the step, and "more like this" (similar_articles) per article: encoding its lead again
and the whole answer, p50 and p99.

    OMP_NUM_THREADS=1 .venv/bin/python bench/xlang_clusters.py [--encoder use] [--chunk 8] [--node]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import defaultdict

import numpy as np
from common import read_lines, shared_file

from service.config import Settings
from service.embedding import open_encoder
from service.index import clusters, lifecycle, node
from service.index.client import make_client
from service.ingest import IndexTarget, human_translation, write_articles
from service.search.similar import SIMILAR_SENTENCES, similar_articles

ALIAS = "bench-xlang"
BATCH = 64

SENTENCE_FLOORS = (0.5, 0.55, 0.6, 0.65, 0.7)
SHARES = (0.3, 0.4, 0.5, 0.6, 0.7)


def tico_documents(chunk: int) -> list[tuple[list[str], list[str]]]:
    arabic = read_lines(shared_file("data", "parallel", "tico19_test", "src.ar"))
    english = read_lines(shared_file("data", "parallel", "tico19_test", "ref.en"))
    return [(arabic[i : i + chunk], english[i : i + chunk]) for i in range(0, len(arabic) - chunk + 1, chunk)]


def pud_documents() -> list[tuple[list[str], list[str]]]:
    folder = ("data", "parallel", "ud_pud")
    ids = read_lines(shared_file(*folder, "ids.txt"))
    arabic, english = read_lines(shared_file(*folder, "ar.txt")), read_lines(shared_file(*folder, "en.txt"))
    grouped: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for sentence_id, ar, en in zip(ids, arabic, english, strict=True):
        grouped[sentence_id[:6]][0].append(ar)
        grouped[sentence_id[:6]][1].append(en)
    return [pair for pair in grouped.values() if len(pair[0]) >= 2]


def encoded(encoder, documents: list[list[str]]) -> list[np.ndarray]:
    flat = [sentence for document in documents for sentence in document]
    rows = encoder.encode_passages(flat)
    out, start = [], 0
    for document in documents:
        out.append(rows[start : start + len(document)])
        start += len(document)
    return out


def best_cosines(new: np.ndarray, candidate: np.ndarray) -> list[float]:
    """Each of the new article's looked-up sentences' highest cosine with the candidate's sentences."""
    return [float(c) for c in (new[: clusters.XLANG_SENTENCES] @ candidate.T).max(axis=1)]


def evaluate(queries: list[np.ndarray], candidates: list[np.ndarray], floor: float, share: float) -> dict:
    """{case: (joined own, joined other)} over the queries; query i's original is candidates[i]."""
    right = wrong = absent_wrong = 0
    for i, query in enumerate(queries):
        scored = [
            clusters.Counterpart(str(j), str(j), len(c), tuple(best_cosines(query, c)))
            for j, c in enumerate(candidates)
        ]
        chosen = clusters.best_counterpart(scored, share, floor)
        right += chosen == str(i)
        wrong += chosen is not None and chosen != str(i)
        absent_wrong += clusters.best_counterpart([c for c in scored if c.doc_id != str(i)], share, floor) is not None
    return {"right": right, "wrong": wrong, "absent": absent_wrong, "n": len(queries)}


def record(doc_id: str, sentences: list[str], english: list[str]) -> dict:
    """An article as a writer gets it, with its own sentence pairs (an English one is its own English)."""
    return {
        "id": doc_id,
        "body": " ".join(sentences),
        "sentences": [{"source": s, "target": e} for s, e in zip(sentences, english, strict=True)],
    }


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {ordered[len(ordered) // 2] * 1000:.0f} ms, p99 {ordered[int(len(ordered) * 0.99)] * 1000:.0f} ms"


def through_node(encoder, documents: list[tuple[list[str], list[str]]]) -> None:
    settings = Settings()
    client = make_client(settings, timeout=120)
    if not client.ping():  # a node already answering there is used as it is
        node.start(node.local_node(settings))
    english = [record(f"en-{i}", en, en) for i, (_, en) in enumerate(documents) if i % 2 == 0]
    arabic = [record(f"ar-{i}", ar, en) for i, (ar, en) in enumerate(documents)]
    for threshold in (None, Settings().cluster_xlang_threshold):
        lifecycle.delete(client, ALIAS)
        target = IndexTarget(client, ALIAS, encoder=encoder, cluster_xlang_threshold=threshold)
        for start in range(0, len(english), BATCH):
            write_articles(list(enumerate(english[start : start + BATCH])), target, human_translation)
        client.indices.refresh(index=ALIAS)
        started, outcomes = time.perf_counter(), []
        for start in range(0, len(arabic), BATCH):
            outcomes += write_articles(list(enumerate(arabic[start : start + BATCH])), target, human_translation)
        per_article = (time.perf_counter() - started) / len(arabic) * 1000
        joined = {o.doc_id: o.cluster_id for o in outcomes}
        right = sum(joined[f"ar-{i}"] == f"en-{i}" for i in range(0, len(arabic), 2))
        wrong = sum(joined[f"ar-{i}"].startswith("en-") and joined[f"ar-{i}"] != f"en-{i}" for i in range(len(arabic)))
        false = sum(joined[f"ar-{i}"].startswith("en-") for i in range(1, len(arabic), 2))
        print(
            f"\nthrough the node, cross-language step {'off' if threshold is None else f'at {threshold}'}: "
            f"{per_article:.1f} ms per Arabic article written (vectors, clusters, index; batches of {BATCH}); "
            f"joined own original {right}/{len(arabic[::2])}, joined another {wrong}, "
            f"false merges with the original absent {false}/{len(arabic[1::2])}"
        )
    client.indices.refresh(index=ALIAS)
    encode, answer = [], []
    for i in range(0, len(arabic), 3):
        lead = [pair["source"] for pair in arabic[i]["sentences"][:SIMILAR_SENTENCES]]
        started = time.perf_counter()
        encoder.encode_passages(lead)
        encode.append(time.perf_counter() - started)
        started = time.perf_counter()
        similar_articles(client, ALIAS, f"ar-{i}", encoder)
        answer.append(time.perf_counter() - started)
    print(
        f"more like this, {len(answer)} articles of {len(arabic) + len(english)}: encoding the lead again "
        f"{percentiles(encode)}; the whole answer {percentiles(answer)}"
    )
    lifecycle.delete(client, ALIAS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="use", choices=["use", "e5", "e5+use"])
    parser.add_argument("--chunk", type=int, default=8, help="tico19 lines per document")
    parser.add_argument("--node", action="store_true", help="also write tico19 through the local node")
    parser.add_argument("--node-only", action="store_true", help="only the run through the node")
    args = parser.parse_args()
    encoder = open_encoder(Settings(encoder=args.encoder))
    sets = {"tico19": tico_documents(args.chunk), "ud_pud": pud_documents()}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    print(f"encoder: {encoder.encoder_id}; looked-up sentences {clusters.XLANG_SENTENCES}")
    for name, documents in ({} if args.node_only else sets).items():
        started = time.perf_counter()
        arabic = encoded(encoder, [ar for ar, _ in documents])
        english = encoded(encoder, [en for _, en in documents])
        halves = [rows[: max(1, (len(rows) + 1) // 2)] for rows in arabic]
        sentences = sum(len(ar) + len(en) for ar, en in documents)
        print(
            f"\n{name}: {len(documents)} documents, {sentences} sentences encoded in "
            f"{time.perf_counter() - started:.1f} s"
        )
        print("cosine share | whole ar→en: recall prec | en→ar: recall prec | partial ar→en: recall | false merges")
        for floor in SENTENCE_FLOORS:
            for share in SHARES:
                whole = evaluate(arabic, english, floor, share)
                back = evaluate(english, arabic, floor, share)
                partial = evaluate(halves, english, floor, share)
                false = (whole["absent"] + back["absent"] + partial["absent"]) / (3 * whole["n"])

                def rp(found: dict) -> str:
                    joins = found["right"] + found["wrong"]
                    return f"{found['right'] / found['n']:.3f} {found['right'] / joins if joins else 1:.3f}"

                print(
                    f"{floor:.2f}  {share:.2f}  | {rp(whole)}             | {rp(back)}        | "
                    f"{partial['right'] / partial['n']:.3f}                 | {false:.3f}"
                )
    if args.node or args.node_only:
        through_node(encoder, sets["tico19"])


if __name__ == "__main__":
    main()
