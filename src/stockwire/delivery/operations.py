"""What operators do to deliveries: retry one now, replay an endpoint's past events."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable

from stockwire.delivery.matching import type_matches
from stockwire.delivery.models import NewDelivery
from stockwire.storage import deliveries, outbox
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import Database

REPLAY_BATCH = 1000


class ReplayScope(enum.StrEnum):
    ALL = "all"
    FAILED = "failed"


class UnknownEndpoint(LookupError):
    pass


def replay(
    db: Database,
    endpoint_id: str,
    *,
    since: dt.datetime,
    scope: ReplayScope = ReplayScope.ALL,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send an endpoint's events since `since` again; the number of deliveries queued.

    `all` queues a new delivery of every matching event (same `webhook-id`, so
    receivers that de-duplicate are safe); `failed` puts failed deliveries back
    on a fresh retry schedule. Works in batches, each its own transaction.
    """
    with db.write() as conn:
        endpoint = endpoint_store.get(conn, endpoint_id)
        if endpoint is None:
            raise UnknownEndpoint(endpoint_id)
        if scope is ReplayScope.FAILED:
            return deliveries.retry_failed(conn, endpoint_id, since=since)
        after, upto = deliveries.event_range_since(conn, since)
    start = after = max(after, endpoint.after_event_id)
    types = () if "*" in endpoint.event_types else endpoint.event_types
    queued = 0
    while after < upto:
        with db.write() as conn:
            events = outbox.read_after(
                conn, after, limit=REPLAY_BATCH, types=types, channel=endpoint.channel, upto=upto
            )
            rows = [
                NewDelivery(endpoint_id=endpoint_id, event_id=e.id, event_type=e.type, key=e.key)
                for e in events
                if type_matches(endpoint.event_types, e.type)
            ]
            queued += deliveries.insert(conn, rows)
        after = events[-1].id if len(events) == REPLAY_BATCH else upto
        if progress is not None:
            progress(after - start, upto - start)
    return queued
