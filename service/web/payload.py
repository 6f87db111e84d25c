"""Reading request bodies strictly: content type, size, UTF-8, Unicode, nesting depth, JSON syntax, each with its 4xx;
and draining what the app left unread, so clients still sending a body can read the answer."""

from __future__ import annotations

import json
from typing import IO

from flask import Request, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_content_length

from service.files import lone_surrogate, strict_json
from service.web.errors import ApiError

MAX_DEPTH = 32
DRAIN_BYTES = 64 * 1024 * 1024  # unread body read and discarded before answering; past it the connection closes
DRAIN_CHUNK = 256 * 1024


def nesting_depth(text: str, limit: int) -> int:
    """Deepest [ / { nesting outside strings, stopping early once past limit."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def json_body(max_bytes: int):
    """The request's JSON document, or an ApiError with the right status."""
    if request.mimetype != "application/json":
        raise ApiError(415, "send the body as application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(413, f"the body exceeds {max_bytes} bytes")
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:  # a chunked body, with no length to check first
        raise ApiError(413, f"the body exceeds {max_bytes} bytes") from None
    if len(raw) > max_bytes:
        raise ApiError(413, f"the body exceeds {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the body is not valid UTF-8 (byte {error.start})", "invalid_utf8") from None
    if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
        raise ApiError(400, f"the JSON is nested deeper than {MAX_DEPTH} levels", "too_deep")
    try:
        body = strict_json(text)
    except json.JSONDecodeError as error:
        raise ApiError(
            400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}", "malformed_json"
        ) from None
    except ValueError as error:  # NaN, Infinity, an overflowing or over-long number
        raise ApiError(400, f"malformed JSON: {error}", "malformed_json") from None
    _reject_lone_surrogates(body)
    return body


def _reject_lone_surrogates(value) -> None:
    where = lone_surrogate(value)
    if where:
        raise ApiError(400, f"invalid Unicode: a lone surrogate at {where}", "invalid_unicode")


def form_or_json(max_bytes: int) -> dict:
    """LibreTranslate clients send JSON or form fields; accept both."""
    if request.mimetype == "application/json":
        body = json_body(max_bytes)
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields = {key: (values if len(values) > 1 else values[0]) for key, values in request.form.lists()}
        _reject_lone_surrogates(fields)  # werkzeug decodes with replacement characters; checked all the same
        return fields
    raise ApiError(415, "send application/json or form fields")


UPLOAD_ENDPOINTS = ("jobs.submit", "ui.ingest_page")  # the only routes that take files


def limit_bodies(app, max_request_bytes: int, max_upload_bytes: int) -> None:
    """Every body, JSON or form, is held to MAX_REQUEST_BYTES, and uploads to MAX_UPLOAD_BYTES (413 past them).

    Registered before the rate limiter, whose key check may read a form's api_key field.
    """

    @app.before_request
    def set_body_limit():
        upload = request.endpoint in UPLOAD_ENDPOINTS
        request.max_content_length = max_upload_bytes if upload else max_request_bytes


class BodyLimit(LimitedStream):
    """A body held to limit bytes: RequestEntityTooLarge (413) once a byte past them arrives, and on every read after.

    werkzeug's stream for a body of unknown length (chunked) stops at the limit without a word when asked for all of
    it, so the first limit bytes were taken for the whole body: cut, and processed.
    """

    def __init__(self, stream: IO[bytes], limit: int):
        super().__init__(stream, limit, is_max=True)
        self._source = stream
        self._overflowed = False

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data

    def on_exhausted(self) -> None:
        self._overflowed = self._overflowed or bool(self._source.read(1))
        if self._overflowed:
            raise RequestEntityTooLarge()


class BoundedRequest(Request):
    """Flask's request, reading a body the server ends itself (chunked, or a Content-Length) through BodyLimit."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if limit is None or "wsgi.input_terminated" not in self.environ:
            return super().stream  # werkzeug reads up to the Content-Length, or nothing at all
        if self.content_length is not None and self.content_length > limit:
            raise RequestEntityTooLarge()
        return BodyLimit(self.input_stream, limit)


class DrainUnreadBody:
    """WSGI middleware: before the answer goes out, read and discard the body the app left unread (up to limit bytes).

    A server that answers early (413, 401, ...) and closes with the client still sending makes the client fail
    on a broken pipe instead of reading the answer; Python's urllib, which LibreTranslate's client uses, does.
    A body larger than limit is left alone and the server closes the connection.
    """

    def __init__(self, app, limit: int = DRAIN_BYTES):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        length = get_content_length(environ)
        if length is None and not environ.get("wsgi.input_terminated"):
            return self.app(environ, start_response)  # no length and no end marker: reading on could block
        if length is not None:  # so that reading the rest stops at the body's end
            environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], length)
        body = environ["wsgi.input"]

        def start(status, headers, exc_info=None):
            drain(body, length, self.limit)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def drain(body, length: int | None, limit: int) -> None:
    """Read what is left of body and discard it, unless more than limit bytes are left."""
    if length is not None and length - body.tell() > limit:
        return
    try:
        left = limit
        while left > 0 and (chunk := body.read(min(DRAIN_CHUNK, left))):
            left -= len(chunk)
    except Exception:
        return
