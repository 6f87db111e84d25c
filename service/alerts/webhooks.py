"""Webhooks: the signature a receiver checks, the guard on where we may POST, and the one POST, pinned.

Signature: `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the alert's secret>`, and
`X-Delivery-Id`, the same on every retry of one match, so a receiver drops the repeats. A receiver checks with
verify() (or the same three lines in its own language): recompute the HMAC over the raw body, compare in constant
time, and refuse a timestamp older than its tolerance (a replayed request).

Guard: a webhook URL is http(s) only, and every address its host resolves to must be public (not private,
loopback, link-local, site-local, multicast, reserved, unspecified or another of IANA's special-purpose ranges
that are not globally reachable, whatever the Python version; a NAT64 or 6to4 address is judged by the IPv4 host it
reaches, and the other IPv4 translation and tunnel forms are refused) unless ALERT_WEBHOOK_ALLOW names the host or
a network holding the address. It is checked when an alert is saved, and again at each delivery, where the
connection goes to the very address checked (so a DNS answer that changes in between cannot redirect it) and no
redirect is followed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from service.errors import ServiceError

SIGNATURE_HEADER = "X-Signature"
DELIVERY_HEADER = "X-Delivery-Id"
SCHEMES = {"http": 80, "https": 443}
MAX_URL_CHARS = 2000
PATH_SAFE = "!$&'()*+,;=:@/?%"  # what a path and query keep as they are (RFC 3986); the rest is %-encoded UTF-8
DEFAULT_TOLERANCE = 300  # seconds a receiver accepts between our timestamp and its clock

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that reach an IPv4 host through a translator or a tunnel: NAT64's well-known prefix (RFC 6052) and
# 6to4 (RFC 3056), whose address is judged by the IPv4 one it carries (an IPv4-mapped one is unmapped before).
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Those that carry one we do not read, refused whatever it is (Python 3.11 calls some of them global): NAT64's
# local-use prefix (RFC 8215), IPv4-compatible (::a.b.c.d) and IPv4-translated (::ffff:0:a.b.c.d) addresses, Teredo.
TUNNELS = tuple(
    ipaddress.IPv6Network(network) for network in ("64:ff9b:1::/48", "::/96", "::ffff:0:0:0/96", "2001::/32")
)
# IANA's special-purpose ranges that are not globally reachable (and site-local, deprecated), listed here since
# Python's is_global misses some of them before 3.11.10 (192.0.0.8-255) or 3.13 (3fff::/20), fec0::/10 in all.
# 192.0.0.0/24 and 2001::/23 hold a few anycast services that are global, none of them a webhook receiver.
NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in (
        *("0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24"),
        *("203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32"),
        *("100::/64", "100:0:0:1::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7"),
        "fec0::/10",
    )
)


class WebhookUrlError(ServiceError, ValueError):
    """A webhook URL we will not POST to; the message says why, in words for the alert's owner."""

    status, code = 400, "webhook_refused"


# Signing


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Signature value for body sent at timestamp (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, delivery_id: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one delivery: JSON, its signature now, and the delivery id receivers dedupe on."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body, stamp),
        DELIVERY_HEADER: delivery_id,
        "User-Agent": "arabic-english-news-alerts",
    }


