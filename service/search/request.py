"""What the user asked a search for (pure): the query text, language, filters, sort and page, checked."""

from __future__ import annotations

from dataclasses import dataclass

from service.limits import MAX_PAGE_SIZE, MAX_RESULT_WINDOW

SORTS = ("relevance", "date")
LANGS = ("auto", "en", "ar")


@dataclass(frozen=True)
class SearchRequest:
    """What the user asked for; validated by validate()."""

    query: str
    lang: str = "auto"
    sources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    sort: str = "relevance"
    size: int = 10
    page: int = 1
    q_ar: str | None = None  # the user's own Arabic for the query, searched instead of a machine translation
    q_en: str | None = None  # the same for English
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
