"""Records of the delivery engine: endpoints, deliveries, attempts and their states."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
DEFAULT_TIMEOUT = 15.0
# Event types whose payload is a full state with a `version`: only the newest matters.
COMPACTABLE_TYPES = frozenset({"availability.changed", "inventory.updated"})
EVENT_FAMILIES = ("inventory", "availability", "order", "fulfillment", "stock")


class Ordering(enum.StrEnum):
    PER_KEY = "per_key"
    NONE = "none"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPERSEDED = "superseded"


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """A subscriber's HTTP callback and how to deliver to it."""

    id: str
    url: str
    event_types: tuple[str, ...] = ("*",)
    channel: str | None = None
    secret: str
    previous_secret: str | None = None
    previous_secret_until: dt.datetime | None = None
    description: str = ""
    rate_limit: float | None = None
    ordering: Ordering = Ordering.PER_KEY
    retry_schedule: tuple[float, ...] = DEFAULT_RETRY_SCHEDULE
    timeout: float = DEFAULT_TIMEOUT
    enabled: bool = True
    disabled_reason: str | None = None
    failing_since: dt.datetime | None = None
    # Only events committed after the endpoint was created are fanned out to it.
    after_event_id: int = 0
    created_at: dt.datetime | None = None

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets that sign a request now: the current one, and the previous one for 24 h."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_until and now < self.previous_secret_until:
            secrets.append(self.previous_secret)
        return secrets


@dataclass(frozen=True, kw_only=True)
class EventHead:
    """What fan-out needs of an outbox event: no payload."""

    id: int
    type: str
    key: str
    channels: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    """A delivery to create: one event for one endpoint."""

    endpoint_id: str
    event_id: int
    event_type: str
    key: str


@dataclass(frozen=True, kw_only=True)
class ClaimedDelivery:
    """A delivery this process holds a lease on, with the event to send."""

    id: int
    endpoint_id: str
    event_id: int
    event_type: str
    key: str
    attempts: int
    data: dict[str, Any]
    timestamp: str

    @property
    def webhook_id(self) -> str:
        return f"evt_{self.event_id}"

    def envelope(self) -> dict[str, Any]:
        return {"type": self.event_type, "timestamp": self.timestamp, "data": self.data}


class AttemptKind(enum.StrEnum):
    """How one HTTP attempt ended."""

    SUCCESS = "success"
    HTTP_ERROR = "http_error"
    GONE = "gone"
    THROTTLED = "throttled"
    NETWORK_ERROR = "network_error"
    TIMEOUT = "timeout"
    BLOCKED = "blocked"


@dataclass(frozen=True, kw_only=True)
class AttemptResult:
    """What one POST to an endpoint produced."""

    kind: AttemptKind
    at: dt.datetime
    latency_ms: int
    status_code: int | None = None
    error: str | None = None
    response: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind is AttemptKind.SUCCESS


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """A finished attempt and what it decides for its delivery and endpoint."""

    delivery_id: int
    endpoint_id: str
    key: str
    event_type: str
    result: AttemptResult
    status: DeliveryStatus
    next_attempt_at: dt.datetime | None = None
    disable_endpoint: str | None = None
    release_backlog: bool = False


@dataclass(frozen=True, kw_only=True)
class AttemptView:
    at: str
    status_code: int | None
    latency_ms: int
    error: str | None
    response: str | None


@dataclass(frozen=True, kw_only=True)
class DeliveryView:
    """A delivery as the history API shows it."""

    id: int
    event_id: str
    event_type: str
    status: DeliveryStatus
    created_at: str
    next_attempt_at: str | None
    attempts: list[AttemptView] = field(default_factory=list)
