"""Admin routes for outbound webhooks: endpoints, their deliveries, retry and replay."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from stockwire import signatures
from stockwire.delivery import operations
from stockwire.delivery.models import (
    DEFAULT_RETRY_SCHEDULE,
    DEFAULT_TIMEOUT,
    DeliveryStatus,
    DeliveryView,
    Endpoint,
    Ordering,
)
from stockwire.hub import Hub
from stockwire.storage import deliveries
from stockwire.storage import endpoints as endpoint_store
from stockwire.storage.database import utcnow

router = APIRouter(prefix="/v1", tags=["webhooks"])

SECRET_OVERLAP = dt.timedelta(hours=24)
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Seconds = Annotated[float, Field(ge=0, le=7 * 86400)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(_Body):
    url: Url
    event_types: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=64
    )
    channel: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    secret: Annotated[str, StringConstraints(min_length=8, max_length=512)] | None = None
    description: Annotated[str, StringConstraints(max_length=1024)] = ""
    rate_limit: Annotated[float, Field(gt=0, le=100_000)] | None = None
    ordering: Ordering = Ordering.PER_KEY
    retry_schedule: list[Seconds] = Field(default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE), max_length=32)
    timeout: Annotated[float, Field(gt=0, le=60)] = DEFAULT_TIMEOUT


class EndpointPatch(_Body):
    url: Url | None = None
    event_types: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=64
    )
    channel: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    description: Annotated[str, StringConstraints(max_length=1024)] | None = None
    rate_limit: Annotated[float, Field(gt=0, le=100_000)] | None = None
    ordering: Ordering | None = None
    retry_schedule: list[Seconds] | None = Field(default=None, max_length=32)
    timeout: Annotated[float, Field(gt=0, le=60)] | None = None
    enabled: bool | None = None


class ReplayIn(_Body):
    since: AwareDatetime
    status: operations.ReplayScope = operations.ReplayScope.ALL


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _unprocessable(pointer: str, detail: str) -> HTTPException:
    return HTTPException(422, {"detail": detail, "errors": [{"pointer": pointer, "detail": detail}]})


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def endpoint_out(ep: Endpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """An endpoint as the API shows it; the secret only on create and rotate."""
    out: dict[str, Any] = {
        "id": ep.id,
        "url": ep.url,
        "description": ep.description,
        "event_types": list(ep.event_types),
        "channel": ep.channel,
        "rate_limit": ep.rate_limit,
        "ordering": ep.ordering.value,
        "retry_schedule": list(ep.retry_schedule),
        "timeout": ep.timeout,
        "enabled": ep.enabled,
        "disabled_reason": ep.disabled_reason,
        "failing_since": _iso(ep.failing_since),
        "created_at": _iso(ep.created_at),
    }
    if ep.previous_secret_until and ep.previous_secret_until > utcnow():
        out["previous_secret_expires_at"] = _iso(ep.previous_secret_until)
    if with_secret:
        out["secret"] = ep.secret
    return out


def delivery_out(view: DeliveryView) -> dict[str, Any]:
    return {
        "id": view.id,
        "event_id": view.event_id,
        "event_type": view.event_type,
        "status": view.status.value,
        "created_at": view.created_at,
        "next_attempt_at": view.next_attempt_at,
        "attempts": [
            {
                "at": a.at,
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "response": a.response,
            }
            for a in view.attempts
        ],
    }


def _check(hub: Hub, conn: Any, **fields: Any) -> None:
    found = operations.endpoint_problem(conn, allow_private=hub.settings.allow_private_targets, **fields)
    if found is not None:
        raise _unprocessable(*found)


def _found(conn: Any, endpoint_id: str, *, lock: bool = False) -> Endpoint:
    found = endpoint_store.get(conn, endpoint_id, lock=lock)
    if found is None:
        raise HTTPException(404, f"no endpoint {endpoint_id}")
    return found


@router.post("/endpoints", status_code=201)
def create_endpoint(body: EndpointIn, request: Request) -> dict[str, Any]:
    """Subscribe a URL to events; the answer holds its signing secret, shown in full only here."""
    hub = _hub(request)
    endpoint = Endpoint(
        id="ep_" + secrets.token_hex(8),
        url=body.url,
        event_types=tuple(dict.fromkeys(body.event_types)),
        channel=body.channel,
        secret=body.secret or signatures.new_secret(),
        description=body.description,
        rate_limit=body.rate_limit,
        ordering=body.ordering,
        retry_schedule=tuple(body.retry_schedule),
        timeout=body.timeout,
    )
    with hub.db.write() as conn:
        _check(
            hub, conn, url=body.url, event_types=body.event_types, channel=body.channel, secret=body.secret
        )
        created = endpoint_store.insert(conn, endpoint)
    return endpoint_out(created, with_secret=True)


@router.get("/endpoints")
def list_endpoints(request: Request) -> dict[str, Any]:
    with _hub(request).db.read() as conn:
        return {"items": [endpoint_out(e) for e in endpoint_store.list_all(conn)]}


@router.get("/endpoints/{endpoint_id}")
def get_endpoint(endpoint_id: str, request: Request) -> dict[str, Any]:
    with _hub(request).db.read() as conn:
        endpoint = _found(conn, endpoint_id)
        counts = deliveries.counts(conn, endpoint_id)
    return endpoint_out(endpoint) | {"deliveries": counts}


@router.patch("/endpoints/{endpoint_id}")
def patch_endpoint(endpoint_id: str, body: EndpointPatch, request: Request) -> dict[str, Any]:
    """Change an endpoint; only the fields given change (`"channel": null` removes the filter)."""
    hub = _hub(request)
    given = body.model_fields_set
    with hub.db.write() as conn:
        ep = _found(conn, endpoint_id, lock=True)
        _check(hub, conn, url=body.url, event_types=body.event_types or (), channel=body.channel)
        changes: dict[str, Any] = {k: getattr(body, k) for k in given if getattr(body, k) is not None}
        for name in ("event_types", "retry_schedule"):
            if name in changes:
                changes[name] = tuple(changes[name])
        for nullable in ("channel", "rate_limit"):
            if nullable in given and getattr(body, nullable) is None:
                changes[nullable] = None
        if changes.get("enabled"):
            changes |= {"disabled_reason": None, "failing_since": None}
        elif changes.get("enabled") is False:
            changes["disabled_reason"] = "disabled by an operator"
        updated = replace(ep, **changes)
        endpoint_store.update(conn, updated)
    hub.signal.fire()
    return endpoint_out(updated)


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, request: Request) -> Response:
    """Remove an endpoint with its delivery history."""
    with _hub(request).db.write() as conn:
        if not endpoint_store.delete(conn, endpoint_id):
            raise HTTPException(404, f"no endpoint {endpoint_id}")
    return Response(status_code=204)


def _set_enabled(request: Request, endpoint_id: str, enabled: bool) -> dict[str, Any]:
    hub = _hub(request)
    with hub.db.write() as conn:
        if not endpoint_store.set_enabled(conn, endpoint_id, enabled, reason="disabled by an operator"):
            raise HTTPException(404, f"no endpoint {endpoint_id}")
        endpoint = _found(conn, endpoint_id)
        deliveries.notify(conn)
    hub.signal.fire()
    return endpoint_out(endpoint)


@router.post("/endpoints/{endpoint_id}/enable")
def enable_endpoint(endpoint_id: str, request: Request) -> dict[str, Any]:
    """Deliver again; what waited while it was disabled goes out now."""
    return _set_enabled(request, endpoint_id, True)


@router.post("/endpoints/{endpoint_id}/disable")
def disable_endpoint(endpoint_id: str, request: Request) -> dict[str, Any]:
    """Stop delivering to the endpoint; what is pending waits until it is enabled again."""
    return _set_enabled(request, endpoint_id, False)


@router.post("/endpoints/{endpoint_id}/rotate-secret")
def rotate_endpoint_secret(endpoint_id: str, request: Request) -> dict[str, Any]:
    """Issue a new signing secret; for 24 h every request is signed with both the old and the new one."""
    hub = _hub(request)
    with hub.db.write() as conn:
        ep = _found(conn, endpoint_id, lock=True)
        rotated = replace(
            ep,
            secret=signatures.new_secret(),
            previous_secret=ep.secret,
            previous_secret_until=utcnow() + SECRET_OVERLAP,
        )
        endpoint_store.update(conn, rotated)
    return endpoint_out(rotated, with_secret=True)


@router.get("/endpoints/{endpoint_id}/deliveries")
def list_deliveries(
    endpoint_id: str,
    request: Request,
    status: DeliveryStatus | None = None,
    cursor: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The endpoint's deliveries, newest first, with every attempt; pass `cursor` back for older ones."""
    with _hub(request).db.read() as conn:
        _found(conn, endpoint_id)
        views = deliveries.history(conn, endpoint_id, status=status, before=cursor, limit=limit)
    return {
        "items": [delivery_out(v) for v in views],
        "cursor": str(views[-1].id) if len(views) == limit else None,
    }


