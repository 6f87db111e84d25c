"""The API fuzzer: schemathesis over every operation of the served OpenAPI document, with and without a valid key.

It runs the real app (real OpenSearch node, tiny model, SQLite job store) through WSGI and fails on any request that
gets a 5xx; a status, media type or body the document does not declare; an accepted request the document calls
invalid, or a valid one refused as malformed; a 405 without Allow; or an answer slower than MAX_SECONDS. Examples are
derandomized and nothing is written to a Hypothesis database, so every run sends the same requests.
"""

import json
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import max_response_time, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from service.config import Settings
from service.web import create_app, openapi

# Hypothesis keeps caches (unicode tables, constants) in .hypothesis/ of the working directory, from collection on
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "mt-news-hypothesis")
KEY = "fuzz-key-0123"
MAX_SECONDS = 5.0
# per operation and key mode, besides the coverage phase's boundary cases: about a minute on 2 cores;
# FUZZ_EXAMPLES=150 for a deeper run by hand (a few minutes; a DELETE of a missing article waits ~1 s for a refresh)
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
def test_fuzz_with_a_valid_key(case, app):
    _call(case, app, "with a valid key", headers={"Authorization": f"Bearer {KEY}"})
