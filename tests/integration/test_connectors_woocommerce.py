"""WooCommerce webhooks through the real server, signed as WooCommerce signs them."""

from __future__ import annotations

from typing import Any

from tests.platforms import compact, fixture, woocommerce_headers
from tests.support import Shop

SECRET = "wc-webhook-secret-0123"
PATH = "/v1/inbound/woo-1/woocommerce"


def connect(shop: Shop, *, authoritative: bool = False) -> None:
    shop.location("wh-1", "warehouse")
    shop.channel("woo-1", "storefront", ["wh-1"], format="woocommerce", secret=SECRET,
                 sku_map={"93": "WOO-SINGLE", "733": "SHIP-GREEN"}, counts_authoritative=authoritative)
    for sku in ("WOO-SINGLE", "Bar3", "SHIP-GREEN"):
        r = shop.admin.post(f"/v1/stock/{sku}/adjustments", json={"location": "wh-1", "delta": 5})
        assert r.status_code == 200, r.text


def send(shop: Shop, payload: Any, topic: str) -> Any:
    body = compact(payload)
    return shop.http.post(PATH, content=body, headers=woocommerce_headers(SECRET, body, topic))


def test_ping_on_creation_is_answered_200_and_changes_nothing(shop: Shop) -> None:
    """The unsigned form-encoded ping WooCommerce sends when the webhook is saved gets a 200."""
    connect(shop)
    r = shop.http.post(PATH, content=b"webhook_id=12",
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert r.json()["status"] == "ignored"
    assert shop.admin.get("/v1/orders", params={"channel": "woo-1"}).json()["items"] == []


def test_order_created_reserves_and_cancelled_releases(shop: Shop) -> None:
    """order.created reserves (sku, else sku_map by product id); order.updated to cancelled releases."""
    connect(shop)
    order = fixture("woocommerce", "order.created_body.json")
    r = send(shop, order, "order.created")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] == "reserved"
    assert shop.level("WOO-SINGLE", "wh-1")["reserved"] == 2
    assert shop.level("Bar3", "wh-1")["reserved"] == 1

    order.update(status="cancelled", date_modified_gmt="2017-03-23T10:00:00")
    r = send(shop, order, "order.updated")
    assert r.status_code == 200, r.text
    assert r.json()["result"]["order_status"] == "cancelled"
    assert shop.level("WOO-SINGLE", "wh-1")["reserved"] == 0


def test_order_sent_again_is_a_duplicate(shop: Shop) -> None:
    """The same order re-sent (new delivery id, new date_modified) applies once."""
    connect(shop)
    order = fixture("woocommerce", "order.created_body.json")
    send(shop, order, "order.created")
    order["date_modified_gmt"] = "2017-03-22T19:30:00"
    again = send(shop, order, "order.created")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert shop.level("WOO-SINGLE", "wh-1")["reserved"] == 2


def test_other_order_updates_are_ignored(shop: Shop) -> None:
    """An order.updated to any status but cancelled is 200 ignored."""
    connect(shop)
    order = fixture("woocommerce", "order.created_body.json")
    order["status"] = "completed"
    r = send(shop, order, "order.updated")
    assert r.status_code == 200
    assert r.json()["status"] == "ignored"


def stock_report(quantity: int) -> dict[str, Any]:
    product = fixture("woocommerce", "product_variation_body.json")
    product.update(manage_stock=True, stock_quantity=quantity, date_modified_gmt="2017-03-24T10:00:00")
    return product


def test_product_updated_is_a_count_when_authoritative(shop: Shop) -> None:
    """product.updated with managed stock sets on_hand at the channel's location."""
    connect(shop, authoritative=True)
    r = send(shop, stock_report(7), "product.updated")
    assert r.status_code == 200, r.text
    assert shop.level("SHIP-GREEN", "wh-1")["on_hand"] == 7


def test_product_updated_is_a_drift_report_by_default(shop: Shop) -> None:
    """Not authoritative: the drift is answered, stock stays, a repeat is a duplicate."""
    connect(shop)
    r = send(shop, stock_report(9), "product.updated")
    assert r.json()["result"] == {"drift": [{"sku": "SHIP-GREEN", "channel": 9, "hub": 5}], "corrections": 1}
    assert shop.level("SHIP-GREEN", "wh-1")["on_hand"] == 5
    assert send(shop, stock_report(9), "product.updated").json()["status"] == "duplicate"


def test_unmanaged_stock_is_ignored(shop: Shop) -> None:
    """The published variation sample does not manage stock: 200 ignored."""
    connect(shop)
    r = send(shop, fixture("woocommerce", "product_variation_body.json"), "product.updated")
    assert r.status_code == 200
    assert r.json()["status"] == "ignored"


def test_tampered_body_is_401(shop: Shop) -> None:
    """A body changed after signing is refused and reserves nothing."""
    connect(shop)
    body = compact(fixture("woocommerce", "order.created_body.json"))
    headers = woocommerce_headers(SECRET, body, "order.created")
    r = shop.http.post(PATH, content=body.replace(b'"quantity":2', b'"quantity":3'), headers=headers)
    assert r.status_code == 401
    assert shop.level("WOO-SINGLE", "wh-1")["reserved"] == 0
