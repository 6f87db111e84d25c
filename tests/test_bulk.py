"""Bulk indexing: one retry policy, no auto-created index, no batch lost to one bad document."""

import json
import socket
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from service.config import Settings
from service.errors import SearchUnavailable
from service.index import lifecycle
from service.index.bulk import index_documents, is_outage, stored_hashes
from service.index.client import make_client

PUSHED_BACK = {
    "took": 1,
    "errors": True,
    "items": [
        {
            "index": {
                "_index": "a",
                "_id": "1",
                "status": 429,
                "error": {"type": "rejected_execution_exception", "reason": "busy"},
            }
        }
    ],
}


def doc(doc_id):
    return {"id": doc_id, "body": "نص", "title_en": f"title {doc_id}"}


class Node(BaseHTTPRequestHandler):
    """A stand-in node that answers every request the same way (behaviour set on the server) and counts them."""

    def _answer(self):
        self.server.requests.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.behaviour == "drop":  # the connection closes with no answer
            self.close_connection = True
            return
        if self.server.behaviour == "slow":
            time.sleep(1.0)  # a slow node, not synchronisation
        status, body = {
            "503": (503, {"error": "unavailable", "status": 503}),
            "429 item": (200, PUSHED_BACK),
            "slow": (
                200,
                {"took": 1, "errors": False, "items": [{"index": {"_index": "a", "_id": "1", "status": 201}}]},
            ),
        }[self.server.behaviour]
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Node)
    server.requests, server.behaviour = [], None
    # shutdown() waits for the next poll: 10 ms, not the default half second
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def client_for(*urls, timeout=5.0, bulk_timeout=120.0):
    return make_client(Settings(opensearch_urls=urls, opensearch_timeout=timeout, opensearch_bulk_timeout=bulk_timeout))


@pytest.mark.parametrize("behaviour", ["drop", "503", "429 item"])
def test_an_outage_is_retried_by_with_retries_alone(stand_in, behaviour):
    stand_in.behaviour = behaviour
    client = client_for(f"http://127.0.0.1:{stand_in.server_port}")
    started = time.monotonic()
    with pytest.raises(SearchUnavailable, match="after 3 attempts"):
        index_documents(client, "articles", [doc("1")], attempts=3, first_delay=0.05)
    assert stand_in.requests == ["/_bulk?require_alias=true"] * 3  # no transport or streaming_bulk retries on top
    assert time.monotonic() - started >= 0.05 + 0.1  # with_retries' back-off between the attempts


def test_the_stored_hash_lookup_is_retried_like_the_writes(stand_in):
    stand_in.behaviour = "503"
    client = client_for(f"http://127.0.0.1:{stand_in.server_port}")
    with pytest.raises(SearchUnavailable, match="after 1 attempts"):
        stored_hashes(client, "articles", ["1"], attempts=1)
    assert stand_in.requests == ["/articles/_mget?_source_includes=content_hash%2Cdemo"]
    assert stored_hashes(client, "articles", []) == {} and len(stand_in.requests) == 1  # nothing to ask: no call


def test_stored_hashes_are_those_of_the_documents_found():
    class Found:
        def mget(self, index, body, _source_includes):
            assert (index, body, _source_includes) == ("articles", {"ids": ["a", "b", "c"]}, ["content_hash", "demo"])
            docs = [{"_id": "a", "found": True, "_source": {"content_hash": "h"}}, {"_id": "b", "found": False}]
            return {"docs": [*docs, {"_id": "c", "found": True, "_source": {"content_hash": "d", "demo": True}}]}

    assert stored_hashes(Found(), "articles", ["a", "b", "c"]) == {"a": "h", "c": "d"}
    assert stored_hashes(Found(), "articles", ["a", "b", "c"], demo_is_stale=True) == {"a": "h", "c": None}


def test_bulk_calls_take_the_bulk_timeout_and_others_the_interactive_one(stand_in):
    stand_in.behaviour = "slow"
    client = client_for(f"http://127.0.0.1:{stand_in.server_port}", timeout=0.3, bulk_timeout=10)
    assert index_documents(client, "articles", [doc("1")], attempts=1) == {}
    with pytest.raises(SearchUnavailable):
        index_documents(
            client_for(f"http://127.0.0.1:{stand_in.server_port}", timeout=10, bulk_timeout=0.3),
            "articles",
            [doc("1")],
            attempts=1,
        )
    with pytest.raises(ConnectionTimeout):
        client.info()  # an interactive call gives up after 0.3 s


def test_the_transport_fails_over_to_another_host(search_settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"  # nothing listens once the probe closes
    client = make_client(replace(search_settings, opensearch_urls=(closed, search_settings.opensearch_urls[0])))
    assert all(client.info()["version"]["number"] for _ in range(4))


def test_bulk_to_a_missing_alias_is_refused_instead_of_creating_an_index(client):
    missing = "test-bulk-no-such-alias"
    lifecycle.delete(client, missing)
    refused = index_documents(client, missing, [doc("1"), doc("2")])
    assert set(refused) == {"1", "2"} and "alias" in refused["1"]
    assert not client.indices.exists(index=missing)


def test_a_request_level_refusal_loses_only_the_bad_documents(client, alias):
    too_long = "x" * 600
    documents = [doc("g1"), doc("g2"), doc(too_long), doc("g3"), doc("é" * 300), doc("g4"), doc("g5")]
    refused = index_documents(client, alias, documents, first_delay=0.01)
    assert set(refused) == {too_long, "é" * 300}
    assert "512 bytes" in refused[too_long]
    found = client.mget(index=alias, body={"ids": ["g1", "g2", "g3", "g4", "g5"]})["docs"]
    assert all(d["found"] for d in found)


def test_an_outage_is_told_from_a_documents_refusal():
    closed = {"error": {"type": "index_closed_exception", "reason": "closed"}, "status": 400}
    assert is_outage(TransportError(503, "search_phase_execution_exception", {}))
    assert is_outage(TransportError(400, "index_closed_exception", closed))
    assert is_outage(TransportError(403, "cluster candidate search failed", {"type": "cluster_block_exception"}))
    assert is_outage(ConnectionTimeout("TIMEOUT", "read timed out", None))
    assert not is_outage(
        TransportError(400, "mapper_parsing_exception", {"error": {"type": "mapper_parsing_exception"}})
    )
    assert not is_outage(ValueError("not the cluster's"))
    assert not is_outage(TransportError(400)) and is_outage(TransportError(503))  # no error or info given
