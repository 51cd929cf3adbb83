"""One signed POST to an endpoint, over keep-alive connections (`delivery.http`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import orjson

from stockwire import __version__, signatures
from stockwire.delivery.http import RequestError, WebhookClient
from stockwire.delivery.models import AttemptKind, AttemptResult, ClaimedDelivery, Endpoint
from stockwire.delivery.schedule import parse_retry_after
from stockwire.delivery.ssrf import TargetBlocked
from stockwire.storage.database import utcnow

RESPONSE_EXCERPT = 2048
# Read at most this much of an answer; a longer one costs its connection.
RESPONSE_READ_LIMIT = 64 * 1024
USER_AGENT = f"stockwire/{__version__} (+https://www.standardwebhooks.com)"


def make_client(*, allow_private: bool) -> WebhookClient:
    """The client every delivery goes through: pooled per origin, no redirects, guarded targets."""
    return WebhookClient(guard=not allow_private, user_agent=USER_AGENT)


def signed_request(
    endpoint: Endpoint,
    delivery: ClaimedDelivery,
    *,
    now: float | None = None,
    keys: list[bytes] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and Standard Webhooks headers of one attempt; every valid secret signs."""
    body = orjson.dumps(delivery.envelope())
    timestamp = int(time.time() if now is None else now)
    if keys is None:
        keys = [signatures.secret_key(s) for s in endpoint.signing_secrets(utcnow())]
    return body, {
        "content-type": "application/json",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures.sign(keys, delivery.webhook_id, timestamp, body),
    }


def classify(status: int, headers: Mapping[str, str]) -> tuple[AttemptKind, float | None]:
    """What an HTTP status means for the delivery, and the Retry-After it carries (429/503 only)."""
    if 200 <= status < 300:
        return AttemptKind.SUCCESS, None
    if status == 410:
        return AttemptKind.GONE, None
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("retry-after"), now=utcnow())
        if retry_after is not None:
            return AttemptKind.THROTTLED, retry_after
    return AttemptKind.HTTP_ERROR, None


class Sender:
    """Sends deliveries; never raises for anything the endpoint or the network does."""

    def __init__(self, client: WebhookClient) -> None:
        self.client = client
        self._keys: dict[str, bytes] = {}

    def _key(self, secret: str) -> bytes:
        key = self._keys.get(secret)
        if key is None:
            key = self._keys[secret] = signatures.secret_key(secret)
        return key

    async def send(self, endpoint: Endpoint, delivery: ClaimedDelivery) -> AttemptResult:
        at = utcnow()
        keys = [self._key(s) for s in endpoint.signing_secrets(at)]
        body, headers = signed_request(endpoint, delivery, keys=keys)
        started = time.perf_counter()

        def result(kind: AttemptKind, **fields: Any) -> AttemptResult:
            latency = int((time.perf_counter() - started) * 1000)
            return AttemptResult(kind=kind, at=at, latency_ms=latency, **fields)

        try:
            async with asyncio.timeout(endpoint.timeout):
                answer = await self.client.post(endpoint.url, body, headers, read_limit=RESPONSE_READ_LIMIT)
        except TimeoutError:
            return result(AttemptKind.TIMEOUT, error=f"no answer within {endpoint.timeout:g} s")
        except TargetBlocked as exc:
            return result(AttemptKind.BLOCKED, error=f"refused target: {exc}"[:RESPONSE_EXCERPT])
        except (RequestError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return result(AttemptKind.NETWORK_ERROR, error=error[:RESPONSE_EXCERPT])
        kind, retry_after = classify(answer.status, answer.headers)
        text = answer.body[:RESPONSE_EXCERPT].decode("utf-8", errors="replace")
        return result(
            kind,
            status_code=answer.status,
            response=text,
            retry_after=retry_after,
            error=None if kind is AttemptKind.SUCCESS else f"HTTP {answer.status}",
        )

    async def aclose(self) -> None:
        await self.client.aclose()
