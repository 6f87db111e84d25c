"""The shapes of /api/v1 as JSON Schema: the one declaration the OpenAPI document shows and the views validate against.

Plain JSON Schema, checked with jsonschema (service/web/validation.py), rather than pydantic models through spectree
or flask-smorest: the views keep the strict body reader (payload.py) and the project's error shape, and the document
shows exactly the schemas that validate. Request schemas are self-contained (no $ref), so a view validates with them
as they are; limits that are settings (MAX_BATCH_TEXTS, MAX_REQUEST_CHARS, MAX_API_ARTICLES) are filled in per app.
Response schemas leave room for new fields (no additionalProperties: false): adding a field never breaks a client.
"""

from __future__ import annotations

from service.alerts.model import CADENCES
from service.config import Settings
from service.limits import MAX_BEAM, MAX_PAGE_SIZE, MAX_QUERY_CHARS, MAX_RESULT_WINDOW
from service.provenance import KINDS as PROVENANCE_KINDS
from service.search.request import LANGS, SORTS
from service.search.similar import DEFAULT_SIZE as DEFAULT_SIMILAR
from service.search.similar import MAX_SIZE as MAX_SIMILAR

NONBLANK = r"\S"  # a text must hold at least one character that is not white space
JOB_STATES = ("queued", "running", "paused", "done", "failed", "cancelled")
BEAM_SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_BEAM, "description": f"beam width, 1 to {MAX_BEAM}"}
FLAG = {"type": "boolean", "default": False}


def _text(settings: Settings) -> dict:
    return {
        "type": "string",
        "pattern": NONBLANK,
        "maxLength": settings.max_request_chars,
        "description": "Arabic (or English, kept as it is); not blank",
    }


def texts_request(settings: Settings, decoding: bool) -> dict:
    """{text} or {texts}; with `source` and `beam_size` when decoding (translate)."""
    properties = {
        "text": _text(settings),
        "texts": {
            "type": "array",
            "items": _text(settings),
            "minItems": 1,
            "maxItems": settings.max_batch_texts,
            "description": f"at most {settings.max_batch_texts} texts per request, and "
            f"{settings.max_request_chars} characters in all",
        },
    }
    if decoding:
        properties["source"] = {
            "enum": ["auto", "ar"],
            "default": "auto",
            "description": "auto detects each text; ar translates it as Arabic",
        }
        properties["beam_size"] = BEAM_SIZE
    return {
        "type": "object",
        "properties": properties,
        "oneOf": [{"required": ["text"]}, {"required": ["texts"]}],
        "description": "send `text` (a string) or `texts` (a list of strings), not both",
    }


# The fields of an article are documented, not constrained: a bad article is rejected alone, with its reason,
# and the rest of the request goes in (see the `items` of the answer, or a job's errors).
ARTICLE = {
    "type": "object",
    "description": "An article; one without a usable `body`, with a bad date or in another language is rejected "
    "alone, with its reason",
    "properties": {
        "id": {
            "description": 'your id (string or integer; not starting with "/", no "." or ".." between slashes); '
            "default: the content hash"
        },
        "title": {"description": "string"},
        "body": {"description": "string, required: the text to translate"},
        "source": {"description": "string"},
        "date": {"description": "ISO 8601 publication date (also accepted as `published`)"},
        "category": {"description": "string"},
        "url": {"description": "http(s) link to the original"},
    },
}


def articles_request(settings: Settings) -> dict:
    limit = settings.max_api_articles
    return {
        "description": "one article, or a list of them",
        "oneOf": [
            ARTICLE,
            {
                "type": "array",
                "items": ARTICLE,
                "minItems": 1,
                "maxItems": limit,
                "description": f"at most {limit} articles per request; submit larger loads as a bulk job",
            },
        ],
    }


