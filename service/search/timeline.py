"""The timeline's buckets (pure): the calendar interval a span of dates is counted in, and each bucket's days.

A timeline draws at most MAX_BARS bars, so it stays readable in one column: day bars for results that span up to
MAX_BARS days, week bars (ISO weeks, from Monday) up to MAX_BARS weeks, month bars up to MAX_BARS months, and year
bars beyond (the search asks OpenSearch for the first MAX_BARS + 1 buckets of each interval; only the chosen one is
drawn).
"""

from __future__ import annotations

import calendar
import datetime as dt

INTERVALS = ("day", "week", "month", "year")  # OpenSearch date_histogram calendar_interval names
MAX_BARS = 60


def bucket_interval(first: dt.date, last: dt.date) -> str:
    """The finest interval in which the days from first to last take at most MAX_BARS bars."""
    if (last - first).days + 1 <= MAX_BARS:
        return "day"
    if (last - bucket_start(first, "week")).days // 7 + 1 <= MAX_BARS:
        return "week"
    if (last.year - first.year) * 12 + last.month - first.month + 1 <= MAX_BARS:
        return "month"
    return "year"


def bucket_start(day: dt.date, interval: str) -> dt.date:
    """The first day of the bucket holding day."""
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    if interval == "year":
        return day.replace(month=1, day=1)
    return day


def bucket_end(start: dt.date, interval: str) -> dt.date:
    """The last day of the bucket that starts on start."""
    if interval == "week":
        return start + dt.timedelta(days=6)
    if interval == "month":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    if interval == "year":
        return start.replace(month=12, day=31)
    return start


def buckets_between(first: dt.date, last: dt.date, interval: str) -> list[dt.date]:
    """The first days of every bucket from the one holding first to the one holding last, empty ones included."""
    starts, start = [], bucket_start(first, interval)
    while start <= last:
        starts.append(start)
        start = bucket_end(start, interval) + dt.timedelta(days=1)
    return starts
