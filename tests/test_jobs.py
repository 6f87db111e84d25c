"""Bulk jobs on real SQLite and a real node: durability, crash and resume, cancellation, outages, the API."""
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from conftest import PROJECT_ROOT
from service.files import RecordError
from service.index import node
from service.jobs.store import JobStore
from service.jobs.worker import Worker
from service.web import create_app

KEY = "jobs-key-0123"


def articles(n, prefix="j"):
    return [(i + 1, {"id": f"{prefix}{i}", "title": "عنوان", "body": f"قال الرئيس إن الاقتصاد تحسن في اليوم {i}. ثم غادر."})
            for i in range(n)]


@pytest.fixture
def store(tmp_path):
    return JobStore(tmp_path / "jobs.db")


def drain(store, translator, **kwargs):
    Worker(store, translator, **kwargs).run(threading.Event(), until_idle=True)


def test_job_translates_every_item_in_input_order(store, translator):
    records = articles(5) + [(6, RecordError("invalid JSON (Expecting value at column 1)"))]
    job_id, created = store.create("translate", records, {"index": False})
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
    first, _ = store.create("translate", articles(3), {"index": False})
    again, created = store.create("translate", articles(3), {"index": False})
    assert (again, created) == (first, False)
    other, created = store.create("translate", articles(3), {"index": True})
    assert created and other != first


def test_cancel_stops_the_rest(store, translator):
    job_id, _ = store.create("translate", articles(6), {"index": False})
    Worker(store, translator, batch=2).run_once()
    assert store.cancel(job_id)
    drain(store, translator, batch=2)
    status = store.status(job_id)
    assert (status.state, status.done) == ("cancelled", 2)
    assert len(list(store.results(job_id))) == 2


def test_two_concurrent_jobs_with_two_workers(tmp_path, translator):
    stores = [JobStore(tmp_path / "jobs.db") for _ in range(3)]
    first, _ = stores[0].create("translate", articles(8, "a"), {"index": False})
    second, _ = stores[0].create("translate", articles(8, "b"), {"index": False})
    workers = [threading.Thread(target=drain, args=(stores[i], translator), kwargs={"batch": 3}) for i in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    for job_id, prefix in ((first, "a"), (second, "b")):
        assert stores[0].status(job_id).done == 8
        assert [json.loads(r)["id"] for r in stores[0].results(job_id)] == [f"{prefix}{i}" for i in range(8)]


def test_expired_claims_are_taken_over(tmp_path, translator):
    store = JobStore(tmp_path / "jobs.db", lease_seconds=0.0)
    job_id, _ = store.create("translate", articles(3), {"index": False})
    store.claim("dead-worker", 10)  # a worker that claimed and died
    drain(store, translator)
    assert store.status(job_id).done == 3


def test_paused_by_an_outage_and_resumed(store, translator, client, alias, opensearch_node):
    job_id, _ = store.create("translate", articles(4, "o"), {"index": True})
    worker = Worker(store, translator, client, alias, batch=2)
    node.stop(opensearch_node)
    try:
        assert worker.run_once()
        status = store.status(job_id)
        assert status.state == "paused" and "unreachable" in status.reason and status.failed == 0
    finally:
        node.start(opensearch_node)
    worker.resume_if_possible()
    assert store.status(job_id).state == "running"
    worker.run(threading.Event(), until_idle=True)
    assert store.status(job_id).done == 4
    client.indices.refresh(index=alias)
    assert client.count(index=alias, body={"query": {"ids": {"values": [f"o{i}" for i in range(4)]}}})["count"] == 4


def test_kill_9_mid_job_then_resume_with_exact_counts(search_settings, alias, client, tmp_path):
    jobs_db = tmp_path / "jobs.db"
    total = 40
    job_id, _ = JobStore(jobs_db).create("translate", articles(total, "k"), {"index": True})
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MT_", "OPENSEARCH_", "JOB"))},
           "JOBS_DB": str(jobs_db), "JOB_BATCH_ITEMS": "4", "JOB_LEASE_SECONDS": "2",
           "MT_MODEL_DIR": str(search_settings.model_dir), "MT_MEMORY_PATH": str(tmp_path / "tm.db"),
           "OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": alias}
    command = [sys.executable, "-m", "service", "jobs", "worker"]
    worker = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)
    watcher = JobStore(jobs_db)
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
def api(search_settings, alias, tmp_path):
    app = create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), jobs_db=tmp_path / "jobs.db",
                             max_active_jobs=2))
    return app, app.test_client()


def test_jobs_api_submit_status_results_errors_cancel(api, translator):
    app, http = api
    upload = b'{"id": "u1", "body": "\xd9\x82\xd8\xa7\xd9\x84 \xd8\xa7\xd9\x84\xd8\xb1\xd8\xa6\xd9\x8a\xd8\xb3."}\n{broken\n'
    submitted = http.post("/api/v1/jobs", data={"file": (io.BytesIO(upload), "in.jsonl"), "index": "false"},
                          headers={"Authorization": f"Bearer {KEY}"})
    assert submitted.status_code == 202
    job_id = submitted.json["id"]
    duplicate = http.post("/api/v1/jobs", data={"file": (io.BytesIO(upload), "in.jsonl"), "index": "false"},
                          headers={"Authorization": f"Bearer {KEY}"})
    assert duplicate.status_code == 200 and duplicate.json["id"] == job_id and duplicate.json["duplicate"]
    drain(app.extensions["mt_jobs"], translator)
    status = http.get(f"/api/v1/jobs/{job_id}").json
    assert status["state"] == "done" and status["counts"] == {"done": 1, "failed": 1, "total": 2}
    results = http.get(f"/api/v1/jobs/{job_id}/results")
    assert results.mimetype == "application/x-ndjson"
    assert [json.loads(line)["id"] for line in results.data.decode().splitlines()] == ["u1"]
    assert json.loads(http.get(f"/api/v1/jobs/{job_id}/errors").data)["line"] == 2
    assert [j["id"] for j in http.get("/api/v1/jobs").json["jobs"]] == [job_id]
    assert http.get("/api/v1/jobs/nope").status_code == 404


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
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MT_", "OPENSEARCH_", "JOB"))},
           "JOBS_DB": str(tmp_path / "jobs.db"), "JOB_BATCH_ITEMS": "3", "MT_MODEL_DIR": str(search_settings.model_dir),
           "MT_MEMORY_PATH": str(tmp_path / "tm.db")}
    command = [sys.executable, "-m", "service", "translate", "--jsonl", "--resume", str(source), "-o", str(tmp_path / "out.jsonl")]
    first = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)
    watcher = JobStore(tmp_path / "jobs.db")
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
    source.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for _, a in articles(5, "g")) + "{bad\n",
                      encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MT_", "OPENSEARCH_", "JOB"))},
           "JOBS_DB": str(tmp_path / "jobs.db"), "MT_MODEL_DIR": str(search_settings.model_dir),
           "MT_MEMORY_PATH": str(tmp_path / "tm.db"), "OPENSEARCH_URL": search_settings.opensearch_urls[0],
           "OPENSEARCH_INDEX": alias}
    done = subprocess.run([sys.executable, "-m", "service", "ingest", "--resume", str(source)], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, timeout=300)
    assert done.returncode == 1 and b"line 6: invalid JSON" in done.stderr and b"indexed 5, rejected 1" in done.stderr
    client.indices.refresh(index=alias)
    assert client.count(index=alias, body={"query": {"prefix": {"id": "g"}}})["count"] == 5
