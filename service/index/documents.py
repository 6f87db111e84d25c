"""From an input record to the index document (pure functions): the one check every writer uses, then the shape."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from service.errors import ArticleError
from service.limits import MAX_ID_BYTES
from service.pipeline import validate

URL_SCHEMES = ("http", "https")
DOT_SEGMENTS = (".", "..")


@dataclass(frozen=True)
class CheckedRecord:
    """A record fit to index: what to translate, its document id and content hash, and its checked fields."""

    record: dict  # the input without the fields that were dropped; this is what gets translated
    doc_id: str
    digest: str
    fields: dict  # source, url, published, category, as they go into the document
    dropped: dict[str, str] = field(default_factory=dict)  # field → why it was left out


def check_record(record) -> CheckedRecord:
    """Check a record once for every writer (ingest, API, jobs): ArticleError with the reason when it is unfit."""
    validate(record)
    try:
        digest = content_hash(record)
    except UnicodeEncodeError:
        raise ArticleError("record holds a lone surrogate, which is not valid Unicode") from None
    doc_id = document_id(record, digest)
    check_id(doc_id)
    fields = {
        "source": _text(record, "source"),
        "url": None,
        "published": published_date(record),
        "category": _text(record, "category"),
    }
    dropped = {}
    try:
        fields["url"] = checked_url(record.get("url"))
    except ValueError as error:
        dropped["url"] = str(error)
    kept = {key: value for key, value in record.items() if key not in dropped}
    return CheckedRecord(kept, doc_id, digest, fields, dropped)


def content_hash(record: dict) -> str:
    """Hash of the whole input record: any change to it means the article is processed again."""
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def document_id(record: dict, digest: str) -> str:
    """The article's own id, or its content hash when it has none."""
    given = record.get("id")
    if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given).strip():
        return str(given).strip()
    return f"sha256-{digest}"


def check_id(doc_id: str) -> None:
    """ArticleError unless the id is at most MAX_ID_BYTES bytes of UTF-8, without control characters, and reaches
    its article's page, download and DELETE as a URL path (a URL as id does: "https://example.org/a?b#c")."""
    size = len(doc_id.encode("utf-8", "surrogatepass"))
    if size > MAX_ID_BYTES:
        raise ArticleError(f"id is {size} bytes of UTF-8; at most {MAX_ID_BYTES} are allowed")
    if any(unicodedata.category(char) == "Cc" for char in doc_id):
        raise ArticleError("id contains control characters")
    # In /articles/<id>, Werkzeug redirects a leading slash away, and browsers and curl resolve "." and ".."
    # segments: the id's links, and its DELETE, would reach another article or none.
    if doc_id.startswith("/") or any(part in DOT_SEGMENTS for part in doc_id.split("/")):
        raise ArticleError('id starts with "/" or has a "." or ".." segment between slashes, which URLs do not keep')


def checked_url(value) -> str | None:
    """The url, stripped, when it is an http(s) URL with a host; None when absent; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("url is not a string; it was left out")
    url = value.strip()
    if any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        raise ValueError("url contains spaces or control characters; it was left out")
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        raise ValueError(f"url {url[:40]!r} is not an http(s) URL; it was left out")
    return url


def published_date(record: dict) -> str | None:
    """The article's publication date (`published` or `date`), checked as ISO-8601 with a UTC date Python can hold."""
    value = record.get("published", record.get("date"))
    if value in (None, ""):
        return None
    try:
        published = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ArticleError(f"date {str(value)[:40]!r} is not ISO-8601") from None
    if published.tzinfo is not None:  # a time without a zone is read as UTC already
        try:  # readers (feeds, date filters) take it in UTC, where 0001-01-01T00:00+14:00 has no date
            published.astimezone(dt.UTC)
        except OverflowError:
            raise ArticleError(f"date {str(value)[:40]!r} is out of range in UTC (years 1 to 9999)") from None
    return published.isoformat()


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    return str(value) if isinstance(value, (str, int, float)) and str(value).strip() else None


def to_document(result: dict, checked: CheckedRecord, ingested_at: str) -> dict:
    """The index document for a translated (or English, or pre-translated) article and its checked record."""
    translation = result["translation"]
    return {
        "id": checked.doc_id,
        **checked.fields,
        "language": result["language"]["language"],
        "language_confidence": result["language"]["confidence"],
        "model": translation["model"],
        "demo": translation["demo"],
        "translated": translation["translated"],
        "translation_score": translation["score"],
        "ingested_at": ingested_at,
        "content_hash": checked.digest,
        "title": result.get("title") or "",
        "body": result["body"],
        "title_en": result["title_en"],
        "body_en": result["body_en"],
        "sentences": [
            {
                "position": i,
                "field": s["field"],
                "paragraph": s["paragraph"],
                "start": s["span"][0],
                "end": s["span"][1],
                "score": s["score"],
                "ar": s["source"],
                "en": s["target"],
                **({"alignment": s["alignment"]} if s.get("alignment") is not None else {}),
            }
            for i, s in enumerate(result["sentences"])
        ],
    }
