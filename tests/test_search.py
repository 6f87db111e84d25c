"""Bilingual search on a real node, over a small pre-translated corpus with real English."""

import json

import pytest
from helpers import run_cli
from opensearchpy.exceptions import RequestError, TransportError

from service.config import Settings
from service.errors import SearchUnavailable
from service.ingest import ingest
from service.modelstore.generate import write_opus_mt_dir
from service.modelstore.install import install_from_path
from service.search.query import QueryError
from service.search.request import SearchRequest
from service.search.searcher import search
from service.translation.engine import Translator

CORPUS = [
    (
        "s1",
        "BBC Arabic",
        "middle_east",
        "2018-03-01",
        "وقف إطلاق النار في غزة",
        "Ceasefire in Gaza",
        [
            ("أعلن الجيش وقف إطلاق النار.", "The army announced a ceasefire."),
            ("وقال المقاتلون إنهم سيلتزمون بالهدنة.", "The fighters said they would respect the truce."),
        ],
    ),
    (
        "s2",
        "Al Arabiya",
        "economy",
        "2018-05-10",
        "أسعار النفط ترتفع",
        "Oil prices rise",
        [
            ("ارتفعت أسعار النفط اليوم.", "Oil prices rose today."),
            ("وقال محللون إن الطلب قوي.", "Analysts said demand is strong."),
        ],
    ),
    (
        "s3",
        "BBC Arabic",
        "sport",
        "2018-07-01",
        "المنتخب يفوز بالمباراة",
        "The national team wins the match",
        [
            ("فاز المنتخب بالمباراة النهائية.", "The national team won the final match."),
            ("واحتفل المشجعون في الشوارع.", "Fans celebrated in the streets."),
        ],
    ),
    (
        "s4",
        "CNN Arabic",
        "middle_east",
        "2018-09-01",
        "استسلام المقاتلين",
        "Fighters surrender",
        [
            ("استسلم المقاتل للقوات الحكومية.", "The fighter surrendered to government forces."),
            ("وأكدت الحكومة أن المفاوضات مستمرة.", "The government confirmed that negotiations continue."),
        ],
    ),
]


@pytest.fixture(scope="module")
def corpus(client, alias):
    records = [
        (
            i,
            {
                "id": id_,
                "source": source,
                "category": category,
                "date": f"{date}T09:00:00Z",
                "title": title,
                "title_en": title_en,
                "body": " ".join(ar for ar, _ in pairs),
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            },
        )
        for i, (id_, source, category, date, title, title_en, pairs) in enumerate(CORPUS, 1)
    ]
    assert ingest(records, client, alias, pretranslated=True).indexed == len(CORPUS)
    client.indices.refresh(index=alias)
    return alias


def run(client, alias, query, translator=None, reverse_translator=None, **options):
    return search(client, alias, SearchRequest(query, **options), translator, reverse_translator)


def ids(result):
    return [hit["id"] for hit in result["hits"]]


def test_english_query_finds_stemmed_forms_with_the_aligned_arabic(client, corpus):
    result = run(client, corpus, "surrender")
    assert ids(result)[0] == "s4" and result["query"]["language"] == "en"
    pair = result["hits"][0]["sentences"][0]
    assert pair["matched"] == "en"
    assert pair["en_highlighted"] == "The fighter <mark>surrendered</mark> to government forces."
    assert pair["ar"] == "استسلم المقاتل للقوات الحكومية."


def test_arabic_query_finds_inflected_forms_with_the_aligned_english(client, corpus):
    result = run(client, corpus, "المقاتلين")
    assert result["query"]["language"] == "ar" and set(ids(result)) == {"s1", "s4"}
    pairs = {p["ar"]: p for hit in result["hits"] for p in hit["sentences"]}
    fighters = pairs["وقال المقاتلون إنهم سيلتزمون بالهدنة."]
    assert "<mark>المقاتلون</mark>" in fighters["ar_highlighted"]
    assert fighters["en"] == "The fighters said they would respect the truce."


