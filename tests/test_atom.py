"""The Atom feed (service/alerts/atom.py): valid Atom 1.0, read as a feed reader reads it, with hostile text."""

from xml.etree import ElementTree as ET

import feedparser

from service.alerts.atom import ATOM, feed_xml, rfc3339
from service.alerts.matching import story_matches
from service.alerts.model import Alert, StoryMatch

BASE = "https://news.example"
NS = {"a": ATOM}
ALERT = Alert(
    id="a1",
    owner="o",
    name="Gaza <ceasefire> & talks",
    query='"وقف إطلاق النار" NOT sport',
    filters={},
    feed_token="secret-token",
    webhook_url=None,
    created="2026-01-01T00:00:00.000+00:00",
    last_seen=None,
)


def story(number: int, **changes) -> StoryMatch:
    fields = {
        "id": f"m{number}",
        "alert_id": "a1",
        "story_id": f"s{number}",
        "article_ids": (f"art/{number}", f"art-{number}b"),
        "outlets": ("Al Jazeera", "BBC <Arabic>"),
        "title_en": f"Talks resume & <b>hope</b> {number}",
        "title_ar": "استئناف المحادثات",
        "url_article_id": f"art/{number}",
        "published": f"2026-02-0{number}T10:30:00",
        "matched_at": f"2026-02-0{number}T11:00:00.000+00:00",
        "backfill": False,
    }
    return StoryMatch(**{**fields, **changes})


def test_the_feed_has_the_required_atom_elements_and_escapes_everything():
    xml = feed_xml(ALERT, [story(2), story(1, published=None, title_en="")], BASE)
    root = ET.fromstring(xml)
    assert root.tag == f"{{{ATOM}}}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"a:{name}", NS).text
    assert root.find("a:title", NS).text == "Alert: Gaza <ceasefire> & talks"  # escaped in the bytes, text here
    assert root.find("a:updated", NS).text == "2026-02-02T11:00:00Z"
    entries = root.findall("a:entry", NS)
    assert len(entries) == 2
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert entry.find(f"a:{name}", NS).text
        assert entry.find("a:link", NS).get("href").startswith(f"{BASE}/articles/art%2F")
    first, second = entries
    assert first.find("a:title", NS).text == "Talks resume & <b>hope</b> 2"
    assert [c.get("term") for c in first.findall("a:category", NS)] == ["Al Jazeera", "BBC <Arabic>"]
    assert first.find("a:published", NS).text == "2026-02-02T10:30:00Z"
    assert second.find("a:title", NS).text == "استئناف المحادثات"  # no English title: the Arabic one
    assert second.find("a:published", NS) is None
    assert b"<b>" not in xml and b"secret-token" not in xml


def test_a_feed_reader_parses_it_without_complaint():
    parsed = feedparser.parse(feed_xml(ALERT, [story(3), story(2)], BASE))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Alert: Gaza <ceasefire> & talks"
    assert [entry.title for entry in parsed.entries] == ["Talks resume & <b>hope</b> 3", "Talks resume & <b>hope</b> 2"]
    assert parsed.entries[0].link == f"{BASE}/articles/art%2F3"
    assert len({entry.id for entry in parsed.entries}) == 2
    assert parsed.entries[0].published_parsed[:3] == (2026, 2, 3)


def test_an_alert_without_matches_is_a_valid_empty_feed_dated_by_its_creation():
    parsed = feedparser.parse(feed_xml(ALERT, [], BASE))
    assert not parsed.bozo and parsed.entries == []
    assert parsed.feed.updated == "2026-01-01T00:00:00Z"


def test_dates_become_utc_date_times():
    assert rfc3339("2026-02-01") == "2026-02-01T00:00:00Z"
    assert rfc3339("2026-02-01T12:00:00+03:00") == "2026-02-01T09:00:00Z"


def test_entries_matched_in_one_ingest_each_have_their_own_updated_in_the_articles_order():
    documents = [{"id": f"a{n}", "source": "BBC Arabic", "title_en": f"Story {n}"} for n in range(3)]
    matches = story_matches({"alert": documents}, "2026-02-02T11:00:00.000+00:00")
    updated = [rfc3339(match.matched_at, milliseconds=True) for match in matches]
    assert updated == ["2026-02-02T11:00:00Z", "2026-02-02T11:00:00.001Z", "2026-02-02T11:00:00.002Z"]
