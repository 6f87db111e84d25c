"""Matching articles against the saved searches: on ingest (percolate), and at an alert's creation (back-fill).

The write path (service/ingest.py, behind every writer) calls match_indexed with the documents it has just indexed, which carry
their story cluster and their sentence vectors: one percolate query over the batch finds the alerts each article
matches by its words; the alerts' saved query vectors scored against the batch's sentences (alerts/meaning.py) find
those it matches in meaning, kept where the alert's filters let the article through (a second percolate, of the
filters alone, over those alerts and articles); the store records one entry per (alert, story). Matching never fails an ingest: the articles are indexed already, so a
failure is logged and counted (failures(), the alert_matching_failures metric), and those articles' matches are
missed until they are ingested changed, or an alert is made again with back-fill.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

import numpy as np
from opensearchpy import OpenSearch

from service.alerts import snippets
from service.alerts.atom import parse_utc
from service.alerts.meaning import AlertVector, meaning_matches
from service.alerts.model import Alert, StoryMatch, match_id
from service.alerts.outbox import iso_utc
from service.alerts.store import AlertStore, now_iso
from service.embedding.interface import SentenceEncoder
from service.limits import MAX_RESULT_WINDOW
from service.search import query as query_parser
from service.search.body import WORDS, MeaningQuery, alert_query
from service.search.searcher import query_vector, vector_dimension, with_meaning_evidence

log = logging.getLogger(__name__)
MATCH_SOURCE = ["id", "cluster_id", "title", "title_en", "source", "published"]
_failed = 0  # articles indexed by this process whose matching failed
_failed_lock = threading.Lock()
_ensured: set[str] = set()  # aliases whose alert indices this process has brought up to date


def failures() -> int:
    """Articles this process indexed but could not match against the saved searches (only grows)."""
    return _failed


def story_matches(
    alerts: dict[str, list[dict]],
    matched_at: str,
    backfill: bool = False,
    snippets: dict[tuple[str, str], dict | None] | None = None,
) -> list[StoryMatch]:
    """One entry per (alert, story) from {alert id: the article documents it matched}, articles in order; an entry
    shows the snippet ({(alert id, article id): sentence pair}) of its first article.

    The entries of one alert a batch makes are matched a millisecond apart, in the articles' order (the matches
    index keeps milliseconds), so that the feed's entries, and their readers, have an order."""
    entries: dict[str, StoryMatch] = {}
    start = parse_utc(matched_at)
    for alert_id, documents in alerts.items():
        order = {story: n for n, story in enumerate(dict.fromkeys(d.get("cluster_id") or d["id"] for d in documents))}
        for doc in documents:
            story = doc.get("cluster_id") or doc["id"]
            at = iso_utc(start + dt.timedelta(milliseconds=order[story]))
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
                matched_at=at,
                backfill=backfill,
                snippet=(snippets or {}).get((alert_id, doc["id"])),
            )
            entries[entry.id] = entries[entry.id].joined(entry) if entry.id in entries else entry
    return list(entries.values())


def match_indexed(
    client: OpenSearch,
    alias: str,
    documents: list[dict],
    encoder: SentenceEncoder | None = None,
    floor: float | None = None,
) -> list[StoryMatch]:
    """Record the saved searches' matches among documents just indexed; the entries new now. Never raises.

    floor (SEARCH_MEANING_FLOOR; None: words only) is the least cosine of a sentence that matches an alert in
    meaning; encoder gives a vector to an alert that has none of the documents' encoder yet."""
    if not documents:
        return []
    try:
        store = AlertStore(client, alias)
        if alias not in _ensured:  # indices made by an earlier version get the fields matches now write (snippet)
            store.bring_up_to_date()
            _ensured.add(alias)
        found = store.percolate(documents)
        by_words = {alert_id: set(slots) for alert_id, (_, slots) in found.items()}
        if floor is not None:
            for alert_id, (webhook, slots) in by_meaning(store, documents, encoder, floor).items():
                known = found.get(alert_id, (webhook, []))[1]
                found[alert_id] = (webhook, sorted({*known, *slots}))
        matched = {alert_id: [documents[slot] for slot in slots] for alert_id, (_, slots) in found.items()}
        notify = frozenset(alert_id for alert_id, (webhook, _) in found.items() if webhook)
        shown = match_snippets(store, documents, {alert_id: slots for alert_id, (_, slots) in found.items()}, by_words)
        return store.record_matches(story_matches(matched, now_iso(), snippets=shown), notify)
    except Exception:  # the articles are indexed: a matching failure must not fail the ingest
        global _failed
        with _failed_lock:
            _failed += len(documents)
        log.exception(
            "matching %d indexed articles against the saved searches failed; their matches are missed", len(documents)
        )
        return []


