"""The four simulated systems: a store till, a web storefront, a marketplace and a warehouse.

Each is a real HTTP server on loopback that receives the hub's webhooks,
verifies their signatures, ignores repeats (by `webhook-id`) and older versions,
and keeps its own view of stock from them alone. Each also talks to the hub
the way a real system would: signed events to `POST /v1/inbound/{channel}`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import h11
import orjson

from stockwire import signatures
from stockwire.demo.http import LoopbackClient, LoopbackServer, Request, Response
from stockwire.demo.metrics import Latencies, Metrics
from stockwire.demo.world import SAFETY_STOCK, SKUS, STORE, WAREHOUSE, Shelves

OPEN = frozenset({"reserved", "fulfillment_requested", "accepted", "partially_shipped"})


@dataclass(frozen=True, kw_only=True)
class Shown:
    """One number a channel shows buyers, with the version it came with."""

    available: int
    version: int


@dataclass(kw_only=True)
class Answer:
    status: int
    body: dict[str, Any]

    @property
    def result(self) -> dict[str, Any]:
        found = self.body.get("result")
        return found if isinstance(found, dict) else {}


class HubLink:
    """A channel's side of the inbound webhook: signed events to the hub."""

    def __init__(self, client: LoopbackClient, channel: str, secret: str, metrics: Metrics) -> None:
        self.client = client
        self.channel = channel
        self.key = signatures.secret_key(secret)
        self.metrics = metrics

    async def send(self, type_: str, data: dict[str, Any], *, msg_id: str | None = None,
                   will_retry: bool = False) -> Answer:
        """Send one signed event; with `will_retry`, a transient failure is the caller's to retry."""
        body = orjson.dumps({"type": type_, "data": data})
        msg_id = msg_id or "msg_" + uuid.uuid4().hex
        ts = int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": signatures.signature(self.key, msg_id, ts, body),
            "content-type": "application/json",
        }
        sent = time.monotonic()
        try:
            r = await self.client.request("POST", f"/v1/inbound/{self.channel}", body, headers)
        except (OSError, h11.ProtocolError) as exc:
            if will_retry:
                self.metrics.count("send retries")
            else:
                self.metrics.problem(f"{self.channel} {type_}: {type(exc).__name__} {exc}")
            return Answer(status=0, body={})
        answer = Answer(status=r.status, body=orjson.loads(r.body) if r.body else {})
        if r.status == 200:
            self.metrics.count("events")
            self.metrics.answers.add((time.monotonic() - sent) * 1000)
        elif r.status == 409:
            self.metrics.count("refused")  # a legitimate race, e.g. a cancel after the shipment
        elif will_retry and transient(r.status):
            self.metrics.count("send retries")
        else:
            self.metrics.problem(f"{self.channel} {type_}: HTTP {r.status} {r.body[:200]!r}")
        return answer


def transient(status: int) -> bool:
    """A failure worth sending the same event again for: no answer, overload, server trouble."""
    return status == 0 or status == 429 or status >= 500


def commit_lag_ms(envelope: dict[str, Any], received: float) -> float:
    """Milliseconds from the hub's commit of the causing event to `received`.

    The body's `timestamp` is set as the event is committed, just before the
    hub answers 2xx to the sender, so this slightly overstates the lag from the 2xx.
    """
    committed = dt.datetime.fromisoformat(envelope["timestamp"]).timestamp()
    return max(0.0, (received - committed) * 1000)


