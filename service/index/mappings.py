"""Index bodies checked before they reach OpenSearch: a vector field must be one the node can store.

The k-NN plugin from Maven Central has the Java jars only, not the faiss or nmslib native libraries. OpenSearch
accepts a `knn_vector` field on such an engine, or one with no `method` (its default engine is native), when the
index is made, and the node then dies on the first document (UnsatisfiedLinkError). So every index body the service
loads or sends is checked here first: a vector field must name `"method": {"engine": "lucene", ...}`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.errors import ServiceError

VECTOR_TYPE = "knn_vector"
USABLE_ENGINES = ("lucene",)  # pure Java; faiss and nmslib need native libraries the plugin zip lacks


class MappingError(ServiceError, ValueError):
    """An index body the node cannot use (a vector field on an engine it lacks); the message names each field."""

    code = "mapping_refused"


def fields(properties: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, definition) of every field under properties: objects', nested fields' and multi-fields' too."""
    for name, definition in properties.items():
        if not isinstance(definition, dict):
            continue
        path = f"{prefix}{name}"
        yield path, definition
        for inner in ("properties", "fields"):
            if isinstance(definition.get(inner), dict):
                yield from fields(definition[inner], f"{path}.")


def vector_problem(definition: dict[str, Any]) -> str | None:
    """Why this knn_vector field would break the node, or None when it is usable (or not a vector field)."""
    if definition.get("type") != VECTOR_TYPE:
        return None
    method = definition.get("method")
    if not isinstance(method, dict):
        return (
            "has no method, so OpenSearch would pick a native engine this node lacks; "
            'give it "method": {"engine": "lucene", "name": "hnsw", "space_type": "cosinesimil"}'
        )
    engine = method.get("engine")
    if engine not in USABLE_ENGINES:
        named = f"engine {engine!r}" if engine else "no engine (OpenSearch's default is native)"
        return f'has {named}; this node has no faiss or nmslib library, so only "engine": "lucene" works'
    return None


def vector_problems(body: dict[str, Any]) -> list[str]:
    """Each unusable vector field of an index body ({"settings", "mappings"}) or of a bare mapping, with its reason.

    Dynamic templates count too: a template mapping new fields as vectors would add such a field on a write.
    """
    mappings = body.get("mappings", body)
    problems = [
        f"field {path} {problem}"
        for path, definition in fields(mappings.get("properties") or {})
        if (problem := vector_problem(definition))
    ]
    for template in mappings.get("dynamic_templates") or []:
        for name, rule in template.items() if isinstance(template, dict) else ():
            problem = vector_problem(rule.get("mapping") or {}) if isinstance(rule, dict) else None
            if problem:
                problems.append(f"dynamic template {name} {problem}")
    has_vectors = any(d.get("type") == VECTOR_TYPE for _, d in fields(mappings.get("properties") or {}))
    if has_vectors and "settings" in body and not knn_enabled(body["settings"]):
        # OpenSearch refuses it too, less plainly; and index.knn is fixed when the index is made
        problems.append('settings: vector fields need "index": {"knn": true}')
    return problems


def knn_enabled(settings: dict[str, Any]) -> bool:
    """Whether index settings turn on k-NN (index.knn), nested ({"index": {"knn": true}}) or flat ("index.knn")."""
    index = settings.get("index") if isinstance(settings.get("index"), dict) else {}
    value = index.get("knn", settings.get("index.knn", settings.get("knn")))
    return value is True or str(value).lower() == "true"


def check_index_body(body: dict[str, Any], source: str) -> dict[str, Any]:
    """The body unchanged, or MappingError naming the source (a file, an index) and every unusable vector field."""
    problems = vector_problems(body)
    if problems:
        raise MappingError(f"{source}: refused before it reaches OpenSearch: {'; '.join(problems)}")
    return body
