"""The alerts API on the real node: saved searches scoped to their key, matches on API ingest, back-fill, 4xx."""

import json
import threading
from dataclasses import replace

import pytest
from helpers import run_cli

from service.alerts.model import saved_wording
from service.alerts.store import AlertStore
from service.web import create_app
from service.web.auth import key_digest

KEY, OTHER = "alerts-key-0123", "other-key-4567"
AUTH, OTHER_AUTH = {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {OTHER}"}
STORY = "أعلنت وزارة الصحة افتتاح مستشفى ميداني جديد في المدينة لاستقبال المرضى"


@pytest.fixture(scope="module")
def app(search_settings, alias, client):
    yield create_app(
        replace(
            search_settings,
            opensearch_index=alias,
            api_keys=(KEY, OTHER),
            alerts_per_key=4,
            alert_webhook_allow=("127.0.0.1",),  # webhook URLs must resolve, to a public or an allowed address
        )
    )
    client.indices.delete(index=f"{alias}-alert*")


@pytest.fixture
def http(app):
    return app.test_client()


def create(http, headers=AUTH, **fields):
    answer = http.post("/api/v1/alerts", json={"name": "hospital", "query": "مستشفى", **fields}, headers=headers)
    assert answer.status_code == 201, answer.json
    return answer.json


def ingest_article(http, client, alias, article_id, body=STORY, source="BBC Arabic"):
    answer = http.post("/api/v1/articles", json={"id": article_id, "body": body, "source": source}, headers=AUTH)
    assert answer.json["indexed"] == 1, answer.json
    client.indices.refresh(index=f"{alias}-alert-matches")


def test_an_alert_saved_through_the_api_matches_articles_posted_after(http, client, alias):
    alert = create(http, filters={"source": ["BBC Arabic"]})
    assert alert["searched"] == [{"lang": "ar", "text": "مستشفى", "by": "user"}] and "webhook_secret" not in alert
    ingest_article(http, client, alias, "h1")
    ingest_article(http, client, alias, "h2", body="افتتح الوزير مستشفى للأطفال", source="Al Arabiya")  # filtered out
    answer = http.get(f"/api/v1/alerts/{alert['id']}/matches", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json["total"] == 1
    assert answer.json["matches"][0]["article_ids"] == ["h1"]
    assert answer.json["matches"][0]["outlets"] == ["BBC Arabic"]
    http.delete(f"/api/v1/alerts/{alert['id']}", headers=AUTH)


def test_an_alert_without_words_watches_its_source_and_back_fills_by_its_filters(http, client, alias):
    """Issue 21: "every new article from Al Jazeera": the filters alone match, the lead pair is the snippet."""
    alert = create(http, name="Al Jazeera", query="", filters={"source": ["Al Jazeera"]})
    assert alert["searched"] == [] and alert["watching"] == "Every new article from Al Jazeera"
    ingest_article(http, client, alias, "w1", body="هطلت أمطار غزيرة على العاصمة. وأغلقت المدارس.", source="Al Jazeera")
    ingest_article(http, client, alias, "w2", body="هطلت أمطار غزيرة على الساحل", source="Sky News Arabia")
    (match,) = http.get(f"/api/v1/alerts/{alert['id']}/matches", headers=AUTH).json["matches"]
    assert match["article_ids"] == ["w1"] and match["outlets"] == ["Al Jazeera"]
    assert match["snippet"]["by"] == "lead" and match["snippet"]["ar"] == "هطلت أمطار غزيرة على العاصمة."
    client.indices.refresh(index=alias)
    again = create(http, name="Al Jazeera again", query="", filters={"source": ["Al Jazeera"]}, backfill=True)
    client.indices.refresh(index=f"{alias}-alert-matches")
    listed = http.get(f"/api/v1/alerts/{again['id']}/matches?size=50", headers=AUTH).json["matches"]
    assert again["backfilled"] == len(listed) and {"w1"} == {a for m in listed for a in m["article_ids"]}
    assert listed[0]["snippet"]["by"] == "lead"
    renamed = http.patch(
        f"/api/v1/alerts/{alert['id']}", json={"filters": {"source": ["Sky News Arabia"]}}, headers=AUTH
    )
    assert renamed.json["watching"] == "Every new article from Sky News Arabia"
    worded = http.patch(f"/api/v1/alerts/{alert['id']}", json={"query": "أمطار"}, headers=AUTH)
    assert worded.json["watching"] is None and worded.json["searched"][0]["text"] == "أمطار"
    for saved in (alert, again):
        assert http.delete(f"/api/v1/alerts/{saved['id']}", headers=AUTH).status_code == 204


def test_an_alert_without_words_or_a_filter_that_narrows_is_a_400_in_words(http):
    for filters in ({}, {"from": "2024-01-01", "to": "2024-12-31", "lang": "ar"}):
        answer = http.post("/api/v1/alerts", json={"name": "x", "query": " ", "filters": filters}, headers=AUTH)
        assert answer.status_code == 400 and answer.json["error"]["code"] == "nothing_to_watch"
        assert "a source, category, or person or place" in answer.json["error"]["message"]
    alert = create(http, name="BBC", query="", filters={"source": ["BBC Arabic"]})
    emptied = http.patch(f"/api/v1/alerts/{alert['id']}", json={"filters": {}}, headers=AUTH)
    assert emptied.status_code == 400 and emptied.json["error"]["code"] == "nothing_to_watch"
    assert http.delete(f"/api/v1/alerts/{alert['id']}", headers=AUTH).status_code == 204


def test_the_cli_creates_an_alert_for_a_key_that_the_api_then_serves(http, search_settings, alias, tiny_model_dir):
    """`alerts create` runs the API's use case (service/alerts/usecases.py): the key's alert, its query checked."""
    env = {
        "OPENSEARCH_URL": search_settings.opensearch_urls[0],
        "OPENSEARCH_INDEX": alias,
        "MT_MODEL_DIR": str(tiny_model_dir),
        "API_KEYS": f"{KEY},{OTHER}",
    }
    done = run_cli("alerts", "create", "from the cli", "مستشفى", "--key", KEY, env=env)
    assert done.returncode == 0, done.stderr
    saved = json.loads(done.stdout)
    assert saved["name"] == "from the cli" and saved["searched"][0]["text"] == "مستشفى"
    assert http.get(f"/api/v1/alerts/{saved['id']}", headers=AUTH).json["id"] == saved["id"]
    assert http.get(f"/api/v1/alerts/{saved['id']}", headers=OTHER_AUTH).status_code == 404
    refused = run_cli("alerts", "create", "x", "مستشفى", "--key", "not-a-key", env=env)
    assert refused.returncode == 2 and refused.stderr.decode().count("\n") == 1
    bad_query = run_cli("alerts", "create", "x", '"unclosed', "--key", KEY, env=env)
    assert bad_query.returncode == 2 and bad_query.stderr.decode().startswith("error: ")
    http.delete(f"/api/v1/alerts/{saved['id']}", headers=AUTH)


def test_another_key_can_neither_read_change_nor_delete_an_alert(http):
    alert = create(http)
    path = f"/api/v1/alerts/{alert['id']}"
    for method, extra in (("get", {}), ("patch", {"json": {"name": "mine"}}), ("delete", {})):
        answer = getattr(http, method)(path, headers=OTHER_AUTH, **extra)
        assert answer.status_code == 404 and answer.json["error"]["code"] == "not_found"
    assert http.get(f"{path}/matches", headers=OTHER_AUTH).status_code == 404
    assert alert["id"] not in [a["id"] for a in http.get("/api/v1/alerts", headers=OTHER_AUTH).json["alerts"]]
    assert http.get(path).status_code == 401
    assert http.get(path, headers=AUTH).json == alert
    assert http.delete(path, headers=AUTH).status_code == 204
    assert http.get(path, headers=AUTH).status_code == 404


def test_update_changes_the_query_and_a_new_webhook_gets_its_secret_once(http, client, alias):
    alert = create(http)
    path = f"/api/v1/alerts/{alert['id']}"
    changed = http.patch(path, json={"query": "وزارة الصحة", "webhook_url": "http://127.0.0.1:9/a"}, headers=AUTH)
    assert changed.status_code == 200 and changed.json["query"] == "وزارة الصحة"
    assert changed.json["webhook_secret"] and "webhook_secret" not in http.get(path, headers=AUTH).json
    again = http.patch(path, json={"webhook_url": "http://127.0.0.1:9/b"}, headers=AUTH)
    assert "webhook_secret" not in again.json and again.json["webhook_url"] == "http://127.0.0.1:9/b"
    assert http.delete(path, headers=AUTH).status_code == 204


def test_backfill_lists_existing_matches_marked_as_such(http, client, alias):
    ingest_article(http, client, alias, "b1", body="زار الرئيس مستشفى الأطفال في العاصمة صباح اليوم")
    client.indices.refresh(index=alias)  # backfill searches the articles: b1 must be searchable, however busy the node
    alert = create(http, backfill=True)
    assert alert["backfilled"] >= 1
    client.indices.refresh(index=f"{alias}-alert-matches")
    matches = http.get(f"/api/v1/alerts/{alert['id']}/matches?size=50", headers=AUTH).json["matches"]
    assert "b1" in {a for m in matches for a in m["article_ids"]} and all(m["backfill"] for m in matches)
    assert http.delete(f"/api/v1/alerts/{alert['id']}", headers=AUTH).status_code == 204


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"name": "x"}, 400, "bad_request"),
        ({"name": "x", "query": '"unclosed'}, 400, "bad_query"),
        ({"name": "x", "query": "NOT a"}, 400, "bad_query"),
        ({"name": "x", "query": "a", "filters": {"from": "2020-05-01", "to": "2020-01-01"}}, 400, "reversed_dates"),
        ({"name": "x", "query": "a", "filters": {"from": "yesterday"}}, 400, "bad_query"),
        ({"name": "x", "query": "a", "filters": {"colour": "red"}}, 400, "bad_request"),
        ({"name": "x", "query": "a", "webhook_url": "file:///etc/passwd"}, 400, "bad_webhook_url"),
        ({"name": "x", "query": "", "filters": {"source": ["BBC Arabic"], "q_en": "rain"}}, 400, "nothing_to_reword"),
        ({"name": " ", "query": "a"}, 422, "unprocessable"),
        ({"name": "x", "query": "a" * 5000}, 413, "payload_too_large"),
        ([], 400, "bad_request"),
    ],
)
def test_bad_alerts_are_4xx_with_a_json_error(http, body, status, code):
    answer = http.post("/api/v1/alerts", json=body, headers=AUTH)
    assert answer.status_code == status, answer.json
    assert answer.json["error"]["code"] == code


