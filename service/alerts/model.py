"""What an alert and a recorded match are (pure): the saved search, its filters as a SearchRequest, the ids.

An alert keeps the query wordings it was saved with (`searched`: the user's own words and the machine translation
made at save time), so its percolator query is the query search ran then, and "what the alert matched" and "what
search returned" agree. A StoryMatch is one story (a cluster_id) an alert matched: later articles of the story
add their ids and outlets to the same entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace

from service.search import query as query_parser
from service.search.query import QueryWording
from service.search.request import SearchRequest
from service.search.results import facet_label

CADENCES = ("off", "hourly", "daily")  # an alert's e-mail digest: none, or one per hour or per day (UTC)
# The filters that narrow the articles enough to watch without words (dates alone would take in every article)
WATCHED_FILTERS = ("source", "category", "name")


@dataclass(frozen=True)
class Alert:
    id: str
    owner: str  # the hash of the API key that made it (web.auth.current_owner)
    name: str
    query: str  # in the search syntax
    filters: dict  # lang, source, category, from, to, q_ar, q_en, q_names as the search API takes them: {"source": [...], ...}
    feed_token: str  # reads the alert's feed without an API key
    webhook_url: str | None
    created: str  # ISO-8601, UTC
    last_seen: str | None  # when its owner last looked at its matches (mark_seen)
    searched: tuple[dict, ...] = field(default=())  # the query wordings: {"lang", "text", "by": user|machine|names}
    paused: bool = False  # its owner paused it: it records no matches (and so delivers nothing) until resumed
    digest_email: str | None = None  # where its e-mail digest goes (alerts/digests.py), set by its owner's key
    digest_cadence: str = "off"  # one of CADENCES: how often that digest is mailed
    watching: str | None = None  # an alert without words: its filters in words, as saved (watching_in_words)

    def request(self) -> SearchRequest:
        """The search this alert saves, as search runs it (one page, every article)."""
        return search_request(self.query, self.filters)

    def wordings(self) -> list[QueryWording]:
        """The query wordings saved with the alert, parsed again (parsing is deterministic)."""
        return [saved_wording(wording) for wording in self.searched]

    def to_dict(self) -> dict:
        """The alert as the API shows it to its owner (the webhook secret is never part of it)."""
        shown = asdict(self)
        shown.pop("owner")
        shown["searched"] = list(self.searched)
        return shown


@dataclass(frozen=True)
class StoryMatch:
    id: str  # match_id(alert_id, story_id)
    alert_id: str
    story_id: str  # the story cluster (cluster_id) of the articles
    article_ids: tuple[str, ...]
    outlets: tuple[str, ...]
    title_en: str
    title_ar: str
    url_article_id: str  # the article the entry links to: the first one matched
    published: str | None
    matched_at: str  # ISO-8601, UTC: when the story first matched
    backfill: bool  # listed at creation from articles already indexed, not matched on ingest
    webhook: dict | None = None  # its webhook delivery (state pending/delivered/failed/dropped…), when it has one
    snippet: dict | None = None  # the sentence pair that matched: {ar, en, by: words|meaning} (alerts/snippets.py)

    def to_dict(self) -> dict:
        shown = asdict(self)
        shown["article_ids"], shown["outlets"] = list(self.article_ids), list(self.outlets)
        for optional in ("webhook", "snippet"):
            if shown[optional] is None:
                del shown[optional]
        return shown

    def joined(self, other: StoryMatch) -> StoryMatch:
        """This entry with the other's articles and outlets added (in order, without repeats)."""
        return replace(
            self,
            article_ids=tuple(dict.fromkeys((*self.article_ids, *other.article_ids))),
            outlets=tuple(dict.fromkeys((*self.outlets, *other.outlets))),
        )


def match_id(alert_id: str, story_id: str) -> str:
    """The one document id of an (alert, story) entry: recording it twice finds the first."""
    return hashlib.sha256(f"{alert_id}\x00{story_id}".encode()).hexdigest()


def search_request(query: str, filters: dict, size: int = 10, page: int = 1, collapse: bool = False) -> SearchRequest:
    """A SearchRequest for a query and filters named as the search API names them."""
    return SearchRequest(
        query,
        lang=filters.get("lang") or "auto",
        sources=tuple(filters.get("source") or ()),
        categories=tuple(filters.get("category") or ()),
        names=tuple(filters.get("name") or ()),
        date_from=filters.get("from") or None,
        date_to=filters.get("to") or None,
        size=size,
        page=page,
        q_ar=filters.get("q_ar") or None,
        q_en=filters.get("q_en") or None,
        q_names=filters.get("q_names") or None,
        collapse=collapse,
    )


def watches(query: str, filters: dict) -> bool:
    """Whether a saved search has no words, only filters: it lists every new article they let through."""
    return not query.strip() and any(filters.get(name) for name in WATCHED_FILTERS)


def watching_in_words(filters: dict, name_labels: dict[str, str]) -> str:
    """What an alert without words follows, as a sentence: "Every new article from BBC Arabic naming Vladimir
    Putin". name_labels: the display forms of the people and places chosen, by key (a key alone reads as itself)."""
    parts = ["Every new article"]
    if filters.get("source"):
        parts.append(f"from {_either(filters['source'])}")
    if filters.get("category"):
        parts.append(f"in {_either([facet_label(value) for value in filters['category']])}")
    if filters.get("name"):
        parts.append(f"naming {_either([name_labels.get(key, key) for key in filters['name']])}")
    if filters.get("from"):
        parts.append(f"published from {filters['from']}")
    if filters.get("to"):
        parts.append(f"{'to' if filters.get('from') else 'published until'} {filters['to']}")
    return " ".join(parts)


def _either(values: list[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def saved_wording(wording: dict) -> QueryWording:
    """A query wording from its saved {lang, text, by}: the user's syntax parsed, the machine's words as words."""
    parsed = query_parser.ParsedQuery.from_words(wording["text"]) if wording["by"] == "machine" else None
    return QueryWording(wording["lang"], wording["text"], parsed or query_parser.parse(wording["text"]), wording["by"])


def wording_dict(wording: QueryWording) -> dict:
    return {"lang": wording.lang, "text": wording.text, "by": wording.by}
