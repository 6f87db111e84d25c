"""Issue 21, items 1 and 22: top stories on the start page, a story page worth opening (who reported first, its
pace, each version's lead and what it adds or drops, related stories, the way back), browsing by source, category
and date without a query, and the story a search hit or an article belongs to. Debian's chromium at desktop
(1440x900) and phone (390x844) widths, against the real app and OpenSearch node, axe-core clean."""

import datetime as dt
import re
from dataclasses import replace

import pytest
from browsing import CHROMIUM, expect, served
from browsing import shot as keep_shot
from test_ui_accessibility import axe_violations

from service.config import Settings
from service.ingest import ingest
from service.web import create_app

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (make test installs it)")

QUAKE = [  # one wire story's sentences (Arabic, English)
    (
        "ضرب زلزال بقوة ست درجات جنوب البلاد فجر اليوم.",
        "An earthquake of magnitude six struck the south of the country at dawn.",
    ),
    (
        "وقالت هيئة الأرصاد إن مركز الزلزال كان على عمق عشرة كيلومترات.",
        "The meteorological authority said the quake's centre was ten kilometres deep.",
    ),
    (
        "وأعلنت فرق الإنقاذ انتشال عشرات الناجين من تحت الأنقاض.",
        "Rescue teams announced they had pulled dozens of survivors from the rubble.",
    ),
    (
        "ودعت الحكومة السكان إلى الابتعاد عن المباني المتضررة.",
        "The government urged residents to stay away from damaged buildings.",
    ),
    ("وأرسلت الدول المجاورة فرق مساعدة إلى المنطقة.", "Neighbouring countries sent aid teams to the region."),
]
WITNESSES = (
    "وقال شهود إن الهزة شعر بها سكان العاصمة أيضا.",
    "Witnesses said residents of the capital also felt the tremor.",
)
TWELVE = (
    "وقالت هيئة الأرصاد إن مركز الزلزال كان على عمق اثني عشر كيلومترا.",
    "The meteorological authority said the quake's centre was twelve kilometres deep.",
)
# id, outlet, hours before now, English title, sentences: the first report, a copy, one that adds a sentence, one
# that rewords one and drops another, and a late copy; five outlets within six hours: breaking
QUAKE_VERSIONS = [
    ("q-bbc", "BBC Arabic", 5, "Earthquake strikes the south", QUAKE),
    ("q-arabiya", "Al Arabiya", 4, "Strong earthquake hits the south", QUAKE),
    ("q-cnn", "CNN Arabic", 2, "Earthquake in the south: survivors pulled out", [*QUAKE, WITNESSES]),
    ("q-sky", "Sky News Arabia", 0.8, "Magnitude six quake in the south", [QUAKE[0], TWELVE, QUAKE[2], QUAKE[3]]),
    ("q-f24", "France 24 Arabic", 0.3, "Earthquake: rescue teams at work", QUAKE),
]
BUDGET = [
    (
        "أقر البرلمان الموازنة العامة للعام المقبل بعد نقاش طويل.",
        "Parliament approved next year's general budget after a long debate.",
    ),
    (
        "وقال وزير المالية إن العجز سينخفض إلى ثلاثة في المئة.",
        "The finance minister said the deficit would fall to three percent.",
    ),
    (
        "وانتقدت المعارضة خفض الإنفاق على الصحة والتعليم.",
        "The opposition criticised cuts to health and education spending.",
    ),
]
AFTERSHOCK = (
    "هزت توابع الزلزال المنطقة المنكوبة بينما واصلت فرق الإنقاذ البحث بين الأنقاض.",
    "Aftershocks of the earthquake shook the stricken area as rescue teams kept searching the rubble.",
)
OLD_MATCH = (
    "خسر الفريق المباراة النهائية أمام ضيفه بثلاثة أهداف.",
    "The team lost the final to its guest by three goals.",
)
FOOTBALL = (
    "فاز المنتخب الوطني على منافسه بهدفين نظيفين في مباراة ودية.",
    "The national team beat its rival two-nil in a friendly.",
)


def record(doc_id, source, published, title_en, pairs, category="middle_east", title_ar=None) -> dict:
    return {
        "id": doc_id,
        "source": source,
        "category": category,
        "date": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "title": title_ar or pairs[0][0][:30],
        "title_en": title_en,
        "url": f"https://example.org/{doc_id}",
        "body": " ".join(ar for ar, _ in pairs),
        "sentences": [{"source": ar, "target": en} for ar, en in pairs],
    }


