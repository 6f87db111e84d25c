"""The API fuzzer: schemathesis over every operation of the served OpenAPI document, with and without a valid key.

It runs the real app (real OpenSearch node, tiny model, SQLite job store) through WSGI and fails on any request that
gets a 5xx; a status, media type or body the document does not declare; an accepted request the document calls
invalid, or a valid one refused as malformed; a 405 without Allow; or an answer slower than MAX_SECONDS. Examples are
derandomized and nothing is written to a Hypothesis database, so every run sends the same requests.

With the key, a valid request for an alert is sent for the key's own alert (a random id is only ever a 404), so its
matches, updates and `since` dates reach OpenSearch. Hypothesis tests of their own send hostile `since` dates, and
read an alert's Atom feed (outside the API document) after storing matches with control characters and dates past
Python's years, as already-stored articles may carry.
"""

import datetime as dt
import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import max_response_time, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from service.alerts.model import StoryMatch, match_id, saved_wording
from service.alerts.store import AlertStore, now_iso
from service.config import Settings
from service.web import create_app, openapi
from service.web.auth import key_digest

# Hypothesis keeps caches (unicode tables, constants) in .hypothesis/ of the working directory, from collection on
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mt-news-hypothesis")
KEY = "fuzz-key-0123"
MAX_SECONDS = 5.0
# per operation and key mode, besides the coverage phase's boundary cases: about a minute on 2 cores;
# FUZZ_EXAMPLES=150 for a deeper run by hand (a few minutes)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
CONFIG = {
    "seed": 12345,
    "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none", "deterministic": True},
    "checks": {
        "max_response_time": MAX_SECONDS,
        # a body over a configured limit is refused with 413, as the document says
        "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "404", "405", "413", "415", "422"]},
    },
    "phases": {"stateful": {"enabled": False}},
}
# The document is built per app from its settings; the app fixture checks that it serves exactly this one.
# (schemathesis.pytest.from_fixture, which would load it from the app, fails on pytest 9.2: node._nodeid is gone.)
APP_SETTINGS = dict(
    api_keys=(KEY,),
    rate_limit="off",
    rate_limit_failed_keys="off",  # so the fuzzer gets
    max_active_jobs=100_000,
    alerts_per_key=100_000,
)  # past limits, which tests of their own cover
DOCUMENT = json.loads(json.dumps(openapi.build(Settings(**APP_SETTINGS))))
OPERATIONS = sum(len(operations) for operations in DOCUMENT["paths"].values())
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)
SEEN: dict[str, Counter] = defaultdict(Counter)  # run → status → requests, for the summary line


def schema_valid_requests_pass_validation(ctx, response, case):
    """A request the document calls valid may be refused for what it means (bad_query, unprocessable...), never as
    malformed: `bad_request` is the code of a request that breaks its declared schema."""
    if case.meta is not None and case.meta.generation.mode.is_positive and response.status_code == 400:
        code = response.json()["error"]["code"]
        assert code != "bad_request", f"a request valid by the document was refused: {response.json()}"


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    unsupported_method,
    max_response_time,
    schema_valid_requests_pass_validation,
]


@pytest.fixture(scope="module")
def app(search_settings, alias, tmp_path_factory):
    jobs_db = tmp_path_factory.mktemp("fuzz") / "jobs.sqlite3"
    app = create_app(replace(search_settings, opensearch_index=alias, jobs_db=jobs_db, **APP_SETTINGS))
    assert app.test_client().get("/api/v1/openapi.json").json == DOCUMENT
    return app


@pytest.fixture(scope="module")
def alert(client, alias):
    """The fuzz key's own alert, with one match: valid requests for an alert are sent for it."""
    store = AlertStore(client, alias)
    wording = saved_wording({"lang": "en", "text": "fuzz", "by": "user"})
    alert, _ = store.create(key_digest(KEY)[:16], "fuzz", "fuzz", {}, [wording])
    # its updates wait for a refresh (refresh=wait_for): a shorter interval keeps a few dozen of them to seconds
    client.indices.put_settings(index=store.alerts_index, body={"index": {"refresh_interval": "100ms"}})
    store.record_matches([_match(alert.id, "fuzz-story", "Fuzz", "Outlet", "2026-03-01")])
    client.indices.refresh(index=store.matches_index)
    return alert


