"""A story cluster's members: every article that shares a cluster_id, oldest first (GET /api/v1/clusters/<id>),
and, for a page of collapsed search hits, each story's size and first members in one request."""

from __future__ import annotations

from opensearchpy import OpenSearch

MAX_MEMBERS = 100  # listed; `size` still counts them all
MEMBERS_PER_HIT = 10  # the other articles of a story shown with its search hit
HIT_MEMBER_SOURCE = ["id", "source", "published"]
MEMBER_SOURCE = ["id", "source", "published", "url", "title", "title_en", "language"]


def members_body(cluster_id: str, source: list[str] = MEMBER_SOURCE) -> dict:
    """The search for a cluster's members, oldest first (pure): the id only ever goes into a term value."""
    return {
        "query": {"term": {"cluster_id": cluster_id}},
        "size": MAX_MEMBERS,
        "track_total_hits": True,
        "_source": source,
        "sort": [{"published": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
    }


def story_hits(client: OpenSearch, alias: str, cluster_id: str, source: list[str]) -> tuple[int, list[dict]] | None:
    """(how many articles the story holds, the first MAX_MEMBERS of them as hits); None when it holds none."""
    response = client.search(index=alias, body=members_body(cluster_id, source))
    hits = response["hits"]["hits"]
    return (response["hits"]["total"]["value"], hits) if hits else None


def cluster_members(client: OpenSearch, alias: str, cluster_id: str) -> dict | None:
    """{"cluster_id", "size", "members"}, or None when no article belongs to the cluster."""
    found = story_hits(client, alias, cluster_id, MEMBER_SOURCE)
    if found is None:
        return None
    size, hits = found
    return {
        "cluster_id": cluster_id,
        "size": size,
        "members": [
            {"id": hit["_id"], **{field: hit["_source"].get(field) for field in MEMBER_SOURCE if field != "id"}}
            for hit in hits
        ],
    }


def page_members_body(cluster_ids: list[str]) -> dict:
    """One search for the stories of a page of hits (pure): each story's size and its oldest members.

    One cheap filter query for the whole page, where collapse's inner hits would run the full query once per hit.
    """
    return {
        "size": 0,
        "query": {"terms": {"cluster_id": cluster_ids}},
        "aggs": {
            "stories": {
                "terms": {"field": "cluster_id", "size": len(cluster_ids)},
                "aggs": {
                    "members": {
                        "top_hits": {
                            "size": MEMBERS_PER_HIT + 1,  # the hit itself may be among them
                            "_source": HIT_MEMBER_SOURCE,
                            "sort": [{"published": {"order": "asc", "missing": "_last"}}, {"id": "asc"}],
                        }
                    }
                },
            }
        },
    }


def with_members(hits: list[dict], response: dict) -> list[dict]:
    """The hits with cluster_size (the whole story) and cluster_members (the others, oldest first) (pure)."""
    stories = {bucket["key"]: bucket for bucket in response["aggregations"]["stories"]["buckets"]}
    shaped = []
    for hit in hits:
        story = stories.get(hit["cluster_id"])
        members = story["members"]["hits"]["hits"] if story else []
        others = [
            {"id": m["_id"], "source": m["_source"].get("source"), "published": m["_source"].get("published")}
            for m in members
            if m["_id"] != hit["id"]
        ]
        shaped.append(
            {**hit, "cluster_size": story["doc_count"] if story else 1, "cluster_members": others[:MEMBERS_PER_HIT]}
        )
    return shaped
