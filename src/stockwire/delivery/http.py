"""A lean HTTP/1.1 client for webhooks: one keep-alive pool per origin, on h11.

Why not httpx here: its connection pool scans every connection on each request,
so with a few dozen keep-alive connections most of a webhook's CPU went to the
pool (measured: 1.5 ms per request at 2 connections per endpoint, 3.4 ms at 16;
see docs/benchmarks.md). This client does only what a webhook needs: POST a
small body, read the status, headers and a capped body, keep the connection
for the next request. No redirects, no proxies, no cookies. Every new
connection goes through the target guard (`ssrf.connect_guarded`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from stockwire.delivery.ssrf import connect_guarded

READ_CHUNK = 65536
IDLE_SECONDS = 30.0


class RequestError(Exception):
    """The request did not get a complete answer (connection refused, reset, protocol error)."""


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class Origin:
    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> tuple[Origin, str]:
        """The origin of `url` and the request target (path and query)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RequestError(f"not an http(s) URL: {url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(scheme=parts.scheme, host=parts.hostname, port=port), target

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        return (
            not self.reader.at_eof()
            and not self.writer.is_closing()
            and time.monotonic() - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def exchange(self, request: h11.Request, body: bytes, read_limit: int) -> Answer:
        self.writer.write(
            self.h11.send(request) + self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        )
        response: h11.Response | None = None
        chunks: list[bytes] = []
        size = 0
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(READ_CHUNK)
                self.h11.receive_data(data)
                if not data and response is None:
                    raise RequestError("the server closed the connection without answering")
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                if size < read_limit:
                    chunks.append(bytes(event.data))
                size += len(event.data)
                if size >= read_limit:
                    break  # too long to wait for: keep the start, drop the connection
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        if response is None:
            raise RequestError("no answer")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
        return Answer(status=response.status_code, headers=headers, body=b"".join(chunks))

    def reusable(self) -> bool:
        if self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE:
            self.h11.start_next_cycle()
            self.idle_since = time.monotonic()
            return True
        return False


class Pool:
    """Idle keep-alive connections to one origin."""

    def __init__(self, origin: Origin, *, guard: bool, ssl_context: ssl.SSLContext | None) -> None:
        self.origin = origin
        self.guard = guard
        self.ssl_context = ssl_context
        self.idle: deque[_Connection] = deque()

    async def _connect(self) -> _Connection:
        reader, writer = await connect_guarded(
            self.origin.host,
            self.origin.port,
            guard=self.guard,
            ssl_context=self.ssl_context if self.origin.scheme == "https" else None,
        )
        return _Connection(reader, writer)

    async def post(self, target: str, headers: list[tuple[str, str]], body: bytes, read_limit: int) -> Answer:
        request = h11.Request(
            method="POST",
            target=target,
            headers=[("host", self.origin.host_header), ("content-length", str(len(body))), *headers],
        )
        while self.idle:
            conn = self.idle.pop()
            if not conn.usable():
                conn.close()
                continue
            try:
                answer = await conn.exchange(request, body, read_limit)
            except (RequestError, OSError, h11.ProtocolError):
                # A kept-alive connection the server had already closed: try a fresh one.
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            self._release(conn)
            return answer
        conn = await self._connect()
        try:
            answer = await conn.exchange(request, body, read_limit)
        except h11.ProtocolError as exc:
            conn.close()
            raise RequestError(f"invalid HTTP answer: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        self._release(conn)
        return answer

    def _release(self, conn: _Connection) -> None:
        if conn.reusable():
            self.idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()


class WebhookClient:
    """POSTs to any number of origins, each with its own keep-alive pool."""

    def __init__(self, *, guard: bool, user_agent: str) -> None:
        self.guard = guard
        self.user_agent = user_agent
        self.ssl_context = ssl.create_default_context()
        self.pools: dict[Origin, Pool] = {}

    async def post(self, url: str, body: bytes, headers: dict[str, str], *, read_limit: int = 65536) -> Answer:
        """Send one POST and read its answer (body capped at `read_limit`); raises RequestError or OSError."""
        origin, target = Origin.of(url)
        pool = self.pools.get(origin)
        if pool is None:
            pool = self.pools[origin] = Pool(origin, guard=self.guard, ssl_context=self.ssl_context)
        return await pool.post(target, [("user-agent", self.user_agent), *headers.items()], body, read_limit)

    async def aclose(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
