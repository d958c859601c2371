"""Group commit of new signals: concurrent intake requests share one transaction.

An answer to a field app must be durable, so every new signal waits for a commit, and a
commit (an fsync on SQLite, a round trip and a WAL flush on PostgreSQL) costs more than
everything else a signal needs. So requests hand their new signals to one writer task per
process, which stores all the requests waiting at that moment in one transaction
(`repository.insert_new`), commits once and then answers them all. Under light load a group
is one request; under heavy load groups grow, and throughput with them.

A signal `insert_new` does not take is answered "deferred", and so is every signal of a
group that another process got in first with one of its rows (a unique violation rolls the
whole group back): nothing is half-written and nothing is stored twice. The caller settles
a deferred signal (`service`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from prometheus_client import Histogram
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.signals.intake import repository
from services.signals.intake.new_signal import NewSignal
from services.signals.intake.repository import Stored

log = logging.getLogger(__name__)

GROUP_SIZE = Histogram("signal_intake_group_size", "Signals taken per intake commit",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500))

Waiting = tuple[list[NewSignal], asyncio.Future[list[Stored]]]


class GroupWriter:
    """One per process; `store` returns once the signals are committed (or deferred).

    The signals of one call (a batch from an app) are never split over two transactions.
    `after_commit` runs after each commit that stored a signal (it wakes the outbox relay).
    """

    def __init__(self, engine: AsyncEngine, after_commit: Callable[[], None],
                 max_group: int = 500) -> None:
        self._engine = engine
        self._after_commit = after_commit
        self._max_group = max_group
        self._waiting: list[Waiting] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def store(self, signals: list[NewSignal]) -> list[Stored]:
        if not signals:
            return []
        future: asyncio.Future[list[Stored]] = asyncio.get_running_loop().create_future()
        self._waiting.append((signals, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="signal-group-writer")
        self._wakeup.set()
        return await future

    async def stop(self) -> None:
        """Store what is waiting, then end the task."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not (self._stopping and not self._waiting):
            await self._wakeup.wait()
            self._wakeup.clear()
            # One loop turn more: requests whose bodies arrived with this one join its group.
            await asyncio.sleep(0)
            while self._waiting:
                await self._write_next_group()

    def _next_group(self) -> list[Waiting]:
        """Whole calls, in arrival order, up to `max_group` signals (at least one call)."""
        size, taken = 0, 0
        for signals, _ in self._waiting:
            if taken and size + len(signals) > self._max_group:
                break
            size += len(signals)
            taken += 1
        group = self._waiting[:taken]
        del self._waiting[:taken]
        GROUP_SIZE.observe(size)
        return group

    async def _write_next_group(self) -> None:
        group = self._next_group()
        try:
            outcomes = await self._write([s for signals, _ in group for s in signals])
        except Exception as exc:  # the database failed: every caller gets the error
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for signals, future in group:
            if not future.done():  # a caller that went away still had its signals stored
                future.set_result(outcomes[start:start + len(signals)])
            start += len(signals)
        if "created" in outcomes:
            self._after_commit()

    async def _write(self, signals: list[NewSignal]) -> list[Stored]:
        try:
            async with self._engine.begin() as conn:
                return await repository.insert_new(conn, signals)
        except IntegrityError:
            log.info("group of new signals deferred", extra={"signals": len(signals)})
            return ["deferred"] * len(signals)
