"""Creating and changing an alert, for any front door (the web API, a command): the key's quota, the query checked
and translated as search does it (searcher.query_wordings) once, at save time, its vector made as search makes it
(with the process's encoder, when there is one), the webhook policy, and back-fill (words and meaning, as search).

The caller has checked the request's shape (the API's schema) and who owns the key; what is refused here comes back
as a project error: AlertRefused (the caller's to fix), QueryError, AlertLimitReached, AlertChanged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from opensearchpy.exceptions import NotFoundError, RequestError

from service.alerts import webhooks
from service.alerts.digest_mail import digest_domain_refusal
from service.alerts.matching import alert_vector, backfill
from service.alerts.meaning import AlertVector
from service.alerts.model import Alert, search_request, watches, watching_in_words
from service.alerts.store import AlertLimitReached, AlertStore
from service.config import Settings
from service.embedding.interface import SentenceEncoder
from service.errors import ServiceError
from service.index.documents import checked_url
from service.index.errors import refusal_reason
from service.search import query as query_parser
from service.search.body import MeaningQuery
from service.search.names import CollectionNames, collection_names
from service.search.people import name_summary
from service.search.query import QueryError, QueryWording
from service.search.searcher import query_wordings
from service.translation.interface import SentenceTranslator

# WHATWG's valid e-mail address (what a browser's type=email field takes), its domain with at least one dot
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+", re.ASCII)
MAX_EMAIL_CHARS = 254


class AlertRefused(ServiceError, ValueError):
    """The alert cannot be saved as asked; the message says why, code names it for the API."""

    status = 400

    def __init__(self, message: str, code: str = "bad_request"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AlertSpec:
    """A new alert as its owner asks for it: the fields of the API's create."""

    name: str
    query: str
    filters: dict = field(default_factory=dict)  # as the search API names them
    webhook_url: str | None = None
    backfill: bool = False  # list the matching articles already indexed as its first matches
    digest_email: str | None = None
    digest_cadence: str = "off"

    @classmethod
    def from_dict(cls, body: dict) -> AlertSpec:
        return cls(
            body["name"],
            body["query"],
            body.get("filters") or {},
            body.get("webhook_url"),
            bool(body.get("backfill")),
            body.get("digest_email"),
            body.get("digest_cadence") or "off",
        )


@dataclass(frozen=True)
class SavedAlert:
    alert: Alert
    webhook_secret: str | None  # shown once: when a webhook is set
    backfilled: int | None = None  # stories recorded by back-fill; None when none was asked for
    warning: str | None = None  # saved, but it may not do what its owner expects (past_end_warning)

    def to_dict(self) -> dict:
        shown = self.alert.to_dict()
        if self.webhook_secret:
            shown["webhook_secret"] = self.webhook_secret
        if self.backfilled is not None:
            shown["backfilled"] = self.backfilled
        if self.warning:
            shown["warning"] = self.warning
        return shown


def create_alert(
    store: AlertStore,
    owner: str,
    spec: AlertSpec,
    settings: Settings,
    translators: dict[str, SentenceTranslator | None],
    encoder: SentenceEncoder | None = None,
) -> SavedAlert:
    """Save owner's new alert; translators ({"en": ..., "ar": ...}, None where no model) translate its query, and
    encoder (None: off) makes its vector, matched against new articles' sentences as search's vector channel is."""
    limit = settings.alerts_per_key
    if store.count_for(owner) >= limit:  # spares the translation; the store decides, under concurrent creates too
        raise AlertLimitReached(f"at most {limit} alerts per API key")
    wordings = checked_wordings(spec.query, spec.filters, translators, collection_names(store.client, store.alias))
    webhook_url = allowed_webhook_url(spec.webhook_url, settings.alert_webhook_allow)
    digest_email, cadence = allowed_digest(spec.digest_email, spec.digest_cadence, settings)
    vector = alert_vector(encoder, spec.query) if encoder is not None and wordings else None
    try:
        alert, secret = store.create(
            owner,
            spec.name,
            spec.query,
            spec.filters,
            wordings,
            webhook_url,
            limit=limit,
            meaning=vector,
            digest_email=digest_email,
            digest_cadence=cadence,
            address_limit=settings.alert_digest_addresses_per_key,
            watching=watched_in_words(store, spec.query, spec.filters),
        )
    except RequestError as error:
        raise _refused(error) from None
    warning = joined_warnings(
        past_end_warning(spec.filters, dt.datetime.now(dt.UTC)), digests_off_warning(cadence, settings)
    )
    if not spec.backfill:
        return SavedAlert(alert, secret, warning=warning)
    try:
        backfilled = len(backfill(store, alert, settings.alert_backfill_articles, meaning_query(vector, settings)))
    except NotFoundError:  # nothing indexed yet
        backfilled = 0
    return SavedAlert(alert, secret, backfilled, warning)


