"""A first pass through the real server."""

from __future__ import annotations

from tests.support import Shop


def test_receipt_then_duplicate_is_answered_from_the_first(shop: Shop) -> None:
    """A repeated webhook-id with the same body applies once and answers `duplicate`."""
    shop.location("store-1")
    shop.channel("pos-1", "pos", ["store-1"])
    first = shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "A", "quantity": 10}]}, "m1")
    again = shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": "A", "quantity": 10}]}, "m1")
    assert first.status_code == 200 and first.json()["status"] == "applied"
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["result"] == first.json()["result"]
    assert shop.level("A", "store-1")["on_hand"] == 10
