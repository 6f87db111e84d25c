"""Reading request bodies strictly: content type, size, UTF-8, nesting depth, JSON syntax, each with its 4xx."""
from __future__ import annotations

import json

from flask import request

from service.web.errors import ApiError

MAX_DEPTH = 32


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
    raw = request.get_data(cache=True)
    if len(raw) > max_bytes:
        raise ApiError(413, f"the body exceeds {max_bytes} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the body is not valid UTF-8 (byte {error.start})", "invalid_utf8") from None
    if nesting_depth(text, MAX_DEPTH) > MAX_DEPTH:
        raise ApiError(400, f"the JSON is nested deeper than {MAX_DEPTH} levels", "too_deep")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}",
                       "malformed_json") from None


def form_or_json(max_bytes: int) -> dict:
    """LibreTranslate clients send JSON or form fields; accept both."""
    if request.mimetype == "application/json":
        body = json_body(max_bytes)
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        return body
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {key: (values if len(values) > 1 else values[0]) for key, values in request.form.lists()}
    raise ApiError(415, "send application/json or form fields")
