"""Bulk jobs with the base model: throughput against the raw CTranslate2 ceiling, the translation-memory
speed-up on real news, a kill -9 mid-job with exact counts, and peak memory of workers and the service.

News articles from ../shared/data/news go through `python -m service jobs worker` processes, one
pass per measurement, each on a fresh job database:
  (a) raw CTranslate2 on the same sentences, pre-segmented and pre-tokenised, in the same
      token-budgeted batches with the same length limits: the ceiling, in output tokens/s;
  (b) the job, translation memory off: articles/s and output tokens/s, and b/a (target >= 0.85);
  (c) the job again with a fresh translation memory: the speed-up from sentences the corpus repeats;
  (d) the same job killed with SIGKILL halfway and restarted: every item done once, in order;
  (e) peak RSS of a worker process, and of the gunicorn service with the model loaded.
Random weights never stop on their own, so decoding is held to input length + 1 token
(MT_DECODE_LENGTH_RATIO=1, MT_DECODE_LENGTH_EXTRA=1) in both (a) and (b): the same work for both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import ctranslate2
from common import PROJECT_ROOT, base_model_dir, news_articles

from service.config import Settings
from service.jobs.store import JobStore, SqliteJobStore
from service.pipeline import prepare
from service.translation.batching import plan_batches
from service.translation.engine import Translator

DATA = PROJECT_ROOT / "bench" / ".data" / "jobs"
DECODING = {"MT_DECODE_LENGTH_RATIO": "1.0", "MT_DECODE_LENGTH_EXTRA": "1"}


def ceiling(settings: Settings, articles: list[dict]) -> tuple[float, int]:
    """(output tokens/s, output tokens) of raw CTranslate2 on the articles' sentences."""
    translator = Translator(settings.model_dir, settings)
    sentences = [
        u.source for a in articles for u in prepare(a, settings.max_input_tokens, translator.count_tokens).units
    ]
    tokens = [translator.tokenize(s) for s in sentences]
    del translator
    inter, intra = settings.threads
    model = ctranslate2.Translator(
        str(settings.model_dir), compute_type="int8", inter_threads=inter, intra_threads=intra
    )
    batches = plan_batches([len(t) for t in tokens], settings.batch_tokens)
    started = time.perf_counter()
    futures = [
        model.translate_batch(
            [tokens[i] for i in batch],
            asynchronous=True,
            beam_size=settings.beam_size,
            max_decoding_length=math.ceil(max(len(tokens[i]) for i in batch)) + 1,
        )
        for batch in batches
    ]
    produced = sum(len(f.result().hypotheses[0]) for batch in futures for f in batch)
    return produced / (time.perf_counter() - started), produced


def worker_env(jobs_db, memory: bool) -> dict:
    return {
        **os.environ,
        **DECODING,
        "MT_MODEL_DIR": str(base_model_dir()),
        "JOBS_DB": str(jobs_db),
        "MT_MEMORY": "on" if memory else "off",
        "MT_MEMORY_PATH": str(jobs_db.with_suffix(".tm.sqlite3")),
        "JOB_LEASE_SECONDS": "5",
        "JOB_BATCH_ITEMS": "16",
    }


def run_worker(env: dict) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one `jobs worker --until-idle` process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "jobs", "worker", "--until-idle"],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"error: the worker exited with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def job_pass(name: str, articles: list[dict], memory: bool) -> tuple[JobStore, str, dict]:
    jobs_db = DATA / f"{name}.sqlite3"
    for stale in DATA.glob(f"{name}.*"):
        stale.unlink()
    store = SqliteJobStore(jobs_db)
    job_id, _ = store.create(list(enumerate(articles, 1)), {"index": False})
    return store, job_id, worker_env(jobs_db, memory)


def killed_and_resumed(articles: list[dict]) -> str:
    store, job_id, env = job_pass("killed", articles, memory=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "jobs", "worker"], cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL
    )
    while store.status(job_id).done < len(articles) // 2:
        if process.poll() is not None:
            sys.exit("error: the worker died on its own")
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    at_kill = store.status(job_id).done
    run_worker(env)
    status = store.status(job_id)
    ids = [json.loads(line)["id"] for line in store.results(job_id)]
    exact = (status.done, status.failed, len(ids), len(set(ids))) == (len(articles), 0, len(articles), len(articles))
    in_order = ids == [a["id"] for a in articles]
    return (
        f"killed at {at_kill}/{len(articles)} done; after restart {status.state}: {status.done} done, "
        f"{status.failed} failed, {len(ids)} results, {len(set(ids))} distinct, in input order: {in_order} "
        f"→ {'exact' if exact and in_order else 'NOT EXACT'}"
    )


def service_rss(settings: Settings, port: int = 8766) -> float:
    """Peak RSS (MB) of the gunicorn worker serving the base model, after a translate request."""
    env = {**worker_env(DATA / "service.sqlite3", memory=False), "JOBS_WORKERS": "0", "RATE_LIMIT": "off"}
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--no-access-log"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in server.stderr:
            if "Listening at" in line:
                break
        body = json.dumps({"text": news_articles(1)[0]["body"][:2000]}).encode()
        urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/translate", data=body, headers={"Content-Type": "application/json"}
            ),
            timeout=600,
        ).read()
        children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        peaks = [
            int(line.split()[1])
            for pid in children
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmHWM")
        ]
        return max(peaks) / 1024
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    articles = [{"id": a["id"], "title": a["title"], "body": a["body"]} for a in news_articles(args.articles)]
    settings = replace(Settings.from_env({**DECODING}), model_dir=base_model_dir(), memory_enabled=False)

    ceiling_rate, ceiling_tokens = ceiling(settings, articles)
    store, job_id, env = job_pass("memory-off", articles, memory=False)
    seconds_off, worker_rss = run_worker(env)
    tokens = store.status(job_id).tokens
    store_on, job_on, env_on = job_pass("memory-on", articles, memory=True)
    seconds_on, _ = run_worker(env_on)
    print(
        f"{len(articles)} news articles; base model, beam {settings.beam_size}, int8, "
        f"{settings.threads[0]}x{settings.threads[1]} threads; one worker process"
    )
    print(f"(a) raw CTranslate2 ceiling: {ceiling_rate:7.1f} output tokens/s ({ceiling_tokens} tokens)")
    print(
        f"(b) job, memory off: {len(articles) / seconds_off:5.2f} articles/s, {tokens / seconds_off:7.1f} output "
        f"tokens/s ({tokens} tokens, {seconds_off:.0f}s with model load)   b/a = {tokens / seconds_off / ceiling_rate:.2f}"
    )
    print(
        f"(c) job, fresh translation memory: {seconds_on:.0f}s, speed-up {seconds_off / seconds_on:.2f}x "
        f"from the sentences this corpus repeats ({store_on.status(job_on).tokens} tokens translated)"
    )
    print(f"(d) kill -9 mid-job: {killed_and_resumed(articles)}")
    print(f"(e) peak RSS: worker process {worker_rss:.0f} MB; gunicorn service worker {service_rss(settings):.0f} MB")


if __name__ == "__main__":
    main()
