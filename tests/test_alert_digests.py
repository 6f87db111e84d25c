"""Alert e-mail digests, mailed to a real SMTP server (aiosmtpd on a free loopback port) from the real node's outbox;
the clock is the test's, so periods end when it says."""

import datetime as dt
import email
import email.policy
import socket
import threading
import time
from dataclasses import replace

import pytest
from helpers import free_port

from service.alerts.delivery import Deliverer
from service.alerts.digest_mail import digest_message, header_text, period_end
from service.alerts.digests import BATCH, DigestSender, MailFailed, send_mail, this_turn
from service.alerts.model import Alert, StoryMatch, match_id, saved_wording
from service.alerts.store import SLOTS_CONFIG, AlertStore
from service.alerts.usecases import AlertRefused, checked_email
from service.config import ConfigError, Settings
from service.index.lifecycle import read_config
from service.web import create_app
from service.web.auth import key_digest

controller = pytest.importorskip("aiosmtpd.controller")

KEY, API_KEY = "digest-key-0123", "digest-api-key-4567"  # the API's test has a key of its own (its addresses)
AUTH = {"X-API-Key": API_KEY}
RACE_KEY = "digest-race-key-89ab"  # the concurrency test's own key: its addresses are counted alone
LEGACY_KEY = "digest-legacy-key-cdef"  # alerts saved before address slots: their addresses counted alone
OWNER = key_digest(KEY)[:16]
ADDRESS = "desk@example.org"
SENDER = "alerts@news.example.org"
BASE = "https://news.example.org"
NOON = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