def update_alert(
    store: AlertStore,
    alert_id: str,
    owner: str,
    changes: dict,
    settings: Settings,
    translators: dict[str, SentenceTranslator | None],
    encoder: SentenceEncoder | None = None,
) -> SavedAlert | None:
    """Change the fields that changes holds (name, query, filters, webhook_url, paused, digest_email,
    digest_cadence) in owner's alert; None when owner has no such alert, or it was deleted meanwhile.

    The query is checked and translated again only when it or the filters change, and its vector made again (with
    encoder) only when it changes; a webhook_url of None removes it.
    """
    alert = store.get(alert_id, owner)
    if alert is None:
        return None
    query, filters = changes.get("query", alert.query), changes.get("filters", alert.filters)
    if {"query", "filters"} & changes.keys():
        wordings = checked_wordings(query, filters, translators, collection_names(store.client, store.alias))
        watching = watched_in_words(store, query, filters)
    else:
        wordings, watching = alert.wordings(), alert.watching
    webhook_url = alert.webhook_url
    if "webhook_url" in changes:
        webhook_url = allowed_webhook_url(changes["webhook_url"], settings.alert_webhook_allow)
    digest = None
    if {"digest_email", "digest_cadence"} & changes.keys():
        digest = allowed_digest(
            changes.get("digest_email", alert.digest_email),
            changes.get("digest_cadence", alert.digest_cadence),
            settings,
        )
    try:
        changed_words = bool(wordings) and query != alert.query
        vector = alert_vector(encoder, query) if encoder is not None and changed_words else None
        updated = store.update(
            alert_id,
            alert.owner,
            changes.get("name", alert.name),
            query,
            filters,
            wordings,
            webhook_url,
            vector,
            changes.get("paused"),
            digest,
            settings.alert_digest_addresses_per_key,
            watching,
        )
    except RequestError as error:
        raise _refused(error) from None
    if updated is None:
        return None
    warning = joined_warnings(
        past_end_warning(filters, dt.datetime.now(dt.UTC)) if "filters" in changes else None,
        digests_off_warning(digest[1], settings) if digest else None,
    )
    return SavedAlert(*updated, warning=warning)


def meaning_query(vector: AlertVector | None, settings: Settings) -> MeaningQuery | None:
    """The vector channel of an alert run as a search (back-fill): its vector, under search's floor and weight."""
    if vector is None:
        return None
    floor, weight = settings.meaning_floor, settings.search_meaning_weight
    return MeaningQuery(tuple(float(v) for v in vector.vector), vector.encoder_id, floor, weight)


def checked_wordings(
    query: str,
    filters: dict,
    translators: dict[str, SentenceTranslator | None],
    names: CollectionNames | None = None,
) -> list[QueryWording]:
    """The query wordings the alert will match, as search would run them now (names: the collection's name
    spellings, kept as they are at save time); QueryError or AlertRefused for a query or filters search would
    refuse. A busy translator is waited for: a saved search keeps its wordings.

    An empty query watches its filters (none: every article they let through), when one of them narrows the
    articles: a source, a category, a person or place."""
    wanted = search_request(query, filters)
    try:
        wanted.validate()
    except ValueError as error:
        raise AlertRefused(str(error), getattr(error, "code", "bad_request")) from None
    if not query.strip():
        return _watched(filters)
    wordings, _ = query_wordings(wanted, query_parser.parse(query), translators, wait_when_busy=True, names=names)
    return wordings


