"""Run a search: detect the query's language, translate it to the other side, query OpenSearch, shape the hits."""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from service.config import MEANING_FLOORS, Settings
from service.embedding.scheduler import EncoderBusy
from service.errors import SearchUnavailable, TranslatorBusy
from service.index import vectors
from service.index.bulk import is_outage
from service.index.errors import refusal_reason
from service.search import query as query_parser
from service.search.body import (
    MEANING,
    MeaningMatches,
    MeaningQuery,
    browse_body,
    build_body,
    cosine_of,
    lucene_score,
    meaning_evidence_body,
    nearest_meaning_body,
)
from service.search.floor import MeaningFloor
from service.search.names import CollectionNames, collection_names, name_wordings
from service.search.query import ParsedQuery, QueryError, QueryWording
from service.search.request import SearchRequest
from service.search.results import parse_response, story_of
from service.search.stories import page_members_body, with_members
from service.text import langid
from service.text.normalize import normalize_text

OTHER_SIDE = {"en": "ar", "ar": "en"}
MODEL_NAMES = {"ar": "English→Arabic", "en": "Arabic→English"}  # by the side a model translates into
MAX_WORDS_PER_QUERY_WORD = 3  # a translation longer than this is degenerate (see bounded_translation)
QUERY_CACHE_SIZE = 2048  # (model, query) pairs kept in the process: a few MB at most
NO_INDEX_YET = {"hits": {"total": {"value": 0}, "hits": []}}  # a search's answer before the first ingest
VECTOR_FIELD_TTL = 30.0  # seconds a search trusts its look-up of the index's vector field (a migrate changes it)


def query_language(request: SearchRequest, parsed: ParsedQuery) -> str:
    """en or ar: as asked, or detected from the query's words (anything not Arabic searches English)."""
    if request.lang != "auto":
        return request.lang
    return "ar" if langid.detect(parsed.terms).language == "ar" else "en"


@functools.lru_cache(maxsize=QUERY_CACHE_SIZE)
def _machine_translation(translator, terms: str) -> str:
    """A query's words translated once per model and process: repeated queries cost no MT."""
    return translator.translate([normalize_text(terms)], alignments=False)[0].target.strip()


@functools.lru_cache(maxsize=QUERY_CACHE_SIZE)
def _query_vector(encoder, terms: str) -> bytes:
    """A query's vector, once per encoder and process (interactive: it goes before bulk passages); kept as float32
    bytes: 2 KB a 512-d entry, where a tuple of Python floats took 16 KB."""
    return np.asarray(encoder.encode_queries([normalize_text(terms)])[0], dtype=np.float32).tobytes()


def query_vector(encoder, terms: str) -> tuple[float, ...]:
    """The vector search compares articles' sentences with for a query's terms; a saved search stores the same."""
    return tuple(np.frombuffer(_query_vector(encoder, terms), dtype=np.float32).tolist())


_vector_dimensions: dict[tuple[int, str], tuple[float, int | None]] = {}
_vector_dimensions_lock = threading.Lock()


def vector_dimension(client: OpenSearch, alias: str) -> int | None:
    """The dimension of the vector field of the alias's write index, looked up at most every VECTOR_FIELD_TTL
    seconds; None without an index or without vectors (an index made from articles-v2)."""
    key, now = (id(client), alias), time.monotonic()
    with _vector_dimensions_lock:
        seen = _vector_dimensions.get(key)
    if seen is not None and now - seen[0] < VECTOR_FIELD_TTL:
        return seen[1]
    try:
        found = client.indices.get_mapping(index=alias)
    except NotFoundError:
        found = {}
    dimensions = {vectors.vector_dimension(m["mappings"].get("properties", {})) for m in found.values()}
    dimension = dimensions.pop() if len(dimensions) == 1 else None  # indices of two kinds behind it: words only
    with _vector_dimensions_lock:
        _vector_dimensions[key] = (now, dimension)
    return dimension


@dataclass(frozen=True)
class Meaning:
    """How a search uses the sentence encoder: the encoder (None: words only), the least cosine of a sentence that
    matches in meaning (SEARCH_MEANING_FLOOR, calibrated per encoder), the channel's weight beside BM25
    (SEARCH_MEANING_WEIGHT), and how far below the collection's best match a match may fall (SEARCH_MEANING_MARGIN;
    None: no such cut, and no request for the best)."""

    encoder: object = None  # a SentenceEncoder
    floor: float = MEANING_FLOORS["use"]
    weight: float = 80.0
    margin: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, encoder) -> Meaning:
        return cls(encoder, settings.meaning_floor, settings.search_meaning_weight, settings.meaning_margin)


