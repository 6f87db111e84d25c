"""The alerts API under /api/v1/alerts: saved searches (create, list, get, update, delete) and their matches.

Alerts are private like jobs: every route needs a valid key, and a key sees only the alerts it made (another
key's alert is a 404). Creating and changing one (quota, query check, webhook policy, back-fill) is
alerts/usecases.py's: the views read the request, call it and answer.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, jsonify, request

from service.alerts.model import Alert
from service.alerts.store import AlertStore
from service.alerts.usecases import AlertSpec, create_alert, update_alert
from service.limits import MAX_RESULT_WINDOW
from service.web import schemas
from service.web.actions import key_owner
from service.web.auth import requires_key
from service.web.errors import ApiError
from service.web.payload import json_body
from service.web.services import app_services
from service.web.validation import check_arguments, check_body

bp = Blueprint("alerts", __name__)
# What OpenSearch's date field takes and Python's fromisoformat agrees on: ISO 8601's extended form, a date with an
# optional time (minutes, seconds, fraction) and zone. Python alone also takes week dates, basic forms and a space.
_SINCE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?", re.ASCII)


def alert_store() -> AlertStore:
    return app_services().alert_store


def _translators() -> dict:
    return app_services().query_translators()


def _owned(alert_id: str) -> Alert:
    """The caller's alert; 404 alike for a missing alert and another key's."""
    alert = alert_store().get(alert_id, key_owner())
    if alert is None:
        raise ApiError(404, f"no alert {alert_id}")
    return alert


@bp.post("")
@requires_key(write=True)
def create():
    settings = app_services().settings
    owner = key_owner()
    body = json_body(settings.max_request_bytes)
    check_body(body, schemas.ALERT_REQUEST)
    saved = create_alert(
        alert_store(), owner, AlertSpec.from_dict(body), settings, _translators(), app_services().encoder
    )
    return jsonify(saved.to_dict()), 201


@bp.get("")
@requires_key(write=True)  # alerts are private: reading them needs a key whatever READ_REQUIRES_KEY says
def list_alerts():
    return jsonify({"alerts": [alert.to_dict() for alert in alert_store().list_for(key_owner())]})


@bp.get("/<alert_id>")
@requires_key(write=True)
def get_alert(alert_id: str):
    return jsonify(_owned(alert_id).to_dict())


@bp.patch("/<alert_id>")
@requires_key(write=True)
def update(alert_id: str):
    settings = app_services().settings
    body = json_body(settings.max_request_bytes)
    check_body(body, schemas.ALERT_UPDATE)
    saved = update_alert(alert_store(), alert_id, key_owner(), body, settings, _translators(), app_services().encoder)
    if saved is None:
        raise ApiError(404, f"no alert {alert_id}")
    return jsonify(saved.to_dict())


@bp.delete("/<alert_id>")
@requires_key(write=True)
def delete(alert_id: str):
    if not alert_store().delete(alert_id, key_owner()):
        raise ApiError(404, f"no alert {alert_id}")
    return "", 204


@bp.get("/<alert_id>/matches")
@requires_key(write=True)
def matches(alert_id: str):
    values = check_arguments(request.args, schemas.MATCHES_PARAMETERS)
    page, size = values.get("page", 1), values.get("size", 20)
    if page * size > MAX_RESULT_WINDOW:
        raise ApiError(400, f"page x size must be at most {MAX_RESULT_WINDOW}", "out_of_range")
    since = _since(values["since"]) if values.get("since") else None
    total, found = alert_store().matches(_owned(alert_id).id, since, page, size)
    return jsonify({"total": total, "page": page, "size": size, "matches": [match.to_dict() for match in found]})


def _since(value: str) -> str:
    """The `since` argument as the instant OpenSearch is asked for (UTC unless it says otherwise); 400 otherwise."""
    try:
        if not _SINCE.fullmatch(value):
            raise ValueError(value)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "since must be an ISO 8601 date or instant: YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM]", "bad_date"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).isoformat(timespec="milliseconds")


@bp.post("/<alert_id>/seen")
@requires_key(write=True)
def seen(alert_id: str):
    """Mark the alert's matches seen now: the Alerts page counts the new ones from here on its next visit."""
    alert = alert_store().mark_seen(_owned(alert_id).id, key_owner())
    if alert is None:  # deleted meanwhile
        raise ApiError(404, f"no alert {alert_id}")
    return jsonify(alert.to_dict())
