"""The two jobs stockwire is hired for, end to end: real server, real receivers, both databases.

1. A till sale updates what every affected channel shows, and only those.
2. A web order reaches the warehouse at once, and its lifecycle flows back to the storefront.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.acceptance.receivers import Received, Receiver
from tests.support import Shop

SHIP_TO = {"name": "Ada Lovelace", "line1": "12 St James's Sq", "city": "London", "postcode": "SW1Y 4JH"}


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    started: dict[str, Receiver] = {}

    def make(name: str) -> Receiver:
        started[name] = Receiver(name).start()
        return started[name]

    made: dict[str, Receiver] = _Factory(make)
    yield made
    for receiver in started.values():
        receiver.stop()


class _Factory(dict[str, Receiver]):
    """receivers["web"] starts a receiver on first use."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, name: str) -> Receiver:
        self[name] = self._make(name)
        return self[name]


def subscribe(shop: Shop, receiver: Receiver, channel: str, event_types: list[str]) -> str:
    """Create an endpoint for `receiver` through the admin API; its secret goes to the receiver."""
    r = shop.admin.post("/v1/endpoints", json={
        "url": receiver.url, "event_types": event_types, "channel": channel,
        "description": f"{receiver.name} (test)", "retry_schedule": [0.2, 0.5, 1],
    })
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return str(r.json()["id"])


def deliveries(shop: Shop, endpoint_id: str) -> list[dict[str, Any]]:
    r = shop.admin.get(f"/v1/endpoints/{endpoint_id}/deliveries")
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def applied(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "applied", body
    return dict(body["result"])


def order(shop: Shop, channel: str, order_id: str) -> dict[str, Any]:
    r = shop.admin.get(f"/v1/orders/{channel}/{order_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def is_(type_: str, **fields: Any) -> Any:
    def match(event: Received) -> bool:
        return event.type == type_ and all(event.data.get(k) == v for k, v in fields.items())
    return match


# -- scenario 1: a till sale ------------------------------------------------------


def test_till_sale_reaches_the_storefront_and_not_the_warehouse_only_marketplace(
    shop: Shop, receivers: dict[str, Receiver]
) -> None:
    """A sale at the store's till changes what the storefront (selling store stock) is told at once;
    the marketplace, selling only warehouse stock, is told nothing at all."""
    shop.location("store-1", "store")
    shop.location("wh-1", "warehouse")
    shop.channel("pos-1", "pos", ["store-1"])
    shop.channel("web-1", "storefront", ["store-1", "wh-1"])
    shop.channel("mkt-1", "marketplace", ["wh-1"], buffer=2)
    applied(shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "TEE", "quantity": 10}]}))
    applied(shop.send("pos-1", "receipt", {"location": "wh-1", "lines": [{"sku": "TEE", "quantity": 20}]}))
    before = {c["channel"]: c for c in shop.stock("TEE")["channels"]}
    assert (before["web-1"]["available"], before["mkt-1"]["available"]) == (30, 18)

    web = subscribe(shop, receivers["web"], "web-1", ["availability.changed"])
    mkt = subscribe(shop, receivers["mkt"], "mkt-1", ["*"])
    sent = time.monotonic()
    applied(shop.send("pos-1", "sale", {"location": "store-1", "lines": [{"sku": "TEE", "quantity": 3}]}))

    after = {c["channel"]: c for c in shop.stock("TEE")["channels"]}
    assert after["web-1"]["available"] == 27
    assert after["mkt-1"] == before["mkt-1"], "the warehouse-only marketplace's number must not move"
    told = receivers["web"].wait_for(is_("availability.changed", sku="TEE", channel="web-1"), timeout=5)
    assert time.monotonic() - sent < 5
    assert told.data["available"] == 27
    assert told.data["version"] == after["web-1"]["version"]
    assert set(told.body) == {"type", "timestamp", "data"}
    assert receivers["web"].rejected == []

    # Anything for the marketplace would have been fanned out with the storefront's event.
    wait_until(lambda: [d["status"] for d in deliveries(shop, web)] == ["delivered"])
    time.sleep(0.5)
    assert deliveries(shop, mkt) == []
    assert receivers["mkt"].events() == []


def test_till_sale_beyond_stock_is_applied_and_raises_a_discrepancy(shop: Shop) -> None:
    """A till reports a fact: selling more than the hub knew of is applied, never refused."""
    shop.location("store-1", "store")
    shop.channel("pos-1", "pos", ["store-1"])
    applied(shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "MUG", "quantity": 1}]}))
    applied(shop.send("pos-1", "sale", {"location": "store-1", "lines": [{"sku": "MUG", "quantity": 2}]}))
    assert shop.level("MUG", "store-1")["on_hand"] == -1
    assert shop.shown("MUG", "pos-1") == 0


# -- scenario 2: a web order ------------------------------------------------------


def _two_warehouses(shop: Shop) -> None:
    shop.location("wh-1", "warehouse")
    shop.location("wh-2", "warehouse")
    shop.channel("web-1", "storefront", ["wh-1", "wh-2"])
    shop.channel("wms-1", "wms", ["wh-1"])
    shop.channel("wms-2", "wms", ["wh-2"])
    for wms, location in (("wms-1", "wh-1"), ("wms-2", "wh-2")):
        applied(shop.send(wms, "receipt", {"location": location, "lines": [
            {"sku": "TEE", "quantity": 5}, {"sku": "CAP", "quantity": 5}]}))


