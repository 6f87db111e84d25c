"""The web edge's defences through Flask's test client and the tiny model: links and headers, keys and rate limits,
trusted proxies, Unicode in bodies and files, LibreTranslate limits, exports. On the offline app where a route never
reaches the index, else on a real node."""

import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from service.config import ConfigError, Settings
from service.files import jsonl_records
from service.web import create_app
from service.web.export import to_tmx, to_tsv

KEY = "security-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLE = {
    "id": "sec1",
    "title": "عنوان الخبر",
    "body": "قال الرئيس إن الاقتصاد تحسن. وأضاف أن الحكومة ستعمل.",
    "source": "BBC Arabic",
    "date": "2018-05-01T10:00:00Z",
    "url": "https://example.org/sec1",
}
TEMPLATES = Path(__file__).resolve().parents[1] / "service" / "web" / "templates"


@pytest.fixture(scope="module")
def make_app(search_settings, alias):
    def make(**changes):
        return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), **changes))

    return make


@pytest.fixture(scope="module")
def app(make_app):
    return make_app()


@pytest.fixture
def api(app):
    return app.test_client()


@pytest.fixture
def make_offline(make_offline_app):
    """make(**changes): the app with nothing listening where OpenSearch should be, for what never reaches the index."""
    return lambda **changes: make_offline_app(api_keys=(KEY,), **changes)


@pytest.fixture
def offline_api(make_offline):
    return make_offline().test_client()


def error_of(response):
    assert response.is_json, response.data[:200]
    return response.json["error"]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        self.targets += [value or "" for name, value in attrs if name in ("href", "src", "action", "formaction")]


def link_targets(page: bytes) -> list[str]:
    parser = _Links()
    parser.feed(page.decode("utf-8"))
    return parser.targets


# --- stored XSS through `url`, and security headers -------------------------------------------------------

EVIL_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(document.domain)",
    "  javascript:alert(1)",
    "\tjava\tscript:alert(1)",
    "\x01javascript:alert(1)",
    "\njavascript\n:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "https:alert(1)",
]


def test_a_stored_script_url_never_becomes_a_link(api, client, alias):
    assert api.post("/api/v1/articles", json=ARTICLE, headers=AUTH).json["items"][0]["status"] in (
        "indexed",
        "unchanged",
    )
    through_api = api.post(
        "/api/v1/articles", json=dict(ARTICLE, id="sec-api", url="javascript:alert(1)"), headers=AUTH
    ).json["items"][0]
    ids = [through_api["id"]] if through_api["status"] == "indexed" else []  # or refused where it is stored
    stored = client.get(index=alias, id="sec1")["_source"]
    for number, url in enumerate(EVIL_URLS):  # whatever is already stored, from any path
        client.index(index=alias, id=f"sec-evil-{number}", body=dict(stored, id=f"sec-evil-{number}", url=url))
        ids.append(f"sec-evil-{number}")
    client.indices.refresh(index=alias)
    for article_id in ids:
        page = api.get(f"/articles/{article_id}")
        assert page.status_code == 200
        targets = link_targets(page.data)
        assert targets and all(t.startswith(("/", "#", "http://", "https://")) for t in targets), (article_id, targets)
        assert b">original</a>" not in page.data
    good = api.get("/articles/sec1").data
    assert b'<a href="https://example.org/sec1" rel="noopener noreferrer">original</a>' in good


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/"),
        ("GET", "/?q=الرئيس"),
        ("GET", "/articles/sec1"),
        ("GET", "/api/v1/search?q=x"),
        ("GET", "/api/v1/nothing"),
        ("GET", "/no-such-page"),
        ("GET", "/static/style.css"),
        ("GET", "/static/app.js"),
        ("GET", "/healthz"),
        ("POST", "/translate"),
    ],
)
def test_every_response_carries_the_security_headers(offline_api, method, path):
    with offline_api.open(path, method=method) as response:  # closes the static file
        headers = response.headers
    policy = headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("Referrer-Policy") == "no-referrer"


