"""Webhook delivery from the matches outbox, on the real node, to a real HTTP receiver on loopback (allow-listed)."""

import contextlib
import functools
import itertools
import json
import select
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import free_port, run_cli

from service.alerts import webhooks
from service.alerts.atom import parse_utc
from service.alerts.delivery import BATCH, Deliverer, DeliveryThread, backoff
from service.alerts.model import StoryMatch, match_id, saved_wording
from service.alerts.store import AlertStore, now_iso
from service.web import create_app, start_workers, stop_workers
from service.web.auth import key_digest
from service.web.services import services_of

ALLOW = ("127.0.0.0/8",)
KEY = "delivery-key-0123"
AUTH = {"X-API-Key": KEY}
OWNER = key_digest(KEY)[:16]  # whom the API's alerts belong to (web.auth.current_owner)
DEADLINE = 60.0
SECRET = "whsec-test-0123456789"


class Receiver:
    """A webhook receiver on 127.0.0.1:port that answers 503 to its first `refuse` requests, then 200."""

    def __init__(self, port: int, secret: str, refuse: int = 0, redirect_to: str | None = None):
        self.secret, self.refuse, self.redirect_to = secret, refuse, redirect_to
        self.accepted: list[str] = []  # delivery ids answered 200, in order, repeats kept
        self.refused = 0
        self.bad_signatures = 0
        self.bodies: dict[str, dict] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    if not webhooks.verify(receiver.secret, body, self.headers.get(webhooks.SIGNATURE_HEADER, "")):
                        receiver.bad_signatures += 1
                        status = 400
                    elif receiver.redirect_to:
                        receiver.refused += 1
                        status = 307
                    elif receiver.refused < receiver.refuse:
                        receiver.refused += 1
                        status = 503
                    else:
                        delivery = self.headers[webhooks.DELIVERY_HEADER]
                        receiver.accepted.append(delivery)
                        receiver.bodies[delivery] = json.loads(body)
                        status = 200
                self.send_response(status)
                if status == 307:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Trickler:
    """A receiver on loopback that answers a byte every `every` seconds, for ever, after `prefix` (the start of an
    HTTP answer, or of a TLS handshake record), so that no read waits long; it notes how long each exchange lasted,
    until the client hung up."""

    def __init__(self, prefix: bytes, every: float = 0.05):
        self.prefix, self.every = prefix, every
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(every)
        self.port = self.listener.getsockname()[1]
        self.lasted: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket):
        started = time.monotonic()
        answer = itertools.chain(self.prefix, itertools.repeat(ord("a")))
        with connection, contextlib.suppress(OSError):  # an error: the client hung up
            while not self.stopped.is_set():
                readable, _, _ = select.select([connection], [], [], self.every)
                if readable and not connection.recv(65536):
                    break  # the client hung up
                connection.sendall(bytes([next(answer)]))
        self.lasted.append(time.monotonic() - started)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()
        self.listener.close()


TRICKLES = {"http": b"HTTP/1.1 200 OK\r\nX-Slow: ", "https": b"\x16\x03\x03\x40\x00"}  # a 16 KiB TLS record


@pytest.fixture
def store(client, alias):
    return AlertStore(client, alias)


@pytest.fixture
def delivery_settings(search_settings, alias):
    return replace(
        search_settings,
        opensearch_index=alias,
        alert_webhook_allow=ALLOW,
        alert_webhook_timeout=2.0,
        alert_webhook_retry_seconds=0.05,
        alert_webhook_retry_max_seconds=0.2,
        alert_delivery_poll_seconds=0.05,
    )


def alert_with_webhook(store: AlertStore, url: str):
    wording = saved_wording({"lang": "en", "text": "ceasefire", "by": "user"})
    return store.create(OWNER, "Ceasefire", "ceasefire", {}, [wording], webhook_url=url)


