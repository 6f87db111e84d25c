"""Saved searches in a real browser (Debian's chromium): "Save this search" on the search page, and the Alerts page
with each alert's new-match count, feed link and matches, against the real app, node and percolator."""

import re
from dataclasses import replace

import feedparser
import pytest
from browsing import CHROMIUM, SECRET_KEY, expect, served, shot, sign_in
from test_ui_accessibility import axe_violations

from service.ingest import ingest
from service.web import create_app

KEY = "alerts-key-0123456"
DESKTOP = {"width": 1440, "height": 900}
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")


def article(article_id: str, title_en: str, source: str, day: int) -> dict:
    """A pre-translated record about a ceasefire (so the tiny model's noise plays no part)."""
    return {
        "id": article_id,
        "source": source,
        "category": "middle_east",
        "date": f"2024-05-{day:02d}T09:00:00Z",
        "title": f"وقف إطلاق النار {article_id}",
        "title_en": title_en,
        "body": f"أعلن الجيش وقف إطلاق النار في المنطقة {day}.",
        "sentences": [{"source": f"أعلن الجيش وقف إطلاق النار في المنطقة {day}.", "target": f"{title_en}."}],
    }


@pytest.fixture(scope="module")
def web_app(search_settings, alias):
    return create_app(
        replace(
            search_settings,
            opensearch_index=alias,
            api_keys=(KEY,),
            alert_delivery=False,  # a webhook is saved (to the loopback, allowed here), never called
            alert_webhook_allow=("127.0.0.1",),
            alert_digest_domains=("example.org",),  # no SMTP_HOST: digests are kept, never mailed
            secret_key=SECRET_KEY,
        )
    )


@pytest.fixture(scope="module")
def site(web_app, client, alias):
    report = ingest(
        [(1, article("old-1", "Army declares a ceasefire in the north", "Outlet One", 1))],
        client,
        alias,
        pretranslated=True,
    )
    assert report.indexed == 1
    client.indices.refresh(index=alias)
    with served(web_app) as url:
        yield url


@pytest.fixture
def tab(browser, site):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, site, KEY)
    yield page
    context.close()


def save_search(tab, site, name: str, backfill: bool) -> None:
    tab.goto(f"{site}/?q=ceasefire")
    tab.get_by_text("Save this search").click()
    tab.get_by_label("Name").fill(name)
    if backfill:
        tab.get_by_label("Also list the articles that match already").check()
    tab.get_by_role("button", name="Save search").click()
    expect(tab.locator("#save-search-status")).to_contain_text(f"Saved “{name}”")


def test_a_saved_search_is_listed_on_the_alerts_page_with_its_feed_and_the_key_never_in_a_url(site, tab, client, alias):
    requested = []
    tab.on("request", lambda request: requested.append(request.url))
    save_search(tab, site, "Northern ceasefire", backfill=True)
    client.indices.refresh(index=f"{alias}-alert-matches")  # the back-fill's entries, searchable at once
    tab.get_by_role("link", name="See it on the Alerts page").click()
    expect(tab.get_by_role("navigation", name="Main").locator("[aria-current='page']")).to_have_text("Alerts")
    entry = tab.locator("li.alert", has_text="Northern ceasefire")
    expect(entry).to_have_class("alert highlight")  # the one just saved
    expect(entry.locator(".query")).to_have_text("ceasefire")
    expect(entry.locator(".alert-match")).to_have_count(1)  # the back-fill: the article already there
    expect(entry.locator(".alert-match .backfill")).to_be_visible()
    feed = entry.get_by_role("link", name="Atom feed of Northern ceasefire")
    answer = tab.request.get(site + feed.get_attribute("href"))  # a feed reader: no key, the feed's token
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    assert not feedparser.parse(answer.body()).bozo
    shot(tab, "alerts-listed")
    assert not any(KEY in url for url in requested)


