"""The OpenSearch body for a search request (pure): bilingual matching, aligned sentences, filters, facets."""

from __future__ import annotations

from service.search.query import ParsedQuery
from service.search.request import SearchRequest

FIELDS = {"en": ["title_en^3", "body_en"], "ar": ["title^3", "body"]}
TRANSLATED_QUERY_BOOST = 0.5  # the machine translation of an Arabic query counts half
FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE|ESCAPE"
FACETS = ("source", "category")
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
    "model",
    "translated",
]


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
                "_source": [f"sentences.{key}" for key in ("position", "field", "ar", "en", "score", "alignment")],
                "highlight": {
                    "pre_tags": ["<mark>"],
                    "post_tags": ["</mark>"],
                    "encoder": "html",
                    "fields": {field: {"number_of_fragments": 0}, f"{field}.exact": {"number_of_fragments": 0}},
                },
            },
        }
    }


def _facet_filters(request: SearchRequest) -> dict[str, dict]:
    """The chosen facet values, by facet: applied as a post_filter so each facet still counts its other values."""
    chosen = {"source": request.sources, "category": request.categories}
    return {facet: {"terms": {facet: list(values)}} for facet, values in chosen.items() if values}


def _date_filters(request: SearchRequest) -> list[dict]:
    if not (request.date_from or request.date_to):
        return []
    bounds = {k: v for k, v in (("gte", request.date_from), ("lte", request.date_to)) if v}
    return [{"range": {"published": bounds}}]


def _all_of(filters: list[dict]) -> dict:
    return {"bool": {"filter": filters}}


def _aggregations(facet_filters: dict[str, dict]) -> dict:
    """Each facet counted under the other facets' choices; the monthly histogram under all of them."""
    aggs = {
        facet: {
            "filter": _all_of([f for other, f in facet_filters.items() if other != facet]),
            "aggs": {"values": {"terms": {"field": facet, "size": 20}}},
        }
        for facet in FACETS
    }
    aggs["published"] = {
        "filter": _all_of(list(facet_filters.values())),
        "aggs": {
            "months": {
                "date_histogram": {
                    "field": "published",
                    "calendar_interval": "month",
                    "min_doc_count": 1,
                    "format": "yyyy-MM",
                }
            }
        },
    }
    return aggs


def build_body(request: SearchRequest, query: ParsedQuery, lang: str, translated: ParsedQuery | None = None) -> dict:
    """The search body: documents must match; sentence clauses rank them and give aligned snippets."""
    facet_filters = _facet_filters(request)
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
                "filter": _date_filters(request),
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
        "aggs": _aggregations(facet_filters),
    }
    if facet_filters:
        body["post_filter"] = _all_of(list(facet_filters.values()))
    if request.sort == "date":
        body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, "_score"]
    return body
