"""Locations, channels and products: what the shop is made of."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.domain.models import (
    Channel,
    ChannelFormat,
    ChannelKind,
    Location,
    LocationKind,
    OrderPolicy,
    Product,
)
from stockwire.storage import schema
from stockwire.storage._sql import for_update, insert_missing, upsert
from stockwire.storage.database import utcnow


@dataclass(frozen=True, kw_only=True)
class ChannelRecord:
    """A channel with what only the hub may see: its secret and platform settings."""

    channel: Channel
    secret: str
    settings: dict[str, Any] = field(default_factory=dict)


def insert_location(conn: Connection, location: Location) -> bool:
    """Create a location; False if the id is taken."""
    before = conn.execute(
        sa.select(schema.locations.c.id).where(schema.locations.c.id == location.id)
    ).first()
    if before is not None:
        return False
    conn.execute(
        schema.locations.insert().values(
            id=location.id, name=location.name, kind=location.kind.value, created_at=utcnow()
        )
    )
    return True


def _location(row: Any) -> Location:
    return Location(id=row.id, name=row.name, kind=LocationKind(row.kind))


def list_locations(conn: Connection) -> list[Location]:
    rows = conn.execute(sa.select(schema.locations).order_by(schema.locations.c.id))
    return [_location(r) for r in rows]


def get_location(conn: Connection, location_id: str) -> Location | None:
    row = conn.execute(
        sa.select(schema.locations).where(schema.locations.c.id == location_id)
    ).first()
    return _location(row) if row else None


def location_ids(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(schema.locations.c.id)).scalars())


def _channel(row: Any) -> ChannelRecord:
    return ChannelRecord(
        channel=Channel(
            id=row.id,
            name=row.name,
            kind=ChannelKind(row.kind),
            format=ChannelFormat(row.format),
            locations=tuple(row.locations),
            buffer=row.buffer,
            order_policy=OrderPolicy(row.order_policy),
        ),
        secret=row.secret,
        settings=dict(row.settings or {}),
    )


def insert_channel(conn: Connection, record: ChannelRecord) -> bool:
    """Create a channel; False if the id is taken."""
    if get_channel(conn, record.channel.id) is not None:
        return False
    ch = record.channel
    now = utcnow()
    conn.execute(
        schema.channels.insert().values(
            id=ch.id,
            name=ch.name,
            kind=ch.kind.value,
            format=ch.format.value,
            locations=list(ch.locations),
            buffer=ch.buffer,
            order_policy=ch.order_policy.value,
            secret=record.secret,
            settings=record.settings,
            created_at=now,
            updated_at=now,
        )
    )
    return True


def update_channel(conn: Connection, record: ChannelRecord) -> None:
    ch = record.channel
    conn.execute(
        schema.channels.update()
        .where(schema.channels.c.id == ch.id)
        .values(
            name=ch.name,
            kind=ch.kind.value,
            format=ch.format.value,
            locations=list(ch.locations),
            buffer=ch.buffer,
            order_policy=ch.order_policy.value,
            secret=record.secret,
            settings=record.settings,
            updated_at=utcnow(),
        )
    )


def get_channel(conn: Connection, channel_id: str, *, lock: bool = False) -> ChannelRecord | None:
    stmt = sa.select(schema.channels).where(schema.channels.c.id == channel_id)
    row = conn.execute(for_update(conn, stmt) if lock else stmt).first()
    return _channel(row) if row else None


def list_channels(conn: Connection) -> list[ChannelRecord]:
    rows = conn.execute(sa.select(schema.channels).order_by(schema.channels.c.id))
    return [_channel(r) for r in rows]


def delete_channel(conn: Connection, channel_id: str) -> bool:
    result = conn.execute(schema.channels.delete().where(schema.channels.c.id == channel_id))
    return bool(result.rowcount)


def _product(row: Any) -> Product:
    return Product(
        sku=row.sku,
        name=row.name,
        safety_stock=row.safety_stock,
        low_stock_threshold=row.low_stock_threshold,
    )


def ensure_products(conn: Connection, skus: Iterable[str]) -> None:
    """Create the products an event names for the first time."""
    now = utcnow()
    insert_missing(
        conn,
        schema.products,
        [
            {"sku": s, "name": "", "safety_stock": 0, "low_stock_threshold": 0, "updated_at": now}
            for s in sorted(set(skus))
        ],
        keys=["sku"],
    )


def lock_products(conn: Connection, skus: Iterable[str]) -> dict[str, Product]:
    """Lock the products in sku order and return them.

    Every change to a sku's stock, at any location, holds this lock first, so
    two writers never interleave on one sku and never deadlock on two.
    """
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    ensure_products(conn, wanted)
    stmt = (
        sa.select(schema.products)
        .where(schema.products.c.sku.in_(wanted))
        .order_by(schema.products.c.sku)
    )
    return {r.sku: _product(r) for r in conn.execute(for_update(conn, stmt))}


def get_products(conn: Connection, skus: Sequence[str]) -> dict[str, Product]:
    stmt = sa.select(schema.products).where(schema.products.c.sku.in_(list(skus)))
    return {r.sku: _product(r) for r in conn.execute(stmt)}


def save_product(conn: Connection, product: Product) -> None:
    upsert(
        conn,
        schema.products,
        [
            {
                "sku": product.sku,
                "name": product.name,
                "safety_stock": product.safety_stock,
                "low_stock_threshold": product.low_stock_threshold,
                "updated_at": utcnow(),
            }
        ],
        keys=["sku"],
    )
