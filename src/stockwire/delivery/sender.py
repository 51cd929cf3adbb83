"""One signed POST to an endpoint, over a shared keep-alive connection pool."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpcore
import httpx
import orjson

from stockwire import __version__, signatures
from stockwire.delivery.models import AttemptKind, AttemptResult, ClaimedDelivery, Endpoint
from stockwire.delivery.schedule import parse_retry_after
from stockwire.delivery.ssrf import GuardedBackend, TargetBlocked
from stockwire.storage.database import utcnow

RESPONSE_EXCERPT = 2048
# Read at most this much of an answer, so the connection can still be reused.
RESPONSE_READ_LIMIT = 64 * 1024
USER_AGENT = f"stockwire/{__version__} (+https://www.standardwebhooks.com)"


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, with a connection pool whose every connection passes the target guard."""

    def __init__(self, *, limits: httpx.Limits, guard: bool) -> None:
        super().__init__(limits=limits, trust_env=False)
        if guard:
            self._pool = httpcore.AsyncConnectionPool(
                ssl_context=httpx.create_ssl_context(),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=GuardedBackend(),
            )


def make_client(*, allow_private: bool, max_connections: int = 256) -> httpx.AsyncClient:
    """The client every delivery goes through: pooled, no redirects, no proxies from the environment."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections, keepalive_expiry=30
    )
    return httpx.AsyncClient(
        transport=GuardedTransport(limits=limits, guard=not allow_private),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": USER_AGENT},
    )


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


def classify(status: int, headers: httpx.Headers) -> tuple[AttemptKind, float | None]:
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

    def __init__(self, client: httpx.AsyncClient) -> None:
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
                async with self.client.stream(
                    "POST", endpoint.url, content=body, headers=headers, timeout=endpoint.timeout
                ) as response:
                    excerpt = bytearray()
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= RESPONSE_READ_LIMIT:
                            break
        except TimeoutError:
            return result(AttemptKind.TIMEOUT, error=f"no answer within {endpoint.timeout:g} s")
        except httpx.TimeoutException as exc:
            return result(
                AttemptKind.TIMEOUT, error=f"{type(exc).__name__}: no answer within {endpoint.timeout:g} s"
            )
        except httpx.HTTPError as exc:
            kind = (
                AttemptKind.BLOCKED if isinstance(exc.__cause__, TargetBlocked) else AttemptKind.NETWORK_ERROR
            )
            return result(kind, error=f"{type(exc).__name__}: {exc}"[:RESPONSE_EXCERPT])
        except OSError as exc:
            return result(AttemptKind.NETWORK_ERROR, error=f"{type(exc).__name__}: {exc}"[:RESPONSE_EXCERPT])
        kind, retry_after = classify(response.status_code, response.headers)
        text = bytes(excerpt[:RESPONSE_EXCERPT]).decode("utf-8", errors="replace")
        return result(
            kind,
            status_code=response.status_code,
            response=text,
            retry_after=retry_after,
            error=None if kind is AttemptKind.SUCCESS else f"HTTP {response.status_code}",
        )

    async def aclose(self) -> None:
        await self.client.aclose()
