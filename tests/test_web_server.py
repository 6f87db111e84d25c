"""The real server process: `python -m service serve` under gunicorn, spoken to over loopback HTTP."""
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import PROJECT_ROOT, _free_port, run_cli

KEY = "server-key-0123"


@pytest.fixture(scope="module")
def server(search_settings, alias, tmp_path_factory):
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("MT_", "OPENSEARCH_"))},
           "OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": alias,
           "MT_MODEL_DIR": str(search_settings.model_dir), "API_KEYS": KEY, "MAX_REQUEST_BYTES": "4096",
           "MT_MEMORY_PATH": str(tmp_path_factory.mktemp("srv") / "tm.db"), "JOBS_WORKERS": "0",
           "JOBS_DB": str(tmp_path_factory.mktemp("jobs") / "jobs.db")}
    process = subprocess.Popen([sys.executable, "-m", "service", "serve", "--port", str(port), "--threads", "4",
                                "--no-access-log"], cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # gunicorn says when its socket is open; requests then queue until ready
        if "Listening at" in line:
            drain = threading.Thread(target=process.stderr.read, daemon=True)  # keep the pipe from filling
            drain.start()
            break
    else:
        pytest.fail(f"the server exited with {process.wait()}")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(30)
    drain.join(30)
    process.stderr.close()


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
    form = urllib.parse.urlencode({"q": "قال الرئيس إن الاقتصاد تحسن.", "source": "auto", "target": "en",
                                   "format": "text", "api_key": ""}).encode()
    status, body = call(f"{server}/translate", form, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = json.loads(body)
    assert status == 200 and isinstance(answer["translatedText"], str) and answer["translatedText"]
    assert answer["detectedLanguage"]["language"] == "ar"
    status, body = call(f"{server}/languages")
    assert status == 200 and json.loads(body)[0]["code"] == "ar"


def test_bad_configuration_stops_serve_with_one_line(tmp_path):
    done = run_cli("serve", env={"RATE_LIMIT": "lots"})
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == ["error: RATE_LIMIT='lots': must be like '600 per minute', or off"]