def verify(
    secret: str, body: bytes, header: str | bytes, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> bool:
    """For receivers: whether header (X-Signature) signs this raw body with secret, sent within tolerance seconds.

    The comparison runs in constant time, on bytes; a malformed header (not text, no `t` of ASCII digits, no `v1`
    of 64 lower-case hex digits), another body or secret, or an old timestamp is False, never an exception.
    """
    parts = _signature_parts(header)
    if parts is None or not isinstance(secret, str) or not isinstance(body, bytes | bytearray | memoryview):
        return False
    timestamp, digest = parts
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(_digest(secret, bytes(body), timestamp).encode("ascii"), digest)


def _signature_parts(header: object) -> tuple[int, bytes] | None:
    """The timestamp and the hex digest (as ASCII bytes) of an X-Signature header, or None when it is malformed."""
    if isinstance(header, bytes | bytearray):
        header = header.decode("ascii", errors="replace")
    if not isinstance(header, str):
        return None
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp, digest = parts.get("t", ""), parts.get("v1", "")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        return None
    return int(timestamp), digest.encode("ascii")


# The guard


@dataclass(frozen=True)
class Target:
    """Where one POST goes: the URL's parts (the path %-encoded) and the checked address it is pinned to."""

    scheme: str
    host: str
    port: int
    path: str
    address: Address

    @property
    def host_header(self) -> str:
        named = f"[{self.host}]" if ":" in self.host else self.host
        return named if self.port == SCHEMES[self.scheme] else f"{named}:{self.port}"


def check_url(url: str, allow: tuple[str, ...]) -> Target:
    """The URL's target, resolved now and checked; WebhookUrlError says why it is refused."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        raise WebhookUrlError(f"a webhook URL is a string of at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlError("the webhook URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        raise WebhookUrlError("a webhook URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("a webhook URL must not carry a user name or password")
    try:  # the host as it goes out, in the Host header and TLS: an internationalised name in its ASCII form
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise WebhookUrlError(f"the webhook host {parts.hostname} is not a valid host name") from None
    port = port or SCHEMES[scheme]
    addresses = _resolve(host, port)
    for address in addresses:
        if not _allowed(host, address, allow):
            raise WebhookUrlError(
                f"the webhook host {host} resolves to {address}, a {_kind(address)} address; "
                "only public addresses are allowed, unless the service's operator allows this host"
            )
    path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=PATH_SAFE)
    return Target(scheme, host, port, path, addresses[0])


def _resolve(host: str, port: int) -> list[Address]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise WebhookUrlError(f"the webhook host {host} does not resolve") from None
    addresses = [ipaddress.ip_address(answer[4][0].split("%", 1)[0]) for answer in answers]
    return [_unmapped(address) for address in dict.fromkeys(addresses)]


def _unmapped(address: Address) -> Address:
    """::ffff:10.0.0.1 is 10.0.0.1: judge the IPv4 address an IPv4-mapped one reaches."""
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _allowed(host: str, address: Address, allow: tuple[str, ...]) -> bool:
    if _public(address):
        return True
    for entry in allow:
        if entry == host:
            return True
        network = _network(entry)
        if network is not None and network.version == address.version and address in network:
            return True
    return False


def _public(address: Address) -> bool:
    """Whether address is one the internet routes to, judged by the IPv4 host it reaches when it carries one."""
    carried = _carried_ipv4(address)
    if carried is not None:
        return _public(carried)
    if address.version == 6 and any(address in tunnel for tunnel in TUNNELS):  # `in` does not compare versions
        return False
    if any(address in network for network in NOT_GLOBAL):
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def _carried_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 host a NAT64 or 6to4 address reaches."""
    if address.version == 4:
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None  # a host name


def _kind(address: Address) -> str:
    carried = _carried_ipv4(address)
    if carried is not None:
        return f"{_kind(carried)} ({carried})"
    for kind in ("loopback", "private", "link_local", "site_local", "multicast", "unspecified", "reserved"):
        if getattr(address, f"is_{kind}", False):  # an IPv4 address has no is_site_local
            return kind.replace("_", "-")
    return "special-purpose" if any(address in network for network in NOT_GLOBAL) else "non-public"


# The POST


class DeliveryFailed(ServiceError):
    """The receiver did not take the delivery (no connection, a timeout, or an answer other than 2xx)."""

    status, code = 502, "delivery_failed"


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST body to the target's checked address (TLS still checks the certificate against the host name).

    The whole exchange fits in timeout seconds, however slowly the receiver sends or reads: connecting, the TLS
    handshake, the request, and the answer's status line and headers (its body is never read). Returns the 2xx
    status; raises DeliveryFailed otherwise. Redirects are answers, never followed.
    """
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((str(target.address), target.port), timeout)
    except OSError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
    connection = http.client.HTTPConnection(str(target.address), target.port, timeout)
    cut = threading.Event()  # set when the deadline shut the connection down: what was read is then no answer
    try:
        with cut_at(deadline, sock, cut):
            connection.sock = (
                _tls_context().wrap_socket(sock, server_hostname=target.host) if target.scheme == "https" else sock
            )
            connection.request("POST", target.path, body, {**headers, "Host": target.host_header})
            with connection.getresponse() as response:
                status = response.status
    except (OSError, http.client.HTTPException) as error:
        if not cut.is_set():
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()
        sock.close()
    if cut.is_set():
        raise DeliveryFailed(f"the receiver took more than {timeout:g} s")
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the receiver answered {status}")
    return status


@contextlib.contextmanager
def cut_at(deadline: float, sock: socket.socket, cut: threading.Event) -> Iterator[None]:
    """Shut the connection down at deadline (and set cut), ending whatever read or write then waits on it.

    A socket timeout bounds each read, not the exchange: a receiver that trickles a byte a second would hold the
    deliverer for ever. The watchdog holds a duplicate of the socket, since TLS takes the original over.
    """
    duplicate = sock.dup()
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut_down, (duplicate, cut))
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
        watchdog.join()  # a shutdown under way ends before the duplicate closes
        duplicate.close()


def _shut_down(sock: socket.socket, cut: threading.Event) -> None:
    cut.set()
    with contextlib.suppress(OSError):  # the receiver closed it first
        sock.shutdown(socket.SHUT_RDWR)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
