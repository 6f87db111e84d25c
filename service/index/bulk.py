"""Bulk indexing with back-off, in the manner of opensearch-py's streaming_bulk.

streaming_bulk retries items the cluster pushes back on (429). When the cluster is down or
answers 502/503/504, the whole chunk is sent again after a growing pause: indexing by explicit
id makes that safe, and nothing counts as ingested until the cluster has acknowledged it.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_STATUS = {429, 502, 503, 504}


class Unavailable(RuntimeError):
    """The cluster stayed unreachable or overloaded through every retry."""


def _retryable(error: Exception) -> bool:
    if isinstance(error, OpenSearchConnectionError):
        return True
    return isinstance(error, TransportError) and error.status_code in RETRYABLE_STATUS


def with_retries(call: Callable[[], T], attempts: int = 10, first_delay: float = 1.0, max_delay: float = 30.0) -> T:
    """Run call, retrying with exponential back-off while the cluster is down or pushing back."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except (OpenSearchConnectionError, TransportError) as error:
            if not _retryable(error) or attempt == attempts:
                if _retryable(error):
                    raise Unavailable(f"OpenSearch unavailable after {attempts} attempts: {error}") from error
                raise
            log.warning("OpenSearch unavailable (%s); retrying in %.0fs", error.__class__.__name__, delay)
            time.sleep(delay)  # back-off before retrying, not synchronisation
            delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")


def index_documents(client: OpenSearch, index: str, documents: list[dict], **retry) -> dict[str, str]:
    """Index documents by their id; return {id: reason} for those the cluster refused for good."""
    def send() -> dict[str, str]:
        failed: dict[str, str] = {}
        actions = ({"_op_type": "index", "_index": index, "_id": d["id"], "_source": d} for d in documents)
        for ok, item in helpers.streaming_bulk(client, actions, chunk_size=max(1, len(documents)), max_retries=5,
                                               initial_backoff=1, max_backoff=30, raise_on_error=False):
            if not ok:
                result = item["index"]
                if result.get("status") in RETRYABLE_STATUS:
                    raise TransportError(result["status"], "bulk item pushed back", result)
                failed[result["_id"]] = str(result.get("error", {}).get("reason", result.get("error")))[:300]
        return failed
    return with_retries(send, **retry)
