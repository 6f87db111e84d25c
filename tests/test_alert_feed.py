"""GET /alerts/<id>/feed.atom?token=…: the alert's matches as Atom, on the real node; no API key, the feed's token."""

from dataclasses import replace

import feedparser
import pytest

from service.alerts.model import StoryMatch, match_id, saved_form
from service.alerts.store import AlertStore, now_iso
from service.web import create_app

KEY = "feed-key-0123456"


@pytest.fixture(scope="module")
def app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), read_requires_key=True))


@pytest.fixture(scope="module")
def alert(client, alias):
    store = AlertStore(client, alias)
    form = saved_form({"lang": "en", "text": "ceasefire", "by": "user"})
    alert, _secret = store.create("someone", "Ceasefire <watch>", "ceasefire", {}, [form])
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
    assert b"<b>" not in answer.data


@pytest.mark.parametrize("token", ["", "?token=", "?token=wrong-token", "?token=%00"])
def test_a_wrong_or_missing_token_is_a_json_404(app, alert, token):
    answer = app.test_client().get(f"/alerts/{alert.id}/feed.atom{token}")
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"


def test_another_alerts_token_does_not_open_this_feed(app, alert, client, alias):
    other, _ = AlertStore(client, alias).create(
        "someone", "Other", "truce", {}, [saved_form({"lang": "en", "text": "truce", "by": "user"})]
    )
    answer = app.test_client().get(f"/alerts/{alert.id}/feed.atom?token={other.feed_token}")
    assert answer.status_code == 404 and answer.is_json
    assert app.test_client().get(f"/alerts/no-such-alert/feed.atom?token={alert.feed_token}").status_code == 404
    too_long = app.test_client().get(f"/alerts/{'a' * 600}/feed.atom?token={alert.feed_token}")
    assert too_long.status_code == 404 and too_long.is_json
