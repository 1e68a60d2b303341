"""A cheap closed-loop HTTP/1.1 load generator (``bench api``'s): asyncio on raw keep-alive
sockets.

Each connection sends one request, reads the whole response (status line, headers,
``Content-Length`` body) and sends the next at once. Per request it costs a few tens of
microseconds, far less than any web framework, so the server is what is measured.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    @property
    def p50_ms(self) -> float:
        return self.percentile(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile(99)


def request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _connection(
    host: str, port: int, payload: bytes, until: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    try:
        while clock() < until:
            start = clock()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            latencies.append((clock() - start) * 1000)
            if head[9:12] != b"200":
                errors.append(int(head[9:12]))
    finally:
        writer.close()


async def _run(
    host: str, port: int, path: str, body: bytes, connections: int, seconds: float
) -> Result:
    payload = request_bytes(host, path, body)
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_connection(host, port, payload, until, latencies, errors) for _ in range(connections))
    )
    return Result(len(latencies), len(errors), time.perf_counter() - started, tuple(latencies))


def run_load(
    host: str, port: int, path: str, body: bytes, connections: int, seconds: float
) -> Result:
    """POST ``body`` to ``path`` over ``connections`` connections for ``seconds``."""
    return asyncio.run(_run(host, port, path, body, connections, seconds))
