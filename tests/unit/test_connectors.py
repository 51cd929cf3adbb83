"""The platform adapters, without a server: signatures and mappings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stockwire.connectors import shopify, square, woocommerce
from stockwire.connectors.base import DriftReport, Ignored, NativeEvents
from stockwire.domain.models import Channel, ChannelFormat, ChannelKind
from stockwire.inbound.payloads import InvalidPayload
from stockwire.storage.catalog import ChannelRecord
from tests.platforms import compact, fixture, hmac_b64

VECTORS = fixture("square", "signature_test_vectors.json")


KEY = "key-0123456789"


def record(fmt: ChannelFormat, secret: str = KEY, **settings: Any) -> ChannelRecord:
    channel = Channel(id="c1", name="c1", kind=ChannelKind.STOREFRONT, format=fmt, locations=("wh-1",))
    return ChannelRecord(channel=channel, secret=secret, settings=settings)


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=["webhook.site", "short"])
def test_square_published_vectors_verify(vector: dict[str, str]) -> None:
    """Square's SDK test vectors pass: key, URL as entered, exact body."""
    rec = record(ChannelFormat.SQUARE, vector["signature_key"], notification_url=vector["notification_url"])
    headers = {"x-square-hmacsha256-signature": vector["x-square-hmacsha256-signature"]}
    assert square.ADAPTER.verify(rec, headers, vector["raw_body"].encode()) is None


def test_square_vectors_fail_when_anything_changes() -> None:
    """The SDK's negative cases: another URL, key, header, body, or the body re-serialised."""
    v = VECTORS["valid"][0]
    body = v["raw_body"].encode()
    good = {"x-square-hmacsha256-signature": v["x-square-hmacsha256-signature"]}
    url = v["notification_url"]
    cases = [
        (record(ChannelFormat.SQUARE, v["signature_key"],
                notification_url="https://webhook.site/79a4f3a-dcfa-49ee-bac5-9d0edad886b9"), good, body),
        (record(ChannelFormat.SQUARE, "MCmhFRxGX82xMwg5FsaoQA", notification_url=url), good, body),
        (record(ChannelFormat.SQUARE, v["signature_key"], notification_url=url),
         {"x-square-hmacsha256-signature": "1z2n3DEJJiUPKcPzQo1ftvbxGdw="}, body),
        (record(ChannelFormat.SQUARE, v["signature_key"], notification_url=url), good,
         body.replace(b"2022-07-13", b"2022-06-13")),
        (record(ChannelFormat.SQUARE, v["signature_key"], notification_url=url), good,
         json.dumps(json.loads(body), indent=2).encode()),
        (record(ChannelFormat.SQUARE, v["signature_key"]), good, body),
    ]
    for rec, headers, sent in cases:
        assert square.ADAPTER.verify(rec, headers, sent) is not None


def test_shopify_signature_is_over_the_raw_body() -> None:
    """The HMAC covers the bytes; an empty or missing header fails."""
    rec = record(ChannelFormat.SHOPIFY)
    body = b'{"id":1}'
    assert shopify.ADAPTER.verify(rec, {"x-shopify-hmac-sha256": hmac_b64(rec.secret, body)}, body) is None
    assert shopify.ADAPTER.verify(rec, {"x-shopify-hmac-sha256": ""}, body) is not None
    assert shopify.ADAPTER.verify(rec, {}, body) is not None


def test_shopify_order_lines_merge_by_sku_and_skip_custom_lines() -> None:
    """Lines of one sku add up; a custom line (no variant, no sku) holds no stock."""
    order = fixture("shopify", "order.json")["order"]
    order["line_items"].append({**order["line_items"][0]})
    order["line_items"].append({"title": "Tip", "quantity": 1, "sku": None, "variant_id": None})
    body = compact(order)
    out = shopify.ADAPTER.translate(record(ChannelFormat.SHOPIFY), {"x-shopify-topic": "orders/create",
                                                                    "x-shopify-event-id": "e1"}, order, body)
    assert isinstance(out, NativeEvents)
    lines = {ln.sku: ln.quantity for ln in out.events[0].event.data.lines}  # type: ignore[attr-defined]
    assert lines == {"IPOD2008GREEN": 2, "IPOD2008RED": 1, "IPOD2008BLACK": 1}


