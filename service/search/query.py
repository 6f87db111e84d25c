"""User query text → simple_query_string syntax, through a small parser we control.

Accepted: words, "quoted phrases", AND, OR, NOT (or a leading -), and parentheses. Everything
else is escaped, so user text can never become query DSL or an operator it did not mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.limits import MAX_QUERY_CHARS

_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_SPECIAL = re.compile(r'([+|\-"*()~\\])')


class QueryError(ValueError):
    """The query cannot be parsed; the message says why, for the user."""

    code = "bad_query"  # the API's error code


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # simple_query_string syntax, operators included
    positive: str  # the terms and phrases that must or may match, without operators
    terms: str  # those words as plain text, for translating the query

    @classmethod
    def from_words(cls, text: str) -> ParsedQuery:
        """A query of plain words (a machine translation of the user's query): no operators."""
        words = [w for w in re.split(r"\s+", text) if w.strip(".,;:!?")]
        escaped = " ".join(_escape(w) for w in words)
        return cls(escaped, escaped, " ".join(words))


def _escape(word: str) -> str:
    return _SPECIAL.sub(r"\\\1", word)


def parse(text: str) -> ParsedQuery:
    """Turn user text into simple_query_string syntax, or raise QueryError with a clear reason."""
    text = (text or "").strip()
    if not text:
        raise QueryError("the query is empty")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if text.count('"') % 2:
        raise QueryError("a quotation mark is not closed")
    out: list[str] = []
    positive: list[str] = []
    words: list[str] = []
    depth = 0
    negate = False
    expect_operand = True
    for token in _TOKEN.findall(text):
        if token in ("AND", "OR"):
            if expect_operand:
                raise QueryError(f"{token} needs a term on each side")
            out.append("+" if token == "AND" else "|")
            expect_operand = True
        elif token == "NOT" or (token == "-" and expect_operand):
            negate = True
        elif token == "(":
            out.append(("-" if negate else "") + "(")
            negate, depth, expect_operand = False, depth + 1, True
        elif token == ")":
            depth -= 1
            if depth < 0 or expect_operand:
                raise QueryError("a parenthesis does not match")
            out.append(")")
        else:
            prefix = "-" if negate or (token.startswith("-") and len(token) > 1) else ""
            body = token[1:] if token.startswith("-") and len(token) > 1 and not negate else token
            if body.startswith('"'):
                phrase = body[1:-1].strip()
                if not phrase:
                    raise QueryError("a quoted phrase is empty")
                term, word = '"' + _escape(phrase).replace('\\"', "") + '"', phrase
            else:
                term, word = _escape(body), body
            out.append(prefix + term)
            if not prefix:
                positive.append(term)
                words.append(word)
            negate, expect_operand = False, False
    if depth != 0:
        raise QueryError("a parenthesis is not closed")
    if expect_operand or negate:
        raise QueryError("the query ends with an operator")
    if not words:
        raise QueryError("the query has no terms to look for, only exclusions")
    return ParsedQuery(" ".join(out), " ".join(positive), " ".join(words))
