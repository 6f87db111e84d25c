"""What the user asked a search for (pure): the query text, language, filters, sort and page, checked."""

from __future__ import annotations

import datetime as dt
from dataclasses import KW_ONLY, dataclass

from service.errors import ServiceError
from service.limits import MAX_PAGE_SIZE, MAX_RESULT_WINDOW
from service.search.query import QueryError

SORTS = ("relevance", "date")
LANGS = ("auto", "en", "ar")


class ReversedDates(ServiceError, ValueError):
    """The date range ends before it starts."""

    status, code = 400, "reversed_dates"


class PastLastPage(QueryError):
    """The page asked for lies past the last page of results; last_page says which page is the last one."""

    code = "past_last_page"

    def __init__(self, message: str, last_page: int):
        super().__init__(message)
        self.last_page = last_page


@dataclass(frozen=True)
class SearchRequest:
    """What the user asked for; validated by validate()."""

    query: str
    _: KW_ONLY  # a dozen fields: named at every call, never told apart by position
    lang: str = "auto"
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the people and places chosen, by name key (service/names/people.py)
    date_from: str | None = None
    date_to: str | None = None
    sort: str = "relevance"
    size: int = 10
    page: int = 1
    q_ar: str | None = None  # the user's own Arabic for the query, searched instead of a machine translation
    q_en: str | None = None  # the same for English
    q_names: str | None = None  # the user's own Arabic spellings of the query's names, instead of the collection's
    collapse: bool = True  # one hit per story cluster; False shows every article

    def validate(self) -> None:
        if self.lang not in LANGS:
            raise ValueError(f"lang must be one of {', '.join(LANGS)}")
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise ValueError(f"size must be between 1 and {MAX_PAGE_SIZE}")
        if self.page < 1 or self.page * self.size > MAX_RESULT_WINDOW:
            raise ValueError(f"page must be at least 1, and page x size at most {MAX_RESULT_WINDOW}")
        start, end = _instant(self.date_from), _instant(self.date_to)
        if start and end and start > end:
            raise ReversedDates(
                f"the date range is reversed: from ({self.date_from}) is after to ({self.date_to}); swap them"
            )

    def check_page(self, total: int, shown: int, stories: int | None = None) -> None:
        """PastLastPage when results exist but this page is past them, so a client is told, not shown nothing.

        stories: the number of hits the pages hold when the search collapsed articles into stories.
        """
        if self.page > 1 and total > 0 and shown == 0:
            pages = -(-(stories or total) // self.size)
            matches = f"{total} articles" if stories in (None, total) else f"{total} articles in {stories} stories"
            raise PastLastPage(
                f"page {self.page} is past the end of the results: {matches} match, {pages} pages of {self.size} at most",
                last_page=pages,
            )


def _instant(value: str | None) -> dt.datetime | None:
    """An ISO-8601 date as an aware instant (UTC unless it says otherwise), or None; OpenSearch judges the rest."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
