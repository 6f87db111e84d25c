"""The served OpenAPI document and the server agree: on which requests are valid, on every response, on keys and 405s.

Each request here is judged twice, by the document (its JSON Schema) and by the real app with the tiny model (offline
where the request never reaches the index, else on a real node); the two verdicts must match.
"""

import io
from dataclasses import replace

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from service.web import create_app

KEY = "test-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLE = {
    "id": "o1",
    "title": "عنوان",
    "body": "قال الرئيس إن الاقتصاد تحسن. وأضاف أن الحكومة ستعمل.",
    "source": "BBC Arabic",
    "date": "2018-05-01T10:00:00Z",
    "category": "economy",
}


@pytest.fixture
def api(make_offline_app):
    """The app with nothing listening where OpenSearch should be, for the requests that never reach the index."""
    return make_offline_app(api_keys=(KEY,)).test_client()


@pytest.fixture(scope="module")
def node_api(search_settings, alias, tmp_path_factory):
    """The app on the session's node, for the requests that read or write the index."""
    jobs_db = tmp_path_factory.mktemp("openapi") / "jobs.sqlite3"
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), jobs_db=jobs_db)).test_client()


@pytest.fixture
def document(api):
    return api.get("/api/v1/openapi.json").json


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def schema_validator(document: dict, *parts: str) -> Draft202012Validator:
    """A validator for the schema at document[parts...], with the document's own $refs resolvable."""
    registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(document))
    return Draft202012Validator({"$ref": "urn:api#" + _pointer(*parts)}, registry=registry)


def body_is_valid(document: dict, path: str, method: str, body, media: str = "application/json") -> bool:
    return schema_validator(document, "paths", path, method, "requestBody", "content", media, "schema").is_valid(body)


def query_is_valid(document: dict, path: str, method: str, query: dict) -> bool:
    """Whether the query string is valid by the operation's declared parameters (integers read as integers)."""
    declared = {p["name"]: p for p in document["paths"][path][method].get("parameters", []) if p["in"] == "query"}
    if any(p.get("required") and name not in query for name, p in declared.items()):
        return False
    for name, value in query.items():
        schema = declared[name]["schema"]
        if schema.get("type") == "integer":
            try:
                value = int(value)
            except ValueError:
                return False
        if not Draft202012Validator(schema).is_valid(value):
            return False
    return True


def declared_response(document: dict, path: str, method: str, response):
    """The response's declared schema for its status and media type; fails when either is undocumented."""
    responses = document["paths"][path][method]["responses"]
    assert str(response.status_code) in responses, f"{method.upper()} {path}: {response.status_code} is undocumented"
    content = responses[str(response.status_code)].get("content", {})
    assert response.mimetype in content, f"{method.upper()} {path} {response.status_code}: {response.mimetype}"
    return schema_validator(
        document, "paths", path, method, "responses", str(response.status_code), "content", response.mimetype, "schema"
    )


def assert_they_agree_on_the_body(api, document: dict, path: str, body) -> None:
    valid = body_is_valid(document, path, "post", body)
    response = api.post(path, json=body, headers=AUTH)
    assert (response.status_code < 300) == valid, (valid, response.status_code, response.data[:300])


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/translate", {"text": ""}),
        ("/api/v1/translate", {"texts": []}),
        ("/api/v1/translate", {"text": "   "}),
        ("/api/v1/translate", {"text": "مرحبا", "beam_size": 17}),
        ("/api/v1/translate", {"text": "مرحبا", "source": "ar", "beam_size": 2.0}),
        ("/api/v1/translate", {"texts": ["مرحبا"] * 65}),
        ("/api/v1/translate", {"text": "مرحبا"}),
        ("/api/v1/detect", {"texts": ["مرحبا", ""]}),
        ("/api/v1/detect", {"text": "مرحبا بكم"}),
        ("/api/v1/articles", []),
        ("/api/v1/jobs", [None]),
        ("/api/v1/jobs", [5, "نص"]),
        ("/api/v1/jobs", {"items": []}),
        ("/api/v1/jobs", ["نص للترجمة"]),
    ],
)
def test_the_document_and_the_server_agree_on_bodies(api, document, path, body):
    assert_they_agree_on_the_body(api, document, path, body)