class WordTranslator:
    """Stands in for a real model (the generated one only writes noise): fixed English for the query."""

    demo = False

    def translate(self, sentences, **decoding):
        from service.translation.interface import Translation

        return [Translation("fighters", -0.1, 1) for _ in sentences]


def test_arabic_query_is_also_translated_for_the_english_side(client, corpus):
    result = run(client, corpus, "المقاتل", WordTranslator())
    assert result["query"]["searched"] == [
        {"lang": "ar", "text": "المقاتل", "by": "user"},
        {"lang": "en", "text": "fighters", "by": "machine"},
    ]
    assert {"s1", "s4"} <= set(ids(result))
    pair = next(p for hit in result["hits"] for p in hit["sentences"] if p["ar"].startswith("وقال المقاتلون"))
    assert pair["matched"] == "both"
    assert "<mark>fighters</mark>" in pair["en_highlighted"] and "<mark>المقاتلون</mark>" in pair["ar_highlighted"]


def test_demo_model_does_not_translate_queries(client, corpus, translator):
    query = run(client, corpus, "المقاتلين", translator)["query"]
    assert query["searched"] == [{"lang": "ar", "text": "المقاتلين", "by": "user"}]
    assert query["not_searched"] == [
        {"lang": "en", "why": "the Arabic→English model is a demo with random weights: its translations are noise"}
    ]


# An article whose English side lacks the name the analyst searches for: only its Arabic has it.
HODEIDAH = {
    "id": "port",
    "source": "Al Jazeera",
    "date": "2018-11-01T09:00:00Z",
    "title": "الوزير في الحديدة",
    "title_en": "The minister at the port",
    "body": "زار الوزير ميناء الحديدة أمس.",
    "sentences": [{"source": "زار الوزير ميناء الحديدة أمس.", "target": "The minister visited the port yesterday."}],
}


def index_now(client, alias, *records):
    report = ingest(enumerate(records, 1), client, alias, pretranslated=True)
    assert report.indexed + report.unchanged == len(records)  # the article may be there from an earlier test
    client.indices.refresh(index=alias)


def test_without_the_reverse_model_english_queries_search_english_and_say_so(client, corpus):
    index_now(client, corpus, HODEIDAH)
    result = run(client, corpus, "Hodeidah")
    assert result["total"] == 0
    assert result["query"]["searched"] == [{"lang": "en", "text": "Hodeidah", "by": "user"}]
    assert result["query"]["not_searched"] == [{"lang": "ar", "why": "no English→Arabic model installed"}]


def test_an_english_query_finds_an_article_by_its_arabic_side_alone_with_the_users_arabic(client, corpus):
    index_now(client, corpus, HODEIDAH)
    result = run(client, corpus, "Hodeidah", q_ar="الحديدة")
    assert ids(result) == ["port"]
    assert result["query"]["searched"] == [
        {"lang": "en", "text": "Hodeidah", "by": "user"},
        {"lang": "ar", "text": "الحديدة", "by": "user"},
    ]
    assert result["query"]["not_searched"] == []
    pair = result["hits"][0]["sentences"][0]
    assert pair["matched"] == "ar" and "<mark>الحديدة</mark>" in pair["ar_highlighted"]
    assert pair["en"] == "The minister visited the port yesterday."


@pytest.fixture(scope="module")
def en_ar_translator(tmp_path_factory):
    """A generated English→Arabic model installed as a real one (demo false), so search uses its translations.

    Its weights are random, so what it writes is noise, but real CTranslate2 noise: a test can index exactly
    that Arabic and prove the machine path runs end to end.
    """
    work = tmp_path_factory.mktemp("en-ar")
    release = write_opus_mt_dir("tiny", work / "release", direction="en-ar")
    model = work / "model"
    install_from_path(release, model, name="test-en-ar", direction="en-ar", target_token=">>ara<<")
    return Translator(model, Settings(model_dir=model, inter_threads=1))


