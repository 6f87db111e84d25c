"""The OpenSearch body for a search request (pure): bilingual matching, aligned sentences, filters, facets."""

from __future__ import annotations

from service.search.query import ParsedQuery
from service.search.request import SearchRequest

FIELDS = {"en": ["title_en^3", "body_en"], "ar": ["title^3", "body"]}
TRANSLATED_QUERY_BOOST = 0.5  # the machine translation of an Arabic query counts half
FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE|ESCAPE"
HIT_SOURCE = [
    "id",
    "title",
    "title_en",
    "published",
    "source",
    "category",
    "url",
    "language",
    "translation_score",
    "demo",
    "cluster_id",
]
CLUSTER_MEMBERS = 10  # the other articles of a story shown with its hit (the index allows 50 inner hits)


def _match(query: ParsedQuery, lang: str, boost: float) -> dict:
    return {
        "simple_query_string": {
            "query": query.text,
            "fields": FIELDS[lang],
            "default_operator": "and",
            "quote_field_suffix": ".exact",
            "flags": FLAGS,
            "boost": boost,
        }
    }


def _sentences(query: ParsedQuery, lang: str, boost: float) -> dict:
    """Scores sentences by the query's terms and returns the best ones, with both languages."""
    field = f"sentences.{lang}"
    return {
        "nested": {
            "path": "sentences",
            "score_mode": "max",
            "boost": boost,
            "query": {
                "simple_query_string": {
                    "query": query.positive,
                    "fields": [field],
                    "default_operator": "or",
                    "quote_field_suffix": ".exact",
                    "flags": FLAGS,
                }
            },
            "inner_hits": {
                "name": f"sentences_{lang}",
                "size": 3,
                "_source": ["sentences.position", "sentences.ar", "sentences.en", "sentences.score"],
                "highlight": {
                    "pre_tags": ["<mark>"],
                    "post_tags": ["</mark>"],
                    "encoder": "html",
                    "fields": {field: {"number_of_fragments": 0}, f"{field}.exact": {"number_of_fragments": 0}},
                },
            },
        }
    }


def _filters(request: SearchRequest) -> list[dict]:
    filters = []
    if request.sources:
        filters.append({"terms": {"source": list(request.sources)}})
    if request.categories:
        filters.append({"terms": {"category": list(request.categories)}})
    if request.date_from or request.date_to:
        bounds = {k: v for k, v in (("gte", request.date_from), ("lte", request.date_to)) if v}
        filters.append({"range": {"published": bounds}})
    return filters


def _collapse() -> dict:
    """One hit per story: the best-ranked member (by the request's sort), with the others that match as inner hits.

    hits.total and the facets still count articles; the `stories` aggregation counts the clusters.
    """
    return {
        "field": "cluster_id",
        "inner_hits": {
            "name": "cluster",
            "size": CLUSTER_MEMBERS + 1,  # the hit itself is among them
            "_source": ["id", "source", "published"],
            "sort": [{"published": {"order": "asc", "missing": "_last"}}],
        },
    }


def build_body(request: SearchRequest, query: ParsedQuery, lang: str, translated: ParsedQuery | None = None) -> dict:
    """The search body: documents must match; sentence clauses rank them and give aligned snippets."""
    must = [_match(query, lang, 1.0)]
    should = [_sentences(query, lang, 1.0)]
    if translated is not None:
        must.append(_match(translated, "en", TRANSLATED_QUERY_BOOST))
        should.append(_sentences(translated, "en", TRANSLATED_QUERY_BOOST))
    body = {
        "query": {
            "bool": {
                "must": [{"bool": {"should": must, "minimum_should_match": 1}}],
                "should": should,
                "filter": _filters(request),
            }
        },
        "from": (request.page - 1) * request.size,
        "size": request.size,
        "track_total_hits": True,
        "_source": HIT_SOURCE,
        "highlight": {
            "fragment_size": 160,
            "number_of_fragments": 2,
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "encoder": "html",
            "fields": {f: {} for f in ("title", "body", "title_en", "body_en")},
        },
        "aggs": {
            "source": {"terms": {"field": "source", "size": 20}},
            "category": {"terms": {"field": "category", "size": 20}},
            "published": {
                "date_histogram": {
                    "field": "published",
                    "calendar_interval": "month",
                    "min_doc_count": 1,
                    "format": "yyyy-MM",
                }
            },
        },
    }
    if request.sort == "date":
        body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, "_score"]
    if request.collapse:
        body["collapse"] = _collapse()
        body["aggs"]["stories"] = {"cardinality": {"field": "cluster_id", "precision_threshold": 3000}}
    return body
