"""Signing in once per browser, in a real browser (Debian's chromium) at desktop (1440x900) and phone (390x844)
sizes, against the real app and node: one sign-in serves every tab, signing out ends it in every tab, a form on
another site is refused, and the key is in no URL, no script-readable storage and no readable cookie."""

import json
import threading
from dataclasses import replace

import pytest
from browsing import CHROMIUM, SECRET_KEY, expect, served, shot, sign_in
from werkzeug.serving import make_server

from service.web import create_app
from service.web.sessions import COOKIE_NAME

KEY = "signin-key-0123456789"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")


@pytest.fixture(scope="module")
def site(search_settings, alias, tmp_path_factory):
    jobs = tmp_path_factory.mktemp("signin-jobs") / "jobs.db"
    app = create_app(
        replace(
            search_settings,
            opensearch_index=alias,
            api_keys=(KEY,),
            jobs_db=jobs,
            alert_delivery=False,
            secret_key=SECRET_KEY,
        )
    )
    with served(app) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def context(browser, request):
    opened = browser.new_context(viewport=VIEWPORTS[request.param])
    opened.width_name = request.param
    yield opened
    opened.close()


def job_count(page, site: str) -> int:
    """The signed-in browser's jobs, read with its cookie (the page's request context shares it)."""
    return len(page.request.get(f"{site}/api/v1/jobs").json()["jobs"])


def submit_job(page, site: str, text: str) -> str:
    """A job submitted from the page's own script context, as the ingest page does: cookie and CSRF token."""
    answer = page.evaluate(
        """async ([text]) => {
             const response = await sessionFetch("/api/v1/jobs", {
               method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify([text])});
             return [response.status, await response.json()];
           }""",
        [text],
    )
    assert answer[0] == 202, answer
    return answer[1]["id"]


def test_one_sign_in_serves_every_tab_and_signing_out_ends_it_everywhere(site, context):
    urls = []
    context.on("request", lambda request: urls.append(request.url))
    first = context.new_page()
    first.goto(f"{site}/jobs")
    expect(first.locator("#signin-needed")).to_be_visible()  # not signed in: no key asked here, a link to sign in
    header_before = first.locator("header.top").bounding_box()["height"]
    shot(first, f"signin-jobs-signed-out-{context.width_name}")
    first.locator("#signin-needed").get_by_role("link", name="Sign in").click()
    shot(first, f"signin-page-{context.width_name}")
    first.get_by_label("API key").fill(KEY)
    first.get_by_role("button", name="Sign in").click()
    expect(first).to_have_url(f"{site}/jobs")  # back where the reader was
    job_id = submit_job(first, site, f"نص للتجربة {context.width_name}")
    expect(first.locator(f".job[data-job='{job_id}']")).to_be_visible()

    second = context.new_page()  # another tab: no key typed, the jobs and alerts are there
    second.goto(f"{site}/jobs")
    expect(second.locator(f".job[data-job='{job_id}']")).to_be_visible()
    expect(second.locator(f".job[data-job='{job_id}'] .key")).to_have_text(f"…{KEY[-4:]}")
    second.goto(f"{site}/alerts")
    expect(second.locator("#alerts-empty")).to_be_visible()
    expect(second.locator("#signin-needed")).to_have_count(0)
    expect(second.locator("#signout-form")).to_contain_text(f"Signed in: key …{KEY[-4:]}")
    # no extra row of navigation (a row is ~24 px; the sign-out button's padding may add a few)
    assert second.locator("header.top").bounding_box()["height"] < header_before + 12
    shot(second, f"signin-alerts-signed-in-{context.width_name}")

    second.get_by_role("button", name="Sign out").click()
    expect(second.locator("#signed-out")).to_be_visible()
    assert context.cookies() == []
    first.goto(f"{site}/ingest")  # the first tab is signed out too
    expect(first.locator("#signin-needed")).to_be_visible()
    expect(first.locator("form.ingest")).to_have_count(0)
    assert not any(KEY in url for url in urls)