def test_shopify_needs_an_idempotency_key() -> None:
    """Neither X-Shopify-Event-Id nor X-Shopify-Webhook-Id: refused as unmappable."""
    with pytest.raises(InvalidPayload):
        shopify.ADAPTER.translate(record(ChannelFormat.SHOPIFY), {"x-shopify-topic": "orders/create"},
                                  {}, b"{}")


def test_shopify_negative_available_counts_as_zero() -> None:
    """Shopify lets available go below zero when overselling; a count cannot."""
    rec = record(ChannelFormat.SHOPIFY, location_map={"1": "wh-1"}, sku_map={"2": "A"},
                 counts_authoritative=True)
    out = shopify.inventory_level(rec, {"inventory_item_id": 2, "location_id": 1, "available": -3}, "e", "f")
    assert isinstance(out, NativeEvents)
    assert out.events[0].event.data.counts[0].on_hand == 0  # type: ignore[attr-defined]


def test_woocommerce_ping_is_recognised_by_its_form_body() -> None:
    """`webhook_id=N` is a ping; a JSON body is not."""
    assert woocommerce.ADAPTER.is_ping({}, b"webhook_id=12")
    assert not woocommerce.ADAPTER.is_ping({}, b'{"webhook_id":12}')


def managed_variation(quantity: int) -> dict[str, Any]:
    return {**fixture("woocommerce", "product_variation_body.json"), "manage_stock": True,
            "stock_quantity": quantity}


def test_woocommerce_keys_are_derived_from_what_happened() -> None:
    """The same order gives the same key whatever the delivery; a stock report keys on time and quantity."""
    rec = record(ChannelFormat.WOOCOMMERCE, sku_map={"93": "S1", "733": "V"})
    order = fixture("woocommerce", "order.created_body.json")
    out = woocommerce.ADAPTER.translate(rec, {"x-wc-webhook-topic": "order.created"}, order, b"")
    assert isinstance(out, NativeEvents)
    assert out.events[0].event_id == "order:727:placed"
    product = managed_variation(4)
    report = woocommerce.ADAPTER.translate(rec, {"x-wc-webhook-topic": "product.updated"}, product, b"")
    assert isinstance(report, DriftReport)
    assert report.available == (("V", 4),)
    assert report.event_id == "product:733:2017-03-23T03:53:11:4"


def test_woocommerce_authoritative_stock_counts_into_the_default_location() -> None:
    """WooCommerce has one stock per product: it counts into location_map["default"]."""
    rec = record(ChannelFormat.WOOCOMMERCE, sku_map={"733": "V"}, location_map={"default": "store-9"},
                 counts_authoritative=True)
    product = managed_variation(4)
    out = woocommerce.ADAPTER.translate(rec, {"x-wc-webhook-topic": "product.updated"}, product, b"")
    assert isinstance(out, NativeEvents)
    assert out.events[0].event.data.location == "store-9"  # type: ignore[attr-defined]


def test_square_skips_other_states_and_unmapped_objects() -> None:
    """Only IN_STOCK counts of mapped locations and catalog objects are taken."""
    rec = record(ChannelFormat.SQUARE, location_map={"L": "wh-1"}, sku_map={"OBJ": "A"})
    counts = [
        {"state": "SOLD", "location_id": "L", "catalog_object_id": "OBJ", "quantity": "1"},
        {"state": "IN_STOCK", "location_id": "X", "catalog_object_id": "OBJ", "quantity": "1"},
        {"state": "IN_STOCK", "location_id": "L", "catalog_object_id": "OTHER", "quantity": "1"},
    ]
    assert isinstance(square.inventory_counts(rec, counts, "e", "f"), Ignored)
    with pytest.raises(InvalidPayload):
        square.inventory_counts(rec, [{"state": "IN_STOCK", "location_id": "L", "catalog_object_id": "OBJ",
                                       "quantity": "1.5"}], "e", "f")
