"""Square webhooks: `inventory.count.updated` and `order.created`.

Signature: `x-square-hmacsha256-signature` = base64 HMAC-SHA256, keyed with the
subscription's signature key (the channel secret), of the notification URL
exactly as entered in Square (`notification_url` on the channel) followed by the
raw body. Idempotency: the body's `event_id`, the same on Square's retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stockwire.connectors.base import (
    DriftReport,
    Ignored,
    NativeEvent,
    NativeEvents,
    Translation,
    counts_authoritative,
    hmac_sha256_base64,
    invalid,
    mapped_location,
    mapped_sku,
    member,
    native,
    sha256_hex,
    signature_matches,
    whole_number,
)
from stockwire.storage.catalog import ChannelRecord

SIGNATURE = "x-square-hmacsha256-signature"


def square_signature(signature_key: str, notification_url: str, body: bytes) -> str:
    """What Square puts in `x-square-hmacsha256-signature`."""
    return hmac_sha256_base64(signature_key.encode(), notification_url.encode() + body)


class SquareAdapter:
    format = "square"

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    def verify(self, record: ChannelRecord, headers: Mapping[str, str], body: bytes) -> str | None:
        url = record.settings.get("notification_url")
        if not url:
            return "the channel has no notification_url; set it to the URL entered in Square"
        if signature_matches(square_signature(record.secret, str(url), body), headers.get(SIGNATURE)):
            return None
        return f"{SIGNATURE} is missing or does not match the notification URL and body"

    def translate(self, record: ChannelRecord, headers: Mapping[str, str], payload: Any,
                  body: bytes) -> Translation:
        if not isinstance(payload, dict):
            raise invalid("", "the body must be a JSON object")
        event_id = payload.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise invalid("/event_id", "Square's event_id is required")
        kind = payload.get("type")
        obj = member(member(payload, "data"), "object")
        fingerprint = sha256_hex(body)
        if kind == "inventory.count.updated":
            return inventory_counts(record, obj.get("inventory_counts") or [], event_id, fingerprint)
        if kind == "order.created":
            return order_created(record, obj, event_id, fingerprint)
        return Ignored(reason=f"event type {kind or '(none)'} is not one stockwire acts on")


def inventory_counts(record: ChannelRecord, counts: list[Any], event_id: str,
                     fingerprint: str) -> Translation:
    """IN_STOCK counts at mapped locations: counts where Square is authoritative, else a drift report.

    One Square event may count several locations; each becomes its own native
    `count` under `{event_id}:{location}` so a retry re-applies only what is missing.
    """
    per_location: dict[str, dict[str, int]] = {}
    for i, entry in enumerate(counts):
        if not isinstance(entry, dict) or entry.get("state") != "IN_STOCK":
            continue
        location = mapped_location(record, entry.get("location_id"))
        sku = mapped_sku(record, entry.get("catalog_object_id"))
        if location is None or sku is None:
            continue
        quantity = max(0, whole_number(entry.get("quantity"), f"/data/object/inventory_counts/{i}/quantity"))
        per_location.setdefault(location, {})[sku] = quantity
    if not per_location:
        return Ignored(reason="no IN_STOCK count for a location and catalog object the channel maps")
    if not counts_authoritative(record):
        totals: dict[str, int] = {}
        for skus in per_location.values():
            for sku, quantity in skus.items():
                totals[sku] = totals.get(sku, 0) + quantity
        return DriftReport(event_id=event_id, fingerprint=fingerprint,
                           available=tuple(sorted(totals.items())))
    events: list[NativeEvent] = []
    for location, skus in sorted(per_location.items()):
        part_id = event_id if len(per_location) == 1 else f"{event_id}:{location}"
        counted = [{"sku": sku, "on_hand": qty} for sku, qty in sorted(skus.items())]
        events.append(native(part_id, "count", {"location": location, "counts": counted},
                             fingerprint=fingerprint))
    return NativeEvents(events=tuple(events))


def order_created(record: ChannelRecord, obj: dict[str, Any], event_id: str, fingerprint: str) -> Translation:
    """Square's `order.created` names the order but carries no line items.

    Lines are taken when present (an `order` object relayed with its
    `line_items`); otherwise the event is ignored: a Square sale reaches the hub
    through the `inventory.count.updated` that follows it.
    """
    summary = member(obj, "order_created")
    order = member(obj, "order") or summary
    items = order.get("line_items") or []
    if not items:
        return Ignored(reason="Square's order.created carries no line items; stock follows from "
                              "inventory.count.updated")
    lines: dict[str, int] = {}
    for i, item in enumerate(items):
        sku = mapped_sku(record, item.get("catalog_object_id"))
        if sku is None:
            raise invalid(f"/data/object/order/line_items/{i}/catalog_object_id",
                          f"catalog object {item.get('catalog_object_id')} is not in the channel's sku_map")
        lines[sku] = lines.get(sku, 0) + whole_number(item.get("quantity"),
                                                      f"/data/object/order/line_items/{i}/quantity")
    order_id = order.get("id") or order.get("order_id") or summary.get("order_id")
    data = {"order_id": str(order_id or ""), "lines": [{"sku": s, "quantity": q} for s, q in lines.items()]}
    return NativeEvents(events=(native(event_id, "order.placed", data, fingerprint=fingerprint),))


ADAPTER = SquareAdapter()
