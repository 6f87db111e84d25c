"""A person's or place's page: what the articles naming it store about it (its display form, kind and Arabic
spellings). Its stories and latest articles are searcher.browse with the name as the filter."""

from __future__ import annotations

from opensearchpy import OpenSearch

from service.search.results import name_label

LABELLING_ARTICLES = 20  # the newest articles naming it: their spellings, most used first


def name_summary(client: OpenSearch, alias: str, key: str) -> dict | None:
    """{"key", "label", "kind", "spellings", "articles"} of the name key; None when no article names it."""
    body = {
        "size": LABELLING_ARTICLES,
        "query": {"term": {"name_keys": key}},
        "sort": [{"published": {"order": "desc", "missing": "_last"}}],
        "_source": ["names"],
        "track_total_hits": True,
    }
    hits = client.search(index=alias, body=body)["hits"]
    if not hits["hits"]:
        return None
    return {"key": key, **name_label(key, [hit["_source"] for hit in hits["hits"]]), "articles": hits["total"]["value"]}
