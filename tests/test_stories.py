"""The pure parts of top stories and the story page: the period, breaking, the ranking, the versions' differences
against the first report, "3 hours ago", the timelines, and the browse request's body."""

import datetime as dt

from service.search import topstories
from service.search.body import browse_body
from service.search.request import SearchRequest
from service.search.topstories import Period, choose_period, is_breaking, rank
from service.search.versions import compare, lead, word_changes
from service.web.storypage import after, ago, collection_timeline, story_timeline, version_views

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def test_a_live_period_is_the_narrowest_with_enough_articles():
    assert choose_period(NOW, {24: 3, 72: 9, 168: 9}, []) == Period(NOW - dt.timedelta(hours=24), NOW, live=True)
    assert choose_period(NOW, {24: 1, 72: 4, 168: 9}, []).start == NOW - dt.timedelta(hours=72)
    assert choose_period(NOW, {24: 1, 72: 4}, []).description == "the last 3 days"


def test_an_old_collection_gets_its_newest_days_with_articles_and_says_so():
    days = [dt.datetime(2018, 5, d, tzinfo=dt.UTC) for d in (14, 9, 2, 1)]  # newest first
    period = choose_period(NOW, {24: 0, 72: 0, 168: 0}, days)
    assert period.start == days[2] and period.end == dt.datetime(2018, 5, 15, tzinfo=dt.UTC) and not period.live
    assert period.description.startswith("the 3 newest days with articles, 2 May 2018 to 14 May 2018")
    assert "14 May 2018, the newest day" in choose_period(NOW, {}, days[:1]).description
    assert choose_period(NOW, {}, []) is None  # nothing dated


def test_breaking_is_a_story_growing_fast_now_not_an_old_one_with_a_late_trickle():
    assert is_breaking(size=5, new_articles=5)
    assert is_breaking(size=6, new_articles=3)
    assert not is_breaking(size=2, new_articles=2)  # too few new articles
    assert not is_breaking(size=20, new_articles=4)  # most of it is old news


def test_stories_rank_by_outlets_then_growth_then_size():
    def story(name, outlets, new, size):
        return {"cluster_id": name, "outlets": outlets, "new": new, "size": size, "last_seen": "2018-01-01"}

    ranked = rank([story("one", 1, 9, 9), story("wide", 4, 0, 4), story("fast", 2, 3, 3), story("slow", 2, 0, 5)])
    assert [s["cluster_id"] for s in ranked] == ["wide", "fast", "slow", "one"]


def test_top_stories_are_parsed_with_their_lead_outlets_and_breaking():
    bucket = {
        "key": "c1",
        "doc_count": 4,
        "outlets": {"value": 3},
        "sources": {"buckets": [{"key": "BBC Arabic"}, {"key": "Al Arabiya"}]},
        "first": {"value_as_string": "2026-12-07T08:00:00.000Z"},
        "last": {"value_as_string": "2026-12-07T11:00:00.000Z"},
        "recent": {"doc_count": 4},
        "lead": {"hits": {"hits": [{"_id": "a1", "_source": {"title_en": "Quake"}}]}},
    }
    (story,) = topstories.parse_top_stories({"aggregations": {"stories": {"buckets": [bucket]}}})
    assert story["lead"] == {"id": "a1", "title_en": "Quake"} and story["breaking"] and story["outlets"] == 3
    assert story["sources"] == ["BBC Arabic", "Al Arabiya"] and story["first_seen"].startswith("2026-12-07T08")
    body = topstories.top_stories_body(Period(NOW - dt.timedelta(hours=24), NOW, live=True))
    assert body["query"]["range"]["published"] == {"gte": "2026-12-06T12:00:00Z", "lte": "2026-12-07T12:00:00Z"}
    assert body["aggs"]["stories"]["aggs"]["recent"]["filter"]["range"]["published"]["gte"] == "2026-12-07T06:00:00Z"


FIRST = [
    "A quake struck the south.",
    "The centre was ten kilometres deep.",
    "Rescuers pulled out survivors.",
    "Aid came.",
]


def test_a_copy_is_identical_to_the_first_report():
    assert compare(FIRST, list(FIRST)).identical


