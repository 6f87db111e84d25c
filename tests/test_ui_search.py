"""The search results page (issue 12): aligned pairs with the counterpart marked, facets, the language menu, errors
in the user's words, provenance, stories and the story page, what was searched, the timeline, the start page and
the CSV export. Pure helpers first, then the real app and node in Debian's chromium at desktop and phone widths."""

import csv
import datetime as dt
import io
import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from browsing import expect, served, tab_at
from browsing import shot as keep_shot
from markupsafe import Markup
from test_ui_accessibility import axe_violations

from service.config import Settings
from service.ingest import ingest
from service.search import timeline
from service.web import create_app, searchpage
from service.web.article_view import safe_back
from service.web.services import services_of

KEY = "search-page-key-0123"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
PINNED_BACKGROUND = "rgb(169, 203, 239)"  # --pinned in style.css

# One story in four outlets' versions (near-copies, so they share a cluster), two other ceasefire articles in later
# months, and an article whose English names a model (machine provenance) with a word alignment.
STORY = [
    (
        "أعلن الجيش وقف إطلاق النار في المدينة بعد أسبوع من القتال العنيف.",
        "The army announced a ceasefire in the city after a week of heavy fighting.",
    ),
    (
        "وقال المتحدث باسم الجيش إن القوات ستبقى في مواقعها حتى إشعار آخر.",
        "The army spokesman said the forces would stay in their positions until further notice.",
    ),
    (
        "ورحب سكان المدينة بالقرار وعاد بعضهم إلى منازلهم صباح اليوم.",
        "Residents of the city welcomed the decision and some returned to their homes this morning.",
    ),
    (
        "ودعت الأمم المتحدة جميع الأطراف إلى احترام الهدنة وفتح الطرق أمام المساعدات.",
        "The United Nations called on all parties to respect the truce and open the roads to aid.",
    ),
]
VERSIONS = [  # id, outlet, date, the sentences it carries
    ("st-bbc", "BBC Arabic", "2018-03-01", STORY),
    ("st-arabiya", "Al Arabiya", "2018-03-02", STORY[:3]),
    ("st-cnn", "CNN Arabic", "2018-03-04", STORY),
    ("st-sky", "Sky News Arabia", "2018-03-05", [STORY[0], STORY[2], STORY[3]]),
]
SINGLES = [
    (
        "may",
        "CNN Arabic",
        "politics",
        "2018-05-10",
        "صمد وقف إطلاق النار في الجنوب رغم بعض الخروقات.",
        "The ceasefire in the south held despite some violations.",
    ),
    (
        "jul",
        "BBC Arabic",
        "world",
        "2018-07-20",
        "انهار وقف إطلاق النار بعد ثلاثة أيام فقط.",
        "The ceasefire collapsed after only three days.",
    ),
]
MACHINE_AR, MACHINE_EN = "وأكد الجيش أن المفاوضات مستمرة.", "The army confirmed that negotiations continue."
MACHINE_ALIGNMENT = "0-2 1-0 1-1 2-3 3-4 4-5"  # Arabic word i - English word j: negotiations (4) ← المفاوضات (3)


# The pure part


def test_facet_keys_read_as_words_and_names_stay_as_they_are():
    assert searchpage.facet_label("middle_east") == "Middle East"
    assert searchpage.facet_label("us-politics") == "US Politics"
    assert searchpage.facet_label("BBC Arabic") == "BBC Arabic"
    assert searchpage.facet_label("Reuters, Cairo") == "Reuters, Cairo"


def test_facet_options_keep_a_chosen_value_the_search_no_longer_counts():
    options = searchpage.facet_options([{"value": "world", "count": 2}], ["middle_east"])
    assert [(o.value, o.label, o.count, o.checked) for o in options] == [
        ("world", "World", 2, False),
        ("middle_east", "Middle East", 0, True),
    ]


NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("first", "last", "interval"),
    [
        ("2018-03-01", "2018-03-01", "day"),
        ("2018-03-01", "2018-04-29", "day"),  # 60 days: 60 bars
        ("2018-03-01", "2018-04-30", "week"),
        ("2018-03-01", "2019-04-21", "week"),  # the 60th week from Monday 26 February
        ("2018-03-01", "2019-04-22", "month"),
        ("2010-01-01", "2014-12-31", "month"),  # 60 months
        ("2010-01-01", "2015-01-01", "year"),
    ],
)
def test_the_span_of_the_results_picks_the_finest_interval_that_fits_the_bars(first, last, interval):
    assert timeline.bucket_interval(dt.date.fromisoformat(first), dt.date.fromisoformat(last)) == interval
    starts = timeline.buckets_between(dt.date.fromisoformat(first), dt.date.fromisoformat(last), interval)
    assert len(starts) <= timeline.MAX_BARS