def test_templates_hold_nothing_the_policy_blocks():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name  # inline script
        assert not re.search(r"\son[a-z]+\s*=", text, re.IGNORECASE), template.name  # event handler attributes
        assert not re.search(r"\sstyle\s*=|<style", text, re.IGNORECASE), template.name  # inline style
        assert "javascript:" not in text.lower(), template.name


# --- API keys and rate limits -----------------------------------------------------------------------------


def test_invented_keys_do_not_escape_the_address_limit(make_offline):
    limited = make_offline(rate_limit="3 per minute", rate_limit_failed_keys="off")
    web = limited.test_client()
    codes = [
        web.post("/api/v1/detect", json={"text": "مرحبا"}, headers={"X-API-Key": f"made-up-key-{n}"}).status_code
        for n in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]
    assert web.post("/api/v1/detect", json={"text": "مرحبا"}, headers=AUTH).status_code == 200  # a real key: own bucket
    buckets = " ".join(map(str, limited.extensions["mt_limiter"].storage.storage))
    assert KEY not in buckets and "made-up-key" not in buckets  # buckets are named by a hash of valid keys only


def test_failed_key_checks_are_limited_per_address(make_app):
    web = make_app(rate_limit="off", rate_limit_failed_keys="3 per minute").test_client()
    codes = [
        web.delete("/api/v1/articles/none", headers={"Authorization": f"Bearer guess-{n:08d}"}).status_code
        for n in range(5)
    ]
    assert codes == [403, 403, 403, 429, 429]
    locked = web.delete("/api/v1/articles/none", headers=AUTH)  # even the right key: a guess must not tell
    assert locked.status_code == 429 and error_of(locked)["code"] == "rate_limited"
    elsewhere = web.delete("/api/v1/articles/none", headers=AUTH, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert elsewhere.status_code == 404  # another address is not locked out: its key is checked and passes


def test_keys_in_the_query_string_are_refused(offline_api):
    response = offline_api.post(f"/api/v1/articles?api_key={KEY}", json=dict(ARTICLE, id="sec-qs"))
    assert response.status_code == 401
    assert offline_api.delete(f"/api/v1/articles/sec-qs?api_key={KEY}").status_code == 401
    form = offline_api.post("/translate", data={"q": "مرحبا", "source": "ar", "target": "en", "api_key": KEY})
    assert form.status_code == 200  # LibreTranslate's form field is the body: still accepted


def test_rate_limit_storage_is_a_setting(make_offline):
    with pytest.raises(ConfigError, match=re.escape("RATE_LIMIT_STORAGE='ftp://x'")):
        Settings.from_env({"RATE_LIMIT_STORAGE": "ftp://x"})
    with pytest.raises(ConfigError, match="RATE_LIMIT_FAILED_KEYS"):
        Settings.from_env({"RATE_LIMIT_FAILED_KEYS": "many"})
    assert (
        Settings.from_env({"RATE_LIMIT_STORAGE": "redis://cache:6379/0"}).rate_limit_storage == "redis://cache:6379/0"
    )
    shared = make_offline(rate_limit_storage="redis://127.0.0.1:9/0", rate_limit="2 per minute")
    assert type(shared.extensions["mt_limiter"].storage).__name__ == "RedisStorage"
    web = shared.test_client()  # nothing listens there: counted in this process meanwhile, never a 500
    assert [web.post("/api/v1/detect", json={"text": "مرحبا"}).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("proxies,separate", [(1, True), (0, False)])
def test_trusted_proxies_decide_which_address_is_limited(make_offline, proxies, separate):
    web = make_offline(rate_limit="1 per minute", trusted_proxies=proxies).test_client()

    def detect(client_address):
        return web.post(
            "/api/v1/detect",
            json={"text": "مرحبا"},
            headers={"X-Forwarded-For": client_address, "X-Forwarded-Proto": "https"},
        ).status_code

    assert detect("203.0.113.1") == 200
    assert detect("203.0.113.1") == 429
    assert detect("198.51.100.7") == (200 if separate else 429)


# --- Unicode: lone surrogates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,body,headers",
    [
        ("/api/v1/translate", '{"text": "abc \\ud800"}', {}),
        ("/api/v1/detect", '{"texts": ["ok", "\\udfff"]}', {}),
        ("/api/v1/articles", '{"id": "sur1", "body": "قال الرئيس \\ud800"}', AUTH),
        ("/api/v1/jobs", '["قال الرئيس \\udc00"]', AUTH),
        ("/api/v1/articles", '{"id": "sur2", "body": "قال", "\\ud800": 1}', AUTH),
    ],
)
def test_a_lone_surrogate_is_a_400(offline_api, path, body, headers):
    response = offline_api.post(path, data=body, content_type="application/json", headers=headers)
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_unicode"


def test_a_lone_surrogate_is_a_libretranslate_400_and_pairs_are_fine(offline_api):
    response = offline_api.post(
        "/translate", data='{"q": "abc \\ud800", "target": "en"}', content_type="application/json"
    )
    assert response.status_code == 400 and "surrogate" in response.json["error"]
    pair = offline_api.post("/api/v1/detect", data='{"text": "مرحبا \\ud83d\\ude00"}', content_type="application/json")
    assert pair.status_code == 200


def test_jsonl_lines_with_lone_surrogates_are_rejected_with_their_number():
    lines = [b'{"id": "a", "body": "one"}\n', b'{"id": "b", "body": "two \\ud800"}\n', b'{"id": "c", "body": "3"}\n']
    records = list(jsonl_records(lines))
    assert [(n, r["id"]) for n, r in records if isinstance(r, dict)] == [(1, "a"), (3, "c")]
    ((number, bad),) = [(n, r) for n, r in records if not isinstance(r, dict)]
    assert number == 2 and "surrogate" in str(bad) and "$.body" in str(bad)


def test_an_upload_with_a_lone_surrogate_keeps_its_good_lines(offline_api):
    data = '{"id": "u1", "body": "قال الرئيس."}\n{"id": "u2", "body": "x \\ud800"}\n{"id": "u3", "body": "ثم غادر."}\n'
    response = offline_api.post(
        "/api/v1/jobs",
        headers=AUTH,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data.encode()), "surrogates.jsonl")},
    )
    assert response.status_code == 202, response.data[:300]
    assert response.json["counts"]["total"] == 3 and response.json["counts"]["failed"] == 1
    errors = [
        json.loads(line)
        for line in offline_api.get(f"/api/v1/jobs/{response.json['id']}/errors", headers=AUTH).data.splitlines()
    ]
    assert len(errors) == 1 and errors[0]["line"] == 2 and "surrogate" in json.dumps(errors[0])


