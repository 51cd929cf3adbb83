"""The append-only ledger: every movement of stock, with its cause."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.domain.models import Movement
from stockwire.storage import schema
from stockwire.storage.database import as_utc, utcnow

_ledger = schema.ledger


def append(conn: Connection, movements: Sequence[Movement]) -> None:
    if not movements:
        return
    now = utcnow()
    conn.execute(
        _ledger.insert(),
        [
            {
                "kind": m.kind.value,
                "sku": m.sku,
                "location": m.location,
                "delta_on_hand": m.delta_on_hand,
                "delta_reserved": m.delta_reserved,
                "on_hand": m.on_hand,
                "reserved": m.reserved,
                "cause": m.cause.as_dict(),
                "created_at": now,
            }
            for m in movements
        ],
    )


def entries(
    conn: Connection,
    *,
    sku: str | None = None,
    location: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Movements oldest first, after ledger id `after`."""
    stmt = sa.select(_ledger).where(_ledger.c.id > after)
    if sku is not None:
        stmt = stmt.where(_ledger.c.sku == sku)
    if location is not None:
        stmt = stmt.where(_ledger.c.location == location)
    stmt = stmt.order_by(_ledger.c.id).limit(limit)
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "sku": r.sku,
            "location": r.location,
            "delta_on_hand": r.delta_on_hand,
            "delta_reserved": r.delta_reserved,
            "on_hand": r.on_hand,
            "reserved": r.reserved,
            "cause": r.cause,
            "at": as_utc(r.created_at).isoformat(),
        }
        for r in conn.execute(stmt)
    ]


@dataclass(frozen=True, kw_only=True)
class Difference:
    sku: str
    location: str
    stored_on_hand: int | None
    stored_reserved: int | None
    ledger_on_hand: int
    ledger_reserved: int


def verify(conn: Connection) -> tuple[int, list[Difference]]:
    """Rebuild every level from the ledger; return how many were checked and any differences."""
    sums = {
        (r.sku, r.location): (int(r.on_hand), int(r.reserved))
        for r in conn.execute(
            sa.select(
                _ledger.c.sku,
                _ledger.c.location,
                sa.func.sum(_ledger.c.delta_on_hand).label("on_hand"),
                sa.func.sum(_ledger.c.delta_reserved).label("reserved"),
            ).group_by(_ledger.c.sku, _ledger.c.location)
        )
    }
    stored = {
        (r.sku, r.location): (r.on_hand, r.reserved)
        for r in conn.execute(sa.select(schema.stock_levels))
    }
    differences = []
    for key in sorted(set(sums) | set(stored)):
        rebuilt = sums.get(key, (0, 0))
        have = stored.get(key)
        if have != rebuilt and not (have is None and rebuilt == (0, 0)):
            differences.append(
                Difference(
                    sku=key[0], location=key[1],
                    stored_on_hand=have[0] if have else None,
                    stored_reserved=have[1] if have else None,
                    ledger_on_hand=rebuilt[0], ledger_reserved=rebuilt[1],
                )
            )
    return len(set(sums) | set(stored)), differences
