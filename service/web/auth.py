"""API keys, compared in constant time, and rate limits (flask-limiter): per valid key, else per client address.

A presented key is checked once per request. A key that is not valid never names a bucket (so invented keys
cannot escape the address's limit) and counts as a failed check against the address; past
RATE_LIMIT_FAILED_KEYS every keyed request from that address is a 429, so keys cannot be guessed at speed.
A request that presents no key may still come from a browser signed in with one, or through single sign-on
(web/sessions.py): its cookie stands for the key, or the user, it was made from.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from dataclasses import dataclass, field

from flask import current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse as parse_limit
from werkzeug.exceptions import HTTPException

from service.translation.memory import fail_fast
from service.web.errors import ApiError
from service.web.payload import json_body
from service.web.services import app_services
from service.web.sessions import session_key, session_user

FAILED_KEYS_SCOPE = "failed-key-checks"
STORAGE_TIMEOUT_SECONDS = 0.5  # a Redis slower than this: counted in this process for a while (init_limiter)


def presented_key() -> str | None:
    """The key from `Authorization: Bearer`, `X-API-Key`, or an `api_key` body field (LibreTranslate).

    Never from the query string: URLs end up in logs, histories and Referer headers.
    """
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    if request.headers.get("X-API-Key"):
        return request.headers["X-API-Key"].strip()
    if request.mimetype == "application/json":
        try:  # the strict parser: a hostile body is a 4xx in the view, never a crash here
            body = json_body(app_services().settings.max_request_bytes)
        except ApiError:
            body = None
        value = body.get("api_key") if isinstance(body, dict) else None
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:  # an oversized or broken form is the view's 4xx; raised here, the limiter would blame its storage
            value = request.form.get("api_key")
        except HTTPException:
            value = None
    else:
        value = None
    return value if isinstance(value, str) and value else None


def key_is_valid(key: str, keys: tuple[str, ...]) -> bool:
    """Whether key is one of keys; every comparison runs, in constant time, whatever matches."""
    matched = False
    for candidate in keys:
        matched |= hmac.compare_digest(key.encode("utf-8"), candidate.encode("utf-8"))
    return matched


def key_digest(key: str) -> str:
    """A stable name for a key that does not reveal it (rate-limit buckets, logs)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Caller:
    """Who sent this request: the rate-limit bucket, what became of the presented key, and whose it is."""

    bucket: str
    key_state: str  # none, valid, invalid, or locked (the address is past its failed-check limit)
    key: str | None = field(default=None, repr=False)  # the valid key, presented or signed in with
    owner: str | None = None  # whose jobs and alerts these are: a valid key's or a signed-in user's


def caller() -> Caller:
    """This request's Caller, worked out once per request (the limiter and the key check both ask)."""
    if "mt_caller" not in g:
        g.mt_caller = _identify()
    return g.mt_caller


def _identify() -> Caller:
    address = f"addr:{get_remote_address()}"
    key = presented_key()
    if key is None:
        return _signed_in() or Caller(address, "none")
    failed = current_app.extensions["mt_failed_keys"]
    if failed is not None and not _strategy().test(failed, FAILED_KEYS_SCOPE, address):
        return Caller(address, "locked")  # not even compared: a right guess must look like a wrong one
    if key_is_valid(key, app_services().settings.api_keys):
        return Caller(f"key:{key_digest(key)}", "valid", key, owner_of_key(key))
    if failed is not None:
        _strategy().hit(failed, FAILED_KEYS_SCOPE, address)
    return Caller(address, "invalid")


def _signed_in() -> Caller | None:
    """The Caller a browser's sign-in stands for (its key, or its single-sign-on user), if it signed in."""
    key = session_key()
    if key is not None:
        return Caller(f"key:{key_digest(key)}", "valid", key, owner_of_key(key))
    user = session_user()
    if user is not None:
        return Caller(f"user:{key_digest(user)}", "valid", None, owner_of_user(user))
    return None


def _strategy():
    return current_app.extensions["mt_limiter"].limiter


def current_owner() -> str | None:
    """The owner of this request's jobs: a hash of its key when the key is valid (never the key), or of its
    signed-in user; else None."""
    return caller().owner


def request_key() -> str | None:
    """The valid key this request came with, presented or signed in with; None otherwise."""
    return caller().key


def owner_of_key(key: str) -> str:
    """The owner name a key's jobs and alerts are stored under (the API's and the CLI's alike)."""
    return key_digest(key)[:16]


def owner_of_user(user: str) -> str:
    """The owner name of a single-sign-on user's jobs and alerts: apart from every key's (another prefix hashed)."""
    return key_digest(f"sso-user:{user}")[:16]


def check_key(write: bool) -> None:
    settings = app_services().settings
    if not (write or settings.read_requires_key):
        return
    if not settings.api_keys:
        raise ApiError(403, "this endpoint needs an API key, and none is configured (set API_KEYS)")
    state = caller().key_state
    if state == "none":
        raise ApiError(401, "an API key is required: send `Authorization: Bearer KEY`, or sign in at /signin")
    if state == "locked":
        raise ApiError(429, "too many failed API key checks from this address; try again later", "rate_limited")
    if state == "invalid":
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
    return caller().bucket


def _storage_options(uri: str) -> dict:
    """Short timeouts for a Redis store: without them a hung Redis holds every request for good."""
    return {} if uri.startswith("memory://") else fail_fast(STORAGE_TIMEOUT_SECONDS)


def init_limiter(app, settings) -> Limiter:
    """The request limiter on settings.rate_limit_storage, and the failed-key-check limit beside it."""
    limiter = Limiter(
        _rate_key,
        app=app,
        # One budget per caller across every route (flask-limiter's default limits count each route apart).
        application_limits=[] if settings.rate_limit == "off" else [settings.rate_limit],
        storage_uri=settings.rate_limit_storage,
        storage_options=_storage_options(settings.rate_limit_storage),
        headers_enabled=True,
        # Redis down or hung: count in this process, trying Redis again after 1, 2, 4 ... 32 s until it answers
        in_memory_fallback_enabled=True,
    )
    failed = settings.rate_limit_failed_keys
    app.extensions["mt_limiter"] = limiter
    app.extensions["mt_failed_keys"] = None if failed == "off" else parse_limit(failed)
    return limiter
