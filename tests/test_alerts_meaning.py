"""Saved searches by meaning on the real node with the real encoder: an alert whose words never occur in an Arabic
article (its English is the demo model's noise) but whose meaning does gets the article at ingest and at back-fill,
exactly as search with its vector channel returns it; the alert's filters keep articles out; an alert of another
encoder is not compared; an alert saved before vectors gets one at ingest; an old alerts index gets the fields."""

import json

import numpy as np
import pytest

from service.alerts import matching
from service.alerts.meaning import AlertVector
from service.alerts.model import search_request
from service.alerts.store import MATCHES_CONFIG, AlertStore, alerts_index_body
from service.alerts.usecases import AlertSpec, create_alert, update_alert
from service.config import PROJECT_ROOT, Settings
from service.index import lifecycle, vectors
from service.index.lifecycle import read_config
from service.ingest import INDEXED, IndexTarget, machine_translation, write_articles
from service.search.request import SearchRequest
from service.search.searcher import Meaning, search

SAMPLE = [json.loads(line) for line in (PROJECT_ROOT / "examples" / "articles.jsonl").read_text().splitlines()]
ARABIC = [record for record in SAMPLE if record.get("sentences")]
SETTINGS = Settings(alerts_per_key=1000, alert_backfill_articles=100)
OWNER = "owner-meaning"


def without_english(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in ("title_en", "sentences")}


def query_of(record: dict) -> str:
    """One English sentence of the article's human translation: what an analyst would write about it."""
    return record["sentences"][1]["target"][:300]


@pytest.fixture(scope="module")
def meaning(encoder):
    return Meaning(encoder, SETTINGS.meaning_floor, SETTINGS.search_meaning_weight)


@pytest.fixture
def fresh(client):
    """An empty alias of its own (with sentence vectors) and its alert store; deleted afterwards."""
    alias = "test-alerts-meaning"
    lifecycle.delete(client, alias)
    client.indices.delete(index=f"{alias}-alert*", ignore_unavailable=True)
    lifecycle.create(client, alias)
    store = AlertStore(client, alias)
    store.ensure()
    yield alias, store
    client.indices.delete(index=f"{alias}-alert*", ignore_unavailable=True)
    lifecycle.delete(client, alias)


def save(store, encoder, query, filters=None, backfill=False):
    spec = AlertSpec(query, query, filters or {}, backfill=backfill)
    return create_alert(store, OWNER, spec, SETTINGS, {}, encoder)


def ingest_noisy(client, alias, encoder, translator, records=ARABIC):
    target = IndexTarget(client, alias, encoder=encoder, meaning_floor=SETTINGS.meaning_floor)
    outcomes = write_articles(
        list(enumerate(map(without_english, records), 1)), target, machine_translation(translator)
    )
    assert {o.status for o in outcomes} == {INDEXED}
    client.indices.refresh(index=alias)
    client.indices.refresh(index=f"{alias}-alert-matches")


def matched(store, alert_id) -> set[str]:
    return {article for entry in store.matches(alert_id, size=100)[1] for article in entry.article_ids}


def searched(client, alias, query, meaning, filters=None) -> set[str]:
    """The articles search finds by the query's words or meaning. Hits that say neither are left out: with the
    meaning clause inside the query's bool, the node also returns articles whose nearest sentence is below the
    floor, and says they matched nothing (matched_by [])."""
    filters = filters or {}
    request = search_request(query, filters, size=100)
    return {hit["id"] for hit in search(client, alias, request, meaning=meaning)["hits"] if hit["matched_by"]}


def test_an_alert_matches_by_meaning_at_ingest_exactly_as_search(client, fresh, encoder, translator, meaning):
    alias, store = fresh
    alerts = {record["id"]: save(store, encoder, query_of(record)).alert for record in ARABIC}
    ingest_noisy(client, alias, encoder, translator)
    for record in ARABIC:
        query = query_of(record)
        words_only = search(client, alias, SearchRequest(query, size=100, collapse=False))
        assert record["id"] not in {hit["id"] for hit in words_only["hits"]}  # its words are not in the article
        expected = searched(client, alias, query, meaning)
        assert record["id"] in expected
        assert matched(store, alerts[record["id"]].id) == expected, query


def test_backfill_lists_what_search_finds_by_meaning(client, fresh, encoder, translator, meaning):
    alias, store = fresh
    record = ARABIC[0]
    following = save(store, encoder, query_of(record)).alert  # matched as the articles are ingested
    ingest_noisy(client, alias, encoder, translator)
    saved = save(store, encoder, query_of(record), backfill=True)
    client.indices.refresh(index=store.matches_index)
    expected = searched(client, alias, query_of(record), meaning)
    assert record["id"] in expected and saved.backfilled == len(expected)
    assert matched(store, saved.alert.id) == expected
    # each with the sentence pair it matched by, the one ingest recorded for the same search
    at_ingest, backfilled = (
        {entry.article_ids[0]: entry.snippet for entry in store.matches(alert.id, size=100)[1]}
        for alert in (following, saved.alert)
    )
    assert backfilled == at_ingest and at_ingest[record["id"]]["by"] == "meaning"
    without = save(store, None, query_of(record), backfill=True)  # no encoder: words only, and they are not there
    assert without.backfilled == 0


