"""The alerts API under /api/v1/alerts: saved searches (create, list, get, update, delete) and their matches.

Alerts are private like jobs: every route needs a valid key, and a key sees only the alerts it made (another
key's alert is a 404). A saved search is checked and translated as search does it (searcher.query_wordings), once,
at save time; the wordings are stored with the alert and its percolator query is built from them.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, jsonify, request
from opensearchpy.exceptions import NotFoundError, RequestError

from service.alerts import webhooks
from service.alerts.matching import backfill
from service.alerts.model import Alert, search_request
from service.alerts.store import AlertChanged, AlertLimitReached, AlertStore
from service.index.documents import checked_url
from service.index.errors import refusal_reason
from service.limits import MAX_RESULT_WINDOW
from service.search import query as query_parser
from service.search.query import QueryError, QueryWording
from service.search.searcher import query_wordings
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
    services = app_services()
    return AlertStore(services.client, services.alias)


def _owned(alert_id: str) -> Alert:
    """The caller's alert; 404 alike for a missing alert and another key's."""
    alert = alert_store().get(alert_id, key_owner())
    if alert is None:
        raise ApiError(404, f"no alert {alert_id}")
    return alert


def _checked(query: str, filters: dict) -> list[QueryWording]:
    """The query wordings the alert will match, as search would run them now; 400 for a query search would refuse."""
    services = app_services()
    wanted = search_request(query, filters)
    try:
        wanted.validate()
    except ValueError as error:
        raise ApiError(400, str(error), getattr(error, "code", "bad_request")) from None
    translators = {"en": services.translator, "ar": services.reverse_translator}
    wordings, _ = query_wordings(wanted, query_parser.parse(query), translators, wait_when_busy=True)
    return wordings


def _webhook_url(value: str | None) -> str | None:
    try:
        url = checked_url(value)
    except ValueError:
        raise ApiError(
            400, "webhook_url must be an http(s) URL with a host, without spaces", "bad_webhook_url"
        ) from None
    if url is not None:
        try:  # again at each delivery (alerts/delivery.py): the host's addresses may change
            webhooks.check_url(url, app_services().settings.alert_webhook_allow)
        except webhooks.WebhookUrlError as error:
            raise ApiError(400, str(error), "webhook_refused") from None
    return url


def _refused(error: RequestError) -> QueryError:
    """OpenSearch could not take the alert's query (a date it cannot parse): the caller's to fix."""
    return QueryError(f"OpenSearch rejected the saved search: {refusal_reason(error)}")


@bp.post("")
@requires_key(write=True)
def create():
    services = app_services()
    owner = key_owner()
    body = json_body(services.settings.max_request_bytes)
    check_body(body, schemas.ALERT_REQUEST)
    store, limit = alert_store(), services.settings.alerts_per_key
    if store.count_for(owner) >= limit:  # spares the translation; the store decides, under concurrent creates too
        raise ApiError(429, f"at most {limit} alerts per API key")
    filters = body.get("filters") or {}
    wordings = _checked(body["query"], filters)
    try:
        alert, secret = store.create(
            owner, body["name"], body["query"], filters, wordings, _webhook_url(body.get("webhook_url")), limit=limit
        )
    except RequestError as error:
        raise _refused(error) from None
    except AlertLimitReached as error:
        raise ApiError(429, str(error)) from None
    answer = alert.to_dict()
    if secret:
        answer["webhook_secret"] = secret
    if body.get("backfill"):
        try:
            answer["backfilled"] = len(backfill(store, alert, services.settings.alert_backfill_articles))
        except NotFoundError:  # nothing indexed yet
            answer["backfilled"] = 0
    return jsonify(answer), 201


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
    body = json_body(app_services().settings.max_request_bytes)
    check_body(body, schemas.ALERT_UPDATE)
    alert = _owned(alert_id)
    query, filters = body.get("query", alert.query), body.get("filters", alert.filters)
    wordings = _checked(query, filters) if {"query", "filters"} & body.keys() else alert.wordings()
    webhook = _webhook_url(body["webhook_url"]) if "webhook_url" in body else alert.webhook_url
    try:
        updated = alert_store().update(
            alert_id, alert.owner, body.get("name", alert.name), query, filters, wordings, webhook
        )
    except RequestError as error:
        raise _refused(error) from None
    except AlertChanged:
        raise ApiError(409, "the alert changed while this update was made; read it again and retry") from None
    if updated is None:  # deleted meanwhile
        raise ApiError(404, f"no alert {alert_id}")
    changed, secret = updated
    return jsonify({**changed.to_dict(), **({"webhook_secret": secret} if secret else {})})


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