def record(store: AlertStore, alert_id: str, stories: list[str]) -> list[str]:
    matches = [
        StoryMatch(
            id=match_id(alert_id, story),
            alert_id=alert_id,
            story_id=story,
            article_ids=(f"{story}-a",),
            outlets=("Outlet A",),
            title_en=f"Ceasefire talks {story}",
            title_ar="",
            url_article_id=f"{story}-a",
            published=None,
            matched_at=now_iso(),
            backfill=False,
        )
        for story in stories
    ]
    store.record_matches(matches, notify=frozenset({alert_id}))
    store.client.indices.refresh(index=store.matches_index)
    return [match.id for match in matches]


def webhook_states(store: AlertStore, ids: list[str]) -> dict[str, dict]:
    docs = store.client.mget(index=store.matches_index, body={"ids": ids})["docs"]
    return {doc["_id"]: doc["_source"]["webhook"] for doc in docs}


def poll(condition, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {deadline} s: {what}")


def test_a_receiver_that_is_down_gets_every_match_exactly_once_when_it_is_back(store, delivery_settings):
    port = free_port()
    alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    ids = record(store, alert.id, [f"down-{n}" for n in range(5)])
    deliverer = Deliverer(store, delivery_settings)

    # Down: nothing listens on the port, so every attempt is refused and rescheduled, none lost.
    def tried_twice():
        deliverer.run_once()
        store.client.indices.refresh(index=store.matches_index)
        return all(state["attempts"] >= 2 for state in webhook_states(store, ids).values())

    poll(tried_twice, "every match attempted twice while the receiver is down")
    states = webhook_states(store, ids)
    assert {state["state"] for state in states.values()} == {"pending"}
    assert all(
        "Connection refused" in state["last_error"] or "NewConnection" in state["last_error"]
        for state in states.values()
    )

    # Back, but answering 503 to its first three requests; two deliverers race for the outbox.
    with Receiver(port, secret, refuse=3) as receiver:
        threads = [DeliveryThread(Deliverer(store, delivery_settings)).start() for _ in range(2)]
        try:
            poll(lambda: len(set(receiver.accepted)) == len(ids), "every match delivered")
        finally:
            for thread in threads:
                thread.stop()
    assert sorted(receiver.accepted) == sorted(ids)  # each exactly once: no repeats
    assert receiver.refused == 3 and receiver.bad_signatures == 0
    body = receiver.bodies[ids[0]]
    assert body["delivery_id"] == ids[0] and body["alert"]["id"] == alert.id
    assert body["match"]["title_en"] == "Ceasefire talks down-0" and "webhook" not in body["match"]
    store.client.indices.refresh(index=store.matches_index)
    assert {state["state"] for state in webhook_states(store, ids).values()} == {"delivered"}


def test_a_match_never_taken_is_marked_failed_after_the_give_up_age_and_the_api_says_so(store, delivery_settings):
    alert, _secret = alert_with_webhook(store, f"http://127.0.0.1:{free_port()}/hook")
    ids = record(store, alert.id, ["never-taken"])
    deliverer = Deliverer(store, replace(delivery_settings, alert_webhook_give_up_hours=1 / 3600))

    def failed():
        deliverer.run_once()
        store.client.indices.refresh(index=store.matches_index)
        return webhook_states(store, ids)[ids[0]]["state"] == "failed"

    poll(failed, "the match marked failed")
    api = create_app(replace(delivery_settings, api_keys=(KEY,))).test_client()
    (shown,) = api.get(f"/api/v1/alerts/{alert.id}/matches", headers=AUTH).get_json()["matches"]
    assert shown["webhook"]["state"] == "failed" and shown["webhook"]["attempts"] >= 1
    assert "Connection refused" in shown["webhook"]["last_error"] or "NewConnection" in shown["webhook"]["last_error"]


@pytest.mark.parametrize("allow", [(), ("10.0.0.0/8",)])
def test_a_webhook_to_loopback_is_refused_at_create_and_update_without_the_allow_list(delivery_settings, store, allow):
    api = create_app(replace(delivery_settings, api_keys=(KEY,), alert_webhook_allow=allow)).test_client()
    for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]/hook"):
        body = {"name": "Loopback", "query": "ceasefire", "webhook_url": url}
        refused = api.post("/api/v1/alerts", json=body, headers=AUTH)
        assert refused.status_code == 400, url
        assert refused.get_json()["error"]["code"] == "webhook_refused"
    created = api.post("/api/v1/alerts", json={"name": "No hook", "query": "ceasefire"}, headers=AUTH)
    assert created.status_code == 201
    alert_id = created.get_json()["id"]
    patched = api.patch(f"/api/v1/alerts/{alert_id}", json={"webhook_url": "http://127.0.0.1:9/"}, headers=AUTH)
    assert patched.status_code == 400 and store.get(alert_id, None).webhook_url is None


