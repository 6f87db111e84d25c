"""Story clusters: the pure fingerprints and assignment, then every writer, search's collapse, the clusters route and
the in-place upgrade of a v1 index, on the real node with the generated model."""

import json
import subprocess
import sys
import threading
from dataclasses import replace

import pytest
from helpers import PROJECT_ROOT

from service.config import Settings
from service.index import clusters, lifecycle
from service.ingest import ingest
from service.jobs.store import SqliteJobStore
from service.jobs.worker import Worker
from service.search import stories as story_pages
from service.search.body import build_body
from service.search.query import QueryWording, parse
from service.search.request import SearchRequest
from service.search.searcher import search
from service.web import create_app

THRESHOLD = Settings().cluster_threshold
KEY = "test-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
# Three different stories, each a few paragraphs, written for these tests.
RAIN = (
    "أعلنت هيئة الأرصاد الجوية اليوم أن أمطارا غزيرة ستهطل على المناطق الشمالية خلال الأيام الثلاثة المقبلة.\n"
    "وقال المتحدث باسم الهيئة إن الرياح ستكون قوية في المرتفعات الجبلية وإن درجات الحرارة ستنخفض بشكل ملحوظ.\n"
    "ودعت الهيئة السائقين إلى الحذر على الطرق السريعة وتجنب السفر ليلا إلا للضرورة القصوى.\n"
    "وأضاف المتحدث أن فرق الدفاع المدني في حالة تأهب لمواجهة أي سيول محتملة في الأودية."
)
TRADE = (
    "وقعت الحكومة اتفاقية تجارية جديدة مع ثلاث دول مجاورة لتخفيض الرسوم الجمركية على المنتجات الزراعية.\n"
    "وأوضح وزير الاقتصاد أن الاتفاقية ستدخل حيز التنفيذ مطلع العام المقبل بعد مصادقة البرلمان عليها.\n"
    "ويتوقع خبراء أن ترتفع الصادرات بنسبة كبيرة وأن تنخفض أسعار بعض السلع في الأسواق المحلية."
)
MATCH = (
    "فاز المنتخب الوطني لكرة القدم على نظيره بثلاثة أهداف مقابل هدف واحد في المباراة الودية مساء الأحد.\n"
    "وسجل المهاجم الشاب هدفين في الشوط الأول قبل أن يضيف قائد الفريق الهدف الثالث من ركلة جزاء.\n"
    "وأشاد المدرب بأداء اللاعبين وقال إن الفريق يستعد جيدا للبطولة القارية في الصيف."
)
APP_NOTICE = "تابعونا على تطبيق الأخبار العاجلة"


def near_copy(body: str) -> str:
    """Another outlet's copy: a paragraph dropped, a few words changed, an app notice added."""
    paragraphs = body.split("\n")
    kept = paragraphs[:-1] if len(paragraphs) > 3 else paragraphs
    return "\n".join(kept).replace("اليوم", "الثلاثاء").replace("قوية", "شديدة") + "\n" + APP_NOTICE


def article(doc_id: str, body: str, source: str = "BBC Arabic", date: str = "2018-03-01", title: str = "خبر") -> dict:
    return {"id": doc_id, "title": title, "body": body, "source": source, "date": f"{date}T09:00:00Z"}


# The pure part


def test_near_copies_share_a_band_and_pass_the_threshold_and_distinct_stories_do_not():
    original, copy, other = (clusters.Fingerprint.of(b) for b in (RAIN, near_copy(RAIN), TRADE))
    assert set(original.bands) & set(copy.bands)
    assert clusters.jaccard(original.shingles, copy.shingles) >= THRESHOLD
    assert clusters.jaccard(original.shingles, other.shingles) < 0.05
    assert len(original.bands) == clusters.BANDS


def test_folding_makes_spelling_variants_one_word():
    assert clusters.words("أعلنت الهيئة ـ إلى الأمام") == clusters.words("اعلنت الهيئه إلي الامام")


