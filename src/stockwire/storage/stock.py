"""Stock levels per (sku, location) and availability per (sku, channel)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.domain.models import ChannelAvailability, StockLevel
from stockwire.storage import schema
from stockwire.storage._sql import upsert
from stockwire.storage.database import utcnow

_levels = schema.stock_levels
_avail = schema.channel_availability


def load_levels(conn: Connection, skus: Iterable[str]) -> list[StockLevel]:
    """Every level of the given skus, at every location, with safety stock."""
    wanted = sorted(set(skus))
    if not wanted:
        return []
    stmt = (
        sa.select(_levels, schema.products.c.safety_stock)
        .join(schema.products, schema.products.c.sku == _levels.c.sku)
        .where(_levels.c.sku.in_(wanted))
        .order_by(_levels.c.sku, _levels.c.location)
    )
    return [
        StockLevel(
            sku=r.sku, location=r.location, on_hand=r.on_hand, reserved=r.reserved,
            safety_stock=r.safety_stock, version=r.version,
        )
        for r in conn.execute(stmt)
    ]


def save_levels(conn: Connection, levels: Sequence[StockLevel]) -> None:
    now = utcnow()
    upsert(
        conn,
        _levels,
        [
            {"sku": lv.sku, "location": lv.location, "on_hand": lv.on_hand,
             "reserved": lv.reserved, "version": lv.version, "updated_at": now}
            for lv in levels
        ],
        keys=["sku", "location"],
    )


def load_availability(conn: Connection, skus: Iterable[str]) -> list[ChannelAvailability]:
    wanted = sorted(set(skus))
    if not wanted:
        return []
    stmt = sa.select(_avail).where(_avail.c.sku.in_(wanted))
    return [
        ChannelAvailability(sku=r.sku, channel=r.channel, available=r.available, version=r.version)
        for r in conn.execute(stmt)
    ]


def save_availability(conn: Connection, rows: Sequence[ChannelAvailability]) -> None:
    now = utcnow()
    upsert(
        conn,
        _avail,
        [
            {"channel": a.channel, "sku": a.sku, "available": a.available,
             "version": a.version, "updated_at": now}
            for a in rows
        ],
        keys=["channel", "sku"],
    )


def availability_page(
    conn: Connection, channel: str, *, after_sku: str | None, limit: int
) -> list[ChannelAvailability]:
    """One page of a channel's snapshot, in sku order."""
    stmt = sa.select(_avail).where(_avail.c.channel == channel)
    if after_sku is not None:
        stmt = stmt.where(_avail.c.sku > after_sku)
    stmt = stmt.order_by(_avail.c.sku).limit(limit)
    return [
        ChannelAvailability(sku=r.sku, channel=r.channel, available=r.available, version=r.version)
        for r in conn.execute(stmt)
    ]


def all_skus(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(schema.products.c.sku).order_by(schema.products.c.sku)).scalars())