_JOB_ITEMS = {
    "type": "array",
    "minItems": 1,
    "description": "texts or articles, one job item each",
    "items": {"anyOf": [{"type": "string"}, ARTICLE], "description": "a text (string) or an article (object)"},
}
JOB_JSON_REQUEST = {
    "description": 'a list of texts or articles, or {"items": that list}',
    "oneOf": [_JOB_ITEMS, {"type": "object", "required": ["items"], "properties": {"items": _JOB_ITEMS}}],
}
JOB_UPLOAD_REQUEST = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "*.jsonl or *.json: one article per line; anything else: UTF-8 text, one item a line",
        },
        "index": {**FLAG, "description": "also index the articles for search"},
        "beam_size": BEAM_SIZE,
    },
}


def parameter(name: str, location: str, schema: dict, description: str, required: bool = False) -> dict:
    declared = {"name": name, "in": location, "description": description, "schema": schema}
    if required or location == "path":
        declared["required"] = True
    return declared


_STRINGS = {"type": "array", "items": {"type": "string"}}


SEARCH_PARAMETERS = [
    parameter(
        "q",
        "query",
        {"type": "string", "pattern": NONBLANK, "maxLength": MAX_QUERY_CHARS},
        'words, "phrases", AND, OR, NOT, parentheses',
        required=True,
    ),
    parameter("lang", "query", {"enum": list(LANGS), "default": "auto"}, "language of the query"),
    parameter(
        "q_ar",
        "query",
        {"type": "string", "maxLength": MAX_QUERY_CHARS},
        "your own Arabic for the query, searched instead of its machine translation (empty: the machine's)",
    ),
    parameter(
        "q_en",
        "query",
        {"type": "string", "maxLength": MAX_QUERY_CHARS},
        "your own English for the query, searched instead of its machine translation (empty: the machine's)",
    ),
    parameter(
        "q_names",
        "query",
        {"type": "string", "maxLength": MAX_QUERY_CHARS},
        "your own Arabic spellings of the query's names (search syntax), searched instead of the spellings the "
        "collection uses (empty: the collection's)",
    ),
    parameter(
        "source", "query", _STRINGS, "only these sources: repeat it, or separate them by commas (empty means all)"
    ),
    parameter(
        "category", "query", _STRINGS, "only these categories: repeat it, or separate them by commas (empty: all)"
    ),
    parameter(
        "name",
        "query",
        _STRINGS,
        "only articles naming these people or places, by their key (facets.names values): repeat it (empty: all)",
    ),
    parameter("from", "query", {"type": "string"}, "published on or after this date (ISO 8601; empty: no bound)"),
    parameter("to", "query", {"type": "string"}, "published on or before this date (ISO 8601; empty: no bound)"),
    parameter("sort", "query", {"enum": list(SORTS), "default": "relevance"}, "relevance, or newest first"),
    parameter(
        "size", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 10}, "hits per page"
    ),
    parameter(
        "page",
        "query",
        {"type": "integer", "minimum": 1, "maximum": MAX_RESULT_WINDOW, "default": 1},
        f"page number; page x size at most {MAX_RESULT_WINDOW}",
    ),
    parameter(
        "collapse",
        "query",
        {"type": "boolean", "default": True},
        "true: one hit per story cluster (near-duplicate wire stories), with its other members; false: every article",
    ),
]
ARTICLE_ID = parameter(
    "article_id",
    "path",
    {"type": "string", "minLength": 1},
    "the article's id (ids are at most 512 bytes: a longer one is never found)",
)
EXPORT_FORMAT = parameter(
    "format",
    "query",
    {"enum": ["json", "tsv", "tmx"], "default": "json"},
    "json, tsv or tmx (TMX 1.4b, one <tu> per sentence pair). TSV columns: position, field, paragraph, score, "
    "ar, en, then the article's source, published and url on every line",
)
EXPORT_DOWNLOAD = parameter(
    "download",
    "query",
    FLAG,
    "true: a JSON answer comes as a file to save (Content-Disposition: attachment), as TSV and TMX always do",
)
SIMILAR_SIZE = parameter(
    "size",
    "query",
    {"type": "integer", "minimum": 1, "maximum": MAX_SIMILAR, "default": DEFAULT_SIMILAR},
    "related articles at most",
)
CLUSTER_ID = parameter(
    "cluster_id",
    "path",
    {"type": "string", "minLength": 1},
    "a story cluster's id (an article's `cluster_id`; at most 512 bytes)",
)
SEARCH_FORMAT = parameter(
    "format",
    "query",
    {"enum": ["json", "csv"], "default": "json"},
    "json, or csv: every hit of the search (not one page), at most 10,000 rows, UTF-8 with a byte order mark, with "
    "id, published, source, category, title_en, title, translation (human, machine, original, demo), model, "
    "matched_en, matched_ar (the first matching sentence pair), article_link, url, cluster_size",
)
JOB_RESULTS_FORMAT = parameter(
    "format",
    "query",
    {"enum": ["jsonl", "csv", "tsv", "tmx"], "default": "jsonl"},
    "jsonl (the translation JSON shape per line); csv: UTF-8 with a byte order mark, one row per item with "
    "id, outcome, title_en, title, body_en, body, translation (human, machine, original, demo), model; tsv or tmx: "
    "the parallel text of every item, one line or <tu> per sentence pair, as GET /articles/{id} gives one article's",
)
JOB_ID = parameter("job_id", "path", {"type": "string", "minLength": 1}, "the job's id")
JOB_OPTIONS = [
    parameter("index", "query", FLAG, "also index the articles for search (an upload's form field wins)"),
    parameter("beam_size", "query", BEAM_SIZE, "beam width (an upload's form field wins)"),
]

