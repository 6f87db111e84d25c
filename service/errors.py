"""Errors that cross layers: raised where input is read or checked or the cluster called, reported at the edges.

They sit low in the tree, so that reading (files.py), translating (pipeline.py), indexing (index/)
and searching (search/) share them, and the edges (the CLI, the web app, job workers) catch them,
without importing one another.
"""

from __future__ import annotations

import re

# A back end's URL or connection string may carry its password: as a URL's userinfo (scheme://user:PASSWORD@host,
# redis://:PASSWORD@host), as a query parameter (?password=...) or as a conninfo key (password=... sslpassword=...).
# Each pattern starts only where the run it reads does (no scheme or word character before it), so log lines with
# client text are read in linear time, not tried again at each character of a long run.
_URL_WITH_USER = re.compile(r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^\s:/?#@]*:\S*")
_PASSWORD_KEY = re.compile(r"""(?i)(?<!\w)(\w*password\s*=\s*)('[^']*'|"[^"]*"|[^\s&'"]+)""")


def hide_credentials(text: str) -> str:
    """text with every password in a back end's URL or connection string masked, for any message or log."""
    return _PASSWORD_KEY.sub(r"\1***", _URL_WITH_USER.sub(_userinfo_masked, text))


def _userinfo_masked(url: re.Match) -> str:
    """scheme://user:PASSWORD@rest as scheme://user:***@rest (up to the last @, as URL parsers read it)."""
    text = url.group()
    at = text.rfind("@")
    if at < 0:
        return text
    colon = text.index(":", text.index("://") + 3)
    return text[: colon + 1] + "***" + text[at:]


class InputError(ValueError):
    """The input as a whole cannot be read (binary, or invalid UTF-8 in plain text)."""


class ArticleError(ValueError):
    """An article that cannot be translated or indexed; the message is the reason, for reports."""


class RecordError(ArticleError):
    """One JSONL record is bad; the others still go through."""


class SearchUnavailable(RuntimeError):
    """The search cluster (OpenSearch) stayed unreachable or overloaded through every retry."""


class JobsUnavailable(RuntimeError):
    """The job store's database or the job queue's broker could not be reached; the message says which.

    Its message reaches clients and logs, and may quote the back end's URL or error: its passwords are masked."""

    def __init__(self, message: str):
        super().__init__(hide_credentials(message))


class TranslatorBusy(RuntimeError):
    """The translator's queue is full: an interactive caller should come back after retry_after seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
