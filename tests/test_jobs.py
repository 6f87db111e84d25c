"""Bulk jobs on real SQLite and a real node: durability, crash and resume, cancellation, outages, the API (offline
where its jobs never reach the index).

The store-level tests run against both job stores: SQLite, and PostgreSQL on the session's real server.
"""

import hashlib
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from helpers import PROJECT_ROOT, run_cli, service_env
from werkzeug.test import EnvironBuilder

from service.config import ConfigError, Settings
from service.errors import RecordError
from service.index import lifecycle, node
from service.jobs.pool import WorkerPool
from service.jobs.store import ActiveJobLimit, JobStore, SqliteJobStore
from service.jobs.worker import Worker
from service.web import create_app, start_workers, stop_workers
from service.web.services import services_of

KEY = "jobs-key-0123"
OTHER_KEY = "jobs-other-key-4567"
ADMIN_KEY = "jobs-admin-key-89ab"


def articles(n, prefix="j"):
    return [
        (i + 1, {"id": f"{prefix}{i}", "title": "عنوان", "body": f"قال الرئيس إن الاقتصاد تحسن في اليوم {i}. ثم غادر."})
        for i in range(n)
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def open_store(request, tmp_path):
    """Opens the job store under test, a new connection to the same jobs at each call: SQLite, then PostgreSQL."""
    opened: list[JobStore] = []
    if request.param == "sqlite":
        path = tmp_path / "jobs.db"

        def open_one(lease_seconds: float = 120.0) -> JobStore:
            opened.append(SqliteJobStore(path, lease_seconds))
            return opened[-1]
    else:
        from service.jobs.store_pg import PostgresJobStore

        url = request.getfixturevalue("postgres_url")

        def open_one(lease_seconds: float = 120.0) -> JobStore:
            opened.append(PostgresJobStore(url, lease_seconds))
            return opened[-1]

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store):
    return open_store()


def drain(store, translator, **kwargs):
    Worker(store, translator, **kwargs).run(threading.Event(), until_idle=True)


def test_job_translates_every_item_in_input_order(store, translator):
    records = [*articles(5), (6, RecordError("invalid JSON (Expecting value at column 1)"))]
    job_id, created = store.create(records, {"index": False})
    assert created and store.status(job_id).state == "queued"
    drain(store, translator, batch=2)
    status = store.status(job_id)
    assert (status.state, status.done, status.failed, status.total) == ("done", 5, 1, 6)
    results = [json.loads(line) for line in store.results(job_id)]
    assert [r["id"] for r in results] == [f"j{i}" for i in range(5)]
    assert all(r["sentences"] and r["body_en"] for r in results)
    assert [json.loads(e)["line"] for e in store.errors(job_id)] == [6]
    assert status.tokens > 0 and status.eta_seconds == 0.0


def test_duplicate_submission_returns_the_same_job(store):
    first, _ = store.create(articles(3), {"index": False})
    again, created = store.create(articles(3), {"index": False})
    assert (again, created) == (first, False)
    other, created = store.create(articles(3), {"index": True})
    assert created and other != first


def test_a_full_disk_pauses_the_job_with_the_reason(tmp_path, translator):
    store = SqliteJobStore(tmp_path / "jobs.db")
    job_id, _ = store.create(articles(4), {"index": False})
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # no room for results: SQLITE_FULL, as on a full disk
    assert Worker(store, translator, batch=4).run_once()
    status = store.status(job_id)
    assert status.state == "paused" and status.reason.startswith("no space left to store results")
    assert status.done == 0


def test_a_full_job_store_answers_507_and_keeps_what_it_stored(settings, tmp_path):
    """The job database cannot grow (SQLITE_FULL, as on a full disk): each submission is a JSON 507, the jobs
    stored before are whole, and once there is room again submissions are stored."""
    app = create_app(replace(settings, api_keys=(KEY,), jobs_workers=0, jobs_db=tmp_path / "jobs.db"))
    http, auth = app.test_client(), {"Authorization": f"Bearer {KEY}"}
    kept = http.post("/api/v1/jobs", json=["نص محفوظ"], headers=auth).json
    db = services_of(app).job_store._db
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    refused = [http.post("/api/v1/jobs", json=[f"نص {n} " * 400] * 20, headers=auth) for n in range(8)]
    assert {(r.status_code, r.json["error"]["code"]) for r in refused} == {(507, "insufficient_storage")}
    assert {**http.get(f"/api/v1/jobs/{kept['id']}", headers=auth).json, "duplicate": False} == kept
    assert [job["id"] for job in http.get("/api/v1/jobs", headers=auth).json["jobs"]] == [kept["id"]]
    db.execute("PRAGMA max_page_count = 1073741823")
    assert http.post("/api/v1/jobs", json=["نص جديد"], headers=auth).status_code == 202
    services_of(app).close()


