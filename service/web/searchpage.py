"""What the search page shows beyond the API's answer (pure): errors in the user's words, facet choices with
readable labels, the timeline and its presets, times in words, aligned sentence rows, stories' other outlets, a
language mix-up, and the Arabic spellings of the query's names to try when nothing was found.

Everything that becomes markup here is escaped first, except OpenSearch's highlights, which its html encoder
escaped (only <mark> tags are its own).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from markupsafe import Markup, escape

from service.errors import ServiceError
from service.search import query as query_parser
from service.search.dates import EXAMPLES as DATE_EXAMPLES
from service.search.dates import parse_date
from service.search.names import either
from service.search.query import QueryError
from service.search.results import facet_label
from service.search.timeline import MAX_BARS, bucket_end, buckets_between
from service.text import langid

LANGUAGE_NAMES = {"en": "English", "ar": "Arabic"}
PROVENANCE_LABELS = {
    "machine": "machine translation",
    "human": "human translation",
    "demo": "demo model: the English is noise",
    "original": "English original",
}
SENTENCES_PER_HIT = 2  # shown at once; the rest of the matched pairs fold under "+N more"
FILTERS = ("source", "category", "name", "from", "to")  # what narrows the articles (lang says how the query is read)
OUTLETS_NAMED = 2
WORDINGS = ("q_ar", "q_en", "q_names", "wording_for")  # the user's own wordings, and the query they belong to


class PageProblem(ServiceError, ValueError):
    """A search the page cannot run as asked, told in the user's words, with a link that fixes it when one does."""

    status, code = 400, "bad_request"

    def __init__(
        self,
        message: str,
        fix_label: str | None = None,
        fix_args: dict | None = None,
        marked_query: Markup | None = None,
    ):
        super().__init__(message)
        self.message, self.fix_label, self.fix_args = message, fix_label, fix_args
        self.marked_query = marked_query  # the query with the part at fault in <mark>


# Errors


def check_page_and_dates(args: dict[str, list[str]]) -> dict[str, list[str]]:
    """The arguments with From and To as ISO dates (2018-05 and 1 May 2018 are dates too); PageProblem for a page
    that is no number or a date that is no date, before the API's own wording, whether or not there is a query."""
    page = (args.get("page") or [""])[0].strip()
    if page and not (page.isdigit() and int(page) >= 1):
        raise PageProblem(
            f"“{page}” is not a page number: pages are numbered 1, 2, 3 …",
            "Go to the first page",
            without(args, "page"),
        )
    dated = dict(args)
    for name, label in (("from", "From"), ("to", "To")):
        value = (args.get(name) or [""])[0].strip()
        if not value:
            continue
        iso = parse_date(value, end=name == "to")
        if iso is None:
            raise PageProblem(
                f"The {label} date “{value}” is not a date the search understands: write it as {DATE_EXAMPLES}.",
                f"Search without the {label} date",
                without(args, name, "page"),
            )
        dated[name] = [iso]
    return dated


def reversed_dates(args: dict[str, list[str]]) -> PageProblem:
    start, end = args["from"][0], args["to"][0]
    return PageProblem(
        f"The dates are the wrong way round: From ({start}) is after To ({end}).",
        "Search with the dates swapped",
        {**without(args, "page"), "from": [end], "to": [start]},
    )


def past_last_page(args: dict[str, list[str]], page: int, last_page: int) -> PageProblem:
    return PageProblem(
        f"There is no page {page}: the results end on page {last_page}.",
        f"Go to the last page ({last_page})",
        {**args, "page": [str(last_page)]},
    )


def page_out_of_range(args: dict[str, list[str]]) -> PageProblem:
    return PageProblem(
        "Results can be paged only this far: narrow the search with more words, a source or dates instead.",
        "Go to the first page",
        without(args, "page"),
    )


def without(args: dict[str, list[str]], *names: str) -> dict[str, list[str]]:
    """The arguments less those named (the page number, when a change makes it meaningless)."""
    return {name: values for name, values in args.items() if name not in names}


