"""The issue's "done when": kill -9 the served service and a `jobs worker` process mid-job, five times in a row.

Real processes on one jobs database: `python -m service serve` (gunicorn, one job worker thread started in its
worker process) and `python -m service jobs worker`, against the session's OpenSearch node. The lease is ten
minutes, so the job can only finish in time if every restart frees the dead processes' claims at once.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing

from helpers import PROJECT_ROOT, free_port, service_env

from service.jobs.store import SqliteJobStore

KEY = "kill-test-key-0123"
TOTAL = 300
ROUNDS = 5
LEASE_SECONDS = 600


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False


def claimed(jobs_db, job_id):
    with closing(sqlite3.connect(jobs_db)) as db:
        return db.execute("SELECT COUNT(*) FROM items WHERE job_id = ? AND status = 'claimed'", (job_id,)).fetchone()[0]


def submit(base, items):
    body = json.dumps(items, ensure_ascii=False).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/jobs?index=true",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": KEY},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.loads(response.read())["id"]


def test_kill_9_of_service_and_worker_five_times_loses_and_repeats_nothing(search_settings, alias, client, tmp_path):
    jobs_db = tmp_path / "jobs.db"
    env = service_env(
        {
            "JOBS_DB": str(jobs_db),
            "JOBS_WORKERS": "1",
            "JOB_BATCH_ITEMS": "8",
            "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            # Each kill counts against the items its workers held, and an innocent item may be held at every kill:
            # only a cap above the number of kills promises that none fails (the cap has tests of its own).
            "JOB_ITEM_MAX_ATTEMPTS": str(ROUNDS + 1),
            "API_KEYS": KEY,
            "RATE_LIMIT": "off",
            "MT_MODEL_DIR": str(search_settings.model_dir),
            "MT_MEMORY_PATH": str(tmp_path / "tm.db"),
            "OPENSEARCH_URL": search_settings.opensearch_urls[0],
            "OPENSEARCH_INDEX": alias,
        }
    )
    logs = tmp_path / "logs"
    logs.mkdir()

    def start_service(round_):
        port = free_port()
        with open(logs / f"serve-{round_}.log", "wb") as log:
            service = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", str(port), "--threads", "2", "--no-access-log"],
                cwd=PROJECT_ROOT,
                env=env,
                start_new_session=True,  # its own group: gunicorn's master and worker
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return service, f"http://127.0.0.1:{port}"

    def start_worker(round_):
        with open(logs / f"worker-{round_}.log", "wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "service", "jobs", "worker"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def start(round_):
        return *start_service(round_), start_worker(round_)

    watcher = SqliteJobStore(jobs_db)
    started = time.monotonic()
    service, base = start_service(0)
    wait_until(lambda: answers(f"{base}/healthz"), 60, "the service to answer")
    job_id = submit(
        base,
        [
            {"id": f"kill{i}", "title": "عنوان", "body": f"قال الرئيس إن الاقتصاد تحسن في اليوم {i}. ثم غادر الاجتماع."}
            for i in range(TOTAL)
        ],
    )

    def finished():
        status = watcher.status(job_id)
        return status.done + status.failed

    wait_until(lambda: finished() > 0, 60, "the service's own job worker")  # started by gunicorn's hook
    worker = start_worker(0)
    stranded = []  # items the killed processes held at each kill
    for round_ in range(ROUNDS):
        before = finished()
        wait_until(lambda before=before: finished() >= before + 8, 60, f"progress in round {round_}")
        os.killpg(service.pid, signal.SIGKILL)  # the whole service: gunicorn's master and its worker
        worker.kill()
        service.wait(30)
        worker.wait(30)
        interrupted = watcher.status(job_id)
        assert interrupted.state == "running" and finished() < TOTAL, "the job ended before the last kill"
        stranded.append(claimed(jobs_db, job_id))
        service, base, worker = start(round_ + 1)

    wait_until(lambda: watcher.status(job_id).state == "done", 120, "the job to finish")
    elapsed = time.monotonic() - started
    service.terminate()  # a clean stop this time: gunicorn's worker_exit and the worker's SIGTERM handler
    worker.terminate()
    assert worker.wait(60) == 0 and service.wait(60) == 0

    status = watcher.status(job_id)
    assert (status.state, status.done, status.failed, status.total) == ("done", TOTAL, 0, TOTAL)
    assert sum(stranded) > 0 and elapsed < LEASE_SECONDS / 4  # claims were left by the kills; none sat out its lease
    assert [json.loads(line)["id"] for line in watcher.results(job_id)] == [f"kill{i}" for i in range(TOTAL)]
    client.indices.refresh(index=alias)
    assert client.count(index=alias, body={"query": {"prefix": {"id": "kill"}}})["count"] == TOTAL


POISON = "السم الزعاف"
WEDGING_WORKER = f"""
import sys
import threading

