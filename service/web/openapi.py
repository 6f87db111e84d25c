"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json with a readable page at /api/v1/docs.

tests/test_web_api.py checks that every /api/v1 route is described here, and nothing more.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template

bp = Blueprint("apidocs", __name__)

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_KEY = [{"apiKey": []}]


def _op(summary: str, *, body: str | None = None, params: list | None = None, secured: bool = False,
        statuses: tuple[int, ...] = (400, 413, 415, 422, 429, 503), ok: str = "200") -> dict:
    operation = {"summary": summary, "responses": {ok: {"description": "OK"}, **{str(s): _ERROR for s in statuses}}}
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if params:
        operation["parameters"] = params
    if secured:
        operation["security"] = _KEY
        operation["responses"].update({"401": _ERROR, "403": _ERROR})
    return operation


def _query(name: str, description: str, kind: str = "string", many: bool = False) -> dict:
    schema = {"type": "array", "items": {"type": kind}} if many else {"type": kind}
    return {"name": name, "in": "query", "description": description, "schema": schema}


_ID = {"name": "article_id", "in": "path", "required": True, "schema": {"type": "string"}}
_JOB = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "string"}}

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Arabic→English news translation and search", "version": "1"},
    "components": {
        "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                       "description": "One of API_KEYS; also accepted as X-API-Key."}},
        "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}}}}},
            "Texts": {"type": "object", "description": "`text` or `texts`", "properties": {
                "text": {"type": "string"}, "texts": {"type": "array", "items": {"type": "string"}},
                "source": {"enum": ["auto", "ar"]}, "beam_size": {"type": "integer", "minimum": 1, "maximum": 16}}},
            "Articles": {"description": "One article or a list: {id, title, body, source, date, category, url}",
                         "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
        },
    },
    "paths": {
        "/api/v1/translate": {"post": _op("Translate texts; each comes back with sentence pairs (source, target, "
                                          "score), the detected language and the model id.", body="Texts")},
        "/api/v1/detect": {"post": _op("Detect the language of texts.", body="Texts")},
        "/api/v1/articles": {"post": _op("Translate and index articles, idempotently by id; returns each "
                                         "item's id and status (indexed, unchanged, rejected).",
                                         body="Articles", secured=True)},
        "/api/v1/articles/{article_id}": {
            "get": _op("An article with its sentence-aligned parallel text; format=json, tsv or tmx (TMX 1.4b).",
                       params=[_ID, _query("format", "json, tsv or tmx")], statuses=(400, 404, 429, 503)),
            "delete": _op("Delete an article.", params=[_ID], secured=True, statuses=(404, 429, 503), ok="204"),
        },
        "/api/v1/search": {"get": _op(
            "Search in English or Arabic: hits with aligned sentence pairs, the total and facets.",
            params=[_query("q", "words, \"phrases\", AND, OR, NOT, parentheses"),
                    _query("lang", "auto, en or ar"), _query("source", "filter", many=True),
                    _query("category", "filter", many=True), _query("from", "published on or after"),
                    _query("to", "published on or before"), _query("sort", "relevance or date"),
                    _query("size", "hits per page (1-100)", "integer"), _query("page", "page number", "integer")],
            statuses=(400, 429, 503))},
        "/api/v1/jobs": {
            "post": _op("Submit a bulk job: a multipart `file` (JSONL articles or plain text, one item per line) or a "
                        "JSON list of texts or articles; options `index` and `beam_size`. 202 once stored durably; "
                        "200 with the existing job for a duplicate submission.", body="Articles", secured=True,
                        ok="202"),
            "get": _op("All jobs, newest first.", statuses=(429,)),
        },
        "/api/v1/jobs/{job_id}": {
            "get": _op("A job's state (queued, running, paused with a reason, done, failed, cancelled), counts, "
                       "tokens/s and ETA.", params=[_JOB], statuses=(404, 429)),
            "delete": _op("Cancel a job.", params=[_JOB], secured=True, statuses=(404, 429)),
        },
        "/api/v1/jobs/{job_id}/results": {"get": _op("The parallel text as JSONL, in input order, streamed.",
                                                     params=[_JOB], statuses=(404, 429))},
        "/api/v1/jobs/{job_id}/errors": {"get": _op("Failed items as JSONL: {line, error}.", params=[_JOB],
                                                    statuses=(404, 429))},
        "/api/v1/openapi.json": {"get": _op("This document.", statuses=())},
        "/api/v1/docs": {"get": _op("This document as a page.", statuses=())},
    },
}


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(SPEC)


@bp.get("/api/v1/docs")
def docs():
    return render_template("apidocs.html", spec=SPEC)
