"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json with a readable page at /api/v1/docs.

Built per app from its settings and from the schemas the views validate with (service/web/schemas.py), so the
limits and the keys it asks for are this server's. tests/test_web_api.py checks that every
/api/v1 route is described here, and nothing more; tests/test_fuzz.py runs schemathesis against it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from service.config import Settings
from service.web import schemas
from service.web.services import app_services

bp = Blueprint("apidocs", __name__)

ERRORS = {
    400: "The request is malformed or invalid: the message says which field and why",
    401: "An API key is needed and none was sent",
    403: "The API key is not valid, or no keys are configured",
    404: "No such resource",
    409: "Changed by another request meanwhile (an alert being updated): read it again and retry",
    413: "Over a configured limit (body size, texts, characters, articles)",
    415: "The body is not application/json (or multipart/form-data for an upload)",
    422: "Well-formed but unusable: a blank text, or one that is neither Arabic nor English",
    429: "Too many requests (RATE_LIMIT), failed key checks or unfinished jobs (MAX_ACTIVE_JOBS)",
    503: "The translation model is not installed, or the search cluster, the job store or its broker is unreachable",
    507: "No space left to store it (the job store's disk is full); nothing was stored",
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer KEY`, KEY one of API_KEYS"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "the same key as a header"},
}
KEYED = [{"bearer": []}, {"apiKey": []}]  # alternatives: either header will do
JSON = "application/json"
NDJSON = "application/x-ndjson"
TEXT_FORMATS = ("text/tab-separated-values", "application/x-tmx+xml")  # an article's parallel text, or a job's


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: dict, media: str = JSON) -> dict:
    return {media: {"schema": schema}}


class _OperationBuilder:
    """Builds operations for one app: which of them need a key follows its settings."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def __call__(
        self,
        summary: str,
        ok: dict,
        errors: tuple[int, ...] = (),
        *,
        key: str | None = None,
        body: dict | None = None,
        parameters: list | None = None,
    ) -> dict:
        """ok: {status: (description, content or None)}; key: "write", "private" (reads of what belongs to a key),
        "read" (keyed when READ_REQUIRES_KEY is on) or None (no key checked)."""
        keyed = key in ("write", "private") or (key == "read" and self.settings.read_requires_key)
        # 429 whatever RATE_LIMIT says: failed key checks and unfinished jobs are limited too
        statuses = set(errors) | {429} | ({401, 403} if keyed else set())
        responses = {
            str(status): {"description": description, **({"content": content} if content else {})}
            for status, (description, content) in ok.items()
        }
        responses.update(
            {
                str(status): {"description": ERRORS[status], "content": _content(_ref("Error"))}
                for status in sorted(statuses)
            }
        )
        operation = {"summary": summary, "responses": responses}
        if parameters:
            operation["parameters"] = parameters
        if body:
            operation["requestBody"] = {"required": True, "content": body}
        if keyed:
            operation["security"] = KEYED
        return operation


def build(settings: Settings) -> dict:
    """The document for an app with these settings."""
    operation = _OperationBuilder(settings)
    body_errors = (400, 413, 415)
    article_formats = {
        JSON: {"schema": _ref("Article")},
        "text/tab-separated-values": {
            "schema": {
                "type": "string",
                "description": "position, field, paragraph, score, Arabic, English, source, published, url",
            }
        },
        "application/x-tmx+xml": {"schema": {"type": "string", "description": "TMX 1.4b"}},
    }
    job = ("The job", _content(_ref("Job")))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Arabic→English news translation and search",
            "version": "1",
            "description": 'Errors are JSON: {"error": {"code", "message"}}. A method a path does not '
            "list answers 405 with an Allow header. Limits are this server's settings.",
        },
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "schemas": {
                **schemas.RESPONSES,
                "TranslateRequest": schemas.texts_request(settings, decoding=True),
                "DetectRequest": schemas.texts_request(settings, decoding=False),
                "ArticlesRequest": schemas.articles_request(settings),
                "JobRequest": schemas.JOB_JSON_REQUEST,
                "JobUpload": schemas.JOB_UPLOAD_REQUEST,
            },
        },
        "paths": {
            "/api/v1/translate": {
                "post": operation(
                    "Translate texts; each comes back with sentence pairs (source, target, score), the detected "
                    "language and the model id.",
                    {200: ("Translations", _content(_ref("Translations")))},
                    (*body_errors, 422, 503),
                    key="read",
                    body=_content(_ref("TranslateRequest")),
                )
            },
            "/api/v1/detect": {
                "post": operation(
                    "Detect the language of texts.",
                    {200: ("Detections", _content(_ref("Detections")))},
                    (*body_errors, 422),
                    key="read",
                    body=_content(_ref("DetectRequest")),
                )
            },
            "/api/v1/articles": {
                "post": operation(
                    "Translate and index articles, idempotently by id; returns each item's id and status (indexed, "
                    "unchanged, or rejected with its reason).",
                    {200: ("What happened to each article", _content(_ref("IngestReport")))},
                    (*body_errors, 503),
                    key="write",
                    body=_content(_ref("ArticlesRequest")),
                )
            },
            "/api/v1/articles/{article_id}": {
                "get": operation(
                    "An article with its sentence-aligned parallel text, as JSON, TSV or TMX.",
                    {200: ("The article", article_formats)},
                    (400, 404, 503),
                    key="read",
                    parameters=[schemas.ARTICLE_ID, schemas.EXPORT_FORMAT, schemas.EXPORT_DOWNLOAD],
                ),
                "delete": operation(
                    "Delete an article.",
                    {204: ("Deleted", None)},
                    (404, 503),
                    key="write",
                    parameters=[schemas.ARTICLE_ID],
                ),
            },
            "/api/v1/articles/{article_id}/similar": {
                "get": operation(
                    "More like this: related articles in either language, outside the article's own story, each "
                    "with the sentence pair that matched and its similarity (by words when there are no vectors).",
                    {200: ("Related articles", _content(_ref("Similar")))},
                    (400, 404, 503),
                    key="read",
                    parameters=[schemas.ARTICLE_ID, schemas.SIMILAR_SIZE],
                )
            },
            "/api/v1/search": {
                "get": operation(
                    "Search in English or Arabic: hits with aligned sentence pairs, the total and facets "
                    "(or, with format=csv, every hit as CSV, at most 10,000 rows).",
                    {
                        200: (
                            "Hits and facets",
                            {
                                **_content(_ref("SearchResult")),
                                "text/csv": {"schema": {"type": "string", "description": "one row per hit"}},
                            },
                        )
                    },
                    (400, 503),
                    key="read",
                    parameters=[*schemas.SEARCH_PARAMETERS, schemas.SEARCH_FORMAT],
                )
            },
            "/api/v1/clusters/{cluster_id}": {
                "get": operation(
                    "A story cluster's articles (near-duplicate wire stories), oldest first.",
                    {200: ("The story", _content(_ref("Cluster")))},
                    (404, 503),
                    key="read",
                    parameters=[schemas.CLUSTER_ID],
                )
            },
            "/api/v1/jobs": {
                "post": operation(
                    "Submit a bulk job: a multipart `file` (JSONL articles or plain text, one item per line) "
                    "with form fields `index` and `beam_size`, or a JSON list of texts or articles with them "
                    "in the query string. Bad items fail alone, with their line numbers (see /errors).",
                    {
                        202: ("Stored durably and queued", _content(_ref("SubmittedJob"))),
                        200: ("An identical unfinished job exists: that job", _content(_ref("SubmittedJob"))),
                    },
                    (400, 413, 415, 503, 507),
                    key="write",
                    parameters=schemas.JOB_OPTIONS,
                    body={JSON: {"schema": _ref("JobRequest")}, "multipart/form-data": {"schema": _ref("JobUpload")}},
                ),
                "get": operation(
                    "The jobs of the caller's key (every job for an admin key), newest first.",
                    {200: ("Jobs", _content(_ref("JobList")))},
                    key="private",
                ),
            },
            "/api/v1/jobs/{job_id}": {
                "get": operation(
                    "A job's state (queued, running, paused with a reason, done, failed, cancelled), counts, "
                    "tokens/s and ETA.",
                    {200: job},
                    (404,),
                    key="private",
                    parameters=[schemas.JOB_ID],
                ),
                "delete": operation(
                    "Cancel a job; answers its state.", {200: job}, (404,), key="write", parameters=[schemas.JOB_ID]
                ),
            },
            "/api/v1/jobs/{job_id}/results": {
                "get": operation(
                    "The done items' results as JSON Lines (or, with format=csv, CSV; tsv or tmx, their parallel "
                    "text), in input order, streamed.",
                    {
                        200: (
                            "One translated item (the translation JSON shape) per line",
                            {
                                **_content(schemas.NDJSON_LINES, NDJSON),
                                "text/csv": {"schema": {"type": "string", "description": "one row per item"}},
                                **{media: article_formats[media] for media in TEXT_FORMATS},
                            },
                        )
                    },
                    (404,),
                    key="private",
                    parameters=[schemas.JOB_ID, schemas.JOB_RESULTS_FORMAT],
                )
            },
            "/api/v1/jobs/{job_id}/errors": {
                "get": operation(
                    "The failed items as JSON Lines: {line, error}.",
                    {200: ("One failed item per line", _content(schemas.NDJSON_LINES, NDJSON))},
                    (404,),
                    key="private",
                    parameters=[schemas.JOB_ID],
                )
            },
            **_alert_paths(operation),
            "/api/v1/openapi.json": {
                "get": operation("This document.", {200: ("OpenAPI 3.1", _content({"type": "object"}))})
            },
            "/api/v1/docs": {
                "get": operation("This document as a page.", {200: ("HTML", _content({"type": "string"}, "text/html"))})
            },
        },
    }


def _alert_paths(operation: _OperationBuilder) -> dict:
    """The saved searches (alerts) of the caller's key, and their matches."""
    alert = ("The alert", _content(_ref("Alert")))
    with_id = [schemas.ALERT_ID]
    body_errors = (400, 413, 415, 422)
    return {
        "/api/v1/alerts": {
            "post": operation(
                "Save a search as an alert: the query and filters of /api/v1/search (translated now, as search "
                "translates it), matched against every article indexed from now on; with backfill, the articles "
                "already indexed that match are listed too, marked backfill.",
                {201: ("The alert, with its webhook secret (shown this once)", _content(_ref("CreatedAlert")))},
                (*body_errors, 429, 503),
                key="write",
                body=_content(schemas.ALERT_REQUEST),
            ),
            "get": operation(
                "The caller's alerts, newest first.", {200: ("Alerts", _content(_ref("AlertList")))}, key="private"
            ),
        },
        "/api/v1/alerts/{alert_id}": {
            "get": operation("An alert.", {200: alert}, (404,), key="private", parameters=with_id),
            "patch": operation(
                "Change an alert's name, query, filters or webhook; the others stay.",
                {200: alert},
                (*body_errors, 404, 409, 503),
                key="write",
                parameters=with_id,
                body=_content(schemas.ALERT_UPDATE),
            ),
            "delete": operation(
                "Delete an alert and its matches.", {204: ("Deleted", None)}, (404,), key="write", parameters=with_id
            ),
        },
        "/api/v1/alerts/{alert_id}/matches": {
            "get": operation(
                "The alert's matches, one per story, newest first, paged; `since` keeps those after an instant.",
                {200: ("Matches", _content(_ref("AlertMatches")))},
                (400, 404),
                key="private",
                parameters=[*with_id, *schemas.MATCHES_PARAMETERS],
            )
        },
        "/api/v1/alerts/{alert_id}/seen": {
            "post": operation(
                "Mark the alert's matches seen now (the Alerts page counts new matches from its owner's last visit).",
                {200: alert},
                (404,),
                key="write",
                parameters=with_id,
            )
        },
    }


def document() -> dict:
    """The current app's document, built once."""
    if "mt_openapi" not in current_app.extensions:
        current_app.extensions["mt_openapi"] = build(app_services().settings)
    return current_app.extensions["mt_openapi"]


@bp.get("/api/v1/openapi.json")
def openapi():
    return jsonify(document())


@bp.get("/api/v1/docs")
def docs():
    return render_template("apidocs.html", spec=document())