def test_the_alerts_filters_keep_an_article_found_in_meaning_out(client, fresh, encoder, translator, meaning):
    alias, store = fresh
    record = ARABIC[0]
    other_source = next(r["source"] for r in SAMPLE if r.get("source") and r["source"] != record["source"])
    first_word = record["title"].split()[0]
    kept_out = [
        save(store, encoder, query_of(record), {"source": [other_source]}).alert,
        # its own title's first word excluded, on the Arabic side (the query is searched as Arabic, by its lang)
        save(store, encoder, f"{query_of(record)} -{first_word}", {"lang": "ar"}).alert,
        save(store, encoder, query_of(record), {"to": "1990-01-01"}).alert,
    ]
    let_through = save(store, encoder, query_of(record), {"source": [record["source"]]}).alert
    ingest_noisy(client, alias, encoder, translator)
    for alert in kept_out:
        assert record["id"] not in matched(store, alert.id), alert.query
        assert record["id"] not in searched(client, alias, alert.query, meaning, alert.filters)
    assert record["id"] in matched(store, let_through.id)
    assert matched(store, let_through.id) == searched(client, alias, query_of(record), meaning, let_through.filters)


def test_an_alert_of_another_encoder_is_not_compared(client, fresh, encoder, translator):
    alias, store = fresh
    record = ARABIC[0]
    ours, theirs = save(store, encoder, query_of(record)).alert, save(store, encoder, query_of(record)).alert
    ingest_noisy(client, alias, encoder, translator, [record])
    stored = client.get(index=store.alerts_index, id=theirs.id)["_source"]
    same = AlertVector.from_source(stored["meaning"]).vector
    stored["meaning"] = AlertVector("another-encoder@1", same).to_source()  # the same numbers, another space
    client.index(index=store.alerts_index, id=theirs.id, body=stored, refresh=True)
    # the article as the write path hands it to matching: its stored source with its sentences' vectors
    documents = vectors.embed_documents(encoder, [client.get(index=alias, id=record["id"])["_source"]])
    # a process without an encoder cannot give the other alert a vector of this one: only ours is compared
    found = matching.by_meaning(store, documents, None, SETTINGS.meaning_floor)
    assert found == {ours.id: (False, [0])}


def test_an_alert_saved_before_vectors_gets_one_at_ingest(client, fresh, encoder, translator, meaning):
    alias, store = fresh
    record = ARABIC[1]
    old = save(store, None, query_of(record)).alert  # no encoder at save time: no vector
    assert client.get(index=store.alerts_index, id=old.id)["_source"]["meaning"] is None
    ingest_noisy(client, alias, encoder, translator)
    assert record["id"] in matched(store, old.id)
    assert matched(store, old.id) == searched(client, alias, query_of(record), meaning)
    saved = AlertVector.from_source(client.get(index=store.alerts_index, id=old.id)["_source"]["meaning"])
    assert saved.encoder_id == encoder.encoder_id


def test_indices_made_before_meaning_pausing_digests_and_snippets_get_their_fields(client):
    alias = "test-alerts-meaning-old"
    store = AlertStore(client, alias)
    client.indices.delete(index=f"{alias}-alert*", ignore_unavailable=True)
    body = alerts_index_body()
    for name in ("filter_query", "meaning"):
        del body["mappings"]["properties"][name]
    for name in ("paused", "digest_email", "digest_cadence"):
        del body["mappings"]["properties"]["alert"]["properties"][name]
    client.indices.create(index=store.alerts_index, body=body)
    matches = read_config(MATCHES_CONFIG)
    del matches["mappings"]["properties"]["snippet"]
    client.indices.create(index=store.matches_index, body=matches)
    try:
        store.ensure()
        fields = client.indices.get_mapping(index=store.alerts_index)[store.alerts_index]["mappings"]["properties"]
        assert fields["filter_query"] == {"type": "percolator"} and fields["meaning"]["enabled"] is False
        assert fields["alert"]["properties"]["digest_cadence"] == {"type": "keyword"}
        assert "paused" in fields["alert"]["properties"] and "name" in fields["alert"]["properties"]
        found = client.indices.get_mapping(index=store.matches_index)[store.matches_index]["mappings"]["properties"]
        assert found["snippet"]["enabled"] is False
    finally:
        client.indices.delete(index=f"{alias}-alert*", ignore_unavailable=True)


def test_an_update_keeps_the_vector_while_the_query_stays_and_makes_it_again_when_it_changes(fresh, encoder):
    _, store = fresh
    alert = save(store, encoder, "ceasefire talks").alert

    def stored():
        return AlertVector.from_source(store.client.get(index=store.alerts_index, id=alert.id)["_source"]["meaning"])

    first = stored()
    update_alert(store, alert.id, OWNER, {"name": "renamed", "filters": {"source": ["BBC Arabic"]}}, SETTINGS, {}, None)
    assert np.array_equal(stored().vector, first.vector)
    update_alert(store, alert.id, OWNER, {"query": "flood victims"}, SETTINGS, {}, encoder)
    assert not np.array_equal(stored().vector, first.vector)
    assert np.allclose(stored().vector, encoder.encode_queries(["flood victims"])[0], atol=1e-6)
    update_alert(store, alert.id, OWNER, {"query": "earthquake"}, SETTINGS, {}, None)  # no encoder: no stale vector
    assert stored() is None
