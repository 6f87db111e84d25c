"""The one write path (service/ingest.py write_articles), seen from every writer.

The same three records, the id a1 twice, give the same counts on every path: the earlier a1 rejected, naming the
line that replaces it; run again, both articles unchanged, neither translated nor indexed again. A new enrichment
step reaches every writer, and nothing but the write path writes articles to the index.
"""

import ast
import io
import json
import sqlite3
import threading
import uuid
from dataclasses import replace

import pytest
from helpers import cli_env, run_cli
from test_sample import RealModel

import service.ingest
from service import sample
from service.config import PROJECT_ROOT
from service.index import lifecycle
from service.ingest import IndexTarget, ingest_stream, machine_translation
from service.jobs.store import SqliteJobStore
from service.jobs.worker import Worker
from service.web import create_app
from service.web.services import services_of

BODY_A = "قال الرئيس إن الاقتصاد تحسن في الربع الأخير."
BODY_B = "أعلنت الوزارة عن خطة جديدة للنقل العام."
RECORDS = [
    {"id": "a1", "title": "الاقتصاد", "body": BODY_A},
    {"id": "b1", "title": "النقل", "body": BODY_B},
    {"id": "a1", "title": "الاقتصاد", "body": BODY_A + " وأضاف أن البطالة انخفضت."},
]
FIRST, AGAIN = (2, 0, 1), (0, 2, 1)  # (indexed, unchanged, rejected)
KEY = "write-path-key-0123"


class CountingTranslator:
    """The real tiny translator, counting the sentences that reach it."""

    def __init__(self, inner):
        self.inner, self.sentences = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def translate(self, sentences, **decoding):
        self.sentences += len(sentences)
        return self.inner.translate(sentences, **decoding)


@pytest.fixture
def fresh_alias(client):
    """An alias of this test's own, made by the write path's first write."""
    name = f"test-write-path-{uuid.uuid4().hex[:8]}"
    yield name
    lifecycle.delete(client, name)


@pytest.fixture
def counting(translator):
    return CountingTranslator(translator)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    return path


def versions(client, alias) -> dict[str, int]:
    """Each stored article's _version: 1 when it was indexed once."""
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"query": {"match_all": {}}, "version": True, "size": 10})["hits"]["hits"]
    return {hit["_id"]: hit["_version"] for hit in hits}


def stored_body(client, alias, doc_id) -> str:
    return client.get(index=alias, id=doc_id)["_source"]["body"]


def report_counts(report) -> tuple[int, int, int]:
    return report.indexed, report.unchanged, len(report.rejects)


def job_counts(store, job_id) -> tuple[int, int, int]:
    statuses = [json.loads(line)["outcome"] for line in store.results(job_id)]
    return statuses.count("indexed"), statuses.count("unchanged"), store.status(job_id).failed


def check_stored(client, alias) -> None:
    assert versions(client, alias) == {"a1": 1, "b1": 1}  # neither indexed twice
    assert stored_body(client, alias, "a1").endswith("انخفضت.")  # the later a1 was kept


def test_cli_ingest(search_settings, fresh_alias, client, tiny_model_dir, source, tmp_path):
    env = cli_env(search_settings, fresh_alias, tiny_model_dir, tmp_path)
    for expected in FIRST, AGAIN:
        done = run_cli("ingest", str(source), env=env)
        assert done.returncode == 1, done.stderr
        stderr = done.stderr.decode()
        assert "indexed {}, unchanged {}, rejected {}".format(*expected) in stderr
        assert "line 1: id 'a1' comes again at line 3; that one is kept" in stderr
    check_stored(client, fresh_alias)


def test_cli_ingest_resume(search_settings, fresh_alias, client, tiny_model_dir, source, tmp_path):
    env = {**cli_env(search_settings, fresh_alias, tiny_model_dir, tmp_path), "JOBS_DB": str(tmp_path / "jobs.db")}
    for expected in FIRST, AGAIN:
        done = run_cli("ingest", "--resume", str(source), env=env)
        assert done.returncode == 1, done.stderr
        stderr = done.stderr.decode()
        assert "indexed {}, unchanged {}, rejected {}".format(*expected) in stderr
        assert "line 1: id 'a1' comes again at line 3; that one is kept" in stderr
    check_stored(client, fresh_alias)