# --- LibreTranslate limits ----------------------------------------------------------------------------


def test_libretranslate_applies_the_batch_limit(offline_api):
    response = offline_api.post("/translate", json={"q": ["مرحبا"] * 65, "source": "ar", "target": "en"})
    assert response.status_code == 400 and "batch limit (64)" in response.json["error"]
    form = offline_api.post("/translate", data={"q": ["مرحبا"] * 65, "source": "ar", "target": "en"})
    assert form.status_code == 400 and isinstance(form.json["error"], str)
    assert offline_api.post("/detect", json={"q": "أ" * 100_001}).status_code == 400


def test_libretranslate_html_pieces_are_bounded(offline_api):
    many = "".join(f"<b>{n}</b>" for n in range(64 * 16 + 1))
    response = offline_api.post("/translate", json={"q": many, "source": "ar", "target": "en", "format": "html"})
    assert response.status_code == 400 and "text pieces" in response.json["error"]
    several = offline_api.post(
        "/translate",
        json={"q": ["<p>قال <b>الرئيس</b>.</p>", "<i>ثم غادر.</i>"], "source": "ar", "target": "en", "format": "html"},
    )
    assert several.status_code == 200
    first, second = several.json["translatedText"]
    assert first.startswith("<p>") and "<b>" in first and second.startswith("<i>") and second.endswith("</i>")