def test_an_english_query_finds_an_article_by_its_arabic_side_alone_with_the_machines_arabic(
    client, corpus, en_ar_translator
):
    arabic = en_ar_translator.translate(["Hodeidah"])[0].target
    sentence = {"source": arabic, "target": "The minister spoke."}
    index_now(
        client, corpus, {**HODEIDAH, "id": "machine-port", "title": "الوزير", "body": arabic, "sentences": [sentence]}
    )
    result = run(client, corpus, "Hodeidah", reverse_translator=en_ar_translator)
    assert ids(result) == ["machine-port"]
    assert result["query"]["searched"] == [
        {"lang": "en", "text": "Hodeidah", "by": "user"},
        {"lang": "ar", "text": " ".join(arabic.split()), "by": "machine"},
    ]
    assert run(client, corpus, "Hodeidah", reverse_translator=en_ar_translator, q_ar="الحديدة")["query"]["searched"][
        1
    ] == {"lang": "ar", "text": "الحديدة", "by": "user"}, "the user's Arabic replaces the machine's"


def test_a_mixed_script_query_searches_each_part_on_its_own_side(client, corpus):
    result = run(client, corpus, "Gaza OR استسلم")
    assert set(ids(result)) == {"s1", "s4"}
    assert result["query"]["searched"] == [
        {"lang": "en", "text": "Gaza", "by": "user"},
        {"lang": "ar", "text": "استسلم", "by": "user"},
    ]
    assert [side["lang"] for side in result["query"]["not_searched"]] == ["ar", "en"]
    fighter = next(hit for hit in result["hits"] if hit["id"] == "s4")
    assert fighter["sentences"][0]["matched"] == "ar"
    assert set(ids(run(client, corpus, "fighters -Gaza المقاتل"))) == {"s4"}, "an exclusion holds on every side"


def test_phrases_match_in_order(client, corpus):
    assert ids(run(client, corpus, '"oil prices"')) == ["s2"]
    assert ids(run(client, corpus, '"prices oil"')) == []


@pytest.mark.parametrize(
    "query,expected",
    [
        ("ceasefire OR oil", {"s1", "s2"}),
        ("fans AND match", {"s3"}),
        ("match NOT fans", set()),
        ("(negotiations OR demand) AND said", {"s2"}),
    ],
)
def test_boolean_operators(client, corpus, query, expected):
    assert set(ids(run(client, corpus, query))) == expected


def test_filters_and_facets(client, corpus):
    everything = "said OR fans OR surrendered OR ceasefire"
    result = run(client, corpus, everything)
    assert result["total"] == 4
    assert {f["value"]: f["count"] for f in result["facets"]["source"]} == {
        "BBC Arabic": 2,
        "Al Arabiya": 1,
        "CNN Arabic": 1,
    }
    assert result["timeline"]["interval"] == "week"  # March to September: more than 60 days, fewer than 60 weeks
    weeks = [(f["value"], f["count"]) for f in result["facets"]["published"]]  # each from its Monday
    assert weeks == [("2018-02-26", 1), ("2018-05-07", 1), ("2018-06-25", 1), ("2018-08-27", 1)]
    assert ids(run(client, corpus, "said", sources=("BBC Arabic",))) == ["s1"]
    assert set(ids(run(client, corpus, everything, categories=("middle_east",)))) == {"s1", "s4"}
    within = run(client, corpus, everything, date_from="2018-04-01", date_to="2018-08-01")
    assert set(ids(within)) == {"s2", "s3"} and within["total"] == 2
    assert sum(f["count"] for f in within["facets"]["source"]) == 2  # the facets count within the dates
    assert within["facets"]["published"] == result["facets"]["published"]  # the timeline shows them in context


