"""The OpenSearch body for a search request (pure): bilingual matching, aligned sentences, filters, facets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from service.search.query import QueryWording
from service.search.request import SearchRequest
from service.search.timeline import INTERVALS, MAX_BARS

FIELDS = {"en": ["title_en^3", "body_en"], "ar": ["title^3", "body"]}
FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE|ESCAPE"
FACETS = ("source", "category", "names")
# The facets whose values the whole collection also lists, in an order no search changes; the people and places
# are too many for that: the names facet lists those of the results
COLLECTION_FACETS = ("source", "category")
FACET_FIELDS = {"source": "source", "category": "category", "names": "name_keys"}
NAME_LABELS = 3  # articles whose stored names give each listed name its display form and spellings
KNN_CANDIDATES = 100  # Lucene's k is also its HNSW candidate count: k=10 missed part of the exact top 10
HIGHLIGHTED = ("title", "body", "title_en", "body_en")
MATCHED_SENTENCES = 10  # matched sentence pairs returned per side and hit; the article page marks every one
WORDS, MEANING = "words", "meaning"  # the names of the two channels' clauses: each hit says which it matched
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
    "model",
    "translated",
]


@dataclass(frozen=True)
class MeaningQuery:
    """The vector channel of a search: the query's vector, the encoder that made it (only the articles embedded by
    the same encoder are compared), the least cosine a sentence needs, and the channel's weight beside BM25."""

    vector: tuple[float, ...]
    encoder_id: str
    floor: float  # least cosine similarity of a matching sentence
    weight: float  # the channel's score (cosine mapped to [0, 1]) times this, added to BM25's


def lucene_score(cosine: float) -> float:
    """The score Lucene gives a cosinesimil match: (1 + cosine) / 2, in [0, 1]."""
    return (1 + cosine) / 2


def cosine_of(score: float) -> float:
    """The cosine behind a Lucene cosinesimil score: the inverse of lucene_score."""
    return 2 * score - 1


def meaning_clause(meaning: MeaningQuery, evidence: bool = True) -> dict:
    """Articles with a sentence near the query in meaning (at least the floor), scored by the nearest one times the
    channel's weight, with it as the inner hit (evidence); only articles whose vectors come from the query's encoder.

    The floor is a function_score's min_score over the k nearest sentences, and the weight a function applied after
    it. A boost would not do: Lucene multiplies a boost into the scores below it before min_score is checked, so
    with boost 80 every sentence passed (a query about nothing matched every article). Nor would the knn query's
    own min_score (a radial search): on the Lucene engine it missed sentences well above the floor, now and then,
    in a graph of a few dozen vectors."""
    knn = {"knn": {"sentences.vector": {"vector": list(meaning.vector), "k": KNN_CANDIDATES}}}
    nearest = {
        "nested": {
            "path": "sentences",
            "score_mode": "max",
            "query": {"function_score": {"query": knn, "min_score": lucene_score(meaning.floor)}},
        }
    }
    if evidence:
        nearest["nested"]["inner_hits"] = {
            "name": "sentences_meaning",
            "size": 1,
            "_source": [f"sentences.{key}" for key in ("position", "field", "ar", "en", "score")],
        }
    weighted = {
        "function_score": {"query": nearest, "functions": [{"weight": meaning.weight}], "boost_mode": "multiply"}
    }
    return {"bool": {"_name": MEANING, "filter": [{"term": {"encoder": meaning.encoder_id}}], "must": [weighted]}}


