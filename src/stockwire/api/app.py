"""The application factory: admin API, inbound routes, health and metrics in one ASGI app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import prometheus_client
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from stockwire import __version__
from stockwire.api import admin, feed
from stockwire.api import endpoints as webhook_endpoints
from stockwire.api.auth import BearerAuth
from stockwire.api.problems import json_response, problem
from stockwire.connectors.routes import ROUTES as PLATFORM_ROUTES
from stockwire.hub import Hub
from stockwire.inbound.payloads import pointer
from stockwire.inbound.routes import receive_native

TITLES = {400: "bad request", 401: "unauthorized", 404: "not found", 405: "method not allowed",
          409: "conflict", 413: "payload too large", 415: "unsupported media type", 422: "invalid request"}

Startup = Callable[[Hub, FastAPI], contextlib.AbstractAsyncContextManager[None]]


def _validation_problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        where = loc[1:] if loc and loc[0] == "body" else loc
        errors.append({"pointer": pointer(where), "detail": e["msg"]})
    return problem(422, "invalid request", "; ".join(f"{x['pointer'] or '/'}: {x['detail']}" for x in errors),
                   errors=errors)


def _http_problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail: Any = exc.detail
    errors = None
    if isinstance(detail, dict):
        errors = detail.get("errors")
        detail = detail.get("detail", "")
    return problem(exc.status_code, TITLES.get(exc.status_code, "error"), str(detail), errors=errors,
                   headers=getattr(exc, "headers", None))


def create_app(hub: Hub, *, token_sha256: str, extras: list[Startup] | None = None) -> Any:
    """Build the ASGI app for `hub`; `extras` start background work (the dispatcher) with it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.start()
        async with contextlib.AsyncExitStack() as stack:
            for extra in extras or []:
                await stack.enter_async_context(extra(hub, app))
            yield
        hub.stop()

    app = FastAPI(
        title="stockwire",
        version=__version__,
        summary="Real-time inventory hub: signed webhooks in, signed webhooks out.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.hub = hub
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.include_router(admin.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(feed.router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus metrics (deliveries, latency, backlog per endpoint)."""
        return Response(prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST)

    @app.get("/readyz", tags=["health"])
    def readyz() -> Response:
        """The database answers and the schema is current."""
        if hub.db.ping():
            return json_response({"status": "ready", "writer_backlog": hub.writer.backlog})
        return problem(503, "not ready", "the database does not answer", headers={"Retry-After": "5"})

    inbound = Starlette(
        routes=[Route("/v1/inbound/{channel_id}", receive_native, methods=["POST"])]
        + [Route(path, endpoint, methods=["POST"]) for path, endpoint in PLATFORM_ROUTES],
        exception_handlers={StarletteHTTPException: _http_problem},
    )
    inbound.state.hub = hub
    return BearerAuth(InboundFastPath(app, inbound), token_sha256=token_sha256)


class InboundFastPath:
    """Send `/v1/inbound/...` straight to a bare Starlette app; everything else to FastAPI.

    Inbound webhooks are the hot path: they skip FastAPI's middleware stack and
    its walk over every admin route.
    """

    def __init__(self, app: ASGIApp, inbound: ASGIApp) -> None:
        self.app = app
        self.inbound = inbound

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/inbound/"):
            await self.inbound(scope, receive, send)
        else:
            await self.app(scope, receive, send)