def test_cancel_stops_the_rest(store, translator):
    job_id, _ = store.create(articles(6), {"index": False})
    Worker(store, translator, batch=2).run_once()
    assert store.cancel(job_id)
    drain(store, translator, batch=2)
    status = store.status(job_id)
    assert (status.state, status.done) == ("cancelled", 2)
    assert len(list(store.results(job_id))) == 2


def test_two_concurrent_jobs_with_two_workers(open_store, translator):
    stores = [open_store() for _ in range(3)]
    first, _ = stores[0].create(articles(8, "a"), {"index": False})
    second, _ = stores[0].create(articles(8, "b"), {"index": False})
    workers = [threading.Thread(target=drain, args=(stores[i], translator), kwargs={"batch": 3}) for i in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    for job_id, prefix in ((first, "a"), (second, "b")):
        assert stores[0].status(job_id).done == 8
        assert [json.loads(r)["id"] for r in stores[0].results(job_id)] == [f"{prefix}{i}" for i in range(8)]


def test_expired_claims_are_taken_over(open_store, translator):
    store = open_store(lease_seconds=0.0)
    job_id, _ = store.create(articles(3), {"index": False})
    store.claim("dead-worker", 10)  # a worker that claimed and died
    drain(store, translator)
    assert store.status(job_id).done == 3


def test_an_item_whose_worker_keeps_dying_fails_alone_after_its_attempts(open_store, translator):
    store = open_store(lease_seconds=0.0)  # every claim has expired by the next one: as if its worker had died
    job_id, _ = store.create(articles(4), {"index": False})
    claims = [[item.seq for item in store.claim(f"dying-worker-{n}", 10)[1]] for n in range(3)]
    assert claims == [[0, 1, 2, 3], [0], [0]]  # after a death, each item of that batch runs alone
    drain(store, translator)  # its claim finds the third death: item 0 fails, the rest are done
    status = store.status(job_id)
    assert (status.state, status.done, status.failed) == ("done", 3, 1)
    assert [json.loads(e) for e in store.errors(job_id)] == [
        {
            "line": 1,
            "error": "the worker died 3 times processing this item (killed, out of memory, or stalled past its lease)",
        }
    ]
    assert [json.loads(r)["id"] for r in store.results(job_id)] == ["j1", "j2", "j3"]


def test_while_one_item_a_worker_died_on_runs_the_others_wait_for_their_turn(open_store):
    """One suspect at a time per job: a second death (a deploy, an OOM kill) counts against one item, not one per
    worker; the other workers take the items no worker died on meanwhile."""
    store = open_store(lease_seconds=0.0)
    job_id, _ = store.create(articles(6), {"index": False})
    assert [item.seq for item in store.claim("dying-worker", 3)[1]] == [0, 1, 2]  # its lease runs out: a death
    store.lease_seconds = 600.0
    assert [item.seq for item in store.claim("worker-a", 3)[1]] == [0]  # a suspect, alone
    assert [item.seq for item in store.claim("worker-b", 3)[1]] == [3, 4, 5]  # not the other suspects
    assert store.claim_items("worker-c", job_id, [1, 2]) == ([], 2)  # a Celery batch of suspects waits too


def test_a_redelivered_batch_whose_workers_died_runs_item_by_item_until_the_attempts_run_out(open_store):
    store = open_store(lease_seconds=0.0)  # as above: every claim's worker has died by the next claim
    job_id, _ = store.create(articles(3), {"index": False})
    seqs = [0, 1, 2]  # a Celery task's batch, delivered again after each death
    assert [item.seq for item in store.claim_items("dying-worker-0", job_id, seqs)[0]] == [0, 1, 2]
    items, waiting = store.claim_items("dying-worker-1", job_id, seqs)
    assert ([item.seq for item in items], waiting) == ([0], 2)
    store.claim_items("dying-worker-2", job_id, seqs)
    items, waiting = store.claim_items("worker", job_id, seqs)  # item 0's third death fails it; item 1 runs alone
    assert ([item.seq for item in items], waiting, store.status(job_id).failed) == ([1], 1, 1)


class HeldTranslator:
    """The real tiny translator, holding every call until the test lets it go (a batch slower than its lease)."""

    def __init__(self, translator):
        self.inner, self.entered, self.go = translator, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def translate(self, sentences, **decoding):
        self.entered.set()
        assert self.go.wait(60), "the test never let the batch go"
        return self.inner.translate(sentences, **decoding)


def test_a_batch_slower_than_its_lease_keeps_its_claims(open_store, translator):
    lease = 0.5
    store = open_store(lease_seconds=lease)
    job_id, _ = store.create(articles(3), {"index": False})
    held = HeldTranslator(translator)
    worker = threading.Thread(target=drain, args=(store, held), kwargs={"name": "slow-worker"})
    worker.start()
    try:
        assert held.entered.wait(60)
        other = open_store(lease_seconds=lease)
        deadline = time.monotonic() + 4 * lease  # several leases pass while the batch is being translated
        while time.monotonic() < deadline:
            assert other.claim("other-worker", 10) == (None, [])
            time.sleep(lease / 5)
    finally:
        held.go.set()
        worker.join(60)
    assert store.status(job_id).done == 3
    assert [json.loads(r)["id"] for r in store.results(job_id)] == ["j0", "j1", "j2"]


class CountingTranslator:
    """The real tiny translator, counting the calls that reach it; sentences holding `poison` raise."""

    def __init__(self, translator, poison=None):
        self.inner, self.poison, self.calls = translator, poison, 0
        self.before_translating = None  # a callable run once, on the next translation

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def translate(self, sentences, **decoding):
        self.calls += 1
        if self.before_translating:
            self.before_translating, run = None, self.before_translating
            run()
        if self.poison and any(self.poison in s for s in sentences):
            raise RuntimeError("the engine choked")
        return self.inner.translate(sentences, **decoding)


def test_paused_by_an_outage_and_resumed_without_translating_again(store, translator, client, alias, opensearch_node):
    prefix = f"o-{type(store).__name__}-"  # each store's run writes articles of its own: none is unchanged
    job_id, _ = store.create(articles(4, prefix), {"index": True})
    counting = CountingTranslator(translator)
    worker = Worker(store, counting, client, alias, batch=2)
    # the cluster goes down after the batch's unchanged articles were looked up, while it is being translated
    counting.before_translating = lambda: node.stop(opensearch_node)
    try:
        assert worker.run_once()
        status = store.status(job_id)
        assert status.state == "paused" and "unreachable" in status.reason and status.failed == 0
    finally:
        counting.before_translating = None
        node.start(opensearch_node)
    calls = counting.calls
    assert calls > 0
    worker.resume_if_possible()
    assert store.status(job_id).state == "running"
    assert worker.run_once() and store.status(job_id).done == 2
    assert counting.calls == calls  # the paused batch's translations were kept, not made again
    worker.run(threading.Event(), until_idle=True)
    assert store.status(job_id).done == 4
    client.indices.refresh(index=alias)
    assert (
        client.count(index=alias, body={"query": {"ids": {"values": [f"{prefix}{i}" for i in range(4)]}}})["count"] == 4
    )


def test_kill_9_mid_job_then_resume_with_exact_counts(search_settings, alias, client, tmp_path):
    jobs_db = tmp_path / "jobs.db"
    total = 40
    job_id, _ = SqliteJobStore(jobs_db).create(articles(total, "k"), {"index": True})
    env = service_env(
        {
            "JOBS_DB": str(jobs_db),
            "JOB_BATCH_ITEMS": "4",
            "JOB_LEASE_SECONDS": "2",
            "MT_MODEL_DIR": str(search_settings.model_dir),
            "MT_MEMORY_PATH": str(tmp_path / "tm.db"),
            "OPENSEARCH_URL": search_settings.opensearch_urls[0],
            "OPENSEARCH_INDEX": alias,
        }
    )
    command = [sys.executable, "-m", "service", "jobs", "worker"]
    worker = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)
    watcher = SqliteJobStore(jobs_db)
    deadline = time.monotonic() + 120
    while watcher.status(job_id).done < 8:  # wait on the job's state, then kill mid-run
        assert worker.poll() is None and time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    interrupted = watcher.status(job_id)
    assert interrupted.state == "running" and 8 <= interrupted.done < total
    finished = subprocess.run([*command, "--until-idle"], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    status = watcher.status(job_id)
    assert (status.state, status.done, status.failed) == ("done", total, 0)
    ids = [json.loads(line)["id"] for line in watcher.results(job_id)]
    assert ids == [f"k{i}" for i in range(total)]  # every item once, in order
    client.indices.refresh(index=alias)
    assert client.count(index=alias, body={"query": {"prefix": {"id": "k"}}})["count"] == total


@pytest.fixture
def api(make_offline_app):
    app = make_offline_app(api_keys=(KEY, OTHER_KEY), admin_api_keys=(ADMIN_KEY,), max_active_jobs=2)
    return app, app.test_client()


def test_the_apps_own_workers_take_a_submitted_job_to_its_results(make_offline_app):
    app = make_offline_app(api_keys=(KEY,), jobs_workers=2)
    http, auth = app.test_client(), {"Authorization": f"Bearer {KEY}"}
    start_workers(app)
    submitted = http.post("/api/v1/jobs?index=false", json=["قال الرئيس.", "ثم غادر.", "انتهى الاجتماع."], headers=auth)
    assert submitted.status_code == 202
    job = f"/api/v1/jobs/{submitted.json['id']}"
    deadline = time.monotonic() + 60
    while (status := http.get(job, headers=auth).json)["state"] != "done":
        assert status["state"] in ("queued", "running") and time.monotonic() < deadline, status
        time.sleep(0.05)  # poll interval
    assert status["counts"] == {"done": 3, "failed": 0, "total": 3}
    results = [json.loads(line) for line in http.get(f"{job}/results", headers=auth).data.splitlines()]
    assert [r["body"] for r in results] == ["قال الرئيس.", "ثم غادر.", "انتهى الاجتماع."]
    assert all(r["body_en"] for r in results)
    assert http.delete(job, headers=auth).json["state"] == "done"  # nothing left to cancel


def test_jobs_api_submit_status_results_errors_cancel(api, translator):
    app, http = api
    auth = {"Authorization": f"Bearer {KEY}"}
    upload = (
        b'{"id": "u1", "body": "\xd9\x82\xd8\xa7\xd9\x84 \xd8\xa7\xd9\x84\xd8\xb1\xd8\xa6\xd9\x8a\xd8\xb3."}\n{broken\n'
    )
    submitted = http.post(
        "/api/v1/jobs", data={"file": (io.BytesIO(upload), "in.jsonl"), "index": "false"}, headers=auth
    )
    assert submitted.status_code == 202
    job_id = submitted.json["id"]
    duplicate = http.post(
        "/api/v1/jobs", data={"file": (io.BytesIO(upload), "in.jsonl"), "index": "false"}, headers=auth
    )
    assert duplicate.status_code == 200 and duplicate.json["id"] == job_id and duplicate.json["duplicate"]
    drain(services_of(app).job_store, translator)
    status = http.get(f"/api/v1/jobs/{job_id}", headers=auth).json
    assert status["state"] == "done" and status["counts"] == {"done": 1, "failed": 1, "total": 2}
    results = http.get(f"/api/v1/jobs/{job_id}/results", headers=auth)
    assert results.mimetype == "application/x-ndjson"
    assert [json.loads(line)["id"] for line in results.data.decode().splitlines()] == ["u1"]
    assert json.loads(http.get(f"/api/v1/jobs/{job_id}/errors", headers=auth).data)["line"] == 2
    assert [j["id"] for j in http.get("/api/v1/jobs", headers=auth).json["jobs"]] == [job_id]
    assert http.get("/api/v1/jobs/nope", headers=auth).status_code == 404


def test_jobs_api_limits_and_cancel(api):
    _, http = api
    auth = {"Authorization": f"Bearer {KEY}"}
    assert http.post("/api/v1/jobs", json=["مرحبا"]).status_code == 401
    first = http.post("/api/v1/jobs", json=["مرحبا", "شكرا"], headers=auth)
    assert first.status_code == 202 and first.json["counts"]["total"] == 2
    assert http.post("/api/v1/jobs", json={"items": ["نص آخر"]}, headers=auth).status_code == 202
    too_many = http.post("/api/v1/jobs", json=["ثالث"], headers=auth)
    assert too_many.status_code == 429 and "unfinished jobs" in too_many.json["error"]["message"]
    cancelled = http.delete(f"/api/v1/jobs/{first.json['id']}", headers=auth)
    assert cancelled.json["state"] == "cancelled"
    assert http.post("/api/v1/jobs", json={"nothing": 1}, headers=auth).status_code == 400


def test_translate_resume_after_kill_9_writes_every_record_once(search_settings, tmp_path):
    source = tmp_path / "archive.jsonl"
    source.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for _, a in articles(30, "r")), encoding="utf-8")
    env = service_env(
        {
            "JOBS_DB": str(tmp_path / "jobs.db"),
            "JOB_BATCH_ITEMS": "3",
            "MT_MODEL_DIR": str(search_settings.model_dir),
            "MT_MEMORY_PATH": str(tmp_path / "tm.db"),
        }
    )
    command = [
        sys.executable,
        "-m",
        "service",
        "translate",
        "--jsonl",
        "--resume",
        str(source),
        "-o",
        str(tmp_path / "out.jsonl"),
    ]
    first = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)
    watcher = SqliteJobStore(tmp_path / "jobs.db")
    deadline = time.monotonic() + 120
    while not watcher.list() or watcher.list()[0].done < 6:
        assert first.poll() is None and time.monotonic() < deadline, "no progress before the kill"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert watcher.list()[0].done < 30
    second = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert b"resuming job" in second.stderr
    ids = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert ids == [f"r{i}" for i in range(30)]


