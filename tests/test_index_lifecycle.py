"""Index creation, migration behind the alias, and deletion, on a real node."""
import pytest

from service.index import lifecycle


@pytest.fixture
def fresh_alias(client):
    name = "test-lifecycle-fresh"
    lifecycle.delete(client, name)
    yield name
    lifecycle.delete(client, name)


def test_create_is_idempotent(client, fresh_alias):
    first = lifecycle.create(client, fresh_alias)
    assert lifecycle.create(client, fresh_alias) == first
    assert first.startswith(f"{fresh_alias}-v1-")
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
