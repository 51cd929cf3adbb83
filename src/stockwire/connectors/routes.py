"""`POST /v1/inbound/{channel_id}/{shopify|woocommerce|square}`: platform webhooks.

Plain Starlette endpoints, like the native route: raw body, the platform's
signature over those exact bytes, then the adapter's mapping. Native events go
through the writer (group commit); drift reports are reconciled in one write
transaction. What the hub does not act on is answered 200 `ignored`, because
the platforms disable a webhook that keeps failing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import sqlalchemy as sa
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from stockwire.api.problems import json_response, problem
from stockwire.connectors import ADAPTERS
from stockwire.connectors.base import Adapter, DriftReport, Ignored, NativeEvents
from stockwire.hub import Hub
from stockwire.inbound.payloads import InvalidPayload
from stockwire.inbound.reconcile import apply_drift_report
from stockwire.inbound.routes import body_or_problem, is_json, submit
from stockwire.inbound.service import Outcome, Submission
from stockwire.storage import outbox

log = structlog.get_logger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def ignored(reason: str) -> Response:
    return json_response({"status": "ignored", "reason": reason})


def platform_endpoint(adapter: Adapter) -> Endpoint:
    """The inbound endpoint for one platform."""

    async def receive(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        channel_id = request.path_params["channel_id"]
        record = await hub.channels.get(channel_id)
        if record is None:
            return problem(404, "unknown channel", f"no channel {channel_id!r}")
        taken = record.channel.format.value
        if taken != adapter.format:
            return problem(404, "wrong route", f"channel {channel_id} is {taken}, not {adapter.format}")
        body = await body_or_problem(request, hub.settings.max_body_bytes)
        if isinstance(body, Response):
            return body
        if adapter.is_ping(request.headers, body):
            return ignored("ping")
        error = adapter.verify(record, request.headers, body)
        if error is not None:
            log.info("connector.bad_signature", channel=channel_id, platform=adapter.format)
            return problem(401, "invalid signature", error)
        if not is_json(request.headers.get("content-type")):
            return problem(415, "unsupported media type", "send the webhook as application/json")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            try:
                payload = json.loads(body)
            except (ValueError, RecursionError):
                return problem(415, "unsupported media type", "the body is not valid JSON")
        try:
            translation = adapter.translate(record, request.headers, payload, body)
        except InvalidPayload as exc:
            log.info("connector.unmappable", channel=channel_id, platform=adapter.format, detail=str(exc))
            return problem(422, "invalid payload", str(exc), errors=[e.model_dump() for e in exc.errors])
        if isinstance(translation, Ignored):
            log.info("connector.ignored", channel=channel_id, platform=adapter.format,
                     reason=translation.reason)
            return ignored(translation.reason)
        if isinstance(translation, DriftReport):
            return await drift(hub, channel_id, translation)
        return await apply_all(hub, channel_id, translation)

    return receive


async def apply_all(hub: Hub, channel_id: str, native: NativeEvents) -> Response:
    """Submit the mapped events; several parts are answered 2xx only when every part is."""
    submissions = [
        Submission(channel=channel_id, event_id=e.event_id, body_sha256=e.fingerprint, event=e.event)
        for e in native.events
    ]
    if len(submissions) == 1:
        return await submit(hub, submissions[0])
    if hub.writer.backlog > hub.settings.max_backlog:
        return problem(503, "overloaded", "too many events are waiting; retry shortly",
                       headers={"Retry-After": "1"})
    outcomes = await asyncio.gather(*(hub.writer.submit(s) for s in submissions))
    worst = max(o.status for o in outcomes)
    if worst >= 300:
        status = "failed"  # the platform retries; parts already applied answer `duplicate` then
    elif all(o.body.get("status") == "duplicate" for o in outcomes):
        status = "duplicate"
    else:
        status = "applied"
    body: dict[str, Any] = {"status": status, "parts": [o.body for o in outcomes]}
    return json_response(body, worst, headers={"Retry-After": "1"} if worst == 503 else None)


async def drift(hub: Hub, channel_id: str, report: DriftReport) -> Response:
    def write() -> Outcome:
        with hub.db.write() as conn:
            outcome = apply_drift_report(conn, channel=channel_id, event_id=report.event_id,
                                         fingerprint=report.fingerprint, view=report.available)
            outbox.append(conn, outcome.events)
        return outcome

    try:
        outcome = await run_in_threadpool(write)
    except sa.exc.OperationalError as exc:
        log.warning("connector.drift_failed", channel=channel_id, error=str(exc.orig))
        return problem(503, "database unavailable", "the report was not applied; retry shortly",
                       headers={"Retry-After": "1"})
    if outcome.events:
        hub.signal.fire()
    return json_response(outcome.body, outcome.status)


ROUTES: list[tuple[str, Endpoint]] = [
    (f"/v1/inbound/{{channel_id}}/{name}", platform_endpoint(adapter)) for name, adapter in ADAPTERS.items()
]
