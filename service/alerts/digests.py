"""Mailing alert digests: each alert with a cadence gets one mail per period of the matches no digest has mailed.

The digests index (`<alias>-alert-digests`) is the outbox, one document per (alert, period) with the id
digest_mail.digest_id(alert, end of period), written with `create` once the period has ended (and GRACE after, so
that a match recorded at its last moment is searchable), and only when the alert has a match to mail: of several
senders, in threads, processes or hosts, one opens it, and a restart finds it there. A period without one records
nothing (a sender looks again when the next one ends). A digest holds the alert's matches up to its period's end
that no digest holds yet: its first claim marks each as its own (the match's `digest_id`, a write guarded by
if_seq_no/if_primary_term, so a match is in one digest only) and records their count and the first ids, so a retry
mails the same digest. Marks, not a window of `matched_at`, decide: a match stamped in a period but stored after that
period's digest was opened (a slow write, a writer's clock behind) goes out in the next digest instead of none.
The digest records its recipient, the alert's address when it was opened, and is mailed to it alone (or dropped if
its domain has left ALERT_DIGEST_DOMAINS). A pending digest is claimed, sent and settled like a webhook delivery
(alerts/delivery.py): claimed by a guarded write that moves its next attempt a lease ahead, and held again by one
more just before the SMTP exchange (marking may have taken part of the lease; a sender that finds the digest claimed
by another meanwhile leaves it to that one), then `sent`, or retried with back-off after an SMTP failure (the server away, a 4xx), or `failed` for good after a permanent refusal (5xx) or
ALERT_WEBHOOK_GIVE_UP_HOURS after its period. A sender that dies after the server accepted the mail and before
recording it sends it again when the lease ends; both copies carry the digest's Message-ID.

A paused alert opens no digest, and one it has pending is dropped (state `dropped`) rather than held: pausing says
"stop mailing", and the matches stay on the Alerts page and in the feed. So is one whose digest was turned off; one
whose alert was deleted is deleted, as the alert's others were with it (they hold the address).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import smtplib
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from email.message import EmailMessage

from opensearchpy import helpers
from opensearchpy.exceptions import ConflictError, NotFoundError

from service.alerts import webhooks
from service.alerts.atom import parse_utc
from service.alerts.digest_mail import (
    MAX_LISTED,
    PERIODS,
    digest_domain_refusal,
    digest_id,
    digest_message,
    period_end,
)
from service.alerts.model import Alert, StoryMatch
from service.alerts.outbox import backoff, iso_utc
from service.alerts.store import AlertStore, match_of
from service.config import Settings
from service.errors import ServiceError

log = logging.getLogger(__name__)
GRACE = dt.timedelta(seconds=60)  # after a period ends, before its digest is opened: its last matches are written
BATCH = 50  # pending digests one look sends at most
CHUNK = 1000  # alerts whose latest digest one search reads (under the index's result window)
LEASE_MARGIN = 30.0  # seconds a claim outlives the SMTP exchange's own timeout
MARK_ROUNDS = 5  # passes marking a digest's matches when a writer came between the read and the mark


class MailFailed(ServiceError):
    """The SMTP exchange failed; permanent when the server refused the mail for good (a 5xx answer)."""

    status, code = 502, "mail_failed"

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class _BoundedSMTP(smtplib.SMTP):
    """smtplib's client whose whole exchange ends by a deadline: smtplib's timeout bounds each read, not the
    exchange, so a watchdog (webhooks.cut_at) shuts the connection down at the deadline. The host's name is looked
    up under the same deadline: the system resolver has none of ours (smtplib's connect waits for it unbounded)."""

    def __init__(self, deadline: float):
        self.deadline, self.cut, self._watch = deadline, threading.Event(), contextlib.ExitStack()
        super().__init__(timeout=max(0.001, deadline - time.monotonic()))

    def _get_socket(self, host, port, timeout):
        sock = self._connected(host, port)
        self._watch.enter_context(webhooks.cut_at(self.deadline, sock, self.cut))
        return sock

    def _connected(self, host: str, port: int) -> socket.socket:
        """A socket connected to the first of host's addresses that answers, within the deadline; self._host stays
        the name, so that STARTTLS checks the certificate against it."""
        answers = self._looked_up(host, port)
        error: OSError = OSError(f"{host} has no address")
        for family, kind, proto, _, address in answers:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._left())
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(address)
                return sock
            except OSError as failed:
                sock.close()
                error = failed
        raise error

    def _looked_up(self, host: str, port: int) -> list[tuple]:
        """getaddrinfo in a thread of its own, waited for until the deadline: a look-up past it is left to end on
        its own (the resolver's own timeout), and the exchange counts as cut. A daemon thread, so that a look-up
        left running never holds the process at exit (an executor's threads are joined there)."""
        lookup: Future = Future()

        def look_up() -> None:
            try:
                lookup.set_result(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            except BaseException as error:  # handed to the waiting sender, whatever it is
                lookup.set_exception(error)

        threading.Thread(target=look_up, name="smtp-dns", daemon=True).start()
        try:
            return lookup.result(timeout=self._left())
        except TimeoutError:  # concurrent.futures' own, since Python 3.11
            self.cut.set()
            raise TimeoutError(f"looking up {host} took too long") from None

    def _left(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def close(self):
        try:
            super().close()
        finally:
            self._watch.close()


def send_mail(settings: Settings, message: EmailMessage) -> None:
    """Send message through SMTP_HOST within SMTP_TIMEOUT seconds, all of it; MailFailed otherwise."""
    smtp = _BoundedSMTP(time.monotonic() + settings.smtp_timeout)
    accepted = False
    try:
        smtp.connect(settings.smtp_host, settings.smtp_port)
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)
        accepted = True
        smtp.quit()
    except (OSError, smtplib.SMTPException) as error:
        if accepted:  # the server has the mail: only the goodbye failed
            return
        if smtp.cut.is_set():
            raise MailFailed(f"the SMTP server took more than {settings.smtp_timeout:g} s") from None
        raise MailFailed(f"{type(error).__name__}: {error}", _refused_for_good(error)) from None
    finally:
        smtp.close()


def _refused_for_good(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


@dataclass(frozen=True)
class Claim:
    """A sender's hold on a digest: the attempt, and the digest's version as this sender last wrote it."""

    attempt: int
    seq_no: int
    primary_term: int

    @classmethod
    def of(cls, hit: dict, attempt: int) -> Claim:
        """The claim a sender would hold on the digest as a search found it."""
        return cls(attempt, hit["_seq_no"], hit["_primary_term"])


class DigestSender:
    def __init__(self, store: AlertStore, settings: Settings, now=None):
        self.store, self.settings = store, settings
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.lease = settings.smtp_timeout + LEASE_MARGIN
        self._ensured = False
        self._checked: dict[str, str] = {}  # {alert id: the end of the latest period this sender looked at}

    def run_once(self) -> dict[str, int]:
        """Open the digests whose period has ended, then send the pending ones that are due; the counts."""
        counts = {"sent": 0, "retried": 0, "failed": 0, "dropped": 0}
        opened = self._open_periods()
        for hit in this_turn(self._due(), opened):
            if self.now() > self._give_up_at(hit["_source"]):  # whatever kept it unsent: an error not SMTP's included
                counts["failed"] += self._give_up(hit)
                continue
            claim = self._claim(hit)
            if claim is None:
                continue
            try:
                outcome = self._send(hit["_source"], claim)
                if outcome is not None:
                    counts[outcome] += 1
            except Exception:  # logged; the digest stays claimed, and is due again when its lease ends
                log.exception("the digest %s could not be sent", hit["_id"])
        return counts

    def _open_periods(self) -> list[dict]:
        """Write the digest of each alert whose period ended (GRACE ago), has none yet and holds a match no digest
        has taken; the pending ones written, as due hits. An alert found with nothing to open is not looked at again
        by this sender until its next period ends."""
        moment = self.now() - GRACE
        ends = [(alert, iso_utc(period_end(moment, alert.digest_cadence))) for alert in self.store.digest_alerts()]
        current = {alert.id for alert, _ in ends}  # a deleted alert (or one whose digest was turned off) is forgotten
        self._checked = {alert_id: until for alert_id, until in self._checked.items() if alert_id in current}
        alerts = [
            (alert, until) for alert, until in ends if alert.digest_email and self._checked.get(alert.id) != until
        ]
        if not alerts:
            return []
        if not self._ensured:  # an index made before digests has no digests index yet, nor their mapping
            self.store.ensure()
            self._ensured = True
        # make every digest written so far (their bounds) and every match of the period searchable
        self.store.client.indices.refresh(index=f"{self.store.matches_index},{self.store.digests_index}")
        latest = self._latest([alert.id for alert, _ in alerts])
        bounds = {}
        for alert, until in alerts:
            before = latest.get(alert.id)
            if before is None:
                # the period before too: a match stored late for it, when no digest had opened, is not lost
                period = PERIODS[alert.digest_cadence]
                start, since = (iso_utc(parse_utc(until) - periods * period) for periods in (2, 1))
                bounds[alert.id] = (alert, start, since, until)
            elif before["until"] < until:
                # the first digest's start is every later one's; one written before marks (no start) was a cursor
                bounds[alert.id] = (alert, before.get("start") or before["until"], before["until"], until)
        waiting = self._unmarked({alert_id: (start, until) for alert_id, (_, start, _, until) in bounds.items()})
        written = []
        for alert_id in waiting:
            written += self._open(*bounds[alert_id])
        self._checked.update((alert.id, until) for alert, until in alerts)
        return written

    def _latest(self, alert_ids: list[str]) -> dict[str, dict]:
        """{alert id: its latest digest's until and start (ISO)} for those that have one, CHUNK alerts a search."""
        latest = {}
        for first in range(0, len(alert_ids), CHUNK):
            chunk = alert_ids[first : first + CHUNK]
            body = {
                "query": {"terms": {"alert_id": chunk}},
                "collapse": {"field": "alert_id"},
                "sort": [{"until": "desc"}],
                "_source": ["alert_id", "until", "start"],
                "size": len(chunk),
            }
            try:
                hits = self.store.client.search(index=self.store.digests_index, body=body)["hits"]["hits"]
            except NotFoundError:  # no digest opened yet
                return {}
            for hit in hits:
                found = hit["_source"]
                start = found.get("start")
                latest[found["alert_id"]] = {
                    "until": iso_utc(parse_utc(found["until"])),
                    "start": iso_utc(parse_utc(start)) if start else None,
                }
        return latest

    def _unmarked(self, bounds: dict[str, tuple[str, str]]) -> list[str]:
        """The alerts ({id: (start, until)}) with a match in (start, until] that no digest has taken, in one search
        a CHUNK of alerts."""
        ids, waiting = sorted(bounds), []
        for first in range(0, len(ids), CHUNK):
            chunk = ids[first : first + CHUNK]
            each = {alert_id: _unmarked_query(alert_id, *bounds[alert_id]) for alert_id in chunk}
            body = {
                "size": 0,
                "query": {"bool": {"should": list(each.values())}},
                "aggs": {"alerts": {"filters": {"filters": each}}},
            }
            try:
                buckets = self.store.client.search(index=self.store.matches_index, body=body)["aggregations"]
            except NotFoundError:  # no match recorded yet
                return []
            waiting += [alert_id for alert_id, bucket in buckets["alerts"]["buckets"].items() if bucket["doc_count"]]
        return waiting

    def _open(self, alert: Alert, start: str, since: str, until: str) -> list[dict]:
        """Write the alert's digest of the period ending at until, pending; its matches are marked when first claimed
        (_marked). [] when another sender opened it first."""
        source = {
            "id": digest_id(alert.id, until),
            "alert_id": alert.id,
            "recipient": alert.digest_email,
            "start": start,
            "since": since,
            "until": until,
            "match_ids": [],
            "total": 0,
            "marked": False,
            "state": "pending",
            "attempts": 0,
            "next_attempt": iso_utc(self.now()),
        }
        try:
            written = self.store.client.index(
                index=self.store.digests_index, id=source["id"], body=source, op_type="create"
            )
        except ConflictError:  # another sender opened it first
            return []
        return [{"_id": source["id"], "_source": source, **{k: written[k] for k in ("_seq_no", "_primary_term")}}]

    def _marked(self, digest: dict, claim: Claim) -> tuple[dict, Claim] | None:
        """The digest with its matches: those of its alert in (start, until] that no digest had taken, marked as its
        own (digest_id) by guarded writes, so that each match is in one digest; the first MAX_LISTED listed. Done once,
        by its first claim's sender; a retry mails what that marked. None when another sender claimed the digest
        meanwhile (marking outlived the lease)."""
        if digest.get("marked", True):  # by an earlier claim, or written before marks (fixed when it was opened)
            return digest, claim
        store = self.store
        query = _unmarked_query(digest["alert_id"], digest["start"], digest["until"])
        for _ in range(MARK_ROUNDS):
            marks = (
                {
                    "_op_type": "update",
                    "_index": store.matches_index,
                    "_id": hit["_id"],
                    "if_seq_no": hit["_seq_no"],  # a match another digest took, or an article joined, meanwhile
                    "if_primary_term": hit["_primary_term"],
                    "doc": {"digest_id": digest["id"]},
                }
                for hit in helpers.scan(
                    store.client,
                    index=store.matches_index,
                    query={"query": query},
                    _source=False,
                    seq_no_primary_term=True,
                )
            )
            _, errors = helpers.bulk(store.client, marks, raise_on_error=False, refresh="wait_for")
            refused = [error["update"] for error in errors if error["update"].get("status") != 409]
            if refused:
                raise RuntimeError(f"marking the matches of digest {digest['id']} was refused: {refused[0]}")
            if not errors:
                break
        body = {
            "query": {"term": {"digest_id": digest["id"]}},
            "sort": [{"matched_at": "asc"}, {"id": "asc"}],
            "size": MAX_LISTED,
            "_source": False,
            "track_total_hits": True,
        }
        found = store.client.search(index=store.matches_index, body=body)["hits"]
        marked = {"marked": True, "total": found["total"]["value"], "match_ids": [hit["_id"] for hit in found["hits"]]}
        held = self._write_claimed(digest["id"], claim, marked)
        return None if held is None else ({**digest, **marked}, held)

    def _due(self) -> list[dict]:
        body = {
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"state": "pending"}},
                        {"range": {"next_attempt": {"lte": iso_utc(self.now())}}},
                    ]
                }
            },
            "sort": [{"next_attempt": "asc"}],
            "size": BATCH,
            "seq_no_primary_term": True,
        }
        try:
            return self.store.client.search(index=self.store.digests_index, body=body)["hits"]["hits"]
        except NotFoundError:
            return []

    def _claim(self, hit: dict) -> Claim | None:
        """Take the digest for one lease (its next attempt moved a lease ahead), unless another sender took it."""
        attempt = hit["_source"].get("attempts", 0) + 1
        return self._write_claimed(
            hit["_id"], Claim.of(hit, attempt), {"attempts": attempt, "next_attempt": self._lease_end()}
        )

    def _lease_end(self) -> str:
        return iso_utc(self.now() + dt.timedelta(seconds=self.lease))

    def _write_claimed(self, digest_id_: str, claim: Claim, change: dict) -> Claim | None:
        """Write the change if the digest is as this claim last saw it; the claim at the version written, or None
        when another sender wrote it meanwhile (its lease ended and it was claimed again)."""
        try:
            written = self.store.client.update(
                index=self.store.digests_index,
                id=digest_id_,
                body={"doc": change},
                if_seq_no=claim.seq_no,
                if_primary_term=claim.primary_term,
            )
        except ConflictError:
            return None
        return Claim(claim.attempt, written["_seq_no"], written["_primary_term"])

    def _give_up_at(self, digest: dict) -> dt.datetime:
        return parse_utc(digest["until"]) + dt.timedelta(hours=self.settings.alert_webhook_give_up_hours)

    def _give_up(self, hit: dict) -> int:
        """Mark the digest failed unless another sender took it meanwhile; 1 if marked, else 0."""
        hours = self.settings.alert_webhook_give_up_hours
        reason = f"still unsent {hours:g} hours after its period; last error: {hit['_source'].get('last_error')}"
        seen = Claim.of(hit, hit["_source"].get("attempts", 0))
        if self._write_claimed(hit["_id"], seen, {"state": "failed", "last_error": reason}) is None:
            return 0
        log.warning("the digest %s failed for good: %s", hit["_id"], reason)
        return 1

    def _send(self, digest: dict, claim: Claim) -> str | None:
        """Mail the claimed digest; its new state, or None when another sender claimed it meanwhile."""
        alert = self.store.get(digest["alert_id"], None)
        # the address recorded when the period was opened, never the alert's current one: changing the address
        # does not redirect what was opened for another
        recipient = digest["recipient"]
        if alert is None:  # opened as it was deleted: nothing of it stays, the address included
            self.store.client.delete(index=self.store.digests_index, id=digest["id"], ignore=404)
            return "dropped"
        marked = self._marked(digest, claim)  # a dropped digest keeps its marks: what it held is never mailed
        if marked is None:
            return None
        digest, claim = marked
        if not digest["total"]:  # another digest took its matches (it waited a period unclaimed): nothing to mail
            self.store.client.delete(index=self.store.digests_index, id=digest["id"], ignore=404)
            return "dropped"
        dropped = _why_dropped(alert) or digest_domain_refusal(recipient, self.settings.alert_digest_domains)
        if dropped:
            return self._settle(digest["id"], {"state": "dropped", "last_error": dropped})
        settings = self.settings
        message = digest_message(
            alert,
            self._matches(digest["match_ids"]),
            digest["total"],
            (digest["since"], digest["until"]),
            (settings.smtp_from, recipient),
            settings.public_url,
            self.now(),
            digest["id"],
        )
        # the exchange gets a whole lease of its own (SMTP_TIMEOUT bounds it, within the lease): however long marking
        # took, no other sender claims the digest while it is mailed
        if self._write_claimed(digest["id"], claim, {"next_attempt": self._lease_end()}) is None:
            return None
        try:
            send_mail(settings, message)
        except MailFailed as error:
            return self._retry_or_fail(digest, claim.attempt, error)
        return self._settle(
            digest["id"],
            {"state": "sent", "sent_at": iso_utc(self.now()), "last_error": None},
        )

    def _matches(self, match_ids: list[str]) -> list[StoryMatch]:
        if not match_ids:
            return []
        docs = self.store.client.mget(index=self.store.matches_index, body={"ids": match_ids})["docs"]
        return [match_of(doc["_source"]) for doc in docs if doc.get("found")]

    def _retry_or_fail(self, digest: dict, attempt: int, error: MailFailed) -> str:
        settings = self.settings
        wait = backoff(attempt, settings.alert_webhook_retry_seconds, settings.alert_webhook_retry_max_seconds)
        next_attempt = self.now() + dt.timedelta(seconds=wait)
        if error.permanent or next_attempt > self._give_up_at(digest):
            log.warning("the digest %s failed for good after %d attempts: %s", digest["id"], attempt, error)
            return self._settle(digest["id"], {"state": "failed", "last_error": str(error)})
        self._settle(
            digest["id"], {"state": "pending", "next_attempt": iso_utc(next_attempt), "last_error": str(error)}
        )
        return "retried"

    def _settle(self, digest_id_: str, change: dict) -> str:
        self.store.client.update(
            index=self.store.digests_index, id=digest_id_, body={"doc": change}, retry_on_conflict=5
        )
        return change["state"]


def this_turn(due: list[dict], opened: list[dict]) -> list[dict]:
    """The digests one turn sends: those due, then those opened just now (not searchable before the next refresh),
    once each and BATCH at most, so that a turn holds the delivery loop BATCH x SMTP_TIMEOUT at most; the rest are
    due at the next turn."""
    hits = {hit["_id"]: hit for hit in due}
    hits.update({hit["_id"]: hit for hit in opened if hit["_id"] not in hits})
    return list(hits.values())[:BATCH]


def _why_dropped(alert: Alert) -> str | None:
    if alert.paused:
        return "the alert was paused"
    if alert.digest_cadence == "off" or not alert.digest_email:
        return "the alert's digest was turned off"
    return None


def _unmarked_query(alert_id: str, start: str, until: str) -> dict:
    """The alert's matches (not back-fill) in (start, until] that no digest has taken."""
    return {
        "bool": {
            "filter": [
                {"term": {"alert_id": alert_id}},
                {"term": {"backfill": False}},
                {"range": {"matched_at": {"gt": start, "lte": until}}},
            ],
            "must_not": [{"exists": {"field": "digest_id"}}],
        }
    }
