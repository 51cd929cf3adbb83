"""Inbound event receipts: what makes each (channel, event id) apply exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.storage import schema
from stockwire.storage._sql import insert_for, upsert
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


Key = tuple[str, str]


def claim_many(conn: Connection, rows: Sequence[tuple[str, str, str, str]]) -> set[Key]:
    """Claim (channel, event_id, body_sha256, type) rows at once; return the keys newly claimed."""
    if not rows:
        return set()
    now = utcnow()
    stmt = (
        insert_for(conn, _inbound)
        .on_conflict_do_nothing(index_elements=["channel", "event_id"])
        .returning(_inbound.c.channel, _inbound.c.event_id)
    )
    params = [
        {"channel": c, "event_id": e, "body_sha256": h, "type": t, "result": {}, "received_at": now}
        for c, e, h, t in rows
    ]
    return {(r.channel, r.event_id) for r in conn.execute(stmt, params)}


def find_many(conn: Connection, keys: Sequence[Key]) -> dict[Key, Receipt]:
    if not keys:
        return {}
    stmt = sa.select(_inbound.c.channel, _inbound.c.event_id, _inbound.c.body_sha256, _inbound.c.result).where(
        sa.tuple_(_inbound.c.channel, _inbound.c.event_id).in_(list(keys))
    )
    return {(r.channel, r.event_id): Receipt(body_sha256=r.body_sha256, result=r.result) for r in conn.execute(stmt)}


def set_results(conn: Connection, results: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    """Store each applied event's answer, for duplicates to be answered from.

    An upsert over the claimed rows: one multi-row statement, not one UPDATE per event.
    """
    if not results:
        return
    now = utcnow()
    rows = [
        {"channel": c, "event_id": e, "body_sha256": "", "type": "", "result": r, "received_at": now}
        for c, e, r in results
    ]
    upsert(conn, _inbound, rows, keys=["channel", "event_id"], only=["result"])


def release(conn: Connection, keys: Sequence[Key]) -> None:
    """Drop the claims of refused events: they were never applied, so a retry may apply them."""
    for channel, event_id in keys:
        conn.execute(_inbound.delete().where(_inbound.c.channel == channel, _inbound.c.event_id == event_id))
