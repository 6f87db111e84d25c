"""Issue 21's reading pages in a real browser (Debian's chromium), at 1440x900 and 390x844: the outage page (item 8),
the translate page (9), English originals (10), mixed directions (11), phone widths (12, 20), the article page and
printing (21), and the navigation (24). The outage and translate pages run on the offline app; the rest on the
real app and OpenSearch node."""

from dataclasses import replace

import pytest
from browsing import CHROMIUM, expect, served
from browsing import shot as keep_shot
from test_ui_accessibility import axe_violations

from service.ingest import ingest
from service.web import create_app

KEY = "reading-key-0123456"
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
PHONE = VIEWPORTS["phone"]
PARAGRAPHS = [
    [
        ("أعلن الجيش وقف إطلاق النار في غزة.", "The army announced a ceasefire in Gaza."),
        ("وقال المتحدث إن الهدنة تبدأ الليلة.", "The spokesman said the truce starts tonight."),
    ],
    [("ورحبت الأمم المتحدة بالقرار.", "The United Nations welcomed the decision.")],
    [("وقال السكان إنهم ينتظرون الهدوء.", "Residents said they were waiting for calm.")],
]
LONG_QUERY = "ceasefire" + "x" * 300  # one unbroken word, as a pasted URL or hashtag
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")


def article(article_id: str, source: str = "BBC Arabic") -> dict:
    """A pre-translated record of three paragraphs (the tiny model's noise plays no part)."""
    return {
        "id": article_id,
        "source": source,
        "category": "middle_east",
        "date": "2018-03-01T09:00:00Z",
        "title": "وقف إطلاق النار في غزة",
        "title_en": "Ceasefire in Gaza",
        "body": "\n".join(" ".join(ar for ar, _ in paragraph) for paragraph in PARAGRAPHS),
        "sentences": [{"source": ar, "target": en} for paragraph in PARAGRAPHS for ar, en in paragraph],
    }


ENGLISH = {
    "id": "en1",
    "source": "Wire",
    "date": "2018-03-02T09:00:00Z",
    "title": "Markets rally after the truce",
    "body": "Stocks rose on Monday after the truce was announced.\nBonds fell as investors bought shares.",
}


@pytest.fixture(scope="module")
def web_app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,)))


@pytest.fixture(scope="module")
def site(web_app, client, alias, translator):
    records = [(1, article("r1")), (2, article("r1-copy", source="الجزيرة"))]  # one story, two outlets
    assert ingest(records, client, alias, pretranslated=True).indexed == 2
    assert ingest([(1, ENGLISH)], client, alias, translator).indexed == 1
    client.indices.refresh(index=alias)
    with served(web_app) as url:
        yield url


@pytest.fixture
def offline_site(make_offline_app):
    with served(make_offline_app(api_keys=(KEY,), max_request_chars=2000)) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def tab(browser, request):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    page = context.new_page()
    page.width_name = request.param
    yield page
    context.close()


def shot(tab, name: str) -> None:
    keep_shot(tab, f"reading/{name}-{tab.width_name}")


NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


# Item 8: an outage


def test_an_outage_keeps_the_query_offers_a_retry_and_says_translate_works(offline_site, tab):
    response = tab.goto(f"{offline_site}/?q=ceasefire+%D8%BA%D8%B2%D8%A9")
    assert response.status == 503
    shot(tab, "outage-search")
    expect(tab.locator("#q")).to_have_value("ceasefire غزة")  # the query stays in its form
    main = tab.locator("main")
    expect(main).to_contain_text("Search is down for a moment")
    assert "cluster" not in main.inner_text().lower()
    retry = tab.get_by_role("link", name="Try this search again")
    assert "q=ceasefire" in retry.get_attribute("href")
    expect(tab.locator("#translate-still-works").get_by_role("link", name="Translate")).to_be_visible()
    assert axe_violations(tab) == []

    tab.goto(f"{offline_site}/")  # the home page says the same, not "searching may still work"
    shot(tab, "outage-home")
    expect(tab.locator("#collection-figures")).to_contain_text("Search is down for a moment")
    expect(tab.locator("#collection-figures").get_by_role("link", name="Translate")).to_be_visible()