def test_band_keys_are_the_same_in_another_process_with_another_hash_seed():
    code = (
        "from service.index.clusters import Fingerprint; import sys; print(','.join(Fingerprint.of(sys.argv[1]).bands))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code, RAIN],
            cwd=PROJECT_ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert keys == {",".join(clusters.Fingerprint.of(RAIN).bands)}


def test_assign_joins_the_best_match_in_the_index_or_the_batch_and_keeps_stored_ids():
    rain, copy, trade = (clusters.Fingerprint.of(b) for b in (RAIN, near_copy(RAIN), TRADE))
    indexed = {"new-rain": [clusters.Candidate("old", "story-1", rain.shingles)]}
    batch = [("new-rain", copy), ("trade", trade), ("trade-copy", trade), ("kept", rain)]
    assigned = clusters.assign_clusters(batch, indexed, {"kept": "story-9"}, THRESHOLD)
    assert assigned == {"new-rain": "story-1", "trade": "trade", "trade-copy": "trade", "kept": "story-9"}


def test_below_the_threshold_an_article_starts_its_own_cluster():
    rain, trade = clusters.Fingerprint.of(RAIN), clusters.Fingerprint.of(TRADE)
    candidates = [clusters.Candidate("t", "t", trade.shingles)]
    assert clusters.best_cluster(rain, candidates, THRESHOLD) is None
    assert clusters.assign_clusters([("r", rain)], {"r": candidates}, {}, THRESHOLD) == {"r": "r"}


def test_search_body_collapses_on_cluster_id_unless_asked_not_to():
    wordings = [QueryWording("en", "x", parse("x"), "user")]
    body = build_body(SearchRequest("x", sort="date"), wordings)
    assert body["collapse"] == {"field": "cluster_id"}
    assert (
        "cluster_id" in body["_source"]
        and body["aggs"]["stories"]["aggs"]["count"]["cardinality"]["field"] == "cluster_id"
    )
    plain = build_body(SearchRequest("x", collapse=False), wordings)
    assert "collapse" not in plain and "stories" not in plain["aggs"]


def test_a_page_of_hits_gets_each_whole_story_from_one_aggregation():
    body = story_pages.page_members_body(["a", "b"])
    assert body["query"] == {"terms": {"cluster_id": ["a", "b"]}} and body["size"] == 0
    member = {"_id": "a2", "_source": {"source": "Al Arabiya", "published": "2018-03-02"}}
    response = {
        "aggregations": {
            "stories": {
                "buckets": [
                    {"key": "a", "doc_count": 4, "members": {"hits": {"hits": [{"_id": "a", "_source": {}}, member]}}}
                ]
            }
        }
    }
    hits = story_pages.with_members([{"id": "a", "cluster_id": "a"}, {"id": "b", "cluster_id": "b"}], response)
    assert hits[0]["cluster_size"] == 4 and hits[0]["cluster_members"] == [
        {"id": "a2", "source": "Al Arabiya", "published": "2018-03-02"}
    ]
    assert hits[1]["cluster_size"] == 1 and hits[1]["cluster_members"] == []  # written since: on its own


# Writers, search and the API on the real node


@pytest.fixture(scope="module")
def stories(client, alias, translator):
    """Two near-copies of one story in one batch, and a distinct story, ingested with the generated model."""
    records = [
        article("rain-1", RAIN),
        article("rain-2", near_copy(RAIN), "Al Arabiya", "2018-03-02"),
        article("trade", TRADE),
    ]
    report = ingest(enumerate(records), client, alias, translator, cluster_threshold=THRESHOLD)
    assert report.indexed == 3
    client.indices.refresh(index=alias)
    return report


def stored(client, alias, doc_id: str) -> dict:
    return client.get(index=alias, id=doc_id)["_source"]


def test_near_copies_in_one_batch_share_a_cluster_and_distinct_articles_do_not(stories, client, alias):
    assert stories.clusters == {0: "rain-1", 1: "rain-1", 2: "trade"}
    assert stored(client, alias, "rain-2")["cluster_id"] == "rain-1"
    assert stored(client, alias, "trade")["cluster_id"] == "trade"
    assert len(stored(client, alias, "rain-2")["cluster_bands"]) == clusters.BANDS


def test_a_later_copy_joins_and_ids_stay_stable_on_re_ingest(stories, client, alias, translator):
    later = article("rain-3", near_copy(RAIN).replace("الحذر", "الانتباه"), "CNN Arabic", "2018-03-03")
    changed = article("rain-1", RAIN + "\nوأغلقت بعض المدارس أبوابها.")  # same id, new content: processed again
    report = ingest(enumerate([later, changed]), client, alias, translator, cluster_threshold=THRESHOLD)
    assert report.indexed == 2
    client.indices.refresh(index=alias)
    assert {d: stored(client, alias, d)["cluster_id"] for d in ("rain-1", "rain-2", "rain-3")} == dict.fromkeys(
        ("rain-1", "rain-2", "rain-3"), "rain-1"
    )
    again = ingest(enumerate([later]), client, alias, translator, cluster_threshold=THRESHOLD)
    assert again.unchanged == 1 and stored(client, alias, "rain-3")["cluster_id"] == "rain-1"


def test_search_collapses_a_story_into_one_hit_and_expands_on_request(stories, client, alias):
    collapsed = search(client, alias, SearchRequest("الأرصاد", lang="ar"))
    (hit,) = collapsed["hits"]
    assert hit["cluster_id"] == "rain-1" and hit["cluster_size"] == collapsed["total"] >= 2
    members = hit["cluster_members"]
    assert hit["id"] not in {m["id"] for m in members} and len(members) == hit["cluster_size"] - 1
    assert {m["source"] for m in members} <= {"BBC Arabic", "Al Arabiya", "CNN Arabic"} and members[0]["published"]
    assert collapsed["stories"] == 1
    narrowed = search(client, alias, SearchRequest("الأرصاد", lang="ar", sources=("Al Arabiya",)))
    (outlet,) = narrowed["hits"]  # one outlet's version matches; its story is still the whole story
    assert outlet["id"] == "rain-2" and outlet["cluster_size"] == hit["cluster_size"]
    assert "rain-1" in {m["id"] for m in outlet["cluster_members"]}
    expanded = search(client, alias, SearchRequest("الأرصاد", lang="ar", collapse=False))
    assert len(expanded["hits"]) == expanded["total"] == collapsed["total"]
    assert {h["cluster_id"] for h in expanded["hits"]} == {"rain-1"} and "cluster_size" not in expanded["hits"][0]


def test_collapse_keeps_facets_counting_articles_and_works_with_date_sort(stories, client, alias):
    result = search(client, alias, SearchRequest("الأرصاد OR الجمركية", lang="ar", sort="date"))
    assert sorted(h["cluster_id"] for h in result["hits"]) == ["rain-1", "trade"]
    assert sum(f["count"] for f in result["facets"]["source"]) == result["total"] > len(result["hits"])


@pytest.fixture(scope="module")
def app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,)))


