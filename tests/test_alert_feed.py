"""GET /alerts/<id>/feed.atom?token=…: the alert's matches as Atom, on the real node; no API key, the feed's token."""

from dataclasses import replace
from xml.etree import ElementTree as ET

import feedparser
import pytest

from service.alerts.matching import match_indexed
from service.alerts.model import StoryMatch, match_id, saved_wording
from service.alerts.store import AlertStore, now_iso
from service.web import create_app

KEY = "feed-key-0123456"


@pytest.fixture(scope="module")
def app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), read_requires_key=True))


@pytest.fixture(scope="module")
def alert(client, alias):
    store = AlertStore(client, alias)
    wording = saved_wording({"lang": "en", "text": "ceasefire", "by": "user"})
    alert, _secret = store.create("someone", "Ceasefire <watch>", "ceasefire", {}, [wording])
    stories = [("s1", "Ceasefire holds & talks go on", ("Outlet A", "Outlet B")), ("s2", "Truce <b>broken</b>", ())]
    store.record_matches(
        [
            StoryMatch(
                match_id(alert.id, story),
                alert.id,
                story,
                (f"{story}/a",),
                outlets,
                title,
                "",
                f"{story}/a",
                "2026-03-01",
                now_iso(),
                False,
            )
            for story, title, outlets in stories
        ]
    )
    client.indices.refresh(index=store.matches_index)
    return alert


def test_the_feed_is_atom_with_one_entry_per_story_and_needs_no_api_key(app, alert):
    answer = app.test_client().get(f"/alerts/{alert.id}/feed.atom?token={alert.feed_token}")
    assert answer.status_code == 200
    assert answer.mimetype == "application/atom+xml"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    parsed = feedparser.parse(answer.data)
    assert not parsed.bozo and parsed.version == "atom10"
    assert parsed.feed.title == "Alert: Ceasefire <watch>"
    assert sorted(entry.title for entry in parsed.entries) == ["Ceasefire holds & talks go on", "Truce <b>broken</b>"]
    links = {entry.title: entry.link for entry in parsed.entries}
    assert links["Truce <b>broken</b>"] == "http://localhost/articles/s2%2Fa"
    stories = {entry.title: [link.href for link in entry.links if link.rel == "related"] for entry in parsed.entries}
    assert stories["Truce <b>broken</b>"] == ["http://localhost/stories/s2"]  # issue 21 item 17: the story
    assert b"<b>" not in answer.data


@pytest.mark.parametrize("token", ["", "?token=", "?token=wrong-token", "?token=%00"])
def test_a_wrong_or_missing_token_is_a_json_404(app, alert, token):
    answer = app.test_client().get(f"/alerts/{alert.id}/feed.atom{token}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"


def test_another_alerts_token_does_not_open_this_feed(app, alert, client, alias):
    other, _ = AlertStore(client, alias).create(
        "someone", "Other", "truce", {}, [saved_wording({"lang": "en", "text": "truce", "by": "user"})]
    )
    answer = app.test_client().get(f"/alerts/{alert.id}/feed.atom?token={other.feed_token}")
    assert answer.status_code == 404 and answer.is_json
    assert app.test_client().get(f"/alerts/no-such-alert/feed.atom?token={alert.feed_token}").status_code == 404
    too_long = app.test_client().get(f"/alerts/{'a' * 600}/feed.atom?token={alert.feed_token}")
    assert too_long.status_code == 404 and too_long.is_json


# Stored before ingest checked them (the record check is bypassed here, as for articles already indexed): instants
# whose UTC is past Python's years, dates OpenSearch takes and fromisoformat does not, and what XML 1.0 forbids.
HOSTILE_ARTICLES = [
    ("late", "9999-12-31T23:59:59-14:00", "Zebra late\x00 news", "Outlet\x07 A"),
    ("early", "0001-01-01T00:00:00+14:00", "Zebra early\x1b[31m news\ufffe", "Outlet\x0b B"),
    ("millis", 1700000000000, "Zebra epoch\x08 news", "Outlet C"),
]


def test_stored_articles_with_out_of_range_dates_or_control_characters_leave_the_feed_well_formed(app, client, alias):
    store = AlertStore(client, alias)
    hostile, _ = store.create(
        "someone", "Zebra\x01 watch", "zebra", {}, [saved_wording({"lang": "en", "text": "zebra", "by": "user"})]
    )
    documents = [
        {
            "id": f"hostile-{name}",
            "cluster_id": f"hostile-{name}",
            "title": title,
            "title_en": title,
            "body": title,
            "body_en": title,
            "source": source,
            "published": published,
        }
        for name, published, title, source in HOSTILE_ARTICLES
    ]
    for document in documents:
        client.index(index=alias, id=document["id"], body=document, refresh=True)
    assert len(match_indexed(client, alias, documents)) == len(documents)
    client.indices.refresh(index=store.matches_index)
    answer = app.test_client().get(f"/alerts/{hostile.id}/feed.atom?token={hostile.feed_token}")
    assert answer.status_code == 200, answer.data[:500]
    ET.fromstring(answer.data)  # well-formed: raises ParseError otherwise
    parsed = feedparser.parse(answer.data)
    assert not parsed.bozo and len(parsed.entries) == len(documents)
    assert parsed.feed.title == "Alert: Zebra watch"
    published = {entry.title: entry.get("published") for entry in parsed.entries}
    assert published == {
        "Zebra late news": "9999-12-31T23:59:59Z",
        "Zebra early[31m news": "0001-01-01T00:00:00Z",
        "Zebra epoch news": None,
    }
    assert {tag.term for entry in parsed.entries for tag in entry.tags} == {"Outlet A", "Outlet B", "Outlet C"}
