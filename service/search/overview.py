"""What the collection holds, for the empty search page: articles, sources, date range and the latest stories.

One request: the latest stories are the newest articles collapsed by cluster_id (like search hits), and the
figures are aggregations beside them.
"""

from __future__ import annotations

from opensearchpy import OpenSearch

LATEST_STORIES = 5
STORY_SOURCE = ["title", "title_en", "source", "published", "cluster_id"]


def overview_body(latest: int = LATEST_STORIES) -> dict:
    """The search behind the start page (pure)."""
    return {
        "query": {"match_all": {}},
        "size": latest,
        "track_total_hits": True,
        "_source": STORY_SOURCE,
        "sort": [{"published": {"order": "desc", "missing": "_last"}}],
        "collapse": {"field": "cluster_id", "inner_hits": {"name": "cluster", "size": 0}},
        "aggs": {
            "sources": {"cardinality": {"field": "source"}},
            "first": {"min": {"field": "published", "format": "yyyy-MM-dd"}},
            "last": {"max": {"field": "published", "format": "yyyy-MM-dd"}},
        },
    }


def parse_overview(response: dict) -> dict:
    """{"articles", "sources", "first", "last", "latest": [{"id", "title", "title_en", ..., "cluster_size"}]}."""
    aggs = response.get("aggregations", {})
    return {
        "articles": response["hits"]["total"]["value"],
        "sources": aggs.get("sources", {}).get("value", 0),
        "first": aggs.get("first", {}).get("value_as_string"),
        "last": aggs.get("last", {}).get("value_as_string"),
        "latest": [_story(hit) for hit in response["hits"]["hits"]],
    }


def _story(hit: dict) -> dict:
    source = hit["_source"]
    cluster = hit.get("inner_hits", {}).get("cluster", {}).get("hits", {}).get("total", {}).get("value", 1)
    return {
        "id": hit["_id"],
        "title": source.get("title", ""),
        "title_en": source.get("title_en", ""),
        "source": source.get("source"),
        "published": source.get("published"),
        "cluster_id": source.get("cluster_id", hit["_id"]),
        "cluster_size": cluster,
    }


def collection_overview(client: OpenSearch, alias: str) -> dict:
    return parse_overview(client.search(index=alias, body=overview_body()))
