"""The search page's evidence, filters, browsing, errors and empty pages (issue 21 items 3, 5, 15 and 23), in
Debian's chromium at desktop and phone widths, over test_ui_search's corpus: one story in four outlets' versions,
two single ceasefire articles, and an article ("Talks") whose title alone says talks."""

import csv
import io
import re
from pathlib import Path

import pytest
from browsing import expect, served, tab_at
from test_ui_search import DESKTOP, PHONE, corpus, web_app  # noqa: F401 (fixtures)

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture(scope="module")
def site(web_app):  # noqa: F811
    with served(web_app) as url:
        yield url


@pytest.fixture(params=list(WIDTHS))
def page(browser, request):
    with tab_at(browser, request.param, WIDTHS[request.param]) as tab:
        yield tab


def open_filters(page):
    """Over results the filters fold away under their summary until opened (on a phone, and since item 18 on a desktop)."""
    if page.locator("#filter-panel").get_attribute("open") is None:
        page.locator("#filter-panel summary").click()


def hit(page, doc_id):
    return page.locator(f'.hit[data-id="{doc_id}"]')


# Item 3: evidence


def test_titles_are_highlighted_and_a_title_only_match_says_so(site, page):
    page.goto(f"{site}/?q=talks")
    talks = hit(page, "m-army")
    assert talks.locator("h2 mark").all_inner_texts() == ["Talks"]
    expect(talks.locator(".title-only")).to_contain_text("Matched in the title only")
    page.goto(f"{site}/?q=ceasefire")
    story = page.locator(".hit").filter(has=page.locator(".story-link"))
    assert story.locator("h2 mark").all_inner_texts() == ["Ceasefire"]
    assert story.locator(".title-only").count() == 0  # its sentences matched too
    page.goto(f"{site}/?q=المدينة")
    assert "المدينة" in page.locator(".hit .title-ar mark").first.inner_text()  # the Arabic title in Arabic


def test_every_matched_pair_is_reachable_and_links_to_its_place_in_the_article(site, page):
    page.goto(f"{site}/?q=city OR army OR truce")
    story = page.locator(".hit").filter(has=page.locator(".story-link"))
    visible = story.locator(".sentence:visible")
    expect(visible).to_have_count(2)
    more = story.locator(".more-pairs summary")
    expect(more).to_have_text(re.compile(r"^\+(\d+) more matching sentences?$"))
    extra = int(re.search(r"\d+", more.inner_text()).group())
    more.click()
    expect(story.locator(".sentence:visible")).to_have_count(2 + extra)
    last = story.locator(".sentence").last
    position = last.get_attribute("data-position")
    link = last.locator("a.in-article")
    assert link.get_attribute("href").endswith(f"#s-{position}")
    link.click()
    expect(page).to_have_url(re.compile(rf"/articles/st-[a-z]+\?.*#s-{position}$"))
    target = page.locator(f"#s-{position}")
    expect(target).to_be_in_viewport()
    expect(target.locator("mark").first).to_be_visible()  # the query's words are marked there too


# Item 5: filters


def facet_values(page, name):
    return [box.get_attribute("value") for box in page.locator(f"#facet-{name} input[type=checkbox]").all()]


def test_facet_values_keep_their_place_stay_at_zero_and_the_ticked_box_keeps_the_focus(site, page):
    page.goto(f"{site}/?q=ceasefire")
    open_filters(page)
    sources, categories = facet_values(page, "source"), facet_values(page, "category")
    asharq = page.locator("#facet-source .facet-value", has_text="Asharq Al-Awsat")  # no ceasefire there
    expect(asharq).to_have_class(re.compile(r"\bfacet-empty\b"))
    expect(asharq.locator(".facet-count")).to_have_text("(0)")
    with page.expect_navigation():
        page.get_by_role("checkbox", name=re.compile("^CNN Arabic")).check()
    expect(page).to_have_url(re.compile(r"source=CNN\+Arabic"))
    assert facet_values(page, "source") == sources and facet_values(page, "category") == categories
    world = page.locator("#facet-category .facet-value", has_text="World")  # July's, in BBC Arabic only
    expect(world.locator(".facet-count")).to_have_text("(0)")
    assert "focus=" not in page.url  # the focus request is not kept in the page's address
    ticked = page.get_by_role("checkbox", name=re.compile("^CNN Arabic"))
    expect(ticked).to_be_focused()  # autofocus lands after load: waited for, not raced
    expect(ticked).to_be_checked()


def test_without_scripts_the_apply_button_keeps_the_focus(site, browser):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    tab = context.new_page()
    tab.goto(f"{site}/?q=ceasefire")
    tab.locator("#filter-panel summary").click()  # a details element: it opens without scripts
    tab.get_by_role("checkbox", name=re.compile("^CNN Arabic")).check()
    tab.get_by_role("button", name="Apply filters").click()
    expect(tab).to_have_url(re.compile(r"source=CNN\+Arabic"))
    expect(tab.locator("#apply-filters")).to_be_focused()  # autofocus lands after load: waited for, not raced
    context.close()


