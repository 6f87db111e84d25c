"""The job store on a real PostgreSQL: workers sharing one job, worker processes killed, the server killed mid-job.

Exactly once means: every item done, each result stored once, in input order. A redelivery (an item claimed again
after its worker died or its commit failed) is allowed and counted; a duplicate is not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace

import pytest
from helpers import PROJECT_ROOT, free_port, run_cli, service_env

from service.config import ConfigError, Settings
from service.errors import JobsUnavailable
from service.jobs.backends import open_job_store
from service.jobs.store import POLLING, SqliteJobStore
from service.jobs.store_pg import PostgresJobStore
from service.jobs.worker import Worker
from service.web import create_app
from service.web.services import services_of

pytestmark = pytest.mark.integration


def articles(n: int, prefix: str = "p") -> list[tuple[int, dict]]:
    return [(i + 1, {"id": f"{prefix}{i}", "title": "عنوان", "body": f"قال الرئيس في اليوم {i}."}) for i in range(n)]


class CountingStore(PostgresJobStore):
    """The real PostgreSQL store, noting each item it hands out, so that redeliveries can be counted."""

    def __init__(self, url: str, lease_seconds: float, claimed: Counter):
        super().__init__(url, lease_seconds)
        self.claimed = claimed

    def claim(self, worker, limit, job_id=None):
        job, items = super().claim(worker, limit, job_id)
        self.claimed.update(item.seq for item in items)
        return job, items


def assert_exactly_once(store, job_id: str, total: int, prefix: str) -> None:
    status = store.status(job_id)
    assert (status.state, status.done, status.failed, status.total) == ("done", total, 0, total)
    ids = [json.loads(line)["id"] for line in store.results(job_id)]
    assert ids == [f"{prefix}{i}" for i in range(total)]  # each once, in input order
    assert store.queued_items() == 0


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_the_setting_selects_the_store(postgres_url, tmp_path):
    settings = Settings.from_env({"JOBS_DATABASE_URL": postgres_url, "JOBS_DB": str(tmp_path / "unused.db")})
    store = open_job_store(settings)
    assert isinstance(store, PostgresJobStore) and not (tmp_path / "unused.db").exists()
    assert store.dispatch is POLLING and store.health() == {"jobs_store": True}  # its workers poll
    store.close()
    assert isinstance(open_job_store(Settings(jobs_db=tmp_path / "jobs.db")), SqliteJobStore)
    with pytest.raises(ConfigError, match="JOBS_DATABASE_URL"):
        Settings.from_env({"JOBS_DATABASE_URL": "mysql://db/jobs"})
    secret = PostgresJobStore(postgres_url.replace("postgres@", "postgres:hunter2@"))
    assert "hunter2" not in secret.where and "***" in secret.where
    secret.close()


def test_the_job_database_password_reaches_no_client_and_no_log(postgres_to_kill, settings, caplog):
    """The database down: the 503 a client gets, the service's log and serve's one-line error name the database
    without its password, in either form a URL carries it."""
    secret, key = "s3cret-pw", "pg-secret-key-0123"
    url = postgres_to_kill.url()  # the server trusts loopback: the password is never checked
    urls = [url.replace("postgres@", f"postgres:{secret}@"), f"{url}?password={secret}"]
    apps = [create_app(replace(settings, jobs_database_url=u, jobs_workers=0, api_keys=(key,))) for u in urls]
    postgres_to_kill.kill()
    for app in apps:
        answer = app.test_client().post("/api/v1/jobs", json=["نص"], headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 503 and answer.json["error"]["code"] == "jobs_unavailable"
        assert "job database" in answer.json["error"]["message"] and secret not in answer.get_data(as_text=True)
        services_of(app).close()
    assert "job database" in caplog.text and secret not in caplog.text
    for url in urls:
        refused = run_cli("serve", env={"JOBS_DATABASE_URL": url, "MT_MODEL_DIR": str(settings.model_dir)})
        output = (refused.stdout + refused.stderr).decode()
        assert refused.returncode == 2 and "job database" in output and secret not in output, output


def timed_submit(app, key: str, text: str) -> tuple[int, str | None, float]:
    """POST one job: (status, error code, seconds taken)."""
    started = time.monotonic()
    answer = app.test_client().post("/api/v1/jobs", json=[text], headers={"Authorization": f"Bearer {key}"})
    return answer.status_code, (answer.json.get("error") or {}).get("code"), time.monotonic() - started


def test_a_frozen_job_database_costs_a_request_seconds_not_its_thread(postgres_to_kill, settings):
    """PostgreSQL SIGSTOPped with its connections open: 10 job requests at once each get a 503 jobs_unavailable
    within a few JOBS_TIMEOUTs, /healthz answers meanwhile and /readyz names the job store; after SIGCONT,
    submissions work again."""
    timeout, key = 1.0, "pg-frozen-key-0123"
    url = postgres_to_kill.create_database("jobs")
    app = create_app(replace(settings, jobs_database_url=url, jobs_timeout=timeout, jobs_workers=0, api_keys=(key,)))
    assert timed_submit(app, key, "قبل")[0] == 202  # the connection is open when the server freezes
    bound = 10 * timeout  # a frozen server costs a lock wait, an answer wait and a connect (libpq's least: 2 s)
    postgres_to_kill.freeze()
    with ThreadPoolExecutor(10) as pool:
        try:
            answers = [pool.submit(timed_submit, app, key, f"نص {n}") for n in range(10)]
            assert app.test_client().get("/healthz").status_code == 200
            done, hung = wait(answers, timeout=bound)
            assert not hung, f"{len(hung)} of 10 job requests still waiting after {bound:g} s"
            results = [answer.result() for answer in done]
            assert {(status, code) for status, code, _ in results} == {(503, "jobs_unavailable")}
            ready = app.test_client().get("/readyz")
            assert ready.status_code == 503 and ready.json["checks"]["jobs_store"] is False
        finally:
            postgres_to_kill.thaw()
    slowest = max(seconds for _, _, seconds in results)
    wait_until(lambda: timed_submit(app, key, "بعد")[0] == 202, 30, "submissions did not work again after SIGCONT")
    assert app.test_client().get("/readyz").json["checks"]["jobs_store"] is True
    services_of(app).close()
    print(f"frozen PostgreSQL, JOBS_TIMEOUT={timeout:g} s: 10 job requests answered 503 within {slowest:.1f} s")


def test_two_worker_threads_share_a_200_item_job_exactly_once(postgres_url, translator):
    total, claimed = 200, Counter()
    stores = [CountingStore(postgres_url, 120, claimed) for _ in range(3)]
    job_id, _ = stores[0].create(articles(total), {"index": False})
    workers = [Worker(store, translator, batch=8) for store in stores[1:]]
    threads = [threading.Thread(target=w.run, args=(threading.Event(), True)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert_exactly_once(stores[0], job_id, total, "p")
    assert sorted(claimed) == list(range(total)) and max(claimed.values()) == 1  # no item was handed out twice
    for store in stores:
        store.close()


def test_postgres_killed_and_restarted_mid_job_loses_and_repeats_nothing(postgres_to_kill, translator):
    total, claimed = 120, Counter()
    url = postgres_to_kill.create_database("jobs")
    watcher = PostgresJobStore(url)
    job_id, _ = watcher.create(articles(total, "r"), {"index": False})
    stores = [CountingStore(url, 1.0, claimed) for _ in range(2)]  # short leases: claims cut off are soon free
    stop = threading.Event()
    threads = [threading.Thread(target=Worker(s, translator, batch=4).run, args=(stop, True)) for s in stores]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: watcher.status(job_id).done >= 20, 60, "the workers made no progress")
        postgres_to_kill.kill()  # SIGKILL the postmaster mid-job
        with pytest.raises(JobsUnavailable):
            watcher.status(job_id)  # it is down
        postgres_to_kill.start()

        def finished() -> bool:
            try:
                return watcher.status(job_id).state == "done"
            except JobsUnavailable:
                return False  # the watcher's own retry found the server still starting

        wait_until(finished, 90, "the job did not finish after PostgreSQL came back")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert_exactly_once(watcher, job_id, total, "r")
    redelivered = sum(n - 1 for n in claimed.values())
    print(f"postgres restart: {total} items, {redelivered} redelivered, duplicates: 0")
    for store in (watcher, *stores):
        store.close()


def test_two_worker_processes_one_killed_mid_batch(postgres_url, tiny_model_dir, tmp_path):
    """Two `jobs worker` processes in their own directories, as if on two hosts; SIGKILL one mid-batch."""
    total = 200
    source = tmp_path / "articles.jsonl"
    source.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for _, record in articles(total, "w")))
    env = service_env(
        {
            "JOBS_DATABASE_URL": postgres_url,
            "JOB_BATCH_ITEMS": "8",
            "JOB_LEASE_SECONDS": "2",
            "MT_MODEL_DIR": str(tiny_model_dir),
            "OPENSEARCH_URL": f"http://127.0.0.1:{free_port()}",  # unused: the job does not index
        }
    )
    submitted = subprocess.run(
        [sys.executable, "-m", "service", "jobs", "submit", str(source)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split()[0]
    watcher = PostgresJobStore(postgres_url)

    def held_by(pid: int) -> int:
        """How many items the worker process pid holds (its name is host-pid-starttime-random)."""
        claimed = "SELECT COUNT(*) FROM items WHERE status = 'claimed' AND claimed_by LIKE ?"
        return watcher._read(claimed, (f"%-{pid}-%",))[0][0]

    hosts = []
    for n in (1, 2):
        home = tmp_path / f"host{n}"
        home.mkdir()
        hosts.append(
            subprocess.Popen(
                [sys.executable, "-m", "service", "jobs", "worker", "--until-idle"],
                cwd=home,
                env={**env, "PYTHONPATH": str(PROJECT_ROOT), "MT_MEMORY_PATH": str(home / "tm.sqlite3")},
                stderr=subprocess.DEVNULL,
            )
        )
    try:
        victim = hosts[0]
        wait_until(
            lambda: held_by(victim.pid) > 0 and watcher.status(job_id).done >= 16,
            90,
            "the first worker never held a batch",
        )
        os.kill(victim.pid, signal.SIGKILL)  # mid-batch: it holds claimed items
        victim.wait()
        held = held_by(victim.pid)
        assert hosts[1].wait(120) == 0
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
                host.wait()
    assert_exactly_once(watcher, job_id, total, "w")
    print(f"worker process killed: {total} items, {held} redelivered to the other worker, duplicates: 0")
    watcher.close()


def test_a_connection_dropped_while_a_job_is_stored_loses_no_item_silently(postgres_url):
    store, killer = PostgresJobStore(postgres_url), PostgresJobStore(postgres_url)

    def records_dropping_the_connection():
        """The records, read once, as an upload's are; the store's connection is dropped while they are read."""
        for number, (line, record) in enumerate(articles(20, "d")):
            if number == 10:
                killer._read("SELECT pg_terminate_backend(?)", (store._conn.info.backend_pid,))
            yield line, record

    before = store.list()
    with pytest.raises(JobsUnavailable, match="send it again"):  # not a job of the records left unread
        store.create(records_dropping_the_connection(), {"index": False}, owner="dropped")
    assert store.list() == before
    job_id, created = store.create(articles(20, "d"), {"index": False}, owner="dropped")
    assert created and store.status(job_id).total == 20
    store.close()
    killer.close()
