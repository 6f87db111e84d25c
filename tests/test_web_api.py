"""The JSON API and the LibreTranslate routes, through Flask's test client and the tiny model: on the offline app
where a route never reaches the index, else on a real node."""

import logging
import random
import re
import string
import xml.etree.ElementTree as ET
from dataclasses import replace
from urllib.parse import quote, urljoin, urlsplit

import pytest
from flask import url_for
from helpers import LINEAR_FACTOR, seconds

from service.index import lifecycle
from service.translation import engine
from service.web import check_setup, create_app
from service.web.libre import split_tags
from service.web.services import services_of

KEY = "test-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLE = {
    "id": "w1",
    "title": "عنوان الخبر",
    "body": "قال الرئيس إن الاقتصاد تحسن. وأضاف أن الحكومة ستعمل.",
    "source": "BBC Arabic",
    "date": "2018-05-01T10:00:00Z",
    "category": "economy",
}


@pytest.fixture(scope="module")
def app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,)))


@pytest.fixture
def api(app):
    return app.test_client()


@pytest.fixture
def offline_app(make_offline_app):
    """The app with nothing listening where OpenSearch should be: for the routes that never reach the index."""
    return make_offline_app(api_keys=(KEY,))


@pytest.fixture
def offline_api(offline_app):
    return offline_app.test_client()


def error_of(response):
    assert response.is_json, response.data[:200]
    return response.json["error"]


def test_translate_returns_sentence_pairs_language_and_model(offline_api):
    response = offline_api.post("/api/v1/translate", json={"texts": ["قال الرئيس. ثم غادر.", "انتهى الاجتماع."]})
    assert response.status_code == 200
    body = response.json
    assert body["demo"] is True and body["model"].startswith("generated-tiny@")
    first = body["translations"][0]
    assert [s["source"] for s in first["sentences"]] == ["قال الرئيس.", "ثم غادر."]
    assert all(s["target"] and s["score"] <= 0 for s in first["sentences"])
    assert first["language"]["language"] == "ar" and len(body["translations"]) == 2


def test_translate_with_beam_size_and_forced_source(offline_api):
    def translate(**options):
        response = offline_api.post(
            "/api/v1/translate", json={"text": "قال الرئيس إن الاقتصاد تحسن.", "source": "ar", **options}
        )
        assert response.status_code == 200
        return response.json["translations"][0]

    greedy, wide, configured = translate(beam_size=1), translate(beam_size=4), translate()
    assert greedy["language"] == {"language": "ar", "confidence": 1.0, "method": "given"}  # forced, not detected
    # on the tiny model the beam finds another, likelier output than greedy decoding (both deterministic)
    assert greedy["translation"] != wide["translation"] and wide["score"] > greedy["score"]
    assert (configured["translation"], configured["score"]) == (wide["translation"], wide["score"])  # MT_BEAM_SIZE=4