def test_buckets_run_from_their_first_day_to_their_last():
    assert timeline.bucket_start(dt.date(2018, 5, 10), "week") == dt.date(2018, 5, 7)  # ISO weeks start on Monday
    assert timeline.bucket_end(dt.date(2018, 5, 7), "week") == dt.date(2018, 5, 13)
    assert timeline.bucket_end(dt.date(2020, 2, 1), "month") == dt.date(2020, 2, 29)
    assert timeline.bucket_end(dt.date(2020, 1, 1), "year") == dt.date(2020, 12, 31)


def test_timeline_bars_have_gaps_names_a_visible_least_height_and_the_chosen_dates_lit():
    buckets = [
        {"value": "2018-02-26", "count": 400, "interval": "week"},
        {"value": "2018-03-12", "count": 1, "interval": "week"},
    ]
    drawn = searchpage.timeline(buckets, {"q": ["x"], "page": ["2"], "from": ["2018-03-12"]}, NOW, "2018-03-12T09:00Z")
    assert [b.start for b in drawn.bars] == ["2018-02-26", "2018-03-05", "2018-03-12"]
    assert [b.count for b in drawn.bars] == [400, 0, 1] and drawn.bars[1].args is None
    assert [b.height for b in drawn.bars] == [20, 0, searchpage.MIN_HEIGHT]  # one article among 400 is still seen
    assert drawn.bars[2].name == "1 article, week of 12 March 2018"
    assert drawn.bars[0].name == "400 articles, week of 26 February 2018" and drawn.bars[0].tick == "26 Feb"
    assert drawn.bars[2].args == {"q": ["x"], "from": ["2018-03-12"], "to": ["2018-03-18"]}  # and back to page 1
    assert [b.chosen for b in drawn.bars] == [False, False, True]  # the rest is context, greyed
    assert (drawn.span, drawn.chosen) == ("26 February 2018 – 18 March 2018", "from 12 March 2018")
    assert searchpage.timeline([], {"q": ["x"]}, NOW) is None


def test_presets_end_now_or_at_the_newest_match_when_the_collection_is_older():
    recent, anchor = searchpage.timeline_presets({"q": ["x"], "page": ["3"]}, NOW, "2026-12-07T09:00:00Z")
    assert anchor is None
    assert [(p.label, p.args) for p in recent] == [
        ("Last 24 hours", {"q": ["x"], "from": ["2026-12-06T12:00Z"]}),
        ("Last 7 days", {"q": ["x"], "from": ["2026-11-30T12:00Z"]}),
        ("Last 30 days", {"q": ["x"], "from": ["2026-11-07T12:00Z"]}),
    ]
    chosen = {"q": ["x"], "from": ["2018-07-13T09:00Z"], "to": ["2018-07-20"]}
    old, anchor = searchpage.timeline_presets(chosen, NOW, "2018-07-20T09:00:00.000Z")
    assert anchor == "20 July 2018"
    assert old[1].args == chosen and old[1].current and not old[0].current


@pytest.mark.parametrize(
    ("published", "words"),
    [
        ("2026-12-07T11:59:30Z", "just now"),
        ("2026-12-07T11:59:00Z", "1 minute ago"),
        ("2026-12-07T11:15:00Z", "45 minutes ago"),
        ("2026-12-07T09:00:00Z", "3 hours ago"),
        ("2026-12-07T13:00:00+03:00", "2 hours ago"),  # offsets count
        ("2026-12-06T11:00:00Z", "yesterday"),
        ("2026-12-01T12:00:00Z", "6 days ago"),
        ("2026-11-08T12:00:00Z", "29 days ago"),
        ("2026-11-07T12:00:00Z", "7 November 2026"),  # a month and more: the date itself
        ("2018-09-01T09:00:00Z", "1 September 2018"),
        ("2027-01-01T00:00:00Z", "1 January 2027"),  # a future date is no "ago"
        (None, ""),
    ],
)
def test_publication_times_read_as_how_long_ago(published, words):
    assert searchpage.relative_time(published, NOW) == words


def test_the_exact_time_is_in_utc():
    assert searchpage.exact_time("2018-09-01T12:00:00+03:00") == "1 September 2018, 09:00 UTC"


def test_aligned_words_are_marked_in_escaped_text():
    marked = searchpage.mark_spans("<b>ab</b> cd", [[3, 5], [4, 6], [10, 12]])
    assert isinstance(marked, Markup)
    assert marked == '&lt;b&gt;<mark class="aligned">ab&lt;</mark>/b&gt; <mark class="aligned">cd</mark>'


def test_sentence_rows_leave_titles_out_and_mark_the_counterpart():
    pair = {
        "field": "body",
        "matched": "en",
        "counterpart": "ar",
        "ar": MACHINE_AR,
        "en": MACHINE_EN,
        "ar_highlighted": MACHINE_AR,
        "en_highlighted": "The army confirmed that <mark>negotiations</mark> continue.",
        "alignment": [{"en": [24, 36], "ar": [[14, 23]]}],
    }
    title = {**pair, "field": "title"}
    (row,) = searchpage.sentence_rows({"sentences": [title, pair]})
    assert row.counterpart == "ar" and '<mark class="aligned">المفاوضات</mark>' in row.ar