def test_an_outage_on_another_page_offers_a_retry(offline_site, tab):
    response = tab.goto(f"{offline_site}/articles/some-article")
    assert response.status == 503
    expect(tab.locator("h1")).to_have_text("Down for a moment")
    assert tab.get_by_role("link", name="Try again").get_attribute("href") == "/articles/some-article"
    assert "cluster" not in tab.locator("main").inner_text().lower()


# Item 9: the translate page


def test_translate_keeps_english_lines_runs_each_text_its_own_way_and_shows_the_result(offline_site, tab):
    tab.goto(f"{offline_site}/translation")
    shot(tab, "translate-empty")
    text = tab.locator("#text")
    assert text.get_attribute("dir") == "auto"
    quote = "Reuters: (the talks resume on Monday)."
    arabic = "قال الوزير إن المحادثات مستمرة في العاصمة. وأضاف أن الوفدين سيلتقيان مرة أخرى الأسبوع المقبل."
    text.fill(f"{arabic}\n{quote}")
    tab.get_by_role("button", name="Translate").click()
    output = tab.locator("#translation-output")
    expect(output).to_be_in_viewport()  # on a phone it started below the fold
    shot(tab, "translate-result")
    kept = tab.locator("#translation tr.kept")
    expect(kept).to_have_count(1)
    expect(kept.locator("td.en")).to_have_text(quote)  # not through the Arabic model
    assert kept.locator("td.ar").get_attribute("dir") == "ltr"  # English punctuation not flipped
    expect(tab.locator("#kept-note")).to_contain_text("1 sentence in English kept as it is")
    paragraphs = tab.locator("#translation-text p")
    assert all(paragraph.get_attribute("dir") == "auto" for paragraph in paragraphs.all())
    assert tab.evaluate(NO_SIDEWAYS_SCROLL)
    assert axe_violations(tab) == []


def test_the_translate_limit_is_said_in_words(offline_site, tab):
    tab.goto(f"{offline_site}/translation")
    tab.locator("#text").fill("ا" * 2500)
    tab.get_by_role("button", name="Translate").click()
    expect(tab.locator("#translate-error")).to_have_text(
        "The text is too long: at most 2,000 characters; yours has 2,500."
    )
    shot(tab, "translate-too-long")


# Items 10, 11, 21: the article page


def test_an_english_original_shows_its_english_once(site, tab):
    tab.goto(f"{site}/articles/en1")
    shot(tab, "article-english-original")
    expect(tab.locator("table.aligned td.ar")).to_have_count(0)
    expect(tab.locator(".title-ar")).to_have_count(0)
    assert tab.locator("main [dir='rtl']").count() == 0
    assert tab.locator("main").inner_text().count("Stocks rose on Monday") == 1
    expect(tab.locator("#article-meta")).to_contain_text("English (detected,")
    assert axe_violations(tab) == []


def test_the_article_page_says_its_language_keeps_paragraphs_and_links_its_story(site, tab):
    tab.goto(f"{site}/articles/r1")
    shot(tab, "article")
    meta = tab.locator("#article-meta")
    expect(meta).to_contain_text("Arabic (detected, 100%)")
    expect(meta).not_to_contain_text("language ar")
    expect(tab.locator("table.aligned tr.new-paragraph")).to_have_count(len(PARAGRAPHS) - 1)
    story = tab.locator("#story-link")
    expect(story).to_have_text("Its story: all 2 versions")
    story.click()
    expect(tab.locator("#story-versions li")).to_have_count(2)


def test_one_match_has_no_previous_or_next_and_the_title_stays_in_view(site, tab):
    tab.goto(f"{site}/articles/r1?q=%D8%A7%D9%84%D9%87%D8%AF%D9%86%D8%A9")  # الهدنة: one sentence
    expect(tab.locator("tr.match")).to_have_count(1)
    expect(tab.locator("#match-count")).not_to_contain_text("Match 1 of 1")
    expect(tab.get_by_role("button", name="Next match")).to_have_count(0)
    expect(tab.locator("h1")).to_be_in_viewport()
    query = tab.locator("#match-count bdi")  # the Arabic query isolated inside its quotation marks
    expect(query).to_have_text("الهدنة")