@router.get("/deliveries/{delivery_id}")
def get_delivery(delivery_id: int, request: Request) -> dict[str, Any]:
    with _hub(request).db.read() as conn:
        view = deliveries.get(conn, delivery_id)
    if view is None:
        raise HTTPException(404, f"no delivery {delivery_id}")
    return delivery_out(view)


@router.post("/deliveries/{delivery_id}/retry", status_code=202)
def retry_delivery(delivery_id: int, request: Request) -> dict[str, Any]:
    """Send one delivery again now, even past an open circuit breaker."""
    hub = _hub(request)
    with hub.db.write() as conn:
        view = deliveries.get(conn, delivery_id)
        if view is None:
            raise HTTPException(404, f"no delivery {delivery_id}")
        endpoint_id = deliveries.retry_now(conn, delivery_id)
        endpoint = _found(conn, str(endpoint_id))
        if not endpoint.enabled:
            raise HTTPException(409, f"endpoint {endpoint.id} is disabled; enable it first")
    hub.signal.fire()
    return {"id": delivery_id, "status": DeliveryStatus.PENDING.value}


@router.post("/endpoints/{endpoint_id}/replay", status_code=202)
def replay_endpoint(endpoint_id: str, body: ReplayIn, request: Request) -> dict[str, Any]:
    """Send past events again: every matching event since `since`, or only the failed deliveries."""
    hub = _hub(request)
    try:
        queued = operations.replay(hub.db, endpoint_id, since=body.since, scope=body.status)
    except operations.UnknownEndpoint as exc:
        raise HTTPException(404, f"no endpoint {endpoint_id}") from exc
    hub.signal.fire()
    return {"endpoint": endpoint_id, "status": body.status.value, "queued": queued}