def meaning_query(
    client: OpenSearch, alias: str, parsed: ParsedQuery, lang: str, meaning: Meaning
) -> tuple[MeaningQuery | None, dict | None]:
    """The vector channel's query at the floor, or None with the reason it is not searched (None when there is no
    encoder)."""
    encoder = meaning.encoder
    if encoder is None:
        return None, None
    if vector_dimension(client, alias) != encoder.dimension:
        why = "the index holds no sentence vectors of this encoder: `index migrate` gives them"
        return None, {"lang": OTHER_SIDE[lang], "why": why, "by": "meaning"}
    try:
        vector = query_vector(encoder, parsed.terms)
    except EncoderBusy as busy:
        return None, {"lang": OTHER_SIDE[lang], "why": f"{busy}: searched by words only", "by": "meaning"}
    return MeaningQuery(vector, encoder.encoder_id, meaning.floor, meaning.weight), None


def meaning_matches(
    client: OpenSearch, alias: str, request: SearchRequest, near: MeaningQuery, margin: float | None
) -> MeaningMatches | MeaningQuery | None:
    """The articles the vector channel matches, with their scores, from one k-NN request: those whose nearest
    sentence reaches the floor, raised to the collection's best cosine for the query (under the search's dates and
    facets) less the margin; or, with a margin, None when no article the search may show reaches the floor: the
    channel then matches nothing, and the search runs without it. The cut is the query's, not the page's, so totals and pages agree.
    When the candidates fill more than the page (an index of several shards), the channel stays a k-NN clause at the
    raised floor, for the main search to run."""
    answer = _run(client, alias, nearest_meaning_body(request, near))
    best_hits = answer.get("aggregations", {}).get("best", {}).get("top", {}).get("hits", {}).get("hits", [])
    best = cosine_of(best_hits[0]["_score"]) if best_hits else None
    if best is None and margin is not None:
        return None
    least = MeaningFloor(near.floor, margin).least(best)
    hits = answer["hits"]
    if hits["total"]["value"] > len(hits["hits"]):
        return dataclasses.replace(near, floor=least)
    # Lucene's float32, as its min_score compares and its weight multiplies: the JSON's shortest decimals are not it
    floor, weight = np.float32(lucene_score(least)), np.float32(near.weight)
    scores = [(hit["_id"], np.float32(hit["_score"])) for hit in hits["hits"]]
    return MeaningMatches(tuple((article, float(weight * score)) for article, score in scores if score >= floor))


def translate_query(parsed: ParsedQuery, translator) -> ParsedQuery | None:
    """The translation of a query's terms, or None without a real translator.

    A demo model's translation is noise: for an Arabic query it would match the noise the demo model wrote
    into the index, and for an English one it finds nothing but chance.
    """
    if translator is None or translator.demo:
        return None
    words = bounded_translation(_machine_translation(translator, parsed.terms), len(parsed.terms.split()))
    return ParsedQuery.from_words(words) if words else None


def bounded_translation(text: str, query_words: int) -> str:
    """A query's translation without repeated words, and at most a few words per query word.

    On inputs this short, MT can loop ("the the the ...") or run to its length limit; every extra word would be
    another term on the other side's clauses, costing search time and matching noise.
    """
    unique = list(dict.fromkeys(text.split()))
    return " ".join(unique[: MAX_WORDS_PER_QUERY_WORD * max(1, query_words)])


def _user_wordings(request: SearchRequest, parsed: ParsedQuery) -> list[QueryWording]:
    """The user's words by side: a query mixing scripts is split, each part searching its own side."""
    if request.lang != "auto":
        return [QueryWording(request.lang, request.query, parsed, "user")]
    whole = [QueryWording(query_language(request, parsed), request.query, parsed, "user")]
    parts = query_parser.split_by_script(request.query)
    if len(parts) == 1:
        return whole
    try:
        return [QueryWording(lang, text, query_parser.parse(text), "user") for lang, text in parts.items()]
    except QueryError:  # a part that is no query alone, such as a group of exclusions only: search the query whole
        return whole


def query_wordings(
    request: SearchRequest,
    parsed: ParsedQuery,
    translators: dict,
    wait_when_busy: bool = False,
    names: CollectionNames | None = None,
) -> tuple[list[QueryWording], list[dict]]:
    """Every wording the search runs, and the sides left out with the reason: (wordings, not_searched).

    translators maps the side a model translates into (en, ar) to the model, or None. A translation the
    user passed (q_en, q_ar) replaces the machine's for its side. When the translator's queue is full, a
    search leaves the other side out and says so; with wait_when_busy (a saved search, kept for good) the
    TranslatorBusy goes to the caller instead. names (search/names.py collection_names) adds the Arabic
    spellings the collection uses for the query's names, or the user's q_names, as wordings by "names".
    """
    wordings = _user_wordings(request, parsed)
    overrides = {"en": request.q_en, "ar": request.q_ar}
    not_searched = []
    for wording in list(wordings):
        target = OTHER_SIDE[wording.lang]
        if overrides[target]:
            continue
        translator = translators.get(target)
        try:
            translated = translate_query(wording.query, translator)
        except TranslatorBusy:  # a search answers from the user's own words rather than wait or fail
            if wait_when_busy:
                raise
            not_searched.append({"lang": target, "why": f"the {MODEL_NAMES[target]} translator was busy"})
            continue
        if translated is not None:
            wordings.append(QueryWording(target, translated.terms, translated, "machine"))
        else:
            not_searched.append({"lang": target, "why": _why_not(target, translator)})
    for lang, text in overrides.items():
        if text:
            wordings.append(QueryWording(lang, text, query_parser.parse(text), "user"))
    wordings.extend(name_wordings(request, wordings, names))
    return wordings, not_searched


