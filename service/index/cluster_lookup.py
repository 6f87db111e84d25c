"""Story clusters at the edge: find a batch's candidates in the index with one msearch, then assign clusters (pure).

The write path (service/ingest.py, behind every writer) calls cluster_documents, its enrichment step, before indexing.
One request per batch: a search per document for the indexed articles sharing a band key with it (ranked by how
many they share, itself excluded, bounded by CANDIDATES), plus one ids search for the cluster ids the batch's own
documents already hold, which a re-ingested article keeps. The candidates' bodies come back, so the pure part
(service/index/clusters.py) compares shingle sets exactly.
"""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from service.index import clusters
from service.index.bulk import with_retries

CANDIDATES = 5  # per article: members of one story share its id, so the few closest are enough


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
    client: OpenSearch, alias: str, documents: list[dict], threshold: float, attempts: int = 10
) -> list[dict]:
    """The documents with their cluster_id and cluster_bands, in order (candidates looked up in one request)."""
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
    return [
        {**d, "cluster_id": assigned[d["id"]], "cluster_bands": list(fingerprints[d["id"]].bands)} for d in documents
    ]