def test_other_outlets_name_two_and_count_the_rest():
    hit = {
        "source": "BBC Arabic",
        "cluster_members": [{"source": s} for s in ("Al Arabiya", "BBC Arabic", "CNN Arabic", "Sky", "Al Arabiya")],
    }
    outlets = searchpage.other_outlets(hit)
    assert (outlets.named, outlets.more) == (["Al Arabiya", "CNN Arabic"], 1)
    assert searchpage.other_outlets({"source": "x", "cluster_members": [{"source": "x"}]}) is None


def test_page_and_dates_are_checked_in_the_users_words():
    with pytest.raises(searchpage.PageProblem, match="“two” is not a page number") as problem:
        searchpage.check_page_and_dates({"q": ["x"], "page": ["two"]})
    assert problem.value.fix_args == {"q": ["x"]}
    with pytest.raises(searchpage.PageProblem, match="write it as 2018-03-01, 2018-03 or 1 March 2018"):
        searchpage.check_page_and_dates({"q": ["x"], "from": ["31/02/2018"]})
    dated = searchpage.check_page_and_dates(
        {"q": ["x"], "page": ["3"], "from": ["2018-03-01"], "to": ["2018-03-31T10Z"]}
    )
    assert (dated["from"], dated["to"]) == (["2018-03-01"], ["2018-03-31T10Z"])
    months = searchpage.check_page_and_dates({"q": [""], "from": ["2018-05"], "to": ["1 June 2018"]})
    assert (months["from"], months["to"]) == (["2018-05-01"], ["2018-06-01"])  # a month and a day in words


def test_facet_values_keep_the_collections_order_and_stay_at_zero():
    collection = ["BBC Arabic", "CNN Arabic", "Al Arabiya"]
    options = searchpage.facet_options([{"value": "Al Arabiya", "count": 3}, {"value": "CNN Arabic", "count": 1}], [])
    assert [o.value for o in options] == ["Al Arabiya", "CNN Arabic"]  # without the collection's list: as counted
    options = searchpage.facet_options([{"value": "Al Arabiya", "count": 3}], ["CNN Arabic"], collection)
    assert [(o.value, o.count, o.checked) for o in options] == [
        ("BBC Arabic", 0, False),
        ("CNN Arabic", 0, True),
        ("Al Arabiya", 3, False),
    ]


def test_active_filters_each_drop_themselves():
    args = {"q": ["x"], "source": ["BBC Arabic", "CNN Arabic"], "from": ["2018-05"], "page": ["2"]}
    chips = searchpage.active_filters(args)
    assert [c.label for c in chips] == ["Source: BBC Arabic", "Source: CNN Arabic", "From: 2018-05"]
    assert chips[0].args == {"q": ["x"], "source": ["CNN Arabic"], "from": ["2018-05"]}
    assert chips[2].args == {"q": ["x"], "source": ["BBC Arabic", "CNN Arabic"]}
    assert searchpage.is_browse({"q": [""], "source": ["BBC Arabic"]})
    assert not searchpage.is_browse({"q": ["x"], "source": ["BBC Arabic"]}) and not searchpage.is_browse({"q": [""]})


def test_a_syntax_error_marks_its_token_and_offers_the_query_without_it():
    args = {"q": ["ceasefire AND"], "page": ["2"]}
    with pytest.raises(searchpage.QueryError) as raised:
        searchpage.query_parser.parse(args["q"][0])
    problem = searchpage.query_problem(raised.value, args)
    assert "“AND” at character 11" in problem.message
    assert problem.fix_args == {"q": ["ceasefire"]} and problem.fix_label == "Search for “ceasefire” instead"
    assert problem.marked_query == "ceasefire <mark>AND</mark>"
    assert searchpage.stop_words_only("the OR of") == ["the", "of"] and searchpage.stop_words_only("the army") == []


def test_titles_are_highlighted_and_a_title_only_match_says_so():
    pair = {"field": "body", "matched": "en", "ar": "أ", "en": "a", "ar_highlighted": "أ", "en_highlighted": "a"}
    hit = {
        "title": "<عنوان>",
        "title_en": "Talks",
        "title_en_highlighted": "<mark>Talks</mark>",
        "sentences": [{**pair, "field": "title", "position": 0}],
        "matched_by": ["words"],
        "sentences_matched": 1,
    }
    view = searchpage.hit_view(hit)
    assert view.title_en == "<mark>Talks</mark>" and view.title == "&lt;عنوان&gt;" and view.title_only
    rows = [{**pair, "position": p} for p in range(1, 6)]
    view = searchpage.hit_view({**hit, "sentences": rows, "sentences_matched": 12})
    assert not view.title_only and [r.position for r in view.rows] == [1, 2, 3, 4, 5] and view.shown == 2
    assert view.unlisted  # 12 matched, 5 carried: the article lists them all