def _why_not(side: str, translator) -> str:
    name = MODEL_NAMES[side]
    if translator is None:
        return f"no {name} model installed"
    if translator.demo:
        return f"the {name} model is a demo with random weights: its translations are noise"
    return f"the {name} translation of the query was empty"


def _run(client: OpenSearch, alias: str, body: dict) -> dict:
    """One search request; QueryError when OpenSearch refuses it, SearchUnavailable when it cannot run it."""
    try:
        return client.search(index=alias, body=body)
    except NotFoundError:  # the alias is made by the first ingest: until then, nothing matches
        return NO_INDEX_YET
    except OpenSearchConnectionError:
        raise  # unreachable: the caller says where it looked
    except TransportError as error:
        if is_outage(error):  # overloaded, shards unavailable, the index closed or blocked: not the query's fault
            raise SearchUnavailable(f"OpenSearch could not run the search: {refusal_reason(error)}") from None
        if isinstance(error, RequestError):  # e.g. a date filter OpenSearch cannot parse
            raise QueryError(f"OpenSearch rejected the search: {refusal_reason(error)}") from None
        raise


def search(
    client: OpenSearch,
    alias: str,
    request: SearchRequest,
    translator=None,
    reverse_translator=None,
    translated_boost: float = 0.5,
    meaning: Meaning = Meaning(),
) -> dict:
    """Search the alias; raises QueryError or ValueError for bad input, with a message for the user.

    translator (Arabic→English) and reverse_translator (English→Arabic) translate the query to the other side;
    translated_boost is the weight of those machine translations against the user's own words; meaning adds the
    vector channel (articles with a sentence near the query in meaning, in either language).
    """
    request.validate()
    parsed = query_parser.parse(request.query)
    lang = query_language(request, parsed)
    translators = {"en": translator, "ar": reverse_translator}
    wordings, not_searched = query_wordings(request, parsed, translators, names=collection_names(client, alias))
    near, not_near = meaning_query(client, alias, parsed, lang, meaning)
    if not_near:
        not_searched.append(not_near)
    cut = meaning_matches(client, alias, request, near, meaning.margin) if near else None
    response = _run(client, alias, build_body(request, wordings, translated_boost, cut))
    page = [story_of(hit) for hit in response["hits"]["hits"]] if request.collapse else []
    with ThreadPoolExecutor(1, thread_name_prefix="search-stories") as beside:
        # the page's stories and its meaning evidence wait only for the main search: one round trip for both
        stories = beside.submit(_run, client, alias, page_members_body(page)) if page else None
        if cut is not None:
            with_meaning_evidence(client, alias, response, near)
        result = parse_response(response)
        request.check_page(result["total"], len(result["hits"]), result.get("stories"))
        if stories is not None:
            result["hits"] = with_members(result["hits"], stories.result())
    result["query"] = {
        "language": lang,
        "searched": [{"lang": wording.lang, "text": wording.text, "by": wording.by} for wording in wordings]
        + ([{"lang": OTHER_SIDE[lang], "text": parsed.terms, "by": "meaning"}] if near else []),
        "not_searched": not_searched,
    }
    return result


def with_meaning_evidence(client: OpenSearch, alias: str, response: dict, near: MeaningQuery) -> None:
    """Give the response's hits found by meaning their nearest sentence as the inner hit `sentences_meaning` (scored
    (1 + cosine) / 2, as the knn clause scores it), from one more small request over those hits alone."""
    hits = {hit["_id"]: hit for hit in response["hits"]["hits"] if MEANING in hit.get("matched_queries", ())}
    if not hits:
        return
    for found in _run(client, alias, meaning_evidence_body(list(hits), near))["hits"]["hits"]:
        inner = found.get("inner_hits", {}).get("sentences_meaning", {})
        hits[found["_id"]].setdefault("inner_hits", {})["sentences_meaning"] = inner


def browse(client: OpenSearch, alias: str, request: SearchRequest) -> dict:
    """The articles within a request's sources, categories and dates, newest first, without a query: the shape
    search returns, with nothing searched (its query is ignored)."""
    request.validate()
    result = parse_response(_run(client, alias, browse_body(request)))
    request.check_page(result["total"], len(result["hits"]), result.get("stories"))
    if request.collapse and result["hits"]:
        stories = _run(client, alias, page_members_body([hit["cluster_id"] for hit in result["hits"]]))
        result["hits"] = with_members(result["hits"], stories)
    result["query"] = {"language": None, "searched": [], "not_searched": []}
    return result
