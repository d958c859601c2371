"""A small closed-loop HTTP/1.1 load generator (keep-alive, N connections, fixed duration).

Hand-rolled on asyncio streams so that the client costs far less CPU than the server it
measures; the same client measures the hello-world baseline, so ratios are fair.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @staticmethod
    def merged(parts: list[LoadResult]) -> LoadResult:
        """Several runs against one server as one."""
        whole = LoadResult()
        for part in parts:
            whole.requests += part.requests
            whole.errors += part.errors
            whole.seconds += part.seconds
            whole.latencies += part.latencies
            for status, count in part.statuses.items():
                whole.statuses[status] = whole.statuses.get(status, 0) + count
        return whole

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


RequestFactory = Callable[[int], tuple[str, str, bytes]]  # i -> (method, path, body)


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one response; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return int(head[9:12])


async def _connection(host: str, port: int, make: RequestFactory, headers: dict[str, str],
                      deadline: float, counter: list[int], result: LoadResult,
                      response_s: float | None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    try:
        while time.perf_counter() < deadline:
            counter[0] += 1
            method, path, body = make(counter[0])
            request = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                       ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            try:
                status = await asyncio.wait_for(_response(reader), response_s)
            except TimeoutError:  # counted as status 0, at the timeout; a fresh connection
                status = 0
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            result.latencies.append(time.perf_counter() - started)
            result.requests += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status >= 400 or status == 0:
                result.errors += 1
    finally:
        writer.close()


async def run_load(host: str, port: int, make: RequestFactory, *, headers: dict[str, str],
                   connections: int = 32, seconds: float = 10.0,
                   response_s: float | None = None) -> LoadResult:
    """Closed loop: `connections` keep-alive connections ask `make(i)` until `seconds` are over.

    `response_s`: at most this long per response (None: as long as it takes); a request still
    unanswered then counts as an error with status 0.
    """
    result = LoadResult()
    counter = [0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(
        _connection(host, port, make, headers, deadline, counter, result, response_s)
        for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result
