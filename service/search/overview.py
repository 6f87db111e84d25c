"""What the collection holds, for the empty search page: articles, sources and categories with their counts, the
date range and a timeline, the latest stories, and the top stories of a recent period (topstories.py).

Two requests: the figures beside the newest articles collapsed by cluster_id (like search hits), then the top
stories of the period those figures choose.
"""

from __future__ import annotations

import datetime as dt

from opensearchpy import OpenSearch

from service.search.topstories import (
    choose_period,
    newest_days_aggregation,
    parse_newest_days,
    parse_recent_counts,
    recent_counts_aggregation,
    top_stories,
)

LATEST_STORIES = 5
STORY_SOURCE = ["title", "title_en", "source", "published", "cluster_id"]
LISTED_VALUES = 20  # sources and categories listed for browsing
TIMELINE_BUCKETS = 12  # the start page's timeline: about this many bars, their width chosen by the date range


def overview_body(latest: int = LATEST_STORIES, now: dt.datetime | None = None) -> dict:
    """The search behind the start page (pure); with now, the articles of each live period are counted too."""
    aggs = {
        "sources": {"cardinality": {"field": "source"}},
        "first": {"min": {"field": "published", "format": "yyyy-MM-dd"}},
        "last": {"max": {"field": "published", "format": "yyyy-MM-dd"}},
        "newest_days": newest_days_aggregation(),
        "source_list": {"terms": {"field": "source", "size": LISTED_VALUES}},
        "category_list": {"terms": {"field": "category", "size": LISTED_VALUES}},
        "timeline": {"auto_date_histogram": {"field": "published", "buckets": TIMELINE_BUCKETS}},
    }
    if now is not None:
        aggs["recent_counts"] = recent_counts_aggregation(now)
    return {
        "query": {"match_all": {}},
        "size": latest,
        "track_total_hits": True,
        "_source": STORY_SOURCE,
        "sort": [{"published": {"order": "desc", "missing": "_last"}}],
        "collapse": {"field": "cluster_id", "inner_hits": {"name": "cluster", "size": 0}},
        "aggs": aggs,
    }


def parse_overview(response: dict) -> dict:
    """{"articles", "sources", "first", "last", "newest_days", "latest": [{"id", "title", ..., "cluster_size"}],
    "source_list" and "category_list": [{"value", "count"}], "timeline": {"interval", "buckets": [{"start",
    "count"}]}, "recent_counts": {hours: articles}}."""
    aggs = response.get("aggregations", {})
    timeline = aggs.get("timeline", {})
    return {
        "articles": response["hits"]["total"]["value"],
        "sources": aggs.get("sources", {}).get("value", 0),
        "first": aggs.get("first", {}).get("value_as_string"),
        "last": aggs.get("last", {}).get("value_as_string"),
        "newest_days": parse_newest_days(aggs.get("newest_days", {})),
        "latest": [_story(hit) for hit in response["hits"]["hits"]],
        "source_list": _values(aggs.get("source_list", {})),
        "category_list": _values(aggs.get("category_list", {})),
        "timeline": {
            "interval": timeline.get("interval"),
            "buckets": [{"start": _instant(b["key"]), "count": b["doc_count"]} for b in timeline.get("buckets", [])],
        },
        "recent_counts": parse_recent_counts(aggs.get("recent_counts", {})),
    }


def _values(terms: dict) -> list[dict]:
    return [{"value": b["key"], "count": b["doc_count"]} for b in terms.get("buckets", [])]


def _instant(epoch_millis: float | None) -> dt.datetime | None:
    if epoch_millis is None:
        return None
    return dt.datetime.fromtimestamp(epoch_millis / 1000, tz=dt.UTC)


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


def collection_overview(client: OpenSearch, alias: str, now: dt.datetime | None = None) -> dict:
    """The start page's figures, and its top stories with the period they come from ("period": None when the
    collection has no dated article)."""
    now = now or dt.datetime.now(dt.UTC)
    overview = parse_overview(client.search(index=alias, body=overview_body(now=now)))
    period = choose_period(now, overview["recent_counts"], overview["newest_days"])
    overview["period"] = period
    overview["top"] = top_stories(client, alias, period) if period else []
    return overview