def query_problem(error: QueryError, args: dict[str, list[str]]) -> PageProblem:
    """A syntax error with the query shown and the offending token marked, and the query without it as the fix
    (only where that query parses: removing one token does not always mend it)."""
    message = _sentence(str(error))
    if error.position is None:
        return PageProblem(message)
    fixed = error.fixed
    try:
        query_parser.parse(fixed or "")
    except QueryError:
        fixed = None
    query = (args.get("q") or [""])[0].strip()  # as parsed: positions count from its first character
    start, end = error.position, error.position + len(error.token or "")
    if query[start:end] != error.token:  # the error is in another wording (q_ar, q_en), not in the query shown
        return PageProblem(message)
    marked = Markup("{}<mark>{}</mark>{}").format(query[:start], query[start:end], query[end:])
    if fixed is None:
        return PageProblem(message, marked_query=marked)
    return PageProblem(message, f"Search for “{fixed}” instead", {**without(args, "page"), "q": [fixed]}, marked)


def _sentence(message: str) -> str:
    """The parser's message (a clause, as the API and the CLI give it) as a sentence on the page."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def stop_words_only(query: str) -> list[str]:
    """The query's words when all of them are too common for the index to keep (a search for them finds nothing)."""
    try:
        return query_parser.only_stop_words(query_parser.parse(query).terms)
    except QueryError:
        return []


# Filters


@dataclass(frozen=True)
class ActiveFilter:
    label: str  # Source: BBC Arabic
    args: dict  # the search without it


def active_filters(args: dict[str, list[str]], name_labels: dict[str, str] | None = None) -> list[ActiveFilter]:
    """Each chosen filter with the search that drops it, in the order the panel lists them.

    name_labels: the chosen people and places' display forms, by key (a key alone reads as its skeleton)."""
    chosen = []
    for name in FILTERS:
        for value in dict.fromkeys(v for v in args.get(name, []) if v.strip()):
            rest = [v for v in args[name] if v != value]
            if name == "name":
                label = f"Name: {(name_labels or {}).get(value, value)}"
            else:
                label = f"{name.capitalize()}: {facet_label(value) if name in ('source', 'category') else value}"
            chosen.append(ActiveFilter(label, {**without(args, name, "page"), **({name: rest} if rest else {})}))
    return chosen


def is_browse(args: dict[str, list[str]]) -> bool:
    """A filter-only search: no query, but a source, category or date to list the articles of."""
    return not (args.get("q") or [""])[0].strip() and any(v.strip() for n in FILTERS for v in args.get(n, []))


# The language menu


def language_mix_up(query: str, lang: str) -> str | None:
    """The language the query is written in when the Language menu names the other one, else None.

    A query mixing both scripts is no mix-up: each part searches its own side.
    """
    if lang not in LANGUAGE_NAMES:
        return None
    try:
        parsed = query_parser.parse(query)
        parts = query_parser.split_by_script(query)
    except QueryError:
        return None
    if len(parts) > 1:
        return None
    written = "ar" if langid.detect(parsed.terms).language == "ar" else "en"
    return written if written != lang else None


# Facets


@dataclass(frozen=True)
class FacetOption:
    value: str
    label: str
    count: int
    checked: bool


def facet_options(buckets: list[dict], chosen: list[str], collection: list[str] = ()) -> list[FacetOption]:
    """The collection's values in its own order (largest first, as the whole collection counts them), each with
    this search's count or 0, then any other value the search counted, then the chosen ones it did not: the list
    keeps its order under the pointer while choices change the counts, and a choice can always be undone."""
    counts = {b["value"]: b["count"] for b in buckets}
    values = dict.fromkeys([*collection, *counts, *(v for v in chosen if v)])
    return [FacetOption(v, facet_label(v), counts.get(v, 0), v in chosen) for v in values]


@dataclass(frozen=True)
class NameOption:
    """A person or place in the facet: its key (the filter's value), display form, Arabic spellings and count."""

    value: str
    label: str
    spellings: tuple[str, ...]
    kind: str | None
    count: int
    checked: bool


def name_options(buckets: list[dict], chosen: list[str]) -> list[NameOption]:
    """The names the results name most, in the order the API counts them, then the chosen ones they do not (at 0,
    so a choice can always be undone)."""
    options = [
        NameOption(b["value"], b.get("label") or b["value"], tuple(b.get("spellings") or ()), b.get("kind"),
                   b["count"], b["value"] in chosen)
        for b in buckets
    ]  # fmt: skip
    listed = {option.value for option in options}
    return options + [NameOption(v, v, (), None, 0, True) for v in dict.fromkeys(chosen) if v and v not in listed]


