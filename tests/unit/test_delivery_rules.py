"""The delivery engine's pure rules: matching, retry timing, breaker, rate limit, outcomes, targets, signing."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook
from svix.webhooks import Webhook as SvixWebhook

from stockwire import signatures
from stockwire.delivery.breaker import BreakerState, CircuitBreaker, TokenBucket
from stockwire.delivery.matching import deliveries_for, type_matches, type_pattern_error, wants
from stockwire.delivery.models import (
    AttemptKind,
    AttemptResult,
    ClaimedDelivery,
    DeliveryStatus,
    Endpoint,
    EventHead,
)
from stockwire.delivery.outcomes import counts_against_endpoint, decide
from stockwire.delivery.schedule import next_delay, parse_retry_after
from stockwire.delivery.sender import classify, signed_request
from stockwire.delivery.ssrf import blocked_reason, url_problem

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def endpoint(**fields: object) -> Endpoint:
    values: dict[str, object] = {"secret": SECRET, **fields}
    return Endpoint(id="ep", url="https://example.com/hook", **values)  # type: ignore[arg-type]


def event(type_: str = "inventory.updated", channels: tuple[str, ...] = ("pos-1",), id_: int = 5) -> EventHead:
    return EventHead(id=id_, type=type_, key="inventory:A:s1", channels=channels)


def delivery(attempts: int = 0) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=1,
        endpoint_id="ep",
        event_id=7,
        event_type="inventory.updated",
        key="k",
        attempts=attempts,
        data={"sku": "A", "version": 3},
        timestamp="2026-01-01T00:00:00Z",
    )


def result(kind: AttemptKind, status: int | None = None, retry_after: float | None = None) -> AttemptResult:
    return AttemptResult(kind=kind, at=NOW, latency_ms=3, status_code=status, retry_after=retry_after)


@pytest.mark.parametrize(
    ("patterns", "type_", "expected"),
    [
        (["*"], "order.reserved", True),
        (["order.*"], "order.reserved", True),
        (["order.*"], "orders.x", False),
        (["inventory.updated"], "inventory.updated", True),
        (["inventory.updated"], "availability.changed", False),
    ],
)
def test_type_patterns_match_exact_names_prefixes_and_star(patterns: list[str], type_: str, expected: bool) -> None:
    """`*` matches all, `order.*` a family, anything else exactly."""
    assert type_matches(patterns, type_) is expected


def test_unknown_type_patterns_are_refused() -> None:
    """Only `*`, known families with `.*`, or well-formed names are accepted."""
    assert type_pattern_error("order.*") is None
    assert type_pattern_error("stock.low") is None
    assert type_pattern_error("nope") is not None
    assert type_pattern_error("bogus.*") is not None


def test_wants_checks_enabled_channel_and_creation_point() -> None:
    """A disabled endpoint, another channel, or an event older than the endpoint are not delivered."""
    assert wants(endpoint(), event())
    assert not wants(endpoint(enabled=False), event())
    assert not wants(endpoint(channel="web-1"), event())
    assert wants(endpoint(channel="web-1"), event(channels=("pos-1", "web-1")))
    assert not wants(endpoint(after_event_id=5), event(id_=5))
    rows = deliveries_for([event(), event(type_="order.reserved", id_=6)], [endpoint(event_types=("order.*",))])
    assert [r.event_id for r in rows] == [6]


def test_schedule_jitter_stays_within_ten_percent_and_ends() -> None:
    """Delays follow the schedule within +/-10%, and None once it is spent."""
    rng = random.Random(1)
    for _ in range(100):
        delay = next_delay([5, 300], 1, rng=rng)
        assert delay is not None
        assert 4.5 <= delay <= 5.5
    assert next_delay([5, 300], 3) is None


def test_retry_after_takes_seconds_or_a_date() -> None:
    """Retry-After is delta-seconds or an HTTP date; nonsense is ignored, huge values capped."""
    assert parse_retry_after("7", now=NOW) == 7
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=NOW) == 60
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after("99999999", now=NOW) == 24 * 3600


def test_breaker_opens_probes_on_interval_and_closes_on_success() -> None:
    """After `threshold` failures only one probe per interval goes out; a success closes it."""
    b = CircuitBreaker(threshold=3, probe_interval=10)
    for _ in range(3):
        b.failed(0)
    assert b.state is BreakerState.OPEN
    assert b.allowance(5, 16) == 0
    assert b.allowance(10, 16) == 1
    b.started(10)
    assert b.allowance(11, 16) == 0
    b.failed(11)
    assert b.allowance(19, 16) == 0
    assert b.allowance(20, 16) == 1
    b.started(20)
    assert b.succeeded() is True
    assert b.allowance(21, 16) == 16


def test_breaker_pause_holds_everything_until_then() -> None:
    """Retry-After pauses the endpoint without opening the breaker."""
    b = CircuitBreaker()
    b.pause(0, 5)
    assert b.allowance(4, 16) == 0
    assert b.wake_at(4) == 5
    assert b.allowance(5, 16) == 16


def test_token_bucket_limits_the_rate() -> None:
    """A 2/s bucket allows a burst of 2, then one more every half second."""
    bucket = TokenBucket(2, now=0)
    assert bucket.available(0) == 2
    bucket.take(2)
    assert bucket.available(0.25) == 0
    assert bucket.available(0.5) == 1
    assert bucket.next_token_at(0.5) == 0.5


def test_outcomes_follow_the_answer() -> None:
    """2xx delivered; 410 failed and disables; 5xx retried, then failed; Retry-After replaces the slot."""
    ep = endpoint(retry_schedule=(5, 300))
    assert decide(ep, delivery(), result(AttemptKind.SUCCESS, 200), now=NOW).status is DeliveryStatus.DELIVERED
    gone = decide(ep, delivery(), result(AttemptKind.GONE, 410), now=NOW)
    assert gone.status is DeliveryStatus.FAILED
    assert gone.disable_endpoint
    retry = decide(ep, delivery(), result(AttemptKind.HTTP_ERROR, 500), now=NOW, rng=random.Random(0))
    assert retry.status is DeliveryStatus.PENDING
    assert retry.next_attempt_at is not None
    assert 4.5 <= (retry.next_attempt_at - NOW).total_seconds() <= 5.5
    assert decide(ep, delivery(2), result(AttemptKind.HTTP_ERROR, 500), now=NOW).status is DeliveryStatus.FAILED
    throttled = decide(ep, delivery(), result(AttemptKind.THROTTLED, 429, retry_after=42), now=NOW)
    assert throttled.next_attempt_at == NOW + dt.timedelta(seconds=42)


def test_only_endpoint_health_failures_trip_the_breaker() -> None:
    """Network errors, timeouts and 5xx count against the endpoint; a 400 does not."""
    assert counts_against_endpoint(result(AttemptKind.NETWORK_ERROR))
    assert counts_against_endpoint(result(AttemptKind.HTTP_ERROR, 502))
    assert not counts_against_endpoint(result(AttemptKind.HTTP_ERROR, 400))


def test_classify_reads_status_and_retry_after() -> None:
    """429/503 with Retry-After are throttling; without it they are plain errors."""
    assert classify(204, {}) == (AttemptKind.SUCCESS, None)
    assert classify(410, {}) == (AttemptKind.GONE, None)
    assert classify(429, {"retry-after": "3"}) == (AttemptKind.THROTTLED, 3)
    assert classify(503, {}) == (AttemptKind.HTTP_ERROR, None)
    assert classify(302, {}) == (AttemptKind.HTTP_ERROR, None)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "240.0.0.1",
    ],
)
def test_non_public_addresses_are_blocked(address: str) -> None:
    """Private, loopback, link-local, multicast, reserved, shared and mapped addresses are refused."""
    assert blocked_reason([address]) is not None


def test_public_addresses_and_url_rules() -> None:
    """Public addresses pass; only http(s) URLs with a host and no credentials are accepted."""
    assert blocked_reason(["93.184.216.34", "2606:2800:220:1::1"]) is None
    assert url_problem("ftp://example.com/", allow_private=True) is not None
    assert url_problem("http://user:pw@example.com/", allow_private=True) is not None
    assert url_problem("http://127.0.0.1:8000/hook", allow_private=False) is not None
    assert url_problem("http://127.0.0.1:8000/hook", allow_private=True) is None


def test_signed_request_verifies_with_both_libraries_and_rotation() -> None:
    """The headers verify with standardwebhooks and svix, with either secret while a rotation overlaps."""
    new = signatures.new_secret()
    ep = endpoint(
        secret=new, previous_secret=SECRET, previous_secret_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    body, headers = signed_request(ep, delivery())
    assert headers["webhook-id"] == "evt_7"
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, SECRET):
        StandardWebhook(secret).verify(body, headers)
        SvixWebhook(secret).verify(body, headers)


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    """Our signing reproduces the Standard Webhooks reference vector."""
    key = signatures.secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    sig = signatures.sign([key], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
