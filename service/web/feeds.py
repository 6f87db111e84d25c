"""Alert feeds: GET /alerts/<id>/feed.atom?token=… (Atom 1.0), read by feed readers with no API key.

The token is the alert's own feed token, compared in constant time; a wrong or missing token is the same JSON 404
as a missing alert, so the answer says nothing about which alerts exist.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from service.alerts.atom import MEDIA_TYPE, feed_xml
from service.web.errors import ApiError
from service.web.services import app_services

bp = Blueprint("feeds", __name__)
FEED_ENTRIES = 50  # the newest stories a feed lists; a reader polls, so older ones it has already seen


@bp.get("/alerts/<alert_id>/feed.atom")
def alert_feed(alert_id: str):
    store = app_services().alert_store
    alert = store.get(alert_id, None)
    token = request.args.get("token", "")
    if alert is None or not hmac.compare_digest(alert.feed_token.encode(), token.encode()):
        raise ApiError(404, "no feed at this address; copy the feed link from the Alerts page again")
    _total, matches = store.matches(alert.id, page=1, size=FEED_ENTRIES)
    return Response(feed_xml(alert, matches, request.url_root.rstrip("/")), mimetype=MEDIA_TYPE)
