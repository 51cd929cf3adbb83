"""Run the demo: the hub in-process, the systems on loopback, traffic, settling and the verdict."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import h11
import orjson
import structlog
import uvicorn
from rich.console import Console
from rich.live import Live

from stockwire import signatures
from stockwire.config import Settings
from stockwire.demo.http import LoopbackClient
from stockwire.demo.metrics import Latencies, Metrics
from stockwire.demo.screen import DemoState, Level, Truth, Verdict, drift, live_screen, progress_line, summary
from stockwire.demo.systems import (
    LOCATIONS,
    HubLink,
    Marketplace,
    OrderingChannel,
    SimulatedSystem,
    Storefront,
    StorePos,
    Warehouse,
)
from stockwire.demo.traffic import Cast, Traffic
from stockwire.demo.world import (
    INITIAL_STOCK,
    LOW_STOCK_THRESHOLD,
    MARKETPLACE_BUFFER,
    PRODUCTS,
    SAFETY_STOCK,
    SKUS,
    STORE,
    WAREHOUSE,
    Shelves,
)

FLAKY_FAILURE_RATE = 0.3
# Short retries so a flaky channel converges within the demo; a real endpoint keeps the default schedule.
DEMO_RETRY_SCHEDULE = [0.25, 0.5, 1, 2, 3, 5, 5, 5]
OPEN_STATUSES = ("reserved", "fulfillment_requested", "accepted", "partially_shipped")


class DemoError(Exception):
    """The demo could not run; the message says what to do."""


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    duration: float = 20.0
    rate: float = 50.0
    flaky: bool = False
    live: bool | None = None  # None: a live screen when stdout is a terminal
    settle: float = 20.0
    seed: int | None = None
    database_url: str | None = None


class HubServer:
    """The real hub app (API and dispatcher) under uvicorn, on its own thread and event loop."""

    def __init__(self, settings: Settings) -> None:
        from stockwire.cli.serve import build_app

        self.app = build_app(settings)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="error", lifespan="on", access_log=False,
                                timeout_keep_alive=300)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="stockwire-hub", daemon=True)

    def _run(self) -> None:
        with _runner() as runner:
            runner.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise DemoError("the hub did not start; run `stockwire serve` to see why")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@contextlib.contextmanager
def _runner() -> Iterator[asyncio.Runner]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        with asyncio.Runner() as plain:
            yield plain
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as fast:
        yield fast


def run_demo(options: DemoOptions, console: Console | None = None) -> Verdict:
    """Run the whole demo and return its verdict; raises DemoError if it cannot start."""
    console = console or Console()
    # Threads share one interpreter: switch more often so no one waits 5 ms for its turn.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
    # The hub's own info logs would scroll through the screen; warnings still show.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        with tempfile.TemporaryDirectory(prefix="stockwire-demo-") as tmp, _runner() as runner:
            url = options.database_url or f"sqlite:///{tmp}/stockwire.db"
            return runner.run(_demo(options, url, console))
    finally:
        sys.setswitchinterval(previous)


async def _demo(options: DemoOptions, database_url: str, console: Console) -> Verdict:
    token = secrets.token_urlsafe(24)
    settings = Settings(database_url=database_url, admin_token=token, allow_private_targets=True)
    hub = HubServer(settings)
    hub.start()
    try:
        client = LoopbackClient(hub.url, headers={"authorization": f"Bearer {token}"}, max_connections=64)
        async with _systems(options) as cast, contextlib.aclosing(client):
            metrics = cast.pos.metrics
            state = DemoState(cast=cast, metrics=metrics, rate=options.rate, duration=options.duration,
                              flaky=options.flaky, database=_describe(database_url), hub_url=hub.url)
            await _set_up(client, cast)
            await _settle(client, state, timeout=30)
            _reset(state)
            live = options.live if options.live is not None else console.is_terminal
            return await _show(options, client, state, console, live)
    finally:
        hub.stop()


def _describe(url: str) -> str:
    return "a temporary SQLite database" if url.startswith("sqlite") else url.split("@")[-1]


@contextlib.asynccontextmanager
async def _systems(options: DemoOptions) -> AsyncIterator[Cast]:
    metrics = Metrics()
    rng = random.Random(options.seed)
    shelves = Shelves()
    cast = Cast(
        pos=StorePos("pos-1", metrics, random.Random(rng.random()), shelves),
        web=Storefront("web-1", metrics, random.Random(rng.random())),
        market=Marketplace("mkt-1", metrics, random.Random(rng.random()),
                           flaky=FLAKY_FAILURE_RATE if options.flaky else 0.0),
        wms=Warehouse("wms-1", metrics, random.Random(rng.random()), shelves),
        shelves=shelves,
    )
    for system in cast.all:
        await system.server.start()
    try:
        yield cast
    finally:
        for system in cast.all:
            await system.server.stop()


async def _call(client: LoopbackClient, method: str, path: str, body: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    try:
        r = await client.request(method, path, orjson.dumps(body) if body is not None else b"",
                                 {"content-type": "application/json"})
    except (OSError, h11.ProtocolError) as exc:
        raise DemoError(f"{method} {path} failed: {exc}") from exc
    if r.status == 404 and path == "/v1/endpoints":
        raise DemoError("this hub has no delivery engine yet (POST /v1/endpoints answered 404); "
                        "update stockwire and try again")
    if r.status >= 300:
        raise DemoError(f"{method} {path} answered {r.status}: {r.body[:300]!r}")
    return dict(orjson.loads(r.body))


NAMES = {"pos-1": "High St till", "web-1": "Web shop", "mkt-1": "Marketplace", "wms-1": "Warehouse WMS"}


async def _set_up(client: LoopbackClient, cast: Cast) -> None:
    """Register the shop through the admin API, as an operator would, then count the stock in."""
    await _call(client, "POST", "/v1/locations", {"id": STORE, "name": "High St store", "kind": "store"})
    await _call(client, "POST", "/v1/locations", {"id": WAREHOUSE, "name": "Leeds warehouse", "kind": "warehouse"})
    for product in PRODUCTS:
        await _call(client, "PUT", f"/v1/products/{product.sku}", {
            "name": product.name, "safety_stock": SAFETY_STOCK, "low_stock_threshold": LOW_STOCK_THRESHOLD})
    for system in cast.all:
        created = await _call(client, "POST", "/v1/channels", {
            "id": system.channel, "name": NAMES[system.channel], "kind": system.kind,
            "locations": LOCATIONS[system.kind],
            "buffer": MARKETPLACE_BUFFER if system is cast.market else 0,
        })
        system.hub = HubLink(client, system.channel, created["secret"], system.metrics)
        endpoint = await _call(client, "POST", "/v1/endpoints", {
            "url": f"{system.server.url}/webhooks", "event_types": list(system.subscriptions),
            "channel": system.channel, "description": f"{NAMES[system.channel]} (demo)",
            "retry_schedule": DEMO_RETRY_SCHEDULE, "timeout": 2,
        })
        system.endpoint_key = signatures.secret_key(endpoint["secret"])
    for system, location in ((cast.pos, STORE), (cast.wms, WAREHOUSE)):
        assert system.hub is not None
        for sku in SKUS:
            cast.shelves.arrive(sku, location, INITIAL_STOCK[location])
        answer = await system.hub.send("count", {
            "location": location, "counts": [{"sku": s, "on_hand": INITIAL_STOCK[location]} for s in SKUS]})
        if answer.status != 200:
            raise DemoError(f"the initial count at {location} answered {answer.status}: {answer.body}")


def _reset(state: DemoState) -> None:
    """Forget what setting up cost, so the figures describe the traffic alone."""
    m = state.metrics
    m.counts.clear()
    m.availability = Latencies()
    m.fulfilment = Latencies()
    m.answers = Latencies()
    for system in state.cast.all:
        system.latency = Latencies()


async def read_truth(client: LoopbackClient) -> Truth:
    """The hub's levels and channel numbers for every sku, through the admin API."""
    answers = await asyncio.gather(*(client.request("GET", f"/v1/stock/{sku}") for sku in SKUS))
    truth = Truth()
    for sku, r in zip(SKUS, answers, strict=True):
        if r.status != 200:
            continue
        body = orjson.loads(r.body)
        for lv in body["locations"]:
            truth.levels[(sku, lv["location"])] = Level(
                on_hand=lv["on_hand"], reserved=lv["reserved"], available=lv["available"])
        for ch in body["channels"]:
            truth.shown[(sku, ch["channel"])] = ch["available"]
    return truth


