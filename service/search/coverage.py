"""Full coverage of one story, for its page: every version with its sentences, the stories related to it, and
how many versions an article's story has (for the link from the article page)."""

from __future__ import annotations

from opensearchpy import OpenSearch

from service.search.stories import story_hits

VERSION_SOURCE = [
    *("id", "source", "published", "url", "title", "title_en", "language", "category", "cluster_id"),
    *("sentences.field", "sentences.en", "sentences.ar"),
]
RELATED_STORIES = 5


def story_versions(client: OpenSearch, alias: str, cluster_id: str) -> dict | None:
    """{"cluster_id", "size", "versions": [{"id", "source", "published", ..., "sentences"}]}, oldest first; None
    when no article belongs to the story."""
    found = story_hits(client, alias, cluster_id, VERSION_SOURCE)
    if found is None:
        return None
    size, hits = found
    return {"cluster_id": cluster_id, "size": size, "versions": [{**hit["_source"], "id": hit["_id"]} for hit in hits]}


def related_body(first: dict, cluster_id: str, size: int = RELATED_STORIES) -> dict:
    """Other stories whose articles read like this story's first report, one hit per story (pure)."""
    text = " ".join(filter(None, [first.get("title_en"), *(s.get("en", "") for s in first.get("sentences", []))]))
    return {
        "size": size,
        "_source": ["title", "title_en", "source", "published", "cluster_id"],
        "query": {
            "bool": {
                "must": {
                    "more_like_this": {
                        "fields": ["title_en", "body_en"],
                        "like": text[:5000],
                        "min_term_freq": 1,
                        "min_doc_freq": 1,
                        "max_query_terms": 25,
                        "minimum_should_match": "10%",  # a few shared terms: the default 30% finds nothing short
                    }
                },
                "must_not": {"term": {"cluster_id": cluster_id}},
            }
        },
        "collapse": {"field": "cluster_id", "inner_hits": {"name": "story", "size": 0}},
    }


def parse_related(response: dict) -> list[dict]:
    return [
        {
            "id": hit["_id"],
            **hit["_source"],
            "size": hit.get("inner_hits", {}).get("story", {}).get("hits", {}).get("total", {}).get("value", 1),
        }
        for hit in response["hits"]["hits"]
    ]


def related_stories(client: OpenSearch, alias: str, first: dict, cluster_id: str) -> list[dict]:
    return parse_related(client.search(index=alias, body=related_body(first, cluster_id)))


def story_size(client: OpenSearch, alias: str, cluster_id: str) -> int:
    """How many articles the story holds."""
    return client.count(index=alias, body={"query": {"term": {"cluster_id": cluster_id}}})["count"]
