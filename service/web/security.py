"""Browser-facing defences: security headers on every response, safe links from stored URLs, trusted proxies."""

from __future__ import annotations

import re

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from service.config import Settings

# No inline script or style anywhere: the templates load /static/app.js and /static/style.css only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# What browsers ignore in a URL: tabs and newlines anywhere, C0 controls and spaces at either end (WHATWG URL).
_IGNORED_INSIDE = re.compile(r"[\t\n\r]")
_IGNORED_AROUND = "".join(map(chr, range(0x21)))
_WEB_URL = re.compile(r"https?://[^/?#\s]", re.IGNORECASE)


def safe_url(value) -> str:
    """value as a link target if it is an http(s) URL, else "" (javascript:, data:, relative, ...)."""
    if not isinstance(value, str):
        return ""
    url = _IGNORED_INSIDE.sub("", value).strip(_IGNORED_AROUND)
    return url if _WEB_URL.match(url) else ""


def init_app(app: Flask, settings: Settings) -> None:
    """Headers on every response, the safe_url template filter, and X-Forwarded-* from trusted proxies only."""

    @app.after_request
    def add_security_headers(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.add_template_filter(safe_url)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)