def meaning_evidence_body(article_ids: list[str], meaning: MeaningQuery) -> dict:
    """For a page's hits found by meaning, each one's nearest sentence (inner hit `sentences_meaning`), scored by
    exact cosine over its own sentences only (the k-NN plugin's knn_score script, (1 + cosine) / 2). Inner hits of the
    search's own knn clause ran the knn search again for every hit: twice the search's time on a page of ten."""
    exact = {
        "script_score": {
            "query": {"exists": {"field": "sentences.vector"}},
            "script": {
                "source": "knn_score",
                "lang": "knn",
                "params": {
                    "field": "sentences.vector",
                    "query_value": list(meaning.vector),
                    "space_type": "cosinesimil",
                },
            },
        }
    }
    return {
        "size": len(article_ids),
        "_source": False,
        "query": {
            "bool": {
                "filter": [{"ids": {"values": article_ids}}],
                "must": [
                    {
                        "nested": {
                            "path": "sentences",
                            "score_mode": "max",
                            "query": exact,
                            "inner_hits": {
                                "name": "sentences_meaning",
                                "size": 1,
                                "_source": [f"sentences.{key}" for key in ("position", "field", "ar", "en", "score")],
                            },
                        }
                    }
                ],
            }
        },
    }


def nearest_meaning_body(request: SearchRequest, meaning: MeaningQuery) -> dict:
    """Every article the vector channel can match (its nearest sentence among the k-NN candidates at the floor),
    scored by that sentence's Lucene score (weight 1), whatever the search's dates and facets, as the main search
    matches them (it narrows by a post_filter); and under `best`, the best of those the search may show (dates and
    facets applied): the collection's best match, which the margin counts from. The k-NN yields at most
    KNN_CANDIDATES sentences a shard, so one page of that many holds every article of a one-shard index."""
    filters = [*_date_filters(request), *_facet_filters(request).values()]
    best = {"filter": _all_of(filters), "aggs": {"top": {"top_hits": {"size": 1, "_source": False}}}}
    return {
        "size": KNN_CANDIDATES,
        "_source": False,
        "track_total_hits": True,
        "query": meaning_clause(dataclasses.replace(meaning, weight=1.0), evidence=False),
        "aggs": {"best": best},
    }


@dataclass(frozen=True)
class MeaningMatches:
    """The articles the vector channel matches for a search, found beforehand (nearest_meaning_body), each with the
    score the channel's clause would give it (weight times its nearest sentence's Lucene score, in float32 as
    Lucene computes it): the main search carries them as scored ids instead of running the k-NN again."""

    scores: tuple[tuple[str, float], ...]  # (article id, weighted score)


def matched_meaning_clause(matches: MeaningMatches) -> dict:
    """The vector channel's clause from its matches found beforehand: each article scores what meaning_clause would
    give it. Why not the k-NN itself: every date histogram of the timeline built the query's weight again for every
    segment (OpenSearch's check whether a segment matches whole), so the k-NN ran once per segment and interval."""
    if not matches.scores:  # a bool of no clauses would match every document
        return {"match_none": {"_name": MEANING}}
    scored = [
        {"constant_score": {"filter": {"ids": {"values": [article_id]}}, "boost": score}}
        for article_id, score in matches.scores
    ]
    return {"bool": {"_name": MEANING, "should": scored, "minimum_should_match": 1}}


def _boost(wording: QueryWording, translated_boost: float) -> float:
    return 1.0 if wording.by == "user" else translated_boost


def _simple_query(text: str, fields: list[str], operator: str, boost: float | None = None) -> dict:
    """The one way user text reaches OpenSearch: as the query string of a simple_query_string clause."""
    clause = {
        "query": text,
        "fields": fields,
        "default_operator": operator,
        "quote_field_suffix": ".exact",
        "flags": FLAGS,
    }
    if boost is not None:
        clause["boost"] = boost
    return {"simple_query_string": clause}


def _match(wording: QueryWording, boost: float) -> dict:
    clause = _simple_query(wording.query.text, FIELDS[wording.lang], "and", boost)
    clause["simple_query_string"]["_name"] = WORDS  # the hit's matched_queries say it matched by its words
    return clause


def _exclusion(wording: QueryWording) -> dict:
    """A document with an excluded word on the wording's side is left out, whichever wording of the query it matched."""
    return _simple_query(wording.query.excluded, FIELDS[wording.lang], "or")