def test_a_version_adds_rewords_and_drops_sentences_against_the_first_report():
    version = [FIRST[0], "The centre was twelve kilometres deep.", FIRST[2], "Witnesses felt the tremor."]
    diff = compare(FIRST, version)
    assert [(p.kind, p.text) for p in diff.pieces if p.kind != "reworded"] == [
        ("same", FIRST[0]),
        ("same", FIRST[2]),
        ("added", "Witnesses felt the tremor."),
        ("dropped", "Aid came."),
    ]
    (reworded,) = [p for p in diff.pieces if p.kind == "reworded"]
    assert ("dropped", "ten") in reworded.words and ("added", "twelve") in reworded.words
    assert (diff.count("added"), diff.count("dropped"), diff.count("reworded")) == (1, 1, 1)


def test_an_unrelated_sentence_is_added_not_a_rewording():
    diff = compare(["The army announced a ceasefire."], ["Markets rose sharply on Monday."])
    assert [p.kind for p in diff.pieces] == ["added", "dropped"]


def test_word_changes_keep_reading_order():
    assert word_changes("the centre was ten km deep", "the centre was twelve km deep") == (
        ("same", "the centre was"),
        ("dropped", "ten"),
        ("added", "twelve"),
        ("same", "km deep"),
    )


def test_the_lead_is_the_first_body_sentence_not_the_title():
    sentences = [{"field": "title", "en": "Title"}, {"field": "body", "en": "Lead.", "ar": "مقدمة."}]
    assert lead(sentences) == "Lead." and lead(sentences, "ar") == "مقدمة." and lead([]) == ""


def test_version_views_compare_every_version_with_the_oldest():
    def version(when, texts):
        return {"published": when, "sentences": [{"field": "body", "en": t} for t in texts]}

    views = version_views([version("2026-12-07T08:00:00Z", FIRST), version("2026-12-07T10:30:00Z", FIRST[:3])])
    assert views[0].first and views[0].lead == FIRST[0] and views[0].diff.identical
    assert views[1].after == "+2 hours" and views[1].diff.count("dropped") == 1


def test_ago_and_after_say_time_in_its_largest_unit():
    assert ago("2026-12-07T09:00:00Z", NOW) == "3 hours ago"
    assert ago("2026-12-07T11:00:00+00:00", NOW) == "1 hour ago"
    assert ago("2026-12-07T11:59:30Z", NOW) == "just now"
    assert ago("2018-05-14T08:00:00Z", NOW) == "8 years ago"
    assert ago(None, NOW) == "no date" and ago("not a date", NOW) == "no date"
    assert after("2026-12-07T10:00:00Z", "2026-12-07T09:00:00Z") == "+1 hour"
    assert after("2026-12-09T10:00:00Z", "2026-12-07T09:00:00Z") == "+2 days"


def test_a_story_timeline_counts_hours_with_the_empty_ones_between():
    bars = story_timeline(["2026-12-07T07:10:00Z", "2026-12-07T07:50:00Z", "2026-12-07T10:05:00Z", None])
    assert [b.count for b in bars] == [2, 0, 0, 1]
    assert bars[0].height == 100 and bars[-1].height == 50 and bars[0].label == "7 Dec 07:00"
    days = story_timeline(["2026-12-01T07:00:00Z", "2026-12-04T07:00:00Z"])
    assert [b.count for b in days] == [1, 0, 0, 1] and days[0].label == "1 Dec 2026"
    assert [b.label for b in story_timeline(["2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"])][-1] == "Apr 2026"


def test_the_collection_timeline_links_each_bar_to_its_dates():
    start = dt.datetime(2018, 2, 1, tzinfo=dt.UTC)
    (month,) = collection_timeline([{"start": start, "count": 3}], "1M")
    assert (month.start, month.end, month.label) == ("2018-02-01", "2018-02-28", "Feb 2018")
    (week,) = collection_timeline([{"start": start, "count": 1}], "7d")
    assert (week.start, week.end) == ("2018-02-01", "2018-02-07")


def test_browsing_matches_every_article_under_the_filters_newest_first():
    body = browse_body(SearchRequest("", sources=("BBC Arabic",), date_from="2018-01-01", sort="relevance"))
    assert body["query"] == {"match_all": {}} and "highlight" not in body
    narrowing = body["post_filter"]["bool"]["filter"]  # the source and the dates: the timeline keeps the whole span
    assert {"terms": {"source": ["BBC Arabic"]}} in narrowing and any("range" in f for f in narrowing)
    assert body["collapse"] == {"field": "cluster_id"}
    assert body["sort"][0] == {"published": {"order": "desc", "missing": "_last"}}
