"""The job fleet past one machine: the same job through the distributed back end (Celery on RabbitMQ, jobs in
PostgreSQL) with one and with two worker processes, against the SQLite store with one worker, in one run,
with the exactly-once check.

Each pass is a fresh job of the same news articles (../shared/data/news), translated by
`python -m service jobs worker` processes with the generated base model:
  sqlite x1    JOBS_DB (the single-machine default), one worker using every core;
  celery x1    JOBS_BACKEND=celery: a task per batch on RabbitMQ, results in PostgreSQL, one worker
               using every core: the cost of the broker path;
  celery x2    two workers with separate working directories, as if on two hosts, one core each.
The passes alternate (A B C, A B C, ...) so that the machine's noise falls on all of them alike. The model
ends each output near a human length (`model generate --realistic-length`); with `--lengths forced`, the
plain random model, which never stops, has decoding held to input length + 1 token. The translation
memory is off, and nothing is indexed: the work is translation and the store's claims and commits.

A throwaway PostgreSQL and RabbitMQ are started the way the tests start theirs (tests/servers.py:
Debian's packages, installed when missing, on free loopback ports).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PROJECT_ROOT, add_model_options, bench_model_dir, model_line, news_articles

from service.config import Settings
from service.jobs.backends import open_job_store

DECODING = {"MT_DECODE_LENGTH_RATIO": "1.0", "MT_DECODE_LENGTH_EXTRA": "1"}
BATCHES = {"JOB_BATCH_ITEMS": "8"}  # read by the submitter too: under Celery, it cuts the job into tasks


def worker_env(store_env: dict, inter_threads: int, workdir: Path, model_dir: Path, forced: bool) -> dict:
    return {
        **os.environ,
        **(DECODING if forced else {}),
        **BATCHES,
        **store_env,
        "MT_MODEL_DIR": str(model_dir),
        "MT_MEMORY": "off",
        "MT_INTER_THREADS": str(inter_threads),
        "MT_INTRA_THREADS": "1",
        "MT_MEMORY_PATH": str(workdir / "tm.sqlite3"),
    }


def run_pass(name: str, store_env: dict, workers: int, articles: list[dict], cores: int, args) -> dict:
    """One job through `workers` worker processes; its rate, each worker's peak RSS, and the exactly-once check."""
    settings = Settings.from_env({**os.environ, **BATCHES, **store_env})
    store = open_job_store(settings)
    celery = settings.jobs_backend == "celery"  # its workers wait for tasks: they are stopped once the job is done
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as open_logs:
        started = time.perf_counter()
        job_id, _ = store.create(list(enumerate(articles, 1)), {"index": False, "pass": name})
        processes = []
        for n in range(workers):
            workdir = Path(scratch) / f"host-{n}"  # as if on separate hosts: nothing shared on disk
            workdir.mkdir()
            env = worker_env(
                store_env, max(1, cores // workers), workdir, bench_model_dir(args), args.lengths == "forced"
            )
            log = args.logs / f"{name.replace(' ', '-')}-{n}.log" if args.logs else None
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service", "jobs", "worker", *([] if celery else ["--until-idle"])],
                    cwd=workdir,
                    env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
                    stdout=subprocess.DEVNULL,
                    stderr=open_logs.enter_context(open(log, "ab")) if log else subprocess.DEVNULL,
                )
            )
        if celery:
            while store.status(job_id).state not in ("done", "failed", "cancelled"):
                time.sleep(0.5)  # polling the job's progress, as a client would
            seconds = time.perf_counter() - started
            for process in processes:
                process.terminate()
        peaks = []
        for process in processes:
            _, status, usage = os.wait4(process.pid, 0)
            if status != 0 and not celery:
                sys.exit(f"error: a {name} worker exited with status {status}")
            peaks.append(usage.ru_maxrss / 1024)
        if not celery:
            seconds = time.perf_counter() - started
    status = store.status(job_id)
    ids = [json.loads(line)["id"] for line in store.results(job_id)]
    exact = status.done == len(articles) and ids == [a["id"] for a in articles]
    store.close()
    return {"seconds": seconds, "rate": len(articles) / seconds, "peak_mb": max(peaks), "exact": exact}


def throwaway_servers():
    """(PostgreSQL URL, RabbitMQ URL, servers to stop), started as the test suite starts them."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    from servers import PostgresServer, RabbitMQServer

    postgres, rabbitmq = PostgresServer(), RabbitMQServer()
    postgres.start()
    rabbitmq.start()
    return postgres.create_database("bench_scale"), rabbitmq.url, (rabbitmq, postgres)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="times each pass runs, alternating")
    parser.add_argument("--passes", default="sqlite x1,celery x1,celery x2", help="which passes, comma-separated")
    parser.add_argument("--logs", type=Path, help="keep each worker's log in this folder")
    add_model_options(parser)
    args = parser.parse_args()
    print(model_line(bench_model_dir(args)))
    articles = [dict(a, id=str(a.get("id", n))) for n, a in enumerate(news_articles(args.articles))]
    cores = len(os.sched_getaffinity(0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))  # still stop the throwaway servers
    database, broker, servers = throwaway_servers()
    distributed = {"JOBS_BACKEND": "celery", "JOBS_DATABASE_URL": database, "JOBS_BROKER_URL": broker}
    chosen = [name.strip() for name in args.passes.split(",")]
    results: dict[str, list[dict]] = {name: [] for name in chosen}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            for round_ in range(args.rounds):
                for name, store_env, workers in (
                    ("sqlite x1", {"JOBS_DB": f"{scratch}/jobs-{round_}.sqlite3"}, 1),
                    ("celery x1", distributed, 1),
                    ("celery x2", distributed, 2),
                ):
                    if name not in chosen:
                        continue
                    outcome = run_pass(name, store_env, workers, articles, cores, args)
                    results[name].append(outcome)
                    print(
                        f"round {round_ + 1} {name:12s} {outcome['rate']:6.2f} articles/s  "
                        f"{outcome['seconds']:6.1f} s  peak {outcome['peak_mb']:.0f} MB  "
                        f"{'exact' if outcome['exact'] else 'NOT EXACT'}",
                        flush=True,
                    )
    finally:
        for server in servers:
            server.stop()

    rate = {name: statistics.median(r["rate"] for r in runs) for name, runs in results.items()}
    print(f"\n{args.articles} articles, {cores} cores, {args.model} model, beam 4, medians of {args.rounds} rounds")
    for name, value in rate.items():
        workers = 2 if name.endswith("x2") else 1
        print(f"  {name:12s} {value:6.2f} articles/s  ({value / workers:.2f} per worker)")
    if {"sqlite x1", "celery x1"} <= rate.keys():
        overhead = 1 - rate["celery x1"] / rate["sqlite x1"]
        print(f"  broker-path overhead vs SQLite on one host: {overhead:+.1%} (target <= 10%)")
    if {"celery x1", "celery x2"} <= rate.keys():
        print(f"  two workers vs one on {cores} cores: x{rate['celery x2'] / rate['celery x1']:.2f}")
        print(
            f"  N hosts like this one predict about N x {rate['celery x1']:.2f} articles/s, until the database's"
            " claims and commits (a few per batch of 8 articles) become the limit"
        )
    exact = all(r["exact"] for runs in results.values() for r in runs)
    print(f"  exactly once, in input order, in every pass: {exact}")
    if not exact:
        sys.exit(1)


if __name__ == "__main__":
    main()
