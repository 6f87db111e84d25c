"""The article, translate, ingest and jobs pages in a real browser (Debian's chromium, driven by Playwright), at
desktop (1440x900) and phone (390x844) sizes, against the real app and OpenSearch node."""

import json
import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from browsing import CHROMIUM, SECRET_KEY, expect, served, shot, sign_in

from service.ingest import ingest
from service.jobs.worker import Worker
from service.web import create_app
from service.web.article_view import safe_back
from service.web.services import services_of

KEY = "pages-key-0123456"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
LONG_URL = "https://example.org/news/" + "a1b2c3d4e5" * 16 + ".html?utm_source=share"  # no hyphen to break at
EN_TAG = "#CeasefireInGazaNowAndForTheLongRunAcrossTheWholeRegionAndBeyondItsBorders"
AR_TAG = "#وقف_إطلاق_النار_في_غزة_الآن_وعلى_المدى_الطويل_في_كل_المنطقة_وما_بعدها"
FILLER = [
    (f"وقالت المصادر إن الوضع هادئ في المنطقة رقم {n}.", f"Sources said the situation in area {n} is calm.")
    for n in range(30)
]
MATCHES = [
    ("أعلن الجيش وقف إطلاق النار والهدنة.", "The army announced a ceasefire and a truce."),
    (f"ونشر الرابط {LONG_URL} مع الوسم {AR_TAG}", f"He posted the ceasefire link {LONG_URL} and {EN_TAG}"),
    ("وقال المقاتلون إنهم سيلتزمون بوقف إطلاق النار.", "The fighters said they would respect the ceasefire."),
]
PAIRS = FILLER[:15] + MATCHES[:2] + FILLER[15:] + MATCHES[2:]
CURRENT = re.compile(r"\bcurrent-match\b")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")


def article(article_id: str, pairs, **fields) -> dict:
    """A pre-translated record; pairs end a paragraph after every tenth sentence."""
    lines = [" ".join(ar for ar, _ in pairs[i : i + 10]) for i in range(0, len(pairs), 10)]
    return {
        "id": article_id,
        "source": "BBC Arabic",
        "category": "middle_east",
        "date": "2018-03-01T09:00:00Z",
        "title": f"وقف إطلاق النار في غزة {AR_TAG}",
        "title_en": f"Ceasefire in Gaza {EN_TAG}",
        "url": LONG_URL,
        "body": "\n".join(lines),
        "sentences": [{"source": ar, "target": en} for ar, en in pairs],
        **fields,
    }


@pytest.fixture(scope="module")
def web_app(search_settings, alias, tmp_path_factory):
    jobs = tmp_path_factory.mktemp("pages-jobs") / "jobs.db"
    return create_app(
        replace(search_settings, opensearch_index=alias, api_keys=(KEY,), jobs_db=jobs, secret_key=SECRET_KEY)
    )


@pytest.fixture(scope="module")
def site(web_app, client, alias, translator):
    records = [
        (1, article("p1", PAIRS)),
        (2, article("machine1", PAIRS[:3], model="opus-mt-ar-en@1")),
    ]
    assert ingest(records, client, alias, pretranslated=True).indexed == 2
    demo = {"id": "demo1", "title": "خبر", "body": "قال الوزير إن المحادثات مستمرة."}
    assert ingest([(1, demo)], client, alias, translator).indexed == 1
    client.indices.refresh(index=alias)
    with served(web_app) as url:
        yield url


@pytest.fixture
def open_page(browser):
    """open_page(viewport) -> a new page of a new context; every context is closed after the test."""
    contexts = []

    def opened(viewport=DESKTOP, **options):
        context = browser.new_context(viewport=viewport, accept_downloads=True, **options)
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()


WIDER_THAN_THE_VIEWPORT = """() => [...document.querySelectorAll("body *")]
    .filter((e) => e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 1)
    .map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))"""
OVERFLOWING_CELLS = """() => [...document.querySelectorAll(".aligned td")]
    .filter((td) => td.scrollWidth > td.clientWidth + 1).map((td) => td.textContent.slice(0, 40))"""