@pytest.mark.parametrize(
    "send,status,code",
    [
        (dict(data="{bad json", content_type="application/json"), 400, "malformed_json"),
        (dict(data="text=hello", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
        (dict(data=b'{"text": "\xff\xfe"}', content_type="application/json"), 400, "invalid_utf8"),
        (dict(data="[" * 5000 + "]" * 5000, content_type="application/json"), 400, "too_deep"),
        (dict(json={"text": "   "}), 422, "unprocessable"),
        (dict(json={"texts": []}), 400, "bad_request"),
        (dict(json={"texts": ["أ"] * 65}), 413, "payload_too_large"),
        (dict(json={"text": "أ" * 100_001}), 413, "payload_too_large"),
        (dict(json={"text": "مرحبا", "beam_size": 0}), 400, "bad_request"),
        (dict(json={"text": "مرحبا", "source": "fr"}), 400, "bad_request"),
        (dict(json=["not", "an", "object"]), 400, "bad_request"),
        (
            dict(json={"text": "این یک متن فارسی است که برای آزمایش نوشته شده است و باید فارسی تشخیص داده شود"}),
            422,
            "unprocessable",
        ),
    ],
)
def test_bad_input_gets_a_json_4xx(offline_api, send, status, code):
    response = offline_api.post("/api/v1/translate", **send)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_oversized_body_is_413(offline_api, offline_app):
    response = offline_api.post(
        "/api/v1/translate",
        data=b"x" * (services_of(offline_app).settings.max_request_bytes + 1),
        content_type="application/json",
    )
    assert response.status_code == 413 and error_of(response)["code"] == "payload_too_large"


def test_unknown_route_and_method_are_json(offline_api):
    assert error_of(offline_api.get("/api/v1/nothing"))["code"] == "not_found"
    assert offline_api.get("/api/v1/translate").status_code == 405


def test_detect(offline_api):
    response = offline_api.post("/api/v1/detect", json={"texts": ["مرحبا بكم", "Hello there"]})
    assert [d["language"] for d in response.json["detections"]] == ["ar", "en"]


def test_writes_need_a_valid_key(offline_api):
    assert error_of(offline_api.post("/api/v1/articles", json=ARTICLE))["code"] == "unauthorized"
    wrong = offline_api.post("/api/v1/articles", json=ARTICLE, headers={"Authorization": "Bearer wrong-key-999"})
    assert wrong.status_code == 403
    assert offline_api.delete("/api/v1/articles/w1").status_code == 401


def test_articles_index_idempotently_and_export_parallel_text(api, client, alias):
    first = api.post("/api/v1/articles", json=[ARTICLE, {"id": "bad"}], headers=AUTH)
    assert first.status_code == 200
    assert [(i["id"], i["status"]) for i in first.json["items"]] == [("w1", "indexed"), (None, "rejected")]
    again = api.post("/api/v1/articles", json=ARTICLE, headers={"X-API-Key": KEY})
    assert again.json["items"][0]["status"] == "unchanged"
    document = api.get("/api/v1/articles/w1").json
    assert document["id"] == "w1" and len(document["sentences"]) == 3
    tsv = api.get("/api/v1/articles/w1?format=tsv")
    assert tsv.mimetype == "text/tab-separated-values" and len(tsv.data.decode().splitlines()) == 4
    tmx = ET.fromstring(api.get("/api/v1/articles/w1?format=tmx").data)
    assert tmx.tag == "tmx" and tmx.get("version") == "1.4"
    units = tmx.findall("./body/tu")
    assert len(units) == 3
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert [t.get(lang) for t in units[1].findall("tuv")] == ["ar", "en"]
    assert units[1].find("tuv/seg").text == "قال الرئيس إن الاقتصاد تحسن."
    assert api.get("/api/v1/articles/w1?format=pdf").status_code == 400


def test_delete_then_404(api):
    api.post("/api/v1/articles", json=dict(ARTICLE, id="gone"), headers=AUTH)
    assert api.delete("/api/v1/articles/gone", headers=AUTH).status_code == 204
    assert error_of(api.get("/api/v1/articles/gone"))["code"] == "not_found"
    assert api.delete("/api/v1/articles/gone", headers=AUTH).status_code == 404


def test_a_date_with_no_utc_date_is_rejected_with_its_reason_and_the_rest_go_in(api):
    late = dict(ARTICLE, id="late", date="9999-12-31T23:59:59-14:00")
    early = dict(ARTICLE, id="early", date=None, published="0001-01-01T00:00:00+14:00")
    response = api.post("/api/v1/articles", json=[late, early, dict(ARTICLE, id="on-time")], headers=AUTH)
    assert response.status_code == 200
    items = response.json["items"]
    assert [(i["id"], i["status"]) for i in items] == [(None, "rejected"), (None, "rejected"), ("on-time", "indexed")]
    assert all("out of range in UTC" in i["reason"] for i in items[:2])
    assert api.get("/api/v1/articles/late").status_code == 404
    assert api.delete("/api/v1/articles/on-time", headers=AUTH).status_code == 204  # the module's searches expect w1


TRICKY_IDS = ("a/b", "a//b", "x/", "...", ".x/x.", "%2F", "a%2Fb", "a\\b", "x?y#z", "a b", "é/ü", "خبر/١")
TRICKY_IDS += ("https://example.org/a/?b=1#c",)
REFUSED_IDS = ("/x", "//x", "..", ".", "a/./b", "a/../b", "x/..")  # no URL path keeps these as they are


def reached(link: str) -> str:
    """The path a browser requests for a link on the site: dot segments resolved."""
    return urlsplit(urljoin("http://localhost/", link)).path or "/"


def test_every_id_accepted_reaches_its_page_download_and_delete_and_the_others_are_refused(api, app):
    ids = TRICKY_IDS + REFUSED_IDS
    articles = [dict(ARTICLE, id=doc_id, title=f"عنوان رقم {n}") for n, doc_id in enumerate(ids)]
    items = api.post("/api/v1/articles", json=articles, headers=AUTH).json["items"]
    for item in (item for item in items if item["status"] == "indexed"):
        doc_id = item["id"]
        with app.test_request_context():
            page_url = url_for("ui.article_page", article_id=doc_id)
        for link in (page_url, "/articles/" + quote(doc_id, safe="")):  # the pages' links, and the scripts'
            page = api.get(reached(link))
            assert page.status_code == 200 and f"عنوان رقم {item['index']}<" in page.data.decode(), (doc_id, link)
        download = re.search(r'href="([^"]+)" download>JSON', page.data.decode()).group(1).replace("&amp;", "&")
        assert api.get(download).json["id"] == doc_id
        deleted = api.delete(reached("/api/v1/articles/" + quote(doc_id, safe="")), headers=AUTH)
        assert deleted.status_code == 204 and api.get(reached(page_url)).status_code == 404, doc_id
    refused = [item for item in items if item["status"] == "rejected"]
    assert [ids[item["index"]] for item in refused] == list(REFUSED_IDS)
    assert all('starts with "/" or has a "." or ".." segment' in item["reason"] for item in refused)


def test_too_many_articles_point_to_bulk_jobs(offline_api):
    response = offline_api.post("/api/v1/articles", json=[ARTICLE] * 101, headers=AUTH)
    assert response.status_code == 413 and "bulk job" in error_of(response)["message"]


def test_search_with_facets_and_bad_queries(api, client, alias):
    api.post("/api/v1/articles", json=ARTICLE, headers=AUTH)
    client.indices.refresh(index=alias)
    result = api.get("/api/v1/search", query_string={"q": "الرئيس", "source": "BBC Arabic"}).json
    assert result["total"] >= 1 and result["hits"][0]["id"] == "w1"
    assert {"source", "category", "published"} <= set(result["facets"])
    assert error_of(api.get("/api/v1/search?q=%22open"))["code"] == "bad_query"
    assert api.get("/api/v1/search?q=x&size=500").status_code == 400
    assert api.get("/api/v1/search?q=x&page=two").status_code == 400


def test_before_the_first_ingest_a_search_finds_nothing_rather_than_failing(search_settings, client):
    alias = "test-never-created"
    assert not client.indices.exists_alias(name=alias) and not client.indices.exists(index=alias)
    fresh = create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,))).test_client()
    for collapse in ("true", "false"):
        answer = fresh.get("/api/v1/search", query_string={"q": "الرئيس", "collapse": collapse})
        assert answer.status_code == 200 and (answer.json["total"], answer.json["hits"]) == (0, [])
    csv_answer = fresh.get("/api/v1/search?q=x&format=csv")
    assert csv_answer.status_code == 200 and csv_answer.data.decode().lstrip("\ufeff").splitlines()[0].startswith("id,")
    page = fresh.get("/", query_string={"q": "president"})
    assert page.status_code == 200 and 'id="empty-state"' in page.data.decode()
    assert not client.indices.exists(index=alias), "searching made no index"


