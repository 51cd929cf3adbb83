"""Shopify webhooks: `orders/create`, `orders/cancelled`, `inventory_levels/update`.

Signature: `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256 of the raw body with
the app's client secret (the channel secret). Idempotency: `X-Shopify-Event-Id`,
else `X-Shopify-Webhook-Id` (both stay the same on Shopify's retries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stockwire.connectors.base import (
    DriftReport,
    Ignored,
    NativeEvents,
    Translation,
    body_signature_error,
    counts_authoritative,
    invalid,
    mapped_location,
    mapped_sku,
    native,
    sha256_hex,
    whole_number,
)
from stockwire.storage.catalog import ChannelRecord

SIGNATURE = "x-shopify-hmac-sha256"
TOPIC = "x-shopify-topic"
EVENT_ID = "x-shopify-event-id"
WEBHOOK_ID = "x-shopify-webhook-id"


class ShopifyAdapter:
    format = "shopify"

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False

    def verify(self, record: ChannelRecord, headers: Mapping[str, str], body: bytes) -> str | None:
        return body_signature_error(record, headers, body, SIGNATURE)

    def translate(self, record: ChannelRecord, headers: Mapping[str, str], payload: Any,
                  body: bytes) -> Translation:
        topic = headers.get(TOPIC, "")
        event_id = headers.get(EVENT_ID) or headers.get(WEBHOOK_ID)
        if not event_id:
            raise invalid("", f"{EVENT_ID} or {WEBHOOK_ID} is required")
        if not isinstance(payload, dict):
            raise invalid("", "the body must be a JSON object")
        fingerprint = sha256_hex(body)
        if topic == "orders/create":
            data = order_placed(record, payload)
            if not data["lines"]:
                return Ignored(reason="the order has no line that holds stock")
            return NativeEvents(events=(native(event_id, "order.placed", data, fingerprint=fingerprint),))
        if topic == "orders/cancelled":
            data = {"order_id": str(payload.get("id", "")), "reason": payload.get("cancel_reason")}
            return NativeEvents(events=(native(event_id, "order.cancelled", data, fingerprint=fingerprint),))
        if topic == "inventory_levels/update":
            return inventory_level(record, payload, event_id, fingerprint)
        return Ignored(reason=f"topic {topic or '(none)'} is not one stockwire acts on")


def order_placed(record: ChannelRecord, order: dict[str, Any]) -> dict[str, Any]:
    """An order's stock-holding lines by sku; custom lines (no variant, no sku) hold no stock."""
    lines: dict[str, int] = {}
    for i, item in enumerate(order.get("line_items") or []):
        sku = item.get("sku") or mapped_sku(record, item.get("variant_id"))
        if not sku:
            if item.get("variant_id") is None:
                continue
            raise invalid(f"/line_items/{i}/sku",
                          f"variant {item.get('variant_id')} has no sku; add it to the channel's sku_map")
        lines[sku] = lines.get(sku, 0) + whole_number(item.get("quantity"), f"/line_items/{i}/quantity")
    data: dict[str, Any] = {
        "order_id": str(order.get("id", "")),
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()],
    }
    if isinstance(order.get("shipping_address"), dict):
        data["ship_to"] = order["shipping_address"]
    if isinstance(order.get("customer"), dict):
        customer = order["customer"]
        data["customer"] = {"id": customer.get("id"), "email": customer.get("email") or order.get("email")}
    return data


def inventory_level(record: ChannelRecord, level: dict[str, Any], event_id: str,
                    fingerprint: str) -> Translation:
    """Shopify's `available` at one location: a count where Shopify is authoritative, else a drift report."""
    location = mapped_location(record, level.get("location_id"))
    if location is None:
        return Ignored(reason=f"location {level.get('location_id')} is not in the channel's location_map")
    sku = mapped_sku(record, level.get("inventory_item_id"))
    if sku is None:
        return Ignored(reason=f"inventory item {level.get('inventory_item_id')} is not in the sku_map")
    if level.get("available") is None:
        return Ignored(reason="the item is not tracked by Shopify")
    available = max(0, whole_number(level["available"], "/available"))
    if counts_authoritative(record):
        data = {"location": location, "counts": [{"sku": sku, "on_hand": available}]}
        return NativeEvents(events=(native(event_id, "count", data, fingerprint=fingerprint),))
    return DriftReport(event_id=event_id, fingerprint=fingerprint, available=((sku, available),))


ADAPTER = ShopifyAdapter()
