"""Real webhook receivers for end-to-end tests: a Starlette app under uvicorn on loopback.

Each verifies every request with the `standardwebhooks` and `svix` libraries,
exactly as a channel's developer would, and keeps what it accepted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import standardwebhooks
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from svix.webhooks import Webhook as SvixWebhook

from tests.support import free_port


@dataclass(frozen=True, kw_only=True)
class Received:
    webhook_id: str
    type: str
    data: dict[str, Any]
    body: dict[str, Any]


class Receiver:
    """One channel's webhook endpoint: verifies, de-duplicates by webhook-id, records."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.secret: str | None = None
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        if self.secret is None:
            return JSONResponse({"error": "not ready"}, status_code=503)
        try:
            standardwebhooks.Webhook(self.secret).verify(body, headers)
            SvixWebhook(self.secret).verify(body, headers)
        except Exception as exc:  # any verification failure is recorded and refused
            with self._lock:
                self.rejected.append(repr(exc))
            return JSONResponse({"error": "bad signature"}, status_code=401)
        envelope = json.loads(body)
        with self._lock:
            if all(r.webhook_id != headers["webhook-id"] for r in self.received):
                self.received.append(Received(webhook_id=headers["webhook-id"], type=envelope["type"],
                                              data=envelope["data"], body=envelope))
        return JSONResponse({"ok": True})

    def start(self) -> Receiver:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, f"receiver {self.name} did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def events(self, type_: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if type_ is None or r.type == type_]

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """The first accepted event matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never received a matching event; got "
                                     f"{[(e.type, e.data) for e in self.events()]}")
            time.sleep(0.02)