def test_with_the_allow_list_a_loopback_webhook_is_saved_and_its_secret_given_once(delivery_settings):
    api = create_app(replace(delivery_settings, api_keys=(KEY,))).test_client()
    body = {"name": "Allowed", "query": "ceasefire", "webhook_url": "http://127.0.0.1:9/hook"}
    created = api.post("/api/v1/alerts", json=body, headers=AUTH)
    assert created.status_code == 201 and len(created.get_json()["webhook_secret"]) >= 32
    shown = api.get(f"/api/v1/alerts/{created.get_json()['id']}", headers=AUTH).get_json()
    assert "webhook_secret" not in shown and shown["webhook_url"] == "http://127.0.0.1:9/hook"


def test_a_webhook_to_loopback_is_not_sent_without_the_allow_list(store, delivery_settings):
    port = free_port()
    alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    ids = record(store, alert.id, ["not-allowed"])
    with Receiver(port, secret) as receiver:
        report = Deliverer(store, replace(delivery_settings, alert_webhook_allow=())).run_once()
    assert receiver.accepted == [] and report.delivered == 0
    assert "only public addresses" in webhook_states(store, ids)[ids[0]]["last_error"]


def test_a_redirect_is_an_answer_and_never_followed(store, delivery_settings):
    inside, outside = free_port(), free_port()
    alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{outside}/hook")
    ids = record(store, alert.id, ["redirected"])
    with (
        Receiver(inside, secret) as target,
        Receiver(outside, secret, redirect_to=f"http://127.0.0.1:{inside}/") as hop,
    ):
        report = Deliverer(store, delivery_settings).run_once()
    assert hop.refused == 1 and target.accepted == [] and report.delivered == 0
    assert "answered 307" in webhook_states(store, ids)[ids[0]]["last_error"]


