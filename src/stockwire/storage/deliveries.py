"""Deliveries: the fan-out cursor, claims with leases, attempts, compaction and history.

Every statement the dispatcher needs is here. A claim is one
`UPDATE ... WHERE id IN (SELECT ... [FOR UPDATE SKIP LOCKED] LIMIT n) RETURNING`:
on PostgreSQL the row locks let any number of workers share the work, on
SQLite the write lock taken by `BEGIN IMMEDIATE` serialises claims.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stockwire.delivery.models import (
    COMPACTABLE_TYPES,
    AttemptView,
    ClaimedDelivery,
    DeliveryStatus,
    DeliveryView,
    EventHead,
    NewDelivery,
    Outcome,
)
from stockwire.storage import schema
from stockwire.storage._sql import insert_missing
from stockwire.storage.database import as_utc, utcnow
from stockwire.storage.outbox import NOTIFY_CHANNEL

_d = schema.deliveries
_attempts = schema.delivery_attempts
_state = schema.dispatch_state
_events = schema.events
PENDING = DeliveryStatus.PENDING.value
FANOUT = "fanout"


def _iso(value: dt.datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def _is_pending(columns: Any) -> Any:
    # A literal, not a bound parameter: only then can the planners use the partial indexes.
    return columns.status == sa.literal_column("'pending'")


def _unclaimed(table: Any, now: Any) -> Any:
    return sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)


# -- fan-out cursor ----------------------------------------------------------


def lock_fanout_cursor(conn: Connection) -> int | None:
    """The last event turned into deliveries, locked for this transaction.

    None when another process holds the lock (PostgreSQL): it is fanning out
    right now, and its commit will wake this process.
    """
    insert_missing(conn, _state, [{"name": FANOUT, "last_event_id": 0, "updated_at": utcnow()}], keys=["name"])
    stmt = sa.select(_state.c.last_event_id).where(_state.c.name == FANOUT)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    value = conn.execute(stmt).scalar()
    return None if value is None else int(value)


def advance_fanout_cursor(conn: Connection, last_event_id: int) -> None:
    conn.execute(
        _state.update().where(_state.c.name == FANOUT).values(last_event_id=last_event_id, updated_at=utcnow())
    )


_NEW_EVENTS = (
    sa.select(_events.c.id, _events.c.type, _events.c.key, _events.c.channels)
    .where(_events.c.id > sa.bindparam("after"))
    .order_by(_events.c.id)
    .limit(sa.bindparam("lim", type_=sa.Integer))
)


def new_events(conn: Connection, after: int, *, limit: int) -> list[EventHead]:
    """The next outbox events after `after`, without their payloads (fan-out needs only the heads)."""
    return [
        EventHead(id=r.id, type=r.type, key=r.key, channels=tuple(c for c in r.channels.split(",") if c))
        for r in conn.execute(_NEW_EVENTS, {"after": after, "lim": limit})
    ]


# -- creating deliveries -----------------------------------------------------


def insert(conn: Connection, rows: Sequence[NewDelivery], *, now: dt.datetime | None = None) -> int:
    """Create pending deliveries, due now, and supersede older state they replace."""
    if not rows:
        return 0
    now = now or utcnow()
    groups = Counter((r.endpoint_id, r.key, r.event_type) for r in rows if r.event_type in COMPACTABLE_TYPES)
    # Compaction only where an older state of the same key waits: in this batch, or already pending.
    to_compact = {g for g, n in groups.items() if n > 1} | _pending_groups(conn, list(groups))
    if conn.dialect.name == "postgresql":
        # One statement over arrays: psycopg would otherwise parse a multi-row VALUES of 10 params a row.
        conn.execute(
            _PG_INSERT,
            {
                "eps": [r.endpoint_id for r in rows],
                "ids": [r.event_id for r in rows],
                "types": [r.event_type for r in rows],
                "keys": [r.key for r in rows],
                "now": now,
            },
        )
    else:
        conn.execute(
            _d.insert(),
            [
                {
                    "endpoint_id": r.endpoint_id,
                    "event_id": r.event_id,
                    "event_type": r.event_type,
                    "key": r.key,
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "forced": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for r in rows
            ],
        )
    compact(conn, to_compact, now=now)
    notify(conn)
    return len(rows)


_PG_INSERT = sa.text(
    "INSERT INTO deliveries (endpoint_id, event_id, event_type, key, status, attempts, next_attempt_at, forced,"
    " created_at, updated_at)"
    " SELECT e, i, t, k, 'pending', 0, :now, false, :now, :now"
    " FROM unnest(CAST(:eps AS text[]), CAST(:ids AS bigint[]), CAST(:types AS text[]), CAST(:keys AS text[]))"
    " AS u(e, i, t, k)"
).bindparams(sa.bindparam("now", type_=schema.Stamp))

_PG_PENDING_GROUPS = sa.text(
    "SELECT DISTINCT d.endpoint_id, d.key, d.event_type FROM deliveries d"
    " JOIN unnest(CAST(:eps AS text[]), CAST(:keys AS text[])) AS u(e, k) ON d.endpoint_id = u.e AND d.key = u.k"
    " WHERE d.status = 'pending'"
)

_PENDING_GROUPS = (
    sa.select(_d.c.endpoint_id, _d.c.key, _d.c.event_type)
    .where(sa.tuple_(_d.c.endpoint_id, _d.c.key).in_(sa.bindparam("pairs", expanding=True)), _is_pending(_d.c))
    .distinct()
)


def _pending_groups(conn: Connection, groups: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Which (endpoint, key, type) groups already have a pending delivery."""
    if not groups:
        return set()
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_PG_PENDING_GROUPS, {"eps": [g[0] for g in groups], "keys": [g[1] for g in groups]})
        return {(r.endpoint_id, r.key, r.event_type) for r in rows} & set(groups)
    found: set[tuple[str, str, str]] = set()
    for start in range(0, len(groups), 500):
        chunk = groups[start : start + 500]
        rows = conn.execute(_PENDING_GROUPS, {"pairs": [(e, k) for e, k, _ in chunk]})
        found |= {(r.endpoint_id, r.key, r.event_type) for r in rows}
    return found & set(groups)


