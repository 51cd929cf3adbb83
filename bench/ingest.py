"""Ingest benchmark: signed POS `sale` webhooks through the real server, against a no-op route.

    python bench/ingest.py [--events 20000] [--concurrency 64] [--db sqlite|postgresql|both]

The server runs in its own process (uvicorn, as `stockwire serve` runs it) with one
extra no-op POST route on the same stack; the no-op throughput is the limit.
Every 2xx on the real route means the event and its effects were committed.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._load import build_request, run_load
from bench._server import TOKEN, fresh_database, start
from stockwire import signatures

NOOP_PATH = "/v1/inbound/_bench_noop"
STATS_PATH = "/v1/inbound/_bench_stats"


def _serve(database_url: str, port: int) -> None:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from stockwire.cli.serve import build_app
    from stockwire.config import Settings

    app = build_app(Settings(database_url=database_url, admin_token=TOKEN, run_dispatcher=False))

    async def noop(request: Request) -> Response:
        await request.body()
        return Response(b'{"status":"applied"}', media_type="application/json")

    async def stats(request: Request) -> Response:
        writer = app.app.inbound.state.hub.writer
        return Response(json.dumps({"batches": writer.batches, "applied": writer.applied}).encode())

    # Same stack as the real route: uvicorn, the auth guard, the inbound fast path, bare Starlette.
    app.app.inbound.router.routes.insert(0, Route(NOOP_PATH, noop, methods=["POST"]))
    app.app.inbound.router.routes.insert(0, Route(STATS_PATH, stats, methods=["GET"]))
    if os.environ.get("STOCKWIRE_BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["STOCKWIRE_BENCH_SWITCH_INTERVAL"]))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def bench(kind: str, events: int, concurrency: int, processes: int = 1) -> None:
    url = fresh_database(kind, tempfile.mkdtemp())
    servers = [start(url, _serve)]
    servers += [start(url, _serve) for _ in range(processes - 1)]
    port = servers[0][1]
    ports = [p for _, p in servers]
    base = f"http://127.0.0.1:{port}"
    admin = httpx.Client(base_url=base, headers={"authorization": f"Bearer {TOKEN}"})
    admin.post("/v1/locations", json={"id": "store-1", "name": "Store", "kind": "store"})
    admin.post("/v1/locations", json={"id": "wh-1", "name": "WH", "kind": "warehouse"})
    secret = admin.post("/v1/channels", json={"id": "pos-1", "name": "Till", "kind": "pos",
                                              "locations": ["store-1"]}).json()["secret"]
    admin.post("/v1/channels", json={"id": "web-1", "name": "Web", "kind": "storefront",
                                     "locations": ["wh-1", "store-1"]})
    key = signatures.secret_key(secret)

    def signed(i: int, path: str) -> bytes:
        body = json.dumps({"type": "sale", "data": {"location": "store-1",
                                                    "lines": [{"sku": f"SKU-{i % 500}", "quantity": 1}]}}).encode()
        msg_id = f"sale-{i}"
        ts = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
                   "webhook-signature": signatures.sign([key], msg_id, ts, body)}
        return build_request("127.0.0.1", port, path, body, headers)

    warm = [signed(i, "/v1/inbound/pos-1") for i in range(events, events + 500)]
    real = [signed(i, "/v1/inbound/pos-1") for i in range(events)]
    noop = [signed(i, NOOP_PATH) for i in range(events)]
    asyncio.run(run_load("127.0.0.1", ports, warm, concurrency))
    asyncio.run(run_load("127.0.0.1", ports, noop[:500], concurrency))
    limit = asyncio.run(run_load("127.0.0.1", ports, noop, concurrency))
    result = asyncio.run(run_load("127.0.0.1", ports, real, concurrency))
    ok = result.statuses.get(200, 0)
    stats = [httpx.get(f"http://127.0.0.1:{p}{STATS_PATH}").json() for p in ports]
    writer = {k: sum(s[k] for s in stats) for k in ("applied", "batches")}
    print(f"\n{kind}: {events} events, {concurrency} connections, {processes} server process(es)")
    print(limit.line("no-op route (the limit)"))
    print(result.line("signed sale, committed"))
    print(f"{'ratio':<28} {result.rate / limit.rate:9.0%} of the no-op throughput; {ok} applied")
    per_commit = writer["applied"] / max(1, writer["batches"])
    print(f"{'group commit':<28} {per_commit:9.1f} events per transaction on average")
    stock = admin.get("/v1/stock/SKU-1").json()
    on_hand = stock["locations"][0]["on_hand"]
    print(f"{'check':<28} SKU-1 at store-1 on_hand={on_hand} (expected {-(events + 500) // 500})")
    for proc, _ in servers:
        proc.terminate()
        proc.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes sharing the database (PostgreSQL; SQLite always runs one)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    for kind in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        bench(kind, args.events, args.concurrency, args.processes if kind == "postgresql" else 1)


if __name__ == "__main__":
    main()
