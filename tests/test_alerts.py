"""Saved searches on a real node with the real percolator: what an alert matches on ingest is what search returns."""

import contextlib
import itertools
import json
import threading
from dataclasses import replace

import pytest
from helpers import cli_env, run_cli

from service.alerts import matching
from service.alerts.model import search_request
from service.alerts.store import AlertLimitReached, AlertStore
from service.ingest import ingest
from service.jobs.store import SqliteJobStore
from service.jobs.worker import Worker
from service.modelstore.generate import CORPUS_DIR
from service.search import query as query_parser
from service.search.searcher import query_wordings, search

SOURCES = ("BBC Arabic", "Al Arabiya", "CNN Arabic", "Sky News Arabia")
CATEGORIES = ("health", "world", "science")
ARTICLES = 48
OWNER = "owner-a"

# (query, filters): both languages, phrases, NOT, groups, and every filter; each is checked against search.
QUERIES = [
    ("symptoms", {}),
    ("fever", {}),
    ("virus", {}),
    ("patients", {}),
    ("hospital OR doctor", {}),
    ('"chest pain"', {}),
    ("fever NOT cough", {}),
    ("virus -china", {}),
    ("(fever OR cough) AND symptoms", {}),
    ("symptoms", {"source": ["BBC Arabic"]}),
    ("virus", {"category": ["health", "science"]}),
    ("patients", {"from": "2020-03-01", "to": "2020-08-31"}),
    ("fever", {"source": ["Al Arabiya", "CNN Arabic"], "category": ["world"]}),
    ("pain", {"lang": "en"}),
    ("symptoms", {"q_ar": "الأعراض"}),
    ("الفيروس", {}),
    ("الحمى", {}),
    ("المرضى", {}),
    ("الأعراض", {}),
    ('"ألم في الصدر"', {}),
    ("الحمى NOT السعال", {}),
    ("المستشفى OR الطبيب", {}),
    ("الفيروس", {"source": ["Sky News Arabia", "BBC Arabic"]}),
    ("المرضى", {"category": ["health"], "from": "2020-05-01"}),
    ("الأعراض", {"to": "2020-06-30", "lang": "ar"}),
    ("الفيروس", {"q_en": "virus"}),
    ("fever الحمى", {}),
    ("virus -الصين", {}),
    ("cough", {"source": ["CNN Arabic"], "from": "2020-02-01", "to": "2020-11-30"}),
    ("العدوى", {}),
    ("infection OR infected", {}),
    ("vaccine", {}),
]


def tico_articles(start: int, count: int, prefix: str) -> list[dict]:
    """Pre-translated articles of three tico19 sentence pairs each (CC0, in the project), spread over the filters."""
    arabic = (CORPUS_DIR / "tico19.ar").read_text(encoding="utf-8").splitlines()
    english = (CORPUS_DIR / "tico19.en").read_text(encoding="utf-8").splitlines()
    articles = []
    for n in range(count):
        pairs = list(zip(arabic, english, strict=True))[start + 3 * n : start + 3 * n + 3]
        articles.append(
            {
                "id": f"{prefix}{n}",
                "source": SOURCES[n % len(SOURCES)],
                "category": CATEGORIES[n % len(CATEGORIES)],
                "date": f"2020-{n % 12 + 1:02d}-{n % 27 + 1:02d}T09:00:00Z",
                "title": pairs[0][0],
                "title_en": pairs[0][1],
                "body": " ".join(ar for ar, _ in pairs),
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            }
        )
    return articles


def index(client, alias, *records):
    report = ingest(enumerate(records, 1), client, alias, pretranslated=True)
    client.indices.refresh(index=alias)
    client.indices.refresh(index=f"{alias}-alert-matches")
    return report


def save(store, query, filters=None, owner=OWNER, webhook_url=None):
    filters = filters or {}
    wordings, _ = query_wordings(search_request(query, filters), query_parser.parse(query), {})
    return store.create(owner, query, query, filters, wordings, webhook_url)[0]


def matched_articles(store, alert) -> set[str]:
    _, entries = store.matches(alert.id, size=100)
    return {article for entry in entries for article in entry.article_ids}


def searched_articles(client, alias, query, filters) -> set[str]:
    result = search(client, alias, search_request(query, filters, size=100))
    return {hit["id"] for hit in result["hits"]}


