"""Signing in once per browser, through Flask's test client on the offline app: the cookie (what it holds, its
flags, its expiry), the key check behind it, CSRF on what the cookie authorises, sign-out, SECRET_KEY rotation,
and single sign-on from a trusted proxy. The browser's side is tests/test_ui_signin.py."""

import re
import time
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from service.config import ConfigError, Settings
from service.web.sessions import COOKIE_NAME

KEY = "session-key-0123456"
OTHER_KEY = "other-key-01234567"
SECRET = "a-test-secret-that-is-long-enough-0123"
ORIGIN = "http://localhost"
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": ORIGIN}
JOB = {"items": ["مرحبا"]}


@pytest.fixture
def make(make_offline_app):
    return lambda **changes: make_offline_app(**{"api_keys": (KEY, OTHER_KEY), "secret_key": SECRET, **changes})


def sign_in(web, key=KEY, **request):
    return web.post("/signin", data={"api_key": key, "next": "/jobs"}, headers=SAME_ORIGIN, **request)


def session_cookie(response) -> dict:
    """The Set-Cookie header of the session cookie, parsed: its value and its attributes."""
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{COOKIE_NAME}="):
            cookie = SimpleCookie()
            cookie.load(header)
            morsel = cookie[COOKIE_NAME]
            flags = {part.strip().lower() for part in header.split(";")}
            return {"value": morsel.value, "header": header, "flags": flags, "expires": morsel["expires"]}
    raise AssertionError("no session cookie set")


def page_token(web, path="/jobs") -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', web.get(path).get_data(as_text=True)).group(1)


def test_signing_in_sets_an_httponly_samesite_cookie_that_holds_no_key(make):
    web = make().test_client()
    response = sign_in(web)
    assert response.status_code == 303 and response.headers["Location"] == "/jobs"
    cookie = session_cookie(response)
    assert "httponly" in cookie["flags"] and "samesite=lax" in cookie["flags"]
    assert "secure" not in cookie["flags"]  # plain HTTP: a Secure cookie would never come back
    lasts = parsedate_to_datetime(cookie["expires"]).timestamp() - time.time()
    assert 168 * 3600 - 60 < lasts <= 168 * 3600  # kept across browser restarts, for SESSION_HOURS
    assert KEY not in cookie["header"] and KEY[-8:] not in cookie["header"]
    assert "Content-Security-Policy" in response.headers  # the security headers stay on the sign-in answers


def test_the_cookie_is_secure_over_https_and_behind_a_trusted_tls_proxy(make):
    direct = sign_in(make().test_client(), base_url="https://localhost")
    assert "secure" in session_cookie(direct)["flags"]
    proxied = make(trusted_proxies=1).test_client()
    forwarded = proxied.post(
        "/signin",
        data={"api_key": KEY},
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7", "Sec-Fetch-Site": "same-origin"},
    )
    assert "secure" in session_cookie(forwarded)["flags"]


def test_a_signed_in_browser_sees_its_own_jobs_in_every_request_without_a_key(make):
    app = make()
    web = app.test_client()
    sign_in(web)
    token = page_token(web)
    submitted = web.post("/api/v1/jobs", json=JOB, headers={**SAME_ORIGIN, "X-CSRF-Token": token})
    assert submitted.status_code == 202, submitted.get_json()
    listed = web.get("/api/v1/jobs").get_json()["jobs"]
    assert [job["id"] for job in listed] == [submitted.get_json()["id"]]
    assert listed[0]["options"]["key_label"] == f"…{KEY[-4:]}"
    by_header = app.test_client().get("/api/v1/jobs", headers={"X-API-Key": KEY}).get_json()["jobs"]
    assert [job["id"] for job in by_header] == [job["id"] for job in listed]  # the same owner as the key's
    other = app.test_client().get("/api/v1/jobs", headers={"X-API-Key": OTHER_KEY}).get_json()["jobs"]
    assert other == []