def test_the_document_and_the_server_agree_on_a_body_that_is_indexed(node_api, document):
    assert_they_agree_on_the_body(node_api, document, "/api/v1/articles", [ARTICLE, {"id": "no body"}])


@pytest.mark.parametrize(
    "query",
    [
        {"q": "الرئيس", "size": "0"},
        {"q": "الرئيس", "page": "0"},
        {"q": "الرئيس", "size": "101"},
        {"q": "الرئيس", "lang": "fr"},
        {"q": "الرئيس", "size": "1.5"},
        {"size": "5"},
        {"q": "الرئيس", "size": "5", "sort": "date"},
    ],
)
def test_the_document_and_the_server_agree_on_search_arguments(node_api, document, query):
    valid = query_is_valid(document, "/api/v1/search", "get", query)
    response = node_api.get("/api/v1/search", query_string=query)
    assert (response.status_code < 300) == valid, (valid, response.status_code, response.data[:300])


def test_job_options_are_checked_as_declared(api, document):
    assert not query_is_valid(document, "/api/v1/jobs", "post", {"index": "maybe"})
    response = api.post("/api/v1/jobs?index=maybe", json=["نص"], headers=AUTH)
    assert response.status_code == 400 and "index" in response.json["error"]["message"]
    upload = {"file": (io.BytesIO("نص واحد\n".encode()), "in.txt"), "beam_size": "99"}
    assert not body_is_valid(document, "/api/v1/jobs", "post", {"beam_size": 99}, "multipart/form-data")
    assert api.post("/api/v1/jobs", data=upload, headers=AUTH).status_code == 400
    upload = {"file": (io.BytesIO("نص واحد\n".encode()), "in.txt")}
    assert api.post("/api/v1/jobs?index=maybe", data=upload, headers=AUTH).status_code == 400  # declared for both


def test_every_response_declares_its_body(document):
    missing = [
        (path, method, status, media)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status != "204"
        for media, content in (response.get("content") or {"(none)": {}}).items()
        if "schema" not in content
    ]
    assert missing == []


def test_real_responses_match_their_declared_schemas(node_api, document, client, alias):
    calls = [
        ("post", "/api/v1/translate", "/api/v1/translate", dict(json={"texts": ["قال الرئيس. ثم غادر.", "Hi."]})),
        ("post", "/api/v1/translate", "/api/v1/translate", dict(json={"texts": []})),
        ("post", "/api/v1/translate", "/api/v1/translate", dict(data="{", content_type="application/json")),
        ("post", "/api/v1/detect", "/api/v1/detect", dict(json={"text": "مرحبا بكم"})),
        ("post", "/api/v1/articles", "/api/v1/articles", dict(json=[ARTICLE, {"id": "bad"}], headers=AUTH)),
        ("post", "/api/v1/articles", "/api/v1/articles", dict(json=ARTICLE)),
        ("get", "/api/v1/articles/{article_id}", "/api/v1/articles/o1", {}),
        ("get", "/api/v1/articles/{article_id}", "/api/v1/articles/o1?format=tsv", {}),
        ("get", "/api/v1/articles/{article_id}", "/api/v1/articles/o1?format=tmx", {}),
        ("get", "/api/v1/articles/{article_id}", "/api/v1/articles/missing", {}),
        ("get", "/api/v1/articles/{article_id}/similar", "/api/v1/articles/o1/similar", {}),
        ("get", "/api/v1/articles/{article_id}/similar", "/api/v1/articles/missing/similar", {}),
        ("get", "/api/v1/articles/{article_id}/similar", "/api/v1/articles/o1/similar?size=0", {}),
        ("get", "/api/v1/search", "/api/v1/search?q=%D8%A7%D9%84%D8%B1%D8%A6%D9%8A%D8%B3", {}),
        ("get", "/api/v1/search", "/api/v1/search?q=%22open", {}),
        ("get", "/api/v1/jobs", "/api/v1/jobs", {}),
        ("get", "/api/v1/jobs/{job_id}", "/api/v1/jobs/nope", {}),
        ("delete", "/api/v1/articles/{article_id}", "/api/v1/articles/o1", dict(headers=AUTH)),
        ("get", "/api/v1/openapi.json", "/api/v1/openapi.json", {}),
    ]
    for method, template, url, send in calls:
        response = getattr(node_api, method)(url, **send)
        if template == "/api/v1/articles" and response.status_code == 200:
            client.indices.refresh(index=alias)
        if response.status_code == 204:
            assert "204" in document["paths"][template][method]["responses"]
            continue
        payload = response.json if response.is_json else response.data.decode()
        errors = [e.message for e in declared_response(document, template, method, response).iter_errors(payload)]
        assert errors == [], (method, url, response.status_code)


