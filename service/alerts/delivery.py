"""The webhook deliverer: the matches index is the durable outbox, and each entry's `webhook` field its state. Its
loop also mails the alerts' digests (alerts/digests.py) when SMTP_HOST is set.

A match of an alert with a webhook is recorded with `webhook: {state: pending, attempts: 0, next_attempt}`. The
deliverer takes due entries (pending, next_attempt passed), claims each by moving its next_attempt a lease ahead
with a write guarded by if_seq_no/if_primary_term (so of several deliverers, in threads, processes or hosts, one
wins), POSTs it signed, and then marks it delivered, or schedules the next attempt with exponential back-off and
jitter, or, once the match is older than ALERT_WEBHOOK_GIVE_UP_HOURS, marks it failed. An entry whose alert was
paused meanwhile is marked dropped, never sent (pausing says "stop sending"; the match stays on the page and feed). A deliverer that dies
after its claim leaves the entry pending: it is due again when the lease ends. So a receiver gets every match at
least once, and exactly once when it drops repeats of a delivery id (the match id, the same on every attempt).

Each look takes the earliest due entries of up to BATCH alerts, at most PER_ALERT of each, so that one alert's
backlog cannot fill a look, and gives every receiver (a webhook's host and port) a turn, up to THREADS at once: a
turn takes that receiver's entries in order until it has run ALERT_WEBHOOK_TIMEOUT seconds, and moves those it had
no time for a timeout later, no attempt counted, behind the entries due now. A look waits for its turns as long
as their POSTs may take (two timeouts and TURN_MARGIN per THREADS turns); a turn held longer (the system
resolver's DNS look-up has no deadline of ours) ends on its own, and its receiver gets no other turn until then.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from opensearchpy.exceptions import ConflictError, NotFoundError, OpenSearchException

from service.alerts import webhooks
from service.alerts.atom import parse_utc
from service.alerts.digests import DigestSender
from service.alerts.model import Alert
from service.alerts.outbox import backoff, iso_utc
from service.alerts.store import AlertStore
from service.config import Settings

log = logging.getLogger(__name__)
BATCH = 50  # alerts whose due entries one look takes
PER_ALERT = 5  # due entries of one alert one look takes
LEASE_MARGIN = 30.0  # seconds a claim outlives the POST's own timeout
THREADS = 8  # receivers delivered to at once
TURN_MARGIN = 2.0  # seconds a turn's outbox writes may add to its POSTs before the look stops waiting for it

Webhook = tuple[Alert, str]  # an alert with a webhook, and its secret


def payload(alert, source: dict) -> bytes:
    """The POST body: the alert (id, name, query) and the match as the matches API shows it."""
    match = {name: value for name, value in source.items() if name != "webhook"}
    body = {"delivery_id": match["id"], "alert": {"id": alert.id, "name": alert.name, "query": alert.query}}
    return json.dumps({**body, "match": match}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Report:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # not sent: the alert was paused
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"delivered": self.delivered, "retried": self.retried, "failed": self.failed, "dropped": self.dropped}

    def add(self, other: Report) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.failed += other.failed
        self.dropped += other.dropped
        self.errors.extend(other.errors)


class Deliverer:
    def __init__(
        self,
        store: AlertStore,
        settings: Settings,
        now: Callable[[], dt.datetime] | None = None,
        digests: DigestSender | None = None,
    ):
        self.store, self.settings, self.digests = store, settings, digests
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self.lease = settings.alert_webhook_timeout + LEASE_MARGIN
        self._lock = threading.Lock()
        self._in_turn: set[str] = set()  # receivers whose turn outlasted its look and still runs

    def run_once(self, limit: int = BATCH) -> Report:
        """Deliver the entries due now (of at most limit alerts), a turn per receiver; what was not sent waits its
        next try. The report counts the turns that ended while the look waited for them."""
        due = self._turns(self._due(limit))
        with self._lock:
            turns = {receiver: entries for receiver, entries in due.items() if receiver not in self._in_turn}
            self._in_turn.update(turns)
        report = Report()
        if not turns:
            return report
        pool = ThreadPoolExecutor(min(THREADS, len(turns)), thread_name_prefix="alert-webhook-turn")
        futures = [pool.submit(self._take_turn, receiver, entries) for receiver, entries in turns.items()]
        pool.shutdown(wait=False)  # a turn past its time finishes in its thread, unwaited for
        for future in futures:  # a turn that fails is logged, waited for or not, and stops no other turn or look
            future.add_done_callback(_log_if_failed)
        done, _ = wait(futures, timeout=self._turns_time(len(turns)))
        for future in done:
            if future.exception() is None:
                report.add(future.result())
        return report

    def _turns_time(self, turns: int) -> float:
        """How long the turns may rightly take: each stops taking entries at the timeout, then ends its last POST."""
        rounds = -(-turns // THREADS)
        return rounds * (2 * self.settings.alert_webhook_timeout + TURN_MARGIN)

    def run(self, stop: threading.Event) -> None:
        """Deliver webhooks and mail digests until stop is set, looking every ALERT_DELIVERY_POLL_SECONDS (at once
        again after a full batch of webhooks)."""
        while not stop.is_set():
            try:
                report = self.run_once()
                busy = report.delivered + report.retried + report.failed + report.dropped >= BATCH
                if self.digests is not None:
                    self.digests.run_once()
            except OpenSearchException:  # the cluster is away: the outbox keeps everything until it is back
                log.warning("webhook delivery could not read its outbox; trying again", exc_info=True)
                busy = False
            stop.wait(0 if busy else self.settings.alert_delivery_poll_seconds)

    def _due(self, limit: int) -> list[dict]:
        body = {
            "query": {
                "bool": {
                    "filter": [
                        {"term": {"webhook.state": "pending"}},
                        {"range": {"webhook.next_attempt": {"lte": iso_utc(self.now())}}},
                    ]
                }
            },
            "sort": [{"webhook.next_attempt": "asc"}],
            "collapse": {
                "field": "alert_id",
                "inner_hits": {
                    "name": "due",
                    "size": PER_ALERT,
                    "sort": [{"webhook.next_attempt": "asc"}],
                    "seq_no_primary_term": True,
                },
            },
            "size": limit,
        }
        try:
            alerts = self.store.client.search(index=self.store.matches_index, body=body)["hits"]["hits"]
        except NotFoundError:  # no match recorded yet
            return []
        return [hit for alert in alerts for hit in alert["inner_hits"]["due"]["hits"]["hits"]]

    def _turns(self, hits: list[dict]) -> dict[str, list[tuple[dict, Webhook | None]]]:
        """The due entries with their alert's webhook (None when it has none now), by receiver, in order."""
        webhooks_of: dict[str, Webhook | None] = {}
        turns: dict[str, list[tuple[dict, Webhook | None]]] = {}
        for hit in hits:
            alert_id = hit["_source"]["alert_id"]
            if alert_id not in webhooks_of:
                webhooks_of[alert_id] = self._webhook(alert_id)
            webhook = webhooks_of[alert_id]
            turns.setdefault(_receiver(webhook[0].webhook_url) if webhook else "", []).append((hit, webhook))
        return turns

    def _webhook(self, alert_id: str) -> Webhook | None:
        alert = self.store.get(alert_id, None)
        secret = self.store.webhook_secret(alert_id) if alert else None
        return (alert, secret) if alert and alert.webhook_url and secret else None

    def _take_turn(self, receiver: str, entries: list[tuple[dict, Webhook | None]]) -> Report:
        """Deliver one receiver's entries in order until the turn has run ALERT_WEBHOOK_TIMEOUT seconds."""
        report = Report()
        started = time.monotonic()
        try:
            for taken, (hit, webhook) in enumerate(entries):
                if time.monotonic() - started >= self.settings.alert_webhook_timeout:
                    self._defer([entry for entry, _ in entries[taken:]])  # a slow receiver: let the others go first
                    break
                claimed = self._claim(hit)
                if claimed is not None:
                    self._deliver(hit["_id"], hit["_source"], claimed, webhook, report)
        finally:
            with self._lock:
                self._in_turn.discard(receiver)
        return report

    def _defer(self, hits: list[dict]) -> None:
        """Make the entries due a timeout from now, behind those due now; guarded like a claim, so that an entry
        another deliverer took meanwhile keeps its lease (its item in the bulk fails)."""
        due = self.now() + dt.timedelta(seconds=self.settings.alert_webhook_timeout)
        later = {"doc": {"webhook": {"next_attempt": iso_utc(due)}}}
        actions = []
        for hit in hits:
            guard = {"if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}
            actions += [{"update": {"_index": self.store.matches_index, "_id": hit["_id"], **guard}}, later]
        self.store.client.bulk(body=actions)

    def _claim(self, hit: dict) -> int | None:
        """Take the entry for one attempt; its attempt number, or None when another deliverer took it first."""
        attempt = hit["_source"]["webhook"].get("attempts", 0) + 1
        lease_end = self.now() + dt.timedelta(seconds=self.lease)
        try:
            self.store.client.update(
                index=self.store.matches_index,
                id=hit["_id"],
                body={"doc": {"webhook": {"attempts": attempt, "next_attempt": iso_utc(lease_end)}}},
                if_seq_no=hit["_seq_no"],
                if_primary_term=hit["_primary_term"],
            )
        except ConflictError:
            return None
        return attempt

    def _deliver(self, match_id: str, source: dict, attempt: int, webhook: Webhook | None, report: Report) -> None:
        settings = self.settings
        if webhook is None:
            self._settle(match_id, {"state": "failed", "last_error": "the alert no longer has a webhook"})
            report.failed += 1
            return
        alert, secret = webhook
        if alert.paused:  # dropped, not held: pausing says "stop sending"; the match stays on the page and feed
            self._settle(match_id, {"state": "dropped", "last_error": "the alert was paused"})
            report.dropped += 1
            return
        body = payload(alert, source)
        try:
            target = webhooks.check_url(alert.webhook_url, settings.alert_webhook_allow)  # again: DNS may change
            webhooks.post(target, body, webhooks.signed_headers(secret, body, match_id), settings.alert_webhook_timeout)
        except (webhooks.WebhookUrlError, webhooks.DeliveryFailed) as error:
            self._retry_or_fail(match_id, source, attempt, str(error), report)
            return
        self._settle(match_id, {"state": "delivered", "delivered_at": iso_utc(self.now()), "last_error": None})
        report.delivered += 1

    def _retry_or_fail(self, match_id: str, source: dict, attempt: int, error: str, report: Report) -> None:
        settings = self.settings
        now = self.now()
        wait = backoff(attempt, settings.alert_webhook_retry_seconds, settings.alert_webhook_retry_max_seconds)
        next_attempt = now + dt.timedelta(seconds=wait)
        give_up_at = parse_utc(source["matched_at"]) + dt.timedelta(hours=settings.alert_webhook_give_up_hours)
        report.errors.append(error)
        if next_attempt > give_up_at:
            log.warning("webhook of match %s failed for good after %d attempts: %s", match_id, attempt, error)
            self._settle(match_id, {"state": "failed", "last_error": error})
            report.failed += 1
        else:
            self._settle(match_id, {"state": "pending", "next_attempt": iso_utc(next_attempt), "last_error": error})
            report.retried += 1

    def _settle(self, match_id: str, webhook: dict) -> None:
        """Write the attempt's outcome (only the webhook fields: ingest may be adding outlets meanwhile)."""
        self.store.client.update(
            index=self.store.matches_index, id=match_id, body={"doc": {"webhook": webhook}}, retry_on_conflict=5
        )


class DeliveryThread:
    """One deliverer in a daemon thread, where the process serves (web.start_workers) beside the job workers."""

    def __init__(self, deliverer: Deliverer):
        self.deliverer = deliverer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-webhooks", daemon=True)

    def start(self) -> DeliveryThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self.deliverer.run(self._stop)
        except Exception:  # logged; the outbox keeps the matches for the next process
            log.exception("the webhook deliverer stopped")


def _receiver(url: str) -> str:
    """Who a webhook URL reaches, as turns go: its host and port."""
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:  # its delivery says why
        return url


def _log_if_failed(turn: Future) -> None:
    if (error := turn.exception()) is not None:
        log.error("a webhook turn failed; its entries stay due", exc_info=error)
