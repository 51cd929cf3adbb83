"""The pull feed `GET /v1/events`: cursors, filters, long-poll, and every event once under concurrency."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import httpx
import sqlalchemy as sa

from stockwire.config import Settings
from stockwire.storage.database import Database
from tests.support import LiveServer, Shop


def setup_shop(shop: Shop) -> None:
    shop.location("store-1")
    shop.location("wh-1", "warehouse")
    shop.channel("pos-1", "pos", ["store-1"])
    shop.channel("web-1", "storefront", ["wh-1"])


def receipt(shop: Shop, channel: str, location: str, sku: str, quantity: int = 1) -> None:
    r = shop.send(channel, "receipt", {"location": location, "lines": [{"sku": sku, "quantity": quantity}]})
    assert r.status_code == 200, r.text


def read_all(client: httpx.Client, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get("/v1/events", params={**params, **({"after": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["cursor"]
        if not page["items"]:
            return items, cursor


def test_pages_follow_commit_order_and_the_cursor_resumes(shop: Shop) -> None:
    """Small pages, resumed from each cursor, give every event once in id order."""
    setup_shop(shop)
    for i in range(5):
        receipt(shop, "pos-1", "store-1", f"SKU-{i}")
    everything = shop.admin.get("/v1/events", params={"limit": 1000}).json()["items"]
    paged, cursor = read_all(shop.admin, limit=2)
    assert [e["id"] for e in paged] == [e["id"] for e in everything]
    ids = [int(e["id"][4:]) for e in paged]
    assert ids == sorted(set(ids))
    assert {"id", "type", "timestamp", "data"} <= set(paged[0])
    receipt(shop, "pos-1", "store-1", "SKU-9")
    fresh = shop.admin.get("/v1/events", params={"after": cursor}).json()["items"]
    assert fresh
    assert all(e["data"].get("sku") == "SKU-9" for e in fresh)


def test_filters_by_type_and_channel(shop: Shop) -> None:
    """`types` (exact or `prefix.*`) and `channel` narrow the feed; the cursor skips what was filtered out."""
    setup_shop(shop)
    receipt(shop, "pos-1", "store-1", "A")
    receipt(shop, "web-1", "wh-1", "B")
    changed, cursor = read_all(shop.admin, types="availability.changed", channel="web-1")
    assert changed
    assert all(e["type"] == "availability.changed" for e in changed)
    assert {e["data"]["channel"] for e in changed} == {"web-1"}
    assert {e["data"]["sku"] for e in changed} == {"B"}
    inventory, _ = read_all(shop.admin, types="inventory.*")
    assert {e["data"]["sku"] for e in inventory} == {"A", "B"}
    again = shop.admin.get("/v1/events", params={"after": cursor, "types": "availability.changed"}).json()
    assert again["items"] == []


def test_a_cursor_not_given_out_is_422(shop: Shop) -> None:
    """A made-up cursor is refused rather than silently read from the start."""
    r = shop.admin.get("/v1/events", params={"after": "bm90LWEtY3Vyc29y"})
    assert r.status_code == 422


def test_feed_needs_the_admin_token(shop: Shop) -> None:
    """The feed is part of the admin API."""
    assert shop.http.get("/v1/events").status_code == 401


def test_long_poll_wakes_on_a_commit(shop: Shop) -> None:
    """A waiting reader is answered as soon as an event commits, not at the timeout."""
    setup_shop(shop)
    _, cursor = read_all(shop.admin)
    answer: dict[str, Any] = {}

    def wait() -> None:
        started = time.monotonic()
        answer["page"] = shop.admin.get("/v1/events", params={"after": cursor, "wait": 10}).json()
        answer["seconds"] = time.monotonic() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.3)
    receipt(shop, "pos-1", "store-1", "LATE")
    waiter.join(timeout=15)
    assert answer["page"]["items"], answer
    assert answer["seconds"] < 3


def test_long_poll_times_out_empty(shop: Shop) -> None:
    """With nothing new, `wait` ends with no items and a cursor to resume from."""
    setup_shop(shop)
    _, cursor = read_all(shop.admin)
    started = time.monotonic()
    page = shop.admin.get("/v1/events", params={"after": cursor, "wait": 0.4}).json()
    assert page["items"] == []
    assert 0.35 < time.monotonic() - started < 5
    assert shop.admin.get("/v1/events", params={"after": page["cursor"]}).json()["items"] == []


def test_concurrent_writers_every_event_once_in_order(shop: Shop, settings: Settings) -> None:
    """4 writers on two servers while a reader polls: the reader gets every event once, in order."""
    setup_shop(shop)
    second = LiveServer(settings).start()
    try:
        other = Shop(second)
        other.secrets = shop.secrets
        done = threading.Event()
        seen: list[int] = []
        errors: list[str] = []

        def reader() -> None:
            cursor = None
            with second.admin() as client:
                while True:
                    finished = done.is_set()
                    params: dict[str, Any] = {"limit": 50, "wait": 0.5}
                    if cursor:
                        params["after"] = cursor
                    page = client.get("/v1/events", params=params).json()
                    seen.extend(int(e["id"][4:]) for e in page["items"])
                    cursor = page["cursor"]
                    if finished and not page["items"]:
                        return

        def writer(n: int) -> None:
            rng = random.Random(n)
            target = shop if n % 2 else other
            try:
                for i in range(25):
                    sku = f"SKU-{rng.randrange(8)}"
                    if i % 3 == 0:  # an admin write: its own transaction, beside the group commits
                        r = target.admin.post(f"/v1/stock/{sku}/adjustments",
                                              json={"location": "wh-1", "delta": 1})
                    else:
                        channel, location = ("pos-1", "store-1") if n < 2 else ("web-1", "wh-1")
                        r = target.send(channel, "receipt", {"location": location,
                                                             "lines": [{"sku": sku, "quantity": 1}]})
                    if r.status_code != 200:
                        errors.append(r.text)
            except Exception as exc:
                errors.append(repr(exc))

        read = threading.Thread(target=reader)
        read.start()
        writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=120)
        done.set()
        read.join(timeout=60)
        other.close()
    finally:
        second.stop()
    assert not errors, errors[:3]
    db = Database(settings.database_url, pool_size=1)
    with db.read() as conn:
        committed = list(conn.execute(sa.text("SELECT id FROM events ORDER BY id")).scalars())
    db.dispose()
    assert seen == committed


def test_many_waiting_readers_all_wake(shop: Shop) -> None:
    """Readers woken by one commit share a read, and each gets the event."""
    setup_shop(shop)
    _, cursor = read_all(shop.admin)
    pages: list[dict[str, Any]] = []

    def wait() -> None:
        with shop.server.admin() as client:
            pages.append(client.get("/v1/events", params={"after": cursor, "wait": 10}).json())

    waiters = [threading.Thread(target=wait) for _ in range(6)]
    for w in waiters:
        w.start()
    time.sleep(0.4)
    receipt(shop, "pos-1", "store-1", "SHARED")
    for w in waiters:
        w.join(timeout=15)
    assert len(pages) == 6
    assert all(p["items"] and p["items"][0]["data"]["sku"] == "SHARED" for p in pages)
    assert len({p["cursor"] for p in pages}) == 1