@pytest.fixture(scope="module")
def store(client, alias):
    alerts = AlertStore(client, alias)
    alerts.ensure()
    yield alerts
    client.indices.delete(index=f"{alias}-alert*")


def test_alerts_saved_before_ingest_match_exactly_what_search_returns(client, alias, store):
    alerts = [save(store, query, filters) for query, filters in QUERIES]
    index(client, alias, *tico_articles(300, ARTICLES, "t"))
    found = {alert.id: matched_articles(store, alert) for alert in alerts}
    for alert, (query, filters) in zip(alerts, QUERIES, strict=True):
        assert found[alert.id] == searched_articles(client, alias, query, filters), (query, filters)
    matching_some = [alert for alert in alerts if found[alert.id]]
    assert len(matching_some) >= 20  # the queries exercise matching, not only agreement on nothing
    assert any(not found[alert.id] for alert in alerts) or len(matching_some) == len(alerts)


def test_near_duplicates_make_one_entry_listing_every_outlet(client, alias, store):
    alert = save(store, "ventilators")
    story = {
        "id": "wire-1",
        "source": "BBC Arabic",
        "title": "نقص أجهزة التنفس",
        "title_en": "Ventilators run short",
        "body": "قال الأطباء إن المستشفيات تعاني من نقص حاد في أجهزة التنفس الصناعي مع ارتفاع عدد المرضى "
        "في وحدات العناية المركزة وطالبوا الحكومة بتوفير المزيد من الأجهزة خلال الأيام المقبلة",
        "sentences": [{"source": "قال الأطباء", "target": "Doctors said hospitals lack ventilators."}],
    }
    copies = [
        {**story, "id": f"wire-{n}", "source": source, "body": story["body"] + suffix}
        for n, source, suffix in ((2, "Al Arabiya", " اليوم"), (3, "CNN Arabic", " أمس"))
    ]
    index(client, alias, story)
    index(client, alias, *copies)
    total, entries = store.matches(alert.id)
    assert total == 1
    assert entries[0].article_ids == ("wire-1", "wire-2", "wire-3")
    assert entries[0].outlets == ("BBC Arabic", "Al Arabiya", "CNN Arabic")
    assert entries[0].url_article_id == "wire-1" and not entries[0].backfill


def test_an_update_that_does_not_change_matching_records_nothing(client, alias, store):
    alert = save(store, "quarantine")
    article = tico_articles(900, 1, "u")[0] | {"title_en": "Quarantine ends", "id": "upd"}
    index(client, alias, article)
    before = store.matches(alert.id)
    stored = client.get(index=store.matches_index, id=before[1][0].id)
    assert index(client, alias, article | {"category": "world"}).indexed == 1  # changed, and still matching
    assert store.matches(alert.id) == before
    assert client.get(index=store.matches_index, id=before[1][0].id)["_seq_no"] == stored["_seq_no"]
    index(client, alias, article | {"title_en": "Lockdown ends", "id": "upd"})  # no longer matching
    assert store.matches(alert.id) == before  # an entry records that a story matched; it is not withdrawn


def test_an_update_that_starts_matching_is_recorded(client, alias, store):
    alert = save(store, "lockdown")
    article = tico_articles(960, 1, "v")[0] | {"title_en": "Schools reopen"}
    index(client, alias, article)
    assert store.matches(alert.id)[0] == 0
    index(client, alias, article | {"title_en": "Schools reopen after the lockdown"})
    assert store.matches(alert.id)[1][0].article_ids == (article["id"],)


def test_entries_of_an_alert_with_a_webhook_wait_for_delivery(client, alias, store):
    alert = save(store, "sanitizer", webhook_url="https://hooks.example.org/alerts")
    quiet = save(store, "sanitizer")
    index(client, alias, tico_articles(1000, 1, "w")[0] | {"title_en": "Hand sanitizer sells out"})
    (entry,) = store.matches(alert.id)[1]
    webhook = client.get(index=store.matches_index, id=entry.id)["_source"]["webhook"]
    assert webhook == {"state": "pending", "attempts": 0, "next_attempt": entry.matched_at}
    (plain,) = store.matches(quiet.id)[1]
    assert "webhook" not in client.get(index=store.matches_index, id=plain.id)["_source"]
    assert store.webhook_secret(alert.id) and store.webhook_secret(quiet.id) is None


