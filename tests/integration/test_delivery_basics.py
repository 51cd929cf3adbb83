"""Outbound webhooks through the real server: signed, filtered, retried, disabled."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.receiver import FAST_DELIVERY_ENV, Receivers, create_endpoint
from tests.support import Shop


@pytest.fixture(autouse=True)
def fast_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_DELIVERY_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    r = Receivers()
    yield r
    r.stop()


@pytest.fixture
def store(shop: Shop) -> Shop:
    shop.location("store-1")
    shop.channel("pos-1", "pos", ["store-1"])
    shop.channel("web-1", "storefront", ["store-1"])
    return shop


def receipt(shop: Shop, sku: str = "A", quantity: int = 5) -> None:
    r = shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": sku, "quantity": quantity}]})
    assert r.status_code == 200, r.text


def test_an_event_arrives_signed_with_the_standard_webhooks_envelope(
    store: Shop, receivers: Receivers
) -> None:
    """A subscribed endpoint gets `{type, timestamp, data}` with a signature both libraries accept."""
    hook = receivers.new()
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"])
    assert ep["enabled"] is True
    assert ep["secret"].startswith("whsec_")
    assert ep["id"]
    hook.secrets = [ep["secret"]]
    receipt(store)
    (got,) = hook.wait_accepted(1)
    assert got.verified
    assert got.webhook_id.startswith("evt_")
    assert got.type == "inventory.updated"
    assert set(got.body) == {"type", "timestamp", "data"}
    assert got.data["sku"] == "A"
    assert got.data["on_hand"] == 5
    assert got.user_agent.startswith("stockwire")
    time.sleep(0.3)
    assert len(hook.requests) == 1