def test_a_search_of_a_closed_index_is_the_clusters_trouble_not_the_querys(search_settings, client):
    """A closed (or blocked) index is an outage, as for every other call: a 503, not a 400 that blames the query."""
    alias = "test-closed-for-search"
    lifecycle.delete(client, alias)
    lifecycle.create(client, alias)
    client.indices.close(index=alias)
    try:
        closed = create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,))).test_client()
        answer = closed.get("/api/v1/search", query_string={"q": "president"})
    finally:
        lifecycle.delete(client, alias)
    assert (answer.status_code, error_of(answer)["code"]) == (503, "search_unavailable")


def test_search_lists_every_form_searched_and_takes_the_users_translation(api, app, client, alias):
    api.post("/api/v1/articles", json=ARTICLE, headers=AUTH)
    client.indices.refresh(index=alias)
    assert services_of(app).reverse_translator.demo, "the tiny en-ar model is loaded, and is a demo"
    plain = api.get("/api/v1/search", query_string={"q": "president"}).json["query"]
    by_meaning = [{"lang": "ar", "text": "president", "by": "meaning"}] if services_of(app).encoder else []
    assert plain["searched"] == [{"lang": "en", "text": "president", "by": "user"}, *by_meaning]
    assert [side["lang"] for side in plain["not_searched"]] == ["ar"] and "demo" in plain["not_searched"][0]["why"]
    result = api.get("/api/v1/search", query_string={"q": "president", "q_ar": "الرئيس"}).json
    assert "w1" in [hit["id"] for hit in result["hits"]], "found by its Arabic side alone"
    assert result["query"]["searched"][1] == {"lang": "ar", "text": "الرئيس", "by": "user"}
    assert result["query"]["not_searched"] == []
    assert error_of(api.get("/api/v1/search", query_string={"q": "x", "q_ar": '"open'}))["code"] == "bad_query"
    page = api.get("/", query_string={"q": "president", "q_ar": "الرئيس"}).data.decode()
    assert 'name="q_ar" value="الرئيس"' in page, "the UI keeps the analyst's Arabic in its form"


