"""Shared fixtures (one generated tiny model, one real OpenSearch node per session) and the two test tiers.

A test is `integration` when it needs Java, a server or a browser: it uses the OpenSearch node (every fixture that
reaches the cluster, such as search_settings, client and alias, depends on opensearch_node, and so do the tests that
run the CLI or gunicorn against it), uses the Redis, PostgreSQL or RabbitMQ server (redis_server, postgres_server, rabbitmq_server) or drives chromium. Every other test is `unit`: `make test-fast` runs those alone
(`pytest -m "not integration"`), in seconds, with no Java and no ../shared.

Route tests that never reach the index use make_offline_app: the whole app, with OpenSearch at an address where
nothing listens, so they are `unit` too.
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from browsing import CHROMIUM, CHROMIUM_ARGS
from flask import Flask
from helpers import free_port
from redis_server import RedisServer
from servers import PostgresServer, RabbitMQServer

from service.config import Settings
from service.index import lifecycle, node
from service.index.client import make_client
from service.modelstore.generate import generate
from service.translation.engine import Translator
from service.web import create_app, stop_workers
from service.web.services import services_of

INTEGRATION_FIXTURES = frozenset(
    {
        *("opensearch_node", "opensearch_cluster", "browser", "page", "redis_server"),
        *("postgres_server", "rabbitmq_server", "postgres_to_kill", "rabbitmq_to_kill"),
    }
)
CLUSTER_NODES = 3
CLUSTER_HEAP = "384m"  # three JVMs on a small machine
# Holds integration tests only, and collecting it alone takes seconds (schemathesis builds its cases then)
SLOW_TO_COLLECT = frozenset({"test_fuzz.py"})
# The offline app's OpenSearch: the discard port, where nothing listens, so every call is refused at once. A port
# found free now could be taken by another process later; a privileged one cannot.
UNREACHABLE_OPENSEARCH = "http://127.0.0.1:9"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast tier skips collecting modules that hold nothing for it."""
    if collection_path.name in SLOW_TO_COLLECT and "not integration" in (config.option.markexpr or ""):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the fixtures it uses (directly or through other fixtures)."""
    for item in items:
        marked = item.get_closest_marker("integration") is not None
        if marked or not INTEGRATION_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under Playwright, one per test module (`make test` installs it; without it, a skip)."""
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny"
    generate("tiny", out)
    return out


@pytest.fixture(scope="session")
def tiny_reverse_model_dir(tmp_path_factory) -> Path:
    """A generated English→Arabic model (a demo: search never uses its noise for queries)."""
    out = tmp_path_factory.mktemp("models") / "tiny-en-ar"
    generate("tiny", out, direction="en-ar")
    return out


@pytest.fixture
def settings(tiny_model_dir, tmp_path) -> Settings:
    return Settings(model_dir=tiny_model_dir, memory_path=tmp_path / "tm.sqlite3", inter_threads=2)


@pytest.fixture(scope="session")
def translator(tiny_model_dir) -> Translator:
    return Translator(tiny_model_dir, Settings(model_dir=tiny_model_dir, inter_threads=2))


@pytest.fixture
def offline_settings(tiny_model_dir, tmp_path) -> Settings:
    """The app's settings with no OpenSearch to reach: the tiny model, the job store and translation memory in
    tmp_path, and none of the threads that would call the cluster (job workers, the alert deliverer)."""
    return Settings(
        model_dir=tiny_model_dir,
        reverse_model_dir="off",
        inter_threads=2,
        opensearch_urls=(UNREACHABLE_OPENSEARCH,),
        memory_path=tmp_path / "tm.sqlite3",
        jobs_db=tmp_path / "jobs.sqlite3",
        jobs_workers=0,
        alert_delivery=False,
    )


@pytest.fixture
def make_offline_app(offline_settings):
    """make(**changes): the app create_app builds from offline_settings plus changes (API keys, limits), no Java.

    Each test gets its own apps (about 20 ms each with the tiny model); the job workers a test started and the job
    stores are closed after it. Tests set their own API keys, as api_keys=(KEY,)."""
    apps: list[Flask] = []

    def make(**changes) -> Flask:
        apps.append(create_app(replace(offline_settings, **changes)))
        return apps[-1]

    yield make
    for app in apps:
        stop_workers(app)
        services_of(app).close()


@pytest.fixture(scope="session")
def encoder():
    """The real USE encoder (the default ENCODER); the test is skipped where its wheel is absent."""
    from service.embedding import open_encoder
    from service.embedding.models import EncoderNotInstalled

    try:
        return open_encoder(Settings(encoder="use"))
    except (EncoderNotInstalled, ImportError) as error:
        pytest.skip(f"no encoder wheel: {error}")


@pytest.fixture(scope="session")
def opensearch_node():
    """A real OpenSearch node for this test session, on a free port; stopped at the end."""
    local = node.LocalNode(
        Settings().opensearch_local_dir, Settings().opensearch_version, name="test", port=free_port()
    )
    shutil.rmtree(local.node_dir, ignore_errors=True)
    node.start(local)
    yield local
    node.stop(local)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server for this test session, on a free port with nothing saved; stopped at the end."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def _running(server):
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for this test session (Debian's, installed when missing), on a free port."""
    yield from _running(PostgresServer())


@pytest.fixture(scope="session")
def rabbitmq_server():
    """A real RabbitMQ node for this test session (Debian's, installed when missing), on a free port."""
    yield from _running(RabbitMQServer())


@pytest.fixture
def postgres_to_kill():
    """A PostgreSQL server of the test's own, which it may kill and start again."""
    yield from _running(PostgresServer())


@pytest.fixture
def rabbitmq_to_kill():
    """A RabbitMQ node of the test's own, which it may kill and start again."""
    yield from _running(RabbitMQServer())


@pytest.fixture(scope="module")
def opensearch_cluster():
    """A real local 3-node OpenSearch cluster on free ports (HTTP and transport), for tests that kill a node.

    Module-scoped: its three JVMs stop as soon as the cluster tests are done."""
    ports: list[int] = []
    while len(ports) < 2 * CLUSTER_NODES:
        if (port := free_port()) not in ports:
            ports.append(port)
    nodes = node.cluster_nodes(
        Settings().opensearch_local_dir,
        Settings().opensearch_version,
        "testcluster",
        ports[:CLUSTER_NODES],
        ports[CLUSTER_NODES:],
        CLUSTER_HEAP,
    )
    for local in nodes:
        shutil.rmtree(local.node_dir, ignore_errors=True)
    try:
        node.start_cluster(nodes)
        yield nodes
    finally:
        for local in nodes:
            node.stop(local)


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A new, empty database on the session's PostgreSQL server, for one test."""
    return postgres_server.create_database(f"test_{next(_databases)}")


@pytest.fixture(scope="session")
def search_settings(opensearch_node, tiny_model_dir, tiny_reverse_model_dir, tmp_path_factory) -> Settings:
    state = tmp_path_factory.mktemp("state")
    return Settings(
        model_dir=tiny_model_dir,
        reverse_model_dir=tiny_reverse_model_dir,
        inter_threads=2,
        opensearch_urls=(opensearch_node.url,),
        memory_path=state / "tm.sqlite3",
        jobs_db=state / "jobs.sqlite3",
        jobs_workers=0,
    )


@pytest.fixture(scope="session")
def client(search_settings):
    return make_client(search_settings)


@pytest.fixture(scope="module")
def alias(client, request):
    """An index alias unique to the test module, created from index_config and deleted afterwards."""
    name = "test-" + request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    lifecycle.delete(client, name)
    lifecycle.create(client, name)
    yield name
    lifecycle.delete(client, name)
