"""Vector fields checked before they reach OpenSearch, and Lucene HNSW vectors stored and found on the real node."""

import copy
import json
import random

import pytest

from service.errors import ServiceError
from service.index import lifecycle
from service.index.mappings import MappingError, check_index_body, vector_problems

DIMENSION = 384  # multilingual-e5-small's
LUCENE = {"engine": "lucene", "name": "hnsw", "space_type": "cosinesimil"}


def vector_field(method=LUCENE):
    field = {"type": "knn_vector", "dimension": DIMENSION}
    return {**field, "method": method} if method is not None else field


def body_with(properties, knn=True):
    return {"settings": {"index": {"knn": knn}}, "mappings": {"properties": properties}}


def articles_with_vectors() -> dict:
    """The newest articles config plus a vector per article and one per sentence (inside the nested sentences)."""
    body = copy.deepcopy(lifecycle.read_config(lifecycle.config_versions()[max(lifecycle.config_versions())]))
    body["settings"]["index"]["knn"] = True
    body["mappings"]["properties"]["vector"] = vector_field()
    body["mappings"]["properties"]["sentences"]["properties"]["vector"] = vector_field()
    return body


def unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0, 1) for _ in range(DIMENSION)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


def test_a_lucene_hnsw_vector_field_passes():
    assert vector_problems(body_with({"vector": vector_field()})) == []
    assert vector_problems(articles_with_vectors()) == []


@pytest.mark.parametrize(
    ("method", "said"),
    [
        (None, "has no method"),
        ({"engine": "faiss", "name": "hnsw", "space_type": "l2"}, "engine 'faiss'"),
        ({"engine": "nmslib", "name": "hnsw", "space_type": "cosinesimil"}, "engine 'nmslib'"),
        ({"name": "hnsw", "space_type": "cosinesimil"}, "no engine"),
    ],
)
def test_a_vector_field_the_node_cannot_store_is_refused_with_its_path(method, said):
    body = articles_with_vectors()
    body["mappings"]["properties"]["sentences"]["properties"]["vector"] = vector_field(method)
    with pytest.raises(MappingError) as refused:
        check_index_body(body, "articles-v9.json")
    message = str(refused.value)
    assert isinstance(refused.value, ServiceError)
    assert message.startswith("articles-v9.json: refused before it reaches OpenSearch")
    assert "field sentences.vector " in message and said in message and "lucene" in message
    assert "field vector " not in message  # the article vector is fine


def test_dynamic_templates_and_multi_fields_are_checked_too():
    templates = {"mappings": {"dynamic_templates": [{"vectors": {"match": "*_vec", "mapping": vector_field(None)}}]}}
    [problem] = vector_problems(templates)
    assert problem.startswith("dynamic template vectors has no method")
    multi = body_with({"title": {"type": "text", "fields": {"v": vector_field({"engine": "faiss"})}}})
    assert [p.split(" has ")[0] for p in vector_problems(multi)] == ["field title.v"]


def test_vector_fields_need_knn_turned_on_in_the_index_settings():
    assert vector_problems(body_with({"vector": vector_field()}, knn=False)) == [
        'settings: vector fields need "index": {"knn": true}'
    ]
    assert vector_problems({"settings": {"index.knn": "true"}, "mappings": {"properties": {"v": vector_field()}}}) == []
    assert vector_problems({"properties": {"v": vector_field()}}) == []  # a bare mapping (put_mapping) has no settings


def test_every_index_config_shipped_passes():
    for path in lifecycle.INDEX_CONFIG_DIR.glob("*.json"):
        lifecycle.read_config(path)


def test_a_bad_config_is_refused_before_it_reaches_the_node(client, tmp_path):
    body = articles_with_vectors()
    body["mappings"]["properties"]["vector"] = vector_field({"engine": "faiss", "name": "hnsw", "space_type": "l2"})
    (tmp_path / "articles-v9.json").write_text(json.dumps(body), encoding="utf-8")
    alias = "test-mappings-refused"
    lifecycle.delete(client, alias)
    with pytest.raises(MappingError, match="field vector has engine 'faiss'"):
        lifecycle.ensure(client, alias, config_dir=tmp_path)
    assert not client.indices.exists_alias(name=alias)
    assert not client.indices.exists(index=f"{alias}-v9-000001")
    assert client.cluster.health()["status"] == "green"  # the node lives


@pytest.fixture(scope="module")
def vectors_index(client, tmp_path_factory):
    """An articles index with a vector per article and per sentence, on the real node (the lead's shape to come)."""
    config_dir = tmp_path_factory.mktemp("config")
    (config_dir / "articles-v9.json").write_text(json.dumps(articles_with_vectors()), encoding="utf-8")
    alias = "test-mappings-vectors"
    lifecycle.delete(client, alias)
    lifecycle.ensure(client, alias, config_dir=config_dir)
    rng = random.Random(20)
    documents = {
        str(i): {
            "id": str(i),
            "title_en": f"article {i}",
            "vector": unit_vector(rng),
            "sentences": [
                {
                    "position": j,
                    "field": "body",
                    "ar": f"جملة {i} {j}",
                    "en": f"sentence {i}-{j}",
                    "vector": unit_vector(rng),
                }
                for j in range(4)
            ],
        }
        for i in range(40)
    }
    for doc_id, document in documents.items():
        client.index(index=alias, id=doc_id, body=document)
    client.indices.refresh(index=alias)
    yield alias, documents
    lifecycle.delete(client, alias)


def test_a_knn_query_finds_the_article_by_its_vector(client, vectors_index):
    alias, documents = vectors_index
    body = {"size": 10, "_source": False, "query": {"knn": {"vector": {"vector": documents["7"]["vector"], "k": 100}}}}
    hits = client.search(index=alias, body=body)["hits"]["hits"]
    assert len(hits) == 10
    assert hits[0]["_id"] == "7" and hits[0]["_score"] == pytest.approx(1.0, abs=1e-4)  # cosinesimil: (1 + cos) / 2
    assert all(hit["_score"] < 0.9 for hit in hits[1:])


def test_a_nested_knn_query_finds_the_article_and_names_the_sentence(client, vectors_index):
    alias, documents = vectors_index
    wanted = documents["13"]["sentences"][2]
    body = {
        "size": 10,
        "_source": False,
        "query": {
            "nested": {
                "path": "sentences",
                "score_mode": "max",
                "query": {"knn": {"sentences.vector": {"vector": wanted["vector"], "k": 100}}},
                "inner_hits": {"size": 1, "_source": ["sentences.en", "sentences.position"]},
            }
        },
    }
    hits = client.search(index=alias, body=body)["hits"]["hits"]
    assert hits[0]["_id"] == "13" and hits[0]["_score"] == pytest.approx(1.0, abs=1e-4)
    matched = hits[0]["inner_hits"]["sentences"]["hits"]["hits"][0]
    assert matched["_source"] == {"en": "sentence 13-2", "position": 2}
    assert len({hit["_id"] for hit in hits}) == len(hits)  # one hit per article, however many sentences matched
