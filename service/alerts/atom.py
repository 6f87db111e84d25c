"""An alert's matches as an Atom 1.0 feed (RFC 4287), pure: one entry per story, built with an XML builder.

Every text goes in through ElementTree, which escapes it: titles, outlets and ids come from articles and users and
never become markup; what XML 1.0 forbids (control characters) is dropped, so any stored article leaves the feed
well-formed. Ids are stable URNs (a feed reader keys on them), and never carry the feed's token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable
from urllib.parse import quote
from xml.etree import ElementTree as ET

from service.alerts.model import Alert, StoryMatch
from service.text.xmlsafe import xml_text

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
GENERATOR = "Arabic→English news alerts"
# How a snippet was found, as an entry says it (alerts/snippets.py); an alert without words shows the lead
SNIPPET_KINDS = {"words": "matched by its words", "meaning": "matched in meaning", "lead": "its lead"}
ET.register_namespace("", ATOM)


def feed_xml(alert: Alert, matches: Iterable[StoryMatch], base_url: str) -> bytes:
    """The alert's feed, newest entries as given first; links are absolute under base_url (the service's root)."""
    entries = list(matches)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", _urn("alert", alert.id))
    _text(feed, "title", f"Alert: {alert.name}")
    _text(feed, "subtitle", f"New stories matching {alert.query}")
    latest = max((rfc3339(match.matched_at, True) for match in entries), default=rfc3339(alert.created, True))
    _text(feed, "updated", latest)
    _text(feed, "generator", GENERATOR)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=f"{base_url}/alerts")
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", GENERATOR)
    for match in entries:
        feed.append(_entry(match, base_url))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _entry(match: StoryMatch, base_url: str) -> ET.Element:
    entry = ET.Element(f"{{{ATOM}}}entry")
    _text(entry, "id", _urn("story-match", match.id))
    _text(entry, "title", match.title_en or match.title_ar or match.story_id)
    _text(entry, "updated", rfc3339(match.matched_at, milliseconds=True))
    published = _published(match.published)
    if published:
        _text(entry, "published", published)
    href = f"{base_url}/articles/{quote(match.url_article_id, safe='')}"
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=href)
    story = f"{base_url}/stories/{quote(match.story_id, safe='')}"  # every outlet's version, side by side
    ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", type="text/html", href=story, title="The story")
    for outlet in match.outlets:
        ET.SubElement(entry, f"{{{ATOM}}}category", term=xml_text(outlet), label=xml_text(outlet))
    outlets = ", ".join(match.outlets) or "unknown outlet"
    dated = f" · published {str(match.published)[:10]}" if match.published else ""
    summary = f"{outlets}{dated}" + (f" · {match.title_ar}" if match.title_ar and match.title_en else "")
    if match.snippet:  # the sentence pair that matched, the English first, as the entry's title is
        by = SNIPPET_KINDS.get(match.snippet.get("by"), SNIPPET_KINDS["words"])
        summary += f" · {by}: “{match.snippet.get('en', '')}” (“{match.snippet.get('ar', '')}”)"
    _text(entry, "summary", summary)
    return entry


def _published(value) -> str | None:
    """An entry's publication date as Atom's; None without one, or for one stored before ingest checked dates
    (epoch milliseconds, a bare year: OpenSearch's date field takes them, fromisoformat does not)."""
    try:
        return rfc3339(str(value)) if value else None
    except ValueError:
        return None


def _text(parent: ET.Element, name: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = xml_text(value)
    return element


def _urn(kind: str, value: str) -> str:
    """A stable urn:uuid for an alert or a match (Atom ids must be IRIs; these reveal nothing)."""
    return uuid.UUID(bytes=hashlib.sha256(f"{kind}:{value}".encode()).digest()[:16], version=5).urn


def parse_utc(value: str) -> dt.datetime:
    """An ISO-8601 date or date-time as an aware datetime; a time without a zone is taken as UTC."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def rfc3339(value: str, milliseconds: bool = False) -> str:
    """An ISO-8601 date or date-time as Atom's date-time, in UTC (with milliseconds: to the millisecond, which orders
    the entries matched in one second, when it has any). An instant whose UTC is past the years Python holds
    (9999-12-31T23:59:59-14:00, 0001-01-01T00:00+14:00: dates an article may carry) is the nearest one it holds."""
    moment = parse_utc(value)
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        utc = (dt.datetime.max if moment.year == dt.MAXYEAR else dt.datetime.min).replace(tzinfo=dt.UTC)
    precision = "milliseconds" if milliseconds and utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=precision) + "Z"  # strftime's %Y leaves out a year's leading 0s
