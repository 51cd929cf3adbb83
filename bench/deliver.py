"""Delivery benchmark: inbound events fanned out as signed webhooks to 3 fast local receivers.

    python bench/deliver.py [--events 10000] [--rate 500] [--seconds 10] [--db sqlite|postgresql] [--worker]

The hub runs in its own process as `stockwire serve` runs it (API and dispatcher).
Each receiver is its own process: a bare asyncio HTTP/1.1 server that answers 200
and notes when each webhook arrived. Four figures:

1. throughput: `--events` signed receipts (one new sku each, so nothing is
   compacted) sent as fast as the hub takes them; deliveries/s until the last
   delivery has arrived at every receiver;
2. the limit: a bare loop posting the same number of signed requests with the
   dispatcher's own client (`delivery.sender.make_client`) and concurrency;
3. latency at a steady `--rate` events/s: from the inbound 2xx to the arrival
   of its `inventory.updated` at each receiver, p50/p99;
4. the CPU an idle hub uses (its process's CPU time over 10 s of nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._load import build_request
from bench._server import TOKEN, fresh_database
from bench._server import free_port as _free_port
from stockwire import signatures

RECEIVERS = 3


# -- processes ---------------------------------------------------------------


def _serve(database_url: str, port: int, dispatcher: bool = True) -> None:
    import uvicorn

    from stockwire.cli.serve import build_app
    from stockwire.config import Settings

    app = build_app(
        Settings(database_url=database_url, admin_token=TOKEN, allow_private_targets=True, run_dispatcher=dispatcher)
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class _Receiver(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies only; answers 200 and notes (type, sku) arrivals."""

    arrivals: dict[str, float]
    count = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower() + b"\r\n"
            start = head.find(b"content-length:")
            length = int(head[start + 15 : head.find(b"\r\n", start)]) if start >= 0 else 0
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            if head.startswith(b"get"):
                payload = orjson.dumps({"count": _Receiver.count, "arrivals": _Receiver.arrivals})
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                continue
            _Receiver.count += 1
            event = orjson.loads(body)
            if event["type"] == "inventory.updated":
                _Receiver.arrivals.setdefault(event["data"]["sku"], time.time())
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def _receive(port: int) -> None:
    _Receiver.arrivals = {}

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Receiver, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _stats(port: int) -> dict[str, Any]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=30).json())


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


# -- the hub's side ----------------------------------------------------------


class Hub:
    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        self.key = signatures.secret_key(secret)

    def receipt(self, sku: str, msg_id: str) -> bytes:
        body = json.dumps(
            {"type": "receipt", "data": {"location": "store-1", "lines": [{"sku": sku, "quantity": 1}]}}
        ).encode()
        ts = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": signatures.sign([self.key], msg_id, ts, body),
        }
        return build_request("127.0.0.1", self.port, "/v1/inbound/pos-1", body, headers)


