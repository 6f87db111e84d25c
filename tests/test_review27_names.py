"""review27: `index names` with another encoder of the same dimension relabels the stored vectors silently."""

import hashlib

import numpy as np
from helpers import without_naming
from test_vectors import ARABIC, fresh, write  # noqa: F401  (the module's fixture)

from service.index import lifecycle
from service.ingest import IndexTarget, name_stored


class HashEncoder:
    """A deterministic 512-dimensional encoder named `name` (no model: the vectors only need to exist)."""

    def __init__(self, name: str):
        self.encoder_id, self.dimension = name, 512

    def _rows(self, texts):
        rows = [np.frombuffer(hashlib.sha512(f"{self.encoder_id}{t}".encode()).digest() * 8, np.uint8) for t in texts]
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(texts), 512) + 1
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    encode_queries = encode_passages = _rows


def test_naming_with_another_encoder_of_the_same_dimension_is_refused_like_one_of_another_dimension(
    client,
    fresh,  # noqa: F811
    monkeypatch,
):
    written_by, run_with = HashEncoder("written-by"), HashEncoder("run-with")
    lifecycle.ensure(client, fresh, dimension=512)
    with monkeypatch.context() as before_names:
        without_naming(before_names)
        write(client, fresh, ARABIC[:2], written_by)
    by_encoder = {"size": 0, "aggs": {"e": {"terms": {"field": "encoder"}}}}
    before = client.search(index=fresh, body=by_encoder)["aggregations"]["e"]["buckets"]
    assert [(b["key"], b["doc_count"]) for b in before] == [("written-by", 2)]
    try:
        name_stored(IndexTarget(client, fresh, encoder=run_with))
    except Exception as refused:  # the fix: NamingError naming the index's encoder
        assert "written-by" in str(refused)
        return
    after = client.search(index=fresh, body=by_encoder)["aggregations"]["e"]["buckets"]
    # the articles the service (ENCODER=written-by) searches by meaning are now another encoder's: gone from it
    assert [(b["key"], b["doc_count"]) for b in after] == [("written-by", 2)], after
