"""Why OpenSearch refused something, read defensively: error bodies may be dicts, strings, or lack keys."""

from __future__ import annotations

from typing import Any

from opensearchpy.exceptions import TransportError

MAX_REASON = 300


def shorten(text: str, limit: int = MAX_REASON) -> str:
    """The text within limit characters, eliding the middle: reasons often quote the input first, the rule last."""
    if len(text) <= limit:
        return text
    half = (limit - 1) // 2
    return f"{text[:half]}…{text[-half:]}"


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def reason_in(detail: Any) -> str:
    """The most specific reason in an error body ({"error": {"root_cause": [{"reason"}]}}, {"reason"}, a string)."""
    for _ in range(4):  # error → root_cause[0] → reason, at most a few levels deep
        if not isinstance(detail, dict):
            break
        inner = detail.get("error", _first(detail.get("root_cause")))
        if isinstance(inner, (dict, str)) and inner:
            detail = inner
            continue
        break
    if isinstance(detail, dict):
        detail = detail.get("reason") or detail.get("type")
    return shorten(str(detail)) if detail else ""


def refusal_reason(error: TransportError) -> str:
    """The reason OpenSearch gave for refusing a request, or the exception's own text."""
    info = error.args[2] if len(error.args) > 2 else None
    return reason_in(info) or shorten(str(error.args[1] if len(error.args) > 1 else type(error).__name__))