# Response bodies, shown in the document's components.
_NULLABLE_STRING = {"type": ["string", "null"]}
_SIMILAR_SENTENCE = {
    "type": "object",
    "required": ["position", "lang", "text", "en"],
    "description": "a sentence in its article's original language (text), and in English",
    "properties": {
        "position": {"type": ["integer", "null"]},
        "lang": {"enum": ["ar", "en"]},
        "text": {"type": "string"},
        "en": {"type": "string"},
    },
}
_COUNT = {"type": "integer", "minimum": 0}
DETECTION = {
    "type": "object",
    "required": ["language", "confidence", "method"],
    "properties": {
        "language": {"type": "string", "description": "ISO 639-1, or und"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "method": {"type": "string"},
    },
}
_CLUSTER_ID = {"type": "string", "description": "the story cluster: near-duplicate articles share it"}
_SPAN = {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
_TRANSLATION = {
    "type": "object",
    "required": ["text", "translation", "language", "score", "sentences"],
    "properties": {
        "text": {"type": "string"},
        "translation": {"type": "string"},
        "language": DETECTION,
        "score": {"type": "number", "description": "mean token log-probability (0 for English kept as it is)"},
        "sentences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["source", "target", "score", "span"],
                "properties": {
                    "source": {"type": "string"},
                    "target": {"type": "string"},
                    "score": {"type": "number"},
                    "span": _SPAN,
                },
            },
        },
    },
}
_FACET = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["value", "count"],
        "properties": {"value": {"type": "string"}, "count": _COUNT},
    },
}
_NAME_FACET = {
    "type": "array",
    "description": "the people and places the results name most, each with its articles: value is the name's key "
    "(the name filter takes it), label its English or romanised form, spellings its Arabic ones",
    "items": {
        "type": "object",
        "required": ["value", "count", "label", "spellings"],
        "properties": {
            "value": {"type": "string"},
            "count": _COUNT,
            "label": {"type": "string"},
            "kind": {"enum": ["person", "place", None]},
            "spellings": {"type": "array", "items": {"type": "string"}},
        },
    },
}
_PROVENANCE = {
    "type": "object",
    "required": ["kind", "model"],
    "description": "Where the English comes from: machine (model id), human (pre-translated), demo noise, or "
    "original (an English article)",
    "properties": {"kind": {"enum": list(PROVENANCE_KINDS)}, "model": _NULLABLE_STRING},
}
_WORD_ALIGNMENT = {
    "type": ["array", "null"],
    "description": "for each highlighted English span, the spans of the Arabic words it aligns to (character "
    "offsets into en and ar); null where the sentence has no word alignment (see alignment_absent)",
    "items": {
        "type": "object",
        "required": ["en", "ar"],
        "properties": {"en": _SPAN, "ar": {"type": "array", "items": _SPAN}},
    },
}
_HIT = {
    "type": "object",
    "required": ["id", "title", "title_en", "snippets", "sentences"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "title_en": {"type": "string"},
        "published": _NULLABLE_STRING,
        "source": _NULLABLE_STRING,
        "category": _NULLABLE_STRING,
        "url": _NULLABLE_STRING,
        "language": _NULLABLE_STRING,
        "translation_score": {"type": ["number", "null"]},
        "demo": {"type": "boolean"},
        "provenance": _PROVENANCE,
        "score": {"type": ["number", "null"]},
        "cluster_id": _CLUSTER_ID,
        "matched_by": {
            "type": "array",
            "items": {"enum": ["words", "meaning"]},
            "description": "how the article matched: the query's words (BM25), its meaning (sentence vectors), or both",
        },
        "cluster_size": {
            **_COUNT,
            "description": "collapsed searches: the story's articles, this one included, matching or not",
        },
        "cluster_members": {
            "type": "array",
            "description": "collapsed searches: the story's other articles (at most 10), oldest first",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}, "source": _NULLABLE_STRING, "published": _NULLABLE_STRING},
            },
        },
        "title_highlighted": {**_NULLABLE_STRING, "description": "the Arabic title with the query's words in <mark>"},
        "title_en_highlighted": {**_NULLABLE_STRING, "description": "the same for the English title"},
        "sentences_matched": {**_COUNT, "description": "sentences the query's words matched (the pairs: at most 10)"},
        "snippets": {
            "type": "object",
            "properties": {
                "ar": {"type": "array", "items": {"type": "string"}},
                "en": {"type": "array", "items": {"type": "string"}},
            },
        },
        "sentences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["position", "ar", "en"],
                "properties": {
                    "position": {"type": "integer"},
                    "field": {"enum": ["title", "body", None]},
                    "score": {"type": ["number", "null"]},
                    "matched": {"enum": ["ar", "en", "both"]},
                    "by": {"enum": ["words", "meaning"], "description": "found by the query's words or its meaning"},
                    "similarity": {"type": ["number", "null"], "description": "cosine to the query (by meaning)"},
                    "counterpart": {"enum": ["ar", "en", None], "description": "the side beside the match"},
                    "ar": {"type": "string"},
                    "en": {"type": "string"},
                    "ar_highlighted": {"type": "string"},
                    "en_highlighted": {"type": "string"},
                    "alignment": _WORD_ALIGNMENT,
                    "alignment_absent": {"type": "string", "description": "why alignment is null"},
                },
            },
        },
    },
}