def test_while_opensearch_is_unreachable_what_needs_it_is_a_clean_503(offline_api):
    calls = [
        offline_api.get("/api/v1/search?q=president"),
        offline_api.get("/api/v1/search?q=president&format=csv"),
        offline_api.get("/api/v1/articles/w1"),
        offline_api.post("/api/v1/articles", json=ARTICLE, headers=AUTH),
    ]
    assert [(answer.status_code, error_of(answer)["code"]) for answer in calls] == [(503, "search_unavailable")] * 4
    for page in ("/?q=president", "/articles/w1"):
        answer = offline_api.get(page)
        assert (answer.status_code, answer.mimetype) == (503, "text/html"), page
    assert offline_api.get("/").status_code == 200  # the start page serves, without the collection's overview
    assert offline_api.get("/healthz").status_code == 200  # alive, only not ready


def test_libretranslate_translate_detect_languages(offline_api, offline_app):
    single = offline_api.post(
        "/translate", json={"q": "قال الرئيس.", "source": "auto", "target": "en", "format": "text"}
    )
    assert single.status_code == 200 and isinstance(single.json["translatedText"], str)
    assert (
        single.json["detectedLanguage"]["language"] == "ar"
        and 0 <= single.json["detectedLanguage"]["confidence"] <= 100
    )
    batch = offline_api.post("/translate", data={"q": ["قال الرئيس.", "ثم غادر."], "source": "ar", "target": "en"})
    assert isinstance(batch.json["translatedText"], list) and "detectedLanguage" not in batch.json
    markup = offline_api.post(
        "/translate", json={"q": "<p>قال <b>الرئيس</b>.</p>", "source": "ar", "target": "en", "format": "html"}
    ).json["translatedText"]
    assert markup.startswith("<p>") and "<b>" in markup and markup.endswith("</p>")
    assert offline_api.post("/detect", json={"q": "مرحبا بكم"}).json[0]["language"] == "ar"
    assert offline_api.get("/languages").json[0] == {"code": "ar", "name": "Arabic", "targets": ["en"]}
    # a process that only translates never loads the sentence encoder (ENCODER=use here): about 140 MB kept free
    assert "encoder" not in vars(services_of(offline_app))


