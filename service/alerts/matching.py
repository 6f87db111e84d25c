"""Matching articles against the saved searches: on ingest (percolate), and at an alert's creation (back-fill).

The write path (service/ingest.py, behind every writer) calls match_indexed with the documents it has just indexed, which carry
their story cluster: one percolate query over the batch finds the alerts each article matches, and the store
records one entry per (alert, story). Matching never fails an ingest: the articles are indexed already, so a
failure is logged and counted (failures(), the alert_matching_failures metric), and those articles' matches are
missed until they are ingested changed, or an alert is made again with back-fill.
"""

from __future__ import annotations

import logging
import threading

from opensearchpy import OpenSearch

from service.alerts.model import Alert, StoryMatch, match_id
from service.alerts.store import AlertStore, now_iso
from service.limits import MAX_RESULT_WINDOW
from service.search.body import alert_query

log = logging.getLogger(__name__)
MATCH_SOURCE = ["id", "cluster_id", "title", "title_en", "source", "published"]
_failed = 0  # articles indexed by this process whose matching failed
_failed_lock = threading.Lock()


def failures() -> int:
    """Articles this process indexed but could not match against the saved searches (only grows)."""
    return _failed


def story_matches(alerts: dict[str, list[dict]], matched_at: str, backfill: bool = False) -> list[StoryMatch]:
    """One entry per (alert, story) from {alert id: the article documents it matched}, articles in order."""
    entries: dict[str, StoryMatch] = {}
    for alert_id, documents in alerts.items():
        for doc in documents:
            story = doc.get("cluster_id") or doc["id"]
            entry = StoryMatch(
                id=match_id(alert_id, story),
                alert_id=alert_id,
                story_id=story,
                article_ids=(doc["id"],),
                outlets=(doc["source"],) if doc.get("source") else (),
                title_en=doc.get("title_en") or "",
                title_ar=doc.get("title") or "",
                url_article_id=doc["id"],
                published=doc.get("published"),
                matched_at=matched_at,
                backfill=backfill,
            )
            entries[entry.id] = entries[entry.id].joined(entry) if entry.id in entries else entry
    return list(entries.values())


def match_indexed(client: OpenSearch, alias: str, documents: list[dict]) -> list[StoryMatch]:
    """Record the saved searches' matches among documents just indexed; the entries new now. Never raises."""
    if not documents:
        return []
    try:
        store = AlertStore(client, alias)
        found = store.percolate(documents)
        matched = {alert_id: [documents[slot] for slot in slots] for alert_id, (_, slots) in found.items()}
        notify = frozenset(alert_id for alert_id, (webhook, _) in found.items() if webhook)
        return store.record_matches(story_matches(matched, now_iso()), notify)
    except Exception:  # the articles are indexed: a matching failure must not fail the ingest
        global _failed
        with _failed_lock:
            _failed += len(documents)
        log.exception(
            "matching %d indexed articles against the saved searches failed; their matches are missed", len(documents)
        )
        return []


def backfill(store: AlertStore, alert: Alert, limit: int) -> list[StoryMatch]:
    """Record, marked as back-fill, the stories of the newest `limit` articles already indexed that the alert
    matches: its percolator query run as a search, so back-fill and ingest matching agree."""
    body = {
        "query": alert_query(alert.request(), alert.wordings()),
        "size": min(limit, MAX_RESULT_WINDOW),
        "sort": [{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        "_source": MATCH_SOURCE,
    }
    hits = store.client.search(index=store.alias, body=body)["hits"]["hits"]
    matched = {alert.id: [hit["_source"] for hit in hits]}
    return store.record_matches(story_matches(matched, now_iso(), backfill=True))