def _match(alert_id: str, story: str, title: str, outlet: str, published: str) -> StoryMatch:
    return StoryMatch(
        match_id(alert_id, story),
        alert_id,
        story,
        (story,),
        (outlet,),
        title,
        title,
        story,
        published,
        now_iso(),
        False,
    )


@pytest.fixture(scope="module", autouse=True)
def figures(request):
    """One line of figures after the run: operations, requests by status."""
    started = time.monotonic()
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        reporter.write_line("")
        for run, statuses in SEEN.items():
            reporter.write_line(
                f"fuzz {run}: {OPERATIONS} operations, {sum(statuses.values())} requests, "
                f"by status {dict(sorted(statuses.items()))}"
            )
        reporter.write_line(f"fuzz: {time.monotonic() - started:.0f} s")


def _call(case, app, run: str, **kwargs):
    response = case.call(app=app, **kwargs)
    SEEN[run][response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"), transport_kwargs={"app": app})


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_without_a_key(case, app):
    _call(case, app, "without a key")


@schema.parametrize()
@FUZZ_SETTINGS
def test_fuzz_with_a_valid_key(case, app, alert):
    valid = case.meta is not None and case.meta.generation.mode.is_positive
    if valid and "alert_id" in case.path_parameters and case.method != "DELETE":  # deleted, later cases would 404
        case.path_parameters = {**case.path_parameters, "alert_id": alert.id}
    _call(case, app, "with a valid key", headers={"Authorization": f"Bearer {KEY}"})


# What Python's fromisoformat takes and OpenSearch does not, instants past Python's years in UTC, and near-misses
HOSTILE_DATES = [
    "2024-W01-1",
    "20240101T000000",
    "2024-01-01 00:00",
    "2024-01-01T00:00+0200",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "0000-01-01",
    "2024-02-30",
    "2024-01-01T24:00",
    "٢٠٢٤-٠١-٠١",
    "2024-01-01T00:00:00.1234567Z",
    "+002024-01-01",
]
DATES = st.one_of(
    st.sampled_from(HOSTILE_DATES),
    st.text(alphabet="0123456789-:T.Z+W ", max_size=32),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=14))])).map(dt.datetime.isoformat),
)
# Text with what XML 1.0 forbids and what markup means, among any other characters
HOSTILE_TEXT = st.text(
    st.one_of(
        st.characters(), st.sampled_from(["\x00", "\x1b", "\x7f", "\ufffe", "\uffff", "\u202e", "<", "&", "]", ">"])
    ),
    min_size=1,
    max_size=40,
)


@given(since=DATES)
@FUZZ_SETTINGS
def test_fuzz_alert_matches_since(app, alert, since):
    answer = app.test_client().get(
        f"/api/v1/alerts/{alert.id}/matches", query_string={"since": since}, headers={"Authorization": f"Bearer {KEY}"}
    )
    SEEN["matches since"][answer.status_code] += 1
    assert answer.status_code == 200 or answer.json["error"]["code"] == "bad_date", (since, answer.json)


@given(title=HOSTILE_TEXT, outlet=HOSTILE_TEXT, published=st.sampled_from(HOSTILE_DATES[4:6]) | DATES)
@FUZZ_SETTINGS
def test_fuzz_alert_feed_with_hostile_stored_matches(app, alert, client, alias, title, outlet, published):
    store = AlertStore(client, alias)
    try:
        store.record_matches([_match(alert.id, f"story-{title}-{outlet}-{published}", title, outlet, published)])
    except RuntimeError:  # a date OpenSearch refuses too: no stored article can carry it
        return
    client.indices.refresh(index=store.matches_index)
    answer = app.test_client().get(f"/alerts/{alert.id}/feed.atom", query_string={"token": alert.feed_token})
    SEEN["feed"][answer.status_code] += 1
    assert answer.status_code == 200
    ET.fromstring(answer.data)  # well-formed, or ParseError