# The timeline


@dataclass(frozen=True)
class Bar:
    """One bucket of the timeline: a link that narrows the search to its days, or a gap (args None)."""

    start: str  # yyyy-MM-dd, the From date of its link
    end: str  # its To date
    name: str  # "12 articles, week of 4 May 2018": what a screen reader and the tooltip say
    tick: str | None  # its label on the axis ("4 May"), on every few bars only
    count: int
    height: int  # in steps of 5 % of the chart (1 to 20); MIN_HEIGHT at least when the bucket has articles
    args: dict | None  # the search narrowed to this bucket; None for a bucket without matches
    chosen: bool  # inside the chosen dates (every bar is, without dates): the others are greyed as context


@dataclass(frozen=True)
class Preset:
    label: str  # Last 7 days
    args: dict  # the search with its From (and, before the newest article, To) date
    current: bool


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    interval: str  # day, week, month or year
    span: str  # "26 February – 3 September 2018"
    chosen: str | None  # the chosen dates in words, when there are any
    presets: list[Preset]
    anchored: str | None  # the newest match's date when the presets end there rather than now


HEIGHT_STEPS = 20
MIN_HEIGHT = 3  # steps: a bucket of one article among hundreds is still a bar that can be seen and pointed at
TICKS = 8  # axis labels at most
PRESETS = (
    ("Last 24 hours", dt.timedelta(hours=24)),
    ("Last 7 days", dt.timedelta(days=7)),
    ("Last 30 days", dt.timedelta(days=30)),
)


