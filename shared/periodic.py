"""One shape for a service's background loops (outbox relay, consumers' housekeeping, the
indicator publisher, recompute, purge, retention, checkpoints).

A loop runs `tick()` again and again until stopped. Between ticks it waits `interval_s`, or
less when `notify()` wakes it, or what `tick()` asked for. A failed tick is logged and retried
after a backoff that doubles up to `max_backoff_s`; it never ends the loop, since a database
or broker that is away now is usually back later and the next tick finds the work still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from opentelemetry.trace import Tracer

from shared.tracing import worker_span

log = logging.getLogger(__name__)


class PeriodicTask(ABC):
    """Subclasses name themselves and implement `tick`.

    `tick` returns the seconds to wait before the next one, or None for `interval_s`; 0 means
    "more is waiting, go on at once". `first_delay` waits one interval before the first tick
    (for hourly housekeeping that should not run at every start-up).
    """

    name: str = "periodic task"
    span_name: str | None = None  # a tracing span per tick, when set
    linger_s: float = 0.0  # after a notify(), wait this long for more before the tick

    def __init__(self, *, interval_s: float, max_backoff_s: float | None = None,
                 first_delay: bool = False, tracer: Tracer | None = None) -> None:
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s if max_backoff_s is not None else max(interval_s, 5.0)
        self.first_delay = first_delay
        self.tracer = tracer
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    @abstractmethod
    async def tick(self) -> float | None:
        """Do one round of work; returns the pause before the next one (None: the interval)."""

    async def failed(self, exc: Exception) -> None:
        """Called after a tick raised; the default logs it. Override to reset clients."""
        log.warning("%s failed; retrying", self.name, extra={"error": repr(exc)})

    def notify(self) -> None:
        """Wake the loop now instead of at the end of its wait (e.g. after a commit)."""
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            # Cancel until it has ended: on Python 3.11 `asyncio.wait_for` drops a cancellation
            # that arrives just as its wait completes (a `notify()` at that moment), and the
            # loop would go on into another tick while its owner shuts down.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.5)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_tick(self) -> float | None:
        """One tick inside its span; also what tests call to drive the task by hand."""
        if self.span_name is None:
            return await self.tick()
        with worker_span(self.tracer, self.span_name):
            return await self.tick()

    def backoff_s(self) -> float:
        return float(min(self.interval_s * 2 ** max(self._failures - 1, 0), self.max_backoff_s))

    async def _run(self) -> None:
        pause: float | None = self.interval_s if self.first_delay else 0.0
        while True:
            if pause:
                await self._wait(pause)
            else:
                # More at once, but after one turn of the loop: a tick that awaits nothing
                # that suspends (SQLite runs inline) would otherwise hold it round after round.
                await asyncio.sleep(0)
            try:
                asked = await self.run_tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                await self.failed(exc)
                # A wake that came during the failing tick (a commit's notify) must not end
                # the backoff at once: under load that would retry at the commit rate.
                self._wake.clear()
                pause = self.backoff_s()
                continue
            self._failures = 0
            self.last_error = None
            pause = self.interval_s if asked is None else asked

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            return
        if self.linger_s > 0:
            # Woken by a commit: let the commits right behind it join this round.
            await asyncio.sleep(self.linger_s)
        self._wake.clear()