def test_a_source_named_in_arabic_is_isolated_in_the_meta_line(site, tab):
    tab.goto(f"{site}/articles/r1-copy")
    expect(tab.locator("#article-meta bdi").first).to_have_text("الجزيرة")


def test_printing_the_reading_view_prints_every_original_and_no_chrome(site, tab):
    tab.goto(f"{site}/articles/r1?view=reading")
    tab.emulate_media(media="print")
    expect(tab.locator(".top")).to_be_hidden()
    originals = tab.locator(".reading-text .original p.ar")
    expect(originals).to_have_count(len(PARAGRAPHS))
    for original in originals.all():
        expect(original).to_be_visible()  # closed on screen, printed all the same
    tab.goto(f"{site}/?q=ceasefire")
    tab.emulate_media(media="print")
    expect(tab.locator(".top")).to_be_hidden()
    expect(tab.locator("#search-form")).to_be_hidden()
    expect(tab.locator(".hits")).to_be_visible()
    tab.emulate_media(media="screen")
    tab.goto(f"{site}/articles/r1")
    tab.locator("#story-link").click()
    expect(tab.locator("#story-versions li")).to_have_count(2)
    tab.emulate_media(media="print")
    expect(tab.locator(".top")).to_be_hidden()


# Items 12, 20, 24: phone widths and the navigation


def test_a_long_unbroken_query_does_not_push_the_page_sideways(site, tab):
    tab.goto(f"{site}/?q={LONG_QUERY}")
    shot(tab, "search-long-query")
    assert tab.evaluate(NO_SIDEWAYS_SCROLL)


def test_the_navigation_keeps_analyst_pages_apart_from_the_admin_pages(site, tab):
    tab.goto(f"{site}/")
    navigation = tab.get_by_role("navigation", name="Main")
    pages = navigation.get_by_role("list", name="Analyst")
    tools = navigation.get_by_role("list", name="Admin")
    assert [link.inner_text() for link in pages.get_by_role("link").all()] == ["Search", "Alerts", "Translate"]
    assert [link.inner_text() for link in tools.get_by_role("link").all()] == ["Ingest", "Jobs", "API"]
    links = navigation.get_by_role("link").all()
    tops = [link.bounding_box()["y"] for link in links if link.is_visible()]
    assert max(tops) - min(tops) < 12  # one row, on a phone too (a second would start a line lower)


def test_on_a_phone_the_first_result_is_in_the_first_screen_and_the_banner_can_be_hidden(site, browser):
    context = browser.new_context(viewport=PHONE)
    phone = context.new_page()
    phone.goto(f"{site}/?q=ceasefire")
    banner = phone.locator("#demo-banner")
    expect(banner).to_be_visible()  # the session's model is a demo
    keep_shot(phone, "reading/search-first-screen-phone", full_page=False)
    first = phone.locator(".hits .hit").first
    assert first.bounding_box()["y"] < PHONE["height"] - 80, "the first result starts below the first screen"
    placeholder_fits = """(input) => { const canvas = document.createElement("canvas").getContext("2d");
        canvas.font = getComputedStyle(input).font;
        return canvas.measureText(input.placeholder).width <= input.clientWidth; }"""
    assert phone.locator("#q").evaluate(placeholder_fits)

    phone.get_by_role("button", name="Hide the demo model notice").click()
    expect(phone.locator("#demo-banner")).to_have_count(0)
    expect(phone.locator("#q")).to_have_value("ceasefire")  # back on the same page
    phone.goto(f"{site}/translation")
    expect(phone.locator("#demo-banner")).to_have_count(0)  # remembered in this browser
    context.close()


def test_alert_names_queries_and_outlets_are_isolated_from_the_english_around_them(make_offline_app):
    """Item 11 on the alerts page, whose rows its script fills: "25 · غزة new since your last visit" read backwards
    with the name not isolated, and <q dir="auto"> turned its quotation marks around an Arabic query."""
    page = make_offline_app().test_client().get("/alerts").get_data(as_text=True)
    assert '<bdi class="name"></bdi> <span class="new-count">' in page
    assert '“<bdi class="query"></bdi>”' in page and '<bdi class="outlets">' in page
