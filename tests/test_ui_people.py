"""People and places in a real browser (Debian's chromium), at desktop and phone widths: the search page's facet
(romanised names with their Arabic spellings; ticking one filters, without scripts too) and the page per name
(its spellings, stories and latest articles; axe clean). With UI_SHOTS set, screenshots go to its people/ folder."""

import re
from dataclasses import replace

import pytest
from browsing import expect, served
from browsing import shot as keep_shot
from test_search_people import assad, index_people
from test_ui_accessibility import VIEWPORTS, axe_violations

from service.search.request import SearchRequest
from service.search.searcher import search
from service.web import create_app

QUERY = "المحادثات"


@pytest.fixture(scope="module")
def people(client, alias):
    return index_people(client, alias)


@pytest.fixture(scope="module")
def site(search_settings, people):
    with served(create_app(replace(search_settings, opensearch_index=people))) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(browser, request):
    """A tab at one width; on the phone without scripts, so that the facet is seen to need none."""
    context = browser.new_context(viewport=VIEWPORTS[request.param], java_script_enabled=request.param == "desktop")
    tab = context.new_page()
    tab.width_name = request.param
    yield tab
    context.close()


@pytest.fixture(params=list(VIEWPORTS))
def scripted_page(browser, request):
    """A tab at one width, with scripts (axe runs in the page)."""
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    tab = context.new_page()
    tab.width_name = request.param
    yield tab
    context.close()


def shot(page, name: str) -> None:
    keep_shot(page, f"people/{name}-{page.width_name}")


def test_the_facet_lists_names_with_their_arabic_spellings_and_ticking_one_filters(site, page, client, people):
    person = assad(search(client, people, SearchRequest(QUERY, collapse=False)))
    page.goto(f"{site}/?q={QUERY}&collapse=false")
    page.locator("#filter-panel summary").click()  # folded over results; a details element opens without scripts
    names = page.locator("#facet-name")
    expect(names.locator("legend")).to_have_text("People and places")
    label = names.locator("label", has_text=person["label"])
    expect(label.locator("bdi[lang=ar]")).to_contain_text("بشار")
    expect(label.locator(".facet-count")).to_have_text("(2)")
    shot(page, "facet")
    if page.width_name == "desktop":
        with page.expect_navigation():  # search.js applies a ticked value at once
            label.get_by_role("checkbox").check()
    else:  # without scripts the Apply button does
        label.get_by_role("checkbox").check()
        page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"[?&]name="))
    expect(page.locator(".hit")).to_have_count(2)
    assert {hit.get_attribute("data-id") for hit in page.locator(".hit").all()} == {"p1", "p2"}
    expect(page.locator(".chip", has_text=f"Name: {person['label']}")).to_be_visible()
    shot(page, "facet-chosen")


def test_the_page_of_a_name_has_its_spellings_stories_and_latest_articles(site, scripted_page, client, people):
    page = scripted_page
    person = assad(search(client, people, SearchRequest(QUERY, collapse=False)))
    page.goto(f"{site}/?q={QUERY}")
    page.locator("#filter-panel summary").click()
    page.get_by_role("link", name=f"{person['label']}: page").click()
    expect(page.locator("h1")).to_have_text(person["label"])
    expect(page.locator("#name-spellings bdi[lang=ar]")).to_have_count(2)
    expect(page.locator("#name-latest li")).to_have_count(2)
    assert page.locator("#name-stories li").count() >= 1
    shot(page, "name-page")
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
