"""The web service against a frozen node and against a fresh alias, on the real session node."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace

import pytest

from service.index import lifecycle, node
from service.web import create_app
from service.web.services import services_of

KEY = "test-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
TIMEOUT = 1.0  # OPENSEARCH_TIMEOUT here
FEW_SECONDS = 8.0  # today each of these calls takes about 120 s


@contextmanager
def frozen(opensearch_node):
    """The node stopped with SIGSTOP (it accepts connections and answers nothing), always continued after."""
    pid = node.running_pid(opensearch_node)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def poll(call, accept, seconds):
    """The first answer of call that accept likes, polling until the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        answer = call()
        if accept(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)  # poll interval


@pytest.fixture(scope="module")
def app(search_settings, alias):
    return create_app(replace(search_settings, opensearch_index=alias, api_keys=(KEY,), opensearch_timeout=TIMEOUT))


def test_a_frozen_node_makes_interactive_calls_503_within_seconds(app, opensearch_node):
    paths = ["/api/v1/search?q=ceasefire"] * 8 + ["/api/v1/articles/a1", "/readyz"]
    with ThreadPoolExecutor(max_workers=len(paths)) as pool, frozen(opensearch_node):
        started = time.monotonic()
        answers = [pool.submit(app.test_client().get, path) for path in paths]
        health = app.test_client().get("/healthz")
        assert health.status_code == 200 and time.monotonic() - started < 2
        responses = [answer.result(timeout=FEW_SECONDS) for answer in answers]
        elapsed = time.monotonic() - started
    assert elapsed < FEW_SECONDS
    assert [r.status_code for r in responses] == [503] * len(paths)
    assert {r.json["error"]["code"] for r in responses[:-1]} == {"search_unavailable"}
    assert responses[-1].json["checks"]["opensearch"] is False
    api = app.test_client()
    assert poll(lambda: api.get("/readyz"), lambda r: r.status_code == 200, 60).status_code == 200
    assert api.get("/api/v1/search?q=ceasefire").status_code == 200


def test_concurrent_first_ingests_leave_the_index_writable(search_settings):
    fresh = "test-web-first-ingest"
    web = create_app(replace(search_settings, opensearch_index=fresh, api_keys=(KEY,)))
    client = services_of(web).client
    lifecycle.delete(client, fresh)
    barrier = threading.Barrier(6)

    def post(n):
        barrier.wait()
        return web.test_client().post(
            "/api/v1/articles",
            headers=AUTH,
            json={"id": f"first-{n}", "title": "عنوان", "body": "قال الرئيس إن الاقتصاد تحسن.", "date": "2018-05-01"},
        )

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(post, range(6)))
        assert [r.status_code for r in responses] == [200] * 6
        assert [r.json["indexed"] for r in responses] == [1] * 6
        assert list(lifecycle.indices_behind(client, fresh)) == [f"{fresh}-v{max(lifecycle.config_versions())}-000001"]
    finally:
        lifecycle.delete(client, fresh)


def test_an_index_named_like_the_alias_is_a_503_that_names_the_fix(search_settings):
    legacy = "test-web-legacy"
    web = create_app(replace(search_settings, opensearch_index=legacy, api_keys=(KEY,)))
    client = services_of(web).client
    lifecycle.delete(client, legacy)
    client.indices.create(index=legacy)
    try:
        response = web.test_client().post("/api/v1/articles", headers=AUTH, json={"id": "l1", "body": "قال الرئيس."})
        assert response.status_code == 503 and response.json["error"]["code"] == "index_unusable"
        assert "index migrate" in response.json["error"]["message"]
    finally:
        lifecycle.delete(client, legacy)
