"""Story clusters: recall of outlets' near-copies and false merges among distinct articles, over a parameter sweep.

Real articles from ../shared/data/news are copied the way outlets republish a wire story: under another source,
with a changed headline (neither touches the body, which alone is compared), plus body edits drawn at random: a
dropped paragraph (or last sentence), an added paragraph, an app-notice line ("تابعونا على تطبيق ..."), and a few
changed words. A copy is recalled when LSH makes it a candidate of its original (they share a band key) and the
Jaccard similarity of their shingle sets reaches the threshold, exactly as at ingest.

The corpus is multi-source, so it holds real republications of one story (the same wire text at two outlets on one
day); merging those is right. So two rates are printed: "any" counts an original as wrongly merged when any other
original passes both tests with it (an upper bound: it counts the real republications too), and "distinct" counts
only merges with an original published DISTINCT_DAYS or more days apart, which are different stories. Pure: no
OpenSearch, the band keys go into a dict.

With --node, the chosen parameters also run through the local OpenSearch node (OPENSEARCH_URL, started like
bench/search.py does) as the writers run them: the originals are clustered and indexed in batches of 256, then the
copies are clustered against them, timing the fingerprints and the one msearch per batch.

    .venv/bin/python bench/clusters.py [--articles 3000] [--copies 1000] [--node]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import defaultdict
from itertools import combinations

from common import news_articles

from service.config import Settings
from service.index import clusters, lifecycle, node
from service.index.bulk import index_documents
from service.index.client import make_client
from service.index.cluster_lookup import cluster_documents

ALIAS = "bench-clusters"
BATCH = 256
SHINGLE_SIZES = (2, 3, 4, 5)
DISTINCT_DAYS = 3
BANDINGS = ((64, 2), (42, 3), (32, 4), (25, 5))
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
MAX_PERM = max(b * r for b, r in BANDINGS)
APP_NOTICES = (
    "تابعونا على تطبيق {} للأخبار العاجلة",
    "لمتابعة آخر الأخبار حمّل تطبيق {} على هاتفك",
    "تابعوا {} على تويتر وفيسبوك",
)
SOURCES = ("Sky News Arabia", "Al Arabiya", "BBC Arabic", "CNN Arabic", "France 24 Arabic", "Asharq", "Reuters")


def near_copy(article: dict, donor: dict, rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """(the copy's body, the edits made): another outlet's republication of the article's story."""
    paragraphs = [p for p in article["body"].split("\n") if p.strip()]
    edits = ["source", "headline"]  # metadata only: the body comparison does not see them
    roll = rng.random()
    droppable = [i for i, p in enumerate(paragraphs) if len(p) * 3 <= len(article["body"])]  # at most a third
    if roll < 0.4:
        if len(paragraphs) > 1 and droppable:
            del paragraphs[rng.choice(droppable)]
            edits.append("dropped paragraph")
        else:
            sentences = paragraphs[0].split(". ")
            paragraphs = [". ".join(sentences[:-1] or sentences)]
            edits.append("dropped sentence")
    elif roll < 0.7:
        extra = [p for p in donor["body"].split("\n") if p.strip()]
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), rng.choice(extra))
        edits.append("added paragraph")
    if rng.random() < 0.5:
        paragraphs.append(rng.choice(APP_NOTICES).format(rng.choice(SOURCES)))
        edits.append("app notice")
    words = "\n".join(paragraphs).split(" ")
    replacements = donor["body"].split()
    for _ in range(rng.randint(2, 8)):
        words[rng.randrange(len(words))] = rng.choice(replacements)
    edits.append("changed words")
    return " ".join(words), tuple(edits)


def candidate_pairs(signatures: list, bands: int, rows: int) -> set[tuple[int, int]]:
    """Index pairs that share at least one band key."""
    buckets = defaultdict(list)
    for index, sig in enumerate(signatures):
        for key in clusters.band_keys(sig, bands, rows):
            buckets[key].append(index)
    return {pair for members in buckets.values() for pair in combinations(members, 2)}