def test_phone_article_fits_the_screen_and_shows_one_language_at_a_time(site, open_page):
    phone = open_page(PHONE)
    phone.goto(f"{site}/articles/p1")
    assert phone.evaluate(WIDER_THAN_THE_VIEWPORT) == []  # was 1,334 px wide with a long URL
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    url_row = phone.locator(".aligned tbody tr", has_text="He posted the ceasefire link")
    expect(url_row.locator("td.en")).to_be_visible()
    expect(url_row.locator("td.ar")).to_be_hidden()  # one language at a time
    shot(phone, "pages-article-phone-en")

    phone.get_by_role("button", name="العربية").click()
    expect(url_row.locator("td.ar")).to_be_visible()
    expect(url_row.locator("td.en")).to_be_hidden()
    assert phone.get_by_role("button", name="العربية").get_attribute("aria-pressed") == "true"
    cell = phone.locator(".aligned tbody tr").first.locator("td.ar")
    assert cell.bounding_box()["width"] > 0.8 * (PHONE["width"] - 32)  # not two words a line
    assert phone.evaluate(WIDER_THAN_THE_VIEWPORT) == []
    shot(phone, "pages-article-phone-ar")


def test_desktop_article_keeps_long_urls_and_hashtags_in_their_column(site, open_page):
    page = open_page(DESKTOP)
    page.goto(f"{site}/articles/p1")
    assert page.evaluate(OVERFLOWING_CELLS) == []
    assert page.evaluate(WIDER_THAN_THE_VIEWPORT) == []
    expect(page.locator(".language-toggle")).to_be_hidden()  # both columns side by side
    row = page.locator(".aligned tbody tr", has_text="He posted the ceasefire link")
    english, arabic = row.locator("td.en").bounding_box(), row.locator("td.ar").bounding_box()
    assert english["x"] + english["width"] <= arabic["x"] + 1
    shot(page, "pages-article-desktop")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_query_is_marked_on_both_sides_and_next_previous_move_between_matches(site, open_page, viewport):
    page = open_page(viewport)
    page.goto(f"{site}/articles/p1?q=ceasefire&back=%2F%3Fq%3Dceasefire%26source%3DBBC%2BArabic")
    matches = page.locator("tr.match")
    expect(matches).to_have_count(3)
    first = matches.nth(0)
    assert first.locator("td.en mark").first.inner_text().lower() == "ceasefire"
    assert "counterpart" in first.locator("td.ar").get_attribute("class")  # its Arabic is lit too
    expect(page.locator("h1")).to_be_in_viewport()  # the article opens at its title (issue 21 item 20)
    page.get_by_role("button", name="Next match").click()  # the first match: 15 sentences come before
    expect(first).to_have_class(CURRENT)
    expect(first).to_be_in_viewport()
    expect(page.locator("#match-count")).to_contain_text("Match 1 of 3")
    shot(page, f"pages-article-query-{viewport['width']}", full_page=False)

    page.get_by_role("button", name="Next match").click()
    expect(matches.nth(1)).to_have_class(CURRENT)
    expect(matches.nth(1)).to_be_in_viewport()
    page.get_by_role("button", name="Next match").click()
    page.get_by_role("button", name="Next match").click()  # past the last: the first again
    expect(first).to_have_class(CURRENT)
    page.get_by_role("button", name="Previous match").click()
    expect(matches.nth(2)).to_have_class(CURRENT)
    expect(page.locator("#match-count")).to_contain_text("Match 3 of 3")
    back = page.get_by_role("link", name="Back to results")
    assert back.get_attribute("href") == "/?q=ceasefire&source=BBC+Arabic"


def test_an_arabic_query_marks_the_arabic_and_lights_the_english(site, open_page):
    page = open_page(DESKTOP)
    page.goto(f"{site}/articles/p1?q=الهدنة")
    match = page.locator("tr.match")
    expect(match).to_have_count(1)
    assert match.locator("td.ar mark").count() >= 1
    assert "counterpart" in match.locator("td.en").get_attribute("class")
    assert (
        page.get_by_role("link", name="Back to results").get_attribute("href")
        == "/?q=%D8%A7%D9%84%D9%87%D8%AF%D9%86%D8%A9"
    )


@pytest.mark.parametrize(
    "back",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "javascript:alert(1)", " /x"],
)
def test_back_is_a_path_on_this_site_or_the_fallback(back):
    assert safe_back(back, "/?q=x") == "/?q=x"


def test_back_keeps_a_path_on_this_site():
    assert safe_back("/?q=a&page=2", "/") == "/?q=a&page=2"
    assert safe_back(None, "/") == "/" and safe_back("", None) is None


