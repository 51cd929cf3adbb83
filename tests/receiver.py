"""A scripted webhook receiver on loopback that checks every signature as a customer would."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook as StandardWebhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from svix.webhooks import Webhook as SvixWebhook

from tests.support import free_port


@dataclass
class Received:
    """One request the receiver saw, and what it answered."""

    webhook_id: str
    timestamp: str
    signature: str
    body: dict[str, Any]
    answered: int
    at: float
    verified: bool
    user_agent: str

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.body["data"])


Answer = int | tuple[int, dict[str, str]] | Callable[["Received"], Any]


@dataclass
class Script:
    """What the receiver answers: a status, `(status, headers)`, or `"hang"` (never answers in time)."""

    answer: Any = 200
    delay: float = 0.0
    body: str = "ok"


class Receiver:
    """A Starlette app under uvicorn in a thread; `answer` can be changed while it runs."""

    def __init__(self, *, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.secrets: list[str] = []
        self.script = Script()
        self.requests: list[Received] = []
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # -- scripting ---------------------------------------------------------

    def answer(self, answer: Any, *, delay: float = 0.0, body: str = "ok") -> None:
        self.script = Script(answer=answer, delay=delay, body=body)

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                StandardWebhook(secret).verify(body, headers)
                SvixWebhook(secret).verify(body, headers)
            except Exception:  # noqa: S112 - try the next secret
                continue
            return True
        return False

    async def _hook(self, request: Request) -> Response:
        raw = await request.body()
        headers = dict(request.headers.items())
        script = self.script
        status, extra = 200, {}
        if script.answer == "hang":
            await asyncio.sleep(3600)
        if script.delay:
            await asyncio.sleep(script.delay)
        if isinstance(script.answer, tuple):
            status, extra = script.answer
        elif isinstance(script.answer, int):
            status = script.answer
        verified = self.verify(raw, headers)
        item = Received(
            webhook_id=headers.get("webhook-id", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            signature=headers.get("webhook-signature", ""),
            body=json.loads(raw),
            answered=status,
            at=time.monotonic(),
            verified=verified,
            user_agent=headers.get("user-agent", ""),
        )
        if callable(script.answer):
            status = int(script.answer(item))
            item.answered = status
        with self._lock:
            self.requests.append(item)
            if not verified:
                self.bad_signatures += 1
        return Response(script.body, status_code=status, headers=extra)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Receiver:
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve()),  # type: ignore[union-attr]
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop listening: from now on connections are refused."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    # -- looking at what arrived -------------------------------------------

    def accepted(self) -> list[Received]:
        """Requests answered 2xx."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver: condition not met in {timeout} s; got {len(self.requests)} "
                    f"requests: {[(r.type, r.answered) for r in self.requests[-10:]]}"
                )
            time.sleep(0.02)

    def wait_accepted(self, count: int, timeout: float = 15.0) -> list[Received]:
        self.wait_for(lambda r: len(r.accepted()) >= count, timeout)
        return self.accepted()


@dataclass
class Receivers:
    """Several receivers, stopped together."""

    items: list[Receiver] = field(default_factory=list)

    def new(self, **kwargs: Any) -> Receiver:
        r = Receiver(**kwargs).start()
        self.items.append(r)
        return r

    def stop(self) -> None:
        for r in self.items:
            r.stop()


def create_endpoint(admin: Any, url: str, **fields: Any) -> dict[str, Any]:
    """POST /v1/endpoints and return the answer (asserting 201)."""
    r = admin.post("/v1/endpoints", json={"url": url, **fields})
    assert r.status_code == 201, r.text
    return dict(r.json())


FAST_DELIVERY_ENV = {
    "STOCKWIRE_DELIVERY_PROBE_INTERVAL": "0.5",
    "STOCKWIRE_DELIVERY_BREAKER_THRESHOLD": "3",
    "STOCKWIRE_DELIVERY_IDLE_WAKE": "1",
    "STOCKWIRE_DELIVERY_LEASE": "4",
}