def test_a_query_in_the_other_language_than_the_menu_says_is_noticed():
    assert searchpage.language_mix_up("الجيش", "en") == "ar"
    assert searchpage.language_mix_up("army", "ar") == "en"
    assert searchpage.language_mix_up("army", "en") is None and searchpage.language_mix_up("army", "auto") is None
    assert searchpage.language_mix_up("army الجيش", "en") is None  # each script searches its own side


def test_back_links_stay_on_this_site():
    assert safe_back("/?q=army&page=2", None) == "/?q=army&page=2"
    for target in ("//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "", None):
        assert safe_back(target, None) is None


def test_machine_wordings_are_shown_and_the_users_own_are_told_apart():
    searched = [
        {"lang": "en", "text": "health ministry", "by": "user"},
        {"lang": "ar", "text": "وزارة الصحة", "by": "machine"},
    ]
    (machine,) = searchpage.other_wordings(searched, None, None)
    assert (machine.language, machine.text, machine.by) == ("Arabic", "وزارة الصحة", "machine")
    own = [searched[0], {"lang": "ar", "text": "الوزارة", "by": "user"}]
    assert [w.by for w in searchpage.other_wordings(own, "الوزارة", None)] == ["user"]


# The real app, node and browser


@pytest.fixture(scope="module")
def corpus(client, alias):
    records = [
        {
            "id": doc_id,
            "source": source,
            "category": "middle_east",
            "date": f"{date}T09:00:00Z",
            "title": "وقف إطلاق النار في المدينة",
            "title_en": "Ceasefire in the city",
            "url": f"https://example.org/{doc_id}",
            "body": " ".join(ar for ar, _ in pairs),
            "sentences": [{"source": ar, "target": en} for ar, en in pairs],
        }
        for doc_id, source, date, pairs in VERSIONS
    ]
    records += [
        {
            "id": doc_id,
            "source": source,
            "category": category,
            "date": f"{date}T09:00:00Z",
            "title": ar,
            "title_en": "",
            "body": ar,
            "sentences": [{"source": ar, "target": en}],
        }
        for doc_id, source, category, date, ar, en in SINGLES
    ]
    records.append(
        {
            "id": "m-army",
            "source": "Asharq Al-Awsat",
            "category": "politics",
            "date": "2018-09-01T09:00:00Z",
            "title": "مفاوضات",
            "title_en": "Talks",
            "body": MACHINE_AR,
            "model": "opus-mt-ar-en-test",  # names its model: machine provenance
            "sentences": [{"source": MACHINE_AR, "target": MACHINE_EN}],
        }
    )
    report = ingest(
        enumerate(records), client, alias, pretranslated=True, cluster_threshold=Settings().cluster_threshold
    )
    assert report.indexed == len(records)
    stored = client.get(index=alias, id="m-army")["_source"]  # as an alignment-recording model would have stored it
    stored["sentences"] = [{**s, "alignment": MACHINE_ALIGNMENT} for s in stored["sentences"]]
    client.index(index=alias, id="m-army", body=stored)
    client.indices.refresh(index=alias)
    clusters = {v[0]: client.get(index=alias, id=v[0])["_source"]["cluster_id"] for v in VERSIONS}
    assert len(set(clusters.values())) == 1, clusters  # the four versions are one story
    return alias


@pytest.fixture(scope="module")
def web_app(search_settings, corpus):
    return create_app(replace(search_settings, opensearch_index=corpus, api_keys=(KEY,)))


@pytest.fixture(scope="module")
def site(web_app):
    with served(web_app) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP)
    blocked = []
    opened = context.new_page()
    opened.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    yield opened
    context.close()
    assert blocked == []  # every page here works under the CSP: no inline script or style


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def shot(page, name):
    keep_shot(page, f"search-{name}")


def hit(page, doc_id):
    return page.locator(f'.hit[data-id="{doc_id}"]')


def story_hit(page):
    return page.locator(".hit").filter(has=page.locator(".story-link"))


def test_hits_show_aligned_pairs_only_and_mark_the_counterpart_and_its_aligned_words(site, page):
    page.goto(f"{site}/?q=negotiations")
    machine = hit(page, "m-army")
    counterpart = machine.locator(".sentence .ar")
    expect(counterpart).to_have_class(re.compile(r"\bmatch\b.*\bcounterpart\b"))
    assert counterpart.locator("mark.aligned").all_inner_texts() == ["المفاوضات"]
    assert machine.locator(".sentence .en mark").all_inner_texts() == ["negotiations"]
    shot(page, "aligned-words")
    page.goto(f"{site}/?q=ceasefire")
    assert page.locator(".hit .pair:not(.sentence)").count() == 0  # no body snippet beside the Arabic title
    assert page.locator(".hit h2 mark").count() >= 1  # titles are highlighted (issue 21 item 3)
    first = story_hit(page).locator(".sentence").first
    assert first.locator(".en mark").first.inner_text().lower() == "ceasefire"
    assert "counterpart" in first.locator(".ar").get_attribute("class")
    shot(page, "results")