def notify(conn: Connection) -> None:
    """On PostgreSQL, wake every process's dispatcher when this transaction commits."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})


@functools.cache
def _compact_statement() -> Any:
    newer = _d.alias("newer")
    return (
        _d.update()
        .where(
            _d.c.endpoint_id == sa.bindparam("e"),
            _d.c.key == sa.bindparam("k"),
            _d.c.event_type == sa.bindparam("t"),
            _is_pending(_d.c),
            _unclaimed(_d, sa.bindparam("now", type_=schema.Stamp)),
            sa.exists().where(
                newer.c.endpoint_id == _d.c.endpoint_id,
                newer.c.key == _d.c.key,
                newer.c.event_type == _d.c.event_type,
                _is_pending(newer.c),
                newer.c.id > _d.c.id,
            ),
        )
        .values(status=DeliveryStatus.SUPERSEDED.value, updated_at=sa.bindparam("now"), forced=False)
    )


def compact(conn: Connection, groups: Iterable[tuple[str, str, str]], *, now: dt.datetime) -> int:
    """Among pending, unclaimed deliveries of one (endpoint, key, state type), keep only the newest."""
    params = [{"e": e, "k": k, "t": t, "now": now} for e, k, t in sorted(groups) if t in COMPACTABLE_TYPES]
    if not params:
        return 0
    result = conn.execute(_compact_statement(), params)
    return max(0, result.rowcount or 0)


# -- claiming ----------------------------------------------------------------


@functools.cache
def _claim_statement(per_key: bool, ignore_schedule: bool, forced_only: bool, postgres: bool) -> Any:
    # Built once per shape: composing SQLAlchemy Core per call costs more than running it.
    c = _d.alias("c")
    now = sa.bindparam("now", type_=schema.Stamp)
    conds = [c.c.endpoint_id == sa.bindparam("b_endpoint"), _is_pending(c.c), _unclaimed(c, now)]
    if not ignore_schedule:
        conds.append(c.c.next_attempt_at <= now)
    if forced_only:
        conds.append(c.c.forced.is_(True))
    if per_key:
        p = _d.alias("p")
        conds.append(
            ~sa.exists().where(
                p.c.endpoint_id == c.c.endpoint_id, p.c.key == c.c.key, _is_pending(p.c), p.c.id < c.c.id
            )
        )
    candidates = (
        sa.select(c.c.id)
        .where(*conds)
        .order_by(c.c.next_attempt_at, c.c.id)
        .limit(sa.bindparam("lim", type_=sa.Integer))
    )
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True, of=c)
    return (
        _d.update()
        .where(_d.c.id.in_(candidates))
        .values(claimed_until=sa.bindparam("b_lease", type_=schema.Stamp), claimed_by=sa.bindparam("b_worker"))
        .returning(_d.c.id)
    )


_CLAIMED = (
    sa.select(
        _d.c.id,
        _d.c.endpoint_id,
        _d.c.event_id,
        _d.c.event_type,
        _d.c.key,
        _d.c.attempts,
        _events.c.data,
        _events.c.created_at,
    )
    .join(_events, _events.c.id == _d.c.event_id)
    .where(_d.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(_d.c.id)
)


def claim(
    conn: Connection,
    endpoint_id: str,
    limit: int,
    *,
    worker: str,
    now: dt.datetime,
    lease_until: dt.datetime,
    per_key: bool = True,
    ignore_schedule: bool = False,
    forced_only: bool = False,
) -> list[ClaimedDelivery]:
    """Lease up to `limit` due deliveries of one endpoint, oldest first.

    With `per_key`, a delivery is taken only when no older one for the same key
    is still pending. `ignore_schedule` takes the next one even if it is not yet
    due (a breaker's probe); `forced_only` takes only deliveries an operator
    asked to retry.
    """
    if limit <= 0:
        return []
    stmt = _claim_statement(per_key, ignore_schedule, forced_only, conn.dialect.name == "postgresql")
    params = {"b_endpoint": endpoint_id, "now": now, "lim": limit, "b_lease": lease_until, "b_worker": worker}
    ids = list(conn.execute(stmt, params).scalars())
    if not ids:
        return []
    rows = conn.execute(_CLAIMED, {"ids": ids})
    return [
        ClaimedDelivery(
            id=r.id,
            endpoint_id=r.endpoint_id,
            event_id=r.event_id,
            event_type=r.event_type,
            key=r.key,
            attempts=r.attempts,
            data=r.data,
            timestamp=_iso(r.created_at) or "",
        )
        for r in rows
    ]


def extend_leases(conn: Connection, ids: Sequence[int], *, until: dt.datetime) -> None:
    """Keep deliveries still in flight from being taken by another worker."""
    if ids:
        conn.execute(_d.update().where(_d.c.id.in_(list(ids)), _is_pending(_d.c)).values(claimed_until=until))


def release(conn: Connection, ids: Sequence[int]) -> None:
    """Give up leases without an attempt (a worker shutting down), so others may take them at once."""
    if ids:
        conn.execute(
            _d.update().where(_d.c.id.in_(list(ids)), _is_pending(_d.c)).values(claimed_until=None, claimed_by=None)
        )


_NEXT_DUE = sa.select(sa.func.min(_d.c.next_attempt_at)).where(
    _d.c.endpoint_id == sa.bindparam("e"),
    _is_pending(_d.c),
    _unclaimed(_d, sa.bindparam("now", type_=schema.Stamp)),
)


def next_due(conn: Connection, endpoint_ids: Sequence[str], *, now: dt.datetime) -> dt.datetime | None:
    """The earliest retry time among the given endpoints' unclaimed pending deliveries."""
    soonest: dt.datetime | None = None
    for endpoint_id in endpoint_ids:
        value = conn.execute(_NEXT_DUE, {"e": endpoint_id, "now": now}).scalar()
        if value is not None and (soonest is None or as_utc(value) < soonest):
            soonest = as_utc(value)
    return soonest


def release_backlog(conn: Connection, endpoint_id: str, *, now: dt.datetime) -> int:
    """Make every waiting delivery of an endpoint due now (its breaker just closed)."""
    result = conn.execute(
        _d.update()
        .where(
            _d.c.endpoint_id == endpoint_id,
            _is_pending(_d.c),
            _d.c.next_attempt_at > now,
            _unclaimed(_d, now),
        )
        .values(next_attempt_at=now)
    )
    return max(0, result.rowcount or 0)


# -- recording outcomes ------------------------------------------------------


_ALIVE = sa.select(_d.c.id).where(_d.c.id.in_(sa.bindparam("ids", expanding=True)))
_FINISH = (
    _d.update()
    .where(_d.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        attempts=_d.c.attempts + 1,
        next_attempt_at=sa.func.coalesce(sa.bindparam("b_next", type_=schema.Stamp), _d.c.next_attempt_at),
        claimed_until=None,
        claimed_by=None,
        forced=False,
        updated_at=sa.bindparam("b_now", type_=schema.Stamp),
    )
)
_ADD_ATTEMPTS = _attempts.insert()


def record(conn: Connection, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None) -> None:
    """Store finished attempts and each delivery's new state, in one go."""
    if not outcomes:
        return
    now = now or utcnow()
    if conn.dialect.name == "postgresql":
        _record_set_based(conn, outcomes, now)
    else:
        _record_rows(conn, outcomes, now)
    compact(
        conn,
        {(o.endpoint_id, o.key, o.event_type) for o in outcomes if o.status is DeliveryStatus.PENDING},
        now=now,
    )


_PG_FINISH = sa.text(
    "UPDATE deliveries AS d SET status = u.s, attempts = d.attempts + 1,"
    " next_attempt_at = COALESCE(u.n, d.next_attempt_at), claimed_until = NULL, claimed_by = NULL,"
    " forced = false, updated_at = :now"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:sts AS text[]), CAST(:nexts AS timestamptz[])) AS u(i, s, n)"
    " WHERE d.id = u.i RETURNING d.id"
).bindparams(sa.bindparam("now", type_=schema.Stamp))
_PG_ADD_ATTEMPTS = sa.text(
    "INSERT INTO delivery_attempts (delivery_id, at, status_code, latency_ms, error, response)"
    " SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:ats AS timestamptz[]), CAST(:codes AS integer[]),"
    " CAST(:lat AS integer[]), CAST(:errs AS text[]), CAST(:resps AS text[]))"
)


