"""What the start page and a story page show, shaped for their templates (pure): "3 hours ago", a story's
timeline, each version against the first report, and the start page's timeline as browse links."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.search.versions import VersionDiff, body_sentences, compare, lead

BAR_HEIGHT = 100  # the timelines' SVG units


def parse_instant(value: str | dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        instant = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)


def ago(value: str | dt.datetime | None, now: dt.datetime) -> str:
    """How long before now, in the largest whole unit: "just now", "3 hours ago", "2 days ago", "5 years ago"."""
    instant = parse_instant(value)
    if instant is None:
        return "no date"
    seconds = (now - instant).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, length in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = int(seconds // length)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def after(value: str | None, first: str | None) -> str:
    """How long after the first report a version came: "+2 hours", "+3 days", "same time"."""
    instant, start = parse_instant(value), parse_instant(first)
    if instant is None or start is None:
        return ""
    seconds = (instant - start).total_seconds()
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            count = int(seconds // length)
            return f"+{count} {unit}{'' if count == 1 else 's'}"
    return "same time"


@dataclass(frozen=True)
class Bar:
    label: str  # the bucket, as a reader names it
    count: int
    height: int  # of BAR_HEIGHT; at least a visible sliver when count > 0
    start: str = ""  # the bucket's first day (YYYY-MM-DD), for browse links
    end: str = ""  # its last day


def story_timeline(published: list[str | None]) -> list[Bar]:
    """The story's articles per hour (a story of up to two days), per day (up to two months) or per month,
    empty buckets included between the first and the last, so the pace shows."""
    instants = sorted(i for i in map(parse_instant, published) if i is not None)
    if not instants:
        return []
    span = instants[-1] - instants[0]
    if span <= dt.timedelta(days=2):
        step, floor, label = dt.timedelta(hours=1), _hour, "%-d %b %H:00"
    elif span <= dt.timedelta(days=62):
        step, floor, label = dt.timedelta(days=1), _day, "%-d %b %Y"
    else:
        step, floor, label = None, _month, "%b %Y"
    counts: dict[dt.datetime, int] = {}
    for instant in instants:
        counts[floor(instant)] = counts.get(floor(instant), 0) + 1
    buckets, bucket = [], floor(instants[0])
    while bucket <= floor(instants[-1]):
        buckets.append(bucket)
        bucket = bucket + step if step else _next_month(bucket)
    highest = max(counts.values())
    return [
        Bar(b.strftime(label), counts.get(b, 0), _height(counts.get(b, 0), highest), f"{b:%Y-%m-%d}") for b in buckets
    ]


def collection_timeline(buckets: list[dict], interval: str | None) -> list[Bar]:
    """The start page's bars (auto_date_histogram buckets of `interval`, such as "1d", "7d", "1M", "1y"), each a
    browse link to its dates."""
    highest = max((b["count"] for b in buckets), default=0)
    bars = []
    for b in buckets:
        start = b["start"]
        end = _bucket_end(start, interval or "1d") - dt.timedelta(seconds=1)
        label = start.strftime(
            "%Y" if (interval or "").endswith("y") else "%b %Y" if "M" in (interval or "") else "%-d %b %Y"
        )
        bars.append(Bar(label, b["count"], _height(b["count"], highest), f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"))
    return bars


@dataclass(frozen=True)
class VersionView:
    version: dict
    lead: str
    lead_ar: str
    diff: VersionDiff
    first: bool
    after: str  # how long after the first report


def version_views(versions: list[dict]) -> list[VersionView]:
    """Each version with its lead and what it adds or drops against the first report (the oldest version)."""
    if not versions:
        return []
    first = versions[0]
    first_sentences = body_sentences(first.get("sentences", []))
    views = []
    for position, version in enumerate(versions):
        sentences = version.get("sentences", [])
        views.append(
            VersionView(
                version,
                lead(sentences),
                lead(sentences, "ar"),
                compare(first_sentences, body_sentences(sentences)) if position else VersionDiff(),
                position == 0,
                after(version.get("published"), first.get("published")) if position else "",
            )
        )
    return views


def _height(count: int, highest: int) -> int:
    if not count or not highest:
        return 0
    return max(round(BAR_HEIGHT * count / highest), 8)  # a one-article bucket is still seen (and hit)


def _hour(instant: dt.datetime) -> dt.datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def _day(instant: dt.datetime) -> dt.datetime:
    return instant.replace(hour=0, minute=0, second=0, microsecond=0)


def _month(instant: dt.datetime) -> dt.datetime:
    return _day(instant).replace(day=1)


def _next_month(instant: dt.datetime, months: int = 1) -> dt.datetime:
    index = instant.year * 12 + instant.month - 1 + months
    return instant.replace(year=index // 12, month=index % 12 + 1, day=1)


def _bucket_end(start: dt.datetime, interval: str) -> dt.datetime:
    """The instant after the bucket that starts at start (auto_date_histogram intervals: 1s…1h, 1d, 7d, 1M, 3M, 1y,
    5y…)."""
    count, unit = int(interval[:-1] or 1), interval[-1]
    if unit == "M":
        return _next_month(start, count)
    if unit == "y":
        return _next_month(start, 12 * count)
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit, 86400)
    return start + dt.timedelta(seconds=count * seconds)
