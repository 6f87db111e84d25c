"""Index creation, migration behind the alias, and deletion, on a real node."""

import threading

import pytest
from helpers import run_cli

from service.index import lifecycle
from service.index.bulk import index_documents

NEWEST = max(lifecycle.config_versions())  # new indices are built from the newest index_config version


@pytest.fixture
def fresh_alias(client):
    name = "test-lifecycle-fresh"
    lifecycle.delete(client, name)
    yield name
    lifecycle.delete(client, name)


def test_create_is_idempotent(client, fresh_alias):
    first = lifecycle.create(client, fresh_alias)
    assert lifecycle.create(client, fresh_alias) == first
    assert first.startswith(f"{fresh_alias}-v{NEWEST}-")
    mapping = client.indices.get_mapping(index=first)[first]["mappings"]
    assert mapping["properties"]["sentences"]["type"] == "nested"


def test_shards_and_replicas_come_from_settings(client, fresh_alias):
    index = lifecycle.create(client, fresh_alias, shards=2, replicas=0)
    settings = client.indices.get_settings(index=index)[index]["settings"]["index"]
    assert settings["number_of_shards"] == "2"


def test_migrate_reindexes_and_switches_the_alias(client, fresh_alias):
    old = lifecycle.create(client, fresh_alias)
    for i in range(5):
        client.index(index=fresh_alias, id=str(i), body={"id": str(i), "body": "نص", "title_en": f"t{i}"})
    client.indices.refresh(index=fresh_alias)
    new = lifecycle.migrate(client, fresh_alias)
    assert new != old
    assert lifecycle.current_index(client, fresh_alias) == new
    assert client.count(index=fresh_alias)["count"] == 5
    assert not client.indices.exists(index=old)


def test_delete_removes_alias_and_indices(client, fresh_alias):
    index = lifecycle.create(client, fresh_alias)
    assert lifecycle.delete(client, fresh_alias) == [index]
    assert lifecycle.current_index(client, fresh_alias) is None
    assert lifecycle.delete(client, fresh_alias) == []


def write_flags(client, alias):
    return {index: props.get("is_write_index") for index, props in lifecycle.indices_behind(client, alias).items()}


def test_concurrent_first_ensures_leave_one_writable_index(client, fresh_alias):
    barrier, results, errors = threading.Barrier(6), [], []

    def writer():
        barrier.wait()
        try:
            results.append(lifecycle.ensure(client, fresh_alias))
        except Exception as error:  # reported below, with the others' results
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and set(results) == {f"{fresh_alias}-v{NEWEST}-000001"}
    assert write_flags(client, fresh_alias) == {f"{fresh_alias}-v{NEWEST}-000001": True}
    assert index_documents(client, fresh_alias, [{"id": "w", "body": "نص", "title_en": "t"}]) == {}


def test_migrate_takes_the_next_number_and_marks_the_write_index(client, fresh_alias):
    first = lifecycle.ensure(client, fresh_alias)
    second = lifecycle.migrate(client, fresh_alias, keep_old=True)
    assert (first, second) == (f"{fresh_alias}-v{NEWEST}-000001", f"{fresh_alias}-v{NEWEST}-000002")
    assert write_flags(client, fresh_alias) == {second: True}
    assert lifecycle.migrate(client, fresh_alias) == f"{fresh_alias}-v{NEWEST}-000003"
    client.indices.delete(index=first)


def test_an_alias_without_a_write_index_is_reported_and_migrate_merges_it(client, fresh_alias):
    for name, doc_id in ((f"{fresh_alias}-a", "1"), (f"{fresh_alias}-b", "2")):  # what the create race left
        client.indices.create(index=name, body={"aliases": {fresh_alias: {}}})
        client.index(index=name, id=doc_id, body={"id": doc_id, "body": "نص"}, refresh=True)
    with pytest.raises(lifecycle.LifecycleError, match=r"none is its write index.*index migrate"):
        lifecycle.ensure(client, fresh_alias)
    merged = lifecycle.migrate(client, fresh_alias)
    assert write_flags(client, fresh_alias) == {merged: True}
    assert client.count(index=fresh_alias)["count"] == 2


def test_an_auto_created_index_named_like_the_alias_is_a_clear_error_until_migrated(
    client, fresh_alias, search_settings
):
    client.index(index=fresh_alias, id="1", body={"id": "1", "body": "نص", "title_en": "t"}, refresh=True)
    with pytest.raises(lifecycle.LifecycleError, match=f"{fresh_alias} is an index, not an alias"):
        lifecycle.ensure(client, fresh_alias)
    done = run_cli(
        "index", "create", env={"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": fresh_alias}
    )
    stderr = done.stderr.decode().strip()
    assert done.returncode == 2 and "Traceback" not in stderr and len(stderr.splitlines()) == 1
    assert "index migrate" in stderr and "index delete" in stderr
    managed = lifecycle.migrate(client, fresh_alias)
    assert write_flags(client, fresh_alias) == {managed: True}
    assert client.count(index=fresh_alias)["count"] == 1
    assert lifecycle.ensure(client, fresh_alias) == managed


def test_delete_drops_an_auto_created_index_named_like_the_alias(client, fresh_alias):
    client.index(index=fresh_alias, id="1", body={"id": "1"}, refresh=True)
    assert lifecycle.delete(client, fresh_alias) == [fresh_alias]
    assert not client.indices.exists(index=fresh_alias)


def test_migrate_refuses_documents_the_mapping_cannot_take_and_changes_nothing(client, fresh_alias, search_settings):
    client.index(index=fresh_alias, id="1", body={"id": "1", "published": "not a date at all"}, refresh=True)
    with pytest.raises(lifecycle.LifecycleError, match=r"1 documents behind .* do not fit the new mapping"):
        lifecycle.migrate(client, fresh_alias)
    assert client.indices.exists(index=fresh_alias) and not client.indices.exists_alias(name=fresh_alias)
    assert list(client.indices.get(index=f"{fresh_alias}-v*")) == []  # the half-built index is gone
    done = run_cli(
        "index", "migrate", env={"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": fresh_alias}
    )
    stderr = done.stderr.decode().strip()
    assert done.returncode == 2 and "Traceback" not in stderr and "do not fit the new mapping" in stderr
