"""Sentence vectors in the index: one per sentence of an article's original side, with the encoder's id.

The pure part (which text each sentence is encoded from, the document with its vectors) and the look-ups and
back-fill the write path and `index migrate` share. Vectors sit in the index only, not in `_source`
(articles-v3.json excludes them: 3x smaller, measured in docs/index-design.md), so anything that copies
documents through `_source` (a migration's scan + bulk) loses them and has to embed again: embed_missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opensearchpy import OpenSearch

from service.embedding.interface import SentenceEncoder, Vectors
from service.errors import ServiceError
from service.index.bulk import Progress, update_missing
from service.index.client import bulk_timeout
from service.index.errors import reason_in
from service.index.mappings import VECTOR_TYPE
from service.translation.scheduler import bulk_priority

log = logging.getLogger(__name__)


class EmbedError(ServiceError, RuntimeError):
    """Documents could not be given their vectors; the message names how many and why."""

    status, code, log_level = 503, "embed_failed", logging.ERROR


VECTOR_FIELD = "sentences.vector"
ENCODER_FIELD = "encoder"
EMBED_BATCH = 64  # documents re-embedded per bulk request in embed_missing


def original_texts(document: dict) -> list[str]:
    """The text each sentence is encoded from: its original side (the Arabic of an Arabic article, the English of
    an English one), so a vector says what the author wrote, never a demo model's noise."""
    side = "ar" if document.get("language") == "ar" else "en"
    return [sentence.get(side) or sentence.get("ar") or "" for sentence in document.get("sentences") or []]


def with_vectors(document: dict, vectors: Vectors) -> dict:
    """The document with one vector per sentence (in order) and the encoder's id."""
    sentences = [
        {**sentence, "vector": [float(v) for v in row]}
        for sentence, row in zip(document["sentences"], vectors.rows, strict=True)
    ]
    return {**document, "sentences": sentences, ENCODER_FIELD: vectors.encoder_id}


def embed_documents(encoder: SentenceEncoder, documents: Sequence[dict]) -> list[dict]:
    """The documents with their sentences' vectors, encoded as passages in one call at bulk priority (an analyst's
    query goes before them)."""
    texts = [original_texts(document) for document in documents]
    flat = [text for sentences in texts for text in sentences]
    with bulk_priority():
        rows = Vectors.of_passages(encoder, flat)
    out, start = [], 0
    for document, sentences in zip(documents, texts, strict=True):
        out.append(with_vectors(document, Vectors(rows.encoder_id, rows.rows[start : start + len(sentences)])))
        start += len(sentences)
    return out


def nearest_sentences(vector, k: int, articles: dict, inner_hits: dict | None = None) -> dict:
    """The articles (among those the `articles` filter admits) holding one of the k sentences nearest the vector,
    each scored by its nearest one: the nested k-NN query the similar-articles and cross-language look-ups share.
    The filter goes inside the knn query, so Lucene keeps k candidates that pass it rather than filtering after."""
    knn = {"vector": [float(v) for v in vector], "k": k, "filter": articles}
    nested = {"path": "sentences", "score_mode": "max", "query": {"knn": {VECTOR_FIELD: knn}}}
    if inner_hits is not None:
        nested["inner_hits"] = inner_hits
    return {"nested": nested}


def vector_dimension(mapping_properties: dict) -> int | None:
    """The dimension of sentences.vector in an index's mapping properties; None when the index has no such field
    (an index made from articles-v2 or older, without index.knn)."""
    field = mapping_properties.get("sentences", {}).get("properties", {}).get("vector", {})
    return field.get("dimension") if field.get("type") == VECTOR_TYPE else None


def index_dimension(client: OpenSearch, index: str) -> int | None:
    """vector_dimension of the index's live mapping."""
    found = client.indices.get_mapping(index=index, request_timeout=bulk_timeout(client))
    return vector_dimension(found[index]["mappings"].get("properties", {}))


def missing_query(encoder_id: str) -> dict:
    """Documents without vectors of this encoder: stored without an encoder, or by another one."""
    return {"bool": {"must_not": [{"term": {ENCODER_FIELD: encoder_id}}]}}


def count_missing(client: OpenSearch, index: str, encoder_id: str) -> int:
    """How many documents of the index (or alias) lack vectors of this encoder."""
    return client.count(index=index, body={"query": missing_query(encoder_id)})["count"]


def embed_missing(
    client: OpenSearch,
    index: str,
    encoder: SentenceEncoder,
    progress: Progress | None = None,
) -> int:
    """Give vectors of this encoder to every document of the index not marked with it (written without an encoder,
    by another one, or copied by a migration, which drops the mark); return how many; progress as update_missing's.
    bulk.update_missing: resumable, as a document is marked with the encoder by the update that gives it its vectors,
    and safe beside writers (an article a writer stored meanwhile keeps the writer's vectors)."""

    def embedded(documents: list[dict]) -> list[dict]:
        return [
            {"sentences": document["sentences"], ENCODER_FIELD: document[ENCODER_FIELD]}
            for document in embed_documents(encoder, documents)
        ]

    done, refused = update_missing(
        client, index, missing_query(encoder.encoder_id), ["language", "sentences"], embedded, EMBED_BATCH, progress
    )
    if refused:
        raise EmbedError(
            f"{len(refused)} documents of {index} could not be given vectors "
            f"(first: {reason_in(refused[0].get('error'))}); `index migrate` again retries"
        )
    log.info("gave %d documents of %s vectors of %s", done, index, encoder.encoder_id)
    return done