def test_api_articles(search_settings, fresh_alias, client):
    app = create_app(replace(search_settings, opensearch_index=fresh_alias, api_keys=(KEY,)))
    http = app.test_client()
    for expected in FIRST, AGAIN:
        answer = http.post("/api/v1/articles", json=RECORDS, headers={"Authorization": f"Bearer {KEY}"}).json
        assert (answer["indexed"], answer["unchanged"], answer["rejected"]) == expected
        assert answer["items"][0]["reason"] == "id 'a1' comes again at line 2; that one is kept"  # lines count from 0
    check_stored(client, fresh_alias)
    reordered = [RECORDS[1], RECORDS[0], RECORDS[2]]
    answer = http.post("/api/v1/articles", json=reordered, headers={"Authorization": f"Bearer {KEY}"}).json
    assert [item["index"] for item in answer["items"]] == [0, 1, 2]  # in the request's order, whatever became of each


def test_sample(client, fresh_alias, counting):
    target = IndexTarget(client, fresh_alias)
    _chosen, report = sample.load(enumerate(RECORDS, 1), target, counting)
    assert report_counts(report) == FIRST
    translated = counting.sentences
    _chosen, report = sample.load(enumerate(RECORDS, 1), target, counting)
    assert report_counts(report) == AGAIN and counting.sentences == translated
    check_stored(client, fresh_alias)


def test_jobs_api_and_its_worker(search_settings, fresh_alias, client, counting, source, tmp_path):
    app = create_app(
        replace(search_settings, opensearch_index=fresh_alias, api_keys=(KEY,), jobs_db=tmp_path / "jobs.db")
    )
    http, store = app.test_client(), services_of(app).job_store
    translated = None
    for expected in FIRST, AGAIN:
        upload = {"file": (io.BytesIO(source.read_bytes()), "f.jsonl"), "index": "true"}
        submitted = http.post("/api/v1/jobs", data=upload, headers={"Authorization": f"Bearer {KEY}"})
        assert submitted.status_code == 202, submitted.json
        Worker(store, counting, client, fresh_alias).run(threading.Event(), until_idle=True)
        assert job_counts(store, submitted.json["id"]) == expected
        errors = [json.loads(line) for line in store.errors(submitted.json["id"])]
        assert errors == [{"line": 1, "error": "id 'a1' comes again at line 3; that one is kept"}]
        if translated is not None:
            assert counting.sentences == translated  # nothing unchanged translated again
        translated = counting.sentences
    check_stored(client, fresh_alias)


def test_a_repeated_id_across_windows_counts_as_within_one(client, fresh_alias, translator):
    """Where windows fall does not change the counts: the rule holds over the whole stream, read first."""
    target, translate = IndexTarget(client, fresh_alias), machine_translation(translator)
    for expected in FIRST, AGAIN:
        report = ingest_stream(list(enumerate(RECORDS, 1)), target, translate, window=1)
        assert report_counts(report) == expected
    check_stored(client, fresh_alias)


def test_a_real_model_translates_the_demo_models_noise_again_and_then_keeps_it(client, fresh_alias, translator):
    """Articles stored while only the demo model was there are not unchanged once a real model is: their English
    is noise. The session's model, presented as real, stands in for opus-mt-ar-en."""
    real = RealModel(translator)
    records, target = list(enumerate(RECORDS[:2], 1)), IndexTarget(client, fresh_alias)

    def ingest(by) -> tuple[int, int, int]:
        return report_counts(ingest_stream(records, target, machine_translation(by)))

    assert ingest(translator) == (2, 0, 0)
    assert ingest(translator) == (0, 2, 0)  # demo again: nothing new to say
    assert ingest(real) == (2, 0, 0)
    client.indices.refresh(index=fresh_alias)
    assert {hit["_source"]["demo"] for hit in client.search(index=fresh_alias)["hits"]["hits"]} == {False}
    assert ingest(real) == (0, 2, 0)
    assert ingest(translator) == (0, 2, 0)  # the demo never replaces a real translation


