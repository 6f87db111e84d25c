"""Accessibility and the first impression, in a real browser (Debian's chromium) over the sample `make run` indexes.

axe-core (tests/vendor/axe-core, from the npm package) runs on every page at desktop and phone widths; the
focus ring, headings, navigation, date fields and the bundled Arabic font are checked directly. With UI_SHOTS set,
screenshots of every page at both widths go to its a11y/ folder (tests/browsing.py).
"""

from dataclasses import replace

import pytest
from browsing import CHROMIUM, SECRET_KEY, expect, served, shot, sign_in
from helpers import PROJECT_ROOT

from service import sample
from service.files import jsonl_records
from service.ingest import IndexTarget
from service.web import create_app

KEY = "a11y-key-0123456"
AXE = PROJECT_ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"  # pinned: tests/vendor/axe-core/README.md
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
BLOCKING_IMPACTS = ("serious", "critical")
FONT_FILES = ("noto-naskh-arabic-arabic-400-normal.woff2", "noto-naskh-arabic-arabic-700-normal.woff2")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")


def sample_records() -> list:
    with open(sample.SAMPLE_FILE, "rb") as lines:
        return list(jsonl_records(lines))


@pytest.fixture(scope="module")
def web_app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), secret_key=SECRET_KEY))


@pytest.fixture(scope="module")
def site(web_app, client, alias, translator):
    """The app over the sample as `make run` indexes it with the demo model (the session's model is one)."""
    _chosen, report = sample.load(sample_records(), IndexTarget(client, alias), translator)
    assert report.to_dict()["rejected"] == 0
    client.indices.refresh(index=alias)
    with served(web_app) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    tab = context.new_page()
    tab.width_name = request.param  # names the screenshots
    yield tab
    context.close()


def story_path(web_app, client, alias) -> str | None:
    """The story page of a sample article, when this app has one (the search page's part of issue 12 adds it)."""
    rules = [rule.rule for rule in web_app.url_map.iter_rules() if rule.rule.startswith("/stories/")]
    if not rules:
        return None
    cluster = client.get(index=alias, id="sample-5")["_source"]["cluster_id"]
    return rules[0].split("<", 1)[0] + cluster


def translated(page, site):
    """The translate page with a result on it (the page is a form until then)."""
    page.goto(f"{site}/translation")
    page.get_by_label("Arabic text").fill("قال الرئيس إن الاقتصاد تحسن.\nوأضاف أن الحكومة ستعمل.")
    with page.expect_navigation():  # and its stylesheets: axe checks colour contrast
        page.get_by_role("button", name="Translate").click()
    expect(page.locator("#translation tbody tr").first).to_be_visible()


def jobs_listed(page, site):
    """The jobs page of a signed-in browser (it asks to sign in until then)."""
    sign_in(page, site, KEY, then="/jobs")
    expect(page.locator("#jobs-empty")).to_be_visible()


def ingest_form(page, site):
    """The ingest page of a signed-in browser: its upload form and the choice to translate only."""
    sign_in(page, site, KEY, then="/ingest")
    expect(page.get_by_label("Translate only")).to_be_visible()


def alerts_listed(page, site):
    """The alerts page of a signed-in browser (it asks to sign in until then)."""
    sign_in(page, site, KEY, then="/alerts")
    expect(page.locator("#alerts-empty")).to_be_visible()


def search_saving(page, site):
    """The search page of a signed-in browser with "Save this search" opened (its form appears with the script)."""
    sign_in(page, site, KEY, then="/?q=coronavirus")
    page.get_by_text("Save this search").click()
    expect(page.get_by_label("Name")).to_be_visible()


