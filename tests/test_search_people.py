"""People and places on a real node: names stored at ingest, the search's "names" facet (display form and Arabic
spellings) and filter, and the page per name (service/search/people.py, /names/<key>)."""

from dataclasses import replace
from urllib.parse import quote

import pytest
from helpers import run_cli, without_naming
from test_alerts import matched_articles, save

from service import ingest as write_path
from service.alerts.store import AlertStore
from service.index import lifecycle
from service.ingest import IndexTarget, ingest, name_stored
from service.names.lexicon import name_lexicon
from service.search.names import forget_collection_names
from service.search.people import name_summary
from service.search.request import SearchRequest
from service.search.searcher import browse, search
from service.web import create_app

# (id, Arabic sentences with their English): Bashar al-Assad in two spellings, one an article each; Syria in two
ARTICLES = [
    ("p1", "2018-04-01", [("قال بشار الأسد إن المحادثات مع سوريا مستمرة.", "Assad said talks continue.")]),
    ("p2", "2018-05-01", [("التقى بشار الاسد الوفد في دمشق لبحث المحادثات.", "He met the delegation.")]),
    ("p3", "2018-06-01", [("أعلنت سوريا أن المحادثات انتهت.", "Syria said the talks ended.")]),
    ("p4", "2018-06-02", [("ارتفعت الأسعار اليوم.", "Prices rose today.")]),
]


@pytest.fixture(scope="module")
def people(client, alias):
    return index_people(client, alias)


def index_people(client, alias) -> str:
    """ARTICLES, ingested into the alias through the write path (which names them); skips without the lexicon."""
    lexicon = name_lexicon()
    if not (lexicon.surname and lexicon.places):
        pytest.skip("arabic-name-romanizer or babel is not installed")
    forget_collection_names(alias)
    records = [
        (
            line,
            {
                "id": article_id,
                "source": "BBC Arabic",
                "category": "world",
                "date": f"{date}T09:00:00Z",
                "title": pairs[0][0],
                "title_en": pairs[0][1],
                "body": " ".join(ar for ar, _ in pairs),
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            },
        )
        for line, (article_id, date, pairs) in enumerate(ARTICLES, 1)
    ]
    assert ingest(records, client, alias, pretranslated=True).indexed == len(ARTICLES)
    client.indices.refresh(index=alias)
    return alias


def facet(result):
    """The names facet's buckets by their first spelling."""
    return {bucket["spellings"][0]: bucket for bucket in result["facets"]["names"]}


def assad(result):
    return facet(result).get("بشار الأسد") or facet(result)["بشار الاسد"]


def test_the_names_facet_counts_each_name_once_with_its_display_form_and_spellings(client, people):
    result = search(client, people, SearchRequest("المحادثات", collapse=False))
    person = assad(result)
    assert person["count"] == 2 and person["kind"] == "person"
    assert set(person["spellings"]) == {"بشار الأسد", "بشار الاسد"}
    syria = facet(result)["سوريا"]
    assert (syria["label"], syria["count"], syria["kind"]) == ("Syria", 2, "place")


def test_a_chosen_name_filters_like_the_other_facets(client, people):
    everything = search(client, people, SearchRequest("المحادثات", collapse=False))
    key = assad(everything)["value"]
    chosen = search(client, people, SearchRequest("المحادثات", names=(key,), collapse=False))
    assert sorted(hit["id"] for hit in chosen["hits"]) == ["p1", "p2"]
    assert facet(chosen)["سوريا"]["count"] == 2  # the facet still counts its other values
    browsed = browse(client, people, SearchRequest("", names=(key,), collapse=False))
    assert sorted(hit["id"] for hit in browsed["hits"]) == ["p1", "p2"]