class Mailbox:
    """An SMTP server on 127.0.0.1:port keeping every message it accepts."""

    def __init__(self, port: int):
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()
        mailbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
                with mailbox.lock:
                    mailbox.messages.append(parsed)
                return "250 OK"

        self.controller = controller.Controller(Handler(), hostname="127.0.0.1", port=port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class Clock:
    def __init__(self, moment: dt.datetime):
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


@pytest.fixture(scope="module")
def smtp_port():
    return free_port()


@pytest.fixture
def mailbox(smtp_port):
    with Mailbox(smtp_port) as box:
        yield box


@pytest.fixture
def store(client, alias):
    return AlertStore(client, alias)


@pytest.fixture(scope="module")
def digest_settings(search_settings, alias, smtp_port):
    return replace(
        search_settings,
        opensearch_index=alias,
        api_keys=(KEY, API_KEY),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from=SENDER,
        smtp_timeout=5.0,
        public_url=BASE,
        alert_webhook_retry_seconds=60,
        alert_webhook_retry_max_seconds=600,
        alert_digest_addresses_per_key=2,
        alert_digest_domains=("example.org",),
    )


def digest_alert(store: AlertStore, cadence: str = "hourly", name: str = "Ceasefire") -> Alert:
    wording = saved_wording({"lang": "en", "text": "ceasefire", "by": "user"})
    alert, _ = store.create(OWNER, name, "ceasefire", {}, [wording], digest_email=ADDRESS, digest_cadence=cadence)
    return alert


def record(store: AlertStore, alert: Alert, story: str, at: dt.datetime) -> None:
    match = StoryMatch(
        id=match_id(alert.id, story),
        alert_id=alert.id,
        story_id=story,
        article_ids=(f"{story}-a",),
        outlets=("BBC Arabic",),
        title_en=f"Ceasefire talks <{story}>",
        title_ar="محادثات وقف إطلاق النار",
        url_article_id=f"{story}-a",
        published="2026-12-07",
        matched_at=at.isoformat(timespec="milliseconds"),
        backfill=False,
    )
    store.record_matches([match])


def mails_to(mailbox: Mailbox, alert: Alert) -> list:
    return [m for m in mailbox.messages if alert.name in m["Subject"]]


def test_a_digest_is_mailed_once_per_period_with_both_parts_and_the_matches(store, digest_settings, mailbox):
    alert = digest_alert(store, name="Once per hour")
    record(store, alert, "s1", NOON + dt.timedelta(minutes=10))
    record(store, alert, "s2", NOON + dt.timedelta(minutes=50))
    clock = Clock(NOON + dt.timedelta(minutes=30))
    sender = DigestSender(store, digest_settings, clock)
    assert sender.run_once()["sent"] == 0  # the hour has not ended
    clock.moment = NOON + dt.timedelta(hours=1, minutes=2)
    assert sender.run_once()["sent"] == 1
    assert DigestSender(store, digest_settings, clock).run_once()["sent"] == 0  # a restart: sent already
    assert sender.run_once()["sent"] == 0
    (mail,) = mails_to(mailbox, alert)
    assert mail["To"] == ADDRESS and mail["From"] == SENDER and mail["Subject"] == "Once per hour: 2 new stories"
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Message-ID"].endswith("@news.example.org>")
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Ceasefire talks <s1>" in plain and f"{BASE}/articles/s2-a" in plain and f"{BASE}/stories/s1" in plain
    assert "\u2068محادثات وقف إطلاق النار\u2069" in plain  # isolated from the English around it
    assert "Ceasefire talks &lt;s1&gt;" in html and "<s1>" not in html
    assert '<bdi lang="ar" dir="rtl">محادثات وقف إطلاق النار</bdi>' in html
    assert f'href="{BASE}/stories/s2"' in html

    # The next hour mails only what matched since.
    record(store, alert, "s3", NOON + dt.timedelta(hours=1, minutes=5))
    clock.moment = NOON + dt.timedelta(hours=2, minutes=2)
    assert sender.run_once()["sent"] == 1
    latest = mails_to(mailbox, alert)[-1].get_body(("plain",)).get_content()
    assert "<s3>" in latest and "<s1>" not in latest and "<s2>" not in latest
    # An hour without matches mails nothing, and records nothing: the outbox holds the two digests mailed.
    clock.moment = NOON + dt.timedelta(hours=3, minutes=2)
    assert sender.run_once() == {"sent": 0, "retried": 0, "failed": 0, "dropped": 0}
    assert DigestSender(store, digest_settings, clock).run_once()["sent"] == 0
    assert len(mails_to(mailbox, alert)) == 2
    store.client.indices.refresh(index=store.digests_index)
    assert store.client.count(index=store.digests_index, body={"query": {"term": {"alert_id": alert.id}}})["count"] == 2


def test_a_match_stored_after_its_period_was_looked_at_goes_out_in_the_next_digest(store, digest_settings, mailbox):
    """A match is stamped before it is written: one stamped 12:59:59 but stored after the 12:00-13:00 digest opened
    (a slow write, a writer whose clock is behind) fell outside that digest and outside the next one's window."""
    alert = digest_alert(store, name="Late")
    clock = Clock(NOON + dt.timedelta(hours=1, minutes=2))
    sender = DigestSender(store, digest_settings, clock)
    assert sender.run_once()["sent"] == 0  # nothing matched yet: no digest opens
    record(store, alert, "first-late", NOON + dt.timedelta(minutes=59, seconds=59))
    record(store, alert, "on-time", NOON + dt.timedelta(hours=1, minutes=10))
    clock.moment += dt.timedelta(hours=1)
    assert sender.run_once()["sent"] == 1
    record(store, alert, "late", NOON + dt.timedelta(hours=1, minutes=59, seconds=59))
    clock.moment += dt.timedelta(hours=1)
    assert sender.run_once()["sent"] == 1
    clock.moment += dt.timedelta(hours=1)
    assert DigestSender(store, digest_settings, clock).run_once()["sent"] == 0
    first, second = (mail.get_body(("plain",)).get_content() for mail in mails_to(mailbox, alert))
    assert "<first-late>" in first and "<on-time>" in first and "<late>" not in first
    assert "<late>" in second and "<on-time>" not in second and "1 new story" in second


def test_a_paused_alert_mails_nothing_and_its_pending_digest_is_dropped(store, digest_settings, mailbox):
    alert = digest_alert(store, name="Paused")
    record(store, alert, "p1", NOON + dt.timedelta(minutes=5))
    wordings = alert.wordings()
    store.update(alert.id, OWNER, alert.name, alert.query, {}, wordings, None, paused=True)
    clock = Clock(NOON + dt.timedelta(hours=1, minutes=2))
    assert DigestSender(store, digest_settings, clock).run_once()["sent"] == 0

    # Resumed, a digest opens; paused again before it goes out (the server away), it is dropped, never sent.
    store.update(alert.id, OWNER, alert.name, alert.query, {}, wordings, None, paused=False)
    down = replace(digest_settings, smtp_port=free_port())
    assert DigestSender(store, down, clock).run_once()["retried"] == 1
    store.update(alert.id, OWNER, alert.name, alert.query, {}, wordings, None, paused=True)
    clock.moment += dt.timedelta(hours=1)
    store.client.indices.refresh(index=store.digests_index)
    counts = DigestSender(store, digest_settings, clock).run_once()
    assert counts["dropped"] == 1 and counts["sent"] == 0
    assert mails_to(mailbox, alert) == []


def test_a_digest_goes_to_the_address_recorded_when_it_opened(store, digest_settings, mailbox):
    alert = digest_alert(store, name="Recorded recipient")
    record(store, alert, "r1", NOON + dt.timedelta(minutes=5))
    clock = Clock(NOON + dt.timedelta(hours=1, minutes=2))
    assert DigestSender(store, replace(digest_settings, smtp_port=free_port()), clock).run_once()["retried"] == 1
    # The address changed while the digest waits: it still goes to the one it was opened for, no one else.
    wordings = alert.wordings()
    store.update(alert.id, OWNER, alert.name, alert.query, {}, wordings, None, digest=("new@example.org", "hourly"))
    clock.moment += dt.timedelta(minutes=5)
    store.client.indices.refresh(index=store.digests_index)
    assert DigestSender(store, digest_settings, clock).run_once()["sent"] == 1
    (mail,) = mails_to(mailbox, alert)
    assert mail["To"] == ADDRESS
    assert (
        "\u2068Recorded recipient\u2069” by that alert's owner, who can stop it"
        in mail.get_body(("plain",)).get_content()
    )


def test_an_smtp_outage_is_retried_and_the_digest_mailed_exactly_once(store, digest_settings, smtp_port):
    alert = digest_alert(store, cadence="daily", name="Outage")
    record(store, alert, "o1", NOON)
    clock = Clock(NOON + dt.timedelta(days=1))
    sender = DigestSender(store, digest_settings, clock)
    assert sender.run_once()["retried"] == 1  # nothing listens on the port yet
    store.client.indices.refresh(index=store.digests_index)
    (digest,) = store.client.search(index=store.digests_index, body={"query": {"term": {"alert_id": alert.id}}})[
        "hits"
    ]["hits"]
    assert digest["_source"]["state"] == "pending" and "refused" in digest["_source"]["last_error"]
    assert sender.run_once()["retried"] == 0  # not due again before its back-off
    with Mailbox(smtp_port) as mailbox:
        clock.moment += dt.timedelta(minutes=5)
        store.client.indices.refresh(index=store.digests_index)
        assert sender.run_once()["sent"] == 1
        clock.moment += dt.timedelta(hours=1)
        store.client.indices.refresh(index=store.digests_index)
        assert DigestSender(store, digest_settings, clock).run_once()["sent"] == 0
        deadline = time.monotonic() + 10
        while not mails_to(mailbox, alert) and time.monotonic() < deadline:
            time.sleep(0.05)
        (mail,) = mails_to(mailbox, alert)
    assert "<o1>" in mail.get_body(("plain",)).get_content()


def test_a_digest_still_unsent_past_the_give_up_age_fails_whatever_kept_it(store, digest_settings, mailbox):
    alert = digest_alert(store, name="Given up")
    record(store, alert, "g1", NOON + dt.timedelta(minutes=5))
    clock = Clock(NOON + dt.timedelta(hours=1, minutes=2))
    assert DigestSender(store, replace(digest_settings, smtp_port=free_port()), clock).run_once()["retried"] == 1
    # Its next attempt never came in time (the sender crashed on each, say): past the give-up age it fails unsent.
    clock.moment += dt.timedelta(hours=digest_settings.alert_webhook_give_up_hours)
    store.client.indices.refresh(index=store.digests_index)
    assert DigestSender(store, digest_settings, clock).run_once()["failed"] == 1
    store.client.indices.refresh(index=store.digests_index)
    found = store.client.search(index=store.digests_index, body={"query": {"term": {"alert_id": alert.id}}})
    (failed,) = [hit["_source"] for hit in found["hits"]["hits"]]
    assert failed["state"] == "failed" and "still unsent" in failed["last_error"]
    assert mails_to(mailbox, alert) == []


def test_deleting_an_alert_deletes_its_digests(store, digest_settings):
    alert = digest_alert(store, name="Deleted")
    record(store, alert, "x1", NOON + dt.timedelta(minutes=5))
    clock = Clock(NOON + dt.timedelta(hours=1, minutes=2))
    assert DigestSender(store, replace(digest_settings, smtp_port=free_port()), clock).run_once()["retried"] == 1
    assert store.delete(alert.id, OWNER)
    query = {"query": {"term": {"alert_id": alert.id}}}
    assert store.client.count(index=store.digests_index, body=query)["count"] == 0


def test_a_server_that_never_answers_is_cut_off_at_the_timeout(store, digest_settings):
    with socket.socket() as silent:  # accepts the connection, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = replace(digest_settings, smtp_port=silent.getsockname()[1], smtp_timeout=0.5)
        alert = digest_alert(store, name="Silent")
        record(store, alert, "q1", NOON + dt.timedelta(minutes=1))
        started = time.monotonic()
        counts = DigestSender(store, settings, Clock(NOON + dt.timedelta(hours=1, minutes=2))).run_once()
        assert counts["retried"] >= 1 and time.monotonic() - started < 2 * counts["retried"]
    store.client.indices.refresh(index=store.digests_index)
    (digest,) = store.client.search(index=store.digests_index, body={"query": {"term": {"alert_id": alert.id}}})[
        "hits"
    ]["hits"]
    assert digest["_source"]["last_error"] == "the SMTP server took more than 0.5 s"


def test_a_host_name_that_never_resolves_is_cut_off_at_the_timeout(digest_settings, mailbox, monkeypatch):
    """The system resolver has no deadline of ours: smtplib's connect waited for it however long it took."""
    answer, resolve = threading.Event(), socket.getaddrinfo

    def slow_resolver(host, *args, **kwargs):  # a name server that answers when the test says so
        if host == "slow-dns.example":
            answer.wait()
            host = "127.0.0.1"
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow_resolver)
    settings = replace(digest_settings, smtp_host="slow-dns.example", smtp_timeout=0.5)
    message = digest_message(
        Alert("a", "o", "Slow DNS", "q", {}, "t", None, NOON.isoformat(), None),
        [],
        0,
        (NOON.isoformat(), NOON.isoformat()),
        (SENDER, ADDRESS),
        BASE,
        NOON,
        "slow-dns",
    )
    failed = []

    def send():
        try:
            send_mail(settings, message)
        except MailFailed as error:
            failed.append(str(error))

    thread = threading.Thread(target=send, daemon=True)
    try:
        thread.start()
        thread.join(5.0)
        assert not thread.is_alive(), "the SMTP exchange still waits for the DNS look-up"
    finally:
        answer.set()
    assert failed == ["the SMTP server took more than 0.5 s"] and mailbox.messages == []


