"""Prometheus metrics of the delivery engine (served at `/metrics`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stockwire.delivery.models import AttemptKind, AttemptResult, DeliveryStatus, Outcome
from stockwire.storage import deliveries
from stockwire.storage.database import Database

ATTEMPTS = Counter(
    "stockwire_delivery_attempts",
    "HTTP attempts to endpoints, by how they ended.",
    ["outcome"],
)
DELIVERIES = Counter(
    "stockwire_deliveries_finished",
    "Deliveries that reached a final state, by state.",
    ["status"],
)
LATENCY = Histogram(
    "stockwire_delivery_latency_seconds",
    "Time from sending a webhook to its answer.",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
FANNED_OUT = Counter("stockwire_deliveries_created", "Deliveries created by fan-out and replay.")


_ATTEMPTS_BY_KIND = {k: ATTEMPTS.labels(k.value) for k in AttemptKind}
_FINISHED_BY_STATUS: dict[DeliveryStatus, Counter] = {
    s: DELIVERIES.labels(s.value) for s in DeliveryStatus if s is not DeliveryStatus.PENDING
}


def observe(result: AttemptResult, outcome: Outcome) -> None:
    """Count one finished attempt and, if it was the last, its delivery's final state."""
    _ATTEMPTS_BY_KIND[result.kind].inc()
    LATENCY.observe(result.latency_ms / 1000)
    finished = _FINISHED_BY_STATUS.get(outcome.status)
    if finished is not None:
        finished.inc()


class BacklogCollector(Collector):
    """Pending deliveries per endpoint, read from the database when scraped (so it is global)."""

    def __init__(self) -> None:
        self.databases: list[Database] = []

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "stockwire_delivery_backlog", "Pending deliveries per endpoint.", labels=["endpoint"]
        )
        for db in list(self.databases)[-1:]:
            try:
                with db.read() as conn:
                    for endpoint_id, count in sorted(deliveries.backlog(conn).items()):
                        family.add_metric([endpoint_id], count)
            except Exception:  # noqa: S112 - a scrape must not fail because the database is away
                continue
        yield family


BACKLOG = BacklogCollector()
REGISTRY.register(BACKLOG)


def watch_backlog(db: Database) -> None:
    """Report `db`'s backlog (the most recently registered database wins)."""
    BACKLOG.databases = [*BACKLOG.databases[-3:], db]


def forget_backlog(db: Database) -> None:
    BACKLOG.databases = [d for d in BACKLOG.databases if d is not db]
