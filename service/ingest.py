"""Ingest: JSONL articles → detect → segment → translate → bulk index, idempotently.

The document id is the article's `id` (or its content hash). An article whose stored content hash
matches is skipped before any translation, so re-running a file changes nothing, and re-running
it after a crash resumes where it stopped. The CLI and the API both call ingest(); every writer (bulk jobs too)
stores through store_documents, which matches what it indexed against the saved searches (service/alerts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

from opensearchpy import OpenSearch

from service import align
from service.alerts.matching import match_indexed
from service.config import Settings
from service.errors import ArticleError
from service.index.bulk import index_documents, stored_hashes
from service.index.cluster_lookup import cluster_documents
from service.index.documents import CheckedRecord, check_record, to_document
from service.pipeline import DETECT_CHARS, translate_articles
from service.text import langid

WINDOW_RECORDS = 256


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    id: str | None = None

    def to_dict(self) -> dict:
        return {"line": self.line, "id": self.id, "reason": self.reason}


@dataclass
class IngestReport:
    indexed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    outcomes: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # line → (status, doc id)
    clusters: dict[int, str] = field(default_factory=dict)  # line → the story cluster its indexed article joined
    dropped_fields: dict[int, dict[str, str]] = field(default_factory=dict)  # line → {field: why it was left out}

    def to_dict(self) -> dict:
        return {"indexed": self.indexed, "unchanged": self.unchanged, "rejected": len(self.rejects)}


@dataclass(frozen=True)
class _Pending:
    line: int
    checked: CheckedRecord

    @property
    def record(self) -> dict:
        return self.checked.record

    @property
    def doc_id(self) -> str:
        return self.checked.doc_id


def ingest(
    records: Iterable[tuple[int, object]],
    client: OpenSearch,
    alias: str,
    translator=None,
    pretranslated: bool = False,
    on_reject: Callable[[Reject], None] = lambda r: None,
    window: int = WINDOW_RECORDS,
    attempts: int = 10,
    cluster_threshold: float = Settings().cluster_threshold,
) -> IngestReport:
    """Index (line number, record or ArticleError) pairs; report what went in, what was rejected, what was dropped.

    attempts: tries of each OpenSearch call while the cluster is down (with back-off); an HTTP request passes few.
    cluster_threshold: CLUSTER_THRESHOLD, the similarity at which an article joins a story cluster.
    """
    if translator is None and not pretranslated:
        raise ValueError("ingest needs a translator unless the records are pre-translated")
    report = IngestReport()

    def reject(line: int, reason: str, doc_id: str | None = None) -> None:
        rejected = Reject(line, reason, doc_id)
        report.rejects.append(rejected)
        report.outcomes[line] = ("rejected", doc_id)
        on_reject(rejected)

    records = iter(records)
    while chunk := list(islice(records, window)):
        _ingest_window(chunk, client, alias, translator, pretranslated, report, reject, attempts, cluster_threshold)
    return report


def _ingest_window(
    chunk, client, alias, translator, pretranslated, report, reject, attempts, cluster_threshold
) -> None:
    pending = []
    for line, record in chunk:
        try:
            if isinstance(record, ArticleError):
                raise record
            checked = check_record(record)
        except ArticleError as error:
            reject(line, str(error))
            continue
        pending.append(_Pending(line, checked))
        if checked.dropped:
            report.dropped_fields[line] = checked.dropped
    pending = _last_of_each_id(pending, reject)
    if not pending:
        return
    known = stored_hashes(client, alias, [p.doc_id for p in pending], attempts)
    changed = [p for p in pending if known.get(p.doc_id) != p.checked.digest]
    report.unchanged += len(pending) - len(changed)
    report.outcomes.update((p.line, ("unchanged", p.doc_id)) for p in pending if p not in changed)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if pretranslated:
        results = _assemble_pretranslated(changed)
    else:
        results = translate_articles(((item, item.record) for item in changed), translator)
    documents, line_of = [], {}  # line_of: document id → its input line
    for item, result in results:
        if isinstance(result, ArticleError):
            reject(item.line, str(result), item.doc_id)
            continue
        documents.append(to_document(result, item.checked, now))
        line_of[item.doc_id] = item.line
    documents, failed = store_documents(client, alias, documents, cluster_threshold, attempts)
    for doc in documents:
        if doc["id"] in failed:
            reject(line_of[doc["id"]], f"refused by OpenSearch: {failed[doc['id']]}", doc["id"])
        else:
            report.indexed += 1
            report.outcomes[line_of[doc["id"]]] = ("indexed", doc["id"])
            report.clusters[line_of[doc["id"]]] = doc["cluster_id"]


def store_documents(
    client: OpenSearch, alias: str, documents: list[dict], cluster_threshold: float, attempts: int
) -> tuple[list[dict], dict[str, str]]:
    """Every writer's way to store documents: join them to story clusters, index them, then match the indexed
    ones against the saved searches. Returns (the documents with their cluster_id, {id: why refused})."""
    if not documents:
        return [], {}
    clustered = cluster_documents(client, alias, documents, cluster_threshold, attempts)
    refused = index_documents(client, alias, clustered, attempts=attempts)
    match_indexed(client, alias, [doc for doc in clustered if doc["id"] not in refused])
    return clustered, refused


def _last_of_each_id(pending: list[_Pending], reject) -> list[_Pending]:
    """One record per document id: a later record with the same id replaces the earlier, which is reported."""
    last = {p.doc_id: p for p in pending}
    for item in pending:
        if last[item.doc_id] is not item:
            reject(item.line, f"id {item.doc_id[:60]!r} comes again at line {last[item.doc_id].line}; that one is kept")
    return [p for p in pending if last[p.doc_id] is p]


def _assemble_pretranslated(items: list[_Pending]):
    """(item, aligned result or ArticleError) for records that carry their own sentence pairs, in order."""
    for item in items:
        record = item.record
        detection = langid.detect(f"{record.get('title') or ''}\n{record['body']}"[:DETECT_CHARS])
        if detection.language not in ("ar", "en"):
            yield item, ArticleError(f"language is {detection.language}, not Arabic or English")
            continue
        try:
            yield item, align.assemble_pretranslated(record, detection)
        except ValueError as error:
            yield item, ArticleError(str(error))
