"""The meaning channel's similarity floor (pure): which articles a query may reach by meaning.

Two cuts, fitted on ../shared by bench/floor.py:
  - the floor: the least cosine of an article's best sentence, per encoder (config.py MEANING_FLOORS). A query about
    nothing in the collection has a best sentence below it, so it reaches no article by meaning rather than its
    nearest strangers;
  - the margin, per encoder too (MEANING_MARGINS): an article whose best sentence falls more than this below the
    collection's best sentence for the query is a stranger beside the real match, and stays out.
Why not a floor by query length or language: bench/floor.py measured both, and neither kept off-topic queries out
while reaching more on-topic articles than the one floor. A short query's own article and an unrelated collection
reach the same cosines (0.15-0.3 with USE for one or two words): no floor tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MeaningFloor:
    """The least cosine of a match (floor), and how far below the collection's best match it may fall (margin;
    None: no such cut)."""

    floor: float
    margin: float | None = None

    def least(self, best: float | None) -> float:
        """The least cosine of a match, given the collection's best cosine for this query (None: not known)."""
        if self.margin is None or best is None:
            return self.floor
        return max(self.floor, best - self.margin)
