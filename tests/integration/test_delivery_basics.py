"""Outbound webhooks through the real server: signed, filtered, retried, disabled."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from tests.receiver import Receivers, create_endpoint
from tests.support import Shop

pytestmark = pytest.mark.usefixtures("fast_delivery")


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


def deliveries(shop: Shop, endpoint_id: str, status: str | None = None) -> list[dict[str, Any]]:
    r = shop.admin.get(f"/v1/endpoints/{endpoint_id}/deliveries", params={"status": status} if status else {})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def wait_status(
    shop: Shop, endpoint_id: str, status: str, count: int = 1, timeout: float = 15
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = deliveries(shop, endpoint_id, status)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {count} {status} deliveries: {deliveries(shop, endpoint_id)}")
        time.sleep(0.05)


def test_filters_pick_types_prefixes_and_channels(store: Shop, receivers: Receivers) -> None:
    """`availability.*` with a channel gets only that channel's availability events."""
    hook = receivers.new()
    ep = create_endpoint(store.admin, hook.url, event_types=["availability.*"], channel="web-1")
    hook.secrets = [ep["secret"]]
    receipt(store, "A")
    (got,) = hook.wait_accepted(1)
    assert got.type == "availability.changed"
    assert got.data["channel"] == "web-1"
    time.sleep(0.3)
    assert len(hook.requests) == 1


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(store: Shop, receivers: Receivers) -> None:
    """A 500 is retried on the endpoint's schedule; every attempt is kept in the history."""
    hook = receivers.new()
    hook.answer(500, body="boom")
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[0.2, 0.2])
    hook.secrets = [ep["secret"]]
    receipt(store)
    hook.wait_for(lambda r: len(r.requests) >= 1)
    hook.answer(200)
    hook.wait_accepted(1)
    ids = {r.webhook_id for r in hook.requests}
    assert len(ids) == 1
    assert all(r.verified for r in hook.requests)
    (item,) = wait_status(store, ep["id"], "delivered")
    codes = [a["status_code"] for a in item["attempts"]]
    assert codes[0] == 500
    assert codes[-1] == 200
    assert item["attempts"][0]["response"] == "boom"
    assert item["attempts"][0]["latency_ms"] >= 0
    assert item["event_id"] == next(iter(ids))


def test_the_schedule_runs_out_into_failed(store: Shop, receivers: Receivers) -> None:
    """After the last retry of the schedule the delivery is `failed`."""
    hook = receivers.new()
    hook.answer(500)
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[0.1, 0.1])
    receipt(store)
    (item,) = wait_status(store, ep["id"], "failed")
    assert len(item["attempts"]) == 3


def test_410_gone_disables_the_endpoint(store: Shop, receivers: Receivers) -> None:
    """An endpoint answering 410 is disabled and gets nothing more."""
    hook = receivers.new()
    hook.answer(410)
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"])
    receipt(store)
    wait_status(store, ep["id"], "failed")
    got = store.admin.get(f"/v1/endpoints/{ep['id']}").json()
    assert got["enabled"] is False
    assert "410" in got["disabled_reason"]
    receipt(store)
    time.sleep(0.5)
    assert len(hook.requests) == 1


def test_retry_after_on_429_is_honoured(store: Shop, receivers: Receivers) -> None:
    """A 429 with `Retry-After: 2` delays the next attempt by 2 s, not by the schedule's 0.1 s."""
    hook = receivers.new()
    hook.answer((429, {"Retry-After": "2"}))
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[0.1, 0.1])
    hook.secrets = [ep["secret"]]
    receipt(store)
    hook.wait_for(lambda r: len(r.requests) >= 1)
    hook.answer(200)
    (ok,) = hook.wait_accepted(1, timeout=10)
    assert ok.at - hook.requests[0].at >= 1.8


def test_a_hanging_endpoint_times_out_and_never_delays_another(store: Shop, receivers: Receivers) -> None:
    """While one endpoint hangs past its timeout, another gets every event at once."""
    slow, fast = receivers.new(), receivers.new()
    slow.answer("hang")
    slow_ep = create_endpoint(store.admin, slow.url, timeout=1, retry_schedule=[5])
    fast_ep = create_endpoint(store.admin, fast.url)
    fast.secrets = [fast_ep["secret"]]
    started = time.monotonic()
    for i in range(5):
        receipt(store, f"S{i}")
    fast.wait_for(lambda r: len({x.webhook_id for x in r.accepted()}) >= 10, timeout=5)
    assert time.monotonic() - started < 1.5
    (_item, *_) = wait_status(store, slow_ep["id"], "pending", timeout=5)
    deadline = time.monotonic() + 5
    while not any(a["error"] for d in deliveries(store, slow_ep["id"]) for a in d["attempts"]):
        assert time.monotonic() < deadline, "no timed-out attempt recorded"
        time.sleep(0.1)
    errors = [a["error"] for d in deliveries(store, slow_ep["id"]) for a in d["attempts"]]
    assert any("1 s" in (e or "") for e in errors)