import service.services
from service.cli import main

opened = service.services.open_translator


class Wedging:
    '''The real translator, wedged for good by a sentence holding the poison, as by a segmentation that holds the
    GIL until the process is killed.'''

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def translate(self, sentences, **decoding):
        if any({POISON!r} in sentence for sentence in sentences):
            threading.Event().wait()
        return self.inner.translate(sentences, **decoding)


service.services.open_translator = lambda *args: Wedging(opened(*args))  # what Services opens its translator with
sys.exit(main(["jobs", "worker"]))
"""


def test_an_item_that_wedges_its_worker_fails_after_three_kills_and_the_rest_are_done_once(tiny_model_dir, tmp_path):
    jobs_db = tmp_path / "jobs.db"
    records = [(i + 1, {"id": f"w{i}", "body": f"قال الرئيس إن الاقتصاد تحسن في اليوم {i}."}) for i in range(12)]
    records[5] = (6, {"id": "w5", "body": f"قال الرئيس إن {POISON} في الكأس."})
    store = SqliteJobStore(jobs_db)
    job_id, _ = store.create(records, {"index": False})
    env = service_env(
        {
            "JOBS_DB": str(jobs_db),
            "JOB_BATCH_ITEMS": "4",
            "JOB_LEASE_SECONDS": str(LEASE_SECONDS),  # a dead worker's claims are freed by the next, not the lease
            "JOB_ITEM_MAX_ATTEMPTS": "3",
            "MT_MODEL_DIR": str(tiny_model_dir),
            "MT_MEMORY_PATH": str(tmp_path / "tm.db"),
        }
    )

    def wedged(worker):
        """Whether this worker process holds the poisoned item (and so hangs on it)."""
        with closing(sqlite3.connect(jobs_db)) as db:
            status, owner = db.execute(
                "SELECT status, claimed_by FROM items WHERE job_id = ? AND seq = 5", (job_id,)
            ).fetchone()
        return status == "claimed" and f"-{worker.pid}-" in owner

    kills = 0
    while True:
        worker = subprocess.Popen(
            [sys.executable, "-c", WEDGING_WORKER], cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL
        )
        wait_until(
            lambda worker=worker: wedged(worker) or store.status(job_id).state == "done",
            120,
            "the worker to wedge or end",
        )
        if not wedged(worker):
            break
        worker.kill()
        worker.wait(30)
        kills += 1
        assert kills <= 3, "the item was taken again after its worker died three times"
    worker.terminate()
    assert worker.wait(60) == 0

    status = store.status(job_id)
    assert (kills, status.state, status.done, status.failed) == (3, "done", 11, 1)
    assert [json.loads(e) for e in store.errors(job_id)] == [
        {
            "line": 6,
            "error": "the worker died 3 times processing this item (killed, out of memory, or stalled past its lease)",
        }
    ]
    assert [json.loads(r)["id"] for r in store.results(job_id)] == [f"w{i}" for i in range(12) if i != 5]
