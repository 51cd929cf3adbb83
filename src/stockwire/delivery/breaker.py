"""Per-endpoint protection: a circuit breaker and a token-bucket rate limit.

Both are plain objects driven by a monotonic clock passed in, so their rules can
be tested without waiting.
"""

from __future__ import annotations

import enum


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PROBING = "probing"


class CircuitBreaker:
    """Stops sending to an endpoint that keeps failing, and probes it.

    After `threshold` failures in a row the breaker opens: nothing is sent but
    one probe every `probe_interval` seconds. A successful probe closes it (and
    the caller then releases the endpoint's backlog at once); a failed probe
    keeps it open. `Retry-After` pauses the endpoint without opening it.
    """

    def __init__(self, *, threshold: int = 5, probe_interval: float = 15.0) -> None:
        self.threshold = threshold
        self.probe_interval = probe_interval
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.next_probe_at = 0.0
        self.paused_until = 0.0

    def allowance(self, now: float, free_slots: int) -> int:
        """How many deliveries may start now."""
        if now < self.paused_until:
            return 0
        if self.state is BreakerState.CLOSED:
            return free_slots
        if self.state is BreakerState.OPEN and now >= self.next_probe_at and free_slots > 0:
            return 1
        return 0

    def started(self, now: float) -> None:
        """A delivery went out; when open, it is the probe."""
        if self.state is BreakerState.OPEN:
            self.state = BreakerState.PROBING
            self.next_probe_at = now + self.probe_interval

    def nothing_to_probe(self, now: float) -> None:
        """An open breaker found nothing to probe with: look again one interval later."""
        self.next_probe_at = now + self.probe_interval

    def succeeded(self) -> bool:
        """Record a success; True if it closed an open breaker (the backlog may flow)."""
        was_open = self.state is not BreakerState.CLOSED
        self.state = BreakerState.CLOSED
        self.failures = 0
        return was_open

    def failed(self, now: float) -> None:
        self.failures += 1
        if self.state is BreakerState.PROBING or self.failures >= self.threshold:
            if self.state is BreakerState.CLOSED:
                self.next_probe_at = now + self.probe_interval
            self.state = BreakerState.OPEN

    def pause(self, now: float, seconds: float) -> None:
        """The endpoint asked for a pause (`Retry-After`): send nothing until then."""
        self.paused_until = max(self.paused_until, now + seconds)

    def wake_at(self, now: float) -> float | None:
        """When this breaker next allows a delivery that it holds back now, if ever on its own."""
        if now < self.paused_until:
            return self.paused_until
        if self.state is BreakerState.OPEN:
            return max(now, self.next_probe_at)
        return None

    @property
    def blocking(self) -> bool:
        return self.state is not BreakerState.CLOSED


class TokenBucket:
    """At most `rate` starts per second on average, bursts of up to `rate` (at least 1)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = now

    def available(self, now: float) -> int:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return int(self.tokens)

    def take(self, n: int) -> None:
        self.tokens -= n

    def next_token_at(self, now: float) -> float:
        self.available(now)
        return now + max(0.0, (1 - self.tokens) / self.rate)