def test_a_stream_read_once_counts_a_replaced_record_as_rejected(client, fresh_alias, translator):
    """Standard input cannot be read first: the earlier a1 is written, then replaced, and counted as rejected."""
    report = ingest_stream(
        enumerate(RECORDS, 1), IndexTarget(client, fresh_alias), machine_translation(translator), window=1
    )
    assert report_counts(report) == FIRST
    assert report.rejects[0].reason == "id 'a1' comes again at line 3; that one is kept"
    assert stored_body(client, fresh_alias, "a1").endswith("انخفضت.")


class FailingOnceToCommit(SqliteJobStore):
    """A job store whose first commit of results fails, after the batch was indexed (a database blip)."""

    failed = False

    def finish(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database is locked")
        return super().finish(*args, **kwargs)


def test_a_batch_indexed_but_not_committed_counts_as_indexed_when_retried(client, fresh_alias, counting, tmp_path):
    """The retry writes what its first attempt indexed again (matching it against the saved searches), and its
    results say indexed, with the translation kept from the first attempt: not unchanged, not translated twice."""
    store = FailingOnceToCommit(tmp_path / "jobs.db")
    job_id, _ = store.create(list(enumerate(RECORDS[:2], 1)), {"index": True})
    worker = Worker(store, counting, client, fresh_alias)
    with pytest.raises(sqlite3.OperationalError):
        worker.run_once()
    translated = counting.sentences
    assert worker.run_once()
    assert job_counts(store, job_id) == (2, 0, 0) and counting.sentences == translated
    results = [json.loads(line) for line in store.results(job_id)]
    assert [(r["doc_id"], r["id"], "body_en" in r) for r in results] == [("a1", "a1", True), ("b1", "b1", True)]


def test_a_new_enrichment_step_reaches_every_writer(
    monkeypatch, search_settings, fresh_alias, client, translator, tmp_path
):
    """One entry in ENRICHMENT_STEPS, and the CLI, the API, the sample and the job worker all run it."""
    seen = []

    def tag(target, documents):
        seen.extend(doc["id"] for doc in documents)
        return documents

    monkeypatch.setattr(service.ingest, "ENRICHMENT_STEPS", (*service.ingest.ENRICHMENT_STEPS, tag))
    article = {"title": "الاقتصاد", "body": BODY_A}
    # the API
    app = create_app(replace(search_settings, opensearch_index=fresh_alias, api_keys=(KEY,)))
    app.test_client().post(
        "/api/v1/articles", json={**article, "id": "api"}, headers={"Authorization": f"Bearer {KEY}"}
    )
    # the CLI's ingest (in this process, so that the patched step is there)
    target = IndexTarget(client, fresh_alias)
    ingest_stream([(1, {**article, "id": "cli"})], target, machine_translation(translator))
    # the sample
    sample.load([(1, {**article, "id": "sample"})], target, translator)
    # a job worker
    store = SqliteJobStore(tmp_path / "jobs.db")
    store.create([(1, {**article, "id": "job"})], {"index": True})
    Worker(store, translator, client, fresh_alias).run(threading.Event(), until_idle=True)
    assert seen == ["api", "cli", "sample", "job"]


def test_only_the_write_path_writes_articles():
    """The index's article writes (index_documents, and the bulk helpers behind it) are called from service/ingest.py
    alone, so an enrichment step added there reaches every writer."""
    writers = set()
    for path in (PROJECT_ROOT / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "service.index.bulk"
                and "index_documents" in {alias.name for alias in node.names}
            ):
                writers.add(path.relative_to(PROJECT_ROOT).as_posix())
    assert writers == {"service/ingest.py"}
