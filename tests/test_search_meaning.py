"""The vector channel of search on the real node with the real encoder: an English query finds an Arabic article
whose English is the demo model's noise, by a sentence near it in meaning (named, with its counterpart); a query
about nothing in the collection finds nothing by meaning (the floor); words and meaning fused in one ranking;
`query.searched` lists the channel; without an encoder, or on an index without vectors, search is words only."""

import dataclasses
import json
import shutil

import pytest

from service.config import PROJECT_ROOT, Settings
from service.index import lifecycle
from service.ingest import INDEXED, IndexTarget, human_translation, machine_translation, write_articles
from service.search import query as query_parser
from service.search.body import MeaningMatches, build_body, cosine_of, nearest_meaning_body
from service.search.floor import MeaningFloor
from service.search.names import collection_names
from service.search.request import SearchRequest
from service.search.results import parse_response
from service.search.searcher import (
    Meaning,
    meaning_matches,
    meaning_query,
    query_wordings,
    search,
    with_meaning_evidence,
)

SAMPLE = [json.loads(line) for line in (PROJECT_ROOT / "examples" / "articles.jsonl").read_text().splitlines()]
ARABIC = [record for record in SAMPLE if record.get("sentences")]
UNRELATED = "quarterly earnings of a semiconductor maker"
SETTINGS = Settings()


@pytest.fixture(scope="module")
def meaning(encoder):
    return Meaning.from_settings(SETTINGS, encoder)


def without_english(record: dict) -> dict:
    return {key: value for key, value in record.items() if key not in ("title_en", "sentences")}


@pytest.fixture(scope="module")
def noisy(client, encoder, translator):
    """The sample's Arabic articles through the demo model (their English is noise), with vectors."""
    alias = "test-search-meaning-noisy"
    lifecycle.delete(client, alias)
    target = IndexTarget(client, alias, encoder=encoder)
    records = [without_english(record) for record in ARABIC]
    outcomes = write_articles(list(enumerate(records, 1)), target, machine_translation(translator))
    assert {o.status for o in outcomes} == {INDEXED}
    client.indices.refresh(index=alias)
    yield alias
    lifecycle.delete(client, alias)


@pytest.fixture(scope="module")
def human(client, encoder):
    """The sample's Arabic articles with their human English, with vectors."""
    alias = "test-search-meaning-human"
    lifecycle.delete(client, alias)
    outcomes = write_articles(
        list(enumerate(ARABIC, 1)), IndexTarget(client, alias, encoder=encoder), human_translation
    )
    assert {o.status for o in outcomes} == {INDEXED}
    client.indices.refresh(index=alias)
    yield alias
    lifecycle.delete(client, alias)


def english_of(record: dict, index: int = 1) -> str:
    return record["sentences"][index]["target"]


def test_an_english_query_finds_the_arabic_article_whose_english_is_noise(client, noisy, meaning):
    for record in ARABIC:
        query = english_of(record)[:400]
        words_only = search(client, noisy, SearchRequest(query, lang="en", collapse=False))
        assert record["id"] not in [hit["id"] for hit in words_only["hits"][:1]]
        result = search(client, noisy, SearchRequest(query, lang="en", collapse=False), meaning=meaning)
        top = result["hits"][0]
        assert top["id"] == record["id"], query
        assert "meaning" in top["matched_by"]
        found = [s for s in top["sentences"] if s["by"] == "meaning"]
        assert found and found[0]["matched"] == "ar" and found[0]["counterpart"] == "en"
        assert found[0]["ar"] == record["sentences"][1]["source"]  # the Arabic sentence it says, beside its English
        assert found[0]["similarity"] >= SETTINGS.meaning_floor