def test_matches_arrive_on_ingest_and_only_the_new_ones_count_as_new(site, tab, client, alias):
    save_search(tab, site, "Ceasefire watch", backfill=False)
    tab.goto(f"{site}/alerts")
    entry = tab.locator("li.alert", has_text="Ceasefire watch")
    expect(entry.locator(".no-matches")).to_be_visible()
    expect(entry.locator(".new-count")).to_have_text("· 0 new since your last visit")
    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")

    records = [
        (1, article("new-1", "Ceasefire holds <b>in the south</b>", "Outlet Two", 3)),
        (2, article("other-1", "Markets rally on trade data", "Outlet Two", 3)),
    ]
    assert ingest(records, client, alias, pretranslated=True).indexed == 2
    client.indices.refresh(index=f"{alias}-alert-matches")
    tab.reload()
    entry = tab.locator("li.alert", has_text="Ceasefire watch")
    expect(entry.locator(".new-count")).to_have_text("· 1 new since your last visit")
    match = entry.locator(".alert-match")
    expect(match).to_have_count(1)
    expect(match.locator(".title")).to_have_text("Ceasefire holds <b>in the south</b>")  # text, never markup
    expect(match.locator(".outlets")).to_have_text("Outlet Two")
    expect(match.locator(".new-badge")).to_be_visible()
    expect(match.locator(".date")).to_have_attribute("datetime", "2024-05-03T09:00:00+00:00")

    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")  # and marked seen
    tab.reload()  # the visit before counted as seen
    entry = tab.locator("li.alert", has_text="Ceasefire watch")
    expect(entry.locator(".new-count")).to_have_text("· 0 new since your last visit")
    expect(entry.locator(".new-badge")).to_be_hidden()
    entry.locator(".alert-match .title").click()
    expect(tab).to_have_url(f"{site}/articles/new-1")


def test_a_refused_key_signs_nobody_in_and_saving_asks_to_sign_in(site, browser):
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.goto(f"{site}/?q=ceasefire")
    tab.get_by_text("Save this search").click()
    tab.locator("#save-search-signin").get_by_role("link", name="Sign in").click()
    tab.get_by_label("API key").fill("not-the-key-000")
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.locator("#signin-error")).to_have_text("That API key is not valid. Check it and try again.")
    tab.goto(f"{site}/alerts")
    expect(tab.locator("#signin-needed")).to_be_visible()  # the refused key was not kept
    assert context.cookies() == []
    context.close()