def sentence_clause(lang: str, wordings: list[tuple[QueryWording, float]]) -> dict:
    """Scores one side's sentences by every wording searching it, and returns the best ones with both languages."""
    field = f"sentences.{lang}"
    scored = [_simple_query(wording.query.positive, [field], "or", boost) for wording, boost in wordings]
    return {
        "nested": {
            "path": "sentences",
            "score_mode": "max",
            "query": scored[0] if len(scored) == 1 else {"bool": {"should": scored}},
            "inner_hits": {
                "name": f"sentences_{lang}",
                "size": MATCHED_SENTENCES,
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
    chosen = {"source": request.sources, "category": request.categories, "names": request.names}
    return {facet: {"terms": {FACET_FIELDS[facet]: list(values)}} for facet, values in chosen.items() if values}


def _date_filters(request: SearchRequest) -> list[dict]:
    if not (request.date_from or request.date_to):
        return []
    bounds = {k: v for k, v in (("gte", request.date_from), ("lte", request.date_to)) if v}
    return [{"range": {"published": bounds}}]


def _all_of(filters: list[dict]) -> dict:
    return {"bool": {"filter": filters}}


def _aggregations(facet_filters: dict[str, dict], date_filters: list[dict]) -> dict:
    """Each facet counted under the other facets' choices and the dates; the timeline under the facets only, so
    that a chosen range is drawn within the whole span of the results; and each facet's values in the whole
    collection, so a page can list them in an order no search changes (those with 0 too)."""
    aggs = {
        facet: {
            "filter": _all_of([f for other, f in facet_filters.items() if other != facet] + date_filters),
            "aggs": {"values": {"terms": {"field": FACET_FIELDS[facet], "size": 20}}},
        }
        for facet in FACETS
    }
    # each name's display form and spellings, from the names stored with a few of its articles
    aggs["names"]["aggs"]["values"]["aggs"] = {"labels": {"top_hits": {"size": NAME_LABELS, "_source": ["names"]}}}
    aggs["collection"] = {
        "global": {},
        "aggs": {facet: {"terms": {"field": facet, "size": 20}} for facet in COLLECTION_FACETS},
    }
    aggs["published"] = {"filter": _all_of(list(facet_filters.values())), "aggs": timeline_aggregations()}
    return aggs


def timeline_aggregations() -> dict:
    """The first and last publication time, and the first MAX_BARS + 1 buckets in each interval: the span picks
    one of them (search/timeline.py bucket_interval), so one request serves any span."""
    aggs = {
        "first": {"min": {"field": "published", "format": "strict_date_optional_time"}},
        "last": {"max": {"field": "published", "format": "strict_date_optional_time"}},
    }
    for interval in INTERVALS:
        aggs[interval] = {
            "date_histogram": {
                "field": "published",
                "calendar_interval": interval,
                "min_doc_count": 1,
                "format": "yyyy-MM-dd",
            },
            "aggs": {"first_buckets": {"bucket_sort": {"size": MAX_BARS + 1}}},
        }
    return aggs


def matching_query(
    request: SearchRequest,
    wordings: list[QueryWording],
    translated_boost: float = 0.5,
    meaning: MeaningQuery | MeaningMatches | None = None,
    within_dates: bool = True,
) -> dict:
    """What a document must be to match: one wording of the query (or, with meaning, a sentence near it in
    meaning), none of the exclusions, within the dates (unless within_dates is False: search applies them as a
    post_filter, so that its timeline counts the results outside them too).

    Search adds its ranking clauses and applies the facets as a post_filter; an alert's percolator query
    (alert_query) adds the facets as filters. This is the one builder of what matches, so the two agree.
    """
    must = [_match(wording, _boost(wording, translated_boost)) for wording in wordings]
    if isinstance(meaning, MeaningMatches):
        must.append(matched_meaning_clause(meaning))
    elif meaning is not None:
        must.append(meaning_clause(meaning, evidence=False))  # evidence: meaning_evidence_body, for a page's hits
    return {
        "bool": {
            "must": [{"bool": {"should": must, "minimum_should_match": 1}}],
            "must_not": [_exclusion(wording) for wording in wordings if wording.query.excluded],
            "filter": _date_filters(request) if within_dates else [],
        }
    }


def alert_query(request: SearchRequest, wordings: list[QueryWording], meaning: MeaningQuery | None = None) -> dict:
    """The percolator query of a saved search: the search's matching query, with the chosen facets as filters.
    With meaning (back-fill runs it as a search; a percolator cannot hold a knn), the vector channel too. Without
    wordings or meaning (a saved browse, no words), the filters alone."""
    narrowing = [*_date_filters(request), *_facet_filters(request).values()]
    if not wordings and meaning is None:  # alerts/usecases.py saves one only with a source, category or name
        return {"bool": {"filter": narrowing}}
    query = matching_query(request, wordings, meaning=meaning, within_dates=False)
    query["bool"]["filter"] = narrowing
    return query


def alert_filter_query(request: SearchRequest, wordings: list[QueryWording]) -> dict:
    """What a saved search asks of a document besides its words or meaning: alert_query less its `must` (the
    exclusions, the dates, the facets). Percolated for the articles an alert matches in meaning at ingest."""
    passing = {key: value for key, value in alert_query(request, wordings)["bool"].items() if key != "must"}
    return {"bool": passing}


def build_body(
    request: SearchRequest,
    wordings: list[QueryWording],
    translated_boost: float = 0.5,
    meaning: MeaningQuery | MeaningMatches | None = None,
) -> dict:
    """The search body: documents must match one wording of the query, or be near it in meaning; sentence clauses
    rank them and give aligned snippets. The user's own words weigh 1, a machine translation of them
    translated_boost; the meaning channel's score (fused in this one bool: bench/fusion.py) meaning.weight."""
    facet_filters = _facet_filters(request)
    weighed = [(wording, _boost(wording, translated_boost)) for wording in wordings]
    sides = dict.fromkeys(
        wording.lang for wording in wordings
    )  # one nested clause per side: inner hits are named by side
    date_filters = _date_filters(request)
    query = matching_query(request, wordings, translated_boost, meaning, within_dates=False)
    query["bool"]["should"] = [sentence_clause(lang, [(f, b) for f, b in weighed if f.lang == lang]) for lang in sides]
    body = {
        "query": query,
        "highlight": {
            "fragment_size": 160,
            "number_of_fragments": 2,
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "encoder": "html",
            # a title whole (no fragments): the hit's heading shows it highlighted
            "fields": {f: {"number_of_fragments": 0} if f.startswith("title") else {} for f in HIGHLIGHTED},
        },
    }
    return _listing(request, body, facet_filters, date_filters)


def browse_body(request: SearchRequest) -> dict:
    """A search without a query: every article within the chosen sources, categories and dates, newest first."""
    body = {"query": {"match_all": {}}, "sort": [{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]}
    return _listing(request, body, _facet_filters(request), _date_filters(request))


def _listing(request: SearchRequest, body: dict, facet_filters: dict[str, dict], date_filters: list[dict]) -> dict:
    """A search body with what every listing has: its page, the hits' fields, facets, the facets' choices, stories.
    The facets and dates narrow the hits and counts as a post_filter, not the timeline."""
    narrowing = [*facet_filters.values(), *date_filters]
    body = {
        **body,
        "from": (request.page - 1) * request.size,
        "size": request.size,
        "track_total_hits": True,
        "_source": HIT_SOURCE,
        "aggs": _aggregations(facet_filters, date_filters),
    }
    if narrowing:
        body["post_filter"] = _all_of(narrowing)
    if request.sort == "date" and "sort" not in body:
        body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, "_score"]
    if request.collapse:
        body["collapse"] = {"field": "cluster_id"}  # one hit per story; its members come in one more request
        body["aggs"]["stories"] = {
            "filter": _all_of(narrowing),  # counted like the hits: under every chosen facet and the dates
            "aggs": {"count": {"cardinality": {"field": "cluster_id", "precision_threshold": 3000}}},
        }
    return body
