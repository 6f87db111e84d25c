"""Sentence vectors in the index, on the real node with the real encoder: written by the write path (one per
sentence, of the original side, with the encoder's id), found by a nested knn query across the language line,
left out on an index made from articles-v2 (which still ingests), and given by `index migrate`."""

import hashlib
import json
import shutil
import uuid
from dataclasses import replace

import numpy as np
import pytest
from helpers import run_cli, without_naming

from service.config import PROJECT_ROOT
from service.embedding import DIMENSIONS
from service.embedding.interface import Vectors
from service.index import lifecycle, vectors
from service.ingest import INDEXED, IndexTarget, NamingError, human_translation, name_stored, write_articles
from service.names.lexicon import lexicon_id
from service.services import Services

SAMPLE = [json.loads(line) for line in (PROJECT_ROOT / "examples" / "articles.jsonl").read_text().splitlines()]
ARABIC = [record for record in SAMPLE if record.get("sentences")]


@pytest.fixture
def fresh(client, request):
    name = "test-vectors-" + request.node.name.replace("_", "-")[:40]
    lifecycle.delete(client, name)
    yield name
    lifecycle.delete(client, name)


def write(client, alias, records, encoder):
    target = IndexTarget(client, alias, encoder=encoder)
    outcomes = write_articles(list(enumerate(records, 1)), target, human_translation)
    assert [o.status for o in outcomes] == [INDEXED] * len(records), [o.reason for o in outcomes]
    client.indices.refresh(index=alias)


def vectors_per_article(client, alias) -> dict[str, int]:
    """{article id: how many of its sentences hold a vector} (vectors are not in _source: asked of the index)."""
    body = {
        "size": 100,
        "_source": ["id"],
        "query": {
            "nested": {
                "path": "sentences",
                "query": {"exists": {"field": vectors.VECTOR_FIELD}},
                "inner_hits": {"size": 50, "_source": False},
            }
        },
    }
    hits = client.search(index=alias, body=body)["hits"]["hits"]
    return {hit["_id"]: hit["inner_hits"]["sentences"]["hits"]["total"]["value"] for hit in hits}


def knn_top(client, alias, vector, encoder_id) -> list[str]:
    body = {
        "size": 3,
        "_source": False,
        "query": {
            "bool": {
                "filter": [{"term": {"encoder": encoder_id}}],
                "must": [
                    {
                        "nested": {
                            "path": "sentences",
                            "score_mode": "max",
                            "query": {"knn": {vectors.VECTOR_FIELD: {"vector": [float(v) for v in vector], "k": 100}}},
                        }
                    }
                ],
            }
        },
    }
    return [hit["_id"] for hit in client.search(index=alias, body=body)["hits"]["hits"]]


def v2_only(tmp_path):
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    shutil.copy(lifecycle.config_versions()[2], config_dir / "articles-v2.json")
    return config_dir


def test_the_index_takes_the_encoders_dimension(client, fresh):
    lifecycle.ensure(client, fresh, dimension=DIMENSIONS["e5"])
    index = lifecycle.current_index(client, fresh)
    assert vectors.index_dimension(client, index) == 384
    assert client.indices.get_settings(index=index)[index]["settings"]["index"]["knn"] == "true"


def test_a_written_article_has_a_vector_per_sentence_and_its_encoder(client, fresh, encoder):
    write(client, fresh, ARABIC, encoder)
    stored = {hit["_id"]: hit["_source"] for hit in client.search(index=fresh, body={"size": 20})["hits"]["hits"]}
    assert {source["encoder"] for source in stored.values()} == {encoder.encoder_id}
    assert all("vector" not in s for source in stored.values() for s in source["sentences"])  # kept out of _source
    counted = vectors_per_article(client, fresh)
    assert counted == {doc_id: len(source["sentences"]) for doc_id, source in stored.items()}


