"""Native inbound webhooks through the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import Shop, signed_headers


@pytest.fixture
def store(shop: Shop) -> Shop:
    shop.location("store-1")
    shop.location("wh-1", "warehouse")
    shop.channel("pos-1", "pos", ["store-1"])
    shop.channel("web-1", "storefront", ["wh-1", "store-1"])
    shop.channel("wms-1", "wms", ["wh-1"])
    assert shop.send("pos-1", "receipt", {"location": "wh-1", "lines": [{"sku": "A", "quantity": 10}]}).status_code == 200
    return shop


def test_every_stock_fact_moves_on_hand(store: Shop) -> None:
    """sale, return, receipt, adjustment and count each move on_hand as the contract says."""
    loc = {"location": "store-1"}
    steps = [
        ("receipt", {**loc, "lines": [{"sku": "B", "quantity": 10}]}, 10),
        ("sale", {**loc, "lines": [{"sku": "B", "quantity": 3}]}, 7),
        ("return", {**loc, "lines": [{"sku": "B", "quantity": 1}]}, 8),
        ("adjustment", {**loc, "sku": "B", "delta": -2, "reason": "damaged"}, 6),
        ("adjustment", {**loc, "sku": "B", "on_hand": 9, "reason": "recount"}, 9),
        ("count", {**loc, "counts": [{"sku": "B", "on_hand": 0}]}, 0),
    ]
    for type_, data, expected in steps:
        r = store.send("pos-1", type_, data)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "applied"
        assert store.level("B", "store-1")["on_hand"] == expected, type_
    ledger = store.admin.get("/v1/ledger", params={"sku": "B"}).json()["items"]
    assert [e["on_hand"] for e in ledger] == [10, 7, 8, 6, 9, 0]
    assert ledger[3]["cause"]["reason"] == "damaged"


def test_sale_past_zero_is_applied(store: Shop) -> None:
    """A till sale of stock the hub thinks is gone is applied, never refused."""
    r = store.send("pos-1", "sale", {"location": "store-1", "lines": [{"sku": "A", "quantity": 2}]})
    assert r.status_code == 200
    assert store.level("A", "store-1")["on_hand"] == -2
    assert store.level("A", "store-1")["available"] == 0


def test_order_lifecycle_reserve_ship_and_status(store: Shop) -> None:
    """order.placed reserves, the WMS accepts and ships in two parts, the order ends shipped."""
    placed = store.send("web-1", "order.placed", {"order_id": "o-1", "lines": [{"sku": "A", "quantity": 4}],
                                                  "ship_to": {"city": "York"}})
    assert placed.json()["result"]["status"] == "reserved"
    assert placed.json()["result"]["location"] == "wh-1"
    assert store.level("A", "wh-1")["reserved"] == 4
    assert store.send("wms-1", "fulfillment.accepted", {"order_id": "o-1"}).status_code == 200
    assert store.admin.get("/v1/orders/web-1/o-1").json()["status"] == "accepted"
    r = store.send("wms-1", "shipment", {"order_id": "o-1", "location": "wh-1", "lines": [{"sku": "A", "quantity": 1}]})
    assert r.status_code == 200, r.text
    assert store.admin.get("/v1/orders/web-1/o-1").json()["status"] == "partially_shipped"
    store.send("wms-1", "shipment", {"order_id": "o-1", "location": "wh-1", "lines": [{"sku": "A", "quantity": 3}]})
    order = store.admin.get("/v1/orders/web-1/o-1").json()
    assert order["status"] == "shipped"
    assert order["lines"][0] == {"sku": "A", "quantity": 4, "reserved": 0, "shipped": 4,
                                 "allocations": [{"location": "wh-1", "reserved": 0, "shipped": 4}]}
    level = store.level("A", "wh-1")
    assert (level["on_hand"], level["reserved"]) == (6, 0)


def test_shipment_without_acknowledgement_is_accepted(store: Shop) -> None:
    """A WMS may ship straight from `fulfillment_requested`."""
    store.send("web-1", "order.placed", {"order_id": "o-2", "lines": [{"sku": "A", "quantity": 1}]})
    r = store.send("wms-1", "shipment", {"order_id": "o-2", "location": "wh-1", "lines": [{"sku": "A", "quantity": 1}]})
    assert r.status_code == 200
    assert store.admin.get("/v1/orders/web-1/o-2").json()["status"] == "shipped"


def test_rejected_order_names_short_lines_and_holds_nothing(store: Shop) -> None:
    """An order nobody can fill is answered `rejected` with the short lines, at once."""
    r = store.send("web-1", "order.placed", {"order_id": "o-3", "lines": [{"sku": "A", "quantity": 11}]})
    assert r.status_code == 200
    assert r.json()["result"]["status"] == "rejected"
    assert r.json()["result"]["short"] == [{"sku": "A", "requested": 11, "available": 10}]
    assert store.level("A", "wh-1")["reserved"] == 0
    assert store.admin.get("/v1/orders/web-1/o-3").json()["status"] == "rejected"


def test_cancel_releases_and_shipped_cannot_cancel(store: Shop) -> None:
    """order.cancelled releases the reservation; a shipped order answers 409."""
    store.send("web-1", "order.placed", {"order_id": "o-4", "lines": [{"sku": "A", "quantity": 2}]})
    assert store.send("web-1", "order.cancelled", {"order_id": "o-4"}).status_code == 200
    assert store.level("A", "wh-1")["reserved"] == 0
    store.send("web-1", "order.placed", {"order_id": "o-5", "lines": [{"sku": "A", "quantity": 1}]})
    store.send("wms-1", "shipment", {"order_id": "o-5", "location": "wh-1", "lines": [{"sku": "A", "quantity": 1}]})
    r = store.send("web-1", "order.cancelled", {"order_id": "o-5"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"


def test_fulfillment_rejected_reroutes(store: Shop) -> None:
    """The warehouse refuses: the order moves to the next location that can fill it."""
    store.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "A", "quantity": 5}]})
    store.send("web-1", "order.placed", {"order_id": "o-6", "lines": [{"sku": "A", "quantity": 3}]})
    r = store.send("wms-1", "fulfillment.rejected", {"order_id": "o-6", "reason": "damaged"})
    assert r.status_code == 200
    assert r.json()["result"]["location"] == "store-1"
    assert store.level("A", "wh-1")["reserved"] == 0
    assert store.level("A", "store-1")["reserved"] == 3


def test_same_order_id_twice_is_a_conflict(store: Shop) -> None:
    """A second order.placed for an existing order id (new webhook-id) is 409 and changes nothing."""
    store.send("web-1", "order.placed", {"order_id": "o-7", "lines": [{"sku": "A", "quantity": 1}]})
    r = store.send("web-1", "order.placed", {"order_id": "o-7", "lines": [{"sku": "A", "quantity": 1}]})
    assert r.status_code == 409
    assert store.level("A", "wh-1")["reserved"] == 1


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"type": "sale", "data": {"location": "store-1", "lines": [{"sku": "A", "quantity": 0}]}}, "/data/lines/0/quantity"),
        ({"type": "sale", "data": {"location": "store-1", "lines": [{"sku": "A", "quantity": 1.5}]}}, "/data/lines/0/quantity"),
        ({"type": "sale", "data": {"location": "store-1", "lines": [{"sku": "", "quantity": 1}]}}, "/data/lines/0/sku"),
        ({"type": "sale", "data": {"location": "store-1", "lines": [{"sku": "x" * 129, "quantity": 1}]}}, "/data/lines/0/sku"),
        ({"type": "sale", "data": {"location": "store-1", "lines": []}}, "/data/lines"),
        ({"type": "sale", "data": {"location": "nowhere", "lines": [{"sku": "A", "quantity": 1}]}}, "/data/location"),
        ({"type": "teleport", "data": {}}, "/type"),
        ({"type": "count", "data": {"location": "store-1", "counts": [{"sku": "A", "on_hand": -1}]}}, "/data/counts/0/on_hand"),
        ({"type": "shipment", "data": {"order_id": "nope", "location": "wh-1", "lines": [{"sku": "A", "quantity": 1}]}}, "/data/order_id"),
    ],
)
def test_invalid_payload_is_422_with_a_pointer_and_changes_nothing(store: Shop, body: dict, pointer: str) -> None:
    """Each bad field is named by a JSON pointer; stock and ledger stay as they were."""
    before = store.admin.get("/v1/ledger").json()["items"]
    raw = json.dumps(body).encode()
    r = store.http.post("/v1/inbound/pos-1", content=raw, headers=signed_headers(store.secrets["pos-1"], raw))
    assert r.status_code == 422, r.text
    assert pointer in [e["pointer"] for e in r.json()["errors"]]
    assert store.admin.get("/v1/ledger").json()["items"] == before


def test_signature_errors_are_401(store: Shop) -> None:
    """Missing, wrong, or stale signatures are refused with 401."""
    raw = json.dumps({"type": "sale", "data": {"location": "store-1", "lines": [{"sku": "A", "quantity": 1}]}}).encode()
    good = signed_headers(store.secrets["pos-1"], raw)
    assert store.http.post("/v1/inbound/pos-1", content=raw).status_code == 401
    wrong = signed_headers(store.secrets["web-1"], raw)
    assert store.http.post("/v1/inbound/pos-1", content=raw, headers=wrong).status_code == 401
    stale = signed_headers(store.secrets["pos-1"], raw, timestamp=int(time.time()) - 301)
    assert store.http.post("/v1/inbound/pos-1", content=raw, headers=stale).status_code == 401
    tampered = raw.replace(b'"quantity": 1', b'"quantity": 9')
    assert store.http.post("/v1/inbound/pos-1", content=tampered, headers=good).status_code == 401
    assert store.level("A", "wh-1")["on_hand"] == 10
    assert [lv["location"] for lv in store.stock("A")["locations"]] == ["wh-1"]


def test_unknown_channel_404_large_body_413_not_json_415(store: Shop) -> None:
    """Unknown channel, oversized body and non-JSON bodies get their own codes."""
    raw = b'{"type":"sale","data":{}}'
    assert store.http.post("/v1/inbound/nope", content=raw, headers=signed_headers(store.secrets["pos-1"], raw)).status_code == 404
    big = b'{"pad":"' + b"x" * (256 * 1024) + b'"}'
    assert store.http.post("/v1/inbound/pos-1", content=big, headers=signed_headers(store.secrets["pos-1"], big)).status_code == 413
    text = b"hello"
    headers = signed_headers(store.secrets["pos-1"], text) | {"content-type": "text/plain"}
    assert store.http.post("/v1/inbound/pos-1", content=text, headers=headers).status_code == 415
    assert store.http.post("/v1/inbound/pos-1", content=text, headers=signed_headers(store.secrets["pos-1"], text)).status_code == 415


def test_rotated_channel_secret_old_and_new_both_verify(store: Shop) -> None:
    """After rotation the new secret signs, and the previous one still does during the grace."""
    old = store.secrets["pos-1"]
    r = store.admin.post("/v1/channels/pos-1/rotate-secret")
    assert r.status_code == 200
    new = r.json()["secret"]
    assert new != old
    time.sleep(1.1)  # the inbound route caches channel records for up to a second
    for secret in (new, old):
        store.secrets["pos-1"] = secret
        assert store.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "Z", "quantity": 1}]}).status_code == 200
    assert store.level("Z", "store-1")["on_hand"] == 2


def test_overflowing_receipts_are_422_not_500(store: Shop) -> None:
    """Three receipts of a billion units each: the third is refused with 422 and stock stays put."""
    for _ in range(2):
        assert store.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "BIG", "quantity": 1_000_000_000}]}).status_code == 200
    r = store.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "BIG", "quantity": 1_000_000_000}]})
    assert r.status_code == 422
    assert store.level("BIG", "store-1")["on_hand"] == 2_000_000_000
