"""The job fleet on Celery with a real RabbitMQ and a real PostgreSQL: worker processes killed, the broker killed.

Exactly once means: every item done, each result stored once, in input order. A redelivery (a batch handed to
another worker after its worker died, or delivered again after the broker came back) is allowed and counted; a
duplicate is not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from helpers import PROJECT_ROOT, free_port, service_env

from service.config import ConfigError, Settings
from service.index import lifecycle
from service.jobs.backends import open_job_store
from service.jobs.celery_queue import BULK_QUEUE, TASK_NAME, CeleryDispatch, make_app
from service.jobs.store_pg import PostgresJobStore
from service.web import create_app
from service.web.services import services_of


def articles(n: int, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": "عنوان", "body": f"قال الرئيس في اليوم {i}."} for i in range(n)]


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)  # polling with a deadline


def watch_outage(holds, message, seconds: float = 3.0) -> None:
    """Keep a server down for a few seconds, checking that holds() stays true, rather than sleeping through it."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        assert holds(), message() if callable(message) else message
        time.sleep(0.1)


def assert_exactly_once(store, job_id: str, total: int, prefix: str) -> None:
    status = store.status(job_id)
    failures = list(store.errors(job_id))  # why, when an item failed: the assertion shows it
    assert (status.state, status.done, status.failed, status.total) == ("done", total, 0, total), failures
    ids = [json.loads(line)["id"] for line in store.results(job_id)]
    assert ids == [f"{prefix}{i}" for i in range(total)]  # each once, in input order
    seqs = store._read("SELECT seq FROM items WHERE job_id = ? AND status = 'done'", (job_id,))
    assert sorted(row[0] for row in seqs) == list(range(total))  # no seq twice, none missing
    assert store.queued_items() == 0


def assert_indexed_once(client, alias: str, total: int, prefix: str) -> None:
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"size": total + 10, "_source": False})["hits"]["hits"]
    assert sorted(hit["_id"] for hit in hits) == sorted(f"{prefix}{i}" for i in range(total))  # each article once


def test_celery_needs_a_broker_and_postgres():
    with pytest.raises(ConfigError, match="JOBS_BROKER_URL"):
        Settings.from_env({"JOBS_BACKEND": "celery", "JOBS_DATABASE_URL": "postgresql://db/jobs"})
    with pytest.raises(ConfigError, match="JOBS_DATABASE_URL"):
        Settings.from_env({"JOBS_BACKEND": "celery", "JOBS_BROKER_URL": "amqp://mq//"})
    with pytest.raises(ConfigError, match="JOBS_BROKER_URL"):
        Settings.from_env({"JOBS_BROKER_URL": "redis://mq"})
    with pytest.raises(ConfigError, match="JOBS_BACKEND"):
        Settings.from_env({"JOBS_BACKEND": "kafka"})
    assert Settings().jobs_backend == "store"