def test_ingest_resume_indexes_through_a_job(search_settings, alias, client, tmp_path):
    source = tmp_path / "news.jsonl"
    source.write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for _, a in articles(5, "g")) + "{bad\n", encoding="utf-8"
    )
    env = service_env(
        {
            "JOBS_DB": str(tmp_path / "jobs.db"),
            "MT_MODEL_DIR": str(search_settings.model_dir),
            "MT_MEMORY_PATH": str(tmp_path / "tm.db"),
            "OPENSEARCH_URL": search_settings.opensearch_urls[0],
            "OPENSEARCH_INDEX": alias,
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "service", "ingest", "--resume", str(source)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert (
        done.returncode == 1
        and b"line 6: invalid JSON" in done.stderr
        and b"indexed 5, unchanged 0, rejected 1" in done.stderr
    )
    client.indices.refresh(index=alias)
    assert client.count(index=alias, body={"query": {"prefix": {"id": "g"}}})["count"] == 5


def owner_of(key):
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def test_bad_records_fail_their_items_and_the_worker_carries_on(store, translator, client, alias):
    body = "قال الرئيس إن الاقتصاد تحسن."
    records = [
        (1, {"id": "p0", "body": body, "date": "2018-03-01"}),
        (2, {"id": "p1", "body": body, "date": "not-a-date"}),
        (3, {"id": "p2", "body": body, "date": 12345}),
        (4, {"id": "p" * 513, "body": body}),
        (5, {"id": "p\x07bell", "body": body}),
        (6, {"id": "p5", "body": body, "url": " JavaScript:alert(1)"}),
        (7, {"id": "p6", "body": body, "url": "https://example.org/p6"}),
        (8, {"id": "p7", "body": body, "date": "9999-12-31T23:59:59-14:00"}),
        (9, {"id": "/p8", "body": body}),
    ]
    poisoned, _ = store.create(records, {"index": True})
    after, _ = store.create(articles(2, "after"), {"index": False})
    drain(store, translator, client=client, alias=alias, batch=8)  # today: ArticleError ends the worker
    status = store.status(poisoned)
    assert (status.state, status.done, status.failed) == ("done", 3, 6)
    errors = {e["line"]: e["error"] for e in map(json.loads, store.errors(poisoned))}
    assert "ISO-8601" in errors[2] and "ISO-8601" in errors[3]
    assert "513 bytes" in errors[4] and "control characters" in errors[5] and "out of range in UTC" in errors[8]
    assert 'starts with "/" or has a "." or ".." segment' in errors[9]
    results = {r["doc_id"]: r for r in map(json.loads, store.results(poisoned))}
    assert "url" not in results["p5"] and "http(s)" in results["p5"]["rejected_fields"]["url"]
    assert store.status(after).state == "done"  # the next job was not stuck behind the bad one
    client.indices.refresh(index=alias)
    assert client.get(index=alias, id="p5")["_source"]["url"] is None
    assert client.get(index=alias, id="p6")["_source"]["url"] == "https://example.org/p6"


def test_a_poison_item_fails_alone_and_the_worker_lives(store, translator, caplog):
    records = articles(4, "z")
    records[2] = (3, {"id": "z2", "body": "قال الرئيس إن الاقتصاد تحسن. POISON"})
    job_id, _ = store.create(records, {"index": False})
    worker = Worker(store, CountingTranslator(translator, poison="POISON"), batch=4)
    with caplog.at_level(logging.ERROR, logger="service.jobs.worker"):
        worker.run(threading.Event(), until_idle=True)  # today: the RuntimeError ends run()
    status = store.status(job_id)
    assert (status.state, status.done, status.failed) == ("done", 3, 1)
    assert [json.loads(e) for e in store.errors(job_id)] == [
        {"line": 3, "error": "unexpected error: RuntimeError: the engine choked"}
    ]
    assert [json.loads(r)["id"] for r in store.results(job_id)] == ["z0", "z1", "z3"]
    assert "one by one" in caplog.text


def test_a_cancelled_jobs_rate_stays_as_it_was(store):
    job_id, _ = store.create([(1, {"body": "نص"}), (2, {"body": "نص آخر"})], {"index": False})
    _job, (first,) = store.claim("w1", 1, job_id)
    store.finish(job_id, "w1", [(first.seq, {"body_en": "text"})], [], tokens=10)
    store.cancel(job_id)
    before = store.status(job_id)
    store.finish(job_id, "w1", [], [], tokens=1000)  # a batch that ends after the cancel
    after = store.status(job_id)
    assert (after.tokens, after.items_per_minute, after.state) == (before.tokens, before.items_per_minute, "cancelled")


def test_a_job_with_nothing_runnable_is_settled_at_once(store):
    job_id, _ = store.create([(1, RecordError("invalid JSON")), (2, RecordError("invalid JSON"))], {"index": False})
    status = store.status(job_id)
    assert (status.state, status.failed, status.total) == ("failed", 2, 2) and status.finished  # not "done"
    assert status.reason == "every item failed: see the errors"
    assert [json.loads(e)["line"] for e in store.errors(job_id)] == [1, 2]


def test_the_active_job_limit_holds_for_concurrent_creates(open_store):
    """16 creates of one owner at once, each on its own connection, with a limit of 5: exactly 5 jobs."""
    stores, start = [open_store() for _ in range(16)], threading.Barrier(16)

    def create(n: int) -> bool:
        start.wait()
        try:
            return stores[n].create(articles(1, f"c{n}-"), {"index": False}, "k", max_active=5)[1]
        except ActiveJobLimit:
            return False

    with ThreadPoolExecutor(16) as pool:
        created = list(pool.map(create, range(16)))
    assert created.count(True) == 5 and len(stores[0].list(owner="k")) == 5


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_the_active_job_limit_holds_for_concurrent_submissions(backend, settings, tmp_path, request):
    """16 submissions of one key at once with MAX_ACTIVE_JOBS=5: 5 are stored, the other 11 get the 429."""
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    app = create_app(
        replace(
            settings,
            api_keys=(KEY,),
            max_active_jobs=5,
            jobs_workers=0,
            jobs_db=tmp_path / "jobs.db",
            jobs_database_url=url,
            rate_limit="off",
        )
    )
    start = threading.Barrier(16)

    def submit(n: int) -> int:
        http = app.test_client()
        start.wait()
        return http.post("/api/v1/jobs", json=[f"نص رقم {n}"], headers={"Authorization": f"Bearer {KEY}"}).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = sorted(pool.map(submit, range(16)))
    stored = len(services_of(app).job_store.list(owner=owner_of(KEY)))
    services_of(app).close()
    assert (statuses, stored) == ([202] * 5 + [429] * 11, 5)


def test_jobs_of_only_bad_lines_finish_and_do_not_lock_the_key_out(api):
    _, http = api
    auth = {"Authorization": f"Bearer {KEY}"}
    for attempt in range(3):  # MAX_ACTIVE_JOBS is 2 here
        upload = f"{{broken {attempt}\n\n[1, 2]\n".encode()
        submitted = http.post("/api/v1/jobs", data={"file": (io.BytesIO(upload), "bad.jsonl")}, headers=auth)
        assert submitted.status_code == 202, submitted.json
        assert submitted.json["state"] == "failed" and submitted.json["counts"] == {"done": 0, "failed": 2, "total": 2}
    errors = http.get(f"/api/v1/jobs/{submitted.json['id']}/errors", headers=auth).data.decode().splitlines()
    assert [json.loads(e)["line"] for e in errors] == [1, 3]


BOM_JSONL = (
    "\ufeff".encode()
    + b'{"id": "b1", "body": "\xd9\x82\xd8\xa7\xd9\x84."}\n{"id": "b2", "body": "\xd8\xab\xd9\x85."}\n'
)


def test_an_upload_that_starts_with_a_byte_order_mark_keeps_its_first_record(api, translator):
    app, http = api
    auth = {"Authorization": f"Bearer {KEY}"}
    for name in ("bom.jsonl", "bom.txt"):
        submitted = http.post("/api/v1/jobs", data={"file": (io.BytesIO(BOM_JSONL), name)}, headers=auth)
        assert submitted.status_code == 202, submitted.json
        assert submitted.json["counts"] == {"done": 0, "failed": 0, "total": 2}
    drain(services_of(app).job_store, translator)
    jsonl_job, text_job = (j["id"] for j in reversed(http.get("/api/v1/jobs", headers=auth).json["jobs"]))
    results = [json.loads(r) for r in services_of(app).job_store.results(jsonl_job)]
    assert [r["id"] for r in results] == ["b1", "b2"]
    first_line = json.loads(next(services_of(app).job_store.results(text_job)))["body"]
    assert first_line.startswith('{"id"')  # a text line as sent, without the mark


def test_jobs_submit_of_a_file_that_starts_with_a_byte_order_mark_keeps_its_first_record(tmp_path):
    source = tmp_path / "bom.jsonl"
    source.write_bytes(BOM_JSONL)
    submitted = run_cli("jobs", "submit", str(source), env={"JOBS_DB": str(tmp_path / "jobs.db")})
    assert submitted.returncode == 0, submitted.stderr
    store = SqliteJobStore(tmp_path / "jobs.db")
    status = store.status(submitted.stdout.decode().strip())
    assert (status.total, status.failed) == (2, 0)
    store.close()


def upload_growth(http, lines: int) -> int:
    """The most Python memory a multipart JSONL upload of so many lines took while it was stored, over what was
    held before (its body was built beforehand); the job is cancelled after."""
    body = b"".join(
        json.dumps({"id": f"m{lines}-{i}", "body": "قال الرئيس إن الاقتصاد تحسن في اليوم. " * 3}).encode() + b"\n"
        for i in range(lines)
    )
    auth = {"Authorization": f"Bearer {KEY}"}
    request = EnvironBuilder(
        "/api/v1/jobs", method="POST", data={"file": (io.BytesIO(body), "big.jsonl")}, headers=auth
    )
    environ = request.get_environ()
    tracemalloc.start()
    try:
        response = http.open(environ)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        request.close()
        environ["wsgi.input"].close()  # the body, spooled to a file as a client would stream it
    assert response.status_code == 202 and response.json["counts"]["total"] == lines, response.json
    assert http.delete(f"/api/v1/jobs/{response.json['id']}", headers=auth).status_code == 200
    return peak


def test_an_uploads_memory_does_not_grow_with_its_size(api):
    _, http = api
    upload_growth(http, 100)  # what a first upload loads once
    small, large = upload_growth(http, 5_000), upload_growth(http, 50_000)  # about 1.6 and 16 MB
    assert large < 2 * small, f"{small / 1e6:.1f} MB for 5,000 lines, {large / 1e6:.1f} MB for 50,000"


def test_jobs_belong_to_the_key_that_submitted_them(api):
    app, http = api
    mine, theirs, admin = ({"Authorization": f"Bearer {k}"} for k in (KEY, OTHER_KEY, ADMIN_KEY))
    job_id = http.post("/api/v1/jobs", json=["مرحبا"], headers=mine).json["id"]
    other_id = http.post("/api/v1/jobs", json=["شكرا"], headers=theirs).json["id"]
    paths = [f"/api/v1/jobs/{job_id}", f"/api/v1/jobs/{job_id}/results", f"/api/v1/jobs/{job_id}/errors"]
    for path in ["/api/v1/jobs", *paths]:
        assert http.get(path).status_code == 401  # jobs are private: no key, no jobs
        assert http.get(path, headers={"X-API-Key": "made-up-key-000"}).status_code == 403
    assert [j["id"] for j in http.get("/api/v1/jobs", headers=mine).json["jobs"]] == [job_id]
    assert [j["id"] for j in http.get("/api/v1/jobs", headers=theirs).json["jobs"]] == [other_id]
    for path in paths:
        assert http.get(path, headers=mine).status_code == 200
        assert http.get(path, headers=theirs).status_code == 404
    assert http.delete(f"/api/v1/jobs/{job_id}", headers=theirs).status_code == 404
    assert services_of(app).job_store.status(job_id).state == "queued"
    assert services_of(app).job_store.status(job_id).owner == owner_of(KEY)  # a hash, never the key
    assert {j["id"] for j in http.get("/api/v1/jobs", headers=admin).json["jobs"]} == {job_id, other_id}
    assert http.delete(f"/api/v1/jobs/{job_id}", headers=admin).json["state"] == "cancelled"
    assert http.post("/api/v1/jobs", json=["نص"], headers=admin).status_code == 202  # an admin key writes too
    same = http.post("/api/v1/jobs", json=["شكرا"], headers=mine)  # the same items as another key's job
    assert same.status_code == 202 and same.json["id"] != other_id


def test_creating_the_app_starts_no_worker_threads(make_offline_app):
    before = set(threading.enumerate())
    app = make_offline_app(jobs_workers=2)
    started = [t for t in set(threading.enumerate()) - before if not isinstance(t, threading.Timer)]  # limiter's
    assert started == []  # today: two worker threads, which claim items even in a process about to exec gunicorn
    pool = start_workers(app)
    try:
        assert pool.running() == 2
    finally:
        stop_workers(app)
    assert pool.running() == 0


def test_readyz_reports_job_workers_that_are_not_running(search_settings, tmp_path):
    app = create_app(replace(search_settings, jobs_workers=1, jobs_db=tmp_path / "jobs.db"))
    http = app.test_client()
    response = http.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["jobs_workers"] is False
    start_workers(app)
    try:
        response = http.get("/readyz")
        assert response.status_code == 200 and response.json["checks"]["jobs_workers"] is True
    finally:
        stop_workers(app)
    assert http.get("/readyz").json["checks"]["jobs_workers"] is False
    assert http.get("/healthz").status_code == 200


class DiesOnce(Worker):
    """A worker whose first run claims a batch and then dies the way no per-item guard can catch."""

    died = False

    def run(self, stop, until_idle=False):
        if not self.died:
            self.died = True
            self.store.claim(self.name, 2)
            raise SystemExit("the thread ends")
        super().run(stop, until_idle)


def test_a_dead_worker_thread_is_restarted_and_its_claims_given_back(open_store, translator):
    store = open_store(lease_seconds=600)
    job_id, _ = store.create(articles(3, "d"), {"index": False})
    pool = WorkerPool([DiesOnce(open_store(lease_seconds=600), translator)], check_every=0.05).start()
    try:
        deadline = time.monotonic() + 60
        while store.status(job_id).state != "done":  # with a 600 s lease, only a release lets this finish
            assert time.monotonic() < deadline, "the job never finished after the worker died"
            time.sleep(0.05)
        assert pool.restarts == 1 and pool.healthy
    finally:
        pool.stop()


def test_a_claim_of_a_reused_pid_is_released(store):
    _job_id, _ = store.create(articles(2), {"index": False})
    host = socket.gethostname()
    store.claim(f"{host}-{os.getpid()}-1-abc123", 1)  # this pid, but a process that started at another time
    store.claim(Worker(store, None).name, 1)  # this very process: still alive
    assert store.release_dead_local_claims() == 1
    assert store.claim("next", 10)[1][0].seq == 0


def test_admin_keys_are_validated_and_are_valid_keys():
    settings = Settings.from_env({"API_KEYS": "plain-key-0123", "ADMIN_API_KEYS": "admin-key-0123"})
    assert settings.api_keys == ("plain-key-0123", "admin-key-0123") and settings.admin_api_keys == ("admin-key-0123",)
    with pytest.raises(ConfigError, match="ADMIN_API_KEYS='short': each key must be at least 8 characters"):
        Settings.from_env({"ADMIN_API_KEYS": "short"})


def test_a_paused_job_resumes_however_many_jobs_came_after_it(store, translator, client, alias):
    old, _ = store.create(articles(1, "p"), {"index": False})
    worker = Worker(store, translator, client, alias, batch=1)
    store.claim(worker.name, 1)
    store.release(old, worker.name, "the search cluster is unreachable")
    for n in range(101):  # newer jobs push the paused one out of the newest hundred
        store.create([(1, {"body": f"نص {n}"})], {"index": False})
    assert store.status(old).state == "paused" and store.paused_jobs() == 1
    worker.resume_if_possible()
    assert store.status(old).state == "running" and store.paused_jobs() == 0


def test_a_worker_recreates_an_index_deleted_under_it(store, translator, client):
    fresh = "test-jobs-recreated"
    lifecycle.delete(client, fresh)
    worker = Worker(store, translator, client, fresh, batch=4)
    first, _ = store.create(articles(2, "r"), {"index": True})
    worker.run(threading.Event(), until_idle=True)  # the same worker runs both jobs
    lifecycle.delete(client, fresh)  # an operator deletes it while the service runs
    second, _ = store.create(articles(2, "s"), {"index": True})
    worker.run(threading.Event(), until_idle=True)
    try:
        assert [store.status(j).done for j in (first, second)] == [2, 2]
        client.indices.refresh(index=fresh)
        assert client.count(index=fresh)["count"] == 2
    finally:
        lifecycle.delete(client, fresh)


def refuse(client, index: str, how: str) -> None:
    """Make the cluster refuse the index as it does in an outage: closed (400), or blocked for reads or writes (403)."""
    if how == "closed":
        client.indices.close(index=index)
    else:
        client.indices.put_settings(index=index, body={f"index.blocks.{how}": True})


def allow(client, index: str, how: str) -> None:
    if how == "closed":
        client.indices.open(index=index)
        client.cluster.health(index=index, wait_for_status="yellow", request_timeout=60)
    else:
        client.indices.put_settings(index=index, body={f"index.blocks.{how}": False})


@pytest.mark.parametrize(
    "how, done_before",  # the cluster lookup's search, the first look at a new index, the bulk write
    [("closed", 2), ("read", 0), ("write", 2)],
)
def test_an_index_the_cluster_refuses_pauses_the_job_and_every_item_is_done_once_after(
    store, translator, client, how, done_before
):
    refusing = f"test-jobs-refusing-{how}-{uuid.uuid4().hex[:6]}"  # a new index: this process has not upgraded it
    lifecycle.create(client, refusing)
    try:
        job_id, _ = store.create(articles(6, how), {"index": True})
        worker = Worker(store, translator, client, refusing, batch=2)
        if done_before:
            assert worker.run_once() and store.status(job_id).done == done_before
        index = lifecycle.current_index(client, refusing)
        refuse(client, index, how)
        try:
            assert worker.run_once()
            status = store.status(job_id)
            assert (status.state, status.done, status.failed) == ("paused", done_before, 0), list(store.errors(job_id))
        finally:
            allow(client, index, how)
        worker.run(threading.Event(), until_idle=True)
        status = store.status(job_id)
        assert (status.state, status.done, status.failed) == ("done", 6, 0)
        assert [json.loads(r)["id"] for r in store.results(job_id)] == [f"{how}{i}" for i in range(6)]
        client.indices.refresh(index=refusing)
        assert client.count(index=refusing)["count"] == 6
    finally:
        lifecycle.delete(client, refusing)