def signin_refused(page, site):
    """The sign-in page after a wrong key, its error shown."""
    page.goto(f"{site}/signin")
    page.get_by_label("API key").fill("not-the-key-000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_be_visible()


def name_page(page, site):
    """The page of the first person or place the coronavirus search's facet lists (the sample names China)."""
    page.goto(f"{site}/?q=coronavirus")
    link = page.locator("#facet-name a.facet-name-page").first
    expect(link).to_have_count(1)
    page.goto(f"{site}{link.get_attribute('href')}")
    expect(page.locator("#name-page")).to_be_visible()


PAGES = {  # name → path, or a function that brings the page to the state to check
    "start": "/",
    "search": "/?q=coronavirus",
    "search-saving": search_saving,
    "article": "/articles/sample-5",
    "translate": translated,
    "ingest": "/ingest",
    "ingest-form": ingest_form,
    "jobs": "/jobs",
    "jobs-listed": jobs_listed,
    "alerts": "/alerts",
    "alerts-listed": alerts_listed,
    "api-docs": "/api/v1/docs",
    "not-found": "/articles/no-such-article",
    "signin": "/signin",
    "signin-refused": signin_refused,
    "no-such-page": "/no/such/page",
    "search-filtered": "/?q=coronavirus&from=2020-01&sort=date",  # the filters in use, as chips
    "search-browse": "/?q=&from=2020",  # a listing without a query
    "search-syntax-error": "/?q=coronavirus+AND",
    "search-empty": "/?q=zzzqqqxx",
    "name": name_page,  # a person's or place's page (issue 21: people and places)
}
NAV_CURRENT = {  # page → the navigation entry marked current on it
    "start": "Search",
    "search": "Search",
    "translate": "Translate",
    "ingest": "Ingest",
    "jobs": "Jobs",
    "alerts": "Alerts",
    "api-docs": "API",
}


def open_page(page, site, name):
    target = PAGES[name]
    if callable(target):
        target(page, site)
    else:
        page.goto(f"{site}{target}")


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now.

    The engine is evaluated through the DevTools protocol, which the page's CSP does not govern: the app serves
    no test code, and the policy stays exactly as users get it."""
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate("() => axe.version") == AXE_VERSION
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_has_no_serious_accessibility_violation_and_one_h1(site, page, name):
    open_page(page, site, name)
    shot(page, f"a11y/{name}-{page.width_name}")
    assert axe_violations(page) == [], name
    assert page.locator("h1").count() == 1, name


def test_the_story_page_has_no_serious_accessibility_violation(site, page, web_app, client, alias):
    path = story_path(web_app, client, alias)
    if path is None:
        pytest.skip("this app has no story page")
    page.goto(f"{site}{path}")
    shot(page, f"a11y/story-{page.width_name}")
    assert axe_violations(page) == []
    assert page.locator("h1").count() == 1


@pytest.mark.parametrize("name", list(NAV_CURRENT))
def test_the_navigation_marks_the_current_page(site, browser, name):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    tab = context.new_page()
    open_page(tab, site, name)
    navigation = tab.get_by_role("navigation", name="Main")
    current = navigation.locator("[aria-current='page']")
    assert current.count() == 1 and current.inner_text() == NAV_CURRENT[name]
    other = navigation.get_by_role("link", name="Jobs" if NAV_CURRENT[name] != "Jobs" else "Search", exact=True)

    def underline(link) -> str:
        return link.evaluate("a => getComputedStyle(a).borderBottomColor")

    assert underline(current) != underline(other)  # seen, not only announced
    assert underline(other) == "rgba(0, 0, 0, 0)"
    context.close()


def test_an_article_page_marks_no_navigation_entry_as_current(site, browser):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    tab = context.new_page()
    tab.goto(f"{site}/articles/sample-5")
    assert tab.locator("nav [aria-current]").count() == 0
    context.close()


# The colour under the focus ring: the ring is drawn outside the element (outline-offset), so look just outside
# its left edge, at mid-height, for the first thing there with a background, and measure the WCAG contrast ratio.
FOCUS_RING = """
el => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const ratio = (a, b) => { const [hi, lo] = [luminance(a), luminance(b)].sort((p, q) => q - p);
                            return (hi + 0.05) / (lo + 0.05); };
  const style = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const reach = parseFloat(style.outlineOffset) + parseFloat(style.outlineWidth) / 2;
  const x = Math.max(0, rect.left - reach), y = rect.top + rect.height / 2;
  const under = document.elementsFromPoint(x, y).find(e => e !== el && !el.contains(e));
  let background = [255, 255, 255];
  for (let node = under; node; node = node.parentElement) {
    const colour = rgb(getComputedStyle(node).backgroundColor);
    if (colour.length < 4 || colour[3] > 0) { background = colour; break; }
  }
  return {what: el.tagName + ' ' + (el.getAttribute('name') || el.textContent.trim().slice(0, 30)),
          style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          ratio: Math.round(ratio(rgb(style.outlineColor), background) * 100) / 100};
}
"""
MAX_TAB_STOPS = 40


@pytest.mark.parametrize("name", ["search", "article"])
def test_the_focus_ring_is_visible_with_3_to_1_contrast_on_every_tab_stop(site, browser, name):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    tab = context.new_page()
    open_page(tab, site, name)
    tab.keyboard.press("Tab")  # a keyboard user: from here on focus shows as :focus-visible
    tab.locator("a.skip").focus()  # the first tab stop, whatever the page focused on load (the search box)
    seen = []
    for _ in range(MAX_TAB_STOPS):
        focused = tab.locator(":focus")
        if focused.count() == 0:
            break  # past the last tab stop: focus left the document
        ring = focused.evaluate(FOCUS_RING)
        seen.append(ring)
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        assert ring["ratio"] >= 3, ring  # WCAG 1.4.11 non-text contrast
        tab.keyboard.press("Tab")
    assert seen[0]["what"] in ("A Skip to content", "A Skip to results")
    assert "A Search" in [ring["what"] for ring in seen]  # the header too
    assert len(seen) >= 8  # the navigation, the form, the results: the walk went through the page
    context.close()


def test_each_date_field_is_one_tab_stop_with_a_hint(site, browser):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    tab = context.new_page()
    tab.goto(f"{site}/?q=coronavirus")
    tab.locator("#filter-panel summary").click()  # folded over results until a filter is chosen (item 18)
    tab.get_by_label("From").focus()
    tab.keyboard.press("Tab")
    assert tab.evaluate("() => document.activeElement.name") == "to"  # chromium's date input keeps three stops
    assert tab.get_by_label("To").get_attribute("type") in (None, "text")  # no calendar button to tab through
    tab.keyboard.type("2020-06-30")
    tab.keyboard.press("Tab")  # leaving a changed date applies it (search.js)
    tab.wait_for_url("**to=2020-06-30**")
    hint = tab.get_by_label("To").get_attribute("aria-describedby")
    assert "year-month-day" in tab.locator(f"#{hint}").inner_text()
    tab.get_by_label("From").fill("2020-06-01")
    tab.get_by_label("From").press("Enter")
    tab.wait_for_url("**from=2020-06-01**")
    expect(tab.locator("main")).to_contain_text("William Schaffner")  # June's article (sample-6)
    assert "from=2020-06-01" in tab.url and "to=2020-06-30" in tab.url
    assert "By yesterday" not in tab.locator("main").inner_text()  # May's article (sample-5) is filtered out
    context.close()


def test_arabic_is_set_in_the_bundled_naskh_font_served_by_the_site(site, browser):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    tab = context.new_page()
    requests = []
    tab.on("request", lambda request: requests.append(request.url))
    fonts = {}
    tab.on("response", lambda r: fonts.update({r.url: r}) if "/static/fonts/" in r.url else None)
    tab.goto(f"{site}/articles/sample-5")
    tab.evaluate("() => document.fonts.ready")
    loaded = tab.evaluate(
        "() => [...document.fonts].filter(f => f.family.replace(/\"/g, '') === 'Noto Naskh Arabic'"
        " && f.status === 'loaded').map(f => f.weight)"
    )
    assert "400" in loaded  # used by the Arabic sentences, so fetched and loaded
    family = tab.locator(".aligned td.ar").first.evaluate("td => getComputedStyle(td).fontFamily")
    assert family.startswith('"Noto Naskh Arabic"')
    assert any(url.endswith(FONT_FILES[0]) for url in fonts)
    for response in fonts.values():
        assert response.status == 200 and response.headers["content-type"] == "font/woff2"
    assert all(url.startswith(site) for url in requests)  # nothing from elsewhere
    context.close()


def test_the_font_licence_ships_with_the_fonts():
    fonts = PROJECT_ROOT / "service" / "web" / "static" / "fonts" / "noto-naskh-arabic"
    assert "SIL OPEN FONT LICENSE Version 1.1" in (fonts / "OFL.txt").read_text(encoding="utf-8")
    for name in FONT_FILES:
        assert (fonts / name).read_bytes()[:4] == b"wOF2"


def test_the_first_search_shows_human_english_beside_the_arabic(site, page):
    """What a newcomer sees after `make run` with the demo model: real English, not the demo model's noise."""
    page.goto(site)
    page.get_by_label("Search Arabic news in English or Arabic").fill("coronavirus")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("main")).to_contain_text("244 thousand coronavirus cases were recorded")
    shot(page, f"a11y/first-search-{page.width_name}")
    page.goto(f"{site}/articles/sample-5")
    expect(page.locator("main")).to_contain_text("In the United States, over 244 thousand coronavirus cases")
    expect(page.locator("main")).to_contain_text("أكثر من 244 ألف حالة إصابة بفيروس كورونا")