def test_bad_requests_for_matches_and_updates_are_4xx(http):
    alert = create(http)
    path = f"/api/v1/alerts/{alert['id']}"
    assert http.get(f"{path}/matches?since=soon", headers=AUTH).status_code == 400
    assert http.get(f"{path}/matches?size=0", headers=AUTH).status_code == 400
    assert http.get(f"{path}/matches?page=1000&size=100", headers=AUTH).json["error"]["code"] == "out_of_range"
    assert http.patch(path, json={}, headers=AUTH).status_code == 400
    assert http.patch(path, data="x", headers=AUTH).status_code == 415
    assert http.get("/api/v1/alerts/" + "x" * 600, headers=AUTH).status_code == 404
    assert http.delete(path, headers=AUTH).status_code == 204


@pytest.fixture(scope="module")
def matched(app, client, alias):
    """An alert with one match, to page through; deleted after the module's tests that use it."""
    http = app.test_client()
    alert = create(http, name="since")
    ingest_article(http, client, alias, "since1")
    yield alert
    http.delete(f"/api/v1/alerts/{alert['id']}", headers=AUTH)


@pytest.mark.parametrize(
    "since", ["2024-W01-1", "20240101T000000", "2024-01-01 00:00", "2024-01-01T00:00+0200", "2024-02-30", "soon"]
)
def test_since_in_a_form_opensearch_refuses_is_a_400_bad_date(http, matched, since):
    answer = http.get(f"/api/v1/alerts/{matched['id']}/matches", query_string={"since": since}, headers=AUTH)
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["code"] == "bad_date"


