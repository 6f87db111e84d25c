"""Webhook signatures (what receivers verify) and the URL guard (where deliveries may go), with real resolution."""

import ipaddress
import socket

import pytest

from service.alerts import webhooks
from service.alerts.webhooks import WebhookUrlError, check_url, signed_headers, verify
from service.config import ConfigError, Settings

SECRET = "whsec-0123456789abcdef"
BODY = b'{"match": {"id": "m1", "title_en": "Talks resume"}}'


def test_a_signed_body_verifies_and_a_tampered_one_does_not():
    headers = signed_headers(SECRET, BODY, "delivery-1", timestamp=1_700_000_000)
    header = headers[webhooks.SIGNATURE_HEADER]
    assert header.startswith("t=1700000000,v1=") and headers[webhooks.DELIVERY_HEADER] == "delivery-1"
    assert verify(SECRET, BODY, header, now=1_700_000_010)
    assert not verify(SECRET, BODY.replace(b"resume", b"collapse"), header, now=1_700_000_010)
    assert not verify("another-secret-0123", BODY, header, now=1_700_000_010)
    assert not verify(SECRET, BODY, header.replace("t=1700000000", "t=1700000001"), now=1_700_000_010)


def test_an_old_or_malformed_signature_is_refused():
    header = signed_headers(SECRET, BODY, "d", timestamp=1_700_000_000)[webhooks.SIGNATURE_HEADER]
    assert not verify(SECRET, BODY, header, now=1_700_000_000 + webhooks.DEFAULT_TOLERANCE + 1)
    for broken in ("", "v1=abc", "t=abc,v1=00", "t=1700000000", "garbage"):
        assert not verify(SECRET, BODY, broken, now=1_700_000_000)


def test_a_forged_signature_of_any_shape_is_false_and_never_an_error():
    header = signed_headers(SECRET, BODY, "d", timestamp=1_700_000_000)[webhooks.SIGNATURE_HEADER]
    digest = header.split("v1=")[1]
    forged = [
        f"t=1700000000,v1={digest[:-1]}é",  # non-ASCII, as long as the real one
        f"t=1700000000,v1={'é' * 64}",
        f"t=١٧٠٠٠٠٠٠٠٠,v1={digest}",  # Arabic-Indic digits: int() reads them
        f"t=1700000000²,v1={digest}",  # a digit to str.isdigit, not to int()
        f"t={'9' * 5000},v1={digest}",  # longer than int() converts
        f"t=1700000000,v1={digest[:-2]}",  # too short
        f"t=1700000000,v1={digest}00",  # too long
        f"t=1700000000,sha256={digest}",  # another scheme's prefix
        f"t=1700000000,v1={digest.upper()}",
        None,
        1_700_000_000,
        f"t=1700000000,v1={digest[:-1]}é".encode(),
    ]
    for broken in forged:
        assert verify(SECRET, BODY, broken, now=1_700_000_000) is False, broken
    assert verify(SECRET, BODY, header.encode("ascii"), now=1_700_000_000)  # the header as raw bytes
    assert verify(SECRET, bytearray(BODY), header, now=1_700_000_000)
    for body in (None, BODY.decode()):
        assert verify(SECRET, body, header, now=1_700_000_000) is False
    assert verify(None, BODY, header, now=1_700_000_000) is False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",  # a host name that resolves to loopback
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",  # reserved
        "http://192.0.0.8/hook",  # IETF protocol assignments: Python calls 192.0.0.8-255 global before 3.11.10
        "http://192.0.0.255/hook",
        "http://100.64.0.1/hook",  # shared address space (carrier-grade NAT)
        "http://198.18.0.1/hook",  # benchmarking
        "http://203.0.113.7/hook",  # documentation
        "http://255.255.255.255/hook",
        "http://[fec0::1]/hook",  # site-local (deprecated): global to Python
        "http://[3fff::1]/hook",  # documentation (RFC 9637): global to Python before 3.13
        "http://[2001:db8::1]/hook",  # documentation
        "http://[5f00::1]/hook",  # SRv6 segment identifiers
        "http://[100::1]/hook",  # discard-only
        "http://[100:0:0:1::1]/hook",  # dummy prefix (RFC 9780)
        "http://[2001:2::1]/hook",  # benchmarking, in the IETF protocol assignments
        "http://[fd00::1]/hook",  # unique local
    ],
)
def test_non_public_addresses_are_refused_without_the_allow_list(url):
    with pytest.raises(WebhookUrlError, match="only public addresses") as refused:
        check_url(url, ())
    assert "ALERT_WEBHOOK_ALLOW" not in str(refused.value)  # the user is told, not the operator's settings


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::5db8:d70e",  # NAT64's local-use prefix, even of a public address
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::5db8:d70e",  # IPv4-compatible, even of a public address
        "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1
        "::ffff:0:5db8:d70e",
        "::ffff:a9fe:a9fe",  # IPv4-mapped 169.254.169.254
        "2001:0:5db8:d70e:0:0:f5ff:fffe",  # Teredo (server 93.184.215.14, client 10.0.0.1)
        "2001:0:5db8:d70e::a2b7:2af1",  # Teredo, both ends public
        "ff0e::1",  # global multicast
        "4000::1",  # not yet assigned (reserved)
    ],
)
def test_ipv6_forms_that_reach_a_non_public_ipv4_host_or_a_tunnel_are_refused(address):
    with pytest.raises(WebhookUrlError, match="only public addresses"):
        check_url(f"http://[{address}]/hook", ())


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::5db8:d70e",  # NAT64 of 93.184.215.14 (DNS64 on an IPv6-only network)
        "2002:5db8:d70e::1",  # 6to4 of 93.184.215.14
        "::ffff:5db8:d70e",  # IPv4-mapped 93.184.215.14
        "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    ],
)
def test_ipv6_forms_that_reach_a_public_host_are_allowed(address):
    resolved = ipaddress.ip_address(address)
    assert check_url(f"http://[{address}]/hook", ()).address in (resolved, resolved.ipv4_mapped)


