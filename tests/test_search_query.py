"""The query parser and the search body builder: pure functions, no node needed."""

import pytest

from service.errors import TranslatorBusy
from service.search import searcher
from service.search.body import build_body
from service.search.query import ParsedQuery, QueryError, QueryWording, only_stop_words, parse, split_by_script
from service.search.request import SearchRequest
from service.search.searcher import query_wordings
from service.translation.interface import Translation


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


@pytest.mark.parametrize(
    "text,token,position,fixed",
    [
        ("ceasefire AND", "AND", 10, "ceasefire"),
        ('gaza "open', '"', 5, "gaza open"),
        ("a (b", "(", 2, "a b"),
        ("a) b", ")", 1, "a b"),
        ("AND x", "AND", 0, "x"),
        ("(a OR) b", "OR", 3, "(a ) b"),
    ],
)
def test_a_syntax_error_says_which_token_where_and_the_query_without_it(text, token, position, fixed):
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert (raised.value.token, raised.value.position, raised.value.fixed) == (token, position, fixed)
    assert f"“{token}” at character {position + 1}" in str(raised.value)


def test_a_query_of_stop_words_only_is_recognised():
    assert only_stop_words("the of") == ["the", "of"] and only_stop_words("في من") == ["في", "من"]
    assert only_stop_words("the army") == [] and only_stop_words("") == []


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
        [QueryWording("en", "talks", parse("talks"), "user")],
    )
    assert body["from"] == 10 and body["size"] == 5
    must = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert must[0]["simple_query_string"]["fields"] == ["title_en^3", "body_en"]
    nested = body["query"]["bool"]["should"][0]["nested"]
    assert nested["inner_hits"]["name"] == "sentences_en"
    assert body["query"]["bool"]["filter"] == []  # the dates narrow the hits after the query: the timeline keeps them
    assert body["post_filter"] == {  # facets keep counts
        "bool": {"filter": [{"terms": {"source": ["BBC Arabic"]}}, {"range": {"published": {"gte": "2018-01-01"}}}]}
    }
    assert body["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}
    assert set(body["aggs"]) == {
        "source",
        "category",
        "names",
        "published",
        "stories",
        "collection",
    }  # stories: collapse is on


def test_a_machine_translation_searches_the_other_side_and_weighs_less():
    wordings = [
        QueryWording("ar", "وقف", parse("وقف"), "user"),
        QueryWording("en", "ceasefire", parse("ceasefire"), "machine"),
    ]
    body = build_body(SearchRequest("وقف"), wordings, translated_boost=0.3)
    clauses = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert [c["simple_query_string"]["fields"][0] for c in clauses] == ["title^3", "title_en^3"]
    assert [c["simple_query_string"]["boost"] for c in clauses] == [1.0, 0.3]
    names = [c["nested"]["inner_hits"]["name"] for c in body["query"]["bool"]["should"]]
    assert names == ["sentences_ar", "sentences_en"]


def test_two_wordings_on_one_side_share_its_sentence_clause():
    wordings = [
        QueryWording("en", "Gaza", parse("Gaza"), "user"),
        QueryWording("en", "truce", parse("truce"), "machine"),
    ]
    (nested,) = [c["nested"] for c in build_body(SearchRequest("Gaza"), wordings)["query"]["bool"]["should"]]
    inner = [c["simple_query_string"] for c in nested["query"]["bool"]["should"]]
    assert [(c["query"], c["boost"]) for c in inner] == [("Gaza", 1.0), ("truce", 0.5)]


@pytest.mark.parametrize(
    "text,parts",
    [
        ("ceasefire talks", {"en": "ceasefire talks"}),
        ("وقف إطلاق النار", {"ar": "وقف إطلاق النار"}),
        ("Gaza وقف", {"en": "Gaza", "ar": "وقف"}),
        ('"oil prices" OR نفط -Iran', {"en": '"oil prices" -Iran', "ar": "نفط -Iran"}),
        ("-Iran نفط", {"ar": "-Iran نفط"}),
        ("(oil OR gas) AND (نفط OR غاز)", {"en": "( oil OR gas )", "ar": "( نفط OR غاز )"}),
        ("(Gaza OR غزة) talks", {"en": "( Gaza OR غزة ) talks", "ar": "( Gaza OR غزة )"}),
        ("NOT غزة Hamas", {"en": "NOT غزة Hamas"}),
    ],
)
def test_a_mixed_script_query_splits_by_script_and_keeps_its_syntax(text, parts):
    assert split_by_script(text) == parts
    for part in parts.values():
        parse(part)  # every part is a valid query on its own


def test_top_level_exclusions_are_kept_apart_to_hold_for_every_form():
    assert parse('oil NOT Iran -"oil spill"').excluded == 'Iran "oil spill"'
    assert parse("(oil -Iran) OR gas").excluded == ""
    assert ParsedQuery.from_words("oil").excluded == ""


def test_a_mixed_query_whose_part_is_no_query_alone_is_searched_whole():
    request = SearchRequest("(-غزة) talks")
    wordings, not_searched = query_wordings(request, parse(request.query), {})
    assert [(f.lang, f.text, f.by) for f in wordings] == [("en", "(-غزة) talks", "user")]
    assert not_searched == [{"lang": "ar", "why": "no English→Arabic model installed"}]


def test_a_machine_translation_of_a_query_is_bounded_and_without_repeats():
    assert searcher.bounded_translation("health ministry health ministry says", 2) == "health ministry says"
    assert searcher.bounded_translation(" ".join(f"w{i}" for i in range(40)), 1) == "w0 w1 w2"
    assert searcher.bounded_translation("", 3) == ""


class _BusyTranslator:
    """A real model's stand-in whose scheduler queue is full (tests/test_scheduler.py fills a real one)."""

    demo = False

    def translate(self, sentences, **decoding):
        raise TranslatorBusy("the translator's queue is full", retry_after=1)


def test_a_busy_translator_leaves_the_other_side_out_of_a_search_but_not_out_of_a_saved_search():
    request, parsed = SearchRequest("ceasefire talks"), parse("ceasefire talks")
    wordings, not_searched = query_wordings(request, parsed, {"ar": _BusyTranslator()})
    assert [(f.lang, f.by) for f in wordings] == [("en", "user")]
    assert not_searched == [{"lang": "ar", "why": "the English→Arabic translator was busy"}]
    with pytest.raises(TranslatorBusy):
        query_wordings(request, parsed, {"ar": _BusyTranslator()}, wait_when_busy=True)


class _RecordingTranslator:
    """Stands in for the model to record how a query's words are asked for."""

    demo = False

    def __init__(self):
        self.asked = []

    def translate(self, sentences, **decoding):
        self.asked.append(decoding)
        return [Translation("truce talks", -0.1, 2) for _ in sentences]


def test_a_query_s_translation_asks_the_model_for_no_word_alignments():
    translator = _RecordingTranslator()
    wordings, _ = query_wordings(SearchRequest("محادثات الهدنة"), parse("محادثات الهدنة"), {"en": translator})
    assert ("en", "truce talks") in [(w.lang, w.text) for w in wordings]
    assert translator.asked == [{"alignments": False}]  # it is searched, never shown beside words


def test_words_inside_an_excluded_group_are_excluded_not_searched():
    parsed = parse("coronavirus -(pangolin bat)")
    assert parsed.terms == "coronavirus" and parsed.positive == "coronavirus"  # not translated, not embedded
    assert parsed.excluded == "( pangolin + bat )"  # and held for every wording of the query
    assert parse("a NOT (b OR c) -d").excluded == "( b | c ) d"
    with pytest.raises(QueryError, match="only exclusions"):
        parse("NOT (coronavirus)")
