"""Index lifecycle behind an alias: ensure (race-safe creation), migrate (reindex into a new index, switch atomically), delete.

Settings and mappings come from index_config/articles-v<N>.json; the newest N is used for new indices.
Physical indices are named <alias>-v<N>-<six-digit number>. The first index of a version is always
number 000001, so writers that race to create it collide on one name and the losers adopt the
winner's index; a migration takes the next free number. The alias always marks its write index
(is_write_index), so writes have exactly one target. Calls that create, copy or delete indices take
the bulk timeout; the look-ups take the client's interactive one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from pathlib import Path

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import RequestError

from service.config import PROJECT_ROOT
from service.embedding.interface import SentenceEncoder
from service.errors import ServiceError
from service.index import clusters, vectors
from service.index.client import bulk_timeout
from service.index.errors import reason_in
from service.index.mappings import VECTOR_TYPE, check_index_body, fields

log = logging.getLogger(__name__)
INDEX_CONFIG_DIR = PROJECT_ROOT / "index_config"
ALREADY_EXISTS = "resource_already_exists_exception"
_upgraded: set[str] = set()  # write indices this process has brought up to the newest mapping: checked once each


class LifecycleError(ServiceError, RuntimeError):
    """The alias is in a state writers cannot use; the message names the index and how to fix it."""

    status, code, log_level = 503, "index_unusable", logging.ERROR


def config_versions(config_dir: Path = INDEX_CONFIG_DIR) -> dict[int, Path]:
    """{version: path} of the index configs (articles-v1.json, ...)."""
    found = {}
    for path in config_dir.glob("articles-v*.json"):
        match = re.fullmatch(r"articles-v(\d+)\.json", path.name)
        if match:
            found[int(match.group(1))] = path
    return found


def auto_replicas(data_nodes: int) -> int:
    """OPENSEARCH_REPLICAS=auto: one replica when another data node can hold it, none on a single node."""
    return max(0, min(1, data_nodes - 1))


def resolve_replicas(client: OpenSearch, replicas: int | None) -> int:
    """The replica count for a new index: the number given, or auto's from the cluster's data nodes now."""
    if replicas is not None:
        return replicas
    return auto_replicas(client.cluster.health(request_timeout=bulk_timeout(client))["number_of_data_nodes"])


def read_config(path: Path) -> dict:
    """An index config file, refused (MappingError) when a vector field would break the node; every config the
    service loads comes through here, so no index is made or mapped from an unchecked one."""
    return check_index_body(json.loads(path.read_text(encoding="utf-8")), str(path))


def load_config(
    shards: int, replicas: int, config_dir: Path = INDEX_CONFIG_DIR, dimension: int | None = None
) -> tuple[int, dict]:
    """The newest index config, with shards and replicas taken from the settings, and every vector field of the
    given dimension (the encoder's, embedding.DIMENSIONS; None keeps the file's: ENCODER=off, a field nobody
    fills until an encoder is chosen and `index migrate` remakes it)."""
    versions = config_versions(config_dir)
    version = max(versions)
    body = read_config(versions[version])
    body["settings"]["index"].update({"number_of_shards": shards, "number_of_replicas": replicas})
    if dimension is not None:
        for _, definition in fields(body["mappings"].get("properties", {})):
            if definition.get("type") == VECTOR_TYPE:
                definition["dimension"] = dimension
    return version, body


def without_vectors(mappings: dict) -> dict:
    """The mappings less their vector fields and the `_source` excludes made for them: what an index made without
    index.knn (from articles-v2 or older) can take in place."""

    def strip(properties: dict) -> dict:
        kept = {}
        for name, definition in properties.items():
            if definition.get("type") == VECTOR_TYPE:
                continue
            if isinstance(definition.get("properties"), dict):
                definition = {**definition, "properties": strip(definition["properties"])}
            kept[name] = definition
        return kept

    out = {key: value for key, value in mappings.items() if key != "_source"}
    out["properties"] = strip(mappings.get("properties", {}))
    return out


def index_name(alias: str, version: int, number: int) -> str:
    """The physical index name: <alias>-v<version>-<number, six digits>."""
    return f"{alias}-v{version}-{number:06d}"


def next_number(alias: str, version: int, existing: list[str]) -> int:
    """The number after the highest one among the existing indices of this alias and version."""
    pattern = re.compile(rf"{re.escape(alias)}-v{version}-(\d{{6}})")
    return max((int(m.group(1)) for name in existing if (m := pattern.fullmatch(name))), default=0) + 1


def write_index(behind: dict[str, dict]) -> str | None:
    """The write index among {index: alias properties}: the one marked so, or the only one."""
    marked = [index for index, properties in behind.items() if properties.get("is_write_index")]
    if marked:
        return marked[0]
    return next(iter(behind)) if len(behind) == 1 else None


def indices_behind(client: OpenSearch, alias: str) -> dict[str, dict]:
    """{index: alias properties} for every index behind the alias; empty when there is no alias."""
    if not client.indices.exists_alias(name=alias):
        return {}
    return {
        index: found.get("aliases", {}).get(alias, {}) for index, found in client.indices.get_alias(name=alias).items()
    }


def current_index(client: OpenSearch, alias: str) -> str | None:
    """The write index behind the alias, or None without an alias; LifecycleError when the alias has none."""
    behind = indices_behind(client, alias)
    if not behind:
        return None
    index = write_index(behind)
    if index is None:
        raise LifecycleError(
            f"the alias {alias} points at {', '.join(sorted(behind))} and none is its write index; "
            "`python -m service index migrate` merges them into one new index"
        )
    return index


def _refuse_concrete_index(client: OpenSearch, alias: str) -> None:
    """A concrete index named like the alias (auto-created by a write before `index create`) blocks the alias."""
    if client.indices.exists(index=alias):
        raise LifecycleError(
            f"{alias} is an index, not an alias (a write before `index create` created it with "
            "guessed mappings): `python -m service index migrate` moves its documents into a "
            "managed index behind the alias; `python -m service index delete` drops them"
        )


def ensure(
    client: OpenSearch,
    alias: str,
    shards: int = 1,
    replicas: int | None = 0,
    config_dir: Path = INDEX_CONFIG_DIR,
    dimension: int | None = None,
) -> str:
    """The alias's write index, creating the newest version behind it first if needed (its vector fields of the
    given dimension); safe to call concurrently."""
    existing = current_index(client, alias)
    if existing:
        if existing not in _upgraded:
            upgrade(client, existing)
            _upgraded.add(existing)
        return existing
    _refuse_concrete_index(client, alias)
    version, body = load_config(shards, resolve_replicas(client, replicas), config_dir, dimension)
    name = index_name(alias, version, 1)
    timeout = bulk_timeout(client)
    try:
        client.indices.create(
            index=name, body={**body, "aliases": {alias: {"is_write_index": True}}}, request_timeout=timeout
        )
    except RequestError as error:
        if error.error != ALREADY_EXISTS:
            raise
        # Another writer created it first: adopt its index (the alias came with it; putting it again is a no-op).
        client.indices.put_alias(index=name, name=alias, body={"is_write_index": True}, request_timeout=timeout)
    client.cluster.health(index=name, wait_for_status="yellow", request_timeout=timeout)
    return name


create = ensure  # `index create` and older callers


def upgrade(client: OpenSearch, index: str) -> None:
    """Bring an index made from an older config up to the newest one in place: its additive fields, and a story
    cluster of its own for every document without one (so search's collapse never folds them into one null group).

    A change that is not additive (a field's type) is refused by OpenSearch: `index migrate` is the way then.
    An index made without index.knn (fixed at creation) takes the newest mapping less its vector fields: writers
    store its articles without vectors and search skips the vector channel there, until `index migrate` makes a
    new index with them.
    """
    timeout = bulk_timeout(client)
    properties = client.indices.get_mapping(index=index, request_timeout=timeout)[index]["mappings"]["properties"]
    newest = read_config(config_versions()[max(config_versions())])["mappings"]
    if vectors.vector_dimension(properties) is None and vectors.vector_dimension(newest["properties"]) is not None:
        log.warning(
            "%s was made without vector fields (index.knn is fixed when an index is made): its articles are stored "
            "without sentence vectors and searched by words only; `python -m service index migrate` makes a new "
            "index with them and embeds every article",
            index,
        )
        newest = without_vectors(newest)
    if not newest["properties"].keys() <= properties.keys():
        try:
            client.indices.put_mapping(index=index, body=newest, request_timeout=timeout)
        except RequestError as error:
            raise LifecycleError(
                f"{index} cannot take the newest mapping in place ({reason_in(error.info.get('error'))}): "
                "`python -m service index migrate` copies it into a new index"
            ) from None
    backfill_story_clusters(client, index)


def backfill_story_clusters(client: OpenSearch, index: str) -> int:
    """Set cluster_id (the document's own id) and cluster_bands on the documents that lack them; return how many.

    Documents written before story clusters existed each become a story of one; their band keys let new articles
    join them. Scan + bulk update: the node needs no reindex module (update_by_query).
    """
    timeout = bulk_timeout(client)
    missing = {"query": {"bool": {"must_not": [{"exists": {"field": "cluster_id"}}]}}}
    if not client.count(index=index, body=missing, request_timeout=timeout)["count"]:
        return 0
    updates = (
        {
            "_op_type": "update",
            "_index": index,
            "_id": hit["_id"],
            "if_seq_no": hit["_seq_no"],  # a writer that indexed the document meanwhile gave it its cluster: keep it
            "if_primary_term": hit["_primary_term"],
            "doc": {
                "cluster_id": hit["_id"],
                "cluster_bands": list(clusters.Fingerprint.of(hit["_source"].get("body") or "").bands),
            },
        }
        for hit in helpers.scan(
            client,
            index=index,
            query=missing,
            _source=["body"],
            seq_no_primary_term=True,
            request_timeout=timeout,
            scroll_kwargs={"request_timeout": timeout},
        )
    )
    done, errors = helpers.bulk(client, updates, raise_on_error=False, request_timeout=timeout, refresh="wait_for")
    refused = [e["update"] for e in errors if e["update"].get("status") != 409]
    if refused:
        raise LifecycleError(
            f"{len(refused)} documents of {index} could not be given a story cluster "
            f"(first: {reason_in(refused[0].get('error'))}); writing again retries"
        )
    return done


CATCH_UP_MARGIN_S = 600  # a writer's retries can land a document this long after its ingested_at was set


def _copy(client: OpenSearch, source: str | list[str], target: str, query: dict, op_type: str = "index") -> int:
    """Copy the documents matching query by scan + bulk (the node needs no reindex module), without their
    `encoder` mark: their vectors never come through `_source`, so embed_missing must see them as unembedded."""
    timeout = bulk_timeout(client)
    hits = helpers.scan(
        client,
        index=source if isinstance(source, str) else ",".join(source),
        query={"query": query},
        request_timeout=timeout,
        scroll_kwargs={"request_timeout": timeout},
    )
    actions = (
        {
            "_op_type": op_type,
            "_index": target,
            "_id": hit["_id"],
            "_source": {k: v for k, v in hit["_source"].items() if k != vectors.ENCODER_FIELD},
        }
        for hit in hits
    )
    # a document a writer put there first (op_type create, after the switch) is newer than the old index's copy
    done, errors = helpers.bulk(client, actions, raise_on_error=False, request_timeout=timeout)
    refused = [error for error in errors if next(iter(error.values())).get("status") != 409]
    if refused:
        raise helpers.BulkIndexError(f"{len(refused)} document(s) failed to index.", refused)
    client.indices.refresh(index=target, request_timeout=timeout)
    return done


def _written_since(moment: dt.datetime) -> dict:
    return {"range": {"ingested_at": {"gte": (moment - dt.timedelta(seconds=CATCH_UP_MARGIN_S)).isoformat()}}}


def _prepare(client: OpenSearch, index: str, encoder: SentenceEncoder | None) -> None:
    """What a copy lacks: story clusters (documents from an older version have none), then vectors (after the
    back-fill: an update rewrites from `_source`)."""
    backfill_story_clusters(client, index)
    if encoder is not None and vectors.index_dimension(client, index) == encoder.dimension:
        vectors.embed_missing(client, index, encoder)


def _holds_vectors(client: OpenSearch, indices: list[str]) -> bool:
    timeout = bulk_timeout(client)
    for index in indices:
        if vectors.index_dimension(client, index) is not None:
            marked = {"query": {"exists": {"field": vectors.ENCODER_FIELD}}}
            if client.count(index=index, body=marked, request_timeout=timeout)["count"]:
                return True
    return False


def migrate(
    client: OpenSearch,
    alias: str,
    shards: int = 1,
    replicas: int | None = 0,
    keep_old: bool = False,
    encoder: SentenceEncoder | None = None,
    drop_vectors: bool = False,
) -> str:
    """Reindex into a new index from the newest config and switch the alias to it in one atomic step.

    With an encoder, the new index's vector fields take its dimension and every copied article is embedded before
    the switch (vectors are not in `_source`, so the copy never carries them). Without one, an index holding
    vectors is refused (LifecycleError) unless drop_vectors: the copy would be searched by words only.

    Writers may go on meanwhile: what they write during the copy and the embedding is copied again before the
    switch, and what reached the old index in the moment of the switch is copied after it (never over a newer
    document). Also the repair for an alias without a write index (every index behind it is merged) and for a
    concrete index named like the alias (its documents move behind the alias; it is removed even with keep_old).
    """
    old = sorted(indices_behind(client, alias))
    legacy = not old and client.indices.exists(index=alias)
    if not old and not legacy:
        return ensure(client, alias, shards, replicas, dimension=encoder.dimension if encoder else None)
    sources = old or [alias]
    if encoder is None and not drop_vectors and _holds_vectors(client, sources):
        raise LifecycleError(
            f"{alias} holds sentence vectors and no encoder is loaded (ENCODER=off, or its wheel is missing): "
            "the copy would lose every vector. Install the encoder and migrate, or pass --drop-vectors"
        )
    version, body = load_config(
        shards, resolve_replicas(client, replicas), dimension=encoder.dimension if encoder else None
    )
    timeout = bulk_timeout(client)
    taken = list(client.indices.get(index=f"{alias}-v{version}-*", request_timeout=timeout))
    new = index_name(alias, version, next_number(alias, version, taken))
    client.indices.create(index=new, body=body, request_timeout=timeout)
    try:
        client.cluster.health(index=new, wait_for_status="yellow", request_timeout=timeout)
        started = dt.datetime.now(dt.UTC)
        _copy(client, sources, new, {"match_all": {}})
        _prepare(client, new, encoder)
        caught_up = dt.datetime.now(dt.UTC)
        _copy(client, sources, new, _written_since(started))  # written during the copy and the embedding
        _prepare(client, new, encoder)
        removals = (
            [{"remove_index": {"index": alias}}]
            if legacy
            else [{"remove": {"index": index, "alias": alias}} for index in old]
        )
        client.indices.update_aliases(
            body={"actions": [*removals, {"add": {"index": new, "alias": alias, "is_write_index": True}}]},
            request_timeout=timeout,
        )
    except helpers.BulkIndexError as error:
        client.indices.delete(index=new, ignore_unavailable=True, request_timeout=timeout)  # the alias is unchanged
        first = error.errors[0] if error.errors else {}
        reason = reason_in(next(iter(first.values()), {}).get("error")) if first else ""
        raise LifecycleError(
            f"{len(error.errors)} documents behind {alias!r} do not fit the new mapping (first: {reason}); "
            f"nothing was changed. Fix or delete those documents, then run `index migrate` again"
        ) from None
    except Exception:
        client.indices.delete(index=new, ignore_unavailable=True, request_timeout=timeout)  # the alias is unchanged
        raise
    if old:  # a bulk request that resolved the alias before the switch may have landed in an old index since
        client.indices.refresh(index=",".join(old), request_timeout=timeout)
        _copy(client, old, new, _written_since(caught_up), op_type="create")
        _prepare(client, new, encoder)
        if not keep_old:
            client.indices.delete(index=",".join(old), request_timeout=timeout)
    return new


def delete(client: OpenSearch, alias: str) -> list[str]:
    """Delete the alias and every index behind it (or a concrete index of that name); return the deleted indices."""
    deleted = sorted(indices_behind(client, alias))
    if not deleted and client.indices.exists(index=alias):
        deleted = [alias]
    if deleted:
        client.indices.delete(index=",".join(deleted), request_timeout=bulk_timeout(client))
    return deleted