def match_snippets(
    store: AlertStore, documents: list[dict], found: dict[str, list[int]], by_words: dict[str, set[int]]
) -> dict[tuple[str, str], dict | None]:
    """{(alert id, article id): the sentence pair that matched} for the alerts' matches found (positions in
    documents), those in by_words matched by their words (else by meaning): one read of the alerts' wordings."""
    parts = store.matching_parts(sorted(found))
    shown = {}
    for alert_id, slots in found.items():
        wordings, vector = parts.get(alert_id, ([], None))
        for slot in slots:
            document = documents[slot]
            if not wordings and vector is None:  # a saved browse: no words or meaning to show, so the lead
                shown[(alert_id, document["id"])] = snippets.lead(document)
                continue
            words = snippets.by_words(document, wordings) if slot in by_words.get(alert_id, ()) else None
            shown[(alert_id, document["id"])] = words or snippets.by_meaning(document, vector)
    return shown


def by_meaning(
    store: AlertStore, documents: list[dict], encoder: SentenceEncoder | None, floor: float
) -> dict[str, tuple[bool, list[int]]]:
    """{alert id: (whether it has a webhook, the positions in documents it matches in meaning and whose filters
    the documents pass)}: search's vector channel for new articles. An alert with no vector of the documents'
    encoder gets one from encoder when it is that encoder (saved before vectors, or under another ENCODER);
    otherwise it is not compared."""
    encoders = {document.get("encoder") for document in documents} - {None}
    if not encoders:
        return {}
    saved = store.saved_meanings()
    vectors: dict[str, AlertVector] = {}
    for alert in saved:
        if not alert.has_words:  # a saved browse matches by its filters alone (its percolator query)
            continue
        vector = alert.vector
        if vector is None or vector.encoder_id not in encoders:
            if encoder is None or encoder.encoder_id not in encoders:
                continue
            vector = store.set_meaning(alert.alert_id, lambda found: alert_vector(encoder, found.query))
            if vector is None:  # deleted meanwhile
                continue
        vectors[alert.alert_id] = vector
    candidates = meaning_matches(vectors, documents, floor)
    if not candidates:
        return {}
    webhooks = {alert.alert_id: alert.webhook for alert in saved}
    reads = {alert.alert_id: alert.filters_read for alert in saved}
    unfiltered = {alert_id: slots for alert_id, slots in candidates.items() if reads[alert_id] == "nothing"}
    filtered = {alert_id: slots for alert_id, slots in candidates.items() if alert_id not in unfiltered}
    reading_text = {alert_id for alert_id in filtered if reads[alert_id] == "text"}
    passed = {**unfiltered, **store.percolate_filters(documents, filtered, reading_text)}
    return {alert_id: (webhooks[alert_id], slots) for alert_id, slots in passed.items()}


def alert_vector(encoder: SentenceEncoder, query: str) -> AlertVector:
    """The vector of an alert's query: the one search makes of the same query (searcher.query_vector)."""
    return AlertVector(
        encoder.encoder_id, np.asarray(query_vector(encoder, query_parser.parse(query).terms), dtype=np.float32)
    )


def backfill(store: AlertStore, alert: Alert, limit: int, meaning: MeaningQuery | None = None) -> list[StoryMatch]:
    """Record, marked as back-fill, the stories of the newest `limit` articles already indexed that the alert
    matches: its percolator query run as a search (with meaning, the search's vector channel too, where the index
    holds vectors of its dimension), so back-fill and ingest matching agree."""
    if meaning is not None and vector_dimension(store.client, store.alias) != len(meaning.vector):
        meaning = None
    body = {
        "query": alert_query(alert.request(), alert.wordings(), meaning),
        "size": min(limit, MAX_RESULT_WINDOW),
        "sort": [{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}],
        "_source": [*MATCH_SOURCE, "encoder", "sentences.ar", "sentences.en"],
    }
    response = store.client.search(index=store.alias, body=body)
    if meaning is not None:  # the index keeps no vectors in _source: it finds each hit's nearest sentence itself
        with_meaning_evidence(store.client, store.alias, response, meaning)
    hits = response["hits"]["hits"]
    documents = [_with_nearest(hit) for hit in hits]
    by_words = {slot for slot, hit in enumerate(hits) if WORDS in hit.get("matched_queries", ())}
    shown = match_snippets(store, documents, {alert.id: list(range(len(hits)))}, {alert.id: by_words})
    matched = {alert.id: documents}
    return store.record_matches(story_matches(matched, now_iso(), backfill=True, snippets=shown))


def _with_nearest(hit: dict) -> dict:
    """A back-filled hit's document, with the sentence the index found nearest the alert's vector, if any."""
    nearest = hit.get("inner_hits", {}).get("sentences_meaning", {}).get("hits", {}).get("hits")
    return {**hit["_source"], snippets.NEAREST: nearest[0]["_source"]} if nearest else hit["_source"]
