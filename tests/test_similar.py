"""Across the language line, on the real node with the real USE encoder: an English original and its Arabic
translation land in one story (in one batch or in two), two different articles on the same topic do not; "more like
this" finds related coverage in the other language outside the article's own story, each with the sentence pair
that matched, as JSON and as a page; a missing article or a bad size answers a JSON error; without vectors it falls
back to words, and says so."""

import json
from dataclasses import replace

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from service.config import PROJECT_ROOT
from service.index import lifecycle
from service.ingest import INDEXED, IndexTarget, human_translation, write_articles
from service.search.similar import similar_articles
from service.web import create_app

SAMPLE = [json.loads(line) for line in (PROJECT_ROOT / "examples" / "articles.jsonl").read_text().splitlines()]
ARABIC = [record for record in SAMPLE if record.get("sentences")]  # six COVID-19 articles: one topic, six stories
UNRELATED = [
    "The football club announced a new coach on Tuesday.",
    "Ticket prices for the final rose sharply this season.",
    "Fans gathered outside the stadium before the match.",
]


def english_original(record: dict, suffix: str = "-en") -> dict:
    """An English article whose Arabic translation is the record (English written as it is: no model involved)."""
    english = [pair["target"] for pair in record["sentences"]]
    return {
        "id": record["id"] + suffix,
        "title": record["title_en"],
        "body": " ".join(english),
        "sentences": [{"source": sentence, "target": sentence} for sentence in english],
    }


def related_report(record: dict) -> dict:
    """An English sports article that quotes one sentence of the record's story: related, not the same story."""
    english = [record["sentences"][1]["target"], *UNRELATED]
    return {
        "id": record["id"] + "-related",
        "title": "Sport & <em>the pandemic</em>",  # shown escaped
        "body": " ".join(english),
        "sentences": [{"source": sentence, "target": sentence} for sentence in english],
    }


def write(client, alias, encoder, records):
    outcomes = write_articles(
        list(enumerate(records, 1)), IndexTarget(client, alias, encoder=encoder), human_translation
    )
    assert [o.status for o in outcomes] == [INDEXED] * len(records), [o.reason for o in outcomes]
    client.indices.refresh(index=alias)
    return {o.doc_id: o.cluster_id for o in outcomes}


@pytest.fixture(scope="module")
def stories(client, encoder):
    """The Arabic articles; the English original of the first, in the same batch; that of the second, a batch
    later; the English original of the fifth, a batch before its Arabic; an English article quoting the third."""
    alias = "test-similar"
    lifecycle.delete(client, alias)
    clusters = write(client, alias, encoder, [english_original(ARABIC[4])])
    clusters |= write(client, alias, encoder, [*ARABIC, english_original(ARABIC[0])])
    clusters |= write(client, alias, encoder, [english_original(ARABIC[1]), related_report(ARABIC[2])])
    yield alias, clusters
    lifecycle.delete(client, alias)


@pytest.fixture(scope="module")
def app(search_settings, stories, tmp_path_factory):
    jobs_db = tmp_path_factory.mktemp("similar") / "jobs.sqlite3"
    return create_app(replace(search_settings, opensearch_index=stories[0], encoder="use", jobs_db=jobs_db))


def test_an_english_original_and_its_arabic_translation_land_in_one_story(stories):
    _, clusters = stories
    assert clusters["sample-1-en"] == clusters["sample-1"]  # in one batch
    assert clusters["sample-2-en"] == clusters["sample-2"]  # the English a batch after the Arabic
    assert clusters["sample-5"] == clusters["sample-5-en"] == "sample-5-en"  # the Arabic a batch after the English


def test_different_articles_on_one_topic_stay_apart(stories):
    _, clusters = stories
    assert len({clusters[record["id"]] for record in ARABIC}) == len(ARABIC)  # six COVID-19 stories, not one
    assert clusters["sample-3-related"] == "sample-3-related"  # one quoted sentence is not the same story


def test_more_like_this_finds_related_coverage_in_the_other_language(client, stories, encoder):
    alias, _ = stories
    found = similar_articles(client, alias, "sample-3", encoder)
    assert found["method"] == "meaning" and found["encoder"] == encoder.encoder_id
    first = found["hits"][0]
    assert first["id"] == "sample-3-related" and first["language"] == "en"
    why = first["why"]
    assert why["sentence"]["lang"] == "ar" and why["sentence"]["text"] == ARABIC[2]["sentences"][1]["source"]
    assert why["counterpart"]["text"] == ARABIC[2]["sentences"][1]["target"] and why["similarity"] > 0.6
    assert 0 < first["similarity"] <= why["similarity"]


def test_more_like_this_leaves_out_the_articles_own_story(client, stories, encoder):
    alias, clusters = stories
    found = similar_articles(client, alias, "sample-1", encoder, size=50)
    assert found["article"]["cluster_id"] == clusters["sample-1"]
    assert {hit["id"] for hit in found["hits"]}.isdisjoint({"sample-1", "sample-1-en"})
    assert all(hit["cluster_id"] != clusters["sample-1"] for hit in found["hits"])
    back = similar_articles(client, alias, "sample-3-related", encoder)  # and from the English side
    assert back["hits"][0]["id"] == "sample-3" and back["hits"][0]["why"]["counterpart"]["lang"] == "ar"


def test_without_an_encoder_related_articles_come_by_words_and_say_so(client, stories):
    alias, _ = stories
    found = similar_articles(client, alias, "sample-3", None)
    assert found["method"] == "words" and "ENCODER=off" in found["not_by_meaning"]
    assert all(hit["why"]["by"] == "words" and hit["similarity"] is None for hit in found["hits"])


def test_the_api_answers_as_its_schema_says_and_errors_in_json(app, client, stories):
    api = app.test_client()
    document = api.get("/api/v1/openapi.json").json
    registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(document))
    pointer = "/paths/~1api~1v1~1articles~1{article_id}~1similar/get/responses/200/content/application~1json/schema"
    validator = Draft202012Validator({"$ref": "urn:api#" + pointer}, registry=registry)
    answered = api.get("/api/v1/articles/sample-3/similar?size=3")
    assert answered.status_code == 200 and answered.json["hits"][0]["id"] == "sample-3-related"
    assert [error.message for error in validator.iter_errors(answered.json)] == []
    words = similar_articles(client, stories[0], "sample-3", None)  # the fallback's shape too
    assert [error.message for error in validator.iter_errors(words)] == []
    missing = api.get("/api/v1/articles/no-such-article/similar")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    for bad in ("size=0", "size=51", "size=many"):
        refused = api.get(f"/api/v1/articles/sample-3/similar?{bad}")
        assert refused.status_code == 400 and refused.is_json and "size" in refused.json["error"]["message"], bad


def test_the_article_page_links_to_its_related_coverage_shown_escaped(app):
    page = app.test_client().get("/articles/sample-3")
    assert 'href="/articles/sample-3/similar"' in page.data.decode()
    similar = app.test_client().get("/articles/sample-3/similar")
    text = similar.data.decode()
    assert similar.status_code == 200 and "Content-Security-Policy" in similar.headers
    assert 'data-id="sample-3-related"' in text and ARABIC[2]["sentences"][1]["target"] in text
    assert "Sport &amp; &lt;em&gt;the pandemic&lt;/em&gt;" in text and "<em>the pandemic" not in text
    assert app.test_client().get("/articles/no-such-article/similar").status_code == 404
