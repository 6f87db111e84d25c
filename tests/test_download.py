"""The downloader against a real HTTP server on loopback that honours Range requests."""

import hashlib
import http.server
import threading

import pytest

from service.modelstore.download import DownloadError, download

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        start = 0
        if self.headers.get("Range") and self.server.honour_range:
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
        else:
            self.send_response(200)
        self.server.requests.append(self.headers.get("Range"))
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.requests, httpd.honour_range = [], True
    # shutdown() waits for the next poll: 10 ms, not the default half second
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server):
    return f"http://127.0.0.1:{server.server_address[1]}/model.zip"


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_downloads_and_verifies(server, tmp_path):
    dest = download(url(server), tmp_path / "model.zip", SHA)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "model.zip.part").exists()


def test_resumes_a_partial_download(server, tmp_path):
    (tmp_path / "model.zip.part").write_bytes(PAYLOAD[:1000])
    download(url(server), tmp_path / "model.zip", SHA)
    assert server.requests == ["bytes=1000-"]
    assert (tmp_path / "model.zip").read_bytes() == PAYLOAD


def test_restarts_when_the_server_ignores_range(server, tmp_path):
    server.honour_range = False
    (tmp_path / "model.zip.part").write_bytes(b"stale bytes")
    download(url(server), tmp_path / "model.zip", SHA)
    assert (tmp_path / "model.zip").read_bytes() == PAYLOAD


def test_checksum_mismatch_leaves_nothing_behind(server, tmp_path):
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(url(server), tmp_path / "model.zip", "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host_is_a_clear_error(tmp_path):
    with pytest.raises(DownloadError, match="could not download"):
        download("http://127.0.0.1:9/model.zip", tmp_path / "model.zip", timeout=5)