async def _open_at_hub(client: LoopbackClient) -> int:
    answers = await asyncio.gather(*(client.request("GET", f"/v1/orders?status={s}&limit=500")
                                     for s in OPEN_STATUSES))
    return sum(len(orjson.loads(r.body)["items"]) for r in answers if r.status == 200)


def _unsettled(cast: Cast) -> int:
    return sum(len(ch.unsettled_orders()) for ch in (cast.web, cast.market))


async def _settle(client: LoopbackClient, state: DemoState, *, timeout: float) -> float | None:
    """Wait until every channel shows what the hub holds, twice in a row; seconds taken, or None."""
    start = time.monotonic()
    agreed = 0
    while True:
        state.truth = await read_truth(client)
        clean = drift(state) == 0 and _unsettled(state.cast) == 0
        agreed = agreed + 1 if clean else 0
        if agreed >= 2:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        await asyncio.sleep(0.1)


async def _show(options: DemoOptions, client: LoopbackClient, state: DemoState, console: Console,
                live: bool) -> Verdict:
    cast, metrics = state.cast, state.metrics
    traffic = Traffic(cast, metrics, random.Random(options.seed), rate=options.rate)
    started = time.monotonic()
    done = asyncio.Event()

    async def watch() -> None:
        last_line = 0.0
        while not done.is_set():
            state.elapsed = time.monotonic() - started
            if display is not None:
                # Quiet runs skip this: reading the hub's truth costs the hub's own CPU.
                state.truth = await read_truth(client)
                display.update(live_screen(state))
            elif state.elapsed - last_line >= 5:
                last_line = state.elapsed
                console.print(progress_line(state), highlight=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 0.5 if live else 1.0)

    display = Live(live_screen(state), console=console, refresh_per_second=4, transient=False) if live else None
    if not live:
        console.print(f"stockwire demo: {options.duration:.0f} s at {options.rate:.0f} events/s on "
                      f"{state.database}{', marketplace flaky' if options.flaky else ''}; hub at {state.hub_url}",
                      highlight=False)
    with display if display is not None else contextlib.nullcontext():
        watcher = asyncio.create_task(watch())
        state.phase = "running"
        await traffic.run(options.duration)
        stopped = time.monotonic()
        seconds = stopped - started
        events, deliveries = metrics.counts["events"], metrics.counts["deliveries"]
        state.phase = "settling"
        await traffic.drain(timeout=options.settle)
        settled = await _settle(client, state, timeout=options.settle)
        # Measured from the end of the traffic, so it includes the warehouse finishing its work.
        settle_seconds = None if settled is None else time.monotonic() - stopped
        state.phase = "done"
        done.set()
        await watcher
        if display is not None:
            display.update(live_screen(state))
    verdict = Verdict(
        seconds=seconds, events=events, deliveries=deliveries, retries=metrics.counts["retries"],
        oversells=tuple(metrics.oversells), drift=drift(state), settle_seconds=settle_seconds,
        unsettled_orders=_unsettled(cast), open_at_hub=await _open_at_hub(client),
        shelf_differences=tuple(_shelf_differences(state)), problems=tuple(metrics.problems),
        availability=metrics.availability, fulfilment=metrics.fulfilment,
        per_channel={s.channel: s.latency for s in (cast.pos, cast.web, cast.market)},
    )
    console.print(summary(state, verdict))
    return verdict


def _shelf_differences(state: DemoState) -> list[str]:
    """Where the hub's on_hand differs from what is physically on the shelf."""
    out = []
    for sku in SKUS:
        for loc in (STORE, WAREHOUSE):
            lv = state.truth.levels.get((sku, loc))
            hub = lv.on_hand if lv else 0
            shelf = state.cast.shelves.on_shelf[(sku, loc)]
            if hub != shelf:
                out.append(f"{sku} at {loc}: hub on_hand {hub}, on the shelf {shelf}")
    return out


__all__ = ["DemoError", "DemoOptions", "OrderingChannel", "SimulatedSystem", "run_demo"]