def _record_set_based(conn: Connection, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
    # Two statements over arrays instead of two per delivery: PostgreSQL round trips dominate otherwise.
    alive = set(
        conn.execute(
            _PG_FINISH,
            {
                "ids": [o.delivery_id for o in outcomes],
                "sts": [o.status.value for o in outcomes],
                "nexts": [o.next_attempt_at for o in outcomes],
                "now": now,
            },
        ).scalars()
    )
    kept = [o for o in outcomes if o.delivery_id in alive]
    if kept:
        conn.execute(
            _PG_ADD_ATTEMPTS,
            {
                "ids": [o.delivery_id for o in kept],
                "ats": [o.result.at for o in kept],
                "codes": [o.result.status_code for o in kept],
                "lat": [o.result.latency_ms for o in kept],
                "errs": [o.result.error for o in kept],
                "resps": [o.result.response for o in kept],
            },
        )


def _record_rows(conn: Connection, outcomes: Sequence[Outcome], now: dt.datetime) -> None:
    # An endpoint deleted while its deliveries were in flight took them along.
    alive = set(conn.execute(_ALIVE, {"ids": [o.delivery_id for o in outcomes]}).scalars())
    outcomes = [o for o in outcomes if o.delivery_id in alive]
    if not outcomes:
        return
    conn.execute(
        _ADD_ATTEMPTS,
        [
            {
                "delivery_id": o.delivery_id,
                "at": o.result.at,
                "status_code": o.result.status_code,
                "latency_ms": o.result.latency_ms,
                "error": o.result.error,
                "response": o.result.response,
            }
            for o in outcomes
        ],
    )
    conn.execute(
        _FINISH,
        [
            {"b_id": o.delivery_id, "b_status": o.status.value, "b_next": o.next_attempt_at, "b_now": now}
            for o in outcomes
        ],
    )


# -- operations --------------------------------------------------------------


def retry_now(conn: Connection, delivery_id: int, *, now: dt.datetime | None = None) -> str | None:
    """Make one delivery pending and due now, past any breaker; its endpoint id, or None if unknown."""
    now = now or utcnow()
    endpoint_id = conn.execute(sa.select(_d.c.endpoint_id).where(_d.c.id == delivery_id)).scalar()
    if endpoint_id is None:
        return None
    conn.execute(
        _d.update()
        .where(_d.c.id == delivery_id)
        .values(
            status=PENDING,
            next_attempt_at=now,
            forced=True,
            claimed_until=None,
            claimed_by=None,
            updated_at=now,
        )
    )
    notify(conn)
    return str(endpoint_id)


def retry_failed(conn: Connection, endpoint_id: str, *, since: dt.datetime, now: dt.datetime | None = None) -> int:
    """Send an endpoint's failed deliveries created since `since` again; how many."""
    now = now or utcnow()
    result = conn.execute(
        _d.update()
        .where(
            _d.c.endpoint_id == endpoint_id,
            _d.c.status == DeliveryStatus.FAILED.value,
            _d.c.created_at >= since,
        )
        .values(status=PENDING, next_attempt_at=now, attempts=0, updated_at=now)
    )
    notify(conn)
    return max(0, result.rowcount or 0)


def event_range_since(conn: Connection, since: dt.datetime) -> tuple[int, int]:
    """(after, upto): the outbox ids of events created at or after `since`, as a half-open range."""
    first = conn.execute(sa.select(sa.func.min(_events.c.id)).where(_events.c.created_at >= since)).scalar()
    last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_events.c.id), 0))).scalar_one()
    if first is None:
        return int(last), int(last)
    return int(first) - 1, int(last)