@pytest.fixture(scope="module")
def corpus(client, alias):
    now = dt.datetime.now(dt.UTC)
    records = [
        record(doc_id, source, now - dt.timedelta(hours=hours), title, pairs, title_ar="زلزال يضرب جنوب البلاد")
        for doc_id, source, hours, title, pairs in QUAKE_VERSIONS
    ]
    records += [
        record("b-bbc", "BBC Arabic", now - dt.timedelta(hours=10), "Parliament passes the budget", BUDGET, "economy"),
        record("b-sky", "Sky News Arabia", now - dt.timedelta(hours=9), "Budget approved", BUDGET, "economy"),
        record("aftershock", "Asharq Al-Awsat", now - dt.timedelta(hours=1), "Aftershocks", [AFTERSHOCK]),
        record("football", "Al Arabiya", now - dt.timedelta(hours=3), "", [FOOTBALL], "sport", title_ar="فوز المنتخب"),
        record(
            "old-sport", "BBC Arabic", dt.datetime(2018, 1, 5, 9, tzinfo=dt.UTC), "An old match", [OLD_MATCH], "sport"
        ),
    ]
    report = ingest(
        enumerate(records), client, alias, pretranslated=True, cluster_threshold=Settings().cluster_threshold
    )
    assert report.indexed == len(records)
    client.indices.refresh(index=alias)
    clusters = {doc_id: client.get(index=alias, id=doc_id)["_source"]["cluster_id"] for doc_id, *_ in QUAKE_VERSIONS}
    assert len(set(clusters.values())) == 1, clusters  # the five versions are one story
    assert client.get(index=alias, id="old-sport")["_source"]["cluster_id"] != "football"  # 2018's is its own
    return alias


@pytest.fixture(scope="module")
def site(search_settings, corpus):
    with served(create_app(replace(search_settings, opensearch_index=corpus))) as url:
        yield url


@pytest.fixture(params=list(VIEWPORTS))
def page(browser, request):
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    blocked = []
    tab = context.new_page()
    tab.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    tab.width_name = request.param
    yield tab
    context.close()
    assert blocked == []


def shot(page, name):
    keep_shot(page, f"stories/{name}-{page.width_name}")