async def _send(
    port: int,
    requests: list[bytes],
    concurrency: int,
    *,
    rate: float | None = None,
    acks: dict[int, float] | None = None,
) -> float:
    """Send every request once over keep-alive connections (at `rate`/s if given); seconds taken."""
    from bench._load import _read_response

    started = time.perf_counter()
    queue = iter(range(len(requests)))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in queue:
            if rate is not None:
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(requests[i])
            status = await _read_response(reader)
            if status != 200:
                raise RuntimeError(f"inbound answered {status}")
            if acks is not None:
                acks[i] = time.time()
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def _bare_loop(urls: list[str], total: int, concurrency: int, secret: str, *, use_httpx: bool = False) -> float:
    """The limit: signed webhooks posted by the dispatcher's own client, `concurrency` in flight per receiver.

    `use_httpx` posts with one shared `httpx.AsyncClient` instead, for comparison.
    """
    from stockwire.delivery.sender import make_client

    key = signatures.secret_key(secret)
    client = make_client(allow_private=True)
    pooled = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=None))
    per_task = total // len(urls) // concurrency
    body = orjson.dumps(
        {
            "type": "inventory.updated",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {
                "sku": "warm",
                "location": "store-1",
                "on_hand": 1,
                "reserved": 0,
                "available": 1,
                "version": 1,
                "cause": {"kind": "receipt"},
            },
        }
    )

    async def post(url: str) -> None:
        for i in range(per_task):
            msg_id = f"evt_{i}"
            ts = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": signatures.sign([key], msg_id, ts, body),
            }
            if use_httpx:
                status = (await pooled.post(url, content=body, headers=headers)).status_code
            else:
                status = (await client.post(url, body, headers)).status
            assert status == 200

    started = time.perf_counter()
    await asyncio.gather(*(post(url) for url in urls for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    await client.aclose()
    await pooled.aclose()
    return per_task * concurrency * len(urls) / seconds


def _wait_count(ports: list[int], expected: int, timeout: float = 600) -> float:
    deadline = time.time() + timeout
    while True:
        counts = [_stats(p)["count"] for p in ports]
        if all(c >= expected for c in counts):
            return time.perf_counter()
        if time.time() > deadline:
            raise RuntimeError(f"receivers got {counts}, expected {expected} each")
        time.sleep(0.05)


def bench(kind: str, events: int, rate: float, seconds: float, concurrency: int, worker: bool = False) -> None:
    url = fresh_database(kind, tempfile.mkdtemp())
    ctx = multiprocessing.get_context("spawn")
    hub_port = _free_port()
    hub_proc = ctx.Process(target=_serve, args=(url, hub_port, not worker), daemon=True)
    hub_proc.start()
    worker_proc = None
    ports = [_free_port() for _ in range(RECEIVERS)]
    receivers = [ctx.Process(target=_receive, args=(p,), daemon=True) for p in ports]
    for r in receivers:
        r.start()
    base = f"http://127.0.0.1:{hub_port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200 and all(_stats(p)["count"] == 0 for p in ports):
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    admin = httpx.Client(base_url=base, headers={"authorization": f"Bearer {TOKEN}"}, timeout=30)
    admin.post("/v1/locations", json={"id": "store-1", "name": "Store", "kind": "store"})
    secret = admin.post(
        "/v1/channels", json={"id": "pos-1", "name": "Till", "kind": "pos", "locations": ["store-1"]}
    ).json()["secret"]
    endpoint_secret = signatures.new_secret()
    for p in ports:
        r = admin.post(
            "/v1/endpoints",
            json={"url": f"http://127.0.0.1:{p}/hook", "secret": endpoint_secret, "event_types": ["inventory.updated"]},
        )
        assert r.status_code == 201, r.text
    hub = Hub(hub_port, secret)
    if worker:  # the dispatcher in its own process: `serve --no-dispatcher` + `stockwire worker`
        env = dict(os.environ, STOCKWIRE_DATABASE_URL=url, STOCKWIRE_ALLOW_PRIVATE_TARGETS="1")
        worker_proc = subprocess.Popen(
            [sys.executable, "-m", "stockwire.cli.main", "worker"], env=env, stdout=subprocess.DEVNULL
        )
    per_event = 1  # each receipt: one inventory.updated to every receiver

    # warm up: connections, caches, the first statements
    asyncio.run(_send(hub_port, [hub.receipt(f"warm-{i}", f"warm-{i}") for i in range(200)], 16))
    _wait_count(ports, 200 * per_event)

    # 1. throughput: queue a backlog while the endpoints are throttled, then let it drain
    ids = [e["id"] for e in admin.get("/v1/endpoints").json()["items"]]
    for endpoint_id in ids:
        admin.patch(f"/v1/endpoints/{endpoint_id}", json={"rate_limit": 0.001})
    time.sleep(1.5)  # the dispatcher re-reads endpoints once a second
    requests = [hub.receipt(f"tp-{i}", f"tp-{i}") for i in range(events)]
    ingest = asyncio.run(_send(hub_port, requests, 32))
    time.sleep(2)  # let fan-out finish: the drain below measures sending only
    base_counts = [_stats(p)["count"] for p in ports]
    for endpoint_id in ids:
        admin.patch(f"/v1/endpoints/{endpoint_id}", json={"rate_limit": None})
    while [_stats(p)["count"] for p in ports] == base_counts:
        time.sleep(0.01)
    started = time.perf_counter()
    done = _wait_count(ports, (200 + events) * per_event)
    deliveries = events * per_event * RECEIVERS
    throughput = (deliveries - (sum(base_counts) - 200 * per_event * RECEIVERS)) / (done - started)

    # 2. the limit
    urls = [f"http://127.0.0.1:{p}/hook" for p in ports]
    limit = asyncio.run(_bare_loop(urls, deliveries, concurrency, endpoint_secret))
    httpx_limit = asyncio.run(_bare_loop(urls, deliveries, concurrency, endpoint_secret, use_httpx=True))

    # 3. latency at a steady rate
    count = int(rate * seconds)
    steady = [hub.receipt(f"lat-{i}", f"lat-{i}") for i in range(count)]
    acks: dict[int, float] = {}
    before = [_stats(p)["count"] for p in ports]
    asyncio.run(_send(hub_port, steady, 16, rate=rate, acks=acks))
    _wait_count(ports, max(before) + count * per_event)
    latencies = []
    for p in ports:
        arrivals = _stats(p)["arrivals"]
        latencies += [max(0.0, arrivals[f"lat-{i}"] - acks[i]) * 1000 for i in range(count)]

    # 4. idle CPU
    time.sleep(2)
    cpu_before, wall = _cpu_seconds(hub_proc.pid), time.perf_counter()
    worker_before = _cpu_seconds(worker_proc.pid) if worker_proc is not None else 0.0
    time.sleep(10)
    idle = (_cpu_seconds(hub_proc.pid) - cpu_before) / (time.perf_counter() - wall)
    if worker_proc is not None:
        idle += (_cpu_seconds(worker_proc.pid) - worker_before) / (time.perf_counter() - wall)

    where = "a separate `stockwire worker`" if worker else "the dispatcher inside `serve`"
    print(f"\n{kind}, {where}: {events} inbound events -> {deliveries} deliveries to {RECEIVERS} receivers")
    print(f"{'ingest (inbound 2xx)':<34} {events / ingest:9.0f} events/s")
    print(f"{'delivery throughput':<34} {throughput:9.0f} deliveries/s  (draining a {deliveries} backlog)")
    print(f"{'bare loop (the limit)':<34} {limit:9.0f} requests/s  ({concurrency} per receiver)")
    print(f"{'bare loop with httpx':<34} {httpx_limit:9.0f} requests/s  (one shared AsyncClient, for comparison)")
    print(f"{'ratio':<34} {throughput / limit:9.0%} of the bare loop")
    print(
        f"{'latency at ' + str(int(rate)) + ' events/s':<34} p50 {_percentile(latencies, 0.5):6.1f} ms   "
        f"p99 {_percentile(latencies, 0.99):6.1f} ms   max {max(latencies):6.1f} ms  ({len(latencies)} arrivals)"
    )
    print(f"{'idle hub CPU':<34} {idle:9.2%}")
    hub_proc.terminate()
    if worker_proc is not None:
        worker_proc.terminate()
        worker_proc.wait()
    for r in receivers:
        r.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16, help="per receiver, as the dispatcher's default")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--worker", action="store_true", help="run the dispatcher as a separate process")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    for kind in ["sqlite", "postgresql"] if args.db == "both" else [args.db]:
        bench(kind, args.events, args.rate, args.seconds, args.concurrency, args.worker)


if __name__ == "__main__":
    main()
