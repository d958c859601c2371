"""Queries of case work: one organisation's signals, their history and referrals."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework.workflow import SignalStatus
from services.signals.models import Referral, Signal, StatusChange


@dataclass(frozen=True)
class SignalFilter:
    area_code: str | None = None
    category: str | None = None
    status: SignalStatus | None = None
    severity: str | None = None
    observed_from: datetime | None = None
    observed_until: datetime | None = None
    overdue_at: datetime | None = None  # only signals overdue at this moment


async def signal_of(session: AsyncSession, signal_id: uuid.UUID, organisation: str,
                    *, lock: bool = False) -> Signal | None:
    """With `lock`, the row is locked until the commit (PostgreSQL; SQLite has one writer)
    and read afresh: a change checked against its version cannot lose a concurrent one."""
    if lock:
        signal = (await session.scalars(
            select(Signal).where(Signal.id == signal_id).with_for_update()
            .execution_options(populate_existing=True))).first()
    else:
        signal = await session.get(Signal, signal_id)
    return signal if signal is not None and signal.organisation == organisation else None


async def list_signals(
    session: AsyncSession, organisation: str, f: SignalFilter,
    after: tuple[datetime, uuid.UUID] | None, limit: int,
) -> list[Signal]:
    """Newest first; `after` is the (recordedAt, id) of the last item already seen."""
    q = select(Signal).where(Signal.organisation == organisation)
    if f.area_code:
        q = q.where(Signal.area_code == f.area_code)
    if f.category:
        q = q.where(Signal.category == f.category)
    if f.status:
        q = q.where(Signal.status == f.status.value)
    if f.severity:
        q = q.where(Signal.severity == f.severity)
    if f.observed_from:
        q = q.where(Signal.observed_at >= f.observed_from)
    if f.observed_until:
        q = q.where(Signal.observed_at < f.observed_until)
    if f.overdue_at:
        q = q.where(Signal.status == SignalStatus.NEW.value, Signal.sla_due_at < f.overdue_at)
    if after is not None:
        at, last_id = after
        q = q.where(or_(Signal.recorded_at < at,
                        and_(Signal.recorded_at == at, Signal.id < last_id)))
    q = q.order_by(Signal.recorded_at.desc(), Signal.id.desc()).limit(limit)
    return list((await session.scalars(q)).all())


async def history(session: AsyncSession, signal_id: uuid.UUID) -> list[StatusChange]:
    q = select(StatusChange).where(StatusChange.signal_id == signal_id).order_by(StatusChange.id)
    return list((await session.scalars(q)).all())


async def referrals_of(session: AsyncSession, signal_id: uuid.UUID) -> list[Referral]:
    q = select(Referral).where(Referral.signal_id == signal_id).order_by(Referral.referred_at)
    return list((await session.scalars(q)).all())


async def existing_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these signal ids are stored (in any organisation)."""
    return set(await session.scalars(select(Signal.id).where(Signal.id.in_(list(ids)))))


def add_status_change(session: AsyncSession, change: StatusChange) -> None:
    """Stage a history entry in the caller's transaction (the history is append-only)."""
    session.add(change)