def test_tls_to_the_pinned_address_still_checks_the_certificate(tmp_path):
    """A receiver with a certificate nobody vouches for is refused, though its address is allowed."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            cert,
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    receiver = Receiver(port, SECRET)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    with receiver:
        target = webhooks.check_url(f"https://127.0.0.1:{port}/hook", ALLOW)
        with pytest.raises(webhooks.DeliveryFailed, match=r"SSL|certificate"):
            webhooks.post(target, b"{}", webhooks.signed_headers(SECRET, b"{}", "d1"), timeout=5)
    assert receiver.accepted == []


@pytest.mark.parametrize("scheme", TRICKLES)
def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_timeout(scheme):
    """Each read gets a byte in time, so only a deadline on the whole exchange ends it (TLS: in the handshake)."""
    timeout = 2.0
    with Trickler(TRICKLES[scheme]) as slow:
        target = webhooks.check_url(f"{scheme}://127.0.0.1:{slow.port}/hook", ALLOW)
        ended: list[tuple[float, str]] = []  # (seconds the POST took, why it failed)

        def deliver():
            started = time.monotonic()
            try:
                webhooks.post(target, b"{}", webhooks.signed_headers(SECRET, b"{}", "d1"), timeout)
            except webhooks.DeliveryFailed as error:
                ended.append((time.monotonic() - started, str(error)))

        sender = threading.Thread(target=deliver, daemon=True)
        sender.start()
        sender.join(3 * timeout)
        assert not sender.is_alive(), f"the POST still runs after {3 * timeout} s (its timeout: {timeout} s)"
    ((took, error),) = ended
    assert timeout <= took < 1.5 * timeout and "took more than" in error


def test_a_slow_receiver_holds_back_neither_the_other_receivers_nor_the_next_look(store, delivery_settings):
    settings = replace(delivery_settings, alert_webhook_timeout=5.0)
    timeout, port = settings.alert_webhook_timeout, free_port()
    with Trickler(TRICKLES["http"]) as slow:
        slow_alert, _ = alert_with_webhook(store, f"http://127.0.0.1:{slow.port}/hook")
        fast_alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
        record(store, slow_alert.id, [f"slow-{n}" for n in range(3)])  # due first
        (first,) = record(store, fast_alert.id, ["fast-1"])
        with Receiver(port, secret) as fast:
            thread = DeliveryThread(Deliverer(store, settings)).start()
            try:
                poll(lambda: first in fast.accepted, "the fast receiver's match", deadline=4 * timeout)
                assert slow.lasted == []  # while the slow receiver's first exchange still trickles
                (second,) = record(store, fast_alert.id, ["fast-2"])
                poll(lambda: second in fast.accepted, "the fast receiver's next match", deadline=4 * timeout)
                assert len(slow.lasted) <= 1  # the look after: the slow receiver had one exchange, not three
            finally:
                thread.stop()
    assert slow.lasted and max(slow.lasted) < 1.5 * timeout


def test_a_slow_receivers_backlog_does_not_starve_the_other_receivers(store, delivery_settings):
    """More of a tarpit's entries due than a look takes: each look took the earliest, all the tarpit's, and tried one,
    so the fast receiver's entries, due after them, waited until the backlog had gone, one entry a look."""
    settings = replace(delivery_settings, alert_webhook_timeout=1.0)
    port = free_port()
    with Trickler(TRICKLES["http"]) as slow:
        slow_alert, _ = alert_with_webhook(store, f"http://127.0.0.1:{slow.port}/hook")
        fast_alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
        backlog = record(store, slow_alert.id, [f"tarpit-{n}" for n in range(BATCH + 20)])  # due first
        fast_ids = record(store, fast_alert.id, ["fast-1", "fast-2"])
        deliverer = Deliverer(store, settings)
        first_look, looks = deliverer.now(), 0
        with Receiver(port, secret) as fast:
            while looks < 2 and not set(fast_ids) <= set(fast.accepted):
                deliverer.run_once()
                store.client.indices.refresh(index=store.matches_index)
                looks += 1
            poll(lambda: set(fast_ids) <= set(fast.accepted), "the fast receiver's deliveries, given two looks")
    states = webhook_states(store, backlog).values()
    assert 1 <= sum(state["attempts"] for state in states) <= looks  # the tarpit's turn has time for one a look
    deferred = [s for s in states if s["attempts"] == 0 and parse_utc(s["next_attempt"]) > first_look]
    assert len(deferred) > 1  # those it had no time for wait behind the others, no attempt counted


def test_a_look_leaves_a_turn_held_by_a_slow_dns_look_up_to_end_on_its_own(store, delivery_settings, monkeypatch):
    """The system resolver has no deadline of ours: a look waited for every turn, so one slow look-up held up every
    receiver's next look. Now the look goes on without it, and gives that receiver no second turn meanwhile."""
    settings = replace(delivery_settings, alert_webhook_timeout=1.0)
    answer, asked = threading.Event(), []
    resolve = webhooks._resolve

    def slow_resolver(host, port):  # a name server that answers when the test says so
        if host == "slow-dns.example":
            asked.append(host)
            answer.wait()
            return resolve("127.0.0.1", port)
        return resolve(host, port)

    monkeypatch.setattr(webhooks, "_resolve", slow_resolver)
    port = free_port()
    slow_alert, _ = alert_with_webhook(store, f"http://slow-dns.example:{free_port()}/hook")
    fast_alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    held, waiting = record(store, slow_alert.id, ["slow-dns-1", "slow-dns-2"])
    deliverer = Deliverer(store, settings)

    def sent_after_a_look(delivery: str, receiver: Receiver) -> bool:
        """One more look, which must end while the look-up still waits; then whether delivery has gone out."""
        thread = threading.Thread(target=deliverer.run_once, daemon=True)
        thread.start()
        thread.join(DEADLINE)
        assert not thread.is_alive(), "the look still waits for the turn held by the DNS look-up"
        store.client.indices.refresh(index=store.matches_index)
        return delivery in receiver.accepted

    try:
        with Receiver(port, secret) as fast:
            for story in ("fast-1", "fast-2"):  # looks while the look-up still waits
                (delivery,) = record(store, fast_alert.id, [story])
                poll(functools.partial(sent_after_a_look, delivery, fast), f"{story} delivered")
        assert asked == ["slow-dns.example"]  # one turn for that receiver, though its second entry is due
    finally:
        answer.set()
    poll(lambda: webhook_states(store, [held])[held].get("last_error"), "the held turn ends on its own")
    assert webhook_states(store, [waiting])[waiting]["attempts"] == 0


