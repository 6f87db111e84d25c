"""Bulk reads and writes under one retry policy, with refusals isolated to the documents that caused them.

The retry policy, in one place:
- with_retries owns back-off: when the cluster is unreachable or answers 429/502/503/504, or the index is
  closed or blocked (for the request or for any item), the call is made again after a growing pause: an
  outage, never the document's fault. Indexing by explicit id
  makes resending a batch safe, and nothing counts as indexed until the cluster has acknowledged it.
- streaming_bulk's own retries are off: they would retry 429 items with their own pauses inside each
  with_retries attempt, multiplying the attempts and the wait; pushed-back items go to with_retries.
- The transport (service/index/client.py) retries once, at once, only on another host: failover,
  never back-off.

stored_hashes looks up the content hashes already stored, so that ingest skips unchanged articles.
A request-level refusal (a 400, e.g. an id over 512 bytes, or a 413) is bisected until the refused
documents stand alone, so the good ones in the batch are still indexed. Bulk writes name the alias
with require_alias, so they never auto-create an index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from service.errors import SearchUnavailable
from service.index.client import bulk_timeout
from service.index.errors import reason_in, refusal_reason

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRYABLE_STATUS = {429, 502, 503, 504}
UNUSABLE_INDEX = {"index_closed_exception", "cluster_block_exception"}  # refused whatever the document (400, 403)
SPLITTABLE_STATUS = {400, 413}  # the whole request was refused: some document in it is to blame


def is_outage(error: BaseException) -> bool:
    """Whether the cluster, not the request, is at fault: unreachable or timed out, pushing back or unavailable
    (429/502/503/504), or the index closed or blocked. Worth trying again later; never a reason to refuse a document."""
    if isinstance(error, OpenSearchConnectionError):
        return True
    if not isinstance(error, TransportError):
        return False
    # status_code, error and info read args[0], [1] and [2], and raise IndexError on an error made with fewer
    return _outage_answer(error.args[0] if error.args else None, *error.args[1:3])


def _outage_answer(status, *details) -> bool:
    """Whether an answer's status or error (a type, or a body holding one) is an outage's."""
    return status in RETRYABLE_STATUS or any(_error_type(detail) in UNUSABLE_INDEX for detail in details)


def _error_type(detail) -> str | None:
    """The type of an OpenSearch error, given as itself or in a body ({"error": {"type": ...}}, an item's answer)."""
    while isinstance(detail, dict) and "error" in detail:
        detail = detail["error"]
    return detail.get("type") if isinstance(detail, dict) else detail if isinstance(detail, str) else None


def with_retries(call: Callable[[], T], attempts: int = 10, first_delay: float = 1.0, max_delay: float = 30.0) -> T:
    """Run call, retrying with exponential back-off while the cluster is down or pushing back."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except (OpenSearchConnectionError, TransportError) as error:
            if not is_outage(error) or attempt == attempts:
                if is_outage(error):
                    raise SearchUnavailable(f"OpenSearch unavailable after {attempts} attempts: {error}") from error
                raise
            log.warning("OpenSearch unavailable (%s); retrying in %.1fs", error.__class__.__name__, delay)
            time.sleep(delay)  # back-off before retrying, not synchronisation
            delay = min(max_delay, delay * 2)
    raise AssertionError("unreachable")


def _bulk(client: OpenSearch, alias: str, documents: list[dict]) -> dict[str, str]:
    """One bulk request; {id: reason} of the items refused for good; raises if any item was pushed back."""
    failed: dict[str, str] = {}
    actions = ({"_op_type": "index", "_index": alias, "_id": d["id"], "_source": d} for d in documents)
    for ok, item in helpers.streaming_bulk(
        client,
        actions,
        chunk_size=max(1, len(documents)),
        max_retries=0,
        raise_on_error=False,
        require_alias=True,
        request_timeout=bulk_timeout(client),
    ):
        if not ok:
            result = item["index"]
            if _outage_answer(result.get("status"), result):
                raise TransportError(result["status"], "bulk item pushed back", result)
            failed[result["_id"]] = reason_in(result.get("error")) or f"status {result.get('status')}"
    return failed


def index_documents(client: OpenSearch, alias: str, documents: list[dict], **retry) -> dict[str, str]:
    """Index documents by their id into the alias; return {id: reason} for those the cluster refused for good."""
    if not documents:
        return {}
    try:
        return with_retries(lambda: _bulk(client, alias, documents), **retry)
    except TransportError as error:
        if error.status_code not in SPLITTABLE_STATUS:
            raise
        if len(documents) == 1:
            return {documents[0]["id"]: refusal_reason(error)}
        middle = len(documents) // 2
        return {
            **index_documents(client, alias, documents[:middle], **retry),
            **index_documents(client, alias, documents[middle:], **retry),
        }


def stored_hashes(
    client: OpenSearch, alias: str, ids: list[str], attempts: int = 10, demo_is_stale: bool = False
) -> dict[str, str | None]:
    """{id: content hash} of the documents among ids that the alias already holds; retried like the writes.

    demo_is_stale: a document whose English is the demo model's noise has no hash to match, so that a writer with
    a real model translates it again rather than keep it as unchanged."""
    if not ids:
        return {}
    answer = with_retries(
        lambda: client.mget(index=alias, body={"ids": ids}, _source_includes=["content_hash", "demo"]),
        attempts=attempts,
    )
    found = {doc["_id"]: doc.get("_source", {}) for doc in answer["docs"] if doc.get("found")}
    return {
        doc_id: None if demo_is_stale and source.get("demo") else source.get("content_hash")
        for doc_id, source in found.items()
    }


class Progress(Protocol):
    """What update_missing reports to (a tqdm bar is one): how many documents it found to do, then each batch."""

    def reset(self, total: int) -> object: ...

    def update(self, n: int) -> object: ...


def update_missing(
    client: OpenSearch,
    index: str,
    missing: dict,
    source: list[str],
    derive: Callable[[list[dict]], list[dict]],
    batch: int,
    progress: Progress | None = None,
) -> tuple[int, list[dict]]:
    """Give the documents of the index that match the query `missing` what derive makes of their `_source` (the
    fields listed in source, with their "id"): a batch of sources in, one partial document each out, in order.
    Return how many were updated and the bulk errors of those refused; progress is told how many there are to do,
    then each batch done.

    The one way a field is derived for stored articles (vectors, people and places): a scan in scroll pages and
    a bulk update per batch, so memory stays bounded. Resumable when the update itself takes the document out of
    `missing` (it marks what it derived from): a run stopped midway, even killed, leaves the rest to the next.
    Safe beside writers: each update is conditional on the version scanned, so an article a writer stored meanwhile
    (with fields of its own making) is left as the writer made it (a 409, not counted as refused).
    """
    timeout = bulk_timeout(client)
    # what a run stopped midway (killed before its refresh) derived is left out of the count and the scan
    client.indices.refresh(index=index, request_timeout=timeout)
    todo = client.count(index=index, body={"query": missing}, request_timeout=timeout)["count"]
    if progress is not None:
        progress.reset(total=todo)
    if not todo:
        return 0, []
    hits = helpers.scan(
        client,
        index=index,
        query={"query": missing},
        _source=source,
        seq_no_primary_term=True,
        size=batch,
        request_timeout=timeout,
        scroll_kwargs={"request_timeout": timeout},
    )
    done, refused, pending = 0, [], []

    def flush() -> int:
        derived = derive([{**hit["_source"], "id": hit["_id"]} for hit in pending])
        updates = [
            {
                "_op_type": "update",
                "_index": index,
                "_id": hit["_id"],
                "if_seq_no": hit["_seq_no"],
                "if_primary_term": hit["_primary_term"],
                "doc": document,
            }
            for hit, document in zip(pending, derived, strict=True)
        ]
        count, errors = helpers.bulk(client, updates, raise_on_error=False, request_timeout=timeout)
        refused.extend(e["update"] for e in errors if e["update"].get("status") != 409)
        if progress is not None:
            progress.update(len(pending))
        pending.clear()
        return count

    for hit in hits:
        pending.append(hit)
        if len(pending) >= batch:
            done += flush()
    if pending:
        done += flush()
    client.indices.refresh(index=index, request_timeout=timeout)
    return done, refused
