"""The alert use cases without a cluster: the refusals a web view or a command gets as project errors."""

from __future__ import annotations

import datetime as dt

import pytest

from service.alerts.store import AlertLimitReached
from service.alerts.usecases import (
    AlertRefused,
    AlertSpec,
    allowed_webhook_url,
    checked_wordings,
    create_alert,
    past_end_warning,
    update_alert,
)
from service.config import Settings
from service.search.query import QueryError


class _Store:
    """Answers what create_alert and update_alert ask before they write; a write fails the test."""

    def __init__(self, alerts: int = 0):
        self.alerts = alerts

    def count_for(self, owner: str) -> int:
        return self.alerts

    def get(self, alert_id: str, owner: str | None):
        return None


def test_a_key_at_its_limit_is_refused_before_the_query_is_read():
    settings = Settings(alerts_per_key=2)
    with pytest.raises(AlertLimitReached, match="at most 2 alerts per API key"):
        create_alert(_Store(alerts=2), "owner", AlertSpec("name", "((unclosed"), settings, {})


def test_the_query_and_filters_are_checked_as_search_checks_them():
    assert [(w.lang, w.text, w.by) for w in checked_wordings("ceasefire", {"lang": "en"}, {})] == [
        ("en", "ceasefire", "user")
    ]
    with pytest.raises(QueryError):
        checked_wordings("((unclosed", {}, {})
    with pytest.raises(AlertRefused) as reversed_dates:
        checked_wordings("ceasefire", {"from": "2024-02-01", "to": "2024-01-01"}, {})
    assert reversed_dates.value.code == "reversed_dates"
    with pytest.raises(AlertRefused) as bad_lang:
        checked_wordings("ceasefire", {"lang": "fr"}, {})
    assert bad_lang.value.code == "bad_request"


def test_the_webhook_policy_names_its_refusals():
    assert allowed_webhook_url(None, ()) is None
    with pytest.raises(AlertRefused) as malformed:
        allowed_webhook_url("not a url", ())
    assert malformed.value.code == "bad_webhook_url"
    with pytest.raises(AlertRefused) as private:
        allowed_webhook_url("http://127.0.0.1/hook", ())
    assert private.value.code == "webhook_refused"
    assert allowed_webhook_url("http://127.0.0.1/hook", ("127.0.0.1",)) == "http://127.0.0.1/hook"


def test_updating_an_alert_the_owner_does_not_have_is_none():
    assert update_alert(_Store(), "missing", "owner", {"name": "x"}, Settings(), {}) is None


def test_a_spec_reads_the_api_body():
    spec = AlertSpec.from_dict({"name": "n", "query": "q", "filters": None, "backfill": 1})
    assert spec == AlertSpec("n", "q", {}, None, True)


def test_a_search_whose_to_date_is_past_is_saved_with_a_warning_in_words():
    now = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
    warning = past_end_warning({"from": "2020-01-01", "to": "2020-08-31"}, now)
    assert warning.startswith("its “to” date (2020-08-31) is past, so today's news will never match it")
    assert past_end_warning({"to": "2026-12-06T23:59:00Z"}, now)
    assert past_end_warning({"to": "2026-12-07"}, now) is None  # today runs to its end
    assert past_end_warning({"to": "2027-01-01"}, now) is None
    assert past_end_warning({"from": "2020-01-01"}, now) is None
    assert past_end_warning({"to": "2018-05"}, now) is None  # search's own check reads it, not this one