def test_a_refused_connection_is_a_retried_network_error(store: Shop, receivers: Receivers) -> None:
    """Nobody listening: the attempt records the network error and is retried, then fails."""
    hook = receivers.new()
    hook.stop()
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[0.1])
    receipt(store)
    (item,) = wait_status(store, ep["id"], "failed")
    assert len(item["attempts"]) == 2
    assert all(a["status_code"] is None and "Connect" in a["error"] for a in item["attempts"])


def test_an_operator_can_retry_one_delivery_now(store: Shop, receivers: Receivers) -> None:
    """POST /v1/deliveries/{id}/retry sends a failed delivery again at once."""
    hook = receivers.new()
    hook.answer(500)
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[])
    hook.secrets = [ep["secret"]]
    receipt(store)
    (item,) = wait_status(store, ep["id"], "failed")
    hook.answer(200)
    r = store.admin.post(f"/v1/deliveries/{item['id']}/retry")
    assert r.status_code == 202, r.text
    hook.wait_accepted(1, timeout=5)
    wait_status(store, ep["id"], "delivered")
    assert store.admin.post("/v1/deliveries/999999/retry").status_code == 404


def test_replay_sends_past_events_again(store: Shop, receivers: Receivers) -> None:
    """Replay `all` since a time re-sends every matching event with its original webhook-id."""
    hook = receivers.new()
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"])
    hook.secrets = [ep["secret"]]
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    receipt(store, "A")
    receipt(store, "B")
    first = hook.wait_accepted(2)
    r = store.admin.post(f"/v1/endpoints/{ep['id']}/replay", json={"since": since.isoformat()})
    assert r.status_code == 202, r.text
    assert r.json()["queued"] == 2
    again = hook.wait_accepted(4)
    assert sorted(x.webhook_id for x in again[2:]) == sorted(x.webhook_id for x in first)


def test_rotated_secret_signs_with_old_and_new(store: Shop, receivers: Receivers) -> None:
    """After rotation the signature header carries both signatures; either secret alone verifies."""
    old_only, new_only = receivers.new(), receivers.new()
    ep = create_endpoint(store.admin, old_only.url, event_types=["inventory.updated"])
    rotated = store.admin.post(f"/v1/endpoints/{ep['id']}/rotate-secret").json()
    assert rotated["secret"] != ep["secret"]
    assert rotated["previous_secret_expires_at"]
    old_only.secrets = [ep["secret"]]
    time.sleep(1.1)  # the dispatcher re-reads endpoints at most once a second
    receipt(store)
    (got,) = old_only.wait_accepted(1)
    assert got.verified
    assert len(got.signature.split(" ")) == 2
    new_only.secrets = [rotated["secret"]]
    assert new_only.verify(
        json.dumps(got.body, separators=(",", ":")).encode(),
        {
            "webhook-id": got.webhook_id,
            "webhook-timestamp": got.timestamp,
            "webhook-signature": got.signature,
        },
    )


def test_endpoint_crud_and_validation(store: Shop) -> None:
    """Create, list, patch, disable, enable, delete; bad fields are 422 with pointers."""
    admin = store.admin
    bad = admin.post("/v1/endpoints", json={"url": "ftp://example.com/x"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/url"
    bad = admin.post("/v1/endpoints", json={"url": "http://127.0.0.1/x", "event_types": ["nope"]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/event_types/0"
    bad = admin.post("/v1/endpoints", json={"url": "http://127.0.0.1/x", "channel": "ghost"})
    assert bad.status_code == 422
    bad = admin.post("/v1/endpoints", json={"url": "http://127.0.0.1/x", "secret": "whsec_short"})
    assert bad.status_code == 422
    bad = admin.post("/v1/endpoints", json={"url": "http://127.0.0.1/x", "timeout": -1})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    ep = create_endpoint(
        admin,
        "http://127.0.0.1:9/x",
        event_types=["order.*"],
        description="wms",
        rate_limit=5,
        ordering="none",
    )
    assert "secret" not in admin.get(f"/v1/endpoints/{ep['id']}").json()
    assert [e["id"] for e in admin.get("/v1/endpoints").json()["items"]] == [ep["id"]]
    patched = admin.patch(f"/v1/endpoints/{ep['id']}", json={"description": "new", "rate_limit": None})
    assert patched.status_code == 200
    assert patched.json()["description"] == "new"
    assert patched.json()["rate_limit"] is None
    assert patched.json()["event_types"] == ["order.*"]
    assert admin.post(f"/v1/endpoints/{ep['id']}/disable").json()["enabled"] is False
    assert admin.post(f"/v1/endpoints/{ep['id']}/enable").json()["enabled"] is True
    assert admin.delete(f"/v1/endpoints/{ep['id']}").status_code == 204
    assert admin.get(f"/v1/endpoints/{ep['id']}").status_code == 404


def test_metrics_are_exposed(store: Shop, receivers: Receivers) -> None:
    """/metrics (open, no token) shows attempts by outcome, latency and the backlog per endpoint."""
    hook = receivers.new()
    create_endpoint(store.admin, hook.url, event_types=["inventory.updated"])
    receipt(store)
    hook.wait_accepted(1)
    text = store.http.get("/metrics").text
    assert 'stockwire_delivery_attempts_total{outcome="success"}' in text
    assert "stockwire_delivery_latency_seconds_bucket" in text
    assert "stockwire_delivery_backlog" in text