def test_an_english_sentence_finds_the_arabic_article_by_its_vector(client, fresh, encoder):
    write(client, fresh, ARABIC, encoder)
    for record in ARABIC:
        english = record["sentences"][len(record["sentences"]) // 2]["target"]
        query = Vectors.of_queries(encoder, [english])
        assert knn_top(client, fresh, query.rows[0], query.encoder_id)[0] == record["id"], english
    assert knn_top(client, fresh, query.rows[0], "another-encoder@0") == []  # another encoder's vectors: never


def test_the_original_side_is_encoded():
    arabic = {"language": "ar", "sentences": [{"ar": "مرحبا", "en": "noise noise"}]}
    english = {"language": "en", "sentences": [{"ar": "Hello there", "en": "Hello there"}]}
    assert vectors.original_texts(arabic) == ["مرحبا"]
    assert vectors.original_texts(english) == ["Hello there"]


def test_a_v2_index_still_ingests_and_migrate_gives_it_vectors(client, fresh, encoder, tmp_path):
    made = lifecycle.ensure(client, fresh, config_dir=v2_only(tmp_path))
    assert made.startswith(f"{fresh}-v2-") and vectors.index_dimension(client, made) is None
    write(client, fresh, ARABIC[:3], encoder)
    assert client.count(index=fresh)["count"] == 3 and vectors_per_article(client, fresh) == {}
    assert client.count(index=fresh, body={"query": {"exists": {"field": "encoder"}}})["count"] == 0

    new = lifecycle.migrate(client, fresh, encoder=encoder)
    assert new.startswith(f"{fresh}-v{max(lifecycle.config_versions())}-")
    assert vectors.index_dimension(client, new) == encoder.dimension
    stored = {hit["_id"]: hit["_source"] for hit in client.search(index=fresh, body={"size": 20})["hits"]["hits"]}
    assert vectors_per_article(client, fresh) == {doc_id: len(s["sentences"]) for doc_id, s in stored.items()}
    english = ARABIC[1]["sentences"][0]["target"]
    query = Vectors.of_queries(encoder, [english])
    assert knn_top(client, fresh, query.rows[0], encoder.encoder_id)[0] == ARABIC[1]["id"]
    write(client, fresh, ARABIC[3:4], encoder)  # and the new index takes vectors from the write path
    assert vectors_per_article(client, fresh)[ARABIC[3]["id"]] == len(ARABIC[3]["sentences"])


def test_migrating_a_v3_index_embeds_again_what_the_copy_loses(client, fresh, encoder):
    write(client, fresh, ARABIC[:2], encoder)
    before = vectors_per_article(client, fresh)
    lifecycle.migrate(client, fresh, encoder=encoder)
    assert vectors_per_article(client, fresh) == before
    with pytest.raises(lifecycle.LifecycleError, match="--drop-vectors"):  # ENCODER=off, or its wheel missing
        lifecycle.migrate(client, fresh)
    assert vectors_per_article(client, fresh) == before  # nothing was changed
    lifecycle.migrate(client, fresh, drop_vectors=True)
    assert vectors_per_article(client, fresh) == {}
    unmarked = {"query": {"bool": {"must_not": [{"exists": {"field": vectors.ENCODER_FIELD}}]}}}
    assert client.count(index=fresh, body=unmarked)["count"] == 2  # so `index embed` / a migration embeds them
    lifecycle.migrate(client, fresh, encoder=encoder)
    assert vectors_per_article(client, fresh) == before


def test_articles_written_while_a_migration_runs_are_kept_with_vectors(client, fresh, encoder, monkeypatch):
    write(client, fresh, ARABIC[:2], encoder)
    prepare, writes = lifecycle._prepare, iter([ARABIC[2:3], ARABIC[3:4]])

    def prepare_while_a_writer_writes(client_, index, encoder_):
        prepare(client_, index, encoder_)
        late = next(writes, None)  # a writer stores an article while the copy is being embedded
        if late:
            write(client, fresh, late, encoder)

    monkeypatch.setattr(lifecycle, "_prepare", prepare_while_a_writer_writes)
    lifecycle.migrate(client, fresh, encoder=encoder)
    client.indices.refresh(index=fresh)
    assert vectors_per_article(client, fresh) == {r["id"]: len(r["sentences"]) for r in ARABIC[:4]}


def test_the_cli_migrate_embeds_with_encoder(client, fresh, encoder, tmp_path, search_settings):
    lifecycle.ensure(client, fresh, config_dir=v2_only(tmp_path))
    write(client, fresh, ARABIC[:2], encoder)
    env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": fresh, "ENCODER": "use"}
    done = run_cli("index", "migrate", env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert f"-v{max(lifecycle.config_versions())}-" in done.stdout.decode()
    assert vectors_per_article(client, fresh) == {r["id"]: len(r["sentences"]) for r in ARABIC[:2]}


def test_services_give_every_writer_and_search_the_encoder(settings, encoder, tmp_path):
    services = Services(replace(settings, encoder="use", jobs_db=tmp_path / "jobs.sqlite3"))
    assert services.encoder is encoder  # one model per process
    assert services.index_target.encoder is encoder and services.worker().target.encoder is encoder
    assert services.meaning.encoder is encoder
    services.close()
    off = Services(replace(settings, encoder="off"))
    assert off.encoder is None and off.index_target.encoder is None and off.meaning.encoder is None


def test_the_cli_embed_gives_vectors_to_the_articles_without_and_goes_on_where_it_stopped(
    client, fresh, encoder, search_settings, caplog
):
    lifecycle.ensure(client, fresh, dimension=encoder.dimension)
    write(client, fresh, ARABIC[:1], encoder)  # given its vectors: where a stopped run would have got to
    write(client, fresh, ARABIC[1:3], None)  # stored while ENCODER was off
    assert vectors.count_missing(client, fresh, encoder.encoder_id) == 2
    settings = replace(search_settings, opensearch_index=fresh, encoder="use")
    with caplog.at_level("WARNING"):
        Services(settings)._warm_search()  # what a serving process logs at start
    assert "2 articles of" in caplog.text and "index embed" in caplog.text
    env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": fresh, "ENCODER": "use"}
    done = run_cli("index", "embed", env=env)
    assert done.returncode == 0, done.stderr.decode()
    assert f"2 articles of {fresh}-v" in done.stdout.decode() and "2/2" in done.stderr.decode()  # the bar
    assert vectors_per_article(client, fresh) == {r["id"]: len(r["sentences"]) for r in ARABIC[:3]}
    assert vectors.count_missing(client, fresh, encoder.encoder_id) == 0
    again = run_cli("index", "embed", env=env)
    assert again.returncode == 0 and "0 articles" in again.stdout.decode()


def test_the_cli_embed_sends_an_index_without_a_vector_field_to_migrate(
    client, fresh, encoder, tmp_path, search_settings
):
    lifecycle.ensure(client, fresh, config_dir=v2_only(tmp_path))
    write(client, fresh, ARABIC[:1], encoder)
    env = {"OPENSEARCH_URL": search_settings.opensearch_urls[0], "OPENSEARCH_INDEX": fresh, "ENCODER": "use"}
    refused = run_cli("index", "embed", env=env)
    assert refused.returncode != 0 and "index migrate" in refused.stderr.decode()


def test_naming_stored_articles_gives_them_their_vectors_again(client, fresh, encoder, monkeypatch):
    """An update rewrites an article from _source, which keeps no vectors: naming embeds it again, or refuses."""
    lifecycle.ensure(client, fresh, dimension=encoder.dimension)
    with monkeypatch.context() as before_names:
        without_naming(before_names)
        write(client, fresh, ARABIC[:2], encoder)
    with pytest.raises(NamingError, match="ENCODER"):
        name_stored(IndexTarget(client, fresh))
    assert name_stored(IndexTarget(client, fresh, encoder=encoder)) == 2
    assert vectors_per_article(client, fresh) == {r["id"]: len(r["sentences"]) for r in ARABIC[:2]}
    named = {"query": {"term": {"names_lexicon": lexicon_id()}}}
    assert client.count(index=fresh, body=named)["count"] == 2


def test_a_process_with_no_collection_loads_no_encoder_at_start(search_settings):
    """A process that only translates (no alias to search) keeps the encoder's memory free until a search."""
    services = Services(replace(search_settings, opensearch_index=f"absent-{uuid.uuid4().hex[:8]}", encoder="use"))
    services._warm_search()
    assert "encoder" not in vars(services)  # the cached_property never ran


class HashEncoder:
    """A deterministic 512-dimensional encoder of its own id (no model: the vectors only need to exist)."""

    def __init__(self, encoder_id: str):
        self.encoder_id, self.dimension = encoder_id, 512

    def _rows(self, texts):
        digests = [
            np.frombuffer(hashlib.sha512(f"{self.encoder_id}{t}".encode()).digest() * 8, np.uint8) for t in texts
        ]
        matrix = np.asarray(digests, dtype=np.float32).reshape(len(texts), 512) + 1
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    encode_queries = encode_passages = _rows


def test_naming_with_another_encoder_of_the_same_dimension_is_refused(client, fresh, monkeypatch):
    """Its vectors would be relabelled as ENCODER's, and leave the meaning searches of the index's own encoder."""
    written_by, run_with = HashEncoder("written-by"), HashEncoder("run-with")
    lifecycle.ensure(client, fresh, dimension=512)
    with monkeypatch.context() as before_names:
        without_naming(before_names)
        write(client, fresh, ARABIC[:2], written_by)
    with pytest.raises(NamingError, match="written-by"):
        name_stored(IndexTarget(client, fresh, encoder=run_with))
    by_encoder = {"size": 0, "aggs": {"encoders": {"terms": {"field": "encoder"}}}}
    kept = client.search(index=fresh, body=by_encoder)["aggregations"]["encoders"]["buckets"]
    assert [(bucket["key"], bucket["doc_count"]) for bucket in kept] == [("written-by", 2)]