def test_query_searched_lists_the_meaning_channel(client, noisy, meaning):
    result = search(client, noisy, SearchRequest("coronavirus outbreak", lang="en"), meaning=meaning)
    assert {"lang": "ar", "text": "coronavirus outbreak", "by": "meaning"} in result["query"]["searched"]
    plain = search(client, noisy, SearchRequest("coronavirus outbreak", lang="en"))
    assert all(form["by"] != "meaning" for form in plain["query"]["searched"])


def test_a_query_about_nothing_in_the_collection_finds_nothing_by_meaning(client, noisy, human, meaning):
    for alias in (noisy, human):
        result = search(client, alias, SearchRequest(UNRELATED, lang="en"), meaning=meaning)
        assert result["total"] == 0, result["hits"]  # "no articles", not its nearest strangers
    for query in ("xyzzy", "recipe for chocolate cake"):  # nonsense, and a topic absent from the sample
        assert search(client, noisy, SearchRequest(query, lang="en"), meaning=meaning)["total"] == 0, query


def by_meaning(result: dict) -> list[str]:
    return [hit["id"] for hit in result["hits"] if "meaning" in hit["matched_by"]]


def test_an_arabic_word_about_the_collection_at_large_reaches_no_article_by_meaning(client, noisy, meaning):
    """الحمى (fever): every sample article is about the virus, none near one word of it (best cosine 0.21)."""
    assert by_meaning(search(client, noisy, SearchRequest("الحمى", collapse=False), meaning=meaning)) == []


def test_an_english_keyword_query_still_reaches_its_arabic_only_article(client, noisy, meaning):
    """The 4 longest words of one English sentence of sample-6 (what an analyst types), whose English in the index
    is the demo model's noise: only its Arabic carries the meaning (cosine 0.42 on the node; the next article 0.28)."""
    request = SearchRequest("common symptoms fever cough", lang="en", collapse=False)
    assert by_meaning(search(client, noisy, request, meaning=meaning)) == ["sample-6"]


def test_the_margin_keeps_the_nearest_strangers_of_a_real_match_out(client, noisy, encoder):
    """Above a low floor, sample-6 (cosine 0.42) comes with four articles at 0.21-0.28; within 0.1 of it, alone.
    The cut is the query's: the total counts the articles the hits show."""
    request = SearchRequest("common symptoms fever cough", lang="en", collapse=False)
    floor_only = search(client, noisy, request, meaning=Meaning(encoder, 0.2, 80.0, None))
    assert len(by_meaning(floor_only)) >= 4
    within = search(client, noisy, request, meaning=Meaning(encoder, 0.2, 80.0, 0.1))
    assert by_meaning(within) == ["sample-6"]
    assert within["total"] == len(within["hits"])


def test_words_and_meaning_fuse_into_one_ranking(client, human, meaning):
    record = ARABIC[2]
    query = english_of(record)[:400]
    result = search(client, human, SearchRequest(query, lang="en", collapse=False), meaning=meaning)
    top = result["hits"][0]
    assert top["id"] == record["id"] and top["matched_by"] == ["words", "meaning"]
    words_only = search(client, human, SearchRequest(query, lang="en", collapse=False))
    assert top["score"] > words_only["hits"][0]["score"]  # the meaning channel's score is added to BM25's
    assert result["total"] >= words_only["total"]


def test_an_index_without_vectors_is_searched_by_words_and_says_so(client, encoder, meaning, tmp_path):
    alias = "test-search-meaning-v2"
    lifecycle.delete(client, alias)
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    shutil.copy(lifecycle.config_versions()[2], config_dir / "articles-v2.json")
    lifecycle.ensure(client, alias, config_dir=config_dir)
    try:
        write_articles(list(enumerate(ARABIC, 1)), IndexTarget(client, alias, encoder=encoder), human_translation)
        client.indices.refresh(index=alias)
        result = search(client, alias, SearchRequest("coronavirus", lang="en"), meaning=meaning)
        assert result["total"] > 0
        assert all(form["by"] != "meaning" for form in result["query"]["searched"])
        assert any(side.get("by") == "meaning" for side in result["query"]["not_searched"])
    finally:
        lifecycle.delete(client, alias)