def test_an_unreachable_cluster_answers_the_documented_503(api, document):
    for path, url in (
        ("/api/v1/search", "/api/v1/search?q=x"),
        ("/api/v1/articles/{article_id}", "/api/v1/articles/o1"),
    ):
        response = api.get(url)
        assert response.status_code == 503
        assert declared_response(document, path, "get", response).is_valid(response.json), url


def test_submitting_a_job_twice_answers_the_documented_200(api, document):
    first = api.post("/api/v1/jobs", json=["نص مكرر للتجربة"], headers=AUTH)
    again = api.post("/api/v1/jobs", json=["نص مكرر للتجربة"], headers=AUTH)
    assert (first.status_code, again.status_code) == (202, 200) and again.json["duplicate"] is True
    for response in (first, again):
        assert declared_response(document, "/api/v1/jobs", "post", response).is_valid(response.json)
    for job in ("/api/v1/jobs/" + first.json["id"], "/api/v1/jobs/" + first.json["id"] + "/results"):
        response = api.get(job, headers=AUTH)
        if response.is_json:
            assert declared_response(document, "/api/v1/jobs/{job_id}", "get", response).is_valid(response.json)
        else:
            declared_response(document, "/api/v1/jobs/{job_id}/results", "get", response)


def test_both_ways_of_sending_a_key_are_declared(document, node_api):
    schemes = document["components"]["securitySchemes"].values()
    assert {"type": "http", "scheme": "bearer"}.items() <= next(s for s in schemes if s["type"] == "http").items()
    assert any(s == {**s, "type": "apiKey", "in": "header", "name": "X-API-Key"} for s in schemes)
    names = sorted(document["components"]["securitySchemes"])
    delete = document["paths"]["/api/v1/articles/{article_id}"]["delete"]
    assert sorted(name for alternative in delete["security"] for name in alternative) == names
    assert all(len(alternative) == 1 for alternative in delete["security"])  # either one, not both
    assert node_api.delete("/api/v1/articles/o9", headers={"X-API-Key": KEY}).status_code == 404


def test_reads_declare_a_key_only_when_they_need_one(make_offline_app, document):
    assert "security" not in document["paths"]["/api/v1/search"]["get"]
    keyed = make_offline_app(api_keys=(KEY,), read_requires_key=True)
    served = keyed.test_client().get("/api/v1/openapi.json").json
    search = served["paths"]["/api/v1/search"]["get"]
    assert search["security"] and {"401", "403"} <= set(search["responses"])
    assert keyed.test_client().get("/api/v1/search?q=x").status_code == 401


def test_limits_in_the_document_come_from_the_settings(make_offline_app):
    small = make_offline_app(max_batch_texts=3, max_api_articles=7)
    served = small.test_client().get("/api/v1/openapi.json").json
    assert not body_is_valid(served, "/api/v1/translate", "post", {"texts": ["a"] * 4})
    assert body_is_valid(served, "/api/v1/translate", "post", {"texts": ["a"] * 3})
    assert not body_is_valid(served, "/api/v1/articles", "post", [{}] * 8)


def test_a_405_names_the_allowed_methods(api):
    response = api.get("/api/v1/translate")
    assert response.status_code == 405 and response.json["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"POST"}
    assert "GET" in api.put("/api/v1/jobs/abc").headers["Allow"]