class SimulatedSystem:
    """A channel's webhook receiver and its own view of what it may sell."""

    kind = "other"
    subscriptions: tuple[str, ...] = ("availability.changed",)

    def __init__(self, channel: str, metrics: Metrics, rng: random.Random, *, flaky: float = 0.0) -> None:
        self.channel = channel
        self.metrics = metrics
        self.rng = rng
        self.flaky = flaky
        self.server = LoopbackServer(self.receive)
        self.endpoint_key: bytes | None = None
        self.hub: HubLink | None = None
        self.view: dict[str, Shown] = {}
        self.latency = Latencies()
        self._tried: set[str] = set()
        self._applied: set[str] = set()

    def shows(self, sku: str) -> int:
        seen = self.view.get(sku)
        return seen.available if seen else 0

    async def receive(self, request: Request) -> Response | None:
        received = time.time()
        self.metrics.count("deliveries")
        msg_id = request.headers.get("webhook-id", "")
        if msg_id in self._tried:
            self.metrics.count("retries")
        self._tried.add(msg_id)
        if self.flaky and self.rng.random() < self.flaky:
            self.metrics.count("failures injected")
            return None if self.rng.random() < 0.5 else Response(status=503, body=b'{"error":"flaky"}')
        if self.endpoint_key is None:
            return Response(status=503, body=b'{"error":"not ready"}')
        try:
            signatures.verify(
                self.endpoint_key, msg_id=msg_id, timestamp=request.headers.get("webhook-timestamp"),
                header=request.headers.get("webhook-signature"), body=request.body,
            )
        except signatures.SignatureError as exc:
            self.metrics.problem(f"{self.channel}: bad signature on {msg_id}: {exc}")
            return Response(status=401, body=b'{"error":"bad signature"}')
        if msg_id in self._applied:
            self.metrics.count("duplicates ignored")
            return Response()
        self._applied.add(msg_id)
        envelope = orjson.loads(request.body)
        self.on_event(envelope["type"], envelope["data"], envelope, received)
        return Response()

    def on_event(self, type_: str, data: dict[str, Any], envelope: dict[str, Any], received: float) -> None:
        if type_ == "availability.changed":
            self._apply_availability(data, envelope, received)

    def _apply_availability(self, data: dict[str, Any], envelope: dict[str, Any], received: float) -> None:
        sku, version = data["sku"], int(data["version"])
        current = self.view.get(sku)
        if current is not None and current.version >= version:
            self.metrics.count("older versions dropped")
            return
        self.view[sku] = Shown(available=int(data["available"]), version=version)
        lag = commit_lag_ms(envelope, received)
        self.latency.add(lag)
        self.metrics.availability.add(lag)


class StorePos(SimulatedSystem):
    """The till in the high-street store: sells what is on the shelf and its view allows."""

    kind = "pos"
    subscriptions = ("availability.changed", "stock.*")

    def __init__(self, channel: str, metrics: Metrics, rng: random.Random, shelves: Shelves) -> None:
        super().__init__(channel, metrics, rng)
        self.shelves = shelves
        self.alerts: dict[str, int] = {"stock.low": 0, "stock.out": 0, "stock.discrepancy": 0}

    def on_event(self, type_: str, data: dict[str, Any], envelope: dict[str, Any], received: float) -> None:
        if type_ in self.alerts:
            self.alerts[type_] += 1
        super().on_event(type_, data, envelope, received)

    def can_sell(self) -> bool:
        return any(self.shows(s) > 0 and self.shelves.free(s, STORE) > 0 for s in SKUS)

    async def sell(self) -> None:
        choices = [s for s in SKUS if self.shows(s) > 0 and self.shelves.free(s, STORE) > 0]
        if not choices:
            return
        sku = self.rng.choice(choices)
        qty = 2 if self.shows(sku) >= 2 and self.rng.random() < 0.15 else 1
        qty = min(qty, SAFETY_STOCK)
        if not self.shelves.take(sku, STORE, qty):
            return
        assert self.hub is not None
        answer = await self.hub.send("sale", {"location": STORE, "lines": [{"sku": sku, "quantity": qty}]})
        if answer.status == 200:
            self.metrics.count("till sales")


