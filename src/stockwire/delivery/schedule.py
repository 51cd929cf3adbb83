"""When to try again: the endpoint's retry schedule with jitter, and `Retry-After`."""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Sequence

JITTER = 0.1
MAX_RETRY_AFTER = 24 * 3600.0


def next_delay(
    schedule: Sequence[float], attempts_made: int, *, rng: random.Random | None = None
) -> float | None:
    """Seconds until the next attempt after `attempts_made` attempts, or None when the schedule is spent.

    Each delay is moved by up to +/-10% so that deliveries that failed together
    do not all come back in the same instant.
    """
    index = attempts_made - 1
    if index < 0 or index >= len(schedule):
        return None
    base = float(schedule[index])
    spread = (rng or random).uniform(-JITTER, JITTER)
    return max(0.0, base * (1 + spread))


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)