def test_each_hit_says_where_its_english_comes_from(site, page):
    page.goto(f"{site}/?q=army")
    assert hit(page, "m-army").locator(".provenance").inner_text() == "machine translation"
    assert story_hit(page).locator(".provenance").inner_text() == "human translation"
    expect(page.locator("#demo-banner")).to_contain_text("each result says where its English comes from")


def test_a_pinned_sentence_row_stays_lit_after_the_mouse_leaves(site, page):
    page.goto(f"{site}/articles/st-bbc")
    rows = page.locator(".aligned tbody tr")
    rows.nth(1).click()
    page.locator("h1").hover()
    expect(rows.nth(1)).to_have_class(re.compile(r"\bpinned\b"))
    expect(rows.nth(1).locator("td.en")).to_have_css("background-color", PINNED_BACKGROUND)
    rows.nth(2).hover()  # hovering another lights it, in a tint that can be seen, edged in the accent
    expect(rows.nth(2).locator("td.en")).to_have_css("background-color", "rgb(194, 218, 244)")
    expect(rows.nth(2).locator("td.en")).to_have_css("box-shadow", re.compile(r"rgb\(11, 92, 173\)"))
    expect(rows.nth(1).locator("td.en")).to_have_css("background-color", PINNED_BACKGROUND)


def test_facets_take_several_values_keep_other_counts_and_apply_on_change(site, page):
    page.goto(f"{site}/?q=ceasefire")
    page.locator("#filter-panel summary").click()  # folded over results until a filter is chosen (item 18)
    assert page.locator("#apply-filters").is_hidden()  # the script applies changes itself
    category = page.locator("#facet-category")
    assert "Middle East" in category.inner_text() and "middle_east" not in category.inner_text()
    with page.expect_navigation():  # and its scripts: the next checkbox applies itself through search.js
        page.get_by_role("checkbox", name=re.compile("^Al Arabiya")).check()
    expect(page).to_have_url(re.compile(r"source=Al\+Arabiya"))  # applied without pressing Search
    sources = page.locator("#facet-source")
    expect(sources.get_by_role("checkbox", name=re.compile("^Al Arabiya"))).to_be_checked()
    assert sources.get_by_role("checkbox").count() >= 4  # the other outlets are still offered, with counts
    expect(sources.locator("label", has_text="BBC Arabic").locator(".facet-count")).to_have_text("(2)")
    with page.expect_navigation():  # the whole results page, before its hits are counted
        sources.get_by_role("checkbox", name=re.compile("^BBC Arabic")).check()
    expect(page).to_have_url(re.compile(r"source=Al\+Arabiya&source=BBC\+Arabic|source=BBC.*source=Al"))
    assert {h.get_attribute("data-id") for h in page.locator(".hit").all()} <= {"st-bbc", "st-arabiya", "jul"}
    assert page.locator(".hit").count() == 2  # the story (in one of its two chosen outlets) and July's article
    shot(page, "facets")


def test_without_scripts_the_apply_button_applies_the_filters(site, browser):
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site}/?q=ceasefire")
    page.locator("#filter-panel summary").click()  # a details element: it opens without scripts
    page.get_by_role("checkbox", name=re.compile("^CNN Arabic")).check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"source=CNN\+Arabic"))
    assert {h.get_attribute("data-id") for h in page.locator(".hit").all()} <= {"st-cnn", "may"}
    context.close()


def test_a_query_in_the_other_language_is_noticed_not_answered_with_a_silent_zero(site, page):
    page.goto(f"{site}/?q=المفاوضات&lang=en")
    notice = page.locator("#language-mix-up")
    expect(notice).to_contain_text("written in Arabic, but Query language is set to English")
    with page.expect_navigation():
        notice.get_by_role("link", name="Search it as Arabic").click()
    expect(page).to_have_url(re.compile(r"lang=ar"))
    assert page.locator("#language-mix-up").count() == 0 and hit(page, "m-army").count() == 1


@pytest.mark.parametrize(
    ("path", "message", "fix"),
    [
        ("/?q=ceasefire&from=2018-06-01&to=2018-03-01", "The dates are the wrong way round", "Search with the dates"),
        ("/?q=ceasefire&size=1&page=99", "There is no page 99: the results end on page 3.", "Go to the last page (3)"),
        ("/?q=ceasefire&page=two", "“two” is not a page number", "Go to the first page"),
        ("/?q=ceasefire&from=1.3.2018", "is not a date the search understands", "Search without the From date"),
    ],
)
def test_errors_say_what_to_change_in_the_users_words_with_a_link_that_does_it(site, page, path, message, fix):
    answer = page.goto(f"{site}{path}")
    assert answer.status == 400
    expect(page.locator("#search-error")).to_contain_text(message)
    assert "Page 99 of" not in page.locator("main").inner_text()
    expect(page.locator("#search-fix")).to_contain_text(fix)
    page.locator("#search-fix").click()  # the link fixes the search
    expect(page.locator("#result-count")).to_be_visible()
    assert page.locator("#search-error").count() == 0


