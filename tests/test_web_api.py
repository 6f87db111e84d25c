"""The JSON API and the LibreTranslate routes, through Flask's test client, on a real node and the tiny model."""

import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from service.translation import engine
from service.web import check_setup, create_app
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


def error_of(response):
    assert response.is_json, response.data[:200]
    return response.json["error"]


def test_translate_returns_sentence_pairs_language_and_model(api):
    response = api.post("/api/v1/translate", json={"texts": ["قال الرئيس. ثم غادر.", "انتهى الاجتماع."]})
    assert response.status_code == 200
    body = response.json
    assert body["demo"] is True and body["model"].startswith("generated-tiny@")
    first = body["translations"][0]
    assert [s["source"] for s in first["sentences"]] == ["قال الرئيس.", "ثم غادر."]
    assert all(s["target"] and s["score"] <= 0 for s in first["sentences"])
    assert first["language"]["language"] == "ar" and len(body["translations"]) == 2


def test_translate_with_beam_size_and_forced_source(api):
    def translate(**options):
        response = api.post(
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
def test_bad_input_gets_a_json_4xx(api, send, status, code):
    response = api.post("/api/v1/translate", **send)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_oversized_body_is_413(api, app):
    response = api.post(
        "/api/v1/translate",
        data=b"x" * (services_of(app).settings.max_request_bytes + 1),
        content_type="application/json",
    )
    assert response.status_code == 413 and error_of(response)["code"] == "payload_too_large"


def test_unknown_route_and_method_are_json(api):
    assert error_of(api.get("/api/v1/nothing"))["code"] == "not_found"
    assert api.get("/api/v1/translate").status_code == 405


def test_detect(api):
    response = api.post("/api/v1/detect", json={"texts": ["مرحبا بكم", "Hello there"]})
    assert [d["language"] for d in response.json["detections"]] == ["ar", "en"]


def test_writes_need_a_valid_key(api):
    assert error_of(api.post("/api/v1/articles", json=ARTICLE))["code"] == "unauthorized"
    wrong = api.post("/api/v1/articles", json=ARTICLE, headers={"Authorization": "Bearer wrong-key-999"})
    assert wrong.status_code == 403
    assert api.delete("/api/v1/articles/w1").status_code == 401


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


def test_too_many_articles_point_to_bulk_jobs(api):
    response = api.post("/api/v1/articles", json=[ARTICLE] * 101, headers=AUTH)
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


def test_search_lists_every_form_searched_and_takes_the_users_translation(api, app, client, alias):
    api.post("/api/v1/articles", json=ARTICLE, headers=AUTH)
    client.indices.refresh(index=alias)
    assert services_of(app).reverse_translator.demo, "the tiny en-ar model is loaded, and is a demo"
    plain = api.get("/api/v1/search", query_string={"q": "president"}).json["query"]
    assert plain["searched"] == [{"lang": "en", "text": "president", "by": "user"}]
    assert [side["lang"] for side in plain["not_searched"]] == ["ar"] and "demo" in plain["not_searched"][0]["why"]
    result = api.get("/api/v1/search", query_string={"q": "president", "q_ar": "الرئيس"}).json
    assert "w1" in [hit["id"] for hit in result["hits"]], "found by its Arabic side alone"
    assert result["query"]["searched"][1] == {"lang": "ar", "text": "الرئيس", "by": "user"}
    assert result["query"]["not_searched"] == []
    assert error_of(api.get("/api/v1/search", query_string={"q": "x", "q_ar": '"open'}))["code"] == "bad_query"
    page = api.get("/", query_string={"q": "president", "q_ar": "الرئيس"}).data.decode()
    assert 'name="q_ar" value="الرئيس"' in page, "the UI keeps the analyst's Arabic in its form"


def test_libretranslate_translate_detect_languages(api):
    single = api.post("/translate", json={"q": "قال الرئيس.", "source": "auto", "target": "en", "format": "text"})
    assert single.status_code == 200 and isinstance(single.json["translatedText"], str)
    assert (
        single.json["detectedLanguage"]["language"] == "ar"
        and 0 <= single.json["detectedLanguage"]["confidence"] <= 100
    )
    batch = api.post("/translate", data={"q": ["قال الرئيس.", "ثم غادر."], "source": "ar", "target": "en"})
    assert isinstance(batch.json["translatedText"], list) and "detectedLanguage" not in batch.json
    markup = api.post(
        "/translate", json={"q": "<p>قال <b>الرئيس</b>.</p>", "source": "ar", "target": "en", "format": "html"}
    ).json["translatedText"]
    assert markup.startswith("<p>") and "<b>" in markup and markup.endswith("</p>")
    assert api.post("/detect", json={"q": "مرحبا بكم"}).json[0]["language"] == "ar"
    assert api.get("/languages").json[0] == {"code": "ar", "name": "Arabic", "targets": ["en"]}


def test_libretranslate_errors_are_its_shape(api):
    response = api.post("/translate", json={"source": "auto", "target": "en"})
    assert response.status_code == 400 and isinstance(response.json["error"], str)
    assert api.post("/translate", json={"q": "x", "source": "ar", "target": "fr"}).status_code == 400


def test_health_ready_and_metrics(api):
    assert api.get("/healthz").json == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"model": True, "opensearch": True, "jobs_store": True}
    api.post("/api/v1/translate", json={"text": "مرحبا"})
    metrics = api.get("/metrics").data.decode()
    assert 'http_requests_total{endpoint="/api/v1/translate",method="POST",status="200"}' in metrics
    assert "translated_tokens" in metrics and "translation_memory_hits" in metrics


def test_readyz_reports_a_missing_model_and_cluster(search_settings, tmp_path):
    broken = create_app(replace(search_settings, model_dir=tmp_path / "none", opensearch_urls=("http://127.0.0.1:9",)))
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


def test_rate_limit_per_key(search_settings, alias):
    limited = create_app(
        replace(search_settings, opensearch_index=alias, rate_limit="2 per minute", api_keys=(KEY, "another-key-1"))
    ).test_client()
    codes = [limited.post("/api/v1/detect", json={"text": "مرحبا"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert error_of(limited.post("/api/v1/detect", json={"text": "مرحبا"}))["code"] == "rate_limited"
    other_key = limited.post("/api/v1/detect", json={"text": "مرحبا"}, headers={"X-API-Key": "another-key-1"})
    assert other_key.status_code == 200  # a valid key has a bucket of its own (an invented one shares the address's)


def test_openapi_describes_every_api_route(app, api):
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    served = api.get("/api/v1/openapi.json").json
    documented = {(path, method) for path, ops in served["paths"].items() for method in ops}
    assert routes == documented
    assert served["openapi"] == "3.1.0"
    assert b"POST /api/v1/translate" in api.get("/api/v1/docs").data
