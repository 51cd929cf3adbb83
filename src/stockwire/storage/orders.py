"""Orders, stored whole: lines and their allocations travel as one JSON document."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.domain.models import Allocation, Order, OrderLine, OrderStatus
from stockwire.storage import schema
from stockwire.storage._sql import for_update
from stockwire.storage.database import utcnow

_orders = schema.orders


def _lines_json(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "sku": ln.sku,
            "quantity": ln.quantity,
            "allocations": [
                {"location": a.location, "reserved": a.reserved, "shipped": a.shipped}
                for a in ln.allocations
            ],
        }
        for ln in order.lines
    ]


def _order(row: Any) -> Order:
    return Order(
        channel=row.channel,
        order_id=row.order_id,
        status=OrderStatus(row.status),
        location=row.location,
        lines=tuple(
            OrderLine(
                sku=ln["sku"],
                quantity=ln["quantity"],
                allocations=tuple(Allocation(**a) for a in ln["allocations"]),
            )
            for ln in row.lines
        ),
        ship_to=row.ship_to,
        customer=row.customer,
        reason=row.reason,
        tried_locations=tuple(row.tried_locations),
        version=row.version,
    )


def get(conn: Connection, channel: str, order_id: str, *, lock: bool = False) -> Order | None:
    stmt = sa.select(_orders).where(_orders.c.channel == channel, _orders.c.order_id == order_id)
    row = conn.execute(for_update(conn, stmt) if lock else stmt).first()
    return _order(row) if row else None


def find(conn: Connection, order_id: str, *, lock: bool = False) -> list[Order]:
    """Orders with this id on any channel (a WMS names orders by id alone)."""
    stmt = sa.select(_orders).where(_orders.c.order_id == order_id).order_by(_orders.c.channel)
    return [_order(r) for r in conn.execute(for_update(conn, stmt) if lock else stmt)]


def insert(conn: Connection, order: Order) -> None:
    now = utcnow()
    conn.execute(
        _orders.insert().values(
            channel=order.channel,
            order_id=order.order_id,
            status=order.status.value,
            location=order.location,
            lines=_lines_json(order),
            ship_to=order.ship_to,
            customer=order.customer,
            reason=order.reason,
            tried_locations=list(order.tried_locations),
            version=order.version,
            created_at=now,
            updated_at=now,
        )
    )


def update(conn: Connection, order: Order) -> None:
    conn.execute(
        _orders.update()
        .where(_orders.c.channel == order.channel, _orders.c.order_id == order.order_id)
        .values(
            status=order.status.value,
            location=order.location,
            lines=_lines_json(order),
            reason=order.reason,
            tried_locations=list(order.tried_locations),
            version=order.version,
            updated_at=utcnow(),
        )
    )


def page(
    conn: Connection, *, channel: str | None, status: str | None, limit: int
) -> list[Order]:
    stmt = sa.select(_orders)
    if channel:
        stmt = stmt.where(_orders.c.channel == channel)
    if status:
        stmt = stmt.where(_orders.c.status == status)
    stmt = stmt.order_by(_orders.c.updated_at.desc()).limit(limit)
    return [_order(r) for r in conn.execute(stmt)]
