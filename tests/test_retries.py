"""The one retry policy (with_retries): what it retries, how long it waits between attempts, when it gives up."""

import time
import types

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from service.errors import SearchUnavailable
from service.index import bulk


class Flaky:
    """A call that fails with the given errors, one per attempt, then returns "done"; it counts its calls."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture
def pauses(monkeypatch) -> list[float]:
    """Every pause with_retries takes, in order; each still sleeps, but the tests pass delays of a few ms."""
    taken: list[float] = []

    def sleep(seconds: float) -> None:
        taken.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(bulk, "time", types.SimpleNamespace(sleep=sleep))
    return taken


def unavailable(status: int = 503) -> TransportError:
    return TransportError(status, "unavailable", {"error": "unavailable", "status": status})


def test_a_call_that_succeeds_is_made_once_without_a_pause(pauses):
    call = Flaky()
    assert bulk.with_retries(call, attempts=5, first_delay=0.001) == "done"
    assert call.calls == 1 and pauses == []


def test_the_pause_doubles_after_each_failure_up_to_the_cap(pauses):
    call = Flaky(*[unavailable() for _ in range(5)])
    assert bulk.with_retries(call, attempts=6, first_delay=0.001, max_delay=0.004) == "done"
    assert call.calls == 6
    assert pauses == pytest.approx([0.001, 0.002, 0.004, 0.004, 0.004])


@pytest.mark.parametrize(
    "error",
    [
        OpenSearchConnectionError("N/A", "connection refused", OSError("refused")),
        ConnectionTimeout("TIMEOUT", "read timed out", OSError("timed out")),
        unavailable(429),
        unavailable(502),
        unavailable(503),
        unavailable(504),
    ],
    ids=["unreachable", "timeout", "429", "502", "503", "504"],
)
def test_an_unreachable_or_overloaded_cluster_is_retried(pauses, error):
    call = Flaky(error, error)
    assert bulk.with_retries(call, attempts=3, first_delay=0.001) == "done"
    assert call.calls == 3 and pauses == pytest.approx([0.001, 0.002])


def test_after_the_last_attempt_it_gives_up_as_unavailable_with_the_cause(pauses):
    last = unavailable(503)
    call = Flaky(unavailable(503), unavailable(503), last)
    with pytest.raises(SearchUnavailable, match="unavailable after 3 attempts") as raised:
        bulk.with_retries(call, attempts=3, first_delay=0.001)
    assert raised.value.__cause__ is last
    assert call.calls == 3 and pauses == pytest.approx([0.001, 0.002])  # no pause after the last attempt


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 500])
def test_a_refusal_is_raised_at_once_as_it_is(pauses, status):
    refusal = unavailable(status)
    call = Flaky(refusal)
    with pytest.raises(TransportError) as raised:
        bulk.with_retries(call, attempts=5, first_delay=0.001)
    assert raised.value is refusal
    assert call.calls == 1 and pauses == []


def test_other_errors_are_not_the_retry_policy_s_business(pauses):
    call = Flaky(KeyError("id"))
    with pytest.raises(KeyError):
        bulk.with_retries(call, attempts=5, first_delay=0.001)
    assert call.calls == 1 and pauses == []


def test_a_refusal_after_retries_is_still_raised_as_it_is(pauses):
    refusal = unavailable(400)
    call = Flaky(unavailable(503), refusal)
    with pytest.raises(TransportError) as raised:
        bulk.with_retries(call, attempts=5, first_delay=0.001)
    assert raised.value is refusal and call.calls == 2 and pauses == pytest.approx([0.001])
