"""Length-sorted, token-budgeted batches: the core of fast CPU decoding, as a pure function."""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Group indices into batches of similar length whose padded size stays within max_tokens.

    Padded size is (sentences in batch) x (longest sentence), which is what the model computes.
    A sentence longer than max_tokens gets a batch of its own. Longest batches come first, so
    parallel workers finish together.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * max(longest, 1) > max_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