def test_an_alert_is_deleted_from_the_alerts_page_after_a_confirmation(site, tab, web_app):
    save_search(tab, site, "Short-lived watch", backfill=False)
    tab.goto(f"{site}/alerts")
    entry = tab.locator("li.alert", has_text="Short-lived watch")
    delete = entry.get_by_role("button", name="Delete Short-lived watch")
    tab.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    expect(entry).to_have_count(1)  # dismissed: kept
    tab.once("dialog", lambda dialog: dialog.accept())
    delete.click()
    expect(tab.locator("#alerts-message")).to_have_text("Deleted “Short-lived watch”.")
    expect(entry).to_have_count(0)
    with web_app.test_client() as http:
        kept = http.get("/api/v1/alerts", headers={"X-API-Key": KEY}).json["alerts"]
    assert "Short-lived watch" not in [alert["name"] for alert in kept]
    tab.reload()
    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")
    expect(tab.locator("li.alert", has_text="Short-lived watch")).to_have_count(0)


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_an_alert_is_renamed_edited_paused_and_resumed_on_the_alerts_page(site, browser, client, alias, viewport):
    """Issue 21 item 17: a paused alert records no matches; resumed, it matches again; its name and query change."""
    width = viewport["width"]
    context = browser.new_context(viewport=viewport)
    tab = context.new_page()
    sign_in(tab, site, KEY, then="/")
    save_search(tab, site, f"Truce {width}", backfill=False)
    tab.goto(f"{site}/alerts")
    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")
    alert_id = tab.locator(f"li.alert[data-name='Truce {width}']").get_attribute("data-alert")
    entry = tab.locator(f"li.alert[data-alert='{alert_id}']")  # by id: its name changes

    entry.get_by_text("Edit name, query or e-mail digest").click()
    entry.get_by_label("Name").fill(f"Southern truce {width}")
    entry.get_by_label("Query").fill(f"truce{width}")
    entry.get_by_role("button", name="Save changes").click()
    expect(entry.locator(".edit-status")).to_have_text(f"Saved: “Southern truce {width}”.")
    expect(entry.locator(".name")).to_have_text(f"Southern truce {width}")

    entry.get_by_role("button", name=f"Pause Southern truce {width}").click()
    expect(tab.locator("#alerts-message")).to_have_text(f"Paused “Southern truce {width}”.")
    expect(entry.locator(".paused-badge")).to_be_visible()
    shot(tab, f"alerts-paused-{width}")
    paused = article(f"paused-{width}", f"A truce{width} while paused", "Outlet Three", 5)
    assert ingest([(1, paused)], client, alias, pretranslated=True).indexed == 1
    client.indices.refresh(index=f"{alias}-alert-matches")

    tab.reload()
    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")
    entry = tab.locator(f"li.alert[data-alert='{alert_id}']")
    expect(entry.locator(".query")).to_have_text(f"truce{width}")
    expect(entry.locator(".paused-badge")).to_be_visible()  # kept across visits
    expect(entry.locator(".no-matches")).to_be_visible()  # nothing recorded while paused
    entry.get_by_role("button", name=f"Resume Southern truce {width}").click()
    expect(entry.locator(".paused-badge")).to_be_hidden()
    resumed = article(f"resumed-{width}", f"A truce{width} after resuming", "Outlet Three", 6)
    assert ingest([(1, resumed)], client, alias, pretranslated=True).indexed == 1
    # both: the match is read from one, and the story it links to lists its versions from the other
    client.indices.refresh(index=f"{alias},{alias}-alert-matches")

    tab.reload()
    entry = tab.locator(f"li.alert[data-alert='{alert_id}']")
    expect(entry.locator(".alert-match .title")).to_have_text([f"A truce{width} after resuming"])
    assert tab.evaluate("document.documentElement.scrollWidth") <= width
    shot(tab, f"alerts-resumed-{width}")
    entry.get_by_text("Edit name, query or e-mail digest").click()  # its form open, for axe too
    assert axe_violations(tab) == []

    # a match as a story: its Arabic title beside the English, its dates as the other pages write them, its story
    match = entry.locator(".alert-match")
    expect(match.locator(".title-ar")).to_have_text(f"وقف إطلاق النار resumed-{width}")
    # the sentence pair that matched, kept with the match (issue 21 item 17)
    expect(match.locator(".snippet-by")).to_have_text("Matched by its words:")
    expect(match.locator(".snippet-en")).to_have_text(f"A truce{width} after resuming.")
    expect(match.locator(".snippet-ar")).to_have_text("أعلن الجيش وقف إطلاق النار في المنطقة 6.")
    expect(match.locator(".date")).to_have_attribute("datetime", "2024-05-06T09:00:00+00:00")
    expect(match.locator(".date")).to_have_text(re.compile(r"^\d+ (years?|months?) ago$"))
    expect(match.locator(".date")).to_have_attribute("title", "2024-05-06 09:00 UTC")
    expect(match.locator(".matched")).to_have_text(re.compile(r"^(just now|\d+ minutes? ago)$"))
    expect(entry.locator(".created")).to_have_text(re.compile(r"^(just now|\d+ minutes? ago)$"))
    match.get_by_role("link", name="the story").click()
    expect(tab).to_have_url(re.compile(r"/stories/"))
    expect(tab.locator("main")).to_contain_text(f"A truce{width} after resuming")  # a version of its story
    context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_a_search_with_a_past_to_date_is_saved_with_a_warning_and_the_webhook_secret_has_its_own_field(
    site, browser, viewport
):
    """Issue 21 item 17: a search that today's news cannot fire says so; the secret is a field with a copy button."""
    context = browser.new_context(viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    sign_in(tab, site, KEY, then="/")
    tab.goto(f"{site}/?q=ceasefire&to=2024-05-31")
    tab.get_by_text("Save this search").click()
    tab.get_by_label("Name").fill(f"May ceasefire {viewport['width']}")
    tab.locator("#save-search-form [name=webhook_url]").fill("http://127.0.0.1:9/hook")
    tab.get_by_role("button", name="Save search").click()
    status = tab.locator("#save-search-status")
    expect(status).to_contain_text(f"Saved “May ceasefire {viewport['width']}”")
    expect(status.locator(".save-warning")).to_contain_text("“to” date (2024-05-31) is past")
    secret = status.get_by_label("Webhook secret, shown this once")
    value = secret.input_value()
    assert len(value) >= 32 and value not in status.inner_text()  # in its field, not inside a sentence
    status.get_by_role("button", name="Copy secret").click()
    expect(status).to_contain_text("Copied.")
    assert tab.evaluate("navigator.clipboard.readText()") == value
    assert tab.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    shot(tab, f"alerts-saved-secret-{viewport['width']}")
    assert axe_violations(tab) == []
    context.close()


def test_an_alerts_e_mail_digest_is_set_on_the_alerts_page_which_says_when_no_mail_goes_out(site, tab):
    """Issue 21, alerts as a workflow: the digest's address and cadence, set by the key that owns the alert."""
    save_search(tab, site, "Digest desk", backfill=False)
    tab.goto(f"{site}/alerts")
    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")
    expect(tab.locator("#digests-off")).to_contain_text("E-mail digests are off on this service")
    entry = tab.locator("li.alert[data-name='Digest desk']")
    expect(entry.locator(".digest-state")).to_have_text("No e-mail digest.")
    entry.get_by_text("Edit name, query or e-mail digest").click()
    expect(entry.locator(".digest-off-note")).to_be_visible()
    entry.get_by_label("How often").select_option("daily")
    entry.get_by_label("To", exact=True).fill("desk@localhost")  # the browser's check lets it by; the service does not
    entry.get_by_role("button", name="Save changes").click()
    expect(entry.locator(".edit-status")).to_contain_text("digest_email must be one e-mail address")
    entry.get_by_label("To", exact=True).fill("desk@example.org")
    entry.get_by_role("button", name="Save changes").click()
    expect(entry.locator(".edit-status")).to_contain_text("no mail server set up, so no digest is e-mailed")
    expect(entry.locator(".digest-state")).to_have_text("E-mail digest: daily to desk@example.org")
    assert axe_violations(tab) == []
    shot(tab, "alerts-digest-1440")
    tab.reload()
    entry = tab.locator("li.alert[data-name='Digest desk']")
    expect(entry.locator(".digest-state")).to_have_text("E-mail digest: daily to desk@example.org")
    entry.get_by_text("Edit name, query or e-mail digest").click()
    expect(entry.get_by_label("How often")).to_have_value("daily")
    expect(entry.get_by_label("To", exact=True)).to_have_value("desk@example.org")


def test_a_browse_of_one_source_is_saved_and_lists_each_new_article_from_it_with_its_lead(site, tab, client, alias):
    """Issue 21: "every new article from Outlet One" saved from a browse page (no words), named by its filter in
    words on the Alerts page; a new article of that source matches, another source's does not."""
    tab.goto(f"{site}/?q=&source=Outlet+One")
    tab.get_by_text("Save this search").click()
    expect(tab.get_by_label("Name")).to_have_value("Every new article from Outlet One")
    tab.get_by_label("Also list the articles that match already").check()
    assert axe_violations(tab) == []
    shot(tab, "alerts-browse-save-1440")
    tab.get_by_role("button", name="Save search").click()
    expect(tab.locator("#save-search-status")).to_contain_text("Saved “Every new article from Outlet One”")
    rain = "هطلت أمطار غزيرة على العاصمة وأغلقت المدارس أبوابها."  # another story than the ceasefire's
    records = [
        (
            n,
            {
                **article(article_id, title, source, 7),
                "title": "أمطار",
                "body": rain,
                "sentences": [{"source": rain, "target": f"{title}."}],
            },
        )
        for n, (article_id, title, source) in enumerate(
            [("watched-1", "Rain closes schools", "Outlet One"), ("unwatched-1", "Rain closes roads", "Outlet Four")], 1
        )
    ]
    assert ingest(records, client, alias, pretranslated=True).indexed == 2
    client.indices.refresh(index=f"{alias},{alias}-alert-matches")
    tab.get_by_role("link", name="See it on the Alerts page").click()
    expect(tab.locator("#alerts")).to_have_attribute("data-loaded", "yes")
    entry = tab.locator("li.alert.highlight")
    expect(entry.locator(".watching")).to_have_text("Every new article from Outlet One")
    expect(entry.locator(".query-words")).to_be_hidden()
    expect(entry.locator(".alert-match .title")).to_have_text(
        ["Rain closes schools", "Army declares a ceasefire in the north"]
    )
    new = entry.locator(".alert-match").first
    expect(new.locator(".snippet-by")).to_have_text("Its lead:")
    expect(new.locator(".snippet-ar")).to_have_text(rain)
    expect(new.locator(".snippet-en")).to_have_text("Rain closes schools.")
    entry.get_by_text("Edit name, query or e-mail digest").click()
    expect(entry.get_by_label("Query")).to_have_value("")
    assert axe_violations(tab) == []
    shot(tab, "alerts-browse-listed-1440")
