"""Queries of signal intake: the one insert of new signals, and the look-ups of replays."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Literal

from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.signals.intake.new_signal import NewSignal
from services.signals.models import IdempotencyKey, Outbox, Signal, StatusChange
from shared.bulkinsert import BulkInsert

Stored = Literal["created", "deferred"]

SIGNALS: Table = Signal.__table__  # type: ignore[assignment]
HISTORY: Table = StatusChange.__table__  # type: ignore[assignment]
OUTBOX: Table = Outbox.__table__  # type: ignore[assignment]
KEYS: Table = IdempotencyKey.__table__  # type: ignore[assignment]
INSERT_SIGNALS, INSERT_HISTORY, INSERT_OUTBOX, INSERT_KEYS = (
    BulkInsert(t) for t in (SIGNALS, HISTORY, OUTBOX, KEYS))


async def insert_new(conn: AsyncConnection, signals: Sequence[NewSignal]) -> list[Stored]:
    """Insert the signals that are plainly new, each whole; one outcome per signal, in order.

    A signal whose id or Idempotency-Key is already stored, or repeats one earlier in
    `signals`, is not touched and answered "deferred": whether it is a replay or a conflict
    is for the caller to settle. A row another transaction inserts meanwhile makes this raise
    IntegrityError; the caller rolls back. One statement per table, whatever the number.
    """
    taken_ids = set((await conn.scalars(
        select(SIGNALS.c.id).where(SIGNALS.c.id.in_({s.id for s in signals})))).all())
    keys = {s.key for s in signals if s.key is not None}
    taken_keys: set[tuple[str, str]] = set()
    if keys:
        rows = await conn.execute(select(KEYS.c.organisation, KEYS.c.key).where(
            tuple_(KEYS.c.organisation, KEYS.c.key).in_(keys)))
        taken_keys = {(org, key) for org, key in rows}
    fresh: list[NewSignal] = []
    outcomes: list[Stored] = []
    for s in signals:
        if s.id in taken_ids or (s.key is not None and s.key in taken_keys):
            outcomes.append("deferred")
            continue
        taken_ids.add(s.id)
        if s.key is not None:
            taken_keys.add(s.key)
        fresh.append(s)
        outcomes.append("created")
    if fresh:
        await INSERT_SIGNALS.execute(conn, [s.signal for s in fresh])
        await INSERT_HISTORY.execute(conn, [s.status_change for s in fresh])
        # In the order given, so the relay publishes each area's events in the order taken.
        await INSERT_OUTBOX.execute(conn, [e for s in fresh for e in s.events])
        await INSERT_KEYS.execute(
            conn, [s.idempotency_key for s in fresh if s.idempotency_key is not None])
    return outcomes


async def signals_by_id(session: AsyncSession, ids: Collection[uuid.UUID],
                        ) -> dict[uuid.UUID, Signal]:
    if not ids:
        return {}
    rows = await session.scalars(select(Signal).where(Signal.id.in_(list(ids))))
    return {s.id: s for s in rows}


async def signal(session: AsyncSession, signal_id: uuid.UUID) -> Signal | None:
    return await session.get(Signal, signal_id)


async def idempotency_key(session: AsyncSession, organisation: str, key: str,
                          ) -> IdempotencyKey | None:
    return await session.get(IdempotencyKey, (organisation, key))


def add_idempotency_key(session: AsyncSession, organisation: str, key: str,
                        signal_id: uuid.UUID, request_hash: str) -> None:
    session.add(IdempotencyKey(organisation=organisation, key=key, signal_id=signal_id,
                               request_hash=request_hash))
