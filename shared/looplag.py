"""How late a service's event loop runs what is due: its own measure of being held up.

Every request, consumer and periodic task of a service shares one event loop, so anything
that holds it (a long computation, a large answer made at once, a synchronous call) holds
them all. A timer set `EVERY_S` apart records how much later than due it ran in the
histogram `event_loop_lag_seconds{service}` on `/metrics`: the count above the 0.05 bucket is
how often the loop was held for more than 50 ms (docs/guarantees.md, "The event loop").

It measures the loop, not a request's wait: a health probe sent among 50 busy readers also
waits its turn behind their requests (the national bench reports both).
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

EVERY_S = 0.010
LOOP_LAG = Histogram(
    "event_loop_lag_seconds", "How much later than due the event loop ran a timer",
    ["service"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))


class LoopLag:
    """Observes the running loop's lag every `every_s` from `start` until `stop`."""

    def __init__(self, service: str, every_s: float = EVERY_S) -> None:
        self.every_s = every_s
        self._lag = LOOP_LAG.labels(service)
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        self.stop()
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self.every_s
        self._handle = loop.call_at(self._due, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        due, self._due = self._due, now + self.every_s
        # The next one first: whatever happens below, the measure goes on.
        self._handle = loop.call_at(self._due, self._tick, loop)
        # A timer may run up to the clock's resolution early.
        self._lag.observe(max(0.0, now - due))

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
