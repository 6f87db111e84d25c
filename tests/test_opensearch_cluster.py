"""A local multi-node OpenSearch cluster: the config each node gets, auto replicas, and a node SIGKILLed mid-ingest."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from service.config import ConfigError, Settings
from service.index import lifecycle, node
from service.index.client import make_client
from service.ingest import ingest
from service.web import create_app

ARTICLES = 500
WINDOW = 50  # records per ingest window (one bulk each)
KILL_AFTER = 250  # records read by ingest before one node is SIGKILLed: five windows are stored by then
KEY = "test-key-0123"
AUTH = {"Authorization": f"Bearer {KEY}"}
GREEN_WITHIN = 180.0


def test_a_single_node_keeps_single_node_discovery():
    local = node.LocalNode(Path("/os"), "2.19.1", name="local", port=9200)
    config = node.node_config(local, Path("/d"), Path("/l"))
    assert config["discovery.type"] == "single-node" and config["cluster.name"] == "mt-news-local"
    assert "discovery.seed_hosts" not in config and "transport.port" not in config


def test_each_cluster_node_gets_its_name_ports_dirs_and_the_seeds():
    nodes = node.cluster_nodes(Path("/os"), "2.19.1", "local", [9200, 9201, 9202], [9300, 9301, 9302], "384m")
    configs = [node.node_config(n, n.node_dir / "data", n.node_dir / "logs") for n in nodes]
    assert [c["node.name"] for c in configs] == ["local-1", "local-2", "local-3"]
    assert [(c["http.port"], c["transport.port"]) for c in configs] == [(9200, 9300), (9201, 9301), (9202, 9302)]
    assert len({c["path.data"] for c in configs}) == 3 and len({n.node_dir for n in nodes}) == 3
    for config in configs:
        assert config["cluster.name"] == "mt-news-local" and config["network.host"] == "127.0.0.1"
        assert "discovery.type" not in config
        assert config["discovery.seed_hosts"] == ["127.0.0.1:9300", "127.0.0.1:9301", "127.0.0.1:9302"]
        assert config["cluster.initial_cluster_manager_nodes"] == ["local-1", "local-2", "local-3"]
        json.dumps(config)  # written to opensearch.yml as JSON scalars and lists


def test_a_local_cluster_takes_consecutive_ports_or_the_listed_urls(tmp_path):
    settings = Settings(opensearch_local_dir=tmp_path, opensearch_urls=("http://127.0.0.1:9250",))
    assert [n.port for n in node.local_cluster(settings, 3)] == [9250, 9251, 9252]
    assert [n.transport_port for n in node.local_cluster(settings, 3)] == [9350, 9351, 9352]
    assert node.local_cluster(settings, 1) == [node.local_node(settings)]
    listed = replace(settings, opensearch_urls=("http://127.0.0.1:9400", "http://localhost:9410"))
    nodes = node.local_cluster(listed, 2)
    assert node.cluster_url(nodes) == "http://127.0.0.1:9400,http://127.0.0.1:9410"
    node.remember(nodes)
    assert node.remembered(listed) == nodes
    node.remember(node.local_cluster(settings, 1))
    assert node.remembered(settings) == [node.local_node(settings)]
    with pytest.raises(node.NodeError, match="--nodes"):
        node.local_cluster(settings, 0)


def test_replicas_auto_is_one_with_a_second_data_node():
    assert [lifecycle.auto_replicas(n) for n in (0, 1, 2, 3, 5)] == [0, 0, 1, 1, 1]
    assert Settings().opensearch_replicas is None  # auto
    assert Settings.from_env({"OPENSEARCH_REPLICAS": "2"}).opensearch_replicas == 2
    with pytest.raises(ConfigError, match="OPENSEARCH_REPLICAS"):
        Settings.from_env({"OPENSEARCH_REPLICAS": "some"})


def test_status_shows_every_node_and_one_elected_manager(opensearch_cluster):
    found = node.cluster_status(opensearch_cluster)
    assert [s["name"] for s in found] == [n.name for n in opensearch_cluster]
    assert all(s["running"] and s["pid"] and s["health"]["number_of_nodes"] == 3 for s in found)
    assert all("cluster_manager" in s["role"]["roles"] or "m" in s["role"]["roles"] for s in found)
    assert sum(s["role"]["manager"] for s in found) == 1


def article(i: int) -> dict:
    return {
        "id": f"c{i}",
        "title": f"خبر {i}",
        "body": f"أعلن الجيش وقف إطلاق النار رقم {i}.",
        "sentences": [{"source": f"أعلن الجيش وقف إطلاق النار رقم {i}.", "target": f"Ceasefire number {i} announced."}],
    }


def wait_green(client, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        health = client.cluster.health(wait_for_status="green", wait_for_nodes=3, timeout="5s", request_timeout=10)
        if (health["status"] == "green" and not health["timed_out"]) or time.monotonic() > deadline:
            return health


def test_a_node_killed_mid_ingest_loses_nothing_and_search_keeps_answering(
    opensearch_cluster, tiny_model_dir, tmp_path
):
    settings = Settings(
        model_dir=tiny_model_dir,
        inter_threads=2,
        opensearch_urls=tuple(n.url for n in opensearch_cluster),
        opensearch_index="test-cluster-kill",
        opensearch_shards=3,
        memory_path=tmp_path / "tm.sqlite3",
        jobs_db=tmp_path / "jobs.sqlite3",
        jobs_workers=0,
        api_keys=(KEY,),
    )
    client = make_client(settings)
    alias = settings.opensearch_index
    lifecycle.delete(client, alias)
    index = lifecycle.ensure(client, alias, settings.opensearch_shards, settings.opensearch_replicas)
    assert client.indices.get_settings(index=index)[index]["settings"]["index"]["number_of_replicas"] == "1"
    assert wait_green(client, GREEN_WITHIN)["status"] == "green"
    # The victim holds a primary, so the kill takes one with it, and clients are given its URL first.
    primaries = {row["node"] for row in client.cat.shards(index=index, format="json") if row["prirep"] == "p"}
    victim = next(n for n in opensearch_cluster if n.name in primaries)
    urls = (victim.url, *(n.url for n in opensearch_cluster if n is not victim))
    settings = replace(settings, opensearch_urls=urls)
    client = make_client(settings)
    app = create_app(settings)

    killed, ingest_done = threading.Event(), threading.Event()
    answers: list[tuple[int, int]] = []  # (status, hits) of searches made after the kill

    def records():
        for i in range(ARTICLES):
            if i == KILL_AFTER:
                assert node.kill(victim) is not None
                killed.set()
            yield i + 1, article(i)

    def searcher():
        web = app.test_client()
        killed.wait(120)
        while not ingest_done.is_set() or len(answers) < 5:
            response = web.get("/api/v1/search?q=ceasefire", headers=AUTH)
            answers.append((response.status_code, response.json.get("total", -1) if response.is_json else -1))

    searching = threading.Thread(target=searcher)
    searching.start()
    try:
        report = ingest(records(), client, alias, pretranslated=True, window=WINDOW)
    finally:
        ingest_done.set()
        searching.join(120)
    assert killed.is_set() and report.indexed == ARTICLES and not report.rejects
    assert answers and all(status == 200 for status, _ in answers), answers[:10]

    hits = [total for _, total in answers]
    print(f"searches while {victim.name} was down: {len(answers)}, all 200; hits from {min(hits)} to {max(hits)}")
    assert max(hits) > 0  # the surviving copies answer with documents, not just an empty 200
    restarted = time.monotonic()
    node.start(victim)  # rejoins with its data; start waits for all three nodes and green
    health = wait_green(client, GREEN_WITHIN)
    print(f"{victim.name} rejoined and the cluster was green again in {time.monotonic() - restarted:.1f}s")
    assert health["status"] == "green" and health["number_of_nodes"] == 3
    client.indices.refresh(index=alias)
    ids = [f"c{i}" for i in range(ARTICLES)]
    assert client.count(index=alias, body={"query": {"ids": {"values": ids}}})["count"] == ARTICLES
    found = app.test_client().get("/api/v1/search?q=ceasefire&size=1", headers=AUTH)
    assert found.status_code == 200
    lifecycle.delete(client, alias)
