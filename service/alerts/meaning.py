"""Saved searches by meaning (pure): an alert's query vector, as stored, and which new articles it reaches.

Search's vector channel (search/body.py meaning_clause) matches an article when one of its sentences is at least
SEARCH_MEANING_FLOOR in cosine from the query's vector, and only articles embedded by the query's encoder. A
percolator cannot hold that knn query, so an alert keeps its query's vector (and its encoder's id) beside its
percolator queries, and each window of new articles is scored here against every saved vector of the articles'
encoder: one matrix product of the alerts' vectors by the window's sentence vectors, exact, in numpy.

Vectors are stored as base64 of their float32 bytes: exact, and a third of the size of JSON floats.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.embedding.interface import Vectors

VECTOR_DTYPE = np.dtype("<f4")


@dataclass(frozen=True, eq=False)
class AlertVector:
    """A saved search's query vector and the encoder that made it (compared only with that encoder's sentences)."""

    encoder_id: str
    vector: np.ndarray  # (dimension,) float32, L2-normalised

    def to_source(self) -> dict:
        """As the alerts index stores it (`meaning`, not indexed)."""
        raw = np.ascontiguousarray(self.vector, dtype=VECTOR_DTYPE).tobytes()
        return {"encoder": self.encoder_id, "vector": base64.b64encode(raw).decode("ascii")}

    @classmethod
    def from_source(cls, source: dict | None) -> AlertVector | None:
        if not source or not source.get("vector"):
            return None
        return cls(source["encoder"], np.frombuffer(base64.b64decode(source["vector"]), dtype=VECTOR_DTYPE))


def sentence_vectors(documents: Sequence[dict], encoder_id: str) -> tuple[np.ndarray, np.ndarray]:
    """The sentence vectors of the documents embedded by encoder_id, stacked: (rows, the slot of each row's
    document in documents). Documents of another encoder, or without vectors, give no rows."""
    rows, slots = [], []
    for slot, document in enumerate(documents):
        if document.get("encoder") != encoder_id:
            continue
        for sentence in document.get("sentences") or ():
            if sentence.get("vector") is not None:
                rows.append(sentence["vector"])
                slots.append(slot)
    if not rows:
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.asarray(rows, dtype=np.float32), np.asarray(slots, dtype=np.int64)


def meaning_matches(alerts: dict[str, AlertVector], documents: Sequence[dict], floor: float) -> dict[str, list[int]]:
    """{alert id: the slots of the documents with a sentence at least floor in cosine from the alert's vector},
    comparing each alert only with the documents its encoder embedded (alerts of no document's encoder: none)."""
    found: dict[str, list[int]] = {}
    for encoder_id in {document.get("encoder") for document in documents} - {None}:
        ids = [alert_id for alert_id, saved in alerts.items() if saved.encoder_id == encoder_id]
        rows, slots = sentence_vectors(documents, encoder_id)
        if not ids or not len(rows):
            continue
        queries = Vectors(encoder_id, np.stack([alerts[alert_id].vector for alert_id in ids]))
        reached = queries.cosines(Vectors(encoder_id, rows)) >= floor  # (alerts, sentences)
        for alert_row, sentence_columns in _rows_with_any(reached):
            found.setdefault(ids[alert_row], []).extend(sorted(set(slots[sentence_columns].tolist())))
    return {alert_id: sorted(set(matched)) for alert_id, matched in found.items()}


def _rows_with_any(reached: np.ndarray):
    """(row, the columns true in it) for each row with any."""
    for row in np.flatnonzero(reached.any(axis=1)):
        yield int(row), np.flatnonzero(reached[row])