def test_pages_count_stories_when_the_search_groups_them(site, page):
    page.goto(f"{site}/?q=ceasefire&size=2")
    expect(page.locator("#result-count")).to_contain_text("6 articles in 3 stories")
    expect(page.locator(".pages span")).to_have_text("Page 1 of 2")
    with page.expect_navigation():
        page.get_by_role("link", name="Next →").click()
    assert page.locator(".hit").count() == 1 and page.locator("#search-error").count() == 0


def test_a_story_is_one_result_with_its_outlets_a_story_page_and_a_toggle(site, page):
    page.goto(f"{site}/?q=ceasefire")
    story = story_hit(page)
    assert story.count() == 1 and page.locator(".hit").count() == 3
    expect(story.locator(".story")).to_have_text(re.compile(r"^Also in: [^,]+, [^(]+ \(\+1\) · all 4 versions"))
    story.locator(".story-link").click()
    expect(page).to_have_url(re.compile(r"/stories/st-"))
    versions = page.locator("#story-versions .version")
    assert versions.locator(".outlet").all_inner_texts() == [v[1] for v in VERSIONS]  # oldest first, every outlet
    assert versions.locator("time").first.get_attribute("datetime").startswith("2018-03-01T09:00")
    expect(page.locator("#story-summary")).to_contain_text("4 versions of this story, from 4 outlets")
    shot(page, "story")
    page.locator("#back-to-results").click()
    expect(page).to_have_url(re.compile(r"/\?q=ceasefire$"))
    with page.expect_navigation():  # and its scripts: the checkbox below applies itself through search.js
        page.locator("#show-every-article").click()
    expect(page.locator(".hit")).to_have_count(6)
    assert page.locator(".story-link").count() == 0
    page.locator("#filter-panel summary").click()
    page.get_by_role("checkbox", name=re.compile("^Sky News Arabia")).check()  # the choice keeps every article
    expect(page).to_have_url(re.compile(r"collapse=false"))
    assert page.goto(f"{site}/stories/no-such-story").status == 404


def test_hit_links_carry_the_query_and_the_way_back(site, page):
    page.goto(f"{site}/?q=negotiations")
    href = hit(page, "m-army").locator("h2 a").get_attribute("href")
    assert href.startswith("/articles/m-army?") and "q=negotiations" in href
    assert "back=/?q%3Dnegotiations" in href or "back=%2F%3Fq%3Dnegotiations" in href


def test_what_was_searched_is_shown_under_the_box_and_can_be_edited(site, page):
    page.goto(f"{site}/?q=negotiations")
    searched = page.locator("#searched")
    expect(searched).to_contain_text("Arabic side not searched")  # the session's English→Arabic model is a demo
    refine = page.locator("#refine")  # the forms come after the results (item 18: no tab stops before them)
    refine.get_by_text("Search it in your own Arabic").click()
    refine.get_by_label("Your Arabic for the query").fill("الجيش")
    with page.expect_navigation():  # and its scripts: the sort menu below applies itself through search.js
        refine.get_by_role("button", name="Search with this Arabic").click()
    wording = page.locator('#searched .wording[data-lang="ar"]')
    expect(wording).to_contain_text("Also searched in Arabic: “الجيش” (your wording)")
    assert story_hit(page).count() == 1  # found by the Arabic wording: the story's English has no "negotiations"
    page.locator("#filter-panel summary").click()
    page.get_by_label("Sort").select_option("date")  # a filter change keeps the wording
    expect(page).to_have_url(re.compile(r"sort=date"))
    expect(wording).to_contain_text("“الجيش” (your wording)")
    page.get_by_label("Search Arabic news in English or Arabic").fill("truce")
    page.get_by_role("button", name="Search", exact=True).click()  # a new query drops it
    expect(page).to_have_url(re.compile(r"q=truce"))
    assert page.locator('#searched .wording[data-by="user"]').count() == 0


# The timeline (issue 21 item 6): the "ceasefire" results span 1 March – 20 July 2018, so they are counted by week.
CEASEFIRE_WEEKS = ["2018-02-26", "2018-03-05", "2018-05-07", "2018-07-16"]  # the weeks with matches, from Monday


@pytest.fixture(params=["desktop", "phone"])
def window(browser, request):
    """A page at 1440×900, or on a touch phone at 390×844."""
    with tab_at(browser, request.param, DESKTOP if request.param == "desktop" else PHONE) as opened:
        yield opened


def timeline_shot(page, name):
    keep_shot(page, f"timeline-{name}-{page.width_name}")


