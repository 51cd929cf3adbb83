"""Per-key order, state compaction and the circuit breaker, through the real server."""

from __future__ import annotations

import time
from collections import defaultdict

import pytest

from tests.receiver import Received, Receivers, create_endpoint
from tests.support import Shop

pytestmark = pytest.mark.usefixtures("fast_delivery")


@pytest.fixture
def store(shop: Shop) -> Shop:
    shop.location("store-1")
    shop.channel("pos-1", "pos", ["store-1"])
    return shop


def receipt(shop: Shop, sku: str, quantity: int = 1) -> None:
    r = shop.send("pos-1", "receipt", {"location": "store-1", "lines": [{"sku": sku, "quantity": quantity}]})
    assert r.status_code == 200, r.text


def versions_by_key(items: list[Received]) -> dict[tuple[str, str], list[int]]:
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in items:
        seen[(r.type, r.data["sku"])].append(r.data["version"])
    return seen


def test_an_outage_ends_with_only_newer_states_and_the_final_one(store: Shop, receivers: Receivers) -> None:
    """20 changes to one sku while the endpoint is down: afterwards increasing versions only, fewer than
    20 requests, and the last one is the true final state."""
    hook = receivers.new()
    hook.answer(503)
    ep = create_endpoint(
        store.admin,
        hook.url,
        event_types=["availability.changed", "inventory.updated"],
        retry_schedule=[0.3] * 30,
    )
    hook.secrets = [ep["secret"]]
    for _ in range(20):
        receipt(store, "A")
    outage = len(hook.requests)
    hook.answer(200)
    final = store.stock("A")
    final_level = final["locations"][0]
    final_shown = final["channels"][0]

    def caught_up(r: object) -> bool:
        got = versions_by_key(hook.accepted())
        return (
            got.get(("inventory.updated", "A"), [0])[-1] == final_level["version"]
            and got.get(("availability.changed", "A"), [0])[-1] == final_shown["version"]
        )

    hook.wait_for(caught_up, timeout=15)
    time.sleep(0.5)
    after = hook.requests[outage:]
    assert all(r.verified for r in hook.requests)
    for kind in ("inventory.updated", "availability.changed"):
        accepted = [r for r in hook.accepted() if r.type == kind]
        versions = [r.data["version"] for r in accepted]
        assert versions == sorted(set(versions)), versions
        assert len(versions) < 20
        assert accepted[-1].data["available"] == 20
    assert len(after) < 20
    superseded = store.admin.get(f"/v1/endpoints/{ep['id']}/deliveries", params={"status": "superseded"})
    assert superseded.json()["items"]


def test_each_key_arrives_in_order_and_waits_only_behind_itself(store: Shop, receivers: Receivers) -> None:
    """A key whose deliveries keep failing holds back only that key; every key's versions increase."""
    hook = receivers.new()
    hook.answer(lambda r: 400 if r.data["sku"] == "BAD" else 200, delay=0.01)
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[0.2] * 20)
    hook.secrets = [ep["secret"]]
    receipt(store, "BAD")
    for i in range(10):
        receipt(store, f"K{i % 3}")
    final = {"K0": 4, "K1": 3, "K2": 3}

    def caught_up(r: object) -> bool:
        got = versions_by_key(hook.accepted())
        return all(got.get(("inventory.updated", sku), [0])[-1] == v for sku, v in final.items())

    hook.wait_for(caught_up, timeout=10)
    # the BAD key is still being retried: it held back only itself
    pending = store.admin.get(f"/v1/endpoints/{ep['id']}/deliveries", params={"status": "pending"}).json()
    assert min(d["id"] for d in pending["items"]) == 1
    for (kind, sku), versions in versions_by_key(hook.accepted()).items():
        assert versions == sorted(versions), (kind, sku, versions)
    assert all(r.answered == 400 for r in hook.requests if r.data["sku"] == "BAD")


def test_ordering_none_sends_without_waiting(store: Shop, receivers: Receivers) -> None:
    """`ordering: none` endpoints deliver without per-key waits; the newest state always arrives."""
    hook = receivers.new()
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], ordering="none")
    hook.secrets = [ep["secret"]]
    for _ in range(5):
        receipt(store, "A")
    hook.wait_for(lambda r: any(x.data["version"] == 5 for x in r.accepted()))
    versions = [r.data["version"] for r in hook.accepted()]
    assert len(versions) == len(set(versions))


def test_an_open_breaker_probes_and_a_good_probe_releases_the_backlog(store: Shop, receivers: Receivers) -> None:
    """A dead endpoint is probed, not hammered; once a probe succeeds the whole backlog goes at once,
    long before the retry schedule would have sent it."""
    hook = receivers.new()
    hook.answer(500)
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[60, 60])
    hook.secrets = [ep["secret"]]
    for i in range(8):
        receipt(store, f"S{i}")
    hook.wait_for(lambda r: len(r.requests) >= 3)
    time.sleep(1.6)
    # threshold 3 then a probe every 0.5 s: far fewer requests than deliveries x time
    assert len(hook.requests) <= 3 + 5
    hook.answer(200)
    started = time.monotonic()
    hook.wait_for(lambda r: len({x.webhook_id for x in r.accepted()}) == 8, timeout=10)
    assert time.monotonic() - started < 5


def test_a_delivery_retry_goes_past_an_open_breaker(store: Shop, receivers: Receivers) -> None:
    """POST /v1/deliveries/{id}/retry is sent at once even while the breaker holds the endpoint."""
    hook = receivers.new()
    hook.answer(500)
    ep = create_endpoint(store.admin, hook.url, event_types=["inventory.updated"], retry_schedule=[60])
    for i in range(4):
        receipt(store, f"S{i}")
    hook.wait_for(lambda r: len(r.requests) >= 3)
    items = store.admin.get(f"/v1/endpoints/{ep['id']}/deliveries").json()["items"]
    before = len(hook.requests)
    r = store.admin.post(f"/v1/deliveries/{items[0]['id']}/retry")
    assert r.status_code == 202
    hook.wait_for(lambda r: len(r.requests) > before, timeout=3)
