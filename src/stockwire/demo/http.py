"""A small HTTP/1.1 server on asyncio streams, for the simulated systems.

Built on h11 rather than uvicorn because a flaky marketplace must be able to
drop a connection mid-request, which an ASGI app cannot do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import h11

MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)


# A handler answers a request, or returns None to drop the connection unanswered.
Handler = Callable[[Request], Awaitable[Response | None]]


class LoopbackServer:
    """Serve `handler` on 127.0.0.1 at a free port, keep-alive included."""

    def __init__(self, handler: Handler, *, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.host = host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._connections.add(writer)
        try:
            while True:
                request = await _read_request(conn, reader)
                if request is None:
                    return
                response = await self.handler(request)
                if response is None:
                    writer.transport.abort()
                    return
                headers = [(b"content-type", b"application/json"),
                           (b"content-length", str(len(response.body)).encode())]
                headers += [(k.encode(), v.encode()) for k, v in response.headers.items()]
                writer.write(conn.send(h11.Response(status_code=response.status, headers=headers)))
                writer.write(conn.send(h11.Data(data=response.body)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._connections.discard(writer)
            writer.close()


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return Request(
                method=head.method.decode(),
                path=head.target.decode(),
                headers={k.decode().lower(): v.decode() for k, v in head.headers},
                body=bytes(body),
            )
        else:  # ConnectionClosed, or PAUSED after a response the peer never read
            return None


@dataclass(frozen=True, kw_only=True)
class Reply:
    status: int
    body: bytes


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.writer.transport.abort()


class LoopbackClient:
    """A keep-alive HTTP/1.1 client for one loopback server.

    The demo sends hundreds of requests a second from the hub's own process;
    httpx's pool checks every idle connection on every request, which costs
    more than the hub's work, so the simulated systems use this instead.
    """

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None, max_connections: int = 64) -> None:
        host_port = base_url.removeprefix("http://").rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.headers = [(b"host", host_port.encode())] + [
            (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> Reply:
        """Send one request and read the whole answer; raises OSError or h11.ProtocolError."""
        async with self._slots:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._open()
            try:
                reply = await self._exchange(conn, method, path, body, headers or {})
            except (OSError, h11.ProtocolError):
                conn.close()
                if not reused:
                    raise
                # The server closed an idle connection as we reused it: once more on a new one.
                # Safe for inbound events too: the same webhook-id is applied once.
                conn = await self._open()
                try:
                    reply = await self._exchange(conn, method, path, body, headers or {})
                except BaseException:
                    conn.close()
                    raise
            except BaseException:
                conn.close()
                raise
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                conn.h11.start_next_cycle()
                self._idle.append(conn)
            else:
                conn.close()
            return reply

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Connection(reader, writer)

    async def _exchange(self, conn: _Connection, method: str, path: str, body: bytes,
                        headers: dict[str, str]) -> Reply:
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        head = h11.Request(method=method, target=path,
                           headers=[*self.headers, *extra, (b"content-length", str(len(body)).encode())])
        conn.writer.write(conn.h11.send(head) + conn.h11.send(h11.Data(data=body)) + conn.h11.send(h11.EndOfMessage()))
        status = 0
        chunks = bytearray()
        while True:
            event = conn.h11.next_event()
            if event is h11.NEED_DATA:
                data = await conn.reader.read(65536)
                if not data:
                    raise ConnectionResetError("the server closed the connection")
                conn.h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks += event.data
            elif isinstance(event, h11.EndOfMessage):
                return Reply(status=status, body=bytes(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the server closed the connection")

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