def test_a_host_name_that_resolves_to_a_private_address_is_refused():
    host = socket.gethostname()
    try:
        address = ipaddress.ip_address(socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM)[0][4][0])
    except (socket.gaierror, ValueError):
        pytest.skip(f"this machine's name {host} does not resolve")
    if address.is_global:
        pytest.skip(f"this machine's name resolves to a public address ({address})")
    with pytest.raises(WebhookUrlError, match=str(address)):
        check_url(f"https://{host}/hook", ())


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/x", "file:///etc/passwd", "http:///nohost", "http://user:pw@93.184.215.14/", 7, "x" * 3000],
)
def test_what_is_not_a_plain_http_url_is_refused(url):
    with pytest.raises(WebhookUrlError):
        check_url(url, ())


def test_the_allow_list_admits_named_hosts_and_networks_and_pins_the_address():
    target = check_url("http://127.0.0.1:8080/hook?x=1", ("127.0.0.0/8",))
    assert (str(target.address), target.port, target.path, target.host_header) == (
        "127.0.0.1",
        8080,
        "/hook?x=1",
        "127.0.0.1:8080",
    )
    assert check_url("http://localhost:9/h", ("localhost",)).address.is_loopback
    with pytest.raises(WebhookUrlError):
        check_url("http://10.0.0.1/h", ("127.0.0.0/8", "localhost"))


def test_the_path_goes_out_percent_encoded():
    target = check_url("http://127.0.0.1/ملف a/%41?q=ü&x=1", ("127.0.0.1",))
    assert target.path == "/%D9%85%D9%84%D9%81%20a/%41?q=%C3%BC&x=1"


def test_an_internationalised_host_name_goes_out_in_its_ascii_form():
    """A Host header or TLS name out of ASCII would raise UnicodeEncodeError in the deliverer's thread."""
    target = check_url("http://ⓛocalhost:9/hook", ("127.0.0.0/8",))  # IDNA maps ⓛ to l
    assert (target.host, target.host_header) == ("localhost", "localhost:9")
    with pytest.raises(WebhookUrlError, match="not a valid host name"):
        check_url(f"http://{'a' * 64}.example/hook", ())  # a label longer than 63


def test_a_public_address_needs_no_allow_list():
    assert str(check_url("https://93.184.215.14/hook", ()).address) == "93.184.215.14"


def test_the_allow_list_setting_is_validated():
    allow = Settings.from_env({"ALERT_WEBHOOK_ALLOW": "127.0.0.1, 10.0.0.0/8,Receiver.Example."}).alert_webhook_allow
    assert allow == ("127.0.0.1/32", "10.0.0.0/8", "receiver.example")
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_ALLOW"):
        Settings.from_env({"ALERT_WEBHOOK_ALLOW": "http://x/"})
