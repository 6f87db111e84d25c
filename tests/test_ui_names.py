"""An English name that finds nothing (issue 21 item 2), in Debian's chromium at desktop and phone widths, over
test_search_names' corpus: ترامب at three outlets, ترمب at a fourth, and English that never names him."""

import re
from dataclasses import replace

import pytest
from browsing import expect, served, tab_at
from test_search_names import names_alias  # noqa: F401 (fixture)
from test_ui_accessibility import VIEWPORTS, axe_violations

from service.web import create_app


@pytest.fixture(scope="module")
def site(search_settings, names_alias):  # noqa: F811
    with served(create_app(replace(search_settings, opensearch_index=names_alias))) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(browser, request):
    with tab_at(browser, request.param, VIEWPORTS[request.param]) as tab:
        tab.set_default_timeout(120_000)  # the first English search loads arabnamer's model
        yield tab


def test_a_name_beside_other_words_that_finds_nothing_offers_its_arabic_spellings_in_one_click(site, page):
    pytest.importorskip("arabnamer")
    # "Trump" beside another word is not searched in the names' spellings (it would match every article naming
    # him), and no English here names him: nothing is found
    page.goto(f"{site}/?q=Trump+Beijing&category=world")
    expect(page.locator("#result-count")).to_contain_text("0 articles")
    offered = page.locator("#spellings-to-try a")
    assert offered.all_inner_texts() == ["ترمب", "ترامب", "all of them"]
    assert offered.first.get_attribute("lang") == "ar"
    assert axe_violations(page) == []
    offered.last.click()
    expect(page).to_have_url(re.compile(r"category=world"))  # the filters stay
    assert page.locator("#q").input_value() == '"ترمب" OR "ترامب"'
    found = {hit.get_attribute("data-id") for hit in page.locator(".hit").all()}
    assert {"t1", "t4"} <= found
    page.go_back()
    page.locator("#spellings-to-try a").first.click()  # one spelling: the search adds the collection's others
    expect(page.locator("#result-count")).not_to_contain_text("0 articles")
