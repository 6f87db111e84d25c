"""Story clusters at the edge: find a batch's candidates in the index with one msearch, then assign clusters (pure).

The write path (service/ingest.py, behind every writer) calls cluster_documents, its enrichment step, before indexing.
One request per batch: a search per document for the indexed articles sharing a band key with it (ranked by how
many they share, itself excluded, bounded by CANDIDATES), plus one ids search for the cluster ids the batch's own
documents already hold, which a re-ingested article keeps. The candidates' bodies come back, so the pure part
(service/index/clusters.py) compares shingle sets exactly.

Across the language line (an English original and the Arabic articles reporting it share no shingles), an article
that found no story by its words, and holds sentence vectors (the embed step ran before this one), looks up each of
its first XLANG_SENTENCES sentences among the other language's sentences of the same encoder: one nested knn search
per sentence, in one more msearch for the batch; the other-language articles earlier in the same batch are compared
in numpy. clusters.best_counterpart chooses the story (CLUSTER_XLANG_THRESHOLD).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from service.index import clusters, vectors
from service.index.bulk import with_retries

CANDIDATES = 5  # per article: members of one story share its id, so the few closest are enough
XLANG_CANDIDATES = 5  # other-language articles returned per looked-up sentence
XLANG_DAYS = 3  # an original and its reports in the other language are this close in time
XLANG_K = 50  # Lucene's HNSW candidates (sentences) per looked-up sentence: k=10 misses part of the exact top


def _candidate_search(doc_id: str, bands: tuple[str, ...]) -> dict:
    return {
        "size": CANDIDATES,
        "_source": ["cluster_id", "body"],
        "query": {
            "bool": {
                "should": [{"term": {"cluster_bands": band}} for band in bands],  # the more shared, the higher
                "minimum_should_match": 1,
                "must_not": [{"ids": {"values": [doc_id]}}],
            }
        },
    }


def _responses(client: OpenSearch, alias: str, searches: list[dict], attempts: int) -> list[dict]:
    lines = [line for search in searches for line in ({"index": alias}, search)]

    def run() -> list[dict]:
        answers = client.msearch(body=lines)["responses"]
        for answer in answers:
            if "error" in answer:  # a pushed-back search is retried with the whole request
                raise TransportError(answer.get("status", 500), "cluster candidate search failed", answer["error"])
        return answers

    return with_retries(run, attempts=attempts)


def cluster_documents(
    client: OpenSearch,
    alias: str,
    documents: list[dict],
    threshold: float,
    attempts: int = 10,
    xlang_threshold: float | None = None,
) -> list[dict]:
    """The documents with their cluster_id and cluster_bands, in order (candidates looked up in one request);
    with xlang_threshold, an article with vectors that found no story joins one in the other language."""
    if not documents:
        return []
    fingerprints = {d["id"]: clusters.Fingerprint.of(d["body"]) for d in documents}
    searched = [doc_id for doc_id, f in fingerprints.items() if f.bands]
    searches = [_candidate_search(doc_id, fingerprints[doc_id].bands) for doc_id in searched]
    ids = list(fingerprints)
    searches.append({"size": len(ids), "_source": ["cluster_id"], "query": {"ids": {"values": ids}}})
    *candidate_answers, stored = _responses(client, alias, searches, attempts)
    shingled: dict[str, frozenset[int]] = {}  # a candidate of several articles is shingled once

    def candidate(hit: dict) -> clusters.Candidate:
        if hit["_id"] not in shingled:
            shingled[hit["_id"]] = clusters.shingles(hit["_source"].get("body") or "")
        return clusters.Candidate(hit["_id"], hit["_source"].get("cluster_id") or hit["_id"], shingled[hit["_id"]])

    indexed = {
        doc_id: [candidate(hit) for hit in answer["hits"]["hits"]]
        for doc_id, answer in zip(searched, candidate_answers, strict=True)
    }
    kept = {
        hit["_id"]: hit["_source"]["cluster_id"] for hit in stored["hits"]["hits"] if hit["_source"].get("cluster_id")
    }
    assigned = clusters.assign_clusters(list(fingerprints.items()), indexed, kept, threshold)
    if xlang_threshold is not None:
        alone = [d for d in documents if assigned[d["id"]] == d["id"] and d["id"] not in kept]
        joined = _across_languages(client, alias, documents, alone, assigned, xlang_threshold, attempts)
        assigned = {doc_id: joined.get(cluster_id, cluster_id) for doc_id, cluster_id in assigned.items()}
    return [
        {**d, "cluster_id": assigned[d["id"]], "cluster_bands": list(fingerprints[d["id"]].bands)} for d in documents
    ]


def _looked_up(document: dict) -> np.ndarray | None:
    """The vectors of the document's first XLANG_SENTENCES sentences; None when it has none (no encoder, or an
    index without a vector field)."""
    rows = [s["vector"] for s in (document.get("sentences") or [])[: clusters.XLANG_SENTENCES] if s.get("vector")]
    return np.asarray(rows, dtype=np.float32) if rows and document.get(vectors.ENCODER_FIELD) else None


def _around(published: str | None) -> list[dict]:
    """Articles published within XLANG_DAYS of this one (or undated): reports follow their original within days,
    and the narrower filter lets Lucene compare the few candidates exactly rather than walk the whole graph."""
    if not published:
        return []
    window = {"gte": f"{published}||-{XLANG_DAYS}d", "lte": f"{published}||+{XLANG_DAYS}d"}
    dated = {"range": {"published": window}}
    undated = {"bool": {"must_not": [{"exists": {"field": "published"}}]}}
    return [{"bool": {"should": [dated, undated], "minimum_should_match": 1}}]


def _counterpart_search(document: dict, vector: np.ndarray) -> dict:
    """The other language's articles (same encoder) holding a sentence nearest this one, each with that sentence."""
    same_encoder = [{"term": {vectors.ENCODER_FIELD: document[vectors.ENCODER_FIELD]}}]
    other_articles = {
        "bool": {
            "filter": same_encoder + _around(document.get("published")),
            "must_not": [{"term": {"language": document.get("language") or "ar"}}],
        }
    }
    return {
        "size": XLANG_CANDIDATES,
        "_source": ["cluster_id", "sentences.position"],
        "query": vectors.nearest_sentences(vector, XLANG_K, other_articles),
    }