def test_the_page_of_a_name_shows_its_spellings_stories_and_articles(client, people, search_settings):
    person = assad(search(client, people, SearchRequest("المحادثات", collapse=False)))
    key = person["value"]
    assert name_summary(client, people, key)["articles"] == 2
    assert name_summary(client, people, "no such name") is None
    web = create_app(replace(search_settings, opensearch_index=people)).test_client()
    page = web.get(f"/names/{quote(key)}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert person["label"] in text and "بشار الاسد" in text and 'id="name-stories"' in text
    assert web.get("/names/no%20such%20name").status_code == 404
    results = web.get(f"/?q=%D8%A7%D9%84%D9%85%D8%AD%D8%A7%D8%AF%D8%AB%D8%A7%D8%AA&name={quote(key)}")
    assert 'id="facet-name"' in results.get_data(as_text=True)


def test_a_saved_search_narrowed_to_a_name_matches_only_new_articles_naming_it(client, people):
    """The name filter is percolated like the source and category: saved, it matches what search would return."""
    key = assad(search(client, people, SearchRequest("المحادثات", collapse=False)))["value"]
    store = AlertStore(client, people)
    store.ensure()
    alert = save(store, "المحادثات", {"name": [key]})
    later = [
        ("p5", [("قال بشار الأسد إن المحادثات بدأت من جديد.", "Assad said talks began again.")]),
        ("p6", [("قال الوزير إن المحادثات بدأت من جديد.", "The minister said talks began again.")]),
    ]
    records = [
        (
            line,
            {
                "id": article_id,
                "source": "BBC Arabic",
                "date": "2018-07-01T09:00:00Z",
                "body": pairs[0][0],
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            },
        )
        for line, (article_id, pairs) in enumerate(later, 1)
    ]
    assert ingest(records, client, people, pretranslated=True).indexed == 2
    client.indices.refresh(index=f"{people}-alert-matches")
    assert matched_articles(store, alert) == {"p5"}


class Stopped(Exception):
    """A run of `index names` stopped after its first batch (killed, for all the index can tell)."""


def test_articles_stored_before_names_are_named_by_index_names_without_firing_alerts(
    client, search_settings, monkeypatch
):
    unnamed = "test-search-people-unnamed"
    lifecycle.delete(client, unnamed)
    try:
        with monkeypatch.context() as before_names:
            without_naming(before_names)
            index_people(client, unnamed)
        assert not search(client, unnamed, SearchRequest("المحادثات", collapse=False))["facets"]["names"]
        store = AlertStore(client, unnamed)
        store.ensure()
        alert = save(store, "المحادثات")

        class StopAfterABatch:
            def reset(self, total):
                assert total == 4

            def update(self, n):
                raise Stopped

        with monkeypatch.context() as small_batches, pytest.raises(Stopped):
            small_batches.setattr(write_path, "NAME_BATCH", 2)
            name_stored(IndexTarget(client, unnamed), progress=StopAfterABatch())
        env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": unnamed, "ENCODER": "off"}
        rest = run_cli("index", "names", env=env)
        assert rest.returncode == 0, rest.stderr.decode()
        assert f"2 articles of {unnamed}-v" in rest.stdout.decode() and "2/2" in rest.stderr.decode()  # the bar
        result = search(client, unnamed, SearchRequest("المحادثات", collapse=False))
        assert assad(result)["count"] == 2 and facet(result)["سوريا"]["count"] == 2
        stored = {
            hit["_id"]: hit["_seq_no"] for hit in client.search(index=unnamed, seq_no_primary_term=True)["hits"]["hits"]
        }
        assert name_stored(IndexTarget(client, unnamed)) == 0  # a rerun changes nothing
        again = client.search(index=unnamed, seq_no_primary_term=True)["hits"]["hits"]
        assert {hit["_id"]: hit["_seq_no"] for hit in again} == stored
        client.indices.refresh(index=f"{unnamed}-alert-matches")
        assert matched_articles(store, alert) == set()  # alerts are for new articles
    finally:
        lifecycle.delete(client, unnamed)
