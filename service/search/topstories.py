"""Top stories for the start page: the stories of a recent period, ranked by how many outlets carry them and how
fast they grow, each with its outlets, size, first-seen time and whether it is breaking.

The period is the last day (or three, or seven) when the collection has articles that recent; a collection whose
news is older (a demo, an archive) gets its newest FALLBACK_DAYS days that have articles, and the page says which.
The pure parts (the period, the body, the ranking, "breaking") are tested alone; `top_stories` runs them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from opensearchpy import OpenSearch

LIVE_WINDOWS_HOURS = (24, 72, 168)  # tried in turn, each ending now
MIN_ARTICLES = 3  # a live period needs this many articles, or the next wider one is tried
FALLBACK_DAYS = 3
CANDIDATES = 50  # stories fetched in the period (the most widely carried), then ranked here
TOP_STORIES = 8
OUTLETS_SHOWN = 6
# Breaking: a story that gained at least BREAKING_NEW_ARTICLES articles in the last BREAKING_HOURS of the period,
# and those are at least BREAKING_SHARE of it: it is growing now, not an old story with a late trickle.
BREAKING_HOURS = 6
BREAKING_NEW_ARTICLES = 3
BREAKING_SHARE = 0.5
LEAD_SOURCE = ["id", "title", "title_en", "source", "published", "cluster_id"]


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime
    live: bool  # ends now; otherwise it is the collection's newest days with articles
    days: int = 0  # how many days with articles a period that is not live holds

    @property
    def description(self) -> str:
        if self.live:
            hours = round((self.end - self.start).total_seconds() / 3600)
            return f"the last {hours} hours" if hours <= 24 else f"the last {hours // 24} days"
        last = self.end - dt.timedelta(days=1)
        if self.days == 1:
            return f"{last:%-d %B %Y}, the newest day with articles (the collection has nothing more recent)"
        return (
            f"the {self.days} newest days with articles, {self.start:%-d %B %Y} to {last:%-d %B %Y}"
            " (the collection has nothing more recent)"
        )


def choose_period(now: dt.datetime, recent_counts: dict[int, int], newest_days: list[dt.datetime]) -> Period | None:
    """The narrowest live period (recent_counts: hours → articles published in the last that many hours) with
    MIN_ARTICLES, or else the newest FALLBACK_DAYS days that have articles (newest_days: their starts, newest
    first) up to the end of the newest; None for an empty or undated collection."""
    for hours in LIVE_WINDOWS_HOURS:
        if recent_counts.get(hours, 0) >= MIN_ARTICLES:
            return Period(now - dt.timedelta(hours=hours), now, live=True)
    if not newest_days:
        return None
    days = newest_days[:FALLBACK_DAYS]
    return Period(days[-1], days[0] + dt.timedelta(days=1), live=False, days=len(days))


def recent_counts_aggregation(now: dt.datetime) -> dict:
    """Articles published in each live period, counted beside the start page's other figures."""
    return {
        "date_range": {
            "field": "published",
            "ranges": [
                {"key": str(hours), "from": _iso(now - dt.timedelta(hours=hours))} for hours in LIVE_WINDOWS_HOURS
            ],
        }
    }


def newest_days_aggregation() -> dict:
    """The newest FALLBACK_DAYS days that have articles, newest first."""
    return {
        "date_histogram": {"field": "published", "calendar_interval": "day", "min_doc_count": 1},
        "aggs": {"newest": {"bucket_sort": {"sort": [{"_key": {"order": "desc"}}], "size": FALLBACK_DAYS}}},
    }


def parse_newest_days(aggregation: dict) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(bucket["key"] / 1000, tz=dt.UTC) for bucket in aggregation.get("buckets", [])]


def parse_recent_counts(aggregation: dict) -> dict[int, int]:
    return {int(bucket["key"]): bucket["doc_count"] for bucket in aggregation.get("buckets", [])}


def is_breaking(size: int, new_articles: int) -> bool:
    """Whether a story of size articles (in the period), new_articles of them in the last BREAKING_HOURS, is
    growing fast."""
    return new_articles >= BREAKING_NEW_ARTICLES and new_articles >= BREAKING_SHARE * size


def top_stories_body(period: Period) -> dict:
    """The period's stories, the most widely carried first, each with its outlets, first and last article, how
    many arrived in the last BREAKING_HOURS, and its first report."""
    recent_since = period.end - dt.timedelta(hours=BREAKING_HOURS)
    return {
        "size": 0,
        "query": {"range": {"published": {"gte": _iso(period.start), "lte": _iso(period.end)}}},
        "aggs": {
            "stories": {
                "terms": {
                    "field": "cluster_id",
                    "size": CANDIDATES,
                    "order": [{"outlets": "desc"}, {"_count": "desc"}],
                },
                "aggs": {
                    "outlets": {"cardinality": {"field": "source"}},
                    "sources": {"terms": {"field": "source", "size": OUTLETS_SHOWN}},
                    "first": {"min": {"field": "published"}},
                    "last": {"max": {"field": "published"}},
                    "recent": {"filter": {"range": {"published": {"gte": _iso(recent_since)}}}},
                    "lead": {
                        "top_hits": {
                            "size": 1,
                            "_source": LEAD_SOURCE,
                            "sort": [{"published": {"order": "asc"}}, {"id": "asc"}],
                        }
                    },
                },
            }
        },
    }


def parse_top_stories(response: dict, limit: int = TOP_STORIES) -> list[dict]:
    """The ranked stories: {"cluster_id", "lead" (the first report), "size", "outlets" (count), "sources" (names),
    "first_seen", "last_seen", "new", "breaking"}."""
    stories = []
    for bucket in response.get("aggregations", {}).get("stories", {}).get("buckets", []):
        leads = bucket["lead"]["hits"]["hits"]
        if not leads:
            continue
        lead = {"id": leads[0]["_id"], **leads[0]["_source"]}
        stories.append(
            {
                "cluster_id": bucket["key"],
                "lead": lead,
                "size": bucket["doc_count"],
                "outlets": bucket["outlets"]["value"],
                "sources": [source["key"] for source in bucket["sources"]["buckets"]],
                "first_seen": bucket["first"].get("value_as_string") or lead.get("published"),
                "last_seen": bucket["last"].get("value_as_string"),
                "new": bucket["recent"]["doc_count"],
                "breaking": is_breaking(bucket["doc_count"], bucket["recent"]["doc_count"]),
            }
        )
    return rank(stories)[:limit]


def rank(stories: list[dict]) -> list[dict]:
    """Most outlets first; then the fastest growing (new articles), the largest, the most recent."""
    return sorted(stories, key=lambda s: (s["outlets"], s["new"], s["size"], s["last_seen"] or ""), reverse=True)


def top_stories(client: OpenSearch, alias: str, period: Period) -> list[dict]:
    return parse_top_stories(client.search(index=alias, body=top_stories_body(period)))


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