def test_sort_by_date_and_pagination(client, corpus):
    everything = "said OR fans OR surrendered OR ceasefire"
    assert ids(run(client, corpus, everything, sort="date")) == ["s4", "s3", "s2", "s1"]
    page = run(client, corpus, everything, sort="date", size=1, page=2)
    assert ids(page) == ["s3"] and page["total"] == 4


def test_malformed_queries_and_bad_filters_are_clear_errors(client, corpus):
    with pytest.raises(QueryError, match="quotation mark"):
        run(client, corpus, '"open')
    with pytest.raises(QueryError, match="OpenSearch rejected the search"):
        run(client, corpus, "said", date_from="not-a-date")


def test_cli_search_json(search_settings, corpus):
    done = run_cli(
        "search",
        "ceasefire",
        "--json",
        env={
            "OPENSEARCH_URL": search_settings.opensearch_urls[0],
            "OPENSEARCH_INDEX": corpus,
            "MT_MODEL_DIR": "/nonexistent",
            "MT_REVERSE_MODEL_DIR": "off",
        },
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["total"] == 1 and result["hits"][0]["id"] == "s1"
    assert result["query"]["not_searched"] == [{"lang": "ar", "why": "no English→Arabic model installed"}]
    assert set(result) >= {"total", "hits", "facets"}
    assert result["hits"][0]["sentences"][0]["ar"] == "أعلن الجيش وقف إطلاق النار."


def test_cli_search_with_the_users_arabic(search_settings, corpus):
    env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": corpus}
    done = run_cli("search", "surrender", "--q-ar", "وقف", "--json", env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(ids(result)) == {"s1", "s4"}
    assert result["query"]["searched"][1] == {"lang": "ar", "text": "وقف", "by": "user"}
    shown = run_cli("search", "surrender", "--q-ar", "وقف", env=env)
    assert "searched en (user): surrender; ar (user): وقف" in shown.stdout.decode()


def test_cli_malformed_query_is_a_one_line_error(search_settings, corpus):
    done = run_cli(
        "search", "a (b", env={"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": corpus}
    )
    assert done.returncode == 2
    assert done.stderr.decode().strip() == "error: a parenthesis is not closed: “(” at character 3 has no ) after it"


class RefusingClient:
    """Stands in for OpenSearch in a unit test: every search is refused with the given error."""

    def __init__(self, error):
        self.error = error

    def search(self, **_):
        raise self.error


@pytest.mark.parametrize(
    "error,reason",
    [
        (
            RequestError(
                400,
                "search_phase_execution_exception",
                {"error": {"root_cause": [{"type": "parse_exception", "reason": "failed to parse date [x]"}]}},
            ),
            "failed to parse date [x]",
        ),
        (RequestError(400, "parse_exception", "the body was plain text"), "the body was plain text"),
        (
            RequestError(400, "parse_exception", {"error": {"root_cause": [], "reason": "no root cause"}}),
            "no root cause",
        ),
        (RequestError(400, "parse_exception", {"error": "a string error"}), "a string error"),
        (RequestError(400, "parse_exception", {}), "parse_exception"),
        (RequestError(400, "parse_exception", None), "parse_exception"),
        (RequestError(400, "parse_exception"), "parse_exception"),
        (RequestError(400), "RequestError"),
    ],
)
def test_a_refused_search_is_a_query_error_whatever_the_error_body(error, reason):
    with pytest.raises(QueryError) as raised:
        search(RefusingClient(error), "articles", SearchRequest("ceasefire"))
    assert str(raised.value) == f"OpenSearch rejected the search: {reason}"


def test_a_search_the_cluster_cannot_run_is_unavailable_not_an_error():
    error = TransportError(503, "search_phase_execution_exception", {"error": {"reason": "all shards failed"}})
    with pytest.raises(SearchUnavailable, match="all shards failed"):
        search(RefusingClient(error), "articles", SearchRequest("ceasefire"))