@pytest.mark.parametrize(
    "since, total",
    [("2024-01-01", 1), ("2024-01-01T10:00", 1), ("2024-01-01T10:00:05.5Z", 1), ("9999-12-31T23:59:59-14:00", 0)],
)
def test_since_in_iso_8601_extended_form_is_taken(http, matched, since, total):
    answer = http.get(f"/api/v1/alerts/{matched['id']}/matches", query_string={"since": since}, headers=AUTH)
    assert answer.status_code == 200, answer.json
    assert answer.json["total"] == total


def test_a_key_has_at_most_alerts_per_key(http):
    made = [create(http, headers=OTHER_AUTH, name=f"n{n}") for n in range(4)]
    answer = http.post("/api/v1/alerts", json={"name": "one more", "query": "a"}, headers=OTHER_AUTH)
    assert answer.status_code == 429
    for alert in made:
        http.delete(f"/api/v1/alerts/{alert['id']}", headers=OTHER_AUTH)


RACES = 12


def race(app, *requests, headers=AUTH) -> list[int]:
    """The statuses of requests (method, path, json) sent at once, each from its own thread and client."""
    start, statuses = threading.Barrier(len(requests)), [0] * len(requests)

    def send(position, method, path, body):
        start.wait()
        statuses[position] = getattr(app.test_client(), method)(path, json=body, headers=headers).status_code

    threads = [threading.Thread(target=send, args=(n, *request)) for n, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_an_update_racing_a_delete_never_brings_the_alert_back(app, http, client, alias):
    store, wording = AlertStore(client, alias), saved_wording({"lang": "en", "text": "race", "by": "user"})
    made = [
        store.create(key_digest(KEY)[:16], f"race {n}", "race", {}, [wording], refresh=False)[0] for n in range(RACES)
    ]
    client.indices.refresh(index=store.alerts_index)
    back = []
    for alert in made:  # one race at a time: many at once mostly queue behind each other
        path = f"/api/v1/alerts/{alert.id}"
        patched, deleted = race(app, ("patch", path, {"name": "renamed"}), ("delete", path, None))
        assert deleted == 204 and patched in (200, 404), (patched, deleted)
        back += [path] if http.get(path, headers=AUTH).status_code != 404 else []
    assert not back, f"{len(back)} of {RACES} deleted alerts came back"


def test_concurrent_creates_never_take_a_key_past_alerts_per_key(app, http):
    bodies = [("post", "/api/v1/alerts", {"name": f"rush {n}", "query": "مستشفى"}) for n in range(RACES)]
    statuses = race(app, *bodies, headers=OTHER_AUTH)
    made = http.get("/api/v1/alerts", headers=OTHER_AUTH).json["alerts"]
    deleted = [http.delete(f"/api/v1/alerts/{alert['id']}", headers=OTHER_AUTH).status_code for alert in made]
    assert set(deleted) <= {204}
    assert sorted(statuses) == [201] * 4 + [429] * (RACES - 4) and len(made) == 4, statuses


@pytest.mark.parametrize("index", ["alert-slots", "alerts"])
def test_a_closed_alert_index_is_a_503_not_a_500(app, http, client, alias, index):
    """A cluster that refuses a call (here a closed index, as during a restore) is an outage, whichever call met it."""
    alert = create(http)
    client.indices.close(index=f"{alias}-{index}")
    try:
        created = http.post("/api/v1/alerts", json={"name": "closed", "query": "مستشفى"}, headers=AUTH)
        read = http.get(f"/api/v1/alerts/{alert['id']}", headers=AUTH)
    finally:
        client.indices.open(index=f"{alias}-{index}", wait_for_active_shards="all")
    assert (created.status_code, created.json["error"]["code"]) == (503, "search_unavailable")
    if index == "alerts":
        assert (read.status_code, read.json["error"]["code"]) == (503, "search_unavailable")
    assert http.delete(f"/api/v1/alerts/{alert['id']}", headers=AUTH).status_code == 204
