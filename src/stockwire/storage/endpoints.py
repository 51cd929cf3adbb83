"""Webhook endpoints: the subscribers' callbacks, their secrets and health."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.delivery.models import Endpoint, Ordering
from stockwire.storage import schema
from stockwire.storage._sql import for_update
from stockwire.storage.database import as_utc, utcnow

_endpoints = schema.endpoints


def _stamp(value: dt.datetime | None) -> dt.datetime | None:
    return as_utc(value) if value is not None else None


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row.id,
        url=row.url,
        description=row.description,
        event_types=tuple(row.event_types),
        channel=row.channel,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_until=_stamp(row.previous_secret_until),
        rate_limit=row.rate_limit,
        ordering=Ordering(row.ordering),
        retry_schedule=tuple(row.retry_schedule),
        timeout=row.timeout,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=_stamp(row.failing_since),
        after_event_id=row.after_event_id,
        created_at=_stamp(row.created_at),
    )


def _values(endpoint: Endpoint) -> dict[str, Any]:
    values = asdict(endpoint)
    values["event_types"] = list(endpoint.event_types)
    values["retry_schedule"] = list(endpoint.retry_schedule)
    values["ordering"] = endpoint.ordering.value
    values.pop("created_at")
    return values


def insert(conn: Connection, endpoint: Endpoint) -> Endpoint:
    """Create an endpoint; it receives events committed from now on."""
    now = utcnow()
    last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(schema.events.c.id), 0))).scalar_one()
    values = _values(endpoint) | {"after_event_id": int(last), "created_at": now, "updated_at": now}
    conn.execute(_endpoints.insert().values(**values))
    found = get(conn, endpoint.id)
    assert found is not None
    return found


def get(conn: Connection, endpoint_id: str, *, lock: bool = False) -> Endpoint | None:
    stmt = sa.select(_endpoints).where(_endpoints.c.id == endpoint_id)
    row = conn.execute(for_update(conn, stmt) if lock else stmt).first()
    return _endpoint(row) if row else None


def list_all(conn: Connection) -> list[Endpoint]:
    return [
        _endpoint(r)
        for r in conn.execute(sa.select(_endpoints).order_by(_endpoints.c.created_at, _endpoints.c.id))
    ]


def update(conn: Connection, endpoint: Endpoint) -> None:
    """Overwrite an endpoint's settings (everything but its creation time and start)."""
    values = _values(endpoint)
    values.pop("after_event_id")
    conn.execute(
        _endpoints.update().where(_endpoints.c.id == endpoint.id).values(**values, updated_at=utcnow())
    )


def delete(conn: Connection, endpoint_id: str) -> bool:
    """Remove an endpoint and, by cascade, its deliveries; False if there was none."""
    return conn.execute(_endpoints.delete().where(_endpoints.c.id == endpoint_id)).rowcount > 0


def set_enabled(conn: Connection, endpoint_id: str, enabled: bool, *, reason: str | None = None) -> bool:
    """Enable or disable; enabling clears the failure record. False if there is no such endpoint."""
    values: dict[str, Any] = {
        "enabled": enabled,
        "disabled_reason": None if enabled else reason,
        "updated_at": utcnow(),
    }
    if enabled:
        values["failing_since"] = None
    return (
        conn.execute(_endpoints.update().where(_endpoints.c.id == endpoint_id).values(**values)).rowcount > 0
    )


def record_health(conn: Connection, *, succeeded: set[str], failed: dict[str, dt.datetime]) -> None:
    """Clear `failing_since` for endpoints that just succeeded; set it (once) for those that failed."""
    if succeeded:
        conn.execute(
            _endpoints.update()
            .where(_endpoints.c.id.in_(sorted(succeeded)), _endpoints.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    for endpoint_id, at in sorted(failed.items()):
        conn.execute(
            _endpoints.update()
            .where(_endpoints.c.id == endpoint_id, _endpoints.c.failing_since.is_(None))
            .values(failing_since=at)
        )


def disable_failing_since(conn: Connection, before: dt.datetime) -> list[str]:
    """Disable every enabled endpoint failing continuously since before `before`; their ids."""
    ids = list(
        conn.execute(
            sa.select(_endpoints.c.id).where(
                _endpoints.c.enabled.is_(True), _endpoints.c.failing_since < before
            )
        ).scalars()
    )
    if ids:
        conn.execute(
            _endpoints.update()
            .where(_endpoints.c.id.in_(ids))
            .values(enabled=False, disabled_reason="failing for too long", updated_at=utcnow())
        )
    return ids