def test_clusters_route_lists_members_and_404s(stories, app):
    web = app.test_client()
    answer = web.get("/api/v1/clusters/rain-1")
    assert answer.status_code == 200
    assert answer.json["size"] == len(answer.json["members"]) >= 2
    assert {m["id"] for m in answer.json["members"]} >= {"rain-1", "rain-2"}
    missing = web.get("/api/v1/clusters/no-such-story")
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"
    assert web.get("/api/v1/clusters/" + "x" * 513).status_code == 404
    assert web.get("/api/v1/articles/rain-2").json["cluster_id"] == "rain-1"
    assert "cluster_bands" not in web.get("/api/v1/articles/rain-2").json
    hits = web.get("/api/v1/search?q=الأرصاد&lang=ar&collapse=false").json["hits"]
    assert len(hits) >= 2 and all(h["cluster_id"] == "rain-1" for h in hits)
    assert web.get("/api/v1/search?q=x&collapse=maybe").status_code == 400


def test_api_and_job_writers_assign_clusters(stories, app, client, alias, translator, tmp_path):
    posted = (
        app.test_client().post("/api/v1/articles", json=article("match-1", MATCH, "Sky News Arabia"), headers=AUTH).json
    )
    assert posted["items"][0]["cluster_id"] == "match-1"
    client.indices.refresh(index=alias)  # candidates are found by search: visible after a refresh (1 s at most)
    store = SqliteJobStore(tmp_path / "jobs.db")
    job_id, _ = store.create([(1, article("match-2", near_copy(MATCH)))], {"index": True})
    Worker(store, translator, client, alias, cluster_threshold=THRESHOLD).run(threading.Event(), until_idle=True)
    (result,) = [json.loads(line) for line in store.results(job_id)]
    assert result["cluster_id"] == "match-1" == stored(client, alias, "match-2")["cluster_id"]


