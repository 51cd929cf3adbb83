"""Shopify webhooks through the real server, signed as Shopify signs them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.platforms import compact, fixture, shopify_headers
from tests.support import Shop

SECRET = "shpss_0123456789abcdef"
PATH = "/v1/inbound/shop-1/shopify"
SKUS = ("IPOD2008GREEN", "IPOD2008RED", "IPOD2008BLACK", "IPOD2008PINK")


def stock_up(shop: Shop, location: str, quantity: int, skus: tuple[str, ...] = SKUS) -> None:
    for sku in skus:
        r = shop.admin.post(f"/v1/stock/{sku}/adjustments", json={"location": location, "delta": quantity})
        assert r.status_code == 200, r.text


def connect(shop: Shop, *, authoritative: bool = False) -> None:
    shop.location("wh-1", "warehouse")
    shop.channel("shop-1", "storefront", ["wh-1"], format="shopify", secret=SECRET,
                 location_map={"905684977": "wh-1"}, sku_map={"808950810": "IPOD2008PINK"},
                 counts_authoritative=authoritative)
    stock_up(shop, "wh-1", 5)


def send(shop: Shop, payload: Any, topic: str, event_id: str | None = None) -> Any:
    body = compact(payload)
    return shop.http.post(PATH, content=body, headers=shopify_headers(SECRET, body, topic, event_id))


def test_order_created_reserves_and_cancelled_releases(shop: Shop) -> None:
    """orders/create reserves every line by sku; orders/cancelled releases them."""
    connect(shop)
    order = fixture("shopify", "order.json")["order"]
    placed = send(shop, order, "orders/create")
    assert placed.status_code == 200, placed.text
    assert placed.json()["result"]["status"] == "reserved"
    assert shop.level("IPOD2008GREEN", "wh-1")["reserved"] == 1
    assert shop.shown("IPOD2008GREEN", "shop-1") == 4

    order.update(cancelled_at="2008-01-10T12:00:00-05:00", cancel_reason="customer")
    cancelled = send(shop, order, "orders/cancelled")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["result"]["order_status"] == "cancelled"
    assert shop.level("IPOD2008GREEN", "wh-1")["reserved"] == 0
    assert shop.shown("IPOD2008GREEN", "shop-1") == 5


def test_redelivery_is_a_duplicate(shop: Shop) -> None:
    """Shopify's retry (same X-Shopify-Event-Id, same bytes) applies once."""
    connect(shop)
    order = fixture("shopify", "order.json")["order"]
    first = send(shop, order, "orders/create", "evt-1")
    again = send(shop, order, "orders/create", "evt-1")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["result"] == first.json()["result"]
    assert shop.level("IPOD2008RED", "wh-1")["reserved"] == 1


def test_webhook_id_is_the_key_without_an_event_id(shop: Shop) -> None:
    """Without X-Shopify-Event-Id, X-Shopify-Webhook-Id is the idempotency key."""
    connect(shop)
    order = fixture("shopify", "order.json")["order"]
    body = compact(order)
    headers = shopify_headers(SECRET, body, "orders/create")
    del headers["x-shopify-event-id"]
    assert shop.http.post(PATH, content=body, headers=headers).json()["status"] == "applied"
    assert shop.http.post(PATH, content=body, headers=headers).json()["status"] == "duplicate"


def test_tampered_body_or_wrong_key_is_401(shop: Shop) -> None:
    """A body changed after signing, or signed with another key, is refused and changes nothing."""
    connect(shop)
    body = compact(fixture("shopify", "order.json")["order"])
    headers = shopify_headers(SECRET, body, "orders/create")
    tampered = body.replace(b'"quantity":1', b'"quantity":2', 1)
    assert shop.http.post(PATH, content=tampered, headers=headers).status_code == 401
    wrong = shopify_headers("another-secret-key", body, "orders/create")
    assert shop.http.post(PATH, content=body, headers=wrong).status_code == 401
    missing = {k: v for k, v in headers.items() if k != "x-shopify-hmac-sha256"}
    assert shop.http.post(PATH, content=body, headers=missing).status_code == 401
    assert shop.level("IPOD2008GREEN", "wh-1")["reserved"] == 0


def test_inventory_update_is_a_count_when_shopify_is_authoritative(shop: Shop) -> None:
    """inventory_levels/update sets on_hand at the mapped location when counts_authoritative."""
    connect(shop, authoritative=True)
    level = fixture("shopify", "inventory_level.json")["inventory_level"]
    r = send(shop, level, "inventory_levels/update")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    assert shop.level("IPOD2008PINK", "wh-1")["on_hand"] == 6


def test_inventory_update_is_a_drift_report_by_default(shop: Shop) -> None:
    """Not authoritative: stock stays, the drift is answered and a correction is queued."""
    connect(shop)
    level = fixture("shopify", "inventory_level.json")["inventory_level"]
    r = send(shop, level, "inventory_levels/update")
    assert r.status_code == 200, r.text
    drift = [{"sku": "IPOD2008PINK", "channel": 6, "hub": 5}]
    assert r.json()["result"] == {"drift": drift, "corrections": 1}
    assert shop.level("IPOD2008PINK", "wh-1")["on_hand"] == 5
    feed = shop.admin.get("/v1/events", params={"types": "availability.changed", "channel": "shop-1"}).json()
    assert feed["items"][-1]["data"] == {"sku": "IPOD2008PINK", "channel": "shop-1", "available": 5,
                                         "version": feed["items"][-1]["data"]["version"]}
    again = send(shop, level, "inventory_levels/update", r.json()["event_id"])
    assert again.json()["status"] == "duplicate"


@pytest.mark.parametrize(("topic", "payload"), [
    ("products/update", {"id": 1}),
    ("inventory_levels/update", {"inventory_item_id": 808950810, "location_id": 1, "available": 3}),
])
def test_what_the_hub_does_not_act_on_is_200_ignored(shop: Shop, topic: str, payload: dict[str, Any]) -> None:
    """Unknown topics and unmapped locations answer 200 `ignored`, so Shopify keeps the webhook."""
    connect(shop)
    r = send(shop, payload, topic)
    assert r.status_code == 200
    assert r.json()["status"] == "ignored"


def test_unmapped_variant_without_sku_is_422(shop: Shop) -> None:
    """A line Shopify sends without a sku needs a sku_map entry; until then the order is refused."""
    connect(shop)
    order = fixture("shopify", "order.json")["order"]
    order["line_items"][0]["sku"] = ""
    r = send(shop, order, "orders/create")
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/line_items/0/sku"


def test_native_route_of_a_shopify_channel_is_refused(shop: Shop) -> None:
    """A Shopify channel only takes Shopify's dialect; the other platforms' routes are 404."""
    connect(shop)
    body = compact({"id": 1})
    r = shop.http.post("/v1/inbound/shop-1/woocommerce", content=body,
                       headers={"content-type": "application/json"})
    assert r.status_code == 404
