"""User query text → simple_query_string syntax, through a small parser we control.

Accepted: words, "quoted phrases", AND, OR, NOT (or a leading -), and parentheses. Everything
else is escaped, so user text can never become query DSL or an operator it did not mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.errors import ServiceError
from service.limits import MAX_QUERY_CHARS

_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_SPECIAL = re.compile(r'([+|\-"*()~\\])')


class QueryError(ServiceError, ValueError):
    """The query cannot be parsed; the message says why, for the user.

    A syntax error also says where: the offending token, its offset in the query (from 0), and the query with that
    token removed, which is the fix a page can offer as a link (None where removing it leaves no query).
    """

    status, code = 400, "bad_query"

    def __init__(self, message: str, token: str | None = None, position: int | None = None, fixed: str | None = None):
        super().__init__(message)
        self.token, self.position, self.fixed = token, position, fixed


def _syntax_error(text: str, problem: str, token: str, position: int, fix: str) -> QueryError:
    """A QueryError naming the token at position (counted from 1 for people) and how to fix it."""
    fixed = " ".join((text[:position] + text[position + len(token) :]).split()) or None
    where = f"“{token}” at character {position + 1}"
    return QueryError(f"{problem}: {where} {fix}", token, position, fixed)


# Lucene's English stop set (the index's _english_ filter) and the commonest of its Arabic one (_arabic_): a query
# of these alone has no term left to look for once analysed, so it finds nothing whatever is in the collection.
ENGLISH_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
ARABIC_STOP_WORDS = frozenset(
    [
        "في",
        "من",
        "على",
        "إلى",
        "الى",
        "عن",
        "مع",
        "أن",
        "ان",
        "إن",
        "هذا",
        "هذه",
        "ذلك",
        "التي",
        "الذي",
        "الذين",
        "كان",
        "كانت",
        "قد",
        "لا",
        "ما",
        "لم",
        "لن",
        "أو",
        "او",
        "ثم",
        "حتى",
        "و",
    ]
)


def only_stop_words(terms: str) -> list[str]:
    """The query's words when every one is a stop word the index leaves out (so nothing can match), else []."""
    words = [word.strip(".,;:!?\"'«»()").lower() for word in terms.split()]
    words = [word for word in words if word]
    if words and all(word in ENGLISH_STOP_WORDS or word in ARABIC_STOP_WORDS for word in words):
        return words
    return []


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # simple_query_string syntax, operators included
    positive: str  # the terms and phrases that must or may match, without operators
    terms: str  # those words as plain text, for translating the query
    excluded: str = (
        ""  # the top-level exclusions (terms and phrases), which hold whichever wording of the query matched
    )

    @classmethod
    def from_words(cls, text: str) -> ParsedQuery:
        """A query of plain words (a machine translation of the user's query): no operators."""
        words = [w for w in re.split(r"\s+", text) if w.strip(".,;:!?")]
        escaped = " ".join(_escape(w) for w in words)
        return cls(escaped, escaped, " ".join(words))


