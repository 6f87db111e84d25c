"""A story cluster's members: every article that shares a cluster_id, oldest first (for GET /api/v1/clusters/<id>)."""

from __future__ import annotations

from opensearchpy import OpenSearch

MAX_MEMBERS = 100  # listed; `size` still counts them all
MEMBER_SOURCE = ["id", "source", "published", "url", "title", "title_en", "language"]


def members_body(cluster_id: str) -> dict:
    """The search for a cluster's members (pure): the id only ever goes into a term value."""
    return {
        "query": {"term": {"cluster_id": cluster_id}},
        "size": MAX_MEMBERS,
        "track_total_hits": True,
        "_source": MEMBER_SOURCE,
        "sort": [{"published": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
    }


def cluster_members(client: OpenSearch, alias: str, cluster_id: str) -> dict | None:
    """{"cluster_id", "size", "members"}, or None when no article belongs to the cluster."""
    response = client.search(index=alias, body=members_body(cluster_id))
    hits = response["hits"]["hits"]
    if not hits:
        return None
    return {
        "cluster_id": cluster_id,
        "size": response["hits"]["total"]["value"],
        "members": [
            {"id": hit["_id"], **{field: hit["_source"].get(field) for field in MEMBER_SOURCE if field != "id"}}
            for hit in hits
        ],
    }
