"""The outbox of outbound events, which is also the pull feed.

Event ids are handed out in commit order: on PostgreSQL each writer takes a
transaction-scoped advisory lock just before it inserts its events and holds it
to its commit, so no id becomes visible after a larger one. A reader that
resumes after the largest id it has seen therefore never skips an event that
committed late. On SQLite the single write lock gives the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.domain.models import OutboundEvent
from stockwire.storage import schema
from stockwire.storage.database import as_utc, utcnow

_events = schema.events

# An arbitrary constant naming the advisory lock that orders event commits.
EVENT_ORDER_LOCK = 0x5707E11
NOTIFY_CHANNEL = "stockwire_events"


@dataclass(frozen=True, kw_only=True)
class StoredEvent:
    id: int
    type: str
    key: str
    channels: tuple[str, ...]
    data: dict[str, Any]
    timestamp: str

    def envelope(self) -> dict[str, Any]:
        return {"id": f"evt_{self.id}", "type": self.type, "timestamp": self.timestamp, "data": self.data}


def _channels_text(channels: Sequence[str]) -> str:
    # Delimited on both sides so `LIKE '%,web-1,%'` matches whole ids only.
    return "," + ",".join(channels) + "," if channels else ","


def append(conn: Connection, events: Sequence[OutboundEvent]) -> None:
    """Add events to the outbox; call last in a transaction, just before commit."""
    if not events:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_ORDER_LOCK})
    now = utcnow()
    conn.execute(
        _events.insert(),
        [
            {
                "type": e.type,
                "key": e.key,
                "channels": _channels_text(e.channels),
                "data": e.data,
                "created_at": now,
            }
            for e in events
        ],
    )
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        type=row.type,
        key=row.key,
        channels=tuple(c for c in row.channels.split(",") if c),
        data=row.data,
        timestamp=as_utc(row.created_at).isoformat().replace("+00:00", "Z"),
    )


def read_after(
    conn: Connection,
    after: int,
    *,
    limit: int,
    types: Sequence[str] = (),
    channel: str | None = None,
    upto: int | None = None,
) -> list[StoredEvent]:
    """Events with id > `after` in commit order, optionally filtered."""
    stmt = sa.select(_events).where(_events.c.id > after)
    if upto is not None:
        stmt = stmt.where(_events.c.id <= upto)
    if types:
        exact = [t for t in types if not t.endswith(".*")]
        prefixes = [t[:-1] for t in types if t.endswith(".*")]
        clauses: list[sa.ColumnElement[bool]] = [_events.c.type.in_(exact)] if exact else []
        clauses += [_events.c.type.startswith(p) for p in prefixes]
        stmt = stmt.where(sa.or_(*clauses))
    if channel:
        stmt = stmt.where(_events.c.channels.contains(f",{channel},", autoescape=True))
    stmt = stmt.order_by(_events.c.id).limit(limit)
    return [_stored(r) for r in conn.execute(stmt)]


def last_id(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_events.c.id), 0))).scalar_one())
