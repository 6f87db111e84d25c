"""The analyst UI in a real browser (Debian's chromium, driven by Playwright) against the real app and node."""

import json
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from browsing import CHROMIUM, SECRET_KEY, expect, served, shot, sign_in

from service.ingest import ingest
from service.jobs.worker import Worker
from service.web import create_app
from service.web.services import services_of

KEY = "browser-key-0123"
LIMITED_KEY, OTHER_KEY = "browser-limited-key-1", "browser-other-key-22"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")

PAIRS = [
    ("أعلن الجيش وقف إطلاق النار.", "The army announced a ceasefire."),
    ("وقال المقاتلون إنهم سيلتزمون بالهدنة.", "The fighters said they would respect the truce."),
    ("وأكدت الحكومة أن المفاوضات مستمرة.", "The government confirmed that negotiations continue."),
]


@pytest.fixture(scope="module")
def web_app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), secret_key=SECRET_KEY))


@pytest.fixture(scope="module")
def site(web_app, client, alias):
    record = {
        "id": "b1",
        "source": "BBC Arabic",
        "category": "middle_east",
        "date": "2018-03-01T09:00:00Z",
        "title": "وقف إطلاق النار في غزة",
        "title_en": "Ceasefire in Gaza",
        "url": "https://example.org/b1",
        "body": " ".join(ar for ar, _ in PAIRS),
        "sentences": [{"source": a, "target": e} for a, e in PAIRS],
    }
    assert ingest([(1, record)], client, alias, pretranslated=True).indexed == 1
    client.indices.refresh(index=alias)
    with served(web_app) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def test_search_open_article_and_see_the_aligned_highlight(site, page):
    page.goto(site)
    page.get_by_label("Search Arabic news in English or Arabic").fill("ceasefire")
    page.get_by_role("button", name="Search").click()
    assert page.locator("#result-count").inner_text().startswith("1 article")
    assert page.locator(".hit .sentence mark").first.inner_text() == "ceasefire"
    # after its label for screen readers ("Arabic original, the match's counterpart:")
    assert page.locator(".hit .sentence .ar").first.inner_text().endswith(PAIRS[0][0])
    assert page.locator("#demo-banner").is_visible()  # the session's model is the generated one
    shot(page, "search")

    page.get_by_role("link", name="Ceasefire in Gaza").click()
    assert page.locator("h1").inner_text() == "Ceasefire in Gaza"
    row = page.locator(".aligned tbody tr").nth(1)
    row.locator("td.en").hover()
    assert "active" in row.get_attribute("class")
    assert row.locator("td.ar").inner_text().endswith(PAIRS[1][0])  # after "Arabic original:", for screen readers
    assert row.locator("td.ar").get_attribute("dir") == "rtl"
    page.keyboard.press("Tab")  # keyboard users move through the sentences too
    shot(page, "article")
    assert page.get_by_role("link", name="TMX").get_attribute("href").endswith("format=tmx")


def test_translate_page_gives_sentences_with_confidence(site, page):
    page.goto(f"{site}/translation")
    page.get_by_label("Arabic text").fill("قال الرئيس إن الاقتصاد تحسن. وأضاف أن الحكومة ستعمل.")
    with page.expect_navigation():  # the whole answer page, before its rows are counted
        page.get_by_role("button", name="Translate").click()
    rows = page.locator("#translation tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td.ar").inner_text() == "قال الرئيس إن الاقتصاد تحسن."
    assert rows.nth(0).locator("td.confidence").inner_text().endswith("%")
    shot(page, "translate")


def test_errors_are_shown_clearly(site, page):
    page.goto(site)
    page.get_by_label("Search Arabic news in English or Arabic").fill('"unclosed')
    page.get_by_role("button", name="Search").click()
    assert page.locator("#search-error").inner_text().startswith('A quotation mark is not closed: “"” at character 1')
    shot(page, "error")
    page.goto(f"{site}/articles/no-such-article")
    assert page.locator("h1").inner_text() == "Error 404"


def test_empty_state_and_tablet_layout(site, browser):
    context = browser.new_context(viewport={"width": 800, "height": 1100})
    tablet = context.new_page()
    tablet.goto(f"{site}/?q=xylophone")
    assert tablet.locator("#empty-state").is_visible()
    shot(tablet, "empty-tablet")
    context.close()