def test_a_collapsed_search_says_what_matched_as_an_uncollapsed_one(client, noisy, meaning):
    """One hit per story (the default of the API, the page and the CLI) keeps each hit's evidence."""
    record = ARABIC[0]
    query = english_of(record)[:400]
    flat = search(client, noisy, SearchRequest(query, lang="en", collapse=False), meaning=meaning)["hits"][0]
    collapsed = search(client, noisy, SearchRequest(query, lang="en"), meaning=meaning)["hits"][0]
    assert collapsed["id"] == flat["id"] and "meaning" in flat["matched_by"]
    assert collapsed["matched_by"] == flat["matched_by"]
    assert [s["by"] for s in collapsed["sentences"]] == [s["by"] for s in flat["sentences"]]


def knn_in_the_main_search(client, alias: str, request: SearchRequest, meaning: Meaning) -> tuple[dict, dict]:
    """(the main search's response, its result with the evidence) the way search ran before it found the meaning
    channel's matches beforehand: the k-NN clause in the main body, at the floor raised to the best match less the
    margin."""
    parsed = query_parser.parse(request.query)
    wordings, _ = query_wordings(request, parsed, {}, names=collection_names(client, alias))
    near, _ = meaning_query(client, alias, parsed, request.lang, meaning)
    best = client.search(index=alias, body=nearest_meaning_body(request, near))["aggregations"]["best"]["top"]
    least = MeaningFloor(near.floor, meaning.margin).least(cosine_of(best["hits"]["hits"][0]["_score"]))
    response = client.search(
        index=alias, body=build_body(request, wordings, meaning=dataclasses.replace(near, floor=least))
    )
    with_meaning_evidence(client, alias, response, near)
    return response, parse_response(response)


@pytest.mark.parametrize("lowest", [0.2, SETTINGS.meaning_floor])
def test_the_matches_found_beforehand_give_the_hits_and_evidence_of_the_knn_in_the_main_search(
    client, noisy, encoder, lowest
):
    """The main search carries the meaning channel's matches as scored ids from the one k-NN request: the same hits,
    scores, order, totals, facets, timeline and evidence as the k-NN clause in its body gave (at a low floor too,
    where the margin keeps strangers out), under a chosen source as well."""
    meaning = Meaning(encoder, lowest, SETTINGS.search_meaning_weight, SETTINGS.meaning_margin)
    requests = [SearchRequest(english_of(record)[:400], lang="en", collapse=False) for record in ARABIC[:3]]
    requests += [
        SearchRequest("common symptoms fever cough", lang="en", collapse=False),
        SearchRequest("common symptoms fever cough", lang="en", collapse=False, sources=(ARABIC[0]["source"],)),
    ]
    for request in requests:
        parsed = query_parser.parse(request.query)
        near, _ = meaning_query(client, noisy, parsed, "en", meaning)
        matches = meaning_matches(client, noisy, request, near, meaning.margin)
        assert isinstance(matches, MeaningMatches) and matches.scores, request
        wordings, _ = query_wordings(request, parsed, {}, names=collection_names(client, noisy))
        assert "knn" not in json.dumps(build_body(request, wordings, meaning=matches))  # one k-NN request a search
        before, shown_before = knn_in_the_main_search(client, noisy, request, meaning)
        after = client.search(index=noisy, body=build_body(request, wordings, meaning=matches))
        assert after["hits"]["total"] == before["hits"]["total"] and after["aggregations"] == before["aggregations"]
        assert [(h["_id"], h["_score"], h["matched_queries"]) for h in after["hits"]["hits"]] == [
            (h["_id"], h["_score"], h["matched_queries"]) for h in before["hits"]["hits"]
        ]
        shown = search(client, noisy, request, meaning=meaning)
        del shown["query"]
        assert shown == shown_before, request.query
