"""Shared state for several service processes and hosts: the translation memory in Redis, rate-limit counters in
Redis, and Prometheus metrics summed over gunicorn workers; against a real redis-server and real `serve` processes."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, free_port, service_env

from service.config import ConfigError, Settings
from service.translation.engine import Translator
from service.translation.memory import (
    REDIS_TIMEOUT_SECONDS,
    RETRY_SECONDS,
    CachedTranslator,
    RedisMemory,
    TranslationMemory,
    open_memory,
)
from service.web.auth import STORAGE_TIMEOUT_SECONDS

SENTENCES = [f"جملة رقم {n} في الخبر" for n in range(12)]
DECODING = "model|beam=4|rep=1.0|ngram=0"


@pytest.fixture
def redis_db(redis_server):
    """The session's Redis, emptied for this test."""
    client = redis_server.client()
    client.flushall()
    yield redis_server
    client.close()


def host(tiny_model_dir, url) -> CachedTranslator:
    """What one host builds: its own engine, behind the shared memory the settings name."""
    settings = Settings(model_dir=tiny_model_dir, inter_threads=1, memory_url=url)
    return CachedTranslator(Translator(tiny_model_dir, settings), open_memory(settings))


def test_a_sentence_one_host_translated_is_a_hit_for_another(tiny_model_dir, redis_db):
    first, second = host(tiny_model_dir, redis_db.url), host(tiny_model_dir, redis_db.url)
    assert isinstance(first.memory, RedisMemory)
    done = first.translate(SENTENCES)
    assert first.inner.counters().tokens_translated > 0 and first.misses == len(SENTENCES)

    again = second.translate([*reversed(SENTENCES), "جملة جديدة"])
    assert again[:-1] == list(reversed(done))
    assert (second.hits, second.misses) == (len(SENTENCES), 1)  # only the new sentence reached the second engine
    assert second.inner.counters().tokens_translated == again[-1].tokens
    assert len(first.memory) == len(SENTENCES) + 1


def test_entries_expire_unless_used_and_each_hit_renews_them(redis_db):
    memory = RedisMemory(redis_db.url, ttl_seconds=1000)
    memory.put_many(DECODING, [("one", _translation("1")), ("two", _translation("2"))])
    client = redis_db.client()
    keys = sorted(client.keys(RedisMemory.KEY_PREFIX + "*"))
    assert keys == [f"{RedisMemory.KEY_PREFIX}{DECODING}\0{s}".encode() for s in ("one", "two")]  # the SQLite key
    assert all(900 < client.ttl(key) <= 1000 for key in keys)
    for key in keys:
        client.expire(key, 5)
    assert memory.get_many(DECODING, ["one", "three"]) == {"one": _translation("1")}
    assert client.ttl(keys[0]) > 900 and client.ttl(keys[1]) <= 5  # the hit renewed its entry, the other runs out
    assert memory.get_many("other-model|beam=4", ["one"]) == {}  # the decoding key is part of the key


def test_translation_goes_on_without_the_memory_when_redis_is_unreachable(translator):
    cached = CachedTranslator(translator, RedisMemory(f"redis://127.0.0.1:{free_port()}/0", ttl_seconds=60))
    assert cached.translate(SENTENCES[:3]) == translator.translate(SENTENCES[:3])
    assert (cached.hits, cached.misses) == (0, 3)


def test_the_memory_url_chooses_the_store(tmp_path):
    assert isinstance(open_memory(Settings(memory_path=tmp_path / "tm.db")), TranslationMemory)
    assert isinstance(open_memory(Settings(memory_url="redis://127.0.0.1:1/0")), RedisMemory)
    assert Settings.from_env({"MT_MEMORY_URL": ""}).memory_url is None
    with pytest.raises(ConfigError, match="MT_MEMORY_URL='http://x': must be empty"):
        Settings.from_env({"MT_MEMORY_URL": "http://x"})


def _translation(target: str):
    from service.translation.interface import Translation

    return Translation(target, -0.5, 3)


