"""API keys, compared in constant time, and per-key rate limits (flask-limiter)."""
from __future__ import annotations

import functools
import hashlib
import hmac

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from service.web.errors import ApiError
from service.web.payload import json_body


def presented_key() -> str | None:
    """The key from `Authorization: Bearer`, `X-API-Key`, or an `api_key` field (LibreTranslate)."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if request.headers.get("X-API-Key"):
        return request.headers["X-API-Key"].strip()
    if request.mimetype == "application/json":
        try:  # the strict parser: a hostile body is a 4xx in the view, never a crash here
            body = json_body(current_app.extensions["mt"].settings.max_request_bytes)
        except ApiError:
            body = None
        value = body.get("api_key") if isinstance(body, dict) else None
    else:
        value = request.values.get("api_key")
    return value if isinstance(value, str) and value else None


def key_is_valid(key: str, keys: tuple[str, ...]) -> bool:
    """Whether key is one of keys; every comparison runs, in constant time, whatever matches."""
    matched = False
    for candidate in keys:
        matched |= hmac.compare_digest(key.encode("utf-8"), candidate.encode("utf-8"))
    return matched


def current_owner() -> str | None:
    """The owner of this request's jobs: a hash of its key when the key is valid (never the key), else None."""
    key = presented_key()
    if key is None or not key_is_valid(key, current_app.extensions["mt"].settings.api_keys):
        return None
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def check_key(write: bool) -> None:
    settings = current_app.extensions["mt"].settings
    if not (write or settings.read_requires_key):
        return
    if not settings.api_keys:
        raise ApiError(403, "this endpoint needs an API key, and none is configured (set API_KEYS)")
    key = presented_key()
    if key is None:
        raise ApiError(401, "an API key is required: send `Authorization: Bearer KEY`")
    if not key_is_valid(key, settings.api_keys):
        raise ApiError(403, "the API key is not valid")


def requires_key(write: bool):
    """Decorator: the view needs a valid key (write endpoints), or does when reads are keyed."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            check_key(write)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def _rate_key() -> str:
    key = presented_key()
    return f"key:{key}" if key else f"addr:{get_remote_address()}"


def init_limiter(app, rate_limit: str) -> Limiter:
    limiter = Limiter(_rate_key, app=app, default_limits=[] if rate_limit == "off" else [rate_limit],
                      storage_uri="memory://", headers_enabled=True)
    return limiter
