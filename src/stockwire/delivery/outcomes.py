"""What a finished attempt decides: delivered, try again later, or failed for good."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from stockwire.delivery.models import (
    AttemptKind,
    AttemptResult,
    ClaimedDelivery,
    DeliveryStatus,
    Endpoint,
    Outcome,
)
from stockwire.delivery.schedule import next_delay

# Answers that say the endpoint is unwell (rather than that this one request was wrong).
UNHEALTHY = frozenset({AttemptKind.NETWORK_ERROR, AttemptKind.TIMEOUT, AttemptKind.THROTTLED, AttemptKind.BLOCKED})


def counts_against_endpoint(result: AttemptResult) -> bool:
    """True for failures that should trip the endpoint's circuit breaker."""
    if result.kind in UNHEALTHY:
        return True
    return result.kind is AttemptKind.HTTP_ERROR and (result.status_code or 0) >= 500


def decide(
    endpoint: Endpoint,
    delivery: ClaimedDelivery,
    result: AttemptResult,
    *,
    now: dt.datetime,
    release_backlog: bool = False,
    rng: random.Random | None = None,
) -> Outcome:
    """The delivery's next state after `result`.

    2xx: delivered. 410: failed, and the endpoint is disabled. Otherwise the
    next slot of the endpoint's schedule (or the `Retry-After` of a 429/503),
    or failed once the schedule is spent.
    """
    base = Outcome(
        delivery_id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        key=delivery.key,
        event_type=delivery.event_type,
        result=result,
        release_backlog=release_backlog,
        status=DeliveryStatus.DELIVERED,
    )
    if result.ok:
        return base
    if result.kind is AttemptKind.GONE:
        return replace(base, status=DeliveryStatus.FAILED, disable_endpoint="the endpoint answered 410 Gone")
    delay = next_delay(endpoint.retry_schedule, delivery.attempts + 1, rng=rng)
    if delay is None:
        return replace(base, status=DeliveryStatus.FAILED)
    if result.retry_after is not None:
        delay = result.retry_after
    return replace(base, status=DeliveryStatus.PENDING, next_attempt_at=now + dt.timedelta(seconds=delay))
