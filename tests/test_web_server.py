"""The real server process: `python -m service serve` under gunicorn, spoken to over loopback HTTP."""

import base64
import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from helpers import PROJECT_ROOT, free_port, run_cli, service_env

KEY = "server-key-0123"


@contextlib.contextmanager
def serving(search_settings, alias, state_dir, *options, env=None, log=None):
    """`python -m service serve` on a free port until the block ends; yields its base URL.

    With log (a path), the server's stdout and stderr are appended there as they come."""
    port = free_port()
    full_env = service_env(
        {
            "OPENSEARCH_URL": search_settings.opensearch_urls[0],
            "OPENSEARCH_INDEX": alias,
            "MT_MODEL_DIR": str(search_settings.model_dir),
            "API_KEYS": KEY,
            "MAX_REQUEST_BYTES": "4096",
            "MT_MEMORY_PATH": str(state_dir / "tm.db"),
            "JOBS_WORKERS": "0",
            "JOBS_DB": str(state_dir / "jobs.db"),
            **(env or {}),
        }
    )
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log, "a", encoding="utf-8")) if log else None
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "service",
                "serve",
                "--port",
                str(port),
                "--threads",
                "4",
                *(options or ["--no-access-log"]),
            ],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=out or subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

        def copy_stderr():  # keeps the pipe from filling, and the log complete
            for line in process.stderr:
                if out:
                    out.write(line)
                    out.flush()

        started = []
        for line in process.stderr:  # gunicorn says when its socket is open; requests then queue until ready
            started.append(line)
            if "Listening at" in line:
                break
        else:
            pytest.fail(f"the server exited with {process.wait()}: {''.join(started)[-2000:]}")
        if out:
            out.write("".join(started))
            out.flush()
        pump = threading.Thread(target=copy_stderr, daemon=True)
        pump.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(30)
            pump.join(30)
            process.stderr.close()


@pytest.fixture(scope="module")
def server(search_settings, alias, tmp_path_factory):
    with serving(search_settings, alias, tmp_path_factory.mktemp("srv")) as url:
        yield url


