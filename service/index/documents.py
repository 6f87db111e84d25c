"""From the translation JSON shape to the index document (pure functions)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from service.pipeline import ArticleError


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


def published_date(record: dict) -> str | None:
    """The article's publication date (`published` or `date`), checked as ISO-8601."""
    value = record.get("published", record.get("date"))
    if value in (None, ""):
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ArticleError(f"date {str(value)[:40]!r} is not ISO-8601") from None


def _text(record: dict, key: str) -> str | None:
    value = record.get(key)
    return str(value) if isinstance(value, (str, int, float)) and str(value).strip() else None


def to_document(result: dict, doc_id: str, digest: str, ingested_at: str) -> dict:
    """The index document for a translated (or English, or pre-translated) article."""
    translation = result["translation"]
    return {
        "id": doc_id, "source": _text(result, "source"), "url": _text(result, "url"),
        "published": published_date(result), "category": _text(result, "category"),
        "language": result["language"]["language"], "language_confidence": result["language"]["confidence"],
        "model": translation["model"], "demo": translation["demo"], "translated": translation["translated"],
        "translation_score": translation["score"], "ingested_at": ingested_at, "content_hash": digest,
        "title": result.get("title") or "", "body": result["body"],
        "title_en": result["title_en"], "body_en": result["body_en"],
        "sentences": [
            {"position": i, "field": s["field"], "paragraph": s["paragraph"], "start": s["span"][0],
             "end": s["span"][1], "score": s["score"], "ar": s["source"], "en": s["target"]}
            for i, s in enumerate(result["sentences"])
        ],
    }
