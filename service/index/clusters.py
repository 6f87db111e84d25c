"""Story clusters (pure): near-duplicate Arabic bodies → word shingles → MinHash → LSH band keys, and the choice of
each new article's cluster among its candidates.

An article's normalised body becomes a set of word shingles (SHINGLE_WORDS words each, after folding the letter
variants outlets spell differently). NUM_PERM MinHash values over those shingles are cut into BANDS bands of ROWS
values; each band's key is stored in the document (`cluster_bands`), so two articles that agree on a whole band
find each other with one terms query, across processes, hosts and re-ingests. A candidate joins only when the
Jaccard similarity of the two shingle sets reaches the threshold (CLUSTER_THRESHOLD, measured by bench/clusters.py):
the candidates' bodies come back with the candidate search, so the check is exact rather than a MinHash estimate.

Everything here is deterministic across processes and hosts: shingles are hashed with BLAKE2b (never Python's
salted hash()), and the permutations come from a fixed seed. Changing SHINGLE_WORDS, NUM_PERM, BANDS, ROWS or SEED
changes every stored band key: articles indexed before would no longer be found as candidates.

MinHash is the usual few lines over numpy rather than datasketch: datasketch needs scipy (tens of MB in the image)
for the LSH parameter search this module does not use, and its band keys would still have to be made stable here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from service.text.normalize import normalize_text

SHINGLE_WORDS = 3
BANDS, ROWS = 42, 3
NUM_PERM = BANDS * ROWS
SEED = 20181
_PRIME = (1 << 61) - 1  # Mersenne prime: the universal hash (a*x + b) mod p over 32-bit shingle hashes
_MAX_HASH = (1 << 32) - 1
_MAX_PERM = 256  # permutations drawn; a signature uses the first num_perm (the bench sweeps several)
_rng = np.random.RandomState(SEED)  # a fixed, portable generator: the permutations are the same everywhere
_A = _rng.randint(1, 1 << 31, size=_MAX_PERM, dtype=np.uint64)
_B = _rng.randint(0, 1 << 31, size=_MAX_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+")
# Letter variants Arabic outlets use interchangeably (hamza seats on alef, taa marbuta, alef maqsura)
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي"})


def words(body: str) -> list[str]:
    """The body's words, normalised (service/text/normalize.py) and folded; punctuation dropped."""
    return _WORD.findall(normalize_text(body).lower().translate(_FOLD))