def backlog(conn: Connection) -> dict[str, int]:
    """Pending deliveries per endpoint."""
    rows = conn.execute(
        sa.select(_d.c.endpoint_id, sa.func.count()).where(_is_pending(_d.c)).group_by(_d.c.endpoint_id)
    )
    return {r[0]: int(r[1]) for r in rows}


def counts(conn: Connection, endpoint_id: str) -> dict[str, int]:
    """Deliveries of one endpoint by status."""
    rows = conn.execute(
        sa.select(_d.c.status, sa.func.count()).where(_d.c.endpoint_id == endpoint_id).group_by(_d.c.status)
    )
    return {r[0]: int(r[1]) for r in rows}


def history(
    conn: Connection,
    endpoint_id: str,
    *,
    status: DeliveryStatus | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """An endpoint's deliveries, newest first, each with all its attempts."""
    stmt = sa.select(_d).where(_d.c.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(_d.c.status == status.value)
    if before is not None:
        stmt = stmt.where(_d.c.id < before)
    rows = list(conn.execute(stmt.order_by(_d.c.id.desc()).limit(limit)))
    attempts: dict[int, list[AttemptView]] = {r.id: [] for r in rows}
    if rows:
        for a in conn.execute(
            sa.select(_attempts).where(_attempts.c.delivery_id.in_(list(attempts))).order_by(_attempts.c.id)
        ):
            attempts[a.delivery_id].append(
                AttemptView(
                    at=_iso(a.at) or "",
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    error=a.error,
                    response=a.response,
                )
            )
    return [
        DeliveryView(
            id=r.id,
            event_id=f"evt_{r.event_id}",
            event_type=r.event_type,
            status=DeliveryStatus(r.status),
            created_at=_iso(r.created_at) or "",
            next_attempt_at=_iso(r.next_attempt_at) if r.status == PENDING else None,
            attempts=attempts[r.id],
        )
        for r in rows
    ]


def get(conn: Connection, delivery_id: int) -> DeliveryView | None:
    endpoint_id = conn.execute(sa.select(_d.c.endpoint_id).where(_d.c.id == delivery_id)).scalar()
    if endpoint_id is None:
        return None
    found = history(conn, endpoint_id, before=delivery_id + 1, limit=1)
    return found[0] if found else None


def delivered_event_ids(conn: Connection, endpoint_id: str) -> list[int]:
    """Event ids of an endpoint's delivered deliveries, in delivery id order (for checks and tools)."""
    return list(
        conn.execute(
            sa.select(_d.c.event_id)
            .where(_d.c.endpoint_id == endpoint_id, _d.c.status == DeliveryStatus.DELIVERED.value)
            .order_by(_d.c.id)
        ).scalars()
    )