@pytest.fixture
def v1_alias(client):
    """An alias whose write index was built from articles-v1.json, holding two articles written before clusters."""
    alias = "test-clusters-v1"
    lifecycle.delete(client, alias)
    v1 = json.loads((lifecycle.INDEX_CONFIG_DIR / "articles-v1.json").read_text(encoding="utf-8"))
    index = lifecycle.index_name(alias, 1, 1)
    client.indices.create(index=index, body={**v1, "aliases": {alias: {"is_write_index": True}}})
    for doc_id, body in (("old-rain", RAIN), ("old-trade", TRADE)):
        old = {"id": doc_id, "body": body, "title": "", "title_en": "", "body_en": "", "sentences": []}
        client.index(index=alias, id=doc_id, body=old, refresh=True)
    yield alias, index
    lifecycle.delete(client, alias)


def test_a_v1_index_is_upgraded_in_place_and_its_articles_collapse_alone(v1_alias, client, translator):
    alias, index = v1_alias
    assert lifecycle.ensure(client, alias) == index
    assert "cluster_id" in client.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert stored(client, alias, "old-trade")["cluster_id"] == "old-trade"
    report = ingest(
        enumerate([article("new-rain", near_copy(RAIN))]), client, alias, translator, cluster_threshold=THRESHOLD
    )
    assert report.clusters == {0: "old-rain"}  # the old article's band keys were filled in by the upgrade
    client.indices.refresh(index=alias)
    hits = search(client, alias, SearchRequest("الأرصاد OR الجمركية", lang="ar"))["hits"]
    assert sorted(h["cluster_id"] for h in hits) == ["old-rain", "old-trade"]


def test_migrating_a_v1_index_gives_the_copied_articles_their_own_clusters(v1_alias, client):
    alias, _ = v1_alias
    new = lifecycle.migrate(client, alias)
    assert f"-v{max(lifecycle.config_versions())}-" in new
    assert {d: stored(client, alias, d)["cluster_id"] for d in ("old-rain", "old-trade")} == {
        "old-rain": "old-rain",
        "old-trade": "old-trade",
    }


def test_a_report_translating_part_of_a_longer_original_shares_most_of_the_shorter():
    report = [0.8, 0.75, 0.7]  # each of the report's three sentences has its source in the original
    assert clusters.counterpart_share(report, candidate_sentences=20, sentence_floor=0.6) == 1.0
    assert clusters.counterpart_share([0.8, 0.3, 0.2, 0.1], 20, 0.6) == 0.0  # one shared sentence is not a story
    assert clusters.counterpart_share([0.8, 0.7, 0.2, 0.1], 20, 0.6) == 0.5
    assert clusters.counterpart_share([0.9], 1, 0.6) == 1.0  # a one-sentence article needs only its one
    assert clusters.counterpart_share([], 5, 0.6) == 0.0


def test_the_best_counterpart_at_the_threshold_names_its_story():
    near = clusters.Counterpart("en-1", "story-a", 4, (0.8, 0.7, 0.65, 0.1))
    far = clusters.Counterpart("en-2", "story-b", 4, (0.5, 0.4, 0.3, 0.2))
    assert clusters.best_counterpart([far, near], threshold=0.6, sentence_floor=0.6) == "story-a"
    assert clusters.best_counterpart([far, near], threshold=0.8, sentence_floor=0.6) is None
    assert clusters.best_counterpart([far], threshold=0.6, sentence_floor=0.6) is None
    assert clusters.best_counterpart([], threshold=0.6, sentence_floor=0.6) is None