def test_web_order_reaches_the_warehouse_and_its_lifecycle_flows_back(
    shop: Shop, receivers: dict[str, Receiver]
) -> None:
    """order.placed reserves at the first location that can fill it; fulfillment.requested reaches
    that location's WMS with the order; a rejection re-routes; the shipment reaches the storefront."""
    _two_warehouses(shop)
    subscribe(shop, receivers["web"], "web-1", ["order.*"])
    subscribe(shop, receivers["wms-1"], "wms-1", ["fulfillment.requested"])
    subscribe(shop, receivers["wms-2"], "wms-2", ["fulfillment.requested"])

    answer = applied(shop.send("web-1", "order.placed", {
        "order_id": "W1", "lines": [{"sku": "TEE", "quantity": 2}, {"sku": "CAP", "quantity": 1}],
        "ship_to": SHIP_TO, "customer": {"email": "ada@example.com"}}))
    assert answer["status"] == "reserved" and answer["location"] == "wh-1"
    assert order(shop, "web-1", "W1")["status"] == "fulfillment_requested"
    assert shop.level("TEE", "wh-1")["reserved"] == 2
    request = receivers["wms-1"].wait_for(is_("fulfillment.requested", order_id="W1"), timeout=5)
    assert request.data["location"] == "wh-1"
    assert request.data["ship_to"] == SHIP_TO
    assert sorted((ln["sku"], ln["quantity"]) for ln in request.data["lines"]) == [("CAP", 1), ("TEE", 2)]
    receivers["web"].wait_for(is_("order.reserved", order_id="W1"), timeout=5)

    # The first warehouse cannot fill it: the hub re-routes to the next in priority.
    rerouted = applied(shop.send("wms-1", "fulfillment.rejected", {"order_id": "W1", "reason": "damaged"}))
    assert rerouted["status"] == "reserved" and rerouted["location"] == "wh-2"
    assert shop.level("TEE", "wh-1")["reserved"] == 0
    assert shop.level("TEE", "wh-2")["reserved"] == 2
    request = receivers["wms-2"].wait_for(is_("fulfillment.requested", order_id="W1"), timeout=5)
    assert request.data["location"] == "wh-2" and request.data["ship_to"] == SHIP_TO

    # The second ships it: reservations become decrements, and the storefront hears of it.
    applied(shop.send("wms-2", "shipment", {"order_id": "W1", "location": "wh-2", "lines": [
        {"sku": "TEE", "quantity": 2}, {"sku": "CAP", "quantity": 1}]}))
    assert order(shop, "web-1", "W1")["status"] == "shipped"
    level = shop.level("TEE", "wh-2")
    assert (level["on_hand"], level["reserved"]) == (3, 0)
    shipped = receivers["web"].wait_for(is_("order.shipped", order_id="W1"), timeout=5)
    assert shipped.data["status"] == "shipped" and shipped.data["location"] == "wh-2"
    assert receivers["web"].rejected == receivers["wms-1"].rejected == receivers["wms-2"].rejected == []


def test_rejected_fulfilment_with_nowhere_else_rejects_and_releases(
    shop: Shop, receivers: dict[str, Receiver]
) -> None:
    """When no other location can fill a rejected order, it is rejected, its stock released,
    and the storefront is told."""
    _two_warehouses(shop)
    subscribe(shop, receivers["web"], "web-1", ["order.*"])
    answer = applied(shop.send("web-1", "order.placed", {
        "order_id": "W2", "lines": [{"sku": "TEE", "quantity": 4}], "ship_to": SHIP_TO}))
    assert answer["location"] == "wh-1"
    applied(shop.send("wms-2", "sale", {"location": "wh-2", "lines": [{"sku": "TEE", "quantity": 2}]}))

    answer = applied(shop.send("wms-1", "fulfillment.rejected", {"order_id": "W2", "reason": "flooded"}))
    assert answer["status"] == "rejected"
    assert order(shop, "web-1", "W2")["status"] == "rejected"
    assert shop.level("TEE", "wh-1")["reserved"] == 0
    assert shop.shown("TEE", "web-1") == 5 + 3
    rejected = receivers["web"].wait_for(is_("order.rejected", order_id="W2"), timeout=5)
    assert "flooded" in (rejected.data.get("reason") or "")


def test_order_beyond_stock_is_rejected_at_once_naming_the_short_lines(shop: Shop) -> None:
    """The storefront learns in the answer itself that an order cannot be filled, and why."""
    _two_warehouses(shop)
    answer = applied(shop.send("web-1", "order.placed", {
        "order_id": "W3", "lines": [{"sku": "TEE", "quantity": 6}]}))
    assert answer["status"] == "rejected"
    assert answer["short"] == [{"sku": "TEE", "requested": 6, "available": 5}]
    assert shop.level("TEE", "wh-1")["reserved"] == shop.level("TEE", "wh-2")["reserved"] == 0


def test_cancel_releases_what_the_order_holds(shop: Shop, receivers: dict[str, Receiver]) -> None:
    """Cancelling an open order gives its stock back to every channel and tells the storefront."""
    _two_warehouses(shop)
    subscribe(shop, receivers["web"], "web-1", ["order.*", "availability.changed"])
    applied(shop.send("web-1", "order.placed", {"order_id": "W4", "lines": [{"sku": "CAP", "quantity": 3}]}))
    assert shop.shown("CAP", "web-1") == 7
    applied(shop.send("web-1", "order.cancelled", {"order_id": "W4", "reason": "changed mind"}))
    assert order(shop, "web-1", "W4")["status"] == "cancelled"
    assert shop.level("CAP", "wh-1")["reserved"] == 0
    assert shop.shown("CAP", "web-1") == 10
    receivers["web"].wait_for(is_("order.cancelled", order_id="W4"), timeout=5)
    back = receivers["web"].wait_for(is_("availability.changed", sku="CAP", available=10), timeout=5)
    assert back.data["channel"] == "web-1"