def test_backfill_lists_existing_stories_marked_as_such_with_the_snippets_ingest_gives(client, alias, store):
    following = save(store, "Russia")  # matched as the articles are ingested
    index(client, alias, *tico_articles(1200, 6, "b"))
    alert = save(store, "Russia")
    expected = searched_articles(client, alias, "Russia", {})
    recorded = matching.backfill(store, alert, limit=100)
    client.indices.refresh(index=store.matches_index)
    assert expected and {a for entry in recorded for a in entry.article_ids} == expected
    assert matched_articles(store, alert) == expected
    backfilled = {entry.story_id: entry for entry in store.matches(alert.id, size=100)[1]}
    assert all(entry.backfill for entry in backfilled.values())
    # each with the sentence pair it matched by, the one ingest recorded for the same search
    at_ingest = {entry.story_id: entry.snippet for entry in store.matches(following.id, size=100)[1]}
    assert {"b0", "b1"} <= at_ingest.keys() and all(snippet["by"] == "words" for snippet in at_ingest.values())
    assert {story: backfilled[story].snippet for story in at_ingest} == at_ingest


def test_matches_page_newest_first_and_since_keeps_the_later_ones(client, alias, store):
    alert = save(store, "masks")
    for n in range(3):
        index(client, alias, tico_articles(1300 + 3 * n, 1, f"m{n}-")[0] | {"title_en": f"Masks, day {n}"})
    total, entries = store.matches(alert.id)
    assert total == 3 and [e.article_ids[0] for e in entries] == ["m2-0", "m1-0", "m0-0"]
    assert store.matches(alert.id, page=2, size=2) == (3, entries[2:])
    assert store.matches(alert.id, since=entries[1].matched_at) == (1, entries[:1])


def test_a_percolation_failure_keeps_the_ingest_and_is_counted(client, alias, store):
    save(store, "outbreak")
    failures = matching.failures()
    client.indices.close(index=store.alerts_index)
    try:
        report = index(client, alias, tico_articles(1400, 2, "f")[0] | {"title_en": "Outbreak"})
    finally:
        client.indices.open(index=store.alerts_index, wait_for_active_shards=1)
    assert report.indexed == 1 and client.get(index=alias, id="f0")["found"]
    assert matching.failures() == failures + 1


def test_a_changed_query_is_matched_as_changed(client, alias, store):
    alert = save(store, "ventilators")
    wordings, _ = query_wordings(search_request("oxygen", {}), query_parser.parse("oxygen"), {})
    changed, secret = store.update(alert.id, OWNER, "oxygen", "oxygen", {}, wordings, None)
    assert changed.query == "oxygen" and secret is None
    index(client, alias, {**tico_articles(1500, 1, "o")[0], "title_en": "Oxygen supplies"})
    assert [e.article_ids for e in store.matches(alert.id)[1]] == [("o0",)]
    assert store.update(alert.id, "owner-b", "x", "x", {}, wordings, None) is None


def test_alerts_belong_to_their_owner(store):
    mine = save(store, "testing")
    assert store.get(mine.id, "owner-b") is None and store.get(mine.id, OWNER) == mine
    assert mine.id not in {a.id for a in store.list_for("owner-b")}
    assert not store.delete(mine.id, "owner-b") and store.get(mine.id, None) == mine
    seen = store.mark_seen(mine.id, OWNER)
    assert seen.last_seen and replace(seen, last_seen=None) == mine
    assert store.delete(mine.id, OWNER) and store.get(mine.id, None) is None


def test_percolating_many_alerts_pages_through_them(client, alias, store, monkeypatch):
    monkeypatch.setattr("service.alerts.store.PERCOLATE_PAGE", 3)
    alerts = [save(store, "thermometer", owner=f"pager-{n}") for n in range(7)]
    found = store.percolate([{"title_en": "a thermometer", "body_en": "", "title": "", "body": ""}])
    assert {a.id for a in alerts} <= set(found)
    assert all(slots == [0] for _, slots in (found[a.id] for a in alerts))
    assert list(itertools.chain.from_iterable(s for _, s in found.values())) == [0] * len(found)


ARABIC_STORY = "أعلنت السلطات الصحية حملة تطعيم واسعة ضد الحصبة في المدارس"


