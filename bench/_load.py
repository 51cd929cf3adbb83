"""A lean HTTP/1.1 load generator: pre-built requests over raw keep-alive sockets.

The client must cost far less than the server it measures, so it sends bytes
prepared in advance and parses only the status line and Content-Length.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

    def line(self, label: str) -> str:
        return (f"{label:<28} {self.rate:9.0f} req/s   p50 {self.percentile(0.5):6.2f} ms   "
                f"p99 {self.percentile(0.99):6.2f} ms   statuses {dict(sorted(self.statuses.items()))}")


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
             "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for raw in head.split(b"\r\n")[1:]:
        name, _, value = raw.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    host: str, port: int | Sequence[int], requests: Sequence[bytes], concurrency: int
) -> LoadResult:
    """Send every request once over `concurrency` keep-alive connections (spread over `port`s)."""
    ports = [port] if isinstance(port, int) else list(port)
    queue = iter(range(len(requests)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, ports[n % len(ports)])
        try:
            for i in queue:
                t0 = time.perf_counter()
                writer.write(requests[i])
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return LoadResult(len(requests), time.perf_counter() - start, statuses, latencies)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