def test_a_wrong_key_is_refused_and_counted_against_the_address(make):
    web = make(rate_limit="off", rate_limit_failed_keys="2 per minute").test_client()
    assert sign_in(web, "not-a-valid-key-000").status_code == 403
    assert sign_in(web, "not-a-valid-key-001").status_code == 403
    locked = sign_in(web)  # even the right key, once the address is past its limit
    assert locked.status_code == 429 and COOKIE_NAME not in locked.headers.get("Set-Cookie", "")
    assert sign_in(web, environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 303  # another address


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
        {"Origin": "https://evil.example"},  # an older browser: Origin only
        {"Origin": "null"},
    ],
)
def test_a_cross_site_request_on_the_cookie_is_refused_even_with_the_token(make, headers):
    web = make().test_client()
    sign_in(web)
    token = page_token(web)
    response = web.post("/api/v1/jobs", json=JOB, headers={**headers, "X-CSRF-Token": token})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "cross_site_request"
    assert web.post("/signout", data={"csrf_token": token}, headers=headers).status_code == 403
    assert web.get("/api/v1/jobs").get_json()["jobs"] == []  # nothing was submitted, and still signed in


def test_a_state_change_on_the_cookie_needs_the_sessions_token(make):
    web = make().test_client()
    sign_in(web)
    for headers in ({}, {"X-CSRF-Token": "guessed"}):
        refused = web.post("/api/v1/jobs", json=JOB, headers={**SAME_ORIGIN, **headers})
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf"
    form = web.post("/ingest", data={"index": "true"}, headers=SAME_ORIGIN)
    assert form.status_code == 403 and "out of date" in form.get_data(as_text=True)  # the page's words, as HTML
    assert web.get("/api/v1/jobs").get_json()["jobs"] == []


def test_an_api_client_with_a_header_key_needs_no_token_even_from_a_browser_session(make):
    web = make().test_client()
    sign_in(web)
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {OTHER_KEY}"}):
        answer = web.post("/api/v1/jobs", json=JOB, headers=headers)
        assert answer.status_code == 202, answer.get_json()
    unauthenticated_form = make().test_client().post("/translation", data={"text": "مرحبا"})
    assert unauthenticated_form.status_code == 200  # without a sign-in, nothing to protect: no token asked