def test_an_outside_back_link_is_never_followed(site, open_page):
    page = open_page(DESKTOP)
    page.goto(f"{site}/articles/p1?q=truce&back=//evil.example/")
    assert page.get_by_role("link", name="Back to results").get_attribute("href") == "/?q=truce"
    page.goto(f"{site}/articles/p1?back=https://evil.example/")
    assert page.get_by_role("link", name="Back to results").count() == 0


def test_query_text_is_never_markup_and_a_bad_query_still_shows_the_article(site, open_page):
    page = open_page(DESKTOP)
    page.goto(f"{site}/articles/p1?q=%3Cimg%20src%3Dx%3E%20ceasefire")
    expect(page.locator("#match-count")).to_contain_text("<img src=x> ceasefire")
    assert page.locator("main img").count() == 0
    page.goto(f"{site}/articles/p1?q=%22unclosed")
    expect(page.locator("#query-error")).to_contain_text("a quotation mark is not closed")
    expect(page.locator(".aligned tbody tr")).to_have_count(len(PAIRS))


def test_reading_view_is_english_paragraphs_with_the_original_a_click_away_and_prints_plainly(site, open_page):
    page = open_page(DESKTOP)
    page.goto(f"{site}/articles/p1")
    page.get_by_role("link", name="Reading view").click()
    paragraphs = page.locator(".reading-text .paragraph")
    expect(paragraphs).to_have_count(4)  # 33 sentences, ten a line in the body
    assert page.locator(".aligned").count() == 0
    first = paragraphs.nth(0)
    assert first.locator("p.en").inner_text().startswith("Sources said the situation in area 0 is calm.")
    expect(first.locator("p.ar")).to_be_hidden()
    first.get_by_text("Arabic original").click()
    expect(first.locator("p.ar")).to_be_visible()
    shot(page, "pages-reading")
    page.emulate_media(media="print")
    for chrome in (".top", ".article-tools", ".downloads"):
        expect(page.locator(chrome)).to_be_hidden()
    expect(first.locator("p.en")).to_be_visible()
    shot(page, "pages-reading-print")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Side by side with the Arabic").click()
    expect(page.locator(".aligned")).to_be_visible()


def test_each_article_says_where_its_english_comes_from(site, open_page):
    page = open_page(DESKTOP)
    for article_id, label in (
        ("p1", "Human translation"),
        ("machine1", "Machine translation (opus-mt-ar-en@1)"),
        ("demo1", "Demo model: random weights, this English is noise"),
    ):
        page.goto(f"{site}/articles/{article_id}")
        expect(page.locator("#provenance")).to_have_text(label)
        assert page.locator("#demo-banner").count() == 0  # no claim about every article
    page.goto(f"{site}/articles/p1")
    shot(page, "pages-provenance-human", full_page=False)


def test_exports_download_with_source_date_and_url(site, open_page):
    page = open_page(DESKTOP)
    page.goto(f"{site}/articles/p1")
    for name, extension in (("JSON", "json"), ("TSV", "tsv"), ("TMX", "tmx")):
        href = page.get_by_role("link", name=name, exact=True).get_attribute("href")
        answer = page.request.get(site + href)
        assert answer.headers["content-disposition"] == f'attachment; filename="p1.{extension}"', name
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="JSON", exact=True).click()
    assert json.loads(Path(downloaded.value.path()).read_text(encoding="utf-8"))["id"] == "p1"
    tsv = page.request.get(f"{site}/api/v1/articles/p1?format=tsv").text().splitlines()
    assert tsv[0].split("\t") == ["position", "field", "paragraph", "score", "ar", "en", "source", "published", "url"]
    assert tsv[1].split("\t")[6:] == ["BBC Arabic", "2018-03-01T09:00:00+00:00", LONG_URL]
    plain = page.request.get(f"{site}/api/v1/articles/p1")  # the API's own JSON is unchanged
    assert "content-disposition" not in plain.headers and plain.json()["id"] == "p1"


TWO_PARAGRAPHS = "قال الرئيس إن الاقتصاد تحسن. وأضاف أن الحكومة ستعمل.\n\nوفي سياق آخر، أعلن الوزير خطة جديدة."


