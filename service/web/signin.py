"""Signing in once per browser: /signin (an API key, or single sign-on through a trusted proxy) and /signout.

The key is checked exactly as a keyed request's is (web/auth.py: constant time, counted against the address's
failed-key limit); what the browser keeps is the signed cookie of web/sessions.py, never the key.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from service.web.actions import KEY_LABEL_CHARS
from service.web.article_view import safe_back
from service.web.auth import caller
from service.web.errors import ApiError
from service.web.services import app_services
from service.web.sessions import (
    csrf_token,
    session_key,
    session_user,
    sign_in_as_user,
    sign_in_with_key,
    sign_out,
    signing_in_available,
    sso_user,
)

bp = Blueprint("signin", __name__)
DEFAULT_NEXT = "/alerts"


@bp.app_context_processor
def signed_in_context() -> dict:
    return {"signed_in": signed_in_label(), "csrf_token": csrf_token, "signing_in": signing_in_available()}


def signed_in_label() -> str | None:
    """Who this browser is signed in as, in words that do not give the key away; None when not signed in."""
    key = session_key()
    if key is not None:
        return f"key …{key[-KEY_LABEL_CHARS:]}"
    return session_user()


def _page(status: int = 200, error: str | None = None, **context):
    context.setdefault("next_page", safe_back(request.values.get("next"), DEFAULT_NEXT))
    hours = app_services().settings.session_hours
    lasts = f"{hours / 24:g} days" if hours % 24 == 0 else f"{hours:g} hours"
    page = render_template("signin.html", error=error, sso_user=sso_user(), session_lasts=lasts, **context)
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/signin")
def sign_in_page():
    return _page(signed_out=request.args.get("signed_out") == "1")


@bp.post("/signin")
def sign_in():
    if not signing_in_available():
        raise ApiError(503, "signing in is not set up on this service: ask its operator to give it a secret key")
    state = caller().key_state  # the form's api_key field, checked as every presented key is
    if state == "none":
        return _page(400, "Enter your API key.")
    if state == "locked":
        return _page(429, "Too many wrong keys from your address just now; wait a minute and try again.")
    if state != "valid" or caller().key is None:
        return _page(403, "That API key is not valid. Check it and try again.")
    sign_in_with_key(caller().key)
    return redirect(safe_back(request.form.get("next"), DEFAULT_NEXT), 303)


@bp.post("/signin/sso")
def sign_in_sso():
    user = sso_user()
    if user is None or not signing_in_available():
        return _page(403, "Your organisation's sign-in did not reach this service; sign in with an API key instead.")
    sign_in_as_user(user)
    return redirect(safe_back(request.form.get("next"), DEFAULT_NEXT), 303)


@bp.post("/signout")
def sign_out_now():
    sign_out()
    return redirect(url_for("signin.sign_in_page", signed_out="1"), 303)
