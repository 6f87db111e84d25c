"""Dates as people write them in a search's From and To (pure): ISO days and instants, a month (2018-05), a year,
and day-month-year in words (1 May 2018, May 1, 2018, May 2018), each turned into the ISO date OpenSearch reads.

A From date that names a month or a year starts at its first day, a To date ends at its last, so "from 2018-05 to
2018-05" is the whole of May.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")
_YEAR_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_YEAR = re.compile(r"\d{4}")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")
_MONTH_YEAR = re.compile(r"([a-z]+)\.?,?\s+(\d{4})")
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name} | {
    name.lower(): number for number, name in enumerate(calendar.month_abbr) if name
}
MONTHS["sept"] = 9
EXAMPLES = "2018-03-01, 2018-03 or 1 March 2018"


def parse_date(value: str, end: bool = False) -> str | None:
    """The ISO form of a date as written (the last day of a month or year when end), or None when it is no date.

    An ISO instant (2018-03-01T10:00Z) is kept as it is, once its day is checked to exist.
    """
    if _ISO_INSTANT.fullmatch(instant := value.strip()):
        return instant if _day(int(instant[:4]), int(instant[5:7]), int(instant[8:10])) else None
    text = " ".join(instant.lower().split())
    if match := _YEAR_MONTH.fullmatch(text):
        return _month(int(match[1]), int(match[2]), end)
    if _YEAR.fullmatch(text):
        return f"{text}-12-31" if end else f"{text}-01-01"
    if match := _DAY_MONTH_YEAR.fullmatch(text):
        return _named_day(match[3], match[2], match[1])
    if match := _MONTH_DAY_YEAR.fullmatch(text):
        return _named_day(match[3], match[1], match[2])
    if (match := _MONTH_YEAR.fullmatch(text)) and match[1] in MONTHS:
        return _month(int(match[2]), MONTHS[match[1]], end)
    return None


def _day(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _month(year: int, month: int, end: bool) -> str | None:
    if not 1 <= month <= 12 or year < 1:
        return None
    return _day(year, month, calendar.monthrange(year, month)[1] if end else 1)


def _named_day(year: str, month: str, day: str) -> str | None:
    return _day(int(year), MONTHS[month], int(day)) if month in MONTHS else None