ERROR_CODES = (
    "bad_request: the request breaks this document (the message names the field); otherwise, among "
    "others: malformed_json, invalid_utf8, too_deep, bad_query (the search syntax), out_of_range (page x "
    "size past the result window), reversed_dates (from after to), past_last_page (a search page past the "
    "last result), no_items (an empty upload), text_not_indexable (plain text sent to be indexed), "
    "bad_webhook_url (not an http(s) URL), webhook_refused (a private address not allow-listed), bad_date (`since` "
    "is not ISO 8601), unauthorized, forbidden, not_found, payload_too_large, unsupported_media_type, "
    "unprocessable, rate_limited, model_unavailable, search_unavailable"
)
RESPONSES = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string", "description": ERROR_CODES}, "message": {"type": "string"}},
            }
        },
    },
    "Translations": {
        "type": "object",
        "required": ["model", "demo", "translations"],
        "properties": {
            "model": {"type": "string"},
            "demo": {"type": "boolean", "description": "true: the generated demo model"},
            "translations": {"type": "array", "items": _TRANSLATION},
        },
    },
    "Detections": {
        "type": "object",
        "required": ["detections"],
        "properties": {"detections": {"type": "array", "items": DETECTION}},
    },
    "IngestReport": {
        "type": "object",
        "required": ["indexed", "unchanged", "rejected", "items"],
        "properties": {
            "indexed": _COUNT,
            "unchanged": _COUNT,
            "rejected": _COUNT,
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "id", "status"],
                    "properties": {
                        "index": _COUNT,
                        "id": _NULLABLE_STRING,
                        "status": {"enum": ["indexed", "unchanged", "rejected"]},
                        "reason": {"type": "string"},
                        "cluster_id": {**_CLUSTER_ID, "description": "indexed articles: the story cluster joined"},
                    },
                },
            },
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "title", "body", "title_en", "body_en", "sentences"],
        "description": "An indexed article with its sentence-aligned parallel text",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "body": {"type": "string"},
            "title_en": {"type": "string"},
            "body_en": {"type": "string"},
            "source": _NULLABLE_STRING,
            "url": _NULLABLE_STRING,
            "published": _NULLABLE_STRING,
            "category": _NULLABLE_STRING,
            "language": {"type": "string"},
            "model": _NULLABLE_STRING,
            "demo": {"type": "boolean"},
            "translation_score": {"type": "number"},
            "cluster_id": _CLUSTER_ID,
            "provenance": _PROVENANCE,
            "sentences": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["position", "ar", "en"],
                    "properties": {
                        "position": {"type": "integer"},
                        "field": {"enum": ["title", "body"]},
                        "paragraph": {"type": "integer"},
                        "start": {"type": "integer"},
                        "end": {"type": "integer"},
                        "score": {"type": "number"},
                        "ar": {"type": "string"},
                        "en": {"type": "string"},
                        "alignment": {"type": "string", "description": 'Pharaoh "i-j": word i of ar, word j of en'},
                    },
                },
            },
        },
    },
    "SearchResult": {
        "type": "object",
        "required": ["total", "hits", "facets"],
        "properties": {
            "total": {**_COUNT, "description": "articles that match"},
            "stories": {**_COUNT, "description": "collapsed searches: the story clusters among them (approximate)"},
            "hits": {"type": "array", "items": _HIT},
            "facets": {
                "type": "object",
                "properties": {"source": _FACET, "category": _FACET, "names": _NAME_FACET, "published": _FACET},
            },
            "collection_facets": {
                "type": "object",
                "description": "each facet's values in the whole collection, largest first (counts: facets)",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            "timeline": {
                "type": "object",
                "description": "facets.published counts by this interval (the finest that draws the results' span "
                "in at most 60 bars, whatever the dates chosen); first and last: the results' publication times",
                "properties": {
                    "interval": {"enum": ["day", "week", "month", "year", None]},
                    "first": _NULLABLE_STRING,
                    "last": _NULLABLE_STRING,
                },
            },
            "query": {
                "type": "object",
                "properties": {
                    "language": {"enum": ["ar", "en"]},
                    "searched": {
                        "type": "array",
                        "description": "every form of the query searched: the user's words, their translations, and "
                        "the spellings of its names that the collection uses (by: names; q_names replaces them)",
                        "items": {
                            "type": "object",
                            "required": ["lang", "text", "by"],
                            "properties": {
                                "lang": {"enum": ["ar", "en"]},
                                "text": {"type": "string"},
                                "by": {
                                    "enum": ["user", "machine", "names", "meaning"],
                                    "description": "names: the query's names in the collection's spellings; meaning: sentence vectors near the query's, in either language",
                                },
                            },
                        },
                    },
                    "not_searched": {
                        "type": "array",
                        "description": "sides the query could not be translated to, and why",
                        "items": {
                            "type": "object",
                            "required": ["lang", "why"],
                            "properties": {"lang": {"enum": ["ar", "en"]}, "why": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
    "Similar": {
        "type": "object",
        "required": ["article", "method", "encoder", "not_by_meaning", "hits"],
        "description": "An article's related coverage in either language, outside its own story, most similar first",
        "properties": {
            "article": {
                "type": "object",
                "required": ["id", "language", "cluster_id"],
                "properties": {
                    "id": {"type": "string"},
                    "title": _NULLABLE_STRING,
                    "title_en": _NULLABLE_STRING,
                    "language": {"enum": ["ar", "en"]},
                    "cluster_id": {"type": "string"},
                },
            },
            "method": {
                "enum": ["meaning", "words"],
                "description": "meaning: by sentence vectors, across the language line; words: OpenSearch's "
                "more_like_this on the English fields (no encoder, or no vectors of it in the index)",
            },
            "encoder": {**_NULLABLE_STRING, "description": "the encoder whose vectors were compared"},
            "not_by_meaning": {**_NULLABLE_STRING, "description": "why related articles were found by words"},
            "hits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "language", "cluster_id", "similarity", "why"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": _NULLABLE_STRING,
                        "title_en": _NULLABLE_STRING,
                        "published": _NULLABLE_STRING,
                        "source": _NULLABLE_STRING,
                        "category": _NULLABLE_STRING,
                        "url": _NULLABLE_STRING,
                        "language": _NULLABLE_STRING,
                        "cluster_id": _NULLABLE_STRING,
                        "similarity": {
                            "type": ["number", "null"],
                            "description": "by meaning: the mean, over the article's looked-up sentences, of the "
                            "best cosine with this one's sentences; null by words",
                        },
                        "why": {
                            "oneOf": [
                                {
                                    "type": "object",
                                    "required": ["sentence", "counterpart", "similarity"],
                                    "description": "the pair of sentences nearest in meaning, and their cosine",
                                    "properties": {
                                        "sentence": _SIMILAR_SENTENCE,
                                        "counterpart": _SIMILAR_SENTENCE,
                                        "similarity": {"type": "number"},
                                    },
                                },
                                {
                                    "type": "object",
                                    "required": ["by", "score"],
                                    "description": "found by shared words: more_like_this's score",
                                    "properties": {"by": {"const": "words"}, "score": {"type": ["number", "null"]}},
                                },
                            ]
                        },
                    },
                },
            },
        },
    },
    "Cluster": {
        "type": "object",
        "required": ["cluster_id", "size", "members"],
        "description": "A story: the articles whose bodies are near-duplicates, and the reports of an original in "
        "the other language (by their sentence vectors), oldest first",
        "properties": {
            "cluster_id": {"type": "string"},
            "size": {**_COUNT, "description": "all its articles (members lists at most 100)"},
            "members": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string"},
                        "source": _NULLABLE_STRING,
                        "published": _NULLABLE_STRING,
                        "url": _NULLABLE_STRING,
                        "title": _NULLABLE_STRING,
                        "title_en": _NULLABLE_STRING,
                        "language": _NULLABLE_STRING,
                    },
                },
            },
        },
    },
    "Job": {
        "type": "object",
        "required": ["id", "kind", "state", "counts", "created"],
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string"},
            "state": {"enum": list(JOB_STATES)},
            "reason": {**_NULLABLE_STRING, "description": "why a job is paused or failed (failed: every item failed)"},
            "options": {
                "type": "object",
                "description": "how the job runs, and what tells it apart on the jobs page",
                "properties": {
                    "index": {"type": "boolean"},
                    "beam_size": {"type": ["integer", "null"]},
                    "file_name": {"type": "string", "description": "the uploaded file's name (uploads only)"},
                    "key_label": {"type": "string", "description": "the submitting key's last four characters"},
                },
            },
            "counts": {
                "type": "object",
                "required": ["done", "failed", "total"],
                "properties": {"done": _COUNT, "failed": _COUNT, "total": _COUNT},
            },
            "tokens_per_second": {"type": "number"},
            "items_per_minute": {
                "type": "number",
                "description": "items done per minute of work; frozen once the job ends (a cancel included)",
            },
            "eta_seconds": {"type": ["integer", "null"]},
            "created": {"type": "number"},
            "started": {"type": ["number", "null"]},
            "finished": {"type": ["number", "null"]},
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs"],
        "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}},
    },
    "SubmittedJob": {
        "allOf": [
            {"$ref": "#/components/schemas/Job"},
            {
                "type": "object",
                "required": ["duplicate"],
                "properties": {
                    "duplicate": {"type": "boolean", "description": "true: an identical unfinished job exists"}
                },
            },
        ]
    },
}
NDJSON_LINES = {"type": "string", "description": "JSON Lines: one object per line"}

# Saved searches (alerts): the query and filters of a search, kept and matched against every article indexed after.
_QUERY_TEXT = {"type": "string", "pattern": NONBLANK, "maxLength": MAX_QUERY_CHARS}
_WATCH_QUERY = {"type": "string", "maxLength": MAX_QUERY_CHARS}  # blank: a watch (usecases.checked_wordings)
_FILTER_VALUES = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 200}, "maxItems": 50}
_DATE = {"type": ["string", "null"], "maxLength": 40, "description": "ISO 8601 (empty or null: no bound)"}
ALERT_FILTERS = {
    "type": "object",
    "additionalProperties": False,
    "description": "the search filters, named as /api/v1/search names them",
    "properties": {
        "lang": {"enum": list(LANGS), "default": "auto"},
        "source": _FILTER_VALUES,
        "category": _FILTER_VALUES,
        "name": _FILTER_VALUES,
        "from": _DATE,
        "to": _DATE,
        "q_en": {"type": ["string", "null"], "maxLength": MAX_QUERY_CHARS},
        "q_ar": {"type": ["string", "null"], "maxLength": MAX_QUERY_CHARS},
        "q_names": {"type": ["string", "null"], "maxLength": MAX_QUERY_CHARS},
    },
}
_ALERT_FIELDS = {
    "name": {"type": "string", "pattern": NONBLANK, "maxLength": 200},
    "query": {
        **_WATCH_QUERY,
        "description": 'the search syntax: words, "phrases", AND, OR, NOT, parentheses; matched by its words and, '
        "with a sentence encoder on, by its meaning, as search matches it. Empty: every new article its filters let "
        "through, which then need a source, category or name",
    },
    "filters": ALERT_FILTERS,
    "webhook_url": {
        "type": ["string", "null"],
        "maxLength": 2000,
        "description": "http(s) URL each new match is POSTed to, signed (null: none)",
    },
    "digest_email": {
        "type": ["string", "null"],
        "maxLength": 254,
        "description": "one e-mail address the alert's digest is mailed to (null: none); a key's alerts may use at "
        "most ALERT_DIGEST_ADDRESSES_PER_KEY distinct ones, at the domains of ALERT_DIGEST_DOMAINS (none when unset)",
    },
    "digest_cadence": {
        "enum": list(CADENCES),
        "description": "how often the digest of new matches is mailed (UTC hours or days); off: never. Nothing is "
        "mailed while the service has no SMTP_HOST (the answer's warning says so)",
    },
}
ALERT_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "query"],
    "properties": {
        **_ALERT_FIELDS,
        "backfill": {**FLAG, "description": "also list the articles already indexed that match, marked backfill"},
    },
}
ALERT_UPDATE = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "description": "the fields to change; the others stay",
    "properties": {
        **_ALERT_FIELDS,
        "paused": {"type": "boolean", "description": "true pauses the alert (it records no matches), false resumes it"},
    },
}
ALERT_ID = parameter("alert_id", "path", {"type": "string", "minLength": 1, "maxLength": 64}, "the alert's id")
MATCHES_PARAMETERS = [
    parameter(
        "since",
        "query",
        {"type": "string"},
        "only stories first matched after this instant: ISO 8601, YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM]",
    ),
    parameter("page", "query", {"type": "integer", "minimum": 1, "maximum": MAX_RESULT_WINDOW, "default": 1}, "page"),
    parameter(
        "size", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 20}, "stories a page"
    ),
]
_ALERT = {
    "type": "object",
    "required": ["id", "name", "query", "filters", "feed_token", "webhook_url", "created", "last_seen", "searched"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "query": {"type": "string"},
        "filters": {"type": "object"},
        "feed_token": {"type": "string", "description": "reads the alert's feed without an API key"},
        "webhook_url": _NULLABLE_STRING,
        "created": {"type": "string"},
        "last_seen": _NULLABLE_STRING,
        "paused": {"type": "boolean", "description": "paused by its owner: it records no matches until resumed"},
        "digest_email": _NULLABLE_STRING,
        "digest_cadence": {"enum": list(CADENCES)},
        "warning": {"type": "string", "description": "saved, but today's news will not match it (a past “to” date)"},
        "watching": {
            **_NULLABLE_STRING,
            "description": "an alert without words: its filters in words (“Every new article from BBC Arabic”)",
        },
        "searched": {
            "type": "array",
            "description": "the query wordings matched: the user's words, their machine translation and the "
            "spellings of its names (by: names), made at save time",
            "items": {"type": "object", "properties": {"lang": {"enum": ["en", "ar"]}, "text": {"type": "string"}}},
        },
    },
}
_STORY_MATCH = {
    "type": "object",
    "required": ["id", "alert_id", "story_id", "article_ids", "outlets", "matched_at", "backfill"],
    "properties": {
        "id": {"type": "string"},
        "alert_id": {"type": "string"},
        "story_id": _CLUSTER_ID,
        "article_ids": {"type": "array", "items": {"type": "string"}},
        "outlets": {"type": "array", "items": {"type": "string"}},
        "title_en": {"type": "string"},
        "title_ar": {"type": "string"},
        "url_article_id": {"type": "string", "description": "the article to link to (the first matched)"},
        "published": _NULLABLE_STRING,
        "matched_at": {"type": "string"},
        "backfill": {"type": "boolean", "description": "listed at creation from articles already indexed"},
        "snippet": {
            "type": "object",
            "description": "the sentence pair that matched, kept when it matched: the Arabic, its English, and "
            "whether the alert's words or its meaning found it (lead: an alert without words shows the first pair)",
            "properties": {
                "ar": {"type": "string"},
                "en": {"type": "string"},
                "by": {"enum": ["words", "meaning", "lead"]},
            },
        },
        "webhook": {
            "type": "object",
            "description": "the webhook delivery, when the alert has a webhook: pending (retried with back-off), "
            "delivered, failed (given up after ALERT_WEBHOOK_GIVE_UP_HOURS; last_error says why), or dropped "
            "(the alert was paused before it went out)",
            "properties": {
                "state": {"enum": ["pending", "delivered", "failed", "dropped"]},
                "attempts": _COUNT,
                "next_attempt": {"type": "string"},
                "delivered_at": _NULLABLE_STRING,
                "last_error": _NULLABLE_STRING,
            },
        },
    },
}
RESPONSES.update(
    {
        "Alert": _ALERT,
        "CreatedAlert": {
            **_ALERT,
            "properties": {
                **_ALERT["properties"],
                "webhook_secret": {"type": "string", "description": "signs the webhook's POSTs; shown this once"},
                "backfilled": {**_COUNT, "description": "stories listed from articles already indexed"},
            },
        },
        "AlertList": {
            "type": "object",
            "required": ["alerts"],
            "properties": {"alerts": {"type": "array", "items": _ALERT}},
        },
        "AlertMatches": {
            "type": "object",
            "required": ["total", "page", "size", "matches"],
            "properties": {
                "total": _COUNT,
                "page": {"type": "integer"},
                "size": {"type": "integer"},
                "matches": {"type": "array", "items": _STORY_MATCH},
            },
        },
    }
)