def _across_languages(
    client: OpenSearch,
    alias: str,
    documents: list[dict],
    alone: list[dict],
    assigned: dict[str, str],
    threshold: float,
    attempts: int,
) -> dict[str, str]:
    """{cluster id of an article alone in its story: the other-language story it joins}."""
    looked_up = {d["id"]: rows for d in alone if (rows := _looked_up(d)) is not None}
    if not looked_up:
        return {}
    searches = [(doc_id, i) for doc_id, rows in looked_up.items() for i in range(len(rows))]
    by_id = {d["id"]: d for d in documents}
    answers = _responses(
        client, alias, [_counterpart_search(by_id[doc_id], looked_up[doc_id][i]) for doc_id, i in searches], attempts
    )
    found: dict[str, dict[str, tuple[str, int, list[float]]]] = {doc_id: {} for doc_id in looked_up}
    for (doc_id, i), answer in zip(searches, answers, strict=True):
        for hit in answer["hits"]["hits"]:
            source = hit["_source"]
            entry = found[doc_id].setdefault(
                hit["_id"],
                (
                    source.get("cluster_id") or hit["_id"],
                    len(source.get("sentences") or []),
                    [0.0] * len(looked_up[doc_id]),
                ),
            )
            entry[2][i] = max(entry[2][i], 2 * hit["_score"] - 1)  # Lucene's cosinesimil score is (1 + cosine) / 2
    joined: dict[str, str] = {}
    for position, document in enumerate(documents):
        doc_id = document["id"]
        if doc_id not in looked_up:
            continue
        candidates = [
            clusters.Counterpart(other_id, cluster_id, sentences, tuple(cosines))
            for other_id, (cluster_id, sentences, cosines) in found[doc_id].items()
        ]
        for earlier in documents[:position]:  # the batch's own articles are not in the index yet
            rows = _rows_of(earlier)
            if rows is None or not _other_language(document, earlier):
                continue
            best = (looked_up[doc_id] @ rows.T).max(axis=1)
            cluster_id = assigned[earlier["id"]]
            candidates.append(
                clusters.Counterpart(
                    earlier["id"], joined.get(cluster_id, cluster_id), len(rows), tuple(map(float, best))
                )
            )
        chosen = clusters.best_counterpart(candidates, threshold, clusters.COUNTERPART_COSINE)
        if chosen is not None and chosen != doc_id:
            joined[doc_id] = chosen
    return joined


def _rows_of(document: dict) -> np.ndarray | None:
    rows = [s["vector"] for s in document.get("sentences") or [] if s.get("vector")]
    return np.asarray(rows, dtype=np.float32) if rows else None


def _other_language(a: dict, b: dict) -> bool:
    """Whether b may report a (or a b) across the language line: the same encoder, the other language, and
    within XLANG_DAYS of each other when both are dated (what _around asks of the index)."""
    if a.get(vectors.ENCODER_FIELD) != b.get(vectors.ENCODER_FIELD) or a.get("language") == b.get("language"):
        return False
    if not (a.get("published") and b.get("published")):
        return True
    apart = abs(_moment(a["published"]) - _moment(b["published"]))
    return apart <= dt.timedelta(days=XLANG_DAYS)


def _moment(published: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(published.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
