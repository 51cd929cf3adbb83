"""Reconcile a channel's view with the hub inside the caller's transaction.

Used by `POST /v1/channels/{id}/reconcile`, `stockwire reconcile`, and a
platform's inventory update when the platform is not authoritative (a drift
report). The caller appends the correcting events to the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from stockwire.domain.reconcile import Reconciliation, reconcile
from stockwire.inbound.service import Outcome
from stockwire.storage import catalog as catalog_store
from stockwire.storage import inbound as receipts
from stockwire.storage import stock


def reconcile_channel(conn: Connection, channel: str, view: Sequence[tuple[str, int]]) -> Reconciliation:
    """Compare `view` (sku, available) with the hub's numbers for `channel`."""
    known = sorted(catalog_store.get_products(conn, [sku for sku, _ in view]))
    # Hold the skus' locks so the corrections carry the newest version: a
    # concurrent change commits its own (higher) version before or after ours.
    catalog_store.lock_products(conn, known)
    numbers = {a.sku: a for a in stock.load_availability(conn, known) if a.channel == channel}
    return reconcile(channel, view, numbers)


def apply_drift_report(conn: Connection, *, channel: str, event_id: str, fingerprint: str,
                       view: Sequence[tuple[str, int]]) -> Outcome:
    """A platform's stock report, once per (channel, event id): drift answered with corrections."""
    if not receipts.claim(conn, channel=channel, event_id=event_id, body_sha256=fingerprint, type_="drift"):
        first = receipts.find(conn, channel, event_id)
        assert first is not None
        if first.body_sha256 != fingerprint:
            return Outcome(status=409, body={
                "type": "about:blank", "title": "event id reused", "status": 409,
                "detail": f"event {event_id} was already received with a different body"})
        return Outcome(status=200, body={"status": "duplicate", "event_id": event_id, "result": first.result})
    outcome = reconcile_channel(conn, channel, view)
    result = outcome.as_result()
    receipts.set_result(conn, channel=channel, event_id=event_id, result=result)
    return Outcome(status=200, body={"status": "applied", "event_id": event_id, "result": result},
                   events=outcome.corrections)