class OrderingChannel(SimulatedSystem):
    """A channel that takes orders from buyers: it offers only what its own view shows."""

    subscriptions = ("availability.changed", "order.*")
    prefix = "O"
    max_lines = 1

    def __init__(self, channel: str, metrics: Metrics, rng: random.Random, *, flaky: float = 0.0) -> None:
        super().__init__(channel, metrics, rng, flaky=flaky)
        self.orders: dict[str, Shown] = {}
        self.order_status: dict[str, str] = {}
        self.placed: dict[str, str] = {}
        self._numbers = itertools.count(1)

    def on_event(self, type_: str, data: dict[str, Any], envelope: dict[str, Any], received: float) -> None:
        if type_.startswith("order."):
            order_id, version = str(data["order_id"]), int(data["version"])
            known = self.orders.get(order_id)
            if known is not None and known.version >= version:
                self.metrics.count("older versions dropped")
                return
            self.orders[order_id] = Shown(available=0, version=version)
            self.order_status[order_id] = str(data["status"])
            return
        super().on_event(type_, data, envelope, received)

    def can_order(self) -> bool:
        return any(self.shows(s) > 0 for s in SKUS)

    async def place_order(self) -> None:
        offered = [s for s in SKUS if self.shows(s) > 0]
        if not offered:
            return
        skus = self.rng.sample(offered, k=min(len(offered), self.rng.randint(1, self.max_lines)))
        lines = [{"sku": s, "quantity": self.rng.randint(1, min(2, self.shows(s)))} for s in skus]
        order_id = f"{self.prefix}{next(self._numbers):05d}"
        data: dict[str, Any] = {
            "order_id": order_id, "lines": lines,
            "ship_to": {"name": "A. Buyer", "line1": f"{self.rng.randint(1, 200)} Market St", "city": "Leeds"},
        }
        assert self.hub is not None
        answer = await self.hub.send("order.placed", data)
        if answer.status != 200:
            return
        status = str(answer.result.get("status"))
        self.placed[order_id] = status
        self.metrics.count("orders reserved" if status == "reserved" else "turned away at checkout")

    def open_orders(self) -> list[str]:
        return [o for o, s in self.placed.items() if s == "reserved" and self.order_status.get(o, "reserved") in OPEN]

    async def cancel_order(self) -> None:
        candidates = self.open_orders()
        if not candidates:
            return
        order_id = self.rng.choice(candidates)
        self.placed[order_id] = "cancelling"
        assert self.hub is not None
        answer = await self.hub.send("order.cancelled", {"order_id": order_id, "reason": "buyer changed their mind"})
        if answer.status == 200:
            self.placed[order_id] = "cancelled"
            self.metrics.count("orders cancelled")
        elif answer.status == 409:
            self.placed[order_id] = "reserved"
            self.metrics.count("cancels too late")

    def unsettled_orders(self) -> list[str]:
        """Orders the hub reserved whose final state this channel has not been told."""
        return [o for o, s in self.placed.items()
                if s in ("reserved", "cancelled") and self.order_status.get(o, "reserved") in OPEN]


class Storefront(OrderingChannel):
    """The web shop: sells store and warehouse stock; orders go to the warehouse first."""

    kind = "storefront"
    prefix = "W"
    max_lines = 2


class Marketplace(OrderingChannel):
    """A marketplace listing: sells warehouse stock less a buffer; optionally flaky."""

    kind = "marketplace"
    prefix = "M"


MAX_JOB_ATTEMPTS = 6


@dataclass(kw_only=True)
class Job:
    """Work the warehouse will send to the hub once `ready_at` has passed."""

    ready_at: float
    type: str
    order_id: str
    channel: str
    location: str
    lines: list[tuple[str, int]]
    reason: str | None = None
    picked: bool = False
    in_flight: bool = field(default=False)
    # A retried job keeps its webhook-id, so the hub applies it once however often it is sent.
    msg_id: str = field(default_factory=lambda: "msg_" + uuid.uuid4().hex)
    attempts: int = 0