# --- exports ------------------------------------------------------------------------------------------

CONTROL_DOC = {
    "id": "ctl\x01",
    "model": "m\x0b",
    "sentences": [
        {
            "position": 0,
            "field": "body",
            "paragraph": 0,
            "score": -0.5,
            "ar": "قال\x01 الرئيس\x0b.\ufffe",
            "en": "The\tpresident\nsaid\x0c.\nAgain\x00.",
        }
    ],
}


def test_tmx_export_is_well_formed_whatever_the_text_holds():
    tmx = ET.fromstring(to_tmx(CONTROL_DOC))  # raised ParseError on \x01 and \x0b before
    segments = [seg.text for seg in tmx.iter("seg")]
    assert segments == ["قال الرئيس.", "The\tpresident\nsaid.\nAgain."]
    assert tmx.find("body/tu").get("tuid") == "ctl-0"


def test_tsv_export_keeps_one_row_per_pair_and_nine_columns():
    rows = to_tsv(CONTROL_DOC).splitlines()
    assert len(rows) == 2 and all(len(row.split("\t")) == 9 for row in rows)
    assert rows[1].split("\t")[4:6] == ["قال الرئيس.", "The president said. Again."]


# --- found by the hostile review ----------------------------------------------------------------------------


def test_the_rate_limit_is_one_budget_across_every_route(make_offline):
    web = make_offline(rate_limit="3 per minute", rate_limit_failed_keys="off").test_client()
    codes = [
        web.post("/api/v1/detect", json={"text": "مرحبا"}).status_code,
        web.get("/api/v1/search?q=economy").status_code,
        web.post("/translate", json={"q": "hello", "source": "en", "target": "en"}).status_code,
        web.get("/languages").status_code,  # a fourth route, not a fourth budget
    ]
    assert codes == [200, 503, 200, 429]  # the search, refused for want of a cluster, was counted all the same
    assert web.get("/healthz").status_code == 200  # exempt, as are static files:
    with web.get("/static/style.css") as static:
        assert static.status_code == 200


def test_pages_need_a_key_when_reads_do(make_app):
    web = make_app(read_requires_key=True).test_client()
    for page in ("/?q=economy", "/articles/sec1", "/"):
        assert web.get(page).status_code == 401, page
    assert web.post("/translation", data={"text": "مرحبا"}).status_code == 401
    assert web.get("/jobs").status_code == 200 and web.get("/ingest").status_code == 200  # shells, keyed API behind
    assert web.get("/?q=economy", headers=AUTH).status_code == 200
    assert web.post("/translation", data={"text": "مرحبا"}, headers=AUTH).status_code == 200


def test_wrong_methods_on_json_routes_answer_json(offline_api):
    libre = offline_api.get("/translate")
    assert libre.status_code == 405 and isinstance(libre.json["error"], str) and "POST" in libre.headers["Allow"]
    health = offline_api.post("/healthz")
    assert health.status_code == 405 and health.json["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "body",
    ['{"text": NaN}', '{"text": "x", "beam_size": Infinity}', '{"texts": ["x"], "n": 1e400}', '{"n": -Infinity}'],
)
def test_json_without_a_json_value_is_a_400(offline_api, body):
    response = offline_api.post("/api/v1/translate", data=body, content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "malformed_json"


def test_a_form_is_held_to_the_request_size_limit(make_offline):
    web = make_offline(max_request_bytes=10_000).test_client()
    libre = web.post("/translate", data={"q": "x" * 20_000, "source": "ar", "target": "en"})
    assert libre.status_code == 413 and isinstance(libre.json["error"], str)
    page = web.post("/translation", data={"text": "x" * 20_000})
    assert page.status_code == 413