def test_ingest_upload_becomes_a_job_with_live_progress(site, web_app, page, translator, tmp_path):
    upload = tmp_path / "two.jsonl"
    upload.write_text(
        "\n".join(
            json.dumps({"id": f"up{i}", "body": f"قال الوزير إن المحادثات مستمرة {i}."}, ensure_ascii=False)
            for i in range(2)
        )
        + "\n",
        encoding="utf-8",
    )
    sign_in(page, site, KEY, then="/ingest")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Submit job").click()
    job = page.locator(".job.highlight")
    assert job.locator(".state").inner_text() == "queued" and job.locator(".total").inner_text() == "2"
    services = services_of(web_app)
    Worker(services.job_store, translator, services.client, services.alias).run(threading.Event(), until_idle=True)
    expect(job.locator(".state")).to_have_text("done", timeout=15_000)  # the page's own polling updates it
    assert job.locator(".done").inner_text() == "2"
    assert not job.locator(".cancel").is_visible()  # nothing left to cancel
    with page.expect_download() as downloaded:  # a plain link cannot send the key: the script fetches the file
        job.get_by_role("link", name="Results (JSONL)").click()
    results = Path(downloaded.value.path()).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in results] == ["up0", "up1"]
    shot(page, "jobs")


def test_pages_work_under_the_content_security_policy(site, page, client, alias):
    stored = client.get(index=alias, id="b1")["_source"]
    client.index(
        index=alias,
        id="b-evil",
        body=dict(stored, id="b-evil", url=" JavaScript:alert(document.domain)"),
        refresh="true",
    )
    blocked, dialogs = [], []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path in ("/", "/?q=ceasefire", "/articles/b1", "/translation", "/ingest", "/jobs", "/api/v1/docs"):
        response = page.goto(f"{site}{path}")
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and response.headers.get("x-frame-options") == "DENY", path
    page.goto(f"{site}/articles/b1")
    row = page.locator(".aligned tbody tr").nth(1)
    row.locator("td.en").hover()
    assert "active" in row.get_attribute("class")  # /static/app.js runs under the policy
    assert page.get_by_role("link", name="original").get_attribute("href") == "https://example.org/b1"
    page.goto(f"{site}/articles/b-evil")
    assert page.get_by_role("link", name="original").count() == 0  # a stored script URL is never a link
    assert blocked == [] and dialogs == []


@pytest.fixture
def limited_site(search_settings, alias, tmp_path):
    """A server of its own whose rate limit a test can use up in a few seconds."""
    app = create_app(
        replace(
            search_settings,
            opensearch_index=alias,
            api_keys=(LIMITED_KEY, OTHER_KEY),
            jobs_db=tmp_path / "jobs.db",
            rate_limit="5 per 4 second",
            secret_key=SECRET_KEY,
        )
    )
    with served(app) as url:
        yield app, url


def list_status(site, key):
    request = urllib.request.Request(f"{site}/api/v1/jobs", headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_jobs_page_keeps_updating_after_a_429_and_shows_only_its_keys_jobs(limited_site, browser, translator, tmp_path):
    app, site = limited_site
    upload = tmp_path / "three.jsonl"
    upload.write_text(
        "\n".join(
            json.dumps({"id": f"rl{i}", "body": f"قال الوزير إن المحادثات مستمرة {i}."}, ensure_ascii=False)
            for i in range(3)
        )
        + "\n",
        encoding="utf-8",
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, site, LIMITED_KEY, then="/ingest")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Submit job").click()
    job = page.locator(".job.highlight")  # listed with the key this browser signed in with
    expect(job.locator(".state")).to_have_text("queued")
    assert job.locator(".total").inner_text() == "3"

    hammering = threading.Event()

    def use_up_the_limit():  # the same key from elsewhere, so the page's own polls meet 429s
        while not hammering.wait(0.1):
            list_status(site, LIMITED_KEY)

    hammer = threading.Thread(target=use_up_the_limit, daemon=True)
    hammer.start()
    try:
        expect(page.locator("#jobs-message")).to_contain_text("Too many requests", timeout=30_000)
    finally:
        hammering.set()
        hammer.join(10)
    assert job.locator(".total").inner_text() == "3"  # the last values stay
    shot(page, "jobs-rate-limited")

    services = services_of(app)
    Worker(services.job_store, translator, services.client, services.alias).run(threading.Event(), until_idle=True)
    expect(job.locator(".state")).to_have_text("done", timeout=30_000)  # today: app.js threw on the 429 body
    assert job.locator(".done").inner_text() == "3" and page.locator("#jobs-message").inner_text() == ""
    context.close()

    stranger = browser.new_context().new_page()  # another browser, signed in with another key
    sign_in(stranger, site, OTHER_KEY, then="/jobs")
    expect(stranger.locator("#jobs-empty")).to_be_visible()
    assert stranger.locator(".job").count() == 0 and stranger.locator("#signin-needed").count() == 0
    stranger.context.close()