def test_the_timeline_counts_by_week_with_labels_and_counts_on_hover_and_focus(site, window):
    window.goto(f"{site}/?q=ceasefire")
    timeline_shot(window, "weeks")
    expect(window.locator("#timeline figcaption")).to_contain_text("Matching articles per week, 26 February 2018")
    bars = window.locator("#timeline a.bar")
    assert [b.get_attribute("data-from") for b in bars.all()] == CEASEFIRE_WEEKS
    assert [b.get_attribute("data-count") for b in bars.all()] == ["3", "1", "1", "1"]
    assert window.locator("#timeline .bar").count() == 21  # empty weeks are gaps
    expect(bars.first).to_have_accessible_name("3 articles, week of 26 February 2018")
    ticks = [t for t in window.locator("#timeline .tick").all_inner_texts() if t.strip()]
    assert ticks[0] == "26 Feb" and len(ticks) >= 3  # the axis is labelled
    single = bars.nth(1).locator(".fill").bounding_box()
    assert single["height"] >= 10  # a one-article week beside a three-article one is no sliver
    count = bars.first.locator(".bar-count")
    expect(count).to_be_hidden()
    bars.first.focus()  # a keyboard user sees the count too
    expect(count).to_be_visible()
    expect(count).to_have_text("3")
    if window.width_name == "desktop":
        bars.nth(2).hover()
        expect(bars.nth(2).locator(".bar-count")).to_be_visible()
    else:  # tap targets of at least 24 px, and the page itself never scrolls sideways
        for target in [*bars.all(), *window.locator("#timeline-presets a").all()]:
            box = target.bounding_box()
            assert box["width"] >= 24 and box["height"] >= 24, target.inner_text()
        assert window.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_bar_narrows_to_its_week_and_the_timeline_keeps_the_rest_greyed(site, window):
    window.goto(f"{site}/?q=ceasefire")
    with window.expect_navigation():
        window.locator("#timeline a.bar").first.click()
    expect(window).to_have_url(re.compile(r"from=2018-02-26&to=2018-03-04"))
    expect(window.locator("#result-count")).to_contain_text("3 articles in 1 story")
    expect(window.locator("#timeline .bar")).to_have_count(21)  # not collapsed to one bar
    expect(window.locator("#timeline a.bar.outside")).to_have_count(3)
    expect(window.locator("#timeline a.bar[aria-current]")).to_have_attribute("data-from", "2018-02-26")
    expect(window.locator("#timeline-chosen")).to_have_text("showing 26 February 2018 – 4 March 2018")
    timeline_shot(window, "chosen")
    assert axe_violations(window) == []
    window.locator("#all-dates").click()
    expect(window).not_to_have_url(re.compile(r"from="))
    expect(window.locator("#timeline a.bar.outside")).to_have_count(0)
    expect(window.locator("#result-count")).to_contain_text("6 articles in 3 stories")


def test_a_dragged_range_of_bars_searches_those_weeks(site, window):
    window.goto(f"{site}/?q=ceasefire")
    first, last = window.locator("#timeline .bar").nth(0), window.locator("#timeline .bar").nth(10)
    start, end = first.bounding_box(), last.bounding_box()
    window.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    window.mouse.down()
    window.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    expect(window.locator("#timeline .bar.brushed")).to_have_count(11)
    with window.expect_navigation():
        window.mouse.up()
    expect(window).to_have_url(re.compile(r"from=2018-02-26&to=2018-05-13"))
    expect(window.locator("#result-count")).to_contain_text("5 articles in 2 stories")


@pytest.mark.parametrize("scripts", [True, False])
def test_presets_end_at_the_newest_match_when_the_collection_is_older_and_need_no_script(site, browser, scripts):
    for viewport in (DESKTOP, PHONE):
        context = browser.new_context(viewport=viewport, java_script_enabled=scripts)
        page = context.new_page()
        page.width_name = f"{viewport['width']}{'' if scripts else '-noscript'}"
        page.goto(f"{site}/?q=ceasefire")
        expect(page.locator("#timeline-anchor")).to_have_text(
            "The newest match is from 20 July 2018, so these end there:"
        )
        with page.expect_navigation():
            page.get_by_role("link", name="Last 7 days").click()
        expect(page).to_have_url(re.compile(r"from=2018-07-13T09(:|%3A)00Z&to=2018-07-20"))
        assert [h.get_attribute("data-id") for h in page.locator(".hit").all()] == ["jul"]
        expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "true")
        expect(page.locator("#timeline .bar")).to_have_count(21)
        if scripts:  # on a phone the bars scroll in their box: the chosen week is brought into view
            shown = page.locator("#timeline-bars").bounding_box()
            current = page.locator("#timeline a.bar[aria-current]").bounding_box()
            assert shown["x"] <= current["x"] and current["x"] + current["width"] <= shown["x"] + shown["width"]
        timeline_shot(page, "preset")
        context.close()


def test_hits_say_when_in_words_with_the_exact_time_in_the_markup(site, window):
    window.goto(f"{site}/?q=negotiations")
    published = hit(window, "m-army").locator("time.published")
    expect(published).to_have_attribute("datetime", re.compile(r"^2018-09-01T09:00:00"))
    expect(published).to_have_attribute("title", "1 September 2018, 09:00 UTC")
    expect(published).to_have_text("1 September 2018")  # older than a month: the date; "3 hours ago" when recent


