"""Group commit of new signals: concurrent intake requests share one transaction.

An answer to a field app must be durable, so every new signal waits for a commit, and a
commit (an fsync on SQLite, a round trip and a WAL flush on PostgreSQL) costs more than
everything else a signal needs. So requests hand their prepared rows to one writer task per
process, which stores all the requests waiting at that moment in one transaction, with one
statement per table, commits once and then answers them all. Under light load a group is
one request; under heavy load groups grow, and throughput with them.

The writer stores only what is plainly new. A draft whose id or Idempotency-Key is already
stored, or repeats one earlier in its group, is answered "deferred": its caller settles it on
the ordinary path (replay or conflict) after the group has committed. When another process
stores one of the ids first (a unique violation), the whole group is rolled back and
deferred, so nothing is half-written and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import Histogram
from sqlalchemy import Table, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.signals.models import IdempotencyKey, Outbox, Signal, StatusChange
from shared.db import BulkInsert

log = logging.getLogger(__name__)

Stored = Literal["created", "deferred"]

GROUP_SIZE = Histogram("signal_intake_group_size", "Signals taken per intake commit",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500))

SIGNALS: Table = Signal.__table__  # type: ignore[assignment]
HISTORY: Table = StatusChange.__table__  # type: ignore[assignment]
OUTBOX: Table = Outbox.__table__  # type: ignore[assignment]
KEYS: Table = IdempotencyKey.__table__  # type: ignore[assignment]
INSERT_SIGNALS, INSERT_HISTORY, INSERT_OUTBOX, INSERT_KEYS = (
    BulkInsert(t) for t in (SIGNALS, HISTORY, OUTBOX, KEYS))


@dataclass(frozen=True)
class Draft:
    """The rows one new signal writes: itself, its first history entry, its events."""

    signal: dict[str, Any]
    status_change: dict[str, Any]
    events: list[dict[str, Any]]
    idempotency_key: dict[str, Any] | None = None

    @property
    def id(self) -> uuid.UUID:
        signal_id: uuid.UUID = self.signal["id"]
        return signal_id

    @property
    def key(self) -> tuple[str, str] | None:
        k = self.idempotency_key
        return None if k is None else (k["organisation"], k["key"])


class GroupWriter:
    """One per process; `store` returns once the drafts are committed (or deferred).

    The drafts of one call (a batch from an app) are never split over two transactions.
    """

    def __init__(self, engine: AsyncEngine, after_commit: Callable[[], None],
                 max_group: int = 500) -> None:
        self._engine = engine
        self._after_commit = after_commit
        self._max_group = max_group
        self._waiting: list[tuple[list[Draft], asyncio.Future[list[Stored]]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def store(self, drafts: list[Draft]) -> list[Stored]:
        if not drafts:
            return []
        future: asyncio.Future[list[Stored]] = asyncio.get_running_loop().create_future()
        self._waiting.append((drafts, future))
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

    def _next_group(self) -> list[tuple[list[Draft], asyncio.Future[list[Stored]]]]:
        """Whole calls, in arrival order, up to `max_group` drafts (at least one call)."""
        size, taken = 0, 0
        for drafts, _ in self._waiting:
            if taken and size + len(drafts) > self._max_group:
                break
            size += len(drafts)
            taken += 1
        group = self._waiting[:taken]
        del self._waiting[:taken]
        GROUP_SIZE.observe(size)
        return group

    async def _write_next_group(self) -> None:
        group = self._next_group()
        try:
            outcomes = await self._write([d for drafts, _ in group for d in drafts])
        except Exception as exc:  # the database failed: every caller gets the error
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for drafts, future in group:
            if not future.done():  # a caller that went away still had its signals stored
                future.set_result(outcomes[start:start + len(drafts)])
            start += len(drafts)
        if "created" in outcomes:
            self._after_commit()

    async def _write(self, drafts: list[Draft]) -> list[Stored]:
        try:
            async with self._engine.begin() as conn:
                return await self._insert_new(conn, drafts)
        except IntegrityError:
            # Another process stored one of these meanwhile: all of them take the ordinary
            # path, which sorts out created, replayed and conflicting one by one.
            log.info("group of new signals deferred", extra={"signals": len(drafts)})
            return ["deferred"] * len(drafts)

    @staticmethod
    async def _insert_new(conn: AsyncConnection, drafts: list[Draft]) -> list[Stored]:
        taken_ids = set((await conn.scalars(
            select(SIGNALS.c.id).where(SIGNALS.c.id.in_({d.id for d in drafts})))).all())
        keys = {d.key for d in drafts if d.key is not None}
        taken_keys: set[tuple[str, str]] = set()
        if keys:
            rows = await conn.execute(select(KEYS.c.organisation, KEYS.c.key).where(
                tuple_(KEYS.c.organisation, KEYS.c.key).in_(keys)))
            taken_keys = {(org, key) for org, key in rows}
        fresh: list[Draft] = []
        outcomes: list[Stored] = []
        for d in drafts:
            if d.id in taken_ids or (d.key is not None and d.key in taken_keys):
                outcomes.append("deferred")
                continue
            taken_ids.add(d.id)
            if d.key is not None:
                taken_keys.add(d.key)
            fresh.append(d)
            outcomes.append("created")
        if fresh:
            await INSERT_SIGNALS.execute(conn, [d.signal for d in fresh])
            await INSERT_HISTORY.execute(conn, [d.status_change for d in fresh])
            # In group order, so the relay publishes each area's events in the order taken.
            await INSERT_OUTBOX.execute(conn, [e for d in fresh for e in d.events])
            await INSERT_KEYS.execute(
                conn, [d.idempotency_key for d in fresh if d.idempotency_key is not None])
        return outcomes
