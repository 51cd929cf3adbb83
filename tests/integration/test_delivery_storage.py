"""The delivery tables on SQLite and PostgreSQL: fan-out, claims, leases, per-key order, compaction."""

from __future__ import annotations

import datetime as dt
import threading

from stockwire.delivery.fanout import fan_out
from stockwire.delivery.models import (
    AttemptKind,
    AttemptResult,
    ClaimedDelivery,
    DeliveryStatus,
    Endpoint,
    Ordering,
    Outcome,
)
from stockwire.domain.models import OutboundEvent
from stockwire.storage import deliveries, outbox
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import Database, utcnow

SECRET = "whsec_" + "A" * 40


def add_endpoint(db: Database, id_: str, **fields: object) -> Endpoint:
    with db.write() as conn:
        return endpoint_store.insert(conn, Endpoint(id=id_, url="http://127.0.0.1:9/x", secret=SECRET, **fields))  # type: ignore[arg-type]


def add_events(db: Database, *events: tuple[str, str, tuple[str, ...]]) -> None:
    with db.write() as conn:
        outbox.append(
            conn,
            [OutboundEvent(type=t, key=k, channels=c, data={"version": i}) for i, (t, k, c) in enumerate(events, 1)],
        )


def fan(db: Database) -> int:
    with db.write() as conn:
        return fan_out(conn).created


def claim(
    db: Database,
    endpoint_id: str,
    limit: int = 10,
    *,
    worker: str = "w1",
    lease: float = 30,
    per_key: bool = True,
    now: dt.datetime | None = None,
) -> list[ClaimedDelivery]:
    now = now or utcnow()
    with db.write() as conn:
        return deliveries.claim(
            conn,
            endpoint_id,
            limit,
            worker=worker,
            now=now,
            lease_until=now + dt.timedelta(seconds=lease),
            per_key=per_key,
        )


def finish(
    db: Database,
    claimed: list[ClaimedDelivery],
    status: DeliveryStatus = DeliveryStatus.DELIVERED,
    next_at: dt.datetime | None = None,
) -> None:
    result = AttemptResult(kind=AttemptKind.SUCCESS, at=utcnow(), latency_ms=1, status_code=200)
    with db.write() as conn:
        deliveries.record(
            conn,
            [
                Outcome(
                    delivery_id=c.id,
                    endpoint_id=c.endpoint_id,
                    key=c.key,
                    event_type=c.event_type,
                    result=result,
                    status=status,
                    next_attempt_at=next_at,
                )
                for c in claimed
            ],
        )


def statuses(db: Database, endpoint_id: str) -> dict[int, str]:
    with db.read() as conn:
        return {v.id: v.status.value for v in deliveries.history(conn, endpoint_id, limit=1000)}


def test_fan_out_matches_types_channels_and_start_and_moves_the_cursor(db: Database) -> None:
    """Each event becomes one delivery per enabled endpoint that wants it; a second pass adds nothing."""
    add_events(db, ("inventory.updated", "inventory:A:s1", ("pos-1",)))  # before any endpoint
    add_endpoint(db, "all")
    add_endpoint(db, "orders", event_types=("order.*",))
    add_endpoint(db, "web", channel="web-1")
    add_endpoint(db, "off", enabled=False)
    add_events(
        db,
        ("inventory.updated", "inventory:A:s1", ("pos-1", "web-1")),
        ("order.reserved", "order:pos-1:o1", ("pos-1",)),
        ("availability.changed", "availability:A:pos-1", ("pos-1",)),
    )
    assert fan(db) == 3 + 1 + 1
    assert fan(db) == 0
    with db.read() as conn:
        counts = {e: sum(deliveries.counts(conn, e).values()) for e in ("all", "orders", "web", "off")}
    assert counts == {"all": 3, "orders": 1, "web": 1, "off": 0}


