"""Square webhooks through the real server, signed over notification URL + body as Square signs."""

from __future__ import annotations

from typing import Any

from tests.platforms import compact, fixture, square_headers
from tests.support import Shop

SECRET = "Ibxx_5AKakO-3qeNVR61Dw"
URL = "https://hub.example.com/v1/inbound/sq-1/square"
PATH = "/v1/inbound/sq-1/square"


def connect(shop: Shop, *, authoritative: bool = False) -> None:
    shop.location("store-1")
    shop.channel("sq-1", "pos", ["store-1"], format="square", secret=SECRET, notification_url=URL,
                 location_map={"YYQR03DGCTXA4": "store-1", "FPYCBCHYMXFK1": "store-1"},
                 sku_map={"FGQ5JJWT2PYTHF35CKZ2DSKP": "TEE-M"}, counts_authoritative=authoritative)
    r = shop.admin.post("/v1/stock/TEE-M/adjustments", json={"location": "store-1", "delta": 4})
    assert r.status_code == 200, r.text


def send(shop: Shop, payload: Any, url: str = URL) -> Any:
    body = compact(payload)
    return shop.http.post(PATH, content=body, headers=square_headers(SECRET, url, body))


def test_count_update_sets_on_hand_when_square_is_authoritative(shop: Shop) -> None:
    """inventory.count.updated (IN_STOCK) sets on_hand at the mapped location."""
    connect(shop, authoritative=True)
    r = send(shop, fixture("square", "inventory.count.updated.json"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "applied"
    assert shop.level("TEE-M", "store-1")["on_hand"] == 10


def test_count_update_is_a_drift_report_by_default(shop: Shop) -> None:
    """Not authoritative: drift answered with a correction, stock unchanged."""
    connect(shop)
    r = send(shop, fixture("square", "inventory.count.updated.json"))
    assert r.json()["result"] == {"drift": [{"sku": "TEE-M", "channel": 10, "hub": 4}], "corrections": 1}
    assert shop.level("TEE-M", "store-1")["on_hand"] == 4


def test_redelivered_event_id_is_a_duplicate(shop: Shop) -> None:
    """Square's retry carries the same event_id: applied once."""
    connect(shop, authoritative=True)
    payload = fixture("square", "inventory.count.updated.json")
    send(shop, payload)
    r = send(shop, payload)
    assert r.json()["status"] == "duplicate"


def test_counts_across_two_locations_apply_as_two_parts(shop: Shop) -> None:
    """One event counting two locations becomes one count per location, each applied once."""
    connect(shop, authoritative=True)
    shop.location("store-2")
    r = shop.admin.patch("/v1/channels/sq-1", json={
        "locations": ["store-1", "store-2"],
        "location_map": {"YYQR03DGCTXA4": "store-1", "L2": "store-2"}})
    assert r.status_code == 200, r.text
    payload = fixture("square", "inventory.count.updated.json")
    counts = payload["data"]["object"]["inventory_counts"]
    counts.append({**counts[0], "location_id": "L2", "quantity": "3"})
    r = send(shop, payload)
    assert r.status_code == 200, r.text
    assert len(r.json()["parts"]) == 2
    assert shop.level("TEE-M", "store-2")["on_hand"] == 3
    assert send(shop, payload).json()["status"] == "duplicate"


def test_wrong_notification_url_or_tampered_body_is_401(shop: Shop) -> None:
    """The signature covers the URL as entered in Square and the exact body."""
    connect(shop, authoritative=True)
    payload = fixture("square", "inventory.count.updated.json")
    assert send(shop, payload, url=URL + "/").status_code == 401
    body = compact(payload)
    headers = square_headers(SECRET, URL, body)
    assert shop.http.post(PATH, content=body.replace(b'"10"', b'"11"'), headers=headers).status_code == 401
    assert shop.level("TEE-M", "store-1")["on_hand"] == 4


def test_order_created_without_lines_is_ignored(shop: Shop) -> None:
    """Square's order.created names the order but has no line items: 200 ignored."""
    connect(shop)
    r = send(shop, fixture("square", "order.created.json"))
    assert r.status_code == 200
    assert r.json()["status"] == "ignored"


def test_order_created_with_line_items_reserves(shop: Shop) -> None:
    """An order.created that carries the order's line_items reserves them by catalog object id."""
    connect(shop)
    payload = fixture("square", "order.created.json")
    payload["data"]["object"]["order"] = {
        "id": "eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
        "line_items": [{"catalog_object_id": "FGQ5JJWT2PYTHF35CKZ2DSKP", "quantity": "2"}],
    }
    r = send(shop, payload)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["status"] == "reserved"
    assert shop.level("TEE-M", "store-1")["reserved"] == 2
