"""What operators do to deliveries: retry one now, replay an endpoint's past events."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Connection

from stockwire import signatures
from stockwire.delivery.matching import type_matches, type_pattern_error
from stockwire.delivery.models import NewDelivery
from stockwire.delivery.ssrf import url_problem
from stockwire.storage import catalog, deliveries, outbox
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import Database

REPLAY_BATCH = 1000


class ReplayScope(enum.StrEnum):
    ALL = "all"
    FAILED = "failed"


class UnknownEndpoint(LookupError):
    pass


def endpoint_problem(
    conn: Connection,
    *,
    allow_private: bool,
    url: str | None = None,
    event_types: Sequence[str] = (),
    channel: str | None = None,
    secret: str | None = None,
) -> tuple[str, str] | None:
    """The first thing wrong with endpoint fields, as (JSON pointer, detail), or None."""
    if url is not None:
        problem = url_problem(url, allow_private=allow_private)
        if problem:
            return "/url", problem
    for i, pattern in enumerate(event_types):
        problem = type_pattern_error(pattern)
        if problem:
            return f"/event_types/{i}", problem
    if channel is not None and catalog.get_channel(conn, channel) is None:
        return "/channel", f"unknown channel {channel!r}"
    if secret is not None and not signatures.is_valid_secret(secret):
        return "/secret", "a secret is 'whsec_' followed by base64 of at least 24 bytes"
    return None


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
