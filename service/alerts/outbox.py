"""What the two outboxes (webhook deliveries in the matches index, digests in the digests index) share: the wait
before a retry, and how their instants are written."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable


def backoff(attempt: int, first: float, cap: float, draw: Callable[[], float] = random.random) -> float:
    """Seconds before attempt + 1: first doubled per attempt, capped, then between half and all of that."""
    ceiling = min(cap, first * 2 ** min(attempt - 1, 60))
    return ceiling * (0.5 + draw() / 2)


def iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
