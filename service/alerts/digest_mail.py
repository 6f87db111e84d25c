"""An alert's e-mail digest, pure: the period that is due, the digest's id, and the message itself.

A digest covers the matches recorded after the previous digest of the alert up to the end of the last whole period
(an hour or a UTC day). Its id, digest_id(alert, end of period), is the one document of its delivery
(alerts/digests.py) and the mail's Message-ID, so a period is mailed once, and a mail sent twice (the sender died
between the SMTP server's "accepted" and recording it) reads as one in the recipient's client.

The message is plain text with an HTML alternative (email.message.EmailMessage). Every text from an article or an
alert is escaped in the HTML, and an Arabic title is isolated (<bdi dir="rtl">, and U+2068…U+2069 in the plain
text) so that it neither runs into nor reorders the English around it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape
from urllib.parse import quote

from service.alerts.model import Alert, StoryMatch

PERIODS = {"hourly": dt.timedelta(hours=1), "daily": dt.timedelta(days=1)}
MAX_LISTED = 50  # stories one digest lists; the rest are counted and on the Alerts page
# none of these belong in a header: a line break injects one, a bidi control reorders what the reader sees
_BIDI_CONTROLS = "\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_BIDI_CONTROL = re.compile(rf"[{_BIDI_CONTROLS}]+")
FIRST_STRONG_ISOLATE, POP_ISOLATE = "\u2068", "\u2069"


def period_end(now: dt.datetime, cadence: str) -> dt.datetime:
    """The end of the last whole period (hour or UTC day) before now: the `until` of the digest due now."""
    moment = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if cadence == "daily" else moment


def digest_id(alert_id: str, until: str) -> str:
    return hashlib.sha256(f"digest\x00{alert_id}\x00{until}".encode()).hexdigest()


def digest_domain_refusal(address: str, domains: tuple[str, ...]) -> str | None:
    """Why address may not get digests here (its domain is not one of ALERT_DIGEST_DOMAINS), or None: a key can
    mail only the domains the service's operator chose, not any stranger."""
    if not domains:
        return "this service mails digests to no address: its operator has not chosen any e-mail domain for them"
    if address.rpartition("@")[2].lower() not in domains:
        return f"this service mails digests only to addresses at {', '.join(domains)}"
    return None


def header_text(value: str) -> str:
    return _CONTROL.sub(" ", _BIDI_CONTROL.sub("", value)).strip()


def isolated(text: str) -> str:
    """text in plain text, isolated from what surrounds it (its own bidi controls dropped, so none escapes)."""
    return f"{FIRST_STRONG_ISOLATE}{_BIDI_CONTROL.sub('', text)}{POP_ISOLATE}"


def digest_message(
    alert: Alert,
    matches: Sequence[StoryMatch],
    total: int,
    period: tuple[str, str],
    addresses: tuple[str, str],
    base_url: str,
    sent: dt.datetime,
    message_id: str,
) -> EmailMessage:
    """The digest mail of alert: matches (the first MAX_LISTED of total) recorded in period (since, until, ISO);
    addresses: (from, to); links under base_url (PUBLIC_URL)."""
    since, until = (_utc_label(moment) for moment in period)
    stories = f"{total} new {'story' if total == 1 else 'stories'}"
    message = EmailMessage()
    message["Subject"] = header_text(f"{alert.name}: {stories}")
    message["From"], message["To"] = addresses
    message["Date"] = format_datetime(sent.astimezone(dt.UTC))
    message["Message-ID"] = f"<{message_id}@{addresses[0].rpartition('@')[2] or 'alerts'}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    alerts_page = f"{base_url}/alerts?highlight={quote(alert.id, safe='')}"
    message["List-Unsubscribe"] = f"<{alerts_page}>"
    message.set_content(_plain(alert, matches, total, stories, since, until, base_url, alerts_page))
    message.add_alternative(_html(alert, matches, total, stories, since, until, base_url, alerts_page), subtype="html")
    return message


def _links(match: StoryMatch, base_url: str) -> tuple[str, str]:
    return (
        f"{base_url}/articles/{quote(match.url_article_id, safe='')}",
        f"{base_url}/stories/{quote(match.story_id, safe='')}",
    )


def _story_label(match: StoryMatch) -> str:
    count = len(match.article_ids)
    return f"the story ({count} articles)" if count > 1 else "the story"


def _about(match: StoryMatch) -> str:
    outlets = ", ".join(match.outlets) or "unknown outlet"
    return f"{outlets} · published {str(match.published)[:10]}" if match.published else outlets


def _plain(alert, matches, total, stories, since, until, base_url, alerts_page) -> str:
    lines = [
        f"Your alert “{isolated(alert.name)}” (query: {isolated(alert.query)}) matched {stories} from {since} to "
        f"{until}.",
        "",
    ]
    for number, match in enumerate(matches, 1):
        article, story = _links(match, base_url)
        arabic = isolated(match.title_ar) if match.title_ar else ""
        lines.append(f"{number}. {match.title_en or arabic or match.story_id}")
        if match.title_en and arabic:
            lines.append(f"   {arabic}")
        if match.snippet and match.snippet.get("en"):  # the sentence it matched by
            lines.append(f"   “{match.snippet['en']}”")
        lines += [
            f"   {_about(match)}",
            f"   Article: {article}",
            f"   {_story_label(match).capitalize()}: {story}",
            "",
        ]
    if total > len(matches):
        lines += [f"… and {total - len(matches)} more on the Alerts page: {alerts_page}", ""]
    lines += ["--", f"{_set_up_by(alert)} Change or pause this alert, or stop its digest: {alerts_page}"]
    return "\n".join(lines) + "\n"


def _html(alert, matches, total, stories, since, until, base_url, alerts_page) -> str:
    items = []
    for match in matches:
        article, story = _links(match, base_url)
        arabic = f'<bdi lang="ar" dir="rtl">{escape(match.title_ar)}</bdi>' if match.title_ar else ""
        title = escape(match.title_en) if match.title_en else arabic or escape(match.story_id)
        second = f"<br>{arabic}" if match.title_en and arabic else ""
        if match.snippet and match.snippet.get("en"):
            second += f"<br><q>{escape(match.snippet['en'])}</q>"
        items.append(
            f'<li><a href="{escape(article)}">{title}</a>{second}<br><small>{escape(_about(match))} · '
            f'<a href="{escape(story)}">{escape(_story_label(match))}</a></small></li>'
        )
    more = ""
    if total > len(matches):
        more = f'<p>… and {total - len(matches)} more on <a href="{escape(alerts_page)}">the Alerts page</a>.</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(header_text(alert.name))}</title></head><body>"
        f"<p>Your alert “<bdi>{escape(alert.name)}</bdi>” (query: <bdi>{escape(alert.query)}</bdi>) matched "
        f"{stories} from {since} to {until}.</p><ol>{''.join(items)}</ol>{more}"
        f"<p><small>{escape(_set_up_by(alert))} "
        f'<a href="{escape(alerts_page)}">Change or pause this alert, or stop its digest</a></small></p>'
        "</body></html>\n"
    )


def _set_up_by(alert: Alert) -> str:
    """Who sent this mail, for a recipient who did not ask for it."""
    return (
        f"This address was given for the digest of the alert “{isolated(alert.name)}” by that alert's owner, "
        "who can stop it on the Alerts page."
    )


def _utc_label(iso: str) -> str:
    moment = dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(dt.UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"