def timeline(
    buckets: list[dict], args: dict[str, list[str]], now: dt.datetime, newest: str | None = None
) -> Timeline | None:
    """The results counted per day, week, month or year (as search chose), from the first bucket with matches to
    the last with gaps between, the chosen dates' bars lit among the others; None when nothing has a date."""
    counts = {}
    for bucket in buckets:
        try:
            counts[dt.date.fromisoformat(bucket["value"])] = bucket["count"]
        except ValueError:  # a date before year 1 in UTC: it cannot be a From date either
            continue
    counts = {day: count for day, count in counts.items() if count > 0}
    if not counts:
        return None
    interval = buckets[0].get("interval", "month")
    starts = buckets_between(min(counts), max(counts), interval)
    if len(starts) > MAX_BARS + 1:  # more buckets than OpenSearch returned: the ones with matches only
        starts = sorted(counts)
    date_from, date_to = _chosen_days(args)
    tallest, every = max(counts.values()), -(-len(starts) // TICKS)
    bars = []
    for index, start in enumerate(starts):
        count, end = counts.get(start, 0), bucket_end(start, interval)
        narrowed = {**without(args, "page"), "from": [start.isoformat()], "to": [end.isoformat()]} if count else None
        height = max(MIN_HEIGHT, -(-HEIGHT_STEPS * count // tallest)) if count else 0
        chosen = (date_from is None or end >= date_from) and (date_to is None or start <= date_to)
        tick = _tick(start, interval) if index % every == 0 else None
        name = f"{count} article{'' if count == 1 else 's'}, {_bucket_words(start, interval)}"
        bars.append(Bar(start.isoformat(), end.isoformat(), name, tick, count, height, narrowed, chosen))
    chosen_words = _range_words(date_from, date_to) if date_from or date_to else None
    presets, anchored = timeline_presets(args, now, newest)
    span = _range_words(starts[0], bucket_end(starts[-1], interval))
    return Timeline(bars, interval, span, chosen_words, presets, anchored)


def timeline_presets(
    args: dict[str, list[str]], now: dt.datetime, newest: str | None
) -> tuple[list[Preset], str | None]:
    """The last 24 hours, 7 days and 30 days up to now; when the newest match is older than that, up to it instead
    (a demo's collection is years old: presets ending now would show nothing), with its date to say so."""
    newest_time = _instant(newest)
    anchored = newest_time is not None and newest_time < now - PRESETS[-1][1]
    end = newest_time if anchored else now
    presets = []
    for label, length in PRESETS:
        chosen = {"from": [_minute(end - length)]}
        if anchored:
            chosen["to"] = [end.date().isoformat()]
        narrowed = {**without(args, "page", "from", "to"), **chosen}
        current = all(args.get(key) == value for key, value in chosen.items()) and (anchored or not args.get("to"))
        presets.append(Preset(label, narrowed, current))
    return presets, (_day_words(newest_time.date()) if anchored else None)


def _minute(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%MZ")


def _instant(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _chosen_days(args: dict[str, list[str]]) -> tuple[dt.date | None, dt.date | None]:
    days = []
    for name in ("from", "to"):
        iso = parse_date((args.get(name) or [""])[0].strip(), end=name == "to")  # 2018-05, 1 May 2018 too
        days.append(dt.date.fromisoformat(iso[:10]) if iso else None)
    return days[0], days[1]


def _tick(start: dt.date, interval: str) -> str:
    if interval == "year":
        return str(start.year)
    if interval == "month":
        return f"{calendar.month_abbr[start.month]} {start.year}"
    return f"{start.day} {calendar.month_abbr[start.month]}"


def _bucket_words(start: dt.date, interval: str) -> str:
    if interval == "year":
        return str(start.year)
    if interval == "month":
        return f"{calendar.month_name[start.month]} {start.year}"
    if interval == "week":
        return f"week of {_day_words(start)}"
    return _day_words(start)


def _day_words(day: dt.date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def _range_words(first: dt.date | None, last: dt.date | None) -> str:
    if first and last:
        return _day_words(first) if first == last else f"{_day_words(first)} – {_day_words(last)}"
    return f"from {_day_words(first)}" if first else f"up to {_day_words(last)}"


# Times on hits


def relative_time(published: str | None, now: dt.datetime) -> str:
    """How long ago, in words, for the last month ("3 hours ago", "yesterday"); the date itself before that."""
    moment = _instant(published)
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    if seconds < 0 or seconds >= 30 * 86400:
        return _day_words(moment.astimezone(dt.UTC).date())
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            amount = int(seconds // length)
            if unit == "day" and amount == 1:
                return "yesterday"
            return f"{amount} {unit}{'' if amount == 1 else 's'} ago"
    return "just now"


def exact_time(published: str | None) -> str:
    """The publication time in full, in UTC: 1 September 2018, 09:00 UTC."""
    moment = _instant(published)
    if moment is None:
        return ""
    moment = moment.astimezone(dt.UTC)
    return f"{_day_words(moment.date())}, {moment:%H:%M} UTC"


# Hits


@dataclass(frozen=True)
class SentenceRow:
    en: Markup
    ar: Markup
    matched: str  # en, ar or both: the side the query hit
    counterpart: str | None  # the other side, which is the matched sentence's translation or source
    position: int = 0  # in the article: its row there is #s-<position>


def sentence_rows(hit: dict) -> list[SentenceRow]:
    """The hit's matching body sentences, each beside its own translation; the counterpart side's aligned words
    marked when the alignment is known. Titles are left out: the hit's heading shows them, highlighted."""
    rows = []
    for pair in hit.get("sentences", []):
        if pair.get("field") == "title":
            continue
        ar = Markup(pair["ar_highlighted"]) if pair["matched"] in ("ar", "both") else escape(pair["ar"])
        if pair["matched"] == "en" and pair.get("alignment"):
            ar = mark_spans(pair["ar"], [span for item in pair["alignment"] for span in item["ar"]])
        en = Markup(pair["en_highlighted"])
        rows.append(SentenceRow(en, ar, pair["matched"], pair.get("counterpart"), pair.get("position", 0)))
    return rows


def mark_spans(text: str, spans, css_class: str = "aligned") -> Markup:
    """text, escaped, with the character spans (merged where they overlap) in <mark class=css_class>."""
    pieces, cursor = [], 0
    opening = Markup('<mark class="{}">').format(css_class)
    for start, end in _merged(spans, len(text)):
        pieces += [escape(text[cursor:start]), opening, escape(text[start:end])]
        pieces.append(Markup("</mark>"))
        cursor = end
    pieces.append(escape(text[cursor:]))
    return Markup("").join(pieces)


def _merged(spans, length: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted((max(0, a), min(length, b)) for a, b in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class OtherOutlets:
    named: list[str]  # the first outlets, by date
    more: int  # further outlets among the story's listed members


def other_outlets(hit: dict, named: int = OUTLETS_NAMED) -> OtherOutlets | None:
    """The story's other outlets ("also in: Al Arabiya, BBC Arabic (+3)"), or None for a story of one article."""
    members = hit.get("cluster_members") or []
    outlets = [s for s in dict.fromkeys(m.get("source") for m in members) if s and s != hit.get("source")]
    if not outlets:
        return None
    return OtherOutlets(outlets[:named], len(outlets) - named if len(outlets) > named else 0)


@dataclass(frozen=True)
class HitView:
    hit: dict
    rows: list[SentenceRow]  # every matched body sentence returned; the first `shown` are open, the rest fold
    outlets: OtherOutlets | None
    provenance: str  # machine, human, demo or original
    provenance_label: str
    title: Markup  # the Arabic title, its matched words in <mark>
    title_en: Markup
    title_only: bool  # matched by its words in a title, and in no sentence of the text
    matched: int  # sentences the query's words matched, on the side that matched most
    unlisted: bool  # more matched than the hit carries: the article page lists them all
    shown: int = SENTENCES_PER_HIT


def hit_view(hit: dict) -> HitView:
    kind = (hit.get("provenance") or {}).get("kind", "")
    rows = sentence_rows(hit)
    title, title_en = _highlighted(hit, "title"), _highlighted(hit, "title_en")
    in_title = "<mark>" in title + title_en or any(p.get("field") == "title" for p in hit.get("sentences", []))
    words = "words" in (hit.get("matched_by") or ["words"])
    matched = hit.get("sentences_matched") or 0
    return HitView(
        hit,
        rows,
        other_outlets(hit),
        kind,
        PROVENANCE_LABELS.get(kind, ""),
        title,
        title_en,
        title_only=words and in_title and not rows,
        matched=matched,
        unlisted=matched > len(hit.get("sentences", [])),
    )


def _highlighted(hit: dict, field: str) -> Markup:
    """A title with the query's words marked; escaped as it is where the title did not match."""
    marked = hit.get(f"{field}_highlighted")
    return Markup(marked) if marked else escape(hit.get(field) or "")


# What was searched


@dataclass(frozen=True)
class Wording:
    lang: str
    language: str  # its name: Arabic, English
    text: str
    by: str  # machine, names, or user (a wording the user gave with q_ar / q_en)
    own: bool = False  # the user's own text: q_ar / q_en, or q_names for the names' spellings

    @property
    def field(self) -> str:
        """The request parameter that replaces this wording."""
        return "q_names" if self.by == "names" else f"q_{self.lang}"


def other_wordings(
    searched: list[dict], q_ar: str | None, q_en: str | None, q_names: str | None = None
) -> list[Wording]:
    """The forms of the query searched besides the user's own query: machine translations, the names' spellings
    (the collection's, or the user's q_names) and the user's wordings."""
    own = {"ar": q_ar, "en": q_en}
    return [
        Wording(form["lang"], LANGUAGE_NAMES[form["lang"]], form["text"], form["by"], bool(q_names))
        if form["by"] == "names"
        else Wording(form["lang"], LANGUAGE_NAMES[form["lang"]], form["text"], form["by"], form["by"] == "user")
        for form in searched
        if form["by"] in ("machine", "names") or (own[form["lang"]] and form["text"] == own[form["lang"]])
    ]


# Names to try when nothing was found


@dataclass(frozen=True)
class SpellingToTry:
    label: str  # an Arabic spelling, or "all of them"
    lang: str  # the label's language: ar, or en for "all of them"
    query: str  # the search it runs
    args: dict  # the page's arguments with that query


def spellings_to_try(args: dict[str, list[str]], names: dict[str, list[str]]) -> list[SpellingToTry]:
    """One search per Arabic spelling of the query's names (search/names.py english_names_in), and, where there
    are several, one with any of them: the filters stay, the query's own wordings and language go with it."""
    spellings = list(dict.fromkeys(spelling for found in names.values() for spelling in found))
    kept = without(args, "q", "page", "lang", *WORDINGS)
    tries = [SpellingToTry(spelling, "ar", spelling, {**kept, "q": [spelling]}) for spelling in spellings]
    if len(spellings) > 1:
        every = either(spellings)
        tries.append(SpellingToTry("all of them", "en", every, {**kept, "q": [every]}))
    return tries