def test_cli_ingest_and_bulk_jobs_record_matches_too(
    client, alias, store, search_settings, tiny_model_dir, translator, tmp_path
):
    alert = save(store, "الحصبة")
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"id": "cli-1", "body": ARABIC_STORY}, ensure_ascii=False) + "\n", encoding="utf-8")
    done = run_cli("ingest", str(feed), env=cli_env(search_settings, alias, tiny_model_dir, tmp_path))
    assert done.returncode == 0, done.stderr
    client.indices.refresh(index=alias)  # a near-copy finds its story by search: once the first is searchable
    jobs = SqliteJobStore(tmp_path / "jobs.db")
    jobs.create([(1, {"id": "job-1", "body": ARABIC_STORY + " اليوم", "source": "Al Arabiya"})], {"index": True})
    Worker(jobs, translator, client, alias).run(threading.Event(), until_idle=True)
    jobs.close()
    client.indices.refresh(index=store.matches_index)
    (entry,) = store.matches(alert.id)[1]  # the job's article is a near-copy: the same story
    assert entry.article_ids == ("cli-1", "job-1")


class WordTranslator:
    """Stands in for a real model, as in test_search.py (the generated one writes noise): fixed English."""

    demo = False

    def translate(self, sentences, **decoding):
        from service.translation.interface import Translation

        return [Translation("measles", -0.1, 1) for _ in sentences]


def test_the_machine_translation_made_at_save_time_is_matched_as_search_matches_it(client, alias, store):
    translators = {"en": WordTranslator()}
    request = search_request("الحصبة", {})
    wordings, _ = query_wordings(request, query_parser.parse("الحصبة"), translators)
    alert, _ = store.create(OWNER, "measles", "الحصبة", {}, wordings)
    assert alert.searched == (
        {"lang": "ar", "text": "الحصبة", "by": "user"},
        {"lang": "en", "text": "measles", "by": "machine"},
    )
    english_only = tico_articles(1600, 1, "mt")[0] | {"title_en": "Measles cases rise"}
    index(client, alias, english_only)
    result = search(client, alias, search_request("الحصبة", {}, size=100), *translators.values())
    assert "mt0" in {hit["id"] for hit in result["hits"]}  # found by its English alone, as the alert found it
    assert matched_articles(store, alert) == {"mt0"}


def test_articles_are_not_percolated_while_no_alert_is_saved(client, alias):
    """Percolation analyses every article's text again: with no alert to match, it is skipped, and the first
    alert saved matches the next ingest."""
    empty = AlertStore(client, f"{alias}-unwatched")
    empty.ensure()
    percolated = []

    def recording_search(*args, **kwargs):
        percolated.append(kwargs.get("index"))
        return real_search(*args, **kwargs)

    real_search = client.search
    try:
        client.search = recording_search
        document = {"title_en": "a barometer", "body_en": "", "title": "", "body": ""}
        assert empty.percolate([document]) == {}
        assert percolated == []
        alert = save(empty, "barometer")
        assert set(empty.percolate([document])) == {alert.id}
        assert percolated == [empty.alerts_index]
    finally:
        del client.search
        client.indices.delete(index=f"{alias}-unwatched-alert*")


def test_an_alert_saved_before_slots_existed_counts_against_the_limit_whatever_slots_are_free(store):
    """Slots are taken at any place once alerts are deleted; an alert with none of its own still counts."""
    owner, limit = "slots-owner", 3
    kept = [save_limited(store, owner, limit) for _ in range(limit)][-1]  # slots 0, 1 and 2
    for alert in store.list_for(owner):
        if alert.id != kept.id:
            store.delete(alert.id, owner)  # slots 0 and 1 free again; the kept alert holds slot 2
    save(store, "ceasefire", owner=owner)  # saved without a slot, as before slots existed
    made = []
    for _ in range(limit):
        with contextlib.suppress(AlertLimitReached):
            made.append(save_limited(store, owner, limit))
    assert len(store.list_for(owner)) == limit and len(made) == 1


def save_limited(store, owner, limit):
    wordings, _ = query_wordings(search_request("ceasefire", {}), query_parser.parse("ceasefire"), {})
    return store.create(owner, "ceasefire", "ceasefire", {}, wordings, None, limit=limit)[0]