def test_translate_page_keeps_paragraphs_copies_and_downloads(site, open_page):
    page = open_page(DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    page.goto(f"{site}/translation")
    page.get_by_label("Arabic text").fill(TWO_PARAGRAPHS)
    with page.expect_navigation():  # waits for the stylesheets too: the widths below are measured
        page.get_by_role("button", name="Translate").click()
    expect(page.locator("#translation-text p")).to_have_count(2)  # the input's paragraph break is kept
    table = page.locator("#translation").bounding_box()
    confidence = page.locator("#translation td.confidence").first.bounding_box()
    assert confidence["width"] < 0.1 * table["width"]  # was a third of the page
    assert page.locator("#translation tr.new-paragraph").count() == 1
    page.get_by_role("button", name="Copy English").click()
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert len(copied.strip().split("\n\n")) == 2
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download (.txt)").click()
    assert Path(downloaded.value.path()).read_text(encoding="utf-8") == copied
    shot(page, "pages-translate-desktop")


def test_translate_page_on_a_phone_is_not_one_word_a_line(site, open_page):
    phone = open_page(PHONE)
    phone.goto(f"{site}/translation")
    phone.get_by_label("Arabic text").fill(TWO_PARAGRAPHS)
    with phone.expect_navigation():
        phone.get_by_role("button", name="Translate").click()
    english = phone.locator("#translation td.en").first
    expect(english).to_be_visible()
    assert english.bounding_box()["width"] > 0.8 * (PHONE["width"] - 32)
    assert phone.evaluate(WIDER_THAN_THE_VIEWPORT) == []
    shot(phone, "pages-translate-phone")


def test_jobs_are_told_apart_start_visibly_and_show_their_errors(site, web_app, open_page, translator, tmp_path):
    upload = tmp_path / "gaza-wires.jsonl"
    lines = [
        json.dumps({"id": "wire0", "title": "خبر", "body": "قال الوزير إن المحادثات مستمرة."}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "wire2", "title": "خبر آخر", "body": "وأضاف أن الحكومة ستعمل."}, ensure_ascii=False),
    ]
    upload.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = open_page(DESKTOP)
    sign_in(page, site, KEY, then="/ingest")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_role("button", name="Submit job").click()

    job = page.locator(".job.highlight")
    expect(job.locator(".name")).to_have_text("gaza-wires.jsonl")
    expect(job.locator(".key")).to_have_text("…" + KEY[-4:])
    assert job.locator(".submitted").inner_text().strip() != ""
    # one line failed at once, so the bar moves: figures, not "Starting…" beside it (issue 21 item 16)
    expect(job.locator(".figures")).to_be_visible()
    expect(job.locator(".starting")).to_be_hidden()
    expect(job.locator(".job-errors li")).to_have_text([re.compile(r"^Line 2: invalid JSON")], timeout=15_000)
    shot(page, "pages-jobs-starting")

    services = services_of(web_app)
    Worker(services.job_store, translator, services.client, services.alias).run(threading.Event(), until_idle=True)
    expect(job.locator(".state")).to_have_text("done", timeout=15_000)
    expect(job.locator(".figures")).to_be_visible()
    expect(job.locator(".job-articles a")).to_have_count(2, timeout=15_000)
    assert job.locator(".job-articles a").first.get_attribute("href") == "/articles/wire0"
    shot(page, "pages-jobs-done")


def test_cancelling_jobs_never_asks_for_the_key_again(site, open_page):
    page = open_page(DESKTOP)
    sign_in(page, site, KEY, then="/jobs")
    for n in range(2):  # two jobs of this key, submitted elsewhere
        answer = page.request.post(
            f"{site}/api/v1/jobs",
            data=json.dumps([f"نص للإلغاء {n}"]),
            headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        )
        assert answer.status == 202
    page.reload()
    queued = page.locator(".job[data-state=queued]")
    expect(queued).to_have_count(2)
    queued.first.get_by_role("button", name="Cancel…").click()
    queued.first.get_by_role("button", name="Cancel the job").click()  # cancel asks first
    expect(queued).to_have_count(1)
    page.reload()  # still signed in
    queued.first.get_by_role("button", name="Cancel…").click()
    queued.first.get_by_role("button", name="Cancel the job").click()
    expect(queued).to_have_count(0)
    expect(page.locator(".job[data-state=cancelled]")).to_have_count(2)
    expect(page.locator("#signin-needed")).to_have_count(0)  # signed in once, never asked again
