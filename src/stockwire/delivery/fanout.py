"""Fan-out: outbox events become deliveries, in the transaction that moves the cursor."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

from stockwire.delivery.matching import deliveries_for
from stockwire.delivery.models import Endpoint
from stockwire.storage import deliveries
from stockwire.storage import endpoints as endpoint_store


@dataclass(frozen=True, kw_only=True)
class FanOut:
    """What one fan-out pass did."""

    events: int = 0
    created: int = 0
    more: bool = False
    endpoints: tuple[Endpoint, ...] | None = None


def fan_out(conn: Connection, *, limit: int = 1000) -> FanOut:
    """Turn up to `limit` new outbox events into deliveries and advance the cursor, atomically.

    Event ids are visible in commit order, so `id > cursor` never skips an event:
    a crash before commit leaves the cursor where it was, and the next pass
    creates the same deliveries. Only one process fans out at a time.
    """
    cursor = deliveries.lock_fanout_cursor(conn)
    if cursor is None:
        return FanOut()
    events = deliveries.new_events(conn, cursor, limit=limit)
    if not events:
        return FanOut()
    # Read in this transaction: an endpoint created a moment ago gets its first events.
    endpoints = tuple(endpoint_store.list_all(conn))
    created = deliveries.insert(conn, deliveries_for(events, endpoints))
    deliveries.advance_fanout_cursor(conn, events[-1].id)
    return FanOut(events=len(events), created=created, more=len(events) == limit, endpoints=endpoints)