def test_a_key_is_claimed_only_after_its_predecessor_is_done(db: Database) -> None:
    """Per-key order: the second delivery of a key waits; another key does not."""
    add_endpoint(db, "ep")
    add_events(
        db, ("order.reserved", "order:o1", ()), ("order.shipped", "order:o1", ()), ("order.reserved", "order:o2", ())
    )
    fan(db)
    first = claim(db, "ep")
    assert [(c.key, c.event_type) for c in first] == [("order:o1", "order.reserved"), ("order:o2", "order.reserved")]
    assert claim(db, "ep") == []
    finish(db, first[:1])
    second = claim(db, "ep")
    assert [(c.key, c.event_type) for c in second] == [("order:o1", "order.shipped")]


def test_ordering_none_claims_every_key_at_once(db: Database) -> None:
    """Without per-key order every due delivery can be claimed."""
    add_endpoint(db, "ep", ordering=Ordering.NONE)
    add_events(db, ("order.reserved", "order:o1", ()), ("order.shipped", "order:o1", ()))
    fan(db)
    assert len(claim(db, "ep", per_key=False)) == 2


def test_compaction_keeps_only_the_newest_waiting_state(db: Database) -> None:
    """Pending availability states of one key collapse to the newest; one in flight is left alone."""
    add_endpoint(db, "ep")
    add_events(db, ("availability.changed", "availability:A:pos", ("pos",)))
    fan(db)
    in_flight = claim(db, "ep")
    add_events(
        db,
        *[("availability.changed", "availability:A:pos", ("pos",))] * 3,
        ("stock.low", "availability:A:pos", ("pos",)),
    )
    fan(db)
    assert list(statuses(db, "ep").values()) == ["pending", "pending", "superseded", "superseded", "pending"]
    # the one in flight fails: it is superseded too rather than retried
    finish(db, in_flight, DeliveryStatus.PENDING, next_at=utcnow())
    assert statuses(db, "ep")[in_flight[0].id] == "superseded"


def test_an_expired_lease_can_be_claimed_again(db: Database) -> None:
    """A claim whose lease ran out (its worker died) goes to the next worker."""
    add_endpoint(db, "ep")
    add_events(db, ("order.reserved", "order:o1", ()))
    fan(db)
    taken = claim(db, "ep", worker="dead", lease=5)
    assert claim(db, "ep", worker="w2") == []
    later = utcnow() + dt.timedelta(seconds=6)
    assert [c.id for c in claim(db, "ep", worker="w2", now=later)] == [taken[0].id]


def test_concurrent_claimers_never_share_a_delivery(db: Database) -> None:
    """Four threads claiming at once get disjoint deliveries and together all of them."""
    add_endpoint(db, "ep")
    add_events(db, *[("order.reserved", f"order:o{i}", ()) for i in range(200)])
    fan(db)
    got: list[list[int]] = [[] for _ in range(4)]

    def work(i: int) -> None:
        while True:
            batch = claim(db, "ep", 7, worker=f"w{i}")
            if not batch:
                return
            got[i].extend(c.id for c in batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [x for g in got for x in g]
    assert len(everything) == len(set(everything)) == 200


def test_results_for_a_deleted_endpoint_are_dropped(db: Database) -> None:
    """Recording attempts of deliveries whose endpoint was deleted meanwhile does not fail."""
    add_endpoint(db, "ep")
    add_events(db, ("order.reserved", "order:o1", ()))
    fan(db)
    taken = claim(db, "ep")
    with db.write() as conn:
        assert endpoint_store.delete(conn, "ep")
    finish(db, taken)


def test_health_and_long_failure_disable(db: Database) -> None:
    """An endpoint failing since before the cut-off is disabled; a success clears the record."""
    add_endpoint(db, "a")
    add_endpoint(db, "b")
    long_ago = utcnow() - dt.timedelta(days=6)
    with db.write() as conn:
        endpoint_store.record_health(conn, succeeded=set(), failed={"a": long_ago, "b": long_ago})
        endpoint_store.record_health(conn, succeeded={"b"}, failed={})
        assert endpoint_store.disable_failing_since(conn, utcnow() - dt.timedelta(days=5)) == ["a"]
        a, b = endpoint_store.get(conn, "a"), endpoint_store.get(conn, "b")
    assert a is not None and not a.enabled and a.disabled_reason == "failing for too long"
    assert b is not None and b.enabled and b.failing_since is None
