"""The dispatcher: claim due deliveries, send them, record what happened.

One asyncio task runs the loop. Each turn is one database transaction (in a
thread): record the attempts that finished since the last turn, fan out new
outbox events, and claim what each endpoint may start now. Then it starts the
sends and sleeps until a commit anywhere (`hub.signal`), a send finishing, or
the next retry, probe or lease renewal is due. Endpoints never share a queue:
each has its own concurrency limit, rate limit and circuit breaker, so a slow
or dead one cannot hold another back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import secrets
import socket
import time
from dataclasses import dataclass, field

import structlog
from sqlalchemy.engine import Connection

from stockwire.delivery import metrics
from stockwire.delivery.breaker import CircuitBreaker, TokenBucket
from stockwire.delivery.fanout import fan_out
from stockwire.delivery.models import ClaimedDelivery, DeliveryStatus, Endpoint, Ordering, Outcome
from stockwire.delivery.outcomes import counts_against_endpoint, decide
from stockwire.delivery.sender import Sender
from stockwire.notify import CommitSignal
from stockwire.storage import deliveries
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import Database, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class DispatcherConfig:
    """Tuning of one dispatcher process (env `STOCKWIRE_DELIVERY_*`)."""

    concurrency: int = 16
    # Claimed ahead of the sends, so that each database round trip moves a batch.
    prefetch: int = 2
    lease: float = 20.0
    breaker_threshold: int = 5
    probe_interval: float = 15.0
    disable_after: float = 5 * 86400.0
    idle_wake: float = 5.0
    fanout_batch: int = 1000
    endpoint_refresh: float = 1.0

    @classmethod
    def from_env(cls) -> DispatcherConfig:
        env = os.environ
        names = {
            "concurrency": int,
            "prefetch": int,
            "lease": float,
            "breaker_threshold": int,
            "probe_interval": float,
            "disable_after": float,
            "idle_wake": float,
        }
        values = {
            k: kind(env[f"STOCKWIRE_DELIVERY_{k.upper()}"])
            for k, kind in names.items()
            if f"STOCKWIRE_DELIVERY_{k.upper()}" in env
        }
        return cls(**values)


@dataclass(kw_only=True)
class Lane:
    """One endpoint's share of this process: what is in flight, its breaker and rate limit."""

    endpoint: Endpoint
    breaker: CircuitBreaker
    bucket: TokenBucket | None = None
    # Claimed by this process and not yet recorded: delivery id -> when it was claimed.
    in_flight: dict[int, float] = field(default_factory=dict)
    gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(16))


@dataclass(frozen=True, kw_only=True)
class ClaimRequest:
    endpoint_id: str
    limit: int
    per_key: bool
    probe: bool = False
    forced_only: bool = False