def test_the_serving_deliverer_mails_digests_beside_the_webhooks(store, digest_settings, mailbox):
    alert = digest_alert(store, name="Served")
    record(store, alert, "d1", NOON + dt.timedelta(minutes=1))
    deliverer = Deliverer(
        store, digest_settings, digests=DigestSender(store, digest_settings, Clock(NOON + dt.timedelta(hours=2)))
    )
    stop = threading.Event()
    thread = threading.Thread(target=deliverer.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not mails_to(mailbox, alert) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert len(mails_to(mailbox, alert)) == 1


def test_the_api_sets_the_digest_and_limits_the_addresses_of_a_key(digest_settings, alias, client):
    http = create_app(digest_settings).test_client()
    body = {"name": "api digest", "query": "ceasefire", "digest_email": "one@example.org", "digest_cadence": "daily"}
    made = http.post("/api/v1/alerts", json=body, headers=AUTH)
    assert made.status_code == 201, made.json
    assert made.json["digest_email"] == "one@example.org" and made.json["digest_cadence"] == "daily"
    assert "warning" not in made.json
    changed = http.patch(f"/api/v1/alerts/{made.json['id']}", json={"digest_cadence": "hourly"}, headers=AUTH)
    assert changed.status_code == 200 and changed.json["digest_cadence"] == "hourly"
    refused = http.post("/api/v1/alerts", json={**body, "digest_email": "Desk <x@example.org>"}, headers=AUTH)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "bad_digest_email"
    no_address = http.post("/api/v1/alerts", json={**body, "digest_email": None}, headers=AUTH)
    assert no_address.status_code == 400 and no_address.json["error"]["code"] == "bad_digest_email"
    # Two distinct addresses per key here (ALERT_DIGEST_ADDRESSES_PER_KEY): a third is refused, a known one is not.
    assert (
        http.post("/api/v1/alerts", json={**body, "digest_email": "two@example.org"}, headers=AUTH).status_code == 201
    )
    third = http.post("/api/v1/alerts", json={**body, "digest_email": "three@example.org"}, headers=AUTH)
    assert third.status_code == 400 and third.json["error"]["code"] == "too_many_digest_addresses"
    assert (
        http.post("/api/v1/alerts", json={**body, "digest_email": "ONE@example.org"}, headers=AUTH).status_code == 201
    )
    # Only the operator's domains (ALERT_DIGEST_DOMAINS), and none when it is unset: said in words.
    stranger = http.post("/api/v1/alerts", json={**body, "digest_email": "x@elsewhere.net"}, headers=AUTH)
    assert stranger.status_code == 400 and "only to addresses at example.org" in stranger.json["error"]["message"]
    closed = create_app(replace(digest_settings, alert_digest_domains=())).test_client()
    refused = closed.post("/api/v1/alerts", json=body, headers=AUTH)
    assert refused.status_code == 400 and "not chosen any e-mail domain" in refused.json["error"]["message"]
    assert "cannot be set up on this service" in closed.get("/alerts").get_data(as_text=True)
    # Without an SMTP server the alert is saved, and the answer says no digest will be mailed.
    off = create_app(replace(digest_settings, smtp_host=None)).test_client()
    saved = off.post("/api/v1/alerts", json={**body, "digest_email": "two@example.org"}, headers=AUTH)
    assert saved.status_code == 201 and "no mail server" in saved.json["warning"]


def test_concurrent_saves_cannot_pass_the_limit_of_addresses(digest_settings):
    """Each save checked the key's addresses, then wrote: saves at once each counted the others out."""
    app = create_app(replace(digest_settings, api_keys=(*digest_settings.api_keys, RACE_KEY)))
    auth = {"X-API-Key": RACE_KEY}
    start, answers = threading.Barrier(6), []

    def save(number: int) -> None:
        http = app.test_client()
        kept = http.post("/api/v1/alerts", json={"name": f"race {number}", "query": "ceasefire"}, headers=auth)
        body = {"digest_email": f"race{number}@example.org", "digest_cadence": "daily"}
        start.wait()
        if number % 2:  # an edit of an alert saved without a digest
            answers.append(http.patch(f"/api/v1/alerts/{kept.json['id']}", json=body, headers=auth))
        else:
            answers.append(
                http.post("/api/v1/alerts", json={"name": f"race {number}", "query": "q", **body}, headers=auth)
            )

    threads = [threading.Thread(target=save, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {answer.status_code for answer in answers} <= {200, 201, 400}
    refused = [answer.json["error"]["code"] for answer in answers if answer.status_code == 400]
    assert set(refused) <= {"too_many_digest_addresses"}
    listed = app.test_client().get("/api/v1/alerts", headers=auth).json
    addresses = {alert["digest_email"] for alert in listed["alerts"] if alert.get("digest_email")}
    assert len(addresses) == digest_settings.alert_digest_addresses_per_key == len(answers) - len(refused)


def test_smtp_settings_are_checked_at_start_up():
    with pytest.raises(ConfigError, match="SMTP_FROM"):
        Settings.from_env({"SMTP_HOST": "mail.example.org"})
    with pytest.raises(ConfigError, match="SMTP_STARTTLS"):
        Settings.from_env(
            {"SMTP_HOST": "m", "SMTP_FROM": SENDER, "PUBLIC_URL": BASE, "SMTP_USER": "u", "SMTP_PASSWORD": "p"}
        )
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        Settings.from_env({"PUBLIC_URL": "news.example.org"})
    assert Settings.from_env({}).smtp_host is None


def test_periods_end_on_the_hour_and_at_utc_midnight():
    moment = dt.datetime(2026, 12, 7, 14, 35, 12, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert period_end(moment, "hourly") == dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC)
    assert period_end(moment, "daily") == dt.datetime(2026, 12, 7, 0, 0, tzinfo=dt.UTC)


def test_a_digest_quotes_the_sentence_each_story_matched_by_escaped():
    alert = Alert("a", "o", "Fire", "fire", {}, "t", None, NOON.isoformat(), None)
    snippet = {"ar": "نار", "en": "A <fire> broke out.", "by": "words"}
    match = StoryMatch("m", "a", "s", ("x",), (), "Fire", "", "x", None, NOON.isoformat(), False, snippet=snippet)
    period = (NOON.isoformat(), NOON.isoformat())
    message = digest_message(alert, [match], 1, period, (SENDER, ADDRESS), BASE, NOON, "i")
    assert "“A <fire> broke out.”" in message.get_body(("plain",)).get_content()
    assert "<q>A &lt;fire&gt; broke out.</q>" in message.get_body(("html",)).get_content()


def test_a_name_with_a_line_break_cannot_add_a_header():
    alert = Alert("a", "o", "Gaza\r\nBcc: victim@example.org", "q", {}, "t", None, NOON.isoformat(), None)
    message = digest_message(alert, [], 0, (NOON.isoformat(), NOON.isoformat()), (SENDER, ADDRESS), BASE, NOON, "id")
    assert message["Bcc"] is None and "\n" not in message["Subject"]
    assert header_text("a\x00b\u2028c") == "a b c"


def test_bidi_controls_leave_the_headers_and_the_name_and_query_are_isolated_in_the_text():
    spoof = "Gaza\u202etxt.exe\u2066x\u2069\u200f"
    alert = Alert("a", "o", spoof, f"q\u2069{spoof}", {}, "t", None, NOON.isoformat(), None)
    message = digest_message(alert, [], 0, (NOON.isoformat(), NOON.isoformat()), (SENDER, ADDRESS), BASE, NOON, "id")
    assert message["Subject"] == "Gazatxt.exex: 0 new stories"
    plain = message.get_body(("plain",)).get_content()
    assert "alert “\u2068Gazatxt.exex\u2069” (query: \u2068qGazatxt.exex\u2069)" in plain
    assert "\u202e" not in plain and "\u200f" not in plain


@pytest.mark.parametrize(
    "address",
    [
        "Desk <desk@example.org>",
        "a@example.org, b@example.org",
        "desk@localhost",
        "a@b.org\nBcc: x@y.org",
        'e@[R<E"',  # the standard library's address parser fails on this one with an AttributeError
        "x" * 250 + "@example.org",
    ],
)
def test_a_digest_address_is_one_bare_address(address):
    with pytest.raises(AlertRefused) as refused:
        checked_email(address)
    assert refused.value.code == "bad_digest_email"
    assert checked_email(" d.e+f@mail.example.co.uk ") == "d.e+f@mail.example.co.uk" and checked_email("") is None


def test_one_turn_sends_at_most_a_batch_of_digests_due_and_opened():
    due = [{"_id": f"d{n}"} for n in range(BATCH)]
    opened = [{"_id": "d0"}, {"_id": "new"}]
    turn = this_turn(due, opened)
    assert len(turn) == BATCH and [hit["_id"] for hit in turn] == [f"d{n}" for n in range(BATCH)]
    assert [hit["_id"] for hit in this_turn(due[:2], opened)] == ["d0", "d1", "new"]


def test_a_key_at_its_address_limit_may_still_use_an_address_its_older_alerts_mail(digest_settings, client, alias):
    """Addresses saved before address slots are held by none: "use one of them", as the refusal says, is allowed."""
    store = AlertStore(client, alias)
    owner = key_digest(LEGACY_KEY)[:16]
    wording = saved_wording({"lang": "en", "text": "ceasefire", "by": "user"})
    limit = digest_settings.alert_digest_addresses_per_key
    for n in range(limit):
        store.create(
            owner, "legacy", "ceasefire", {}, [wording], digest_email=f"old{n}@example.org", digest_cadence="daily"
        )
    app = create_app(replace(digest_settings, api_keys=(*digest_settings.api_keys, LEGACY_KEY)))
    headers = {"X-API-Key": LEGACY_KEY}
    body = {"name": "new", "query": "ceasefire", "digest_email": "old0@example.org", "digest_cadence": "daily"}
    assert app.test_client().post("/api/v1/alerts", json=body, headers=headers).status_code == 201
    one_more = {**body, "digest_email": "new@example.org"}
    refused = app.test_client().post("/api/v1/alerts", json=one_more, headers=headers)
    assert (refused.status_code, refused.json["error"]["code"]) == (400, "too_many_digest_addresses")


def test_an_alert_saved_before_address_slots_can_be_given_a_digest_by_an_edit(digest_settings, client):
    """A process that has not brought the alert indices up to date since the upgrade (no create, ingest or digest
    turn yet) edits an alert: the slots index the earlier version made takes the address field first."""
    alias = "digest-upgrade"
    settings = replace(digest_settings, opensearch_index=alias, api_keys=(*digest_settings.api_keys, LEGACY_KEY))
    http, auth = create_app(settings).test_client(), {"X-API-Key": LEGACY_KEY}
    store = AlertStore(client, alias)
    try:
        made = http.post("/api/v1/alerts", json={"name": "old", "query": "ceasefire"}, headers=auth)
        assert made.status_code == 201, made.json
        earlier_slots = read_config(SLOTS_CONFIG)
        del earlier_slots["mappings"]["properties"]["address"]
        client.indices.delete(index=store.slots_index)
        client.indices.create(index=store.slots_index, body=earlier_slots)
        body = {"digest_email": "desk@example.org", "digest_cadence": "daily"}
        edited = http.patch(f"/api/v1/alerts/{made.json['id']}", json=body, headers=auth)
        assert edited.status_code == 200, edited.json
    finally:
        for index in (store.alerts_index, store.matches_index, store.slots_index, store.digests_index):
            client.indices.delete(index=index, ignore=404)


def test_a_sender_whose_claim_ran_out_leaves_the_digest_to_the_one_that_took_it(store, digest_settings, mailbox):
    """Marking a digest's matches takes part of the claim's lease: a sender that outlived it mails nothing, while the
    sender that claimed the digest after it mails it once."""
    alert = digest_alert(store, name="Lease ran out")
    record(store, alert, "lease-1", NOON + dt.timedelta(minutes=5))
    clock = Clock(NOON + dt.timedelta(hours=1, minutes=2))
    slow = DigestSender(store, digest_settings, clock)
    (hit,) = [hit for hit in this_turn(slow._due(), slow._open_periods()) if hit["_source"]["alert_id"] == alert.id]
    claim = slow._claim(hit)
    assert claim is not None
    clock.moment += dt.timedelta(seconds=slow.lease + 1)
    DigestSender(store, digest_settings, clock).run_once()
    assert len(mails_to(mailbox, alert)) == 1
    assert slow._send(hit["_source"], claim) is None
    assert len(mails_to(mailbox, alert)) == 1
