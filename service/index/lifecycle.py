"""Index lifecycle behind an alias: create, migrate (reindex into the next version, switch atomically), delete.

Settings and mappings come from index_config/articles-v<N>.json; the newest N is used for new indices.
Physical indices are named <alias>-v<N>-<UTC timestamp>, so a migration always has a fresh target.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from opensearchpy import OpenSearch, helpers

from service.config import PROJECT_ROOT

INDEX_CONFIG_DIR = PROJECT_ROOT / "index_config"


def config_versions(config_dir: Path = INDEX_CONFIG_DIR) -> dict[int, Path]:
    """{version: path} of the index configs (articles-v1.json, ...)."""
    found = {}
    for path in config_dir.glob("articles-v*.json"):
        match = re.fullmatch(r"articles-v(\d+)\.json", path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def load_config(shards: int, replicas: int, config_dir: Path = INDEX_CONFIG_DIR) -> tuple[int, dict]:
    """The newest index config, with shards and replicas taken from the settings."""
    versions = config_versions(config_dir)
    version = max(versions)
    body = json.loads(versions[version].read_text(encoding="utf-8"))
    body["settings"]["index"].update({"number_of_shards": shards, "number_of_replicas": replicas})
    return version, body


def current_index(client: OpenSearch, alias: str) -> str | None:
    """The physical index behind the alias, or None."""
    if not client.indices.exists_alias(name=alias):
        return None
    return next(iter(client.indices.get_alias(name=alias)))


def _new_index_name(alias: str, version: int) -> str:
    return f"{alias}-v{version}-{dt.datetime.now(dt.timezone.utc):%Y%m%d%H%M%S%f}"


def create(client: OpenSearch, alias: str, shards: int = 1, replicas: int = 0) -> str:
    """Create the newest index version behind the alias, unless the alias exists; return the index."""
    existing = current_index(client, alias)
    if existing:
        return existing
    version, body = load_config(shards, replicas)
    name = _new_index_name(alias, version)
    client.indices.create(index=name, body={**body, "aliases": {alias: {}}})
    client.cluster.health(index=name, wait_for_status="yellow")
    return name


def migrate(client: OpenSearch, alias: str, shards: int = 1, replicas: int = 0, keep_old: bool = False) -> str:
    """Reindex into a new index from the newest config and switch the alias in one atomic step."""
    old = current_index(client, alias)
    if old is None:
        return create(client, alias, shards, replicas)
    version, body = load_config(shards, replicas)
    new = _new_index_name(alias, version)
    client.indices.create(index=new, body=body)
    try:
        client.cluster.health(index=new, wait_for_status="yellow")
        helpers.reindex(client, old, new)  # scan + bulk: needs no reindex module on the node
        client.indices.refresh(index=new)
        client.indices.update_aliases(body={"actions": [
            {"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]})
    except Exception:
        client.indices.delete(index=new, ignore_unavailable=True)  # the alias still points at the old index
        raise
    if not keep_old:
        client.indices.delete(index=old)
    return new


def delete(client: OpenSearch, alias: str) -> list[str]:
    """Delete the alias and every index behind it; return the deleted indices."""
    if not client.indices.exists_alias(name=alias):
        return []
    indices = list(client.indices.get_alias(name=alias))
    client.indices.delete(index=",".join(indices))
    return indices