@dataclass(kw_only=True)
class StepResult:
    claimed: dict[str, list[ClaimedDelivery]] = field(default_factory=dict)
    endpoints: tuple[Endpoint, ...] | None = None
    next_due: dt.datetime | None = None
    more: bool = False
    more_events: bool = False


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Dispatcher:
    """Delivers every pending delivery of the database it is given; run it with `run()`."""

    def __init__(
        self, db: Database, signal: CommitSignal, sender: Sender, config: DispatcherConfig | None = None
    ) -> None:
        self.db = db
        self.signal = signal
        self.sender = sender
        self.config = config or DispatcherConfig()
        self.worker = worker_name()
        self.lanes: dict[str, Lane] = {}
        self._outcomes: list[Outcome] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._fanout_due = True
        self._stopping = False
        self._endpoints_loaded = 0.0
        self._failing: set[str] = set()

    # -- lifecycle ---------------------------------------------------------

    async def run(self) -> None:
        """Deliver until `stop()`; then let sends in flight finish briefly and give back the rest."""
        forward = asyncio.create_task(self._forward_commits())
        try:
            await self._loop()
        finally:
            forward.cancel()
            await self._drain()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _forward_commits(self) -> None:
        while True:
            await self.signal.wait(None)
            self._fanout_due = True
            self._wake.set()

    async def _drain(self, grace: float = 5.0) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        abandoned = [i for lane in self.lanes.values() for i in lane.in_flight]
        outcomes, self._outcomes = self._outcomes, []
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._finish, outcomes, abandoned)

    def _finish(self, outcomes: list[Outcome], abandoned: list[int]) -> None:
        with self.db.write() as conn:
            deliveries.record(conn, outcomes)
            deliveries.release(conn, abandoned)

    # -- the loop ----------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            outcomes, self._outcomes = self._outcomes, []
            fanout, self._fanout_due = self._fanout_due, False
            requests = self._claim_requests(time.monotonic())
            renew = self._leases_to_renew(time.monotonic())
            try:
                step = await asyncio.to_thread(self._step, outcomes, fanout, requests, renew)
            except Exception as exc:
                log.warning("dispatch.step_failed", error=str(exc))
                self._outcomes[:0] = outcomes
                self._fanout_due = self._fanout_due or fanout
                await self._sleep(1.0)
                continue
            if step.endpoints is not None:
                self._sync_lanes(step.endpoints)
                self._failing |= {e.id for e in step.endpoints if e.failing_since is not None}
            self._start(requests, step)
            if step.more_events:
                self._fanout_due = True
            if step.more:
                continue
            await self._sleep(self._timeout(requests, step))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            # Nothing woke us: look at the outbox anyway (a commit we were not told of, e.g.
            # another process on SQLite, which has no LISTEN).
            self._fanout_due = True

    def _step(
        self, outcomes: list[Outcome], fanout: bool, requests: list[ClaimRequest], renew: list[int]
    ) -> StepResult:
        """One transaction: record, fan out, claim. Runs in a worker thread."""
        now = utcnow()
        result = StepResult()
        with self.db.write() as conn:
            self._record(conn, outcomes, now)
            if fanout:
                done = fan_out(conn, limit=self.config.fanout_batch)
                result.more = done.more
                result.more_events = done.more
                result.endpoints = done.endpoints
                metrics.FANNED_OUT.inc(done.created)
            if result.endpoints is None and time.monotonic() - self._endpoints_loaded > self.config.endpoint_refresh:
                result.endpoints = tuple(endpoint_store.list_all(conn))
            if result.endpoints is not None:
                self._endpoints_loaded = time.monotonic()
            lease_until = now + dt.timedelta(seconds=self.config.lease)
            deliveries.extend_leases(conn, renew, until=lease_until)
            idle: list[str] = []
            for r in requests:
                got = deliveries.claim(
                    conn,
                    r.endpoint_id,
                    r.limit,
                    worker=self.worker,
                    now=now,
                    lease_until=lease_until,
                    per_key=r.per_key,
                    ignore_schedule=r.probe,
                    forced_only=r.forced_only,
                )
                if got:
                    result.claimed.setdefault(r.endpoint_id, []).extend(got)
                if len(got) < r.limit and not r.probe and not r.forced_only:
                    idle.append(r.endpoint_id)
            if idle and not result.more:
                result.next_due = deliveries.next_due(conn, idle, now=now)
        if result.endpoints is not None and {e.id for e in result.endpoints if e.enabled} - set(self.lanes):
            result.more = True  # a new endpoint: claim its first deliveries right away
        return result

    def _record(self, conn: Connection, outcomes: list[Outcome], now: dt.datetime) -> None:
        if not outcomes:
            return
        deliveries.record(conn, outcomes, now=now)
        succeeded = {o.endpoint_id for o in outcomes if o.status is DeliveryStatus.DELIVERED}
        failed = {
            o.endpoint_id: o.result.at
            for o in outcomes
            if o.status is not DeliveryStatus.DELIVERED and o.endpoint_id not in succeeded
        }
        # Clearing `failing_since` costs a statement: only for endpoints known to be failing.
        succeeded = {e for e in succeeded if e in self._failing}
        endpoint_store.record_health(
            conn, succeeded=succeeded, failed={e: at for e, at in failed.items() if e not in self._failing}
        )
        self._failing = (self._failing - succeeded) | set(failed)
        for o in outcomes:
            if o.release_backlog:
                deliveries.release_backlog(conn, o.endpoint_id, now=now)
            if o.disable_endpoint:
                endpoint_store.set_enabled(conn, o.endpoint_id, False, reason=o.disable_endpoint)
                log.warning("endpoint.disabled", endpoint=o.endpoint_id, reason=o.disable_endpoint)
        if failed:
            cutoff = now - dt.timedelta(seconds=self.config.disable_after)
            for endpoint_id in endpoint_store.disable_failing_since(conn, cutoff):
                log.warning("endpoint.disabled", endpoint=endpoint_id, reason="failing for too long")

    # -- lanes -------------------------------------------------------------

    def _sync_lanes(self, endpoints: tuple[Endpoint, ...]) -> None:
        now = time.monotonic()
        seen = set()
        for ep in endpoints:
            seen.add(ep.id)
            lane = self.lanes.get(ep.id)
            if lane is None:
                lane = self.lanes[ep.id] = Lane(
                    gate=asyncio.Semaphore(self.config.concurrency),
                    endpoint=ep,
                    breaker=CircuitBreaker(
                        threshold=self.config.breaker_threshold, probe_interval=self.config.probe_interval
                    ),
                )
            lane.endpoint = ep
            if ep.rate_limit is None:
                lane.bucket = None
            elif lane.bucket is None or lane.bucket.rate != ep.rate_limit:
                lane.bucket = TokenBucket(ep.rate_limit, now)
        for gone in set(self.lanes) - seen:
            if not self.lanes[gone].in_flight:
                del self.lanes[gone]

    def _claim_requests(self, now: float) -> list[ClaimRequest]:
        requests = []
        for lane in self.lanes.values():
            ep = lane.endpoint
            if not ep.enabled:
                continue
            per_key = ep.ordering is Ordering.PER_KEY
            free = self.config.concurrency * self.config.prefetch - len(lane.in_flight)
            allowed = lane.breaker.allowance(now, free)
            if lane.bucket is not None:
                allowed = min(allowed, lane.bucket.available(now))
            if allowed > 0:
                probe = lane.breaker.blocking
                requests.append(ClaimRequest(endpoint_id=ep.id, limit=allowed, per_key=per_key, probe=probe))
            elif lane.breaker.blocking and free > 0:
                # An operator's "retry now" goes past an open breaker.
                requests.append(ClaimRequest(endpoint_id=ep.id, limit=free, per_key=per_key, forced_only=True))
        return requests

    def _leases_to_renew(self, now: float) -> list[int]:
        half = self.config.lease / 2
        return [i for lane in self.lanes.values() for i, started in lane.in_flight.items() if now - started > half]

    def _timeout(self, requests: list[ClaimRequest], step: StepResult) -> float:
        now = time.monotonic()
        wake = [now + self.config.idle_wake]
        if step.next_due is not None:
            wake.append(now + (step.next_due - utcnow()).total_seconds())
        for lane in self.lanes.values():
            held = lane.breaker.wake_at(now)
            if held is not None:
                wake.append(held)
            if lane.bucket is not None and lane.bucket.available(now) < 1:
                wake.append(lane.bucket.next_token_at(now))
            if lane.in_flight:
                wake.append(min(lane.in_flight.values()) + self.config.lease / 2)
        return max(0.0, min(wake) - now)

    # -- sending -----------------------------------------------------------

    def _start(self, requests: list[ClaimRequest], step: StepResult) -> None:
        now = time.monotonic()
        for r in requests:
            lane = self.lanes.get(r.endpoint_id)
            got = step.claimed.get(r.endpoint_id, [])
            if lane is None:
                continue
            if r.probe:
                if got:
                    lane.breaker.started(now)
                else:
                    lane.breaker.nothing_to_probe(now)
            if lane.bucket is not None:
                lane.bucket.take(len(got))
            for delivery in got:
                lane.in_flight[delivery.id] = now
                task = asyncio.create_task(self._deliver(lane, delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _deliver(self, lane: Lane, delivery: ClaimedDelivery) -> None:
        try:
            async with lane.gate:
                result = await self.sender.send(lane.endpoint, delivery)
            now = time.monotonic()
            release = False
            if result.ok:
                release = lane.breaker.succeeded()
            elif counts_against_endpoint(result):
                lane.breaker.failed(now)
            if result.retry_after is not None:
                lane.breaker.pause(now, result.retry_after)
            outcome = decide(lane.endpoint, delivery, result, now=utcnow(), release_backlog=release)
            metrics.observe(result, outcome)
            if not result.ok:
                log.info(
                    "delivery.attempt_failed",
                    endpoint=lane.endpoint.id,
                    delivery=delivery.id,
                    kind=result.kind.value,
                    status_code=result.status_code,
                    next=outcome.status.value,
                )
            self._outcomes.append(outcome)
        finally:
            lane.in_flight.pop(delivery.id, None)
            self._wake.set()
