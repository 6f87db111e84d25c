"""Sign in once per browser: a signed, expiring session cookie, and CSRF checks on what the cookie authorises.

The cookie is Flask's own signed session (itsdangerous, keyed by SECRET_KEY). It holds what the browser signed in
with, never the key itself: an HMAC of the key under SECRET_KEY (so a copied cookie tells nothing about the key,
and a key taken out of API_KEYS signs its browsers out), or the name a trusted single-sign-on proxy gave, beside
a random CSRF token. It is HttpOnly, SameSite=Lax and Secure when the request came over HTTPS, and it expires
SESSION_HOURS after signing in (the signature's own timestamp: it is not refreshed by use). Changing SECRET_KEY
makes every signature wrong, which signs everyone out.

A request that would be authorised by the cookie and changes anything (POST, PUT, PATCH, DELETE) must come from
this site (Sec-Fetch-Site, else Origin) and carry the session's CSRF token (the `csrf_token` form field or the
X-CSRF-Token header). An API client that sends its key in a header (Authorization: Bearer, X-API-Key) is not a
browser acting on a cookie, and is left alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlsplit

from flask import Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from service.config import Settings
from service.web.errors import ApiError

COOKIE_NAME = "mt_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN_ENDPOINTS = frozenset({"signin.sign_in", "signin.sign_in_sso", "signin.sign_out_now"})
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})  # "none": typed or bookmarked by the user
_KEYS_EXTENSION = "mt_session_keys"
_SETTINGS_EXTENSION = "mt_session_settings"


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure whenever the request itself came over HTTPS (behind a trusted proxy
    too: ProxyFix sets the scheme from X-Forwarded-Proto)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_sessions(app: Flask, settings: Settings) -> None:
    """The session cookie's settings and the CSRF check; without SECRET_KEY, no browser can sign in."""
    app.secret_key = settings.secret_key
    app.session_interface = SessionCookies()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_REFRESH_EACH_REQUEST=False,  # the cookie's age counts from signing in, not from the last visit
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_hours),
    )
    app.extensions[_SETTINGS_EXTENSION] = settings
    app.extensions[_KEYS_EXTENSION] = (
        {key_id(settings.secret_key, key): key for key in settings.api_keys} if settings.secret_key else {}
    )
    app.before_request(check_csrf)


def key_id(secret: str, key: str) -> str:
    """What the cookie holds for a key: its HMAC under the secret, useless without both."""
    return hmac.new(secret.encode("utf-8"), key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def _settings() -> Settings:
    return current_app.extensions[_SETTINGS_EXTENSION]


def signing_in_available() -> bool:
    return bool(_settings().secret_key)


def session_key() -> str | None:
    """The configured key this browser signed in with; None when it did not, or the key is no longer valid."""
    held = session.get("k") if signing_in_available() else None
    return current_app.extensions[_KEYS_EXTENSION].get(held) if isinstance(held, str) else None


def session_user() -> str | None:
    """The single-sign-on user this browser signed in as, while single sign-on is on."""
    user = session.get("u") if signing_in_available() and _settings().sso_header else None
    return user if isinstance(user, str) and user else None


def _start(**identity: str) -> None:
    session.clear()  # a fresh token for each sign-in: one known before it (session fixation) is worth nothing
    session.update(identity, csrf=secrets.token_urlsafe(32))
    session.permanent = True


def sign_in_with_key(key: str) -> None:
    _start(k=key_id(_settings().secret_key, key))


def sign_in_as_user(user: str) -> None:
    _start(u=user)


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    """The session's CSRF token, for forms and the pages' scripts ("" when not signed in)."""
    token = session.get("csrf") if signing_in_available() else None
    return token if isinstance(token, str) else ""


def sso_user() -> str | None:
    """The user a trusted single-sign-on proxy names in SSO_HEADER; None when off, absent, or not from such a proxy.

    The proxy is the peer of this connection, before any X-Forwarded-For rewriting: a client cannot claim it.
    """
    settings = _settings()
    if not settings.sso_header:
        return None
    name = request.headers.get(settings.sso_header, "").strip()
    peer = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")
    if not name or not peer or not _is_sso_proxy(peer, settings.sso_proxies):
        return None
    return name[:200]


def _is_sso_proxy(address: str, networks: tuple[str, ...]) -> bool:
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(peer in ipaddress.ip_network(network) for network in networks)


def _sends_key_header() -> bool:
    """Whether the request authenticates with a header (an API client), which no cross-site form can send."""
    authorization = request.headers.get("Authorization", "")
    return authorization.lower().startswith("bearer ") or bool(request.headers.get("X-API-Key"))


def _from_this_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in SAME_SITE_FETCHES
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None  # an old browser sends neither; "null" is an opaque, sandboxed or redirected origin
    parts = urlsplit(origin)
    return (parts.scheme, parts.netloc) == (request.scheme, request.host)


def _presented_token() -> str:
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        token = request.form.get(CSRF_FIELD)
    return token or ""


def check_csrf() -> None:
    """Refuse a state change the session cookie would authorise unless it comes from this site with its token."""
    if request.method not in UNSAFE_METHODS or _sends_key_header():
        return
    signed_in = session_key() is not None or session_user() is not None
    if not (signed_in or request.endpoint in SIGN_IN_ENDPOINTS):
        return
    if not _from_this_site():
        raise ApiError(403, "refused: this request was sent from another site", "cross_site_request")
    if signed_in and not hmac.compare_digest(_presented_token().encode(), csrf_token().encode()):
        raise ApiError(
            403, "refused: this form is out of date (you signed in or out since); reload the page and try again", "csrf"
        )
