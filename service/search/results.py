"""OpenSearch response → bilingual hits with aligned sentences, and facets (pure)."""

from __future__ import annotations

import html


def _sentence_pairs(inner_hits: dict) -> list[dict]:
    """Matched sentences from both languages' inner hits, each with its aligned counterpart.

    `matched` says which side the query hit: "ar", "en", or "both" (an Arabic query and its translation).
    """
    pairs: dict[int, dict] = {}
    for name, matched in (("sentences_ar", "ar"), ("sentences_en", "en")):
        for inner in inner_hits.get(name, {}).get("hits", {}).get("hits", []):
            source = inner["_source"]
            position = source.get("position", inner["_nested"]["offset"])
            highlight = inner.get("highlight", {})
            marked = (highlight.get(f"sentences.{matched}") or highlight.get(f"sentences.{matched}.exact") or [None])[0]
            if position in pairs:
                pair = pairs[position]
                pair["matched"] = "both"
            else:
                pair = pairs[position] = {
                    "position": position,
                    "score": source.get("score"),
                    "matched": matched,
                    "ar": source.get("ar", ""),
                    "en": source.get("en", ""),
                    "ar_highlighted": html.escape(source.get("ar", "")),
                    "en_highlighted": html.escape(source.get("en", "")),
                }
            if marked:
                pair[f"{matched}_highlighted"] = marked
    return sorted(pairs.values(), key=lambda p: p["position"])


def _snippets(highlight: dict, fields: tuple[str, str]) -> list[str]:
    return [fragment for f in fields for fragment in highlight.get(f, [])]


def _cluster(hit: dict) -> dict:
    """cluster_size and cluster_members (the other articles of the story that match), when the search collapsed."""
    members = hit.get("inner_hits", {}).get("cluster")
    if members is None:
        return {}
    return {
        "cluster_size": members["hits"]["total"]["value"],
        "cluster_members": [
            {"id": m["_id"], "source": m["_source"].get("source"), "published": m["_source"].get("published")}
            for m in members["hits"]["hits"]
            if m["_id"] != hit["_id"]
        ],
    }


def parse_hit(hit: dict) -> dict:
    source = hit["_source"]
    highlight = hit.get("highlight", {})
    return {
        "id": hit["_id"],
        "title": source.get("title", ""),
        "title_en": source.get("title_en", ""),
        "published": source.get("published"),
        "source": source.get("source"),
        "category": source.get("category"),
        "url": source.get("url"),
        "language": source.get("language"),
        "translation_score": source.get("translation_score"),
        "demo": source.get("demo", False),
        "score": hit.get("_score"),
        "snippets": {
            "ar": _snippets(highlight, ("title", "body")),
            "en": _snippets(highlight, ("title_en", "body_en")),
        },
        "sentences": _sentence_pairs(hit.get("inner_hits", {})),
        "cluster_id": source.get("cluster_id", hit["_id"]),
        **_cluster(hit),
    }


def parse_response(response: dict) -> dict:
    """{"total", "hits", "facets"}: the shape the CLI prints with --json and the API returns."""
    aggs = response.get("aggregations", {})
    stories = {"stories": aggs["stories"]["value"]} if "stories" in aggs else {}
    return {
        "total": response["hits"]["total"]["value"],
        **stories,
        "hits": [parse_hit(hit) for hit in response["hits"]["hits"]],
        "facets": {
            "source": [{"value": b["key"], "count": b["doc_count"]} for b in aggs.get("source", {}).get("buckets", [])],
            "category": [
                {"value": b["key"], "count": b["doc_count"]} for b in aggs.get("category", {}).get("buckets", [])
            ],
            "published": [
                {"value": b["key_as_string"], "count": b["doc_count"]}
                for b in aggs.get("published", {}).get("buckets", [])
            ],
        },
    }
