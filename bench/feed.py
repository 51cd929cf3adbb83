"""Pull-feed benchmark: how fast a consumer reads `GET /v1/events`, and how soon a long-poll wakes.

    python bench/feed.py [--events 50000] [--rounds 200] [--waiters 4] [--db sqlite|postgresql|both]

The server runs in its own process (uvicorn, as `stockwire serve` runs it).
- Throughput: the outbox is filled with `--events` events, then one consumer
  reads them all, page after page, resuming from each cursor.
- Wake-up: `--waiters` clients long-poll (`wait=10`); the bench commits one event
  and times until each waiting client has it. Two ways to commit:
  `webhook`: a signed native `receipt` to the server, timed from sending it (so it includes the inbound
  request itself), and from the webhook's 200 (sent only after the commit: an upper bound on commit ->
  waiter); `external` (PostgreSQL): a commit from this process straight into the database, so the time is
  commit -> NOTIFY -> the server's listener -> the waiting client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._server import TOKEN, fresh_database
from bench._server import start as start_server
from stockwire import signatures
from stockwire.domain.models import OutboundEvent
from stockwire.storage import outbox
from stockwire.storage.database import Database


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def fill(db: Database, events: int) -> None:
    """Append synthetic `inventory.updated` events, 1000 per transaction."""
    for start in range(0, events, 1000):
        batch = [
            OutboundEvent(type="inventory.updated", key=f"inventory:SKU-{i % 500}:wh-1", channels=("web-1",),
                          data={"sku": f"SKU-{i % 500}", "location": "wh-1", "on_hand": i, "reserved": 0,
                                "available": i, "version": i, "cause": {"kind": "bench"}})
            for i in range(start, min(events, start + 1000))
        ]
        with db.write() as conn:
            outbox.append(conn, batch)


def read_everything(base: str, limit: int) -> tuple[int, float]:
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {TOKEN}"}, timeout=60) as client:
        cursor, count = None, 0
        started = time.perf_counter()
        while True:
            params: dict[str, object] = {"limit": limit}
            if cursor:
                params["after"] = cursor
            page = client.get("/v1/events", params=params).json()
            count += len(page["items"])
            cursor = page["cursor"]
            if not page["items"]:
                return count, time.perf_counter() - started


async def wake_up(base: str, rounds: int, waiters: int, commit: str, db: Database,
                  secret: str) -> tuple[list[float], list[float], list[float]]:
    """Milliseconds from the commit (or the webhook's send) to each waiting client holding the event."""
    headers = {"authorization": f"Bearer {TOKEN}"}
    key = signatures.secret_key(secret)
    samples: list[float] = []
    acks: list[float] = []
    after_ack: list[float] = []
    sends: list[float] = []
    limits = httpx.Limits(max_connections=waiters + 4)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30, limits=limits) as client:
        latest = await client.get("/v1/events", params={"limit": 1000})
        while latest.json()["items"]:
            cursor = latest.json()["cursor"]
            latest = await client.get("/v1/events", params={"limit": 1000, "after": cursor})
        cursor = latest.json()["cursor"]
        loop = asyncio.get_running_loop()
        for n in range(rounds):
            arrived: list[float] = []

            async def wait(after: str, arrived: list[float] = arrived) -> str:
                page = (await client.get("/v1/events", params={"after": after, "wait": 10})).json()
                arrived.append(time.perf_counter())
                assert page["items"], "the long-poll timed out"
                return str(page["cursor"])

            tasks = [asyncio.create_task(wait(cursor)) for _ in range(waiters)]
            await asyncio.sleep(0.03)  # let every request reach the server and start waiting
            if commit == "external":
                def write(n: int = n) -> float:
                    with db.write() as conn:
                        event = OutboundEvent(type="stock.low", key=f"bench:{n}", data={"n": n})
                        outbox.append(conn, [event])
                    return time.perf_counter()
                t0 = await loop.run_in_executor(None, write)
            else:
                body = json.dumps({"type": "receipt", "data": {
                    "location": "wh-1", "lines": [{"sku": f"W-{n % 50}", "quantity": 1}]}}).encode()
                msg_id, ts = f"wake-{n}", int(time.time())
                t0 = time.perf_counter()
                r = await client.post("/v1/inbound/pos-1", content=body, headers={
                    "content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                    "webhook-signature": signatures.sign([key], msg_id, ts, body)})
                assert r.status_code == 200, r.text
                acks.append(time.perf_counter())
            cursors = await asyncio.gather(*tasks)
            samples += [(t - t0) * 1000 for t in arrived]
            if acks:
                after_ack += [(t - acks[-1]) * 1000 for t in arrived]
                sends.append((acks[-1] - t0) * 1000)
            # One event may have been several: catch up so the next round waits on fresh ground.
            cursor = cursors[0]
            page = (await client.get("/v1/events", params={"after": cursor, "limit": 1000})).json()
            cursor = page["cursor"]
    return samples, after_ack, sends


def bench(kind: str, events: int, rounds: int, waiters: int) -> None:
    url = fresh_database(kind, tempfile.mkdtemp())
    proc, port = start_server(url)
    base = f"http://127.0.0.1:{port}"
    try:
        admin = httpx.Client(base_url=base, headers={"authorization": f"Bearer {TOKEN}"})
        admin.post("/v1/locations", json={"id": "wh-1", "name": "WH", "kind": "warehouse"})
        secret = admin.post("/v1/channels", json={"id": "pos-1", "name": "Till", "kind": "pos",
                                                  "locations": ["wh-1"]}).json()["secret"]
        db = Database(url, pool_size=2)
        fill(db, events)
        print(f"\n{kind}: feed of {events} events")
        for limit in (100, 1000):
            count, seconds = read_everything(base, limit)
            label = f"read, limit={limit}"
            print(f"{label:<28} {count / seconds:9.0f} events/s ({count} in {seconds:.2f} s)")
        modes = ["webhook"] + (["external"] if kind == "postgresql" else [])
        for mode in modes:
            samples, after_ack, sends = asyncio.run(wake_up(base, rounds, waiters, mode, db, secret))
            label = f"wake-up, {mode}"
            print(f"{label:<28} p50 {_pct(samples, 0.5):6.2f} ms   p99 {_pct(samples, 0.99):6.2f} ms"
                  f"   max {max(samples):6.2f} ms   ({len(samples)} samples, {waiters} waiting clients)")
            if sends:
                print(f"{'  the webhook answered in':<28} p50 {_pct(sends, 0.5):6.2f} ms   "
                      f"p99 {_pct(sends, 0.99):6.2f} ms")
                print(f"{'  waiters, after that 200':<28} p50 {_pct(after_ack, 0.5):6.2f} ms   "
                      f"p99 {_pct(after_ack, 0.99):6.2f} ms")
        db.dispose()
    finally:
        proc.terminate()
        proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--waiters", type=int, default=4)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    for kind in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        bench(kind, args.events, args.rounds, args.waiters)


if __name__ == "__main__":
    main()