def test_libretranslate_html_splits_unclosed_tags_in_linear_time():
    unclosed = "<" * 99_000
    markup = ("<p>قال <b>الرئيس</b>.</p>" * (len(unclosed) // 24 + 1))[: len(unclosed)]
    limit = LINEAR_FACTOR * seconds(lambda: split_tags(markup))
    took = seconds(lambda: split_tags(unclosed), within=limit)
    assert took <= limit, f"{took:.3f} s, {took / limit * LINEAR_FACTOR:.0f} times well-formed html as long"
    assert split_tags("a <b>c</b> <d") == ["a ", "<b>", "c", "</b>", " <d"]
    assert split_tags("<<b>") == ["<", "<b>", ""]


def test_libretranslate_errors_are_its_shape(offline_api):
    response = offline_api.post("/translate", json={"source": "auto", "target": "en"})
    assert response.status_code == 400 and isinstance(response.json["error"], str)
    assert offline_api.post("/translate", json={"q": "x", "source": "ar", "target": "fr"}).status_code == 400


def test_health_ready_and_metrics(api):
    assert api.get("/healthz").json == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"model": True, "opensearch": True, "jobs_store": True}
    api.post("/api/v1/translate", json={"text": "مرحبا"})
    metrics = api.get("/metrics").data.decode()
    assert 'http_requests_total{endpoint="/api/v1/translate",method="POST",status="200"}' in metrics
    assert "translated_tokens" in metrics and "translation_memory_hits" in metrics


def test_invented_methods_add_no_metric_series(offline_api):
    def series() -> int:
        return len(re.findall(r"^http_requests_total\{", offline_api.get("/metrics").data.decode(), re.MULTILINE))

    letters = random.Random(14)
    methods = ["".join(letters.choices(string.ascii_uppercase, k=8)) for _ in range(300)]
    offline_api.open("/api/v1/translate", method="BREW")  # the one series every invented method shares
    series()  # and the scrape's own
    before = series()
    for method in methods:
        assert offline_api.open("/api/v1/translate", method=method).status_code == 405
    assert series() == before
    assert (
        'http_requests_total{endpoint="unmatched",method="other",status="405"} 301.0'
        in offline_api.get("/metrics").text
    )


def test_a_full_translation_memory_only_stops_caching(make_offline_app, caplog):
    app = make_offline_app()
    memory = services_of(app).translator.memory
    (pages,) = memory._db.execute("PRAGMA page_count").fetchone()
    memory._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk, to SQLite
    api = app.test_client()
    texts = [" ".join(f"قال الرئيس إن الاقتصاد تحسن في العام رقم {n}{m}." for m in range(5)) for n in range(20)]
    with caplog.at_level(logging.WARNING, logger="service.translation.memory"):
        statuses = [api.post("/api/v1/translate", json={"text": text}).status_code for text in texts]
    assert statuses == [200] * len(texts)
    assert len(memory) < 5 * len(texts)  # it did fill up
    assert len(caplog.records) == 1  # once for the outage, not once per request


def test_readyz_reports_a_missing_model_and_cluster(make_offline_app, tmp_path):
    broken = make_offline_app(model_dir=tmp_path / "none")
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"model": False, "opensearch": False, "jobs_store": True}
    assert "python -m service model install" in response.json["model"]
    translate = broken.test_client().post("/api/v1/translate", json={"text": "مرحبا"})
    assert translate.status_code == 503 and error_of(translate)["code"] == "model_unavailable"


def test_check_setup_opens_what_the_app_opens_but_loads_no_model(settings, tmp_path, monkeypatch):
    def no_loading(_settings):
        raise AssertionError("check_setup loaded the model")

    monkeypatch.setattr(engine, "load_translator", no_loading)
    check_setup(replace(settings, jobs_db=tmp_path / "jobs.db"))
    assert (tmp_path / "jobs.db").is_file() and settings.memory_path.is_file()
    (tmp_path / "taken").write_text("a file where the job store's directory should be")
    with pytest.raises(OSError):
        check_setup(replace(settings, jobs_db=tmp_path / "taken" / "jobs.db"))


def test_rate_limit_per_key(make_offline_app):
    limited = make_offline_app(rate_limit="2 per minute", api_keys=(KEY, "another-key-1")).test_client()
    codes = [limited.post("/api/v1/detect", json={"text": "مرحبا"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert error_of(limited.post("/api/v1/detect", json={"text": "مرحبا"}))["code"] == "rate_limited"
    other_key = limited.post("/api/v1/detect", json={"text": "مرحبا"}, headers={"X-API-Key": "another-key-1"})
    assert other_key.status_code == 200  # a valid key has a bucket of its own (an invented one shares the address's)


def test_openapi_describes_every_api_route(offline_app, offline_api):
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in offline_app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    served = offline_api.get("/api/v1/openapi.json").json
    documented = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert routes == documented
    assert served["openapi"] == "3.1.0"
    assert b"POST /api/v1/translate" in offline_api.get("/api/v1/docs").data