class Fleet:
    """Celery `jobs worker` processes, each in its own directory as if on its own host, and the job they share."""

    def __init__(self, tmp_path, broker_url, database_url, model_dir, total, prefix, opensearch=None, alias=None):
        self.tmp_path, self.total, self.prefix, self.index = tmp_path, total, prefix, opensearch is not None
        self.env = service_env(
            {
                "JOBS_BACKEND": "celery",
                "JOBS_BROKER_URL": broker_url,
                "JOBS_DATABASE_URL": database_url,
                "JOB_BATCH_ITEMS": "8",
                "JOB_LEASE_SECONDS": "2",
                "MT_MODEL_DIR": str(model_dir),
                # unused unless the job indexes
                "OPENSEARCH_URL": opensearch or f"http://127.0.0.1:{free_port()}",
                "OPENSEARCH_INDEX": alias or "articles",
            }
        )
        self.watcher = PostgresJobStore(database_url)
        self.workers: list[subprocess.Popen] = []
        self.records = articles(total, prefix)  # what `jobs submit` sends

    def run_submit(self) -> subprocess.CompletedProcess:
        """`jobs submit` of the fleet's articles, as a client on another host would."""
        source = self.tmp_path / "articles.jsonl"
        lines = (json.dumps(r, ensure_ascii=False) + "\n" for r in self.records)
        source.write_text("".join(lines))
        return subprocess.run(
            [sys.executable, "-m", "service", "jobs", "submit", str(source), *(["--index"] if self.index else [])],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def submit(self) -> str:
        done = self.run_submit()
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[0]

    def start_worker(self) -> subprocess.Popen:
        home = self.tmp_path / f"host{len(self.workers) + 1}"
        home.mkdir()
        log = open(home / "worker.log", "wb")  # noqa: SIM115 - the child has its own copy once started
        worker = subprocess.Popen(
            [sys.executable, "-m", "service", "jobs", "worker"],
            cwd=home,
            env={**self.env, "PYTHONPATH": str(PROJECT_ROOT), "MT_MEMORY_PATH": str(home / "tm.sqlite3")},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.workers.append(worker)
        return worker

    def held_by(self, pid: int) -> int:
        """How many items the worker process pid holds (its name is host-pid-starttime-random)."""
        claimed = "SELECT COUNT(*) FROM items WHERE status = 'claimed' AND claimed_by LIKE ?"
        return self.watcher._read(claimed, (f"%-{pid}-%",))[0][0]

    def done(self, job_id: str) -> int:
        return self.watcher.status(job_id).done

    def finished(self, job_id: str) -> bool:
        return self.watcher.status(job_id).state == "done"

    def logs(self) -> str:
        return "".join((p / "worker.log").read_text()[-1500:] for p in sorted(self.tmp_path.glob("host*")))

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        for worker in self.workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.watcher.close()


def test_each_app_runs_its_batches_with_its_own_worker():
    """The worker rides on the app's own task class: a second app in one process does not get the first's."""
    first, second = object(), object()
    apps = [make_app("amqp://127.0.0.1:1//", 1.0, worker) for worker in (first, second)]
    assert [app.tasks[TASK_NAME].worker for app in apps] == [first, second]


def test_the_setting_selects_the_publishing_dispatch(rabbitmq_server, postgres_url):
    settings = Settings.from_env(
        {"JOBS_BACKEND": "celery", "JOBS_BROKER_URL": rabbitmq_server.url, "JOBS_DATABASE_URL": postgres_url}
    )
    store = open_job_store(settings)
    assert isinstance(store, PostgresJobStore) and isinstance(store.dispatch, CeleryDispatch)
    job_id, created = store.create(enumerate(articles(70, "s"), 1), {"index": False})
    assert created and store.dispatch.publish(store, job_id) == 3  # 70 items in batches of 32
    assert store.health() == {"jobs_store": True, "jobs_broker": True}
    assert BULK_QUEUE == "bulk"
    store.close()


def test_two_celery_workers_one_killed_mid_batch(
    rabbitmq_server, postgres_url, tiny_model_dir, tmp_path, opensearch_node, client
):
    """Two Celery worker processes in their own directories share a 200-article indexing job; SIGKILL one
    mid-batch: every item is done once, in input order, and every article is indexed once."""
    total, alias = 200, "test-celery-worker-killed"
    lifecycle.delete(client, alias)
    fleet = Fleet(tmp_path, rabbitmq_server.url, postgres_url, tiny_model_dir, total, "c", opensearch_node.url, alias)
    job_id = fleet.submit()
    try:
        victim, survivor = fleet.start_worker(), fleet.start_worker()
        wait_until(
            lambda: fleet.held_by(victim.pid) > 0 and fleet.done(job_id) >= 16,
            90,
            f"the first worker never held a batch: {fleet.logs()}",
        )
        os.kill(victim.pid, signal.SIGKILL)  # mid-batch: it holds claimed items, its task is unacknowledged
        victim.wait()
        held = fleet.held_by(victim.pid)
        wait_until(lambda: fleet.finished(job_id), 90, f"the job did not finish: {fleet.logs()}")
        assert survivor.poll() is None
        assert_exactly_once(fleet.watcher, job_id, total, "c")
        assert_indexed_once(client, alias, total, "c")
    finally:
        fleet.stop()
        lifecycle.delete(client, alias)
    print(f"celery worker killed: {total} items, {held} redelivered to the other worker, duplicates: 0")


def test_a_repeated_id_counts_as_on_every_write_path(
    rabbitmq_server, postgres_url, tiny_model_dir, tmp_path, opensearch_node, client
):
    """tests/test_write_path.py's three records through the Celery fleet: the earlier a1 fails at submission;
    submitted again, both articles are unchanged, and neither is indexed twice."""
    from test_write_path import AGAIN, FIRST, RECORDS, check_stored

    alias = "test-celery-write-path"
    lifecycle.delete(client, alias)
    fleet = Fleet(tmp_path, rabbitmq_server.url, postgres_url, tiny_model_dir, 3, "r", opensearch_node.url, alias)
    fleet.records = RECORDS
    try:
        fleet.start_worker()
        for expected in FIRST, AGAIN:
            job_id = fleet.submit()
            wait_until(lambda job_id=job_id: fleet.finished(job_id), 90, f"the job did not finish: {fleet.logs()}")
            statuses = [json.loads(line)["outcome"] for line in fleet.watcher.results(job_id)]
            failed = fleet.watcher.status(job_id).failed
            assert (statuses.count("indexed"), statuses.count("unchanged"), failed) == expected
            errors = [json.loads(line) for line in fleet.watcher.errors(job_id)]
            assert errors == [{"line": 1, "error": "id 'a1' comes again at line 3; that one is kept"}]
        check_stored(client, alias)
    finally:
        fleet.stop()
        lifecycle.delete(client, alias)


def test_rabbitmq_killed_and_restarted_mid_job(
    rabbitmq_to_kill, postgres_url, tiny_model_dir, tmp_path, opensearch_node, client
):
    """An indexing job: after the broker's outage every item is done once and every article is indexed once."""
    total, alias = 120, "test-celery-broker-restart"
    lifecycle.delete(client, alias)
    fleet = Fleet(tmp_path, rabbitmq_to_kill.url, postgres_url, tiny_model_dir, total, "b", opensearch_node.url, alias)
    job_id = fleet.submit()
    try:
        fleet.start_worker()
        fleet.start_worker()
        wait_until(lambda: fleet.done(job_id) >= 16, 90, f"the workers made no progress: {fleet.logs()}")
        done_at_kill = fleet.done(job_id)
        rabbitmq_to_kill.kill()  # SIGKILL the node mid-job
        assert not rabbitmq_to_kill.answers()
        watch_outage(lambda: not fleet.finished(job_id) or fleet.done(job_id) == total, "finished during the outage")
        done_at_restart = fleet.done(job_id)
        rabbitmq_to_kill.start()
        wait_until(
            lambda: fleet.finished(job_id), 90, f"the job did not finish after RabbitMQ came back: {fleet.logs()}"
        )
        assert_exactly_once(fleet.watcher, job_id, total, "b")
        assert_indexed_once(client, alias, total, "b")
        assert all(worker.poll() is None for worker in fleet.workers)  # the workers rode out the outage
    finally:
        fleet.stop()
        lifecycle.delete(client, alias)
    print(
        f"rabbitmq restart: {total} items, {done_at_kill} done at the kill, {done_at_restart} at the restart, duplicates: 0"
    )


def test_a_job_submitted_while_the_broker_is_down_is_queued_when_submitted_again(
    rabbitmq_to_kill, postgres_url, tiny_model_dir, tmp_path
):
    """Broker down at submit: a one-line error (CLI) and a 503 (API); the job is kept, and submitting it again
    once the broker is back publishes it; one worker then does every item once."""
    total = 20
    fleet = Fleet(tmp_path, rabbitmq_to_kill.url, postgres_url, tiny_model_dir, total, "q")
    rabbitmq_to_kill.kill()
    refused = fleet.run_submit()
    assert refused.returncode != 0
    assert refused.stderr.strip().count("\n") == 0 and "broker could not be reached" in refused.stderr
    job_id = refused.stderr.split("job ")[1].split()[0]
    assert fleet.watcher.status(job_id).state == "queued"  # stored, not lost

    settings = Settings.from_env(fleet.env)
    app = create_app(replace(settings, jobs_workers=0, api_keys=("celery-key-0123",)))
    with app.test_client() as http:
        answer = http.post("/api/v1/jobs", json=["نص للترجمة"], headers={"Authorization": "Bearer celery-key-0123"})
    services_of(app).close()
    assert answer.status_code == 503 and answer.json["error"]["code"] == "jobs_unavailable"
    fleet.watcher.cancel(answer.json["error"]["message"].split("job ")[1].split()[0])  # its client gives it up

    rabbitmq_to_kill.start()
    again = fleet.run_submit()
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{job_id} (the same job was already submitted)")
    try:
        fleet.start_worker()
        wait_until(lambda: fleet.finished(job_id), 90, f"the job did not finish: {fleet.logs()}")
        assert_exactly_once(fleet.watcher, job_id, total, "q")
    finally:
        fleet.stop()


def test_a_frozen_broker_costs_a_submission_seconds(rabbitmq_to_kill, postgres_url, settings):
    """RabbitMQ SIGSTOPped with the publishing connection open: a submission is a 503 jobs_unavailable within a
    few JOBS_TIMEOUTs (the job stays stored), /readyz names the broker; after SIGCONT the job is published."""
    timeout, key = 1.0, "celery-frozen-key-0123"
    app = create_app(
        replace(
            settings,
            jobs_backend="celery",
            jobs_broker_url=rabbitmq_to_kill.url,
            jobs_database_url=postgres_url,
            jobs_timeout=timeout,
            jobs_workers=0,
            api_keys=(key,),
        )
    )
    http, auth = app.test_client(), {"Authorization": f"Bearer {key}"}
    assert http.post("/api/v1/jobs", json=["قبل"], headers=auth).status_code == 202  # the connection is open
    assert http.get("/readyz").json["checks"]["jobs_broker"] is True
    rabbitmq_to_kill.freeze()
    with ThreadPoolExecutor(1) as pool:
        try:
            started = time.monotonic()
            submitted = pool.submit(http.post, "/api/v1/jobs", json=["نص"], headers=auth)
            answer = submitted.result(timeout=20 * timeout)  # two connections tried, each with its timeouts
            took = time.monotonic() - started
            assert answer.status_code == 503 and answer.json["error"]["code"] == "jobs_unavailable"
            asked = time.monotonic()
            ready = http.get("/readyz")
            probed = time.monotonic() - asked
            assert ready.status_code == 503 and ready.json["checks"]["jobs_broker"] is False
            assert probed < 3 * timeout, f"/readyz took {probed:.1f} s to find the broker frozen"
            assert ready.json["checks"]["jobs_store"] is True
        finally:
            rabbitmq_to_kill.thaw()
    again = http.post("/api/v1/jobs", json=["نص"], headers=auth)
    assert again.status_code == 200 and again.json["duplicate"]  # stored at the 503, published now
    assert http.get("/readyz").json["checks"]["jobs_broker"] is True
    services_of(app).close()
    print(
        f"frozen RabbitMQ, JOBS_TIMEOUT={timeout:g} s: a submission answered 503 in {took:.1f} s, /readyz in {probed:.1f} s"
    )


def test_postgres_killed_and_restarted_under_the_celery_fleet(
    rabbitmq_server, postgres_to_kill, tiny_model_dir, tmp_path
):
    """The job database's postmaster SIGKILLed mid-job and started again: the tasks retry, nothing is lost or repeated."""
    total = 120
    fleet = Fleet(tmp_path, rabbitmq_server.url, postgres_to_kill.create_database("jobs"), tiny_model_dir, total, "p")
    job_id = fleet.submit()
    try:
        fleet.start_worker()
        fleet.start_worker()
        wait_until(lambda: fleet.done(job_id) >= 16, 90, f"the workers made no progress: {fleet.logs()}")
        done_at_kill = fleet.done(job_id)
        postgres_to_kill.kill()
        watch_outage(lambda: all(worker.poll() is None for worker in fleet.workers), fleet.logs)
        postgres_to_kill.start()
        wait_until(
            lambda: fleet.finished(job_id), 120, f"the job did not finish after PostgreSQL came back: {fleet.logs()}"
        )
        assert_exactly_once(fleet.watcher, job_id, total, "p")
        assert all(worker.poll() is None for worker in fleet.workers)  # the workers rode out the outage
    finally:
        fleet.stop()
    print(f"postgres restart under celery: {total} items, {done_at_kill} done at the kill, duplicates: 0")
