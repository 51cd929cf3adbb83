"""Inbound event receipts: what makes each (channel, event id) apply exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.storage import schema
from stockwire.storage._sql import insert_for
from stockwire.storage.database import utcnow

_inbound = schema.inbound_events


@dataclass(frozen=True, kw_only=True)
class Receipt:
    body_sha256: str
    result: dict[str, Any]


def find(conn: Connection, channel: str, event_id: str) -> Receipt | None:
    row = conn.execute(
        sa.select(_inbound.c.body_sha256, _inbound.c.result).where(
            _inbound.c.channel == channel, _inbound.c.event_id == event_id
        )
    ).first()
    return Receipt(body_sha256=row.body_sha256, result=row.result) if row else None


def claim(conn: Connection, *, channel: str, event_id: str, body_sha256: str, type_: str) -> bool:
    """Record that (channel, event_id) is being applied; False if it already was.

    On PostgreSQL a concurrent claim of the same id waits for the first to
    commit or roll back, so exactly one transaction applies the event.
    """
    stmt = insert_for(conn, _inbound).on_conflict_do_nothing(index_elements=["channel", "event_id"])
    inserted = conn.execute(
        stmt.values(channel=channel, event_id=event_id, body_sha256=body_sha256, type=type_,
                    result={}, received_at=utcnow()).returning(_inbound.c.event_id)
    ).first()
    return inserted is not None


def set_result(conn: Connection, *, channel: str, event_id: str, result: dict[str, Any]) -> None:
    conn.execute(
        _inbound.update()
        .where(_inbound.c.channel == channel, _inbound.c.event_id == event_id)
        .values(result=result)
    )