def test_the_key_is_in_no_url_no_storage_and_no_readable_cookie(site, context):
    page = context.new_page()
    urls = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, site, KEY, then="/alerts")
    page.goto(f"{site}/?q=ceasefire")
    page.get_by_text("Save this search").click()
    expect(page.get_by_label("Name")).to_be_visible()
    expect(page.locator("#save-search-form [type=password]")).to_have_count(0)  # no key asked to save
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])"
    )
    assert json.loads(stored) == [[], [], ""]  # nothing a script can read: the session cookie is HttpOnly
    [cookie] = context.cookies()
    assert cookie["name"] == COOKIE_NAME and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert KEY not in cookie["value"] and cookie["expires"] > 0  # kept across restarts, until it expires
    assert not any(KEY in url for url in [*urls, page.url])
    html = page.content()
    assert KEY not in html and KEY[-8:] not in html


@pytest.fixture(scope="module")
def other_site():
    """Another site's page with a form that posts to the service (served on another port and host name)."""
    pages = {}

    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [pages.get(environ["PATH_INFO"], "").encode()]

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, pages
    server.shutdown()
    thread.join(10)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # same site, other origin; another site altogether
def test_a_form_on_another_site_cannot_act_on_the_sign_in(site, context, other_site, host):
    port, pages = other_site
    page = context.new_page()
    sign_in(page, site, KEY, then="/jobs")
    jobs_before = job_count(page, site)
    pages["/attack"] = (
        "<!doctype html><title>Win a prize</title>"
        f"<form method='post' action='{site}/api/v1/jobs' enctype='text/plain'>"
        '<input name=\'{"items": ["x"], "pad": "\' value=\'"}\'><button id=\'job\'>Submit job</button></form>'
        f"<form method='post' action='{site}/signout'><button id='out'>Sign out</button></form>"
    )
    for button in ("job", "out"):
        page.goto(f"http://{host}:{port}/attack")
        with page.expect_response(lambda response: response.url.startswith(site)) as answer:
            page.locator(f"#{button}").click()
        assert answer.value.status in (401, 403, 415), (button, answer.value.status)  # refused, whichever way
        headers = answer.value.all_headers()
        assert all(name in headers for name in SECURITY_HEADERS)
    page.goto(f"{site}/jobs")
    expect(page.locator("#signout-form")).to_be_visible()  # still signed in
    assert job_count(page, site) == jobs_before  # and no job was made


def test_a_same_site_form_without_the_token_is_refused_with_the_reason(site, context, other_site):
    """127.0.0.1 on another port is the same site: SameSite=Lax sends the cookie, so the CSRF check must refuse."""
    port, pages = other_site
    page = context.new_page()
    sign_in(page, site, KEY, then="/jobs")
    pages["/signout-attack"] = (
        f"<!doctype html><title>Win</title><form method='post' action='{site}/signout'><button>Go</button></form>"
    )
    page.goto(f"http://127.0.0.1:{port}/signout-attack")
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()
    expect(page.locator("h1")).to_have_text("Error 403")
    expect(page.locator(".error")).to_contain_text("sent from another site")
    shot(page, f"signin-cross-site-refused-{context.width_name}")
    assert [cookie["name"] for cookie in context.cookies()] == [COOKIE_NAME]  # still signed in


def test_a_signed_in_browser_still_translates_without_javascript(site, browser):
    """Every form of the site carries the session's token: signing in must not break the plain-HTML forms."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], java_script_enabled=False)
    page = context.new_page()
    sign_in(page, site, KEY, then="/translation")
    page.get_by_label("Arabic text").fill("قال الرئيس إن الاقتصاد تحسن.")
    page.get_by_role("button", name="Translate").click()
    expect(page.locator("#translation tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signed-out")).to_be_visible()
    context.close()


def test_a_page_open_before_signing_out_elsewhere_says_so_and_keeps_the_file(site, context, tmp_path):
    upload = tmp_path / "late.jsonl"
    upload.write_text(json.dumps({"id": "late1", "body": "قال الوزير."}, ensure_ascii=False) + "\n", encoding="utf-8")
    ingest = context.new_page()
    sign_in(ingest, site, KEY, then="/ingest")
    other = context.new_page()
    other.goto(f"{site}/alerts")
    other.get_by_role("button", name="Sign out").click()
    ingest.get_by_label("File").set_input_files(str(upload))
    ingest.get_by_role("button", name="Submit job").click()
    expect(ingest.locator("#ingest-status")).to_contain_text("Not submitted")
    expect(ingest.locator("#ingest-status").get_by_role("link", name="Sign in again")).to_be_visible()
    assert ingest.get_by_label("File").evaluate("input => input.files.length") == 1  # the chosen file stays
