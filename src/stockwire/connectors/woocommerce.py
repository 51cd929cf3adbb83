"""WooCommerce webhooks: `order.created`, `order.updated` (to cancelled), `product.updated` (stock).

Signature: `X-WC-Webhook-Signature` = base64 HMAC-SHA256 of the raw body with
the webhook's secret (the channel secret). The body is the resource as the REST
API returns it.

Idempotency: WooCommerce's `X-WC-Webhook-Delivery-ID` is
`wp_hash(webhook id . unix second)`, so two deliveries of one webhook in the
same second share it; it cannot key an event. The key is derived from what
happened instead: `order:{id}:placed`, `order:{id}:cancelled`,
`product:{id}:{date_modified_gmt}:{stock_quantity}`, and a repeat is compared on
the mapped event (WooCommerce re-sends an order with a new `date_modified`).
"""

from __future__ import annotations

import re
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
    mapped_sku,
    member,
    native,
    whole_number,
)
from stockwire.storage.catalog import ChannelRecord

SIGNATURE = "x-wc-webhook-signature"
TOPIC = "x-wc-webhook-topic"
PING = re.compile(rb"\s*webhook_id=\d+\s*")

# Orders in these states hold no stock in WooCommerce either.
NOT_HOLDING = frozenset({"cancelled", "failed", "refunded", "trash", "checkout-draft"})


class WooCommerceAdapter:
    format = "woocommerce"

    def is_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        # Sent unsigned once, when the webhook is saved; a non-2xx answer stops
        # WooCommerce from activating the webhook.
        return PING.fullmatch(body) is not None

    def verify(self, record: ChannelRecord, headers: Mapping[str, str], body: bytes) -> str | None:
        return body_signature_error(record, headers, body, SIGNATURE)

    def translate(self, record: ChannelRecord, headers: Mapping[str, str], payload: Any,
                  body: bytes) -> Translation:
        topic = headers.get(TOPIC, "")
        if not isinstance(payload, dict):
            raise invalid("", "the body must be a JSON object")
        resource_id = payload.get("id")
        if topic == "order.created":
            status = str(payload.get("status", ""))
            if status in NOT_HOLDING:
                return Ignored(reason=f"order {resource_id} was created {status}")
            data = order_placed(record, payload)
            if not data["lines"]:
                return Ignored(reason="the order has no line that holds stock")
            return NativeEvents(events=(native(f"order:{resource_id}:placed", "order.placed", data),))
        if topic == "order.updated":
            if payload.get("status") != "cancelled":
                return Ignored(reason=f"order status {payload.get('status')!r} needs no action")
            data = {"order_id": str(resource_id), "reason": "cancelled in WooCommerce"}
            return NativeEvents(events=(native(f"order:{resource_id}:cancelled", "order.cancelled", data),))
        if topic == "product.updated":
            return product_stock(record, payload)
        return Ignored(reason=f"topic {topic or '(none)'} is not one stockwire acts on")


def order_placed(record: ChannelRecord, order: dict[str, Any]) -> dict[str, Any]:
    lines: dict[str, int] = {}
    for i, item in enumerate(order.get("line_items") or []):
        platform_id = item.get("variation_id") or item.get("product_id")
        sku = item.get("sku") or mapped_sku(record, platform_id)
        if not sku:
            raise invalid(f"/line_items/{i}/sku",
                          f"product {platform_id} has no sku; add it to the channel's sku_map")
        lines[sku] = lines.get(sku, 0) + whole_number(item.get("quantity"), f"/line_items/{i}/quantity")
    data: dict[str, Any] = {
        "order_id": str(order.get("id", "")),
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()],
    }
    if isinstance(order.get("shipping"), dict):
        data["ship_to"] = order["shipping"]
    data["customer"] = {"id": order.get("customer_id"), "email": member(order, "billing").get("email")}
    return data


def product_stock(record: ChannelRecord, product: dict[str, Any]) -> Translation:
    """A product's (or variation's) stock quantity: a count or a drift report."""
    if not product.get("manage_stock") or product.get("stock_quantity") is None:
        return Ignored(reason="WooCommerce does not manage this product's stock")
    sku = product.get("sku") or mapped_sku(record, product.get("id"))
    if not sku:
        return Ignored(reason=f"product {product.get('id')} has no sku and is not in the channel's sku_map")
    available = max(0, whole_number(product["stock_quantity"], "/stock_quantity"))
    event_id = f"product:{product.get('id')}:{product.get('date_modified_gmt')}:{available}"
    if counts_authoritative(record):
        location = stock_location(record)
        if location is None:
            return Ignored(reason="the channel has no location to count into")
        return NativeEvents(events=(native(event_id, "count", {
            "location": location, "counts": [{"sku": sku, "on_hand": available}]}),))
    return DriftReport(event_id=event_id, fingerprint=event_id, available=((sku, available),))


def stock_location(record: ChannelRecord) -> str | None:
    """WooCommerce keeps one stock per product: `location_map["default"]`, else the first location."""
    mapped = record.settings.get("location_map", {}).get("default")
    if mapped:
        return str(mapped)
    return record.channel.locations[0] if record.channel.locations else None


ADAPTER = WooCommerceAdapter()