def test_filters_in_use_are_chips_with_a_clear_all_on_every_width(site, page):
    page.goto(f"{site}/?q=ceasefire&source=BBC+Arabic&category=world&from=2018-06")
    chips = page.locator("#active-filters .chip")
    expect(chips).to_have_text(
        [re.compile(f"{chip} ×$") for chip in ("Source: BBC Arabic", "Category: World", "From: 2018-06")]
    )
    expect(chips.first).to_be_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="Remove the filter Category: World").click()
    assert "category=" not in page.url and "source=BBC+Arabic" in page.url
    with page.expect_navigation():
        page.locator("#clear-filters").click()
    expect(page).to_have_url(re.compile(r"/\?q=ceasefire$"))
    assert page.locator("#active-filters").count() == 0


def test_a_source_is_browsed_without_a_query_newest_first(site, page):
    page.goto(f"{site}/?q=&source=BBC+Arabic")
    expect(page.locator("#result-count")).to_contain_text("2 articles in 2 stories, newest first")
    assert [h.get_attribute("data-id") for h in page.locator(".hit").all()] == ["jul", "st-bbc"]
    open_filters(page)
    expect(page.get_by_label("Sort")).to_have_value("date")
    with page.expect_navigation():  # another source, still without a query
        page.get_by_role("checkbox", name=re.compile("^CNN Arabic")).check()
    expect(page.locator("#result-count")).to_contain_text("4 articles")


def test_a_listing_without_a_query_downloads_as_csv_every_article_under_its_filters(site, page):
    page.goto(f"{site}/?q=&source=BBC+Arabic&collapse=false")
    link = page.locator("#export-csv")  # main: no CSV without a query
    expect(link).to_have_text("Download all 2 as CSV")
    with page.expect_download() as downloaded:
        link.click()
    assert re.fullmatch(r"articles-BBC-Arabic-\d{4}-\d\d-\d\d\.csv", downloaded.value.suggested_filename)
    rows = list(csv.DictReader(io.StringIO(Path(downloaded.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(row["id"], row["source"]) for row in rows] == [("jul", "BBC Arabic"), ("st-bbc", "BBC Arabic")]


def test_the_language_menu_says_it_is_the_querys_language(site, page):
    page.goto(f"{site}/?q=ceasefire")
    open_filters(page)
    menu = page.get_by_label("Query language")
    expect(menu.locator("option:checked")).to_have_text("Detect")
    hint = page.locator(f"#{menu.get_attribute('aria-describedby')}")
    expect(hint).to_have_text(re.compile("language your query is written in.*both languages are searched"))


# Item 15: errors


def test_a_syntax_error_shows_where_it_is_and_a_fix(site, page):
    assert page.goto(f"{site}/?q=ceasefire AND").status == 400
    expect(page.locator("#search-error")).to_contain_text("“AND” at character 11 has no term after it")
    assert page.locator("#search-error-at mark").inner_text() == "AND"
    with page.expect_navigation():
        page.get_by_role("link", name="Search for “ceasefire” instead").click()
    expect(page.locator("#result-count")).to_contain_text("6 articles")


def test_a_query_of_common_words_only_is_told_so(site, page):
    page.goto(f"{site}/?q=the of")
    expect(page.locator("#empty-state")).to_contain_text("(the, of) is too common to be searched")
    assert "Try fewer words" not in page.locator("#empty-state").inner_text()


def test_a_bad_date_is_an_error_even_without_a_query(site, page):
    assert page.goto(f"{site}/?q=&from=2018-13-45").status == 400
    expect(page.locator("#search-error")).to_contain_text("The From date “2018-13-45” is not a date")


@pytest.mark.parametrize(
    ("dates", "count"),
    [("from=2018-05", "2 articles"), ("from=1+May+2018&to=31+May+2018", "1 article"), ("to=2018-03", "4 articles")],
)
def test_a_month_and_a_day_in_words_are_dates(site, page, dates, count):
    page.goto(f"{site}/?q=ceasefire&{dates}")
    assert page.locator("#search-error").count() == 0
    expect(page.locator("#result-count")).to_contain_text(count)  # May and July; May; the March story


def test_a_page_that_does_not_exist_is_our_own_404(site, page):
    answer = page.goto(f"{site}/no/such/page")
    assert answer.status == 404
    expect(page.locator("#error-message")).to_have_text(re.compile(r"^There is no page at /no/such/page\."))
    expect(page.locator("#not-found-search").get_by_role("searchbox")).to_be_visible()
    api = page.request.get(f"{site}/api/v1/no-such-thing")
    assert api.status == 404 and api.json()["error"]["code"] == "not_found"
    assert "openapi.json" in api.json()["error"]["message"]


# Item 23: an empty page


def test_a_search_without_results_offers_no_export_and_no_every_article(site, page):
    page.goto(f"{site}/?q=xylophoneqq")
    expect(page.locator("#empty-state")).to_be_visible()
    assert page.locator("#export-csv").count() == 0 and page.locator("#show-every-article").count() == 0
    page.goto(f"{site}/?q=ceasefire")
    assert page.locator("#export-csv").count() == 1 and page.locator("#show-every-article").count() == 1
