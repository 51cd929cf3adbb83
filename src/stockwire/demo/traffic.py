"""The traffic generator: who acts next, at a steady number of events per second."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from stockwire.demo.metrics import Metrics
from stockwire.demo.systems import Marketplace, Storefront, StorePos, Warehouse
from stockwire.demo.world import SKUS, STORE, WAREHOUSE, Shelves

# Relative weights of what happens in the shop; the warehouse's shipments come first when due.
MIX = {"till sale": 36, "web order": 26, "marketplace order": 16, "receipt": 10, "cancellation": 6}
RESTOCK_BELOW = {STORE: 8, WAREHOUSE: 20}


@dataclass(frozen=True, kw_only=True)
class Cast:
    """The four systems, and the physical shop they share."""

    pos: StorePos
    web: Storefront
    market: Marketplace
    wms: Warehouse
    shelves: Shelves

    @property
    def all(self) -> tuple[StorePos, Storefront, Marketplace, Warehouse]:
        return (self.pos, self.web, self.market, self.wms)


class Traffic:
    """Sends `rate` events per second for `duration` seconds, each chosen from what the systems can do."""

    def __init__(self, cast: Cast, metrics: Metrics, rng: random.Random, *, rate: float,
                 max_in_flight: int = 256) -> None:
        self.cast = cast
        self.metrics = metrics
        self.rng = rng
        self.rate = rate
        self.in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_in_flight)

    async def run(self, duration: float) -> None:
        start = time.monotonic()
        for tick in range(int(duration * self.rate)):
            due = start + tick / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._slots.acquire()
            task = asyncio.create_task(self._act(self.next_action()))
            self.in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            self.metrics.problem(f"traffic: {task.exception()!r}")

    async def _act(self, action: Callable[[], Awaitable[None]]) -> None:
        await action()

    async def drain(self, timeout: float) -> None:
        """Wait for the events already sent, then let the warehouse finish what it holds."""
        deadline = time.monotonic() + timeout
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=max(0.1, deadline - time.monotonic()))
        while time.monotonic() < deadline and self.cast.wms.jobs:
            job = self.cast.wms.ready_job()
            if job is None:
                await asyncio.sleep(0.02)
                continue
            await self.cast.wms.send_job(job)

    def next_action(self) -> Callable[[], Awaitable[None]]:
        cast = self.cast
        job = cast.wms.ready_job()
        if job is not None:
            return lambda: cast.wms.send_job(job)
        restock = self._restock_needed()
        if restock is not None:
            return restock
        kinds = list(MIX)
        for kind in self.rng.choices(kinds, weights=[MIX[k] for k in kinds], k=3):
            action = self._action(kind)
            if action is not None:
                return action
        return self._receipt(self.rng.choice((STORE, WAREHOUSE)))

    def _action(self, kind: str) -> Callable[[], Awaitable[None]] | None:
        cast = self.cast
        if kind == "till sale" and cast.pos.can_sell():
            return cast.pos.sell
        if kind == "web order" and cast.web.can_order():
            return cast.web.place_order
        if kind == "marketplace order" and cast.market.can_order():
            return cast.market.place_order
        if kind == "cancellation":
            channel = cast.web if self.rng.random() < 0.7 else cast.market
            if channel.open_orders():
                return channel.cancel_order
        if kind == "receipt":
            return self._receipt(self.rng.choice((STORE, WAREHOUSE)))
        return None

    def _restock_needed(self) -> Callable[[], Awaitable[None]] | None:
        # A shop reorders what runs low; without this the demo would sell out and go quiet.
        for location, floor in RESTOCK_BELOW.items():
            low = [s for s in SKUS if self.cast.shelves.free(s, location) < floor]
            if low and self.rng.random() < 0.25:
                return self._receipt(location, self.rng.choice(low))
        return None

    def _receipt(self, location: str, sku: str | None = None) -> Callable[[], Awaitable[None]]:
        shelves = self.cast.shelves
        chosen = sku or min(SKUS, key=lambda s: shelves.free(s, location))
        quantity = self.rng.randint(8, 16) if location == STORE else self.rng.randint(15, 30)
        system = self.cast.pos if location == STORE else self.cast.wms

        async def receive() -> None:
            # Goods are shelved first, then the system tells the hub.
            shelves.arrive(chosen, location, quantity)
            assert system.hub is not None
            answer = await system.hub.send(
                "receipt", {"location": location, "lines": [{"sku": chosen, "quantity": quantity}]})
            if answer.status == 200:
                self.metrics.count("receipts")

        return receive
