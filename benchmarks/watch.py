"""What the national bench watches beside its load: the service's /livez every 10 ms, from a
process of its own so that the load client's work does not count, and whether the service
has settled between two phases (its loop answers quickly, its consumer has caught up)."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import httpx

from benchmarks.scenarios import percentile

LIVEZ_EVERY_S = 0.010
SETTLE_S = 90.0  # between phases, at most


def _watch_livez(port: int, every_s: float, stop: Event, out: Connection) -> None:
    """Child process: GET /livez every `every_s` until `stop` is set; sends (at, seconds)."""
    samples: list[tuple[float, float]] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.monotonic()
        try:
            conn.request("GET", "/livez")
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        samples.append((started, time.monotonic() - started))
        time.sleep(max(0.0, started + every_s - time.monotonic()))
    out.send(samples)
    out.close()


@dataclass
class LivezWatch:
    """The /livez poller in its own process, so the load client's work does not count."""

    port: int
    samples: list[tuple[float, float]] = field(default_factory=list)

    def __enter__(self) -> LivezWatch:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_watch_livez,
                                 args=(self.port, LIVEZ_EVERY_S, self._stop, send), daemon=True)
        self._proc.start()
        send.close()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(EOFError, OSError):  # a dead watcher leaves no samples
            if self._recv.poll(90):
                self.samples = self._recv.recv()
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.kill()

    def between(self, start: float, end: float) -> str:
        """The note on /livez in a phase (times from time.monotonic)."""
        during = sorted(s for at, s in self.samples if start <= at <= end)
        if not during:
            return "/livez: no samples"
        p99 = percentile(during, 99)
        return (f"/livez every {LIVEZ_EVERY_S * 1000:.0f} ms: longest {during[-1] * 1000:.0f} "
                f"ms, p99 {p99 * 1000:.0f} ms ({len(during)} asked)")


async def settle(client: httpx.AsyncClient, lag: int) -> str:
    """Wait (at most SETTLE_S) until /livez answers within 100 ms again and the consumer is
    at most `lag` messages behind.

    A request the client gave up on is still worked off by the service, and signals that
    came in while readers held the loop are applied after them; without this a phase's
    backlog would be measured in the next one.
    """
    started = time.perf_counter()
    behind: int | None = None
    while (left := SETTLE_S - (time.perf_counter() - started)) > 0:
        asked = time.perf_counter()
        with contextlib.suppress(httpx.HTTPError):
            await client.get("/livez", timeout=left)
            if time.perf_counter() - asked < 0.1:
                behind = await consumer_lag(client)
                if behind is not None and behind <= lag:
                    return f"settled {time.perf_counter() - started:.0f} s before"
        await asyncio.sleep(0.1)
    return f"not settled after {SETTLE_S:.0f} s (consumer {behind} behind)"


async def consumer_lag(client: httpx.AsyncClient) -> int | None:
    """How many messages the service's consumers are behind (the `consumer_lag` gauge, as
    of their last fetch), or None before they reported."""
    text = (await client.get("/metrics")).text
    lags = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("consumer_lag{")]
    return int(sum(lags)) if lags else None


@dataclass(frozen=True)
class LoopReading:
    """The service's `event_loop_lag_seconds` histogram (shared.looplag: the count of lags up
    to each bucket's bound; empty where the service does not report it) and its loop
    thread's CPU time and time waiting for a CPU (/proc/<pid>/schedstat, seconds), at
    `at` (time.monotonic)."""

    at: float
    lags: dict[float, float]
    ran_s: float
    waited_s: float


async def loop_reading(client: httpx.AsyncClient, pid: int) -> LoopReading:
    text = (await client.get("/metrics")).text
    lags = {float(line.split('le="', 1)[1].split('"', 1)[0]): float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("event_loop_lag_seconds_bucket{")}
    return LoopReading(time.monotonic(), lags, *_scheduled(pid))


def _scheduled(pid: int) -> tuple[float, float]:
    """Seconds a process's main thread (the event loop's) ran, and waited for a CPU."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            ran, waited = f.read().split()[:2]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    return int(ran) / 1e9, int(waited) / 1e9


def loop_between(before: LoopReading, after: LoopReading, limit_s: float
                 ) -> tuple[str, int | None]:
    """The note on the loop between two readings, and how often it lagged more than
    `limit_s` (None: not reported)."""
    cpu = (f"its thread ran {after.ran_s - before.ran_s:.1f} s and waited "
           f"{after.waited_s - before.waited_s:.1f} s for a CPU in {after.at - before.at:.0f} s")
    if not after.lags:
        return f"the loop's lag: not reported; {cpu}", None
    counts = {le: n - before.lags.get(le, 0.0) for le, n in after.lags.items()}
    bounds = sorted(counts)
    total = counts[bounds[-1]]
    over = int(total - max((n for le, n in counts.items() if le <= limit_s), default=0.0))
    # The longest lag lies in the first bucket that holds every check.
    longest = next(le for le in bounds if counts[le] >= total)
    below = max((le for le in bounds if le < longest), default=0.0)
    return (f"the loop's lag over {limit_s * 1000:.0f} ms {over} times in {total:.0f} checks, "
            f"the longest {below * 1000:.0f}-{longest * 1000:.0f} ms; {cpu}"), over