@contextlib.contextmanager
def serving(tiny_model_dir: Path, state: Path, *options: str, env: dict[str, str] | None = None):
    """`python -m service serve` on a free port, with no OpenSearch behind it, until the block ends."""
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--threads", "2", "--no-access-log", *options],
        cwd=PROJECT_ROOT,
        env=service_env(
            {
                "MT_MODEL_DIR": str(tiny_model_dir),
                "OPENSEARCH_URL": f"http://127.0.0.1:{free_port()}",  # nothing there: these tests need none
                "MT_MEMORY_PATH": str(state / "tm.db"),
                "JOBS_DB": str(state / "jobs.db"),
                "JOBS_WORKERS": "0",
                "TMPDIR": str(state),
                **(env or {}),
            }
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started = []
    for line in process.stderr:
        started.append(line)
        if "Listening at" in line:
            break
    else:
        pytest.fail(f"the server exited with {process.wait()}: {''.join(started)[-2000:]}")
    pump = threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True)
    pump.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get(url + "/healthz")[0] != 200:  # each worker loads the model once the socket is open
            assert time.monotonic() < deadline, "the server never answered /healthz"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        pump.join(30)
        process.stderr.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_two_service_processes_share_one_rate_limit_in_redis(tiny_model_dir, redis_db, tmp_path):
    env = {"RATE_LIMIT": "5 per minute", "RATE_LIMIT_STORAGE": redis_db.url}
    with (
        serving(tiny_model_dir, tmp_path / "a", env=env) as a,
        serving(tiny_model_dir, tmp_path / "b", env=env) as b,
    ):
        statuses = [get(f"{server}/languages")[0] for _ in range(6) for server in (a, b)]
    assert sorted(set(statuses)) == [200, 429]
    assert statuses.count(200) == 5  # one budget for both processes, not 5 each
    assert statuses[:5] == [200] * 5


def translate_seconds(url: str, text: str) -> float:
    """How long one /api/v1/translate request takes; it must succeed."""
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(f"{url}/api/v1/translate", body, {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
    return time.perf_counter() - started


def test_a_hung_redis_costs_a_timeout_now_and_then_not_one_per_request(tiny_model_dir, redis_db, tmp_path):
    env = {"RATE_LIMIT": "10000 per minute", "RATE_LIMIT_STORAGE": redis_db.url, "MT_MEMORY_URL": redis_db.url}
    client = redis_db.client()
    timeout = STORAGE_TIMEOUT_SECONDS + REDIS_TIMEOUT_SECONDS  # what a request pays when both stores time out
    with serving(tiny_model_dir, tmp_path, env=env) as url:
        reference = statistics.median(translate_seconds(url, f"جملة للقياس {n}.") for n in range(5))
        redis_db.process.send_signal(signal.SIGSTOP)
        try:
            translate_seconds(url, "الجملة الأولى.")  # notices the outage: both stores time out
            hung = [translate_seconds(url, f"جملة رقم {n}.") for n in range(20)]
        finally:
            redis_db.process.send_signal(signal.SIGCONT)
        # Paying the timeouts each time, these took 20 x timeout at least; the limiter may try Redis twice or so
        assert sum(hung) < len(hung) * 2 * reference + 4 * timeout, hung

        client.delete(*client.keys("LIMITS*"))
        memory_keys = len(client.keys(RedisMemory.KEY_PREFIX + "*"))
        deadline = time.monotonic() + 64 + RETRY_SECONDS  # the limiter's longest wait between tries, and the memory's
        n = 0
        while not (client.keys("LIMITS*") and len(client.keys(RedisMemory.KEY_PREFIX + "*")) > memory_keys):
            assert time.monotonic() < deadline, "the service never went back to Redis"
            n += 1
            translate_seconds(url, f"جملة بعد العودة {n}.")
            time.sleep(0.1)  # polling, with the deadline above


def requests_counted(metrics: str, endpoint: str) -> float:
    pattern = rf'^http_requests_total\{{endpoint="{re.escape(endpoint)}",[^}}]*\}} (\S+)$'
    return sum(float(value) for value in re.findall(pattern, metrics, re.MULTILINE))


@pytest.mark.integration  # a gunicorn server process
def test_metrics_sum_every_gunicorn_worker(tiny_model_dir, tmp_path):
    state = tmp_path / "srv"
    with serving(tiny_model_dir, state, "--workers", "2") as url:
        (metrics_dir,) = state.glob("mt-metrics-*")  # the instance's own PROMETHEUS_MULTIPROC_DIR
        sent = 0
        deadline = time.monotonic() + 60
        # Until both workers have answered some (the kernel spreads connections, not evenly), send in parallel.
        while len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert time.monotonic() < deadline, "one worker answered every request"
            threads = [threading.Thread(target=get, args=(f"{url}/languages",)) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent += len(threads)
        scrapes = [get(f"{url}/metrics")[1] for _ in range(6)]  # answered by either worker
        assert [requests_counted(scrape, "/languages") for scrape in scrapes] == [sent] * 6
        assert all("translated_tokens" in scrape and "job_queue_depth" in scrape for scrape in scrapes)
    assert not metrics_dir.exists()  # removed with the instance
