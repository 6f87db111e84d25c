"""Errors that cross layers: raised where input is read or checked or the cluster called, reported at the edges.

They sit low in the tree, so that reading (files.py), translating (pipeline.py), indexing (index/)
and searching (search/) share them, and the edges (the CLI, the web app, job workers) catch them,
without importing one another.
"""

from __future__ import annotations

import logging
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


class ServiceError(Exception):
    """The base of every error a user can cause or see. The CLI prints its message on one line; the web app answers
    {"error": {"code", "message"}} with its status (web/errors.py), each catching this base once.

    A subclass states its status and code. Status 500 says the client cannot fix it: the web app logs it with its
    traceback and answers a plain internal error, as for any unexpected exception.
    """

    status = 500
    code = "internal_error"
    client_message: str | None = None  # a fixed wording for clients, where the message is for the operator
    log_level: int | None = None  # set where an operator should hear of each one the web app answers

    def response_headers(self) -> dict[str, str]:
        """Headers the web app's answer carries besides the body."""
        return {}


class InputError(ServiceError, ValueError):
    """The input as a whole cannot be read (binary, or invalid UTF-8 in plain text)."""

    status, code = 400, "invalid_utf8"


class ArticleError(ServiceError, ValueError):
    """An article that cannot be translated or indexed; the message is the reason, for reports."""

    status, code = 400, "bad_article"


class RecordError(ArticleError):
    """One JSONL record is bad; the others still go through."""

    code = "bad_record"


class SearchUnavailable(ServiceError, RuntimeError):
    """The search cluster (OpenSearch) stayed unreachable or overloaded through every retry."""

    status, code = 503, "search_unavailable"
    client_message = "search is down for a moment (the search index cannot be reached); try again shortly"


class JobsUnavailable(ServiceError, RuntimeError):
    """The job store's database or the job queue's broker could not be reached; the message says which.

    Its message reaches clients and logs, and may quote the back end's URL or error: its passwords are masked."""

    status, code, log_level = 503, "jobs_unavailable", logging.WARNING

    def __init__(self, message: str):
        super().__init__(hide_credentials(message))


class TranslatorBusy(ServiceError, RuntimeError):
    """The translator's queue is full: an interactive caller should come back after retry_after seconds."""

    status, code = 503, "translator_busy"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