def test_signing_out_ends_the_session_in_every_tab(make):
    app = make()
    web = app.test_client()
    sign_in(web)
    token = page_token(web)
    out = web.post("/signout", data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert out.status_code == 303 and out.headers["Location"] == "/signin?signed_out=1"
    assert f"{COOKIE_NAME}=;" in out.headers["Set-Cookie"]  # the cookie itself is deleted
    assert web.get("/api/v1/jobs").status_code == 401
    assert 'id="signin-needed"' in web.get("/jobs").get_data(as_text=True)


def test_rotating_the_secret_or_withdrawing_the_key_signs_browsers_out(make):
    first = make()
    web = first.test_client()
    cookie = session_cookie(sign_in(web))["value"]
    assert web.get("/api/v1/jobs").status_code == 200
    for changed in (make(secret_key=SECRET[::-1]), make(api_keys=(OTHER_KEY,))):
        other = changed.test_client()
        other.set_cookie(COOKIE_NAME, cookie)
        assert other.get("/api/v1/jobs").status_code == 401


def test_the_cookie_expires_session_hours_after_signing_in(make):
    app = make(session_hours=0.0003)  # about one second
    web = app.test_client()
    sign_in(web)
    assert web.get("/api/v1/jobs").status_code == 200
    time.sleep(2.2)  # itsdangerous counts whole seconds
    assert web.get("/api/v1/jobs").status_code == 401


def test_without_a_secret_key_signing_in_is_off_and_says_so(make):
    web = make(secret_key=None).test_client()
    assert 'id="signin-off"' in web.get("/signin").get_data(as_text=True)
    assert sign_in(web).status_code == 503
    assert web.get("/api/v1/jobs", headers={"X-API-Key": KEY}).status_code == 200  # the API is unchanged


def test_the_next_page_is_always_on_this_site(make):
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        answer = make().test_client().post("/signin", data={"api_key": KEY, "next": target}, headers=SAME_ORIGIN)
        assert answer.headers["Location"] == "/alerts", target


SSO = {"sso_header": "X-Forwarded-User", "sso_proxies": ("10.0.0.0/8",)}


def test_single_sign_on_from_a_trusted_proxy_makes_a_session(make):
    app = make(**SSO)
    proxy = {"REMOTE_ADDR": "10.1.2.3"}
    web = app.test_client()
    page = web.get("/signin", headers={"X-Forwarded-User": "alice"}, environ_base=proxy).get_data(as_text=True)
    assert "Continue as <bdi>alice</bdi>" in page
    made = web.post("/signin/sso", headers={"X-Forwarded-User": "alice", **SAME_ORIGIN}, environ_base=proxy)
    assert made.status_code == 303
    token = page_token(web)
    submitted = web.post("/api/v1/jobs", json=JOB, headers={**SAME_ORIGIN, "X-CSRF-Token": token})
    assert submitted.status_code == 202
    assert len(web.get("/api/v1/jobs").get_json()["jobs"]) == 1
    assert app.test_client().get("/api/v1/jobs", headers={"X-API-Key": KEY}).get_json()["jobs"] == []  # apart


def test_single_sign_on_header_from_anyone_else_is_ignored(make):
    web = make(**SSO).test_client()
    stranger = {"REMOTE_ADDR": "192.0.2.50"}
    page = web.get("/signin", headers={"X-Forwarded-User": "alice"}, environ_base=stranger).get_data(as_text=True)
    assert "alice" not in page
    refused = web.post("/signin/sso", headers={"X-Forwarded-User": "alice", **SAME_ORIGIN}, environ_base=stranger)
    assert refused.status_code == 403 and COOKIE_NAME not in refused.headers.get("Set-Cookie", "")
    # a client behind a trusted proxy cannot claim the proxy's address through X-Forwarded-For
    proxied = make(**SSO, trusted_proxies=1).test_client()
    spoofed = proxied.post(
        "/signin/sso",
        headers={"X-Forwarded-User": "alice", "X-Forwarded-For": "10.1.2.3", **SAME_ORIGIN},
        environ_base=stranger,
    )
    assert spoofed.status_code == 403


@pytest.mark.parametrize(
    "env,message",
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY='short': must be at least 32 characters"),
        ({"SSO_HEADER": "X-Forwarded-User"}, "SSO_HEADER needs SSO_PROXIES"),
        ({"SSO_HEADER": "X Bad", "SSO_PROXIES": "10.0.0.1"}, "must be an HTTP header name"),
        ({"SSO_HEADER": "X-User", "SSO_PROXIES": "nowhere"}, "'nowhere' is not an address or a CIDR network"),
        ({"SSO_HEADER": "X-User", "SSO_PROXIES": "10.0.0.1"}, "SSO_HEADER needs SECRET_KEY"),
    ],
)
def test_session_settings_are_checked_at_start_up(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env(env)


def test_session_settings_parse():
    settings = Settings.from_env(
        {"SECRET_KEY": SECRET, "SSO_HEADER": "X-Forwarded-User", "SSO_PROXIES": "10.0.0.0/8, 192.0.2.1"}
    )
    assert settings.sso_proxies == ("10.0.0.0/8", "192.0.2.1/32") and settings.session_hours == 168


def test_every_post_form_in_the_templates_carries_the_csrf_token():
    templates = Path(__file__).resolve().parents[1] / "service" / "web" / "templates"
    forms = 0
    for template in templates.glob("*.html"):
        for form in re.findall(r"<form[^>]*method=\"post\".*?</form>", template.read_text(encoding="utf-8"), re.S):
            forms += 1
            assert 'name="csrf_token" value="{{ csrf_token() }}"' in form, template.name
    assert forms >= 5  # sign in, single sign-on, sign out, ingest, translate
