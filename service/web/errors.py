"""Every error as JSON, {"error": {"code", "message"}} (LibreTranslate's routes: {"error": "..."}); HTML for pages.

No stack trace ever reaches a client: unexpected exceptions are logged and answered with a 500.
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Flask, jsonify, render_template, request
from opensearchpy.exceptions import NotFoundError, TransportError
from werkzeug.exceptions import HTTPException

from service import sqlite
from service.errors import SearchUnavailable, ServiceError
from service.index.bulk import is_outage

log = logging.getLogger(__name__)
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
    507: "insufficient_storage",
}


class ApiError(ServiceError):
    """An error a view raises with its own HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code or CODES.get(status, "error")


# By path too: a request that matched no route (a 404, or a 405 for the wrong method) has no blueprint.
LIBRE_PATHS = ("/translate", "/detect", "/languages")
JSON_PATHS = ("/healthz", "/readyz", "/metrics")


def _is_libre() -> bool:
    return request.blueprint == "libre" or request.path in LIBRE_PATHS


def _wants_json() -> bool:
    return (
        request.blueprint in ("api", "libre", "health", "feeds")
        or request.path.startswith("/api/")
        or request.path in JSON_PATHS
    )


def is_search_outage(error: Exception) -> bool:
    """The search index unreachable or refusing for now: what a page words as "search is down for a moment"."""
    return isinstance(error, SearchUnavailable) or (isinstance(error, TransportError) and is_outage(error))


def error_response(status: int, message: str, code: str | None = None):
    if _is_libre():
        return jsonify({"error": message}), status
    if _wants_json():
        return jsonify({"error": {"code": code or CODES.get(status, "error"), "message": message}}), status
    # a page down for a moment offers to try again, and says what still works
    retry = request.full_path.rstrip("?") if status == 503 and request.method == "GET" else None
    search_down = code == SearchUnavailable.code
    return render_template("error.html", status=status, message=message, retry=retry, search_down=search_down), status


def _no_such_page() -> str:
    if _wants_json() and not _is_libre():
        return f"there is no API endpoint at {request.path}: the endpoints are listed at /api/v1/openapi.json"
    return f"There is no page at {request.path}. Search the news from here, or start again from the front page."


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        if error.status == 500:  # not the client's to fix
            return unexpected(error)
        if error.log_level is not None:
            log.log(error.log_level, "%s", error)
        body, status = error_response(error.status, error.client_message or str(error), error.code)
        return body, status, error.response_headers()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 404:  # no route: our own words, not werkzeug's stock text
            return error_response(404, _no_such_page())
        body, status = error_response(error.code or 500, error.description or error.name)
        # werkzeug's own headers describe its HTML page, except Allow, which a 405 must carry (RFC 9110)
        return body, status, [(name, value) for name, value in error.get_headers() if name == "Allow"]

    @app.errorhandler(NotFoundError)
    def not_found(error):
        return error_response(404, "not found")

    @app.errorhandler(TransportError)
    def cluster_error(error: TransportError):
        """The cluster unreachable, or an outage's answer (429/502/503/504, a closed or blocked index), from a call
        made without retries."""
        return service_error(SearchUnavailable(str(error))) if is_outage(error) else unexpected(error)

    @app.errorhandler(sqlite3.OperationalError)
    def storage_error(error: sqlite3.OperationalError):
        if not sqlite.disk_full(error):
            return unexpected(error)
        log.error("%s %s: %s", request.method, request.path, error)
        # SQLite rolled the transaction back: what was stored before is whole, and this request left nothing
        return error_response(507, "no space left to store this; nothing was stored, try again later")

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error; it has been logged")