def test_on_a_phone_the_results_come_first_and_the_page_never_scrolls_sideways(site, phone):
    phone.goto(f"{site}/?q=ceasefire")
    expect(phone.locator("#filter-panel")).not_to_have_attribute("open", "")  # the results come first on a phone
    phone.locator("#filter-panel summary").click()
    expect(phone.get_by_role("checkbox", name=re.compile("^BBC Arabic"))).to_be_visible()
    too_wide = phone.evaluate(  # the timeline's bars scroll in their own box, which fits
        "[...document.querySelectorAll('body *')].filter(e => !e.closest('#timeline-bars'))"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + '.' + e.className)"
    )
    assert too_wide == [] and phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "results-phone")


def test_the_start_page_shows_the_collection_its_top_stories_and_the_syntax(site, page, phone):
    page.goto(site)
    expect(page.locator("#collection-figures")).to_have_text(
        re.compile(r"7 articles\s+from 5 sources, published 2018-03-01 to 2018-09-01\.")
    )
    expect(page.locator("#top-period")).to_contain_text(  # 2018's news: the newest days with articles, said
        "the 3 newest days with articles, 10 May 2018 to 1 September 2018"
    )
    top = page.locator("#top-stories .top-story")
    expect(top).to_have_count(3)  # one story a day there; March's four versions are older
    assert top.first.locator("h3").inner_text().startswith("Talks")
    expect(page.locator("#query-help")).to_contain_text('"a phrase"')
    assert page.locator("h1").count() == 1
    shot(page, "start")
    phone.goto(site)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "start-phone")


def test_the_result_list_downloads_as_csv_with_the_same_search(site, page):
    page.goto(f"{site}/?q=ceasefire&source=BBC+Arabic")
    link = page.locator("#export-csv")
    assert link.get_attribute("href").startswith("/api/v1/search?") and "format=csv" in link.get_attribute("href")
    with page.expect_download() as downloaded:
        link.click()
    rows = list(csv.DictReader(io.StringIO(Path(downloaded.value.path()).read_text(encoding="utf-8-sig"))))
    assert sorted(r["id"] for r in rows) == sorted(h.get_attribute("data-id") for h in page.locator(".hit").all())


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_csv_holds_every_result_with_provenance_and_opens_in_excel(site, page, phone, width):
    tab = page if width == "desktop" else phone
    tab.goto(f"{site}/?q=ceasefire&collapse=false&size=2")
    total = int(re.match(r"\d+", tab.locator("#result-count").inner_text()).group())
    assert total > 2 and tab.locator(".hit").count() == 2  # more results than the page shows
    link = tab.locator("#export-csv")
    expect(link).to_have_text(f"Download all {total} as CSV")
    with tab.expect_download() as downloaded:
        link.click()
    assert re.fullmatch(r"search-ceasefire-\d{4}-\d\d-\d\d\.csv", downloaded.value.suggested_filename)
    raw = Path(downloaded.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Arabic as UTF-8, not mojibake
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == total  # the whole result set, not the page
    assert {r["translation"] for r in rows} <= {"human", "machine"} and "0.0" not in {r["translation"] for r in rows}
    assert all(r["category"] and r["article_link"].endswith(f"/articles/{r['id']}") for r in rows)
    assert any(r["matched_en"] and r["matched_ar"] for r in rows)  # the evidence, beside the title
    keep_shot(tab, f"jobs21-search-csv-link-{width}")


def test_under_read_requires_key_the_csv_link_is_keyed_like_the_page(search_settings, corpus):
    """Pages get the key from a proxy in front (README, Security model); the CSV link goes through the same proxy."""
    web = create_app(
        replace(search_settings, opensearch_index=corpus, api_keys=(KEY,), read_requires_key=True)
    ).test_client()
    auth = {"X-API-Key": KEY}
    page = web.get("/?q=ceasefire&wording_for=x", headers=auth)
    href = re.search(r'id="export-csv" href="([^"]+)"', page.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert "wording_for" not in href
    assert web.get(href).status_code == 401
    answer = web.get(href, headers=auth)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"


class FixedEnglishToArabic:
    """A real-looking English→Arabic model that always answers the same words (search caches by model)."""

    demo = False
    model_id = "fixed-en-ar"

    def translate(self, texts, **decoding):
        return [SimpleNamespace(target="المفاوضات") for _ in texts]


def test_a_machine_translation_of_the_query_is_shown_under_the_box_and_editable(search_settings, corpus):
    app = create_app(replace(search_settings, opensearch_index=corpus, api_keys=(KEY,)))
    services_of(app).reverse_translator = FixedEnglishToArabic()
    html = app.test_client().get("/?q=discussions").get_data(as_text=True)
    searched = re.search(r'<div class="searched" id="searched">.*?</div>\s*</div>', html, re.DOTALL).group(0)
    assert re.search(r"Also searched in Arabic:\s*“<span[^>]*>المفاوضات</span>”\s*\(machine translation\)", searched)
    refine = re.search(r'<section class="refine" id="refine".*?</section>', html, re.DOTALL).group(0)
    assert re.search(r'<input name="q_ar" value="المفاوضات"', refine)  # its Edit form starts from it
    assert 'data-id="m-army"' in html  # found by the Arabic side alone: no English text says "discussions"