def call(url, data=None, headers=None, method=None):
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_json(url, body, headers=None):
    return call(url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def test_health_over_http(server):
    assert call(f"{server}/healthz") == (200, b'{"status":"ok"}\n')


def test_request_size_limit_is_a_json_413(server):
    status, body = post_json(f"{server}/api/v1/translate", {"text": "أ" * 3000})
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_malformed_json_is_a_400_without_a_stack_trace(server):
    status, body = call(f"{server}/api/v1/translate", b"{nope", {"Content-Type": "application/json"})
    assert status == 400 and b"Traceback" not in body and json.loads(body)["error"]["code"] == "malformed_json"


def test_write_endpoints_check_the_key(server):
    article = {"id": "srv1", "body": "قال الرئيس إن الاقتصاد تحسن."}
    assert post_json(f"{server}/api/v1/articles", article)[0] == 401
    assert post_json(f"{server}/api/v1/articles", article, {"Authorization": "Bearer not-the-key"})[0] == 403
    status, body = post_json(f"{server}/api/v1/articles", article, {"Authorization": f"Bearer {KEY}"})
    assert status == 200 and json.loads(body)["items"][0]["status"] == "indexed"


def test_a_libretranslate_client_request_works_unchanged(server):
    # What LibreTranslate's own clients send: form-encoded q/source/target/format/api_key.
    form = urllib.parse.urlencode(
        {"q": "قال الرئيس إن الاقتصاد تحسن.", "source": "auto", "target": "en", "format": "text", "api_key": ""}
    ).encode()
    status, body = call(f"{server}/translate", form, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = json.loads(body)
    assert status == 200 and isinstance(answer["translatedText"], str) and answer["translatedText"]
    assert answer["detectedLanguage"]["language"] == "ar"
    status, body = call(f"{server}/languages")
    assert status == 200 and json.loads(body)[0]["code"] == "ar"


def test_bad_configuration_stops_serve_with_one_line(tmp_path):
    done = run_cli("serve", env={"RATE_LIMIT": "lots"})
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        "error: RATE_LIMIT='lots': must be like '600 per minute', or off"
    ]


def wait_for(predicate, timeout=30.0):
    """Poll predicate until it holds or the deadline passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


SIX_MB = 6 * 1024 * 1024


def test_an_oversized_body_is_a_json_413_that_urllib_can_read(server):
    # urllib sends the whole body before it reads: answered unread, it failed with [Errno 32] Broken pipe
    status, body = call(f"{server}/api/v1/translate", b"x" * SIX_MB, {"Content-Type": "application/json"})
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    status, body = call(
        f"{server}/translate", json.dumps({"q": "أ" * SIX_MB}).encode(), {"Content-Type": "application/json"}
    )
    assert status == 413 and isinstance(json.loads(body)["error"], str)
    assert call(f"{server}/healthz")[0] == 200


@pytest.fixture(scope="module")
def logged_server(search_settings, alias, tmp_path_factory):
    """A second server, with the access log on (into a file) and uploads capped at 1 MiB."""
    state = tmp_path_factory.mktemp("logged")
    log = state / "server.log"
    with serving(search_settings, alias, state, "--access-log", env={"MAX_UPLOAD_BYTES": "1048576"}, log=log) as url:
        yield url, log


def test_a_form_over_the_upload_limit_is_a_413_that_urllib_can_read(logged_server):
    server, _ = logged_server  # Flask's own MAX_CONTENT_LENGTH answers this one
    form = urllib.parse.urlencode({"q": "أ" * (SIX_MB // 8), "source": "ar", "target": "en"}).encode()
    assert len(form) > 2 * 1024 * 1024
    status, body = call(f"{server}/translate", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 413 and isinstance(json.loads(body)["error"], str)


def test_the_access_log_never_shows_api_keys(logged_server):
    server, log = logged_server
    secret = "querystring-secret-key-42"
    assert call(f"{server}/api/v1/search?q=logged&api_key={secret}")[0] == 200
    assert post_json(f"{server}/api/v1/articles?API_KEY={secret}&x=1", {"id": "q1", "body": "قال"})[0] == 401
    assert call(f"{server}/healthz?api%5Fkey={secret}")[0] == 200
    assert call(f"{server}/healthz?api_key='{secret}")[0] == 200  # a quote must not end the mask early
    basic = base64.b64encode(f"{secret}:".encode()).decode()
    assert call(f"{server}/healthz", headers={"Authorization": f"Basic {basic}"})[0] == 200  # gunicorn's %(u)s
    assert wait_for(
        lambda: (
            log.read_text().count("api_key=[redacted]")
            + log.read_text().count("api%5Fkey=[redacted]")
            + log.read_text().count("API_KEY=[redacted]")
            >= 4
            and log.read_text().count("GET /healthz HTTP") >= 1
        )
    ), log.read_text()[-3000:]
    assert "GET /api/v1/search?q=logged&api_key=[redacted]" in log.read_text()
    assert secret not in log.read_text()


def test_the_access_log_never_shows_feed_tokens_or_other_secret_parameters(logged_server):
    server, log = logged_server
    secret = "feed-token-secret-42"
    for query in (f"token={secret}", f"x=1&access_token={secret}", f"webhook%5Fsecret={secret}", f"password={secret}"):
        assert call(f"{server}/alerts/no-such-alert/feed.atom?{query}")[0] == 404
    assert wait_for(lambda: log.read_text().count("GET /alerts/no-such-alert/feed.atom?") >= 4), log.read_text()[-3000:]
    assert "GET /alerts/no-such-alert/feed.atom?token=[redacted]" in log.read_text()
    assert secret not in log.read_text()


def raw_request(server: str, data: bytes) -> tuple[int, bytes, bytes]:
    """Send bytes as they are (http.client refuses malformed requests); status, headers and body."""
    host, port = urllib.parse.urlsplit(server).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def test_gunicorn_s_own_errors_are_json(server):
    status, body = call(f"{server}/api/v1/search?q={'x' * 10_000}")
    assert status == 414 and json.loads(body)["error"]["code"] == "uri_too_long"
    status, head, body = raw_request(server, b"NOT AN HTTP REQUEST LINE\r\n\r\n")
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_request"
    assert b"Content-Type: application/json" in head and b"X-Content-Type-Options: nosniff" in head
    assert call(f"{server}/healthz")[0] == 200


def chunked_post(server: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST body with `Transfer-Encoding: chunked` and no Content-Length, in 64 KiB chunks; status and body."""
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(server).netloc, timeout=120)
    try:
        chunks = (body[start : start + 65536] for start in range(0, len(body), 65536))
        conn.request("POST", path, chunks, {"Transfer-Encoding": "chunked", **headers}, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_a_chunked_body_over_the_limit_is_a_413_not_cut_short(server):
    # The limit is 4096 bytes; the first 4096 are a valid request, which was what got answered (a 200)
    json_type = {"Content-Type": "application/json"}
    text = json.dumps({"text": "قال الرئيس."}).encode()
    assert chunked_post(server, "/api/v1/translate", text, json_type)[0] == 200  # chunked and within the limit
    status, body = chunked_post(server, "/api/v1/translate", text + b" " * 8192, json_type)
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    form = urllib.parse.urlencode({"q": "قال الرئيس.", "source": "ar", "target": "en", "pad": "x" * 8192})
    status, body = chunked_post(
        server, "/translate", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 413 and isinstance(json.loads(body)["error"], str)
    assert call(f"{server}/healthz")[0] == 200


def test_a_chunked_upload_over_the_upload_limit_is_a_413(logged_server):
    server, _ = logged_server  # uploads capped at 1 MiB
    auth = {"Authorization": f"Bearer {KEY}"}
    items = json.dumps(["قال الرئيس."]).encode() + b" " * (2 * 1024 * 1024)
    status, body = chunked_post(server, "/api/v1/jobs", items, {"Content-Type": "application/json", **auth})
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"
    boundary = "chunkedupload"
    upload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
        + "قال الرئيس.\n" * 200_000
        + f"\r\n--{boundary}--\r\n"
    ).encode()
    multipart = {"Content-Type": f"multipart/form-data; boundary={boundary}", **auth}
    status, body = chunked_post(server, "/api/v1/jobs", upload, multipart)
    assert status == 413 and json.loads(body)["error"]["code"] == "payload_too_large"


def test_two_instances_on_one_machine_each_start_and_share_no_control_socket(search_settings, alias, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(home)}  # where gunicorn puts its one default socket
    with (
        serving(search_settings, alias, tmp_path, "--no-access-log", env=env) as first,
        serving(search_settings, alias, tmp_path, "--no-access-log", env=env) as second,
    ):
        assert call(f"{first}/healthz")[0] == 200 and call(f"{second}/healthz")[0] == 200
        assert list(home.rglob("*.ctl")) == []  # gunicorn 27 put gunicorn.ctl here, and the second took it over