class Warehouse(SimulatedSystem):
    """The WMS: picks what `fulfillment.requested` asks for, then ships it (or says it cannot)."""

    kind = "wms"
    subscriptions = ("fulfillment.requested", "order.cancelled")
    reject_rate = 0.03
    pick_seconds = (0.02, 0.25)

    def __init__(self, channel: str, metrics: Metrics, rng: random.Random, shelves: Shelves) -> None:
        super().__init__(channel, metrics, rng)
        self.shelves = shelves
        self.jobs: deque[Job] = deque()

    def on_event(self, type_: str, data: dict[str, Any], envelope: dict[str, Any], received: float) -> None:
        if type_ == "fulfillment.requested":
            self._requested(data, envelope, received)
        elif type_ == "order.cancelled":
            for job in list(self.jobs):
                if job.order_id == data["order_id"] and job.channel == data["channel"] and not job.in_flight:
                    self.jobs.remove(job)
                    if job.picked:
                        self.shelves.unpick(job.location, job.lines)

    def _requested(self, data: dict[str, Any], envelope: dict[str, Any], received: float) -> None:
        lag = commit_lag_ms(envelope, received)
        self.latency.add(lag)
        self.metrics.fulfilment.add(lag)
        self.metrics.count("fulfilment requests")
        location = str(data["location"])
        lines = [(str(ln["sku"]), int(ln["quantity"])) for ln in data["lines"]]
        job = Job(ready_at=time.monotonic() + self.rng.uniform(*self.pick_seconds), type="shipment",
                  order_id=str(data["order_id"]), channel=str(data["channel"]), location=location, lines=lines)
        short = self.shelves.pick(location, lines)
        if short:
            # The hub promised stock that is not on the shelf: the oversell the demo exists to rule out.
            self.metrics.oversell(f"order {job.order_id} at {location}: {', '.join(short)} not on the shelf")
            job.type, job.reason = "fulfillment.rejected", f"not on the shelf: {', '.join(short)}"
        elif self.rng.random() < self.reject_rate:
            self.shelves.unpick(location, lines)
            job.type, job.reason = "fulfillment.rejected", "damaged in the warehouse"
        else:
            job.picked = True
        self.jobs.append(job)

    def ready_job(self, now: float | None = None) -> Job | None:
        now = time.monotonic() if now is None else now
        for job in self.jobs:
            if not job.in_flight and job.ready_at <= now:
                job.in_flight = True
                return job
        return None

    async def send_job(self, job: Job) -> None:
        assert self.hub is not None
        job.attempts += 1
        retry = job.attempts < MAX_JOB_ATTEMPTS
        if job.type == "shipment":
            answer = await self.hub.send("shipment", {
                "order_id": job.order_id, "channel": job.channel, "location": job.location,
                "lines": [{"sku": s, "quantity": q} for s, q in job.lines],
            }, msg_id=job.msg_id, will_retry=retry)
            if retry and transient(answer.status):
                self._retry_later(job)
                return
            if answer.status == 200:
                self.shelves.ship(job.location, job.lines)
                self.metrics.count("orders shipped")
            else:
                self.shelves.unpick(job.location, job.lines)  # cancelled while it was being packed
        else:
            answer = await self.hub.send("fulfillment.rejected", {
                "order_id": job.order_id, "channel": job.channel, "reason": job.reason,
            }, msg_id=job.msg_id, will_retry=retry)
            if retry and transient(answer.status):
                self._retry_later(job)
                return
            if answer.status == 200:
                self.metrics.count("fulfilment rejected")
        self.jobs.remove(job)

    def _retry_later(self, job: Job) -> None:
        """Like a real WMS: send the same event again after a short back-off."""
        job.in_flight = False
        job.ready_at = time.monotonic() + 0.25 * 2 ** job.attempts


LOCATIONS = {"pos": [STORE], "storefront": [WAREHOUSE, STORE], "marketplace": [WAREHOUSE],
             "wms": [WAREHOUSE, STORE]}