def fits_the_screen(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_the_start_page_ranks_top_stories_and_offers_browsing_examples_and_a_word_on_the_english(site, page):
    page.goto(site)
    expect(page.locator("#top-period")).to_contain_text("Stories of the last 24 hours")
    stories = page.locator("#top-stories .top-story")
    expect(stories).to_have_count(4)  # the quake, the budget, the aftershock, the football; 2018 is out of the window
    quake = stories.first
    expect(quake.locator("h3")).to_contain_text("Earthquake strikes the south")  # the first report's title
    expect(quake.locator(".breaking-badge")).to_have_text("Breaking")  # five outlets within the last six hours
    expect(quake.locator(".size")).to_have_text("5 articles")
    expect(quake.locator(".outlets")).to_have_text("5 outlets")
    for outlet in ("BBC Arabic", "Al Arabiya", "France 24 Arabic"):
        expect(quake.locator(".meta")).to_contain_text(outlet)
    expect(quake.locator("time")).to_have_text("5 hours ago")
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d", quake.locator("time").get_attribute("datetime"))
    expect(stories.nth(1)).to_contain_text("Parliament passes the budget")  # two outlets before one
    expect(stories.nth(1).locator(".breaking-badge")).to_have_count(0)
    expect(page.locator("#top-stories bdi[lang=ar]")).to_have_text("فوز المنتخب")  # no English title: the Arabic

    expect(page.locator("#machine-note")).to_contain_text("machine translation")
    examples = page.locator("#example-searches a")
    assert examples.count() >= 4 and page.locator("#example-searches a[lang=ar]").count() >= 1
    expect(page.locator("#browse-categories")).to_contain_text("Economy")
    expect(page.locator("#collection-timeline a.bar").first).to_be_visible()
    fits_the_screen(page)
    shot(page, "start")
    assert axe_violations(page) == []

    quake.locator("h3 a").click()
    expect(page).to_have_url(re.compile(r"/stories/"))
    expect(page.locator("#story-versions .version")).to_have_count(5)


def test_browsing_by_source_category_and_date_needs_no_query(site, page):
    page.goto(site)
    page.locator("#browse-sources").get_by_role("link", name="BBC Arabic").click()
    expect(page).to_have_url(re.compile(r"\?q=&source=BBC\+Arabic$"))
    expect(page.locator("#browsing")).to_contain_text("newest first")
    hits = page.locator(".hit")
    expect(hits).to_have_count(3)  # the quake's first report, the budget's, and 2018's match: newest first
    assert [hit.get_attribute("data-id") for hit in hits.all()] == ["q-bbc", "b-bbc", "old-sport"]
    expect(page.locator("#export-csv")).to_have_attribute("href", re.compile(r"^/browse\.csv\?"))  # the listing
    expect(page.locator("#save-search summary")).to_have_text("Save this search")  # a source can be followed
    fits_the_screen(page)
    shot(page, "browse-source")
    assert axe_violations(page) == []

    page.goto(f"{site}/?q=&category=sport")
    assert [hit.get_attribute("data-id") for hit in page.locator(".hit").all()] == ["football", "old-sport"]
    page.goto(f"{site}/?q=&from=2018-01-01&to=2018-01-31")
    assert [hit.get_attribute("data-id") for hit in page.locator(".hit").all()] == ["old-sport"]
    assert page.locator("#save-search").count() == 0  # dates alone would follow every article
    assert page.goto(f"{site}/?q=&from=yesterday").status == 400  # a bad date is said, not ignored


def test_a_search_hit_shows_its_story_by_the_title_and_the_story_page_compares_the_versions(site, page):
    page.goto(f"{site}/?q=earthquake")
    story_hit = page.locator(".hit").filter(has=page.locator(".story-link"))
    expect(story_hit).to_have_count(1)
    story_line = story_hit.locator(".story").bounding_box()
    first_pair = story_hit.locator(".sentence").first.bounding_box()
    assert story_line["y"] < first_pair["y"]  # by the title, not under the snippets
    expect(story_hit.locator(".story-link")).to_have_text("all 5 versions of this story")
    shot(page, "search")
    story_hit.locator(".story-link").click()
    expect(page).to_have_url(re.compile(r"/stories/"))

    expect(page.locator("#first-report")).to_contain_text("First reported by BBC Arabic")
    expect(page.locator("#first-report time")).to_have_text("5 hours ago")
    expect(page.locator("#first-report")).to_contain_text("the latest version came 4 hours later, from France 24")
    expect(page.locator("#story-timeline .bar")).not_to_have_count(0)
    versions = page.locator("#story-versions .version")
    assert versions.locator(".outlet").all_inner_texts() == [v[1] for v in QUAKE_VERSIONS]
    expect(versions.first.locator(".badge")).to_have_text("First report")
    expect(versions.first.locator(".lead")).to_contain_text("An earthquake of magnitude six")
    expect(versions.nth(1).locator(".after")).to_have_text("+1 hour")
    expect(versions.nth(1).locator(".changes")).to_have_text("Same text as the first report.")
    cnn, sky = versions.nth(2), versions.nth(3)
    expect(cnn.locator(".changes summary")).to_have_text("Adds 1 sentence")
    expect(cnn.locator("ins")).to_contain_text("Witnesses said")
    expect(sky.locator(".changes summary")).to_have_text("Rewords 1, drops 1")
    sky.locator(".changes summary").click()
    expect(sky.locator(".reworded ins")).to_have_text("twelve")
    expect(sky.locator(".reworded del")).to_have_text("ten")
    expect(sky.locator(".dropped del")).to_contain_text("Neighbouring countries")
    expect(page.locator("#related-stories")).to_contain_text("Aftershocks")

    boxes = [versions.nth(n).bounding_box() for n in range(2)]
    if page.width_name == "desktop":  # side by side
        assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"]
    else:  # stacked, and compact: was 4,195 px for five versions
        assert boxes[0]["x"] == boxes[1]["x"] and boxes[0]["y"] < boxes[1]["y"]
        assert page.evaluate("document.documentElement.scrollHeight") < 2600
    fits_the_screen(page)
    shot(page, "story")
    assert axe_violations(page) == []
    assert page.locator("h1").count() == 1

    versions.nth(2).locator("h3 a").click()
    expect(page).to_have_url(re.compile(r"/articles/q-cnn"))
    shot(page, "article")
    page.locator("#story-link").click()  # from an article to its story
    expect(page.locator("#story-versions .version")).to_have_count(5)
    page.locator("#back-to-results").click()  # the way back keeps the query
    expect(page).to_have_url(re.compile(r"/\?q=earthquake$"))