def _watched(filters: dict) -> list[QueryWording]:
    """No wordings, for a saved search without words that names what to watch; AlertRefused otherwise."""
    if not watches("", filters):
        raise AlertRefused(
            "the query is empty: give words to search for, or, to follow every new article, a source, category, "
            "or person or place to follow (dates alone would take in every article)",
            "nothing_to_watch",
        )
    reworded = [name for name in ("q_ar", "q_en", "q_names") if filters.get(name)]
    if reworded:
        raise AlertRefused(
            f"{', '.join(reworded)} reword the query's words, and this saved search has none: drop them, or give a "
            "query",
            "nothing_to_reword",
        )
    return []


def watched_in_words(store: AlertStore, query: str, filters: dict) -> str | None:
    """An alert without words: its filters in words, its people and places by the name the collection gives them
    now; None for an alert with words."""
    if query.strip():
        return None
    labels = {}
    for key in filters.get("name") or ():
        try:
            summary = name_summary(store.client, store.alias, key)
        except NotFoundError:  # nothing indexed yet
            summary = None
        labels[key] = summary["label"] if summary else key
    return watching_in_words(filters, labels)


def past_end_warning(filters: dict, now: dt.datetime) -> str | None:
    """Why an alert with these filters will not match today's news (its "to" date is past), or None.

    Saved all the same: loading an archive of older articles still fires it. A date without a time runs to the end
    of its day; a "to" this check cannot read is left to search's own."""
    end = filters.get("to")
    try:
        moment = dt.datetime.fromisoformat(str(end).replace("Z", "+00:00")) if end else None
    except ValueError:
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if len(str(end)) == len("YYYY-MM-DD"):
        moment += dt.timedelta(days=1)
    if moment > now:
        return None
    return (
        f"its “to” date ({end}) is past, so today's news will never match it: only older articles loaded later "
        "would. To follow new stories, edit its search without the “to” date"
    )


def allowed_digest(address: str | None, cadence: str, settings: Settings) -> tuple[str | None, str]:
    """The digest (address, cadence) as stored, or AlertRefused: a malformed address, a cadence without one, or an
    address outside ALERT_DIGEST_DOMAINS. The store refuses one past the key's ALERT_DIGEST_ADDRESSES_PER_KEY distinct
    ones as it saves the alert, under concurrent saves too (so that a key cannot mail many strangers: with one digest
    per alert and period, at most one an hour, a key mails at most ALERTS_PER_KEY a hour to them)."""
    address = checked_email(address)
    if cadence != "off" and address is None:
        raise AlertRefused("an hourly or daily digest needs digest_email", "bad_digest_email")
    if address is None:
        return None, cadence
    refusal = digest_domain_refusal(address, settings.alert_digest_domains)
    if refusal:
        raise AlertRefused(refusal, "digest_email_refused")
    return address, cadence


def checked_email(value: str | None) -> str | None:
    """An e-mail address as stored (one bare ASCII address, as HTML's type=email takes it, with a dot in its domain:
    no name, no list, no header line), None for none, or AlertRefused."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(text):
        raise AlertRefused(
            "digest_email must be one e-mail address, such as desk@example.org, without a name", "bad_digest_email"
        )
    return text


def digests_off_warning(cadence: str, settings: Settings) -> str | None:
    """Why a digest asked for will not be mailed (no SMTP server is set), or None."""
    if cadence == "off" or settings.smtp_host:
        return None
    return "this service has no mail server set up, so no digest is e-mailed; its feed and webhook still work"


def joined_warnings(*warnings: str | None) -> str | None:
    return "; ".join(warning for warning in warnings if warning) or None


def allowed_webhook_url(value: str | None, allow: tuple[str, ...]) -> str | None:
    """The webhook URL as stored, or AlertRefused for one that is malformed or reaches a host the policy refuses."""
    try:
        url = checked_url(value)
    except ValueError:
        raise AlertRefused(
            "webhook_url must be an http(s) URL with a host, without spaces", "bad_webhook_url"
        ) from None
    if url is not None:
        try:  # again at each delivery (alerts/delivery.py): the host's addresses may change
            webhooks.check_url(url, allow)
        except webhooks.WebhookUrlError as error:
            raise AlertRefused(str(error), "webhook_refused") from None
    return url


def _refused(error: RequestError) -> QueryError:
    """OpenSearch could not take the alert's query (a date it cannot parse): the caller's to fix."""
    return QueryError(f"OpenSearch rejected the saved search: {refusal_reason(error)}")
