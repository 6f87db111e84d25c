"""Errors that cross layers: raised where input is read or checked or the cluster called, reported at the edges.

They sit low in the tree, so that reading (files.py), translating (pipeline.py), indexing (index/)
and searching (search/) share them, and the edges (the CLI, the web app, job workers) catch them,
without importing one another.
"""

from __future__ import annotations


class InputError(ValueError):
    """The input as a whole cannot be read (binary, or invalid UTF-8 in plain text)."""


class ArticleError(ValueError):
    """An article that cannot be translated or indexed; the message is the reason, for reports."""


class RecordError(ArticleError):
    """One JSONL record is bad; the others still go through."""


class SearchUnavailable(RuntimeError):
    """The search cluster (OpenSearch) stayed unreachable or overloaded through every retry."""


class JobsUnavailable(RuntimeError):
    """The job store's database or the job queue's broker could not be reached; the message says which."""


class TranslatorBusy(RuntimeError):
    """The translator's queue is full: an interactive caller should come back after retry_after seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