def shingles(body: str, size: int = SHINGLE_WORDS) -> frozenset[int]:
    """The 32-bit hashes of the body's word shingles (a body shorter than one shingle is one shingle)."""
    tokens = words(body)
    grams = [" ".join(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1))] if tokens else []
    return frozenset(int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little") for g in grams)


def signature(shingle_hashes: frozenset[int], num_perm: int = NUM_PERM) -> np.ndarray:
    """The MinHash signature: for each of num_perm hash permutations, the smallest value over the shingles."""
    if not shingle_hashes:
        return np.full(num_perm, _MAX_HASH, dtype=np.uint64)
    values = np.fromiter(shingle_hashes, dtype=np.uint64, count=len(shingle_hashes))
    permuted = (np.outer(values, _A[:num_perm]) + _B[:num_perm]) % _PRIME  # products stay below 2**63
    return (permuted & _MAX_HASH).min(axis=0)


def band_keys(sig: np.ndarray, bands: int = BANDS, rows: int = ROWS) -> list[str]:
    """One key per band: the band's number and a hash of its rows; two articles sharing a key are candidates."""
    return [
        f"{band}-{hashlib.blake2b(sig[band * rows : (band + 1) * rows].tobytes(), digest_size=8).hexdigest()}"
        for band in range(bands)
    ]


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """|a ∩ b| / |a ∪ b|; 0 for two empty sets (an empty body matches nothing)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


@dataclass(frozen=True)
class Fingerprint:
    """What clustering needs of one article: its shingles and its band keys."""

    shingles: frozenset[int]
    bands: tuple[str, ...]

    @classmethod
    def of(cls, body: str) -> Fingerprint:
        found = shingles(body)
        return cls(found, tuple(band_keys(signature(found))) if found else ())


@dataclass(frozen=True)
class Candidate:
    """An article already clustered (indexed, or earlier in the same batch) that shares a band with a new one."""

    doc_id: str
    cluster_id: str
    shingles: frozenset[int]


def best_cluster(fingerprint: Fingerprint, candidates: list[Candidate], threshold: float) -> str | None:
    """The cluster of the most similar candidate at or above the threshold (ties: the smaller id), or None."""
    scored = sorted((-jaccard(fingerprint.shingles, c.shingles), c.doc_id, c.cluster_id) for c in candidates)
    return scored[0][2] if scored and -scored[0][0] >= threshold else None


def assign_clusters(
    batch: list[tuple[str, Fingerprint]],
    indexed: dict[str, list[Candidate]],
    kept: dict[str, str],
    threshold: float,
) -> dict[str, str]:
    """{doc id: cluster id} for a batch of (doc id, fingerprint), in order.

    indexed: each article's candidates found in the index (itself excluded). kept: the cluster ids the index
    already holds for articles of the batch, which a re-ingested article keeps. An article joins the cluster of its
    most similar candidate, in the index or earlier in the batch; one with none starts its own, named by its id.
    """
    assigned: dict[str, str] = {}
    earlier: dict[str, list[Candidate]] = {}  # band key → the batch's articles with it, as candidates
    for doc_id, fingerprint in batch:
        if doc_id in kept:
            cluster_id = kept[doc_id]
        else:
            in_batch = {c.doc_id: c for band in fingerprint.bands for c in earlier.get(band, [])}
            found = best_cluster(fingerprint, [*indexed.get(doc_id, []), *in_batch.values()], threshold)
            cluster_id = found or doc_id
        assigned[doc_id] = cluster_id
        for band in fingerprint.bands:
            earlier.setdefault(band, []).append(Candidate(doc_id, cluster_id, fingerprint.shingles))
    return assigned


# Across the language line: an English original and the Arabic articles reporting it share no shingles, so MinHash
# cannot see them. Their sentences' vectors (one encoder, one space) can: a translated sentence lies near its source.
XLANG_SENTENCES = 6  # of a new article, the first (title and lead) looked up in the other language's articles
COUNTERPART_COSINE = 0.6  # a sentence has a counterpart in an article when one of its sentences is this near
MIN_COUNTERPARTS = 2  # shared sentences needed, unless one of the two articles is shorter


def counterpart_share(best_cosines: list[float], candidate_sentences: int, sentence_floor: float) -> float:
    """How much of the shorter article the other one translates: of the new article's looked-up sentences, those
    whose nearest sentence in the candidate reaches sentence_floor, over the shorter of the two (a report that
    translates part of a longer original still scores high); 0 below MIN_COUNTERPARTS shared sentences.

    best_cosines: for each looked-up sentence of the new article, its highest cosine with the candidate's sentences
    (0 when none of them was found near it)."""
    shorter = min(len(best_cosines), candidate_sentences)
    if shorter <= 0:
        return 0.0
    matched = sum(cosine >= sentence_floor for cosine in best_cosines)
    if matched < min(MIN_COUNTERPARTS, shorter):
        return 0.0
    return min(1.0, matched / shorter)


@dataclass(frozen=True)
class Counterpart:
    """An article in the other language, with each looked-up sentence's highest cosine with its sentences."""

    doc_id: str
    cluster_id: str
    sentences: int  # how many sentences it has
    best_cosines: tuple[float, ...]  # one per looked-up sentence of the new article, in order


def best_counterpart(counterparts: list[Counterpart], threshold: float, sentence_floor: float) -> str | None:
    """The cluster of the other-language article the new one shares most sentences with, at or above the threshold
    (ties: the higher mean cosine, then the smaller id), or None."""
    scored = sorted(
        (
            -counterpart_share(list(c.best_cosines), c.sentences, sentence_floor),
            -sum(c.best_cosines) / max(1, len(c.best_cosines)),
            c.doc_id,
            c.cluster_id,
        )
        for c in counterparts
    )
    return scored[0][3] if scored and -scored[0][0] >= threshold and -scored[0][0] > 0 else None