def tokens(text: str) -> list[str]:
    """The query's tokens as the parser reads them: words, "phrases", parentheses and operators."""
    return _TOKEN.findall(text)


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
        quote = text.rfind('"')
        raise _syntax_error(text, "a quotation mark is not closed", '"', quote, "has no closing quotation mark")
    out: list[str] = []
    positive: list[str] = []
    words: list[str] = []
    excluded: list[str] = []
    group_start = 0
    groups: list[bool] = []  # for each open parenthesis, whether it is excluded (NOT (...), -(...))
    negate = False
    expect_operand = True
    opened: list[int] = []  # where each open parenthesis stands
    last_operator = (0, "")  # the latest AND, OR, NOT or -, and where
    for match in _TOKEN.finditer(text):
        token, at = match.group(), match.start()
        depth = len(groups)
        if token in ("AND", "OR"):
            if expect_operand:
                raise _syntax_error(
                    text, f"{token} needs a term on each side", token, at, "has no term before it: remove it"
                )
            out.append("+" if token == "AND" else "|")
            expect_operand, last_operator = True, (at, token)
        elif token in ("NOT", "-"):  # a lone - before a "phrase" or (group) excludes it too
            negate, last_operator = True, (at, token)
        elif token == "(":
            if negate and not depth:
                group_start = len(out)
            out.append(("-" if negate else "") + "(")
            groups.append(negate)
            opened.append(at)
            negate, expect_operand = False, True
        elif token == ")":
            if not groups:
                raise _syntax_error(text, "a parenthesis does not match", ")", at, "closes no ( before it")
            if expect_operand and last_operator[0] > opened[-1]:
                at, operator = last_operator
                raise _syntax_error(text, f"{operator} needs a term on each side", operator, at, "has no term after it")
            if expect_operand:
                raise QueryError(f"the parentheses at character {opened[-1] + 1} hold no term", "(", opened[-1])
            opened.pop()
            out.append(")")
            if groups.pop() and not groups:  # a top-level excluded group holds for every wording, like a word
                excluded.append(_all_of(["(", *out[group_start + 1 :]]))
        else:
            prefix = "-" if negate or (token.startswith("-") and len(token) > 1) else ""
            body = token[1:] if token.startswith("-") and len(token) > 1 and not negate else token
            if body.startswith('"'):
                phrase = body[1:-1].strip()
                if not phrase:
                    raise _syntax_error(text, "a quoted phrase is empty", token, at, "has no words: remove it")
                term, word = '"' + _escape(phrase).replace('\\"', "") + '"', phrase
            else:
                term, word = _escape(body), body
            out.append(prefix + term)
            if prefix and not depth:
                excluded.append(term)
            if not prefix and not any(groups):  # a word inside an excluded group is excluded too
                positive.append(term)
                words.append(word)
            negate, expect_operand = False, False
    if groups:
        raise _syntax_error(text, "a parenthesis is not closed", "(", opened[-1], "has no ) after it")
    if expect_operand or negate:
        at, operator = last_operator
        raise _syntax_error(text, "the query ends with an operator", operator, at, "has no term after it: remove it")
    if not words:
        raise QueryError("the query has no terms to look for, only exclusions")
    return ParsedQuery(" ".join(out), " ".join(positive), " ".join(words), " ".join(excluded))


def _all_of(group: list[str]) -> str:
    """A group's tokens with its implicit ANDs written out: the exclusions are searched with OR between terms."""
    joined: list[str] = []
    for token in group:
        if joined and joined[-1] not in ("(", "-(", "+", "|") and token not in (")", "+", "|"):
            joined.append("+")
        joined.append(token)
    return " ".join(joined)


@dataclass(frozen=True)
class QueryWording:
    """One wording of the query that a search runs: its words, the side of the index they search, and who wrote them."""

    lang: str  # en or ar: the fields it searches
    text: str  # as shown to the user: their own syntax, or the machine's words
    query: ParsedQuery
    by: str  # user (typed, or a translation the user passed), machine (translated for this search), or names
    # (a name's spellings in the collection, or the user's q_names: search/names.py)


_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def _script(text: str) -> str:
    arabic, latin = bool(_ARABIC_LETTER.search(text)), bool(_LATIN_LETTER.search(text))
    return "both" if arabic and latin else "ar" if arabic else "en"


def _units(text: str) -> list[tuple[str, list[str], bool]]:
    """Top-level units (AND/OR, then NOT or -, then a word, phrase or group): (script, tokens, excluded)."""
    units: list[tuple[str, list[str], bool]] = []
    pending: list[str] = []
    group: list[str] = []
    depth = 0
    for token in _TOKEN.findall(text):
        if depth:
            group.append(token)
            depth += {"(": 1, ")": -1}.get(token, 0)
            if depth == 0:
                words = " ".join(t for t in group if t not in ("AND", "OR", "NOT"))
                units.append((_script(words), [*pending, *group], _excluded(pending)))
                pending, group = [], []
        elif token == "(":
            group, depth = [token], 1
        elif token in ("AND", "OR", "NOT") or token == "-":
            pending.append(token)
        else:
            units.append((_script(token), [*pending, token], _excluded(pending) or token.startswith("-")))
            pending = []
    return units


def _excluded(prefix: list[str]) -> bool:
    return any(token in ("NOT", "-") for token in prefix)


def split_by_script(text: str) -> dict[str, str]:
    """A query's Arabic and Latin parts, each in its own syntax: {"en": ..., "ar": ...}, or one side if one script.

    Each top-level word, phrase or parenthesised group goes to its script's side, with the AND/OR before it
    (dropped where it would start a side). Exclusions go to both sides (an excluded word cannot match the other
    script's fields, so it costs nothing there), and a group mixing scripts goes to both sides whole. A side
    with exclusions only is not searched.
    """
    units = _units(text)
    parts: dict[str, list[str]] = {}
    for lang in ("en", "ar"):
        tokens: list[str] = []
        searched = False
        for script, unit, excluded in units:
            if script not in (lang, "both") and not excluded:
                continue
            searched = searched or not excluded
            tokens.extend(unit[1:] if not tokens and unit[0] in ("AND", "OR") else unit)
        if searched:
            parts[lang] = " ".join(tokens)
    return parts
