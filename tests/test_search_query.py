"""The query parser and the search body builder: pure functions, no node needed."""

import pytest

from service.search.body import build_body
from service.search.query import ParsedQuery, QueryError, parse
from service.search.request import SearchRequest


@pytest.mark.parametrize(
    "text,expected",
    [
        ("ceasefire", "ceasefire"),
        ('"peace talks" AND Gaza', '"peace talks" + Gaza'),
        ("oil OR gas NOT Iran", "oil | gas -Iran"),
        ("(oil OR gas) AND price", "( oil | gas ) + price"),
        ("-sport football", "-sport football"),
        ("الحرب في غزة", "الحرب في غزة"),
    ],
)
def test_operators_become_simple_query_string_syntax(text, expected):
    assert parse(text).text == expected


def test_special_characters_are_escaped_not_interpreted():
    assert parse("x* ~y +z a|b").text == r"x\* \~y \+z a\|b"


def test_excluded_terms_are_not_looked_for_or_translated():
    parsed = parse('"peace talks" NOT Iran')
    assert parsed.positive == '"peace talks"' and parsed.terms == "peace talks"


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "empty"),
        ("   ", "empty"),
        ('"open', "quotation mark"),
        ("a (b", "not closed"),
        ("a) b", "does not match"),
        ("AND x", "a term on each side"),
        ("x OR", "ends with an operator"),
        ("NOT x", "only exclusions"),
        ("x" * 501, "longer than"),
        ('""', "phrase is empty"),
    ],
)
def test_malformed_queries_get_a_clear_message(text, message):
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_translated_query_is_plain_words():
    assert ParsedQuery.from_words("The army's (ceasefire).").text == r"The army's \(ceasefire\)."


@pytest.mark.parametrize(
    "request_, message",
    [
        (SearchRequest("x", lang="fr"), "lang"),
        (SearchRequest("x", sort="size"), "sort"),
        (SearchRequest("x", size=0), "size"),
        (SearchRequest("x", size=100, page=101), "page"),
    ],
)
def test_request_limits(request_, message):
    with pytest.raises(ValueError, match=message):
        request_.validate()


def test_body_matches_documents_and_asks_for_aligned_sentences():
    body = build_body(
        SearchRequest("talks", sources=("BBC Arabic",), date_from="2018-01-01", sort="date", size=5, page=3),
        parse("talks"),
        "en",
    )
    assert body["from"] == 10 and body["size"] == 5
    must = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert must[0]["simple_query_string"]["fields"] == ["title_en^3", "body_en"]
    nested = body["query"]["bool"]["should"][0]["nested"]
    assert nested["inner_hits"]["name"] == "sentences_en"
    assert body["query"]["bool"]["filter"] == [{"range": {"published": {"gte": "2018-01-01"}}}]
    assert body["post_filter"] == {"bool": {"filter": [{"terms": {"source": ["BBC Arabic"]}}]}}  # facets keep counts
    assert body["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}
    assert set(body["aggs"]) == {"source", "category", "published"}


def test_arabic_query_also_searches_english_with_its_translation():
    body = build_body(SearchRequest("وقف"), parse("وقف"), "ar", ParsedQuery.from_words("ceasefire"))
    clauses = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert [c["simple_query_string"]["fields"][0] for c in clauses] == ["title^3", "title_en^3"]
    assert clauses[1]["simple_query_string"]["boost"] < clauses[0]["simple_query_string"]["boost"]
    names = [c["nested"]["inner_hits"]["name"] for c in body["query"]["bool"]["should"]]
    assert names == ["sentences_ar", "sentences_en"]