def test_a_turn_that_fails_is_logged_and_stops_no_other_turn_or_look(store, delivery_settings, monkeypatch, caplog):
    """Any error in one receiver's turn (here the resolver's own) is that turn's: the look reports the others."""
    resolve = webhooks._resolve

    def broken_resolver(host, port):
        if host == "broken-dns.example":
            raise RuntimeError("the resolver broke")
        return resolve(host, port)

    monkeypatch.setattr(webhooks, "_resolve", broken_resolver)
    port = free_port()
    broken_alert, _ = alert_with_webhook(store, f"http://broken-dns.example:{free_port()}/hook")
    fast_alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    record(store, broken_alert.id, ["broken-1"])
    (delivery,) = record(store, fast_alert.id, ["fine-1"])
    with Receiver(port, secret) as fast:
        report = Deliverer(store, delivery_settings).run_once()
    assert report.delivered == 1 and delivery in fast.accepted
    assert any("webhook turn failed" in line for line in caplog.messages)


def test_the_serving_process_runs_a_deliverer_beside_its_job_workers(store, delivery_settings, tmp_path):
    port = free_port()
    alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    ids = record(store, alert.id, ["served"])
    app = create_app(replace(delivery_settings, jobs_db=tmp_path / "jobs.db"))
    with Receiver(port, secret) as receiver:
        start_workers(app)
        try:
            assert services_of(app).deliverer is not None
            poll(lambda: ids[0] in receiver.accepted, "the match delivered by the serving process")
        finally:
            stop_workers(app)
    assert services_of(app).deliverer is None
    assert not any(thread.name == "alert-webhooks" and thread.is_alive() for thread in threading.enumerate())


def test_the_cli_delivers_what_is_due_once(store, delivery_settings, alias):
    port = free_port()
    alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    ids = record(store, alert.id, ["by-cli"])
    env = {
        "OPENSEARCH_URL": delivery_settings.opensearch_urls[0],
        "OPENSEARCH_INDEX": alias,
        "ALERT_WEBHOOK_ALLOW": "127.0.0.1",
    }
    with Receiver(port, secret) as receiver:
        done = run_cli("alerts", "deliver", "--once", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] >= 1
    assert ids[0] in receiver.accepted


def test_back_off_doubles_with_jitter_up_to_its_cap():
    assert [backoff(n, 10, 100, draw=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert backoff(3, 10, 100, draw=lambda: 0.0) == 20  # half of 40 at the least
    assert backoff(10_000, 10, 100, draw=lambda: 1.0) == 100


def test_a_pause_drops_the_webhooks_still_queued_rather_than_sending_them(store, delivery_settings):
    """Issue 21 item 17: deliveries queued before a pause are dropped (state dropped), never sent after it."""
    port = free_port()
    alert, secret = alert_with_webhook(store, f"http://127.0.0.1:{port}/hook")
    ids = record(store, alert.id, ["queued-1", "queued-2"])
    store.update(alert.id, OWNER, alert.name, alert.query, {}, alert.wordings(), alert.webhook_url, paused=True)
    with Receiver(port, secret) as receiver:
        report = Deliverer(store, delivery_settings).run_once()
    assert report.dropped == 2 and report.delivered == 0 and receiver.accepted == []
    store.client.indices.refresh(index=store.matches_index)
    states = webhook_states(store, ids).values()
    assert [(state["state"], state["last_error"]) for state in states] == [("dropped", "the alert was paused")] * 2