def through_node(originals: list[dict], copies: list[str]) -> None:
    """Recall of the copies, and originals joined to another original, as the writers assign clusters."""
    settings = Settings.from_env()
    node.start(node.local_node(settings))
    client = make_client(settings, timeout=120)
    lifecycle.delete(client, ALIAS)
    lifecycle.create(client, ALIAS)

    def clustered(documents: list[dict], index: bool) -> tuple[dict[str, str], float]:
        assigned, spent = {}, 0.0
        for start in range(0, len(documents), BATCH):
            started = time.perf_counter()
            batch = cluster_documents(client, ALIAS, documents[start : start + BATCH], settings.cluster_threshold)
            spent += time.perf_counter() - started
            assigned.update((d["id"], d["cluster_id"]) for d in batch)
            if index:
                index_documents(client, ALIAS, batch)
                client.indices.refresh(index=ALIAS)
        return assigned, spent / len(documents) * 1000

    empty = {"title": "", "title_en": "", "body_en": "", "sentences": []}
    stored, ms = clustered([{**empty, "id": a["id"], "body": a["body"]} for a in originals], index=True)
    joined = sum(cluster != doc_id for doc_id, cluster in stored.items()) / len(stored)
    print(
        f"\nthrough the node: originals {ms:.2f} ms per article (fingerprint + msearch, batches of {BATCH}); "
        f"{joined:.4f} of them joined another original's story (real republications included)"
    )
    copied = [{**empty, "id": f"copy-{a['id']}", "body": body} for a, body in zip(originals, copies, strict=False)]
    assigned, ms = clustered(copied, index=False)
    recall = sum(assigned[f"copy-{a['id']}"] == stored[a["id"]] for a in originals[: len(copies)]) / len(copies)
    print(f"through the node: copies {ms:.2f} ms per article; recall {recall:.3f}")
    lifecycle.delete(client, ALIAS)
    print(f"node: {settings.opensearch_urls[0]} (stop it with `python -m service opensearch stop`)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=3000, help="distinct real articles")
    parser.add_argument("--copies", type=int, default=1000, help="near-copies made (of the first articles)")
    parser.add_argument("--node", action="store_true", help="also run the chosen parameters through the local node")
    args = parser.parse_args()
    rng = random.Random(11)
    originals = news_articles(args.articles)
    copies = [near_copy(a, rng.choice(originals), rng) for a in originals[: args.copies]]
    bodies = [a["body"] for a in originals] + [body for body, _ in copies]
    n = len(originals)
    copy_of = {n + i: i for i in range(len(copies))}
    print(f"{n} distinct articles, {len(copies)} near-copies (each with 1-4 body edits)\n")
    day = [dt.date.fromisoformat(a["date"][:10]).toordinal() for a in originals]
    print(f"false-merged: the share of originals merged with another (distinct: {DISTINCT_DAYS}+ days apart; any)\n")
    print("shingle  bands×rows  threshold   recall  false(distinct)  false(any)  candidate pairs")
    rows_out, timing = [], {}
    for size in SHINGLE_SIZES:
        started = time.perf_counter()
        shingle_sets = [clusters.shingles(body, size) for body in bodies]
        signatures = [clusters.signature(s, MAX_PERM) for s in shingle_sets]
        timing[size] = (time.perf_counter() - started) / len(bodies) * 1000
        for bands, rows in BANDINGS:
            pairs = candidate_pairs(signatures, bands, rows)
            similarity = {p: clusters.jaccard(shingle_sets[p[0]], shingle_sets[p[1]]) for p in pairs}
            for threshold in THRESHOLDS:
                merged = {p for p, s in similarity.items() if s >= threshold}
                recalled = sum((copy_of[c], c) in merged for c in copy_of)
                among = [p for p in merged if p[0] < n and p[1] < n]
                wrongly = {i for p in among for i in p}
                distinct = {i for p in among if abs(day[p[0]] - day[p[1]]) >= DISTINCT_DAYS for i in p}
                row = (size, bands, rows, threshold, recalled / len(copies), len(distinct) / n, len(wrongly) / n)
                rows_out.append(row)
                print(
                    f"{size:7d}  {bands:5d}×{rows:<4d}  {threshold:9.2f}  {row[4]:7.3f}  {row[5]:15.4f}  {row[6]:10.4f}"
                    f"  {len(pairs):15d}"
                )
    chosen = (clusters.SHINGLE_WORDS, clusters.BANDS, clusters.ROWS, Settings().cluster_threshold)
    row = next(r for r in rows_out if r[:4] == chosen)
    print(
        f"\nchosen (service/index/clusters.py, CLUSTER_THRESHOLD's default): {chosen[0]}-word shingles, {chosen[1]}×{chosen[2]} bands, "
        f"threshold {chosen[3]}: recall {row[4]:.3f}, false-merged {row[5]:.4f} distinct, {row[6]:.4f} any "
        "(targets ≥ 0.95, ≤ 0.01)"
    )
    per_edit = defaultdict(list)
    shingle_sets = [clusters.shingles(body) for body in bodies]
    for i, (_, edits) in enumerate(copies):
        score = clusters.jaccard(shingle_sets[i], shingle_sets[n + i])
        for edit in edits[2:]:
            per_edit[edit].append(score)
    print(
        "Jaccard of copies to their original, by edit (chosen shingles): "
        + ", ".join(
            f"{edit} min {min(s):.2f} median {sorted(s)[len(s) // 2]:.2f} (n={len(s)})" for edit, s in per_edit.items()
        )
    )
    started = time.perf_counter()
    for body in bodies[:500]:
        clusters.Fingerprint.of(body)
    print(
        f"cost: {(time.perf_counter() - started) / 500 * 1000:.2f} ms per article for the chosen fingerprint "
        f"(normalise, shingle, {clusters.NUM_PERM}-value signature, band keys); "
        + ", ".join(f"{size}-word shingles + {MAX_PERM} values {ms:.2f} ms" for size, ms in timing.items())
    )
    if args.node:
        through_node(originals, [body for body, _ in copies])


if __name__ == "__main__":
    main()
