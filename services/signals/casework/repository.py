"""Queries of case work: one organisation's signals, their history and referrals."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework.ordering import RecordedKey, SignalSort, UrgencyKey
from services.signals.casework.workflow import CLOSED_STATUSES, Severity, SignalStatus
from services.signals.models import (
    ChangeFeedHead,
    Referral,
    Signal,
    SignalTombstone,
    StatusChange,
)


@dataclass(frozen=True)
class SignalFilter:
    area_code: str | None = None
    category: str | None = None
    status: SignalStatus | None = None
    severity: str | None = None
    observed_from: datetime | None = None
    observed_until: datetime | None = None
    overdue_at: datetime | None = None  # only signals overdue at this moment
    open_only: bool = False  # only work still to do: not closed, personal data not removed


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
    after: RecordedKey | UrgencyKey | None, limit: int, *,
    sort: SignalSort = SignalSort.RECORDED, as_of: datetime | None = None,
) -> list[Signal]:
    """In `sort` order (casework/ordering.py); `after`: the key of the last item already
    seen; `as_of`: the moment an urgency order tells overdue by (the first page's)."""
    q = select(Signal).where(Signal.organisation == organisation)
    if f.area_code:
        q = q.where(Signal.area_code == f.area_code)
    if f.category:
        q = q.where(Signal.category == f.category)
    if f.status:
        q = q.where(Signal.status == f.status.value)
    if f.open_only:
        q = q.where(Signal.status.not_in([s.value for s in CLOSED_STATUSES]),
                    Signal.personal_data_removed_at.is_(None))
    if f.severity:
        q = q.where(Signal.severity == f.severity)
    if f.observed_from:
        q = q.where(Signal.observed_at >= f.observed_from)
    if f.observed_until:
        q = q.where(Signal.observed_at < f.observed_until)
    if f.overdue_at:
        q = q.where(Signal.status == SignalStatus.NEW.value, Signal.sla_due_at < f.overdue_at)
    if sort == SignalSort.URGENCY:
        if as_of is None:
            raise ValueError("an urgency order needs the moment it is ordered as of")
        keys: list[ColumnElement[Any]] = [
            case((Signal.severity == Severity.ACUTE.value, 0), else_=1),
            case((and_(Signal.status == SignalStatus.NEW.value, Signal.sla_due_at < as_of), 0),
                 else_=1),
            Signal.sla_due_at.expression, Signal.id.expression]
        if isinstance(after, UrgencyKey):
            q = q.where(_after(keys, [after.acute_rank, after.overdue_rank, after.sla_due_at,
                                      after.id]))
        q = q.order_by(*keys)
    else:
        if isinstance(after, RecordedKey):
            q = q.where(or_(Signal.recorded_at < after.recorded_at,
                            and_(Signal.recorded_at == after.recorded_at,
                                 Signal.id < after.id)))
        q = q.order_by(Signal.recorded_at.desc(), Signal.id.desc())
    return list((await session.scalars(q.limit(limit))).all())


def _after(keys: list[ColumnElement[Any]], values: list[Any]) -> ColumnElement[bool]:
    """Rows after `values` in the ascending order of `keys`: (k1, k2, ...) > (v1, v2, ...),
    spelt out (a row-value comparison would not bind the values with their columns' types)."""
    key, value = keys[-1], values[-1]
    condition: ColumnElement[bool] = key > value
    for key, value in zip(reversed(keys[:-1]), reversed(values[:-1]), strict=True):
        condition = or_(key > value, and_(key == value, condition))
    return condition


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


# The change feed (casework/changes.py): numbering changes, and reading them by position.
FEED_HEAD_ID = 1
SIGNALS: Table = Signal.__table__  # type: ignore[assignment]
TOMBSTONES: Table = SignalTombstone.__table__  # type: ignore[assignment]


async def has_unnumbered_changes(session: AsyncSession) -> bool:
    """Whether a committed change waits for its position (a cheap look, no lock)."""
    for table in (SIGNALS, TOMBSTONES):
        if await session.scalar(select(literal(1)).select_from(table).where(
                table.c.change_position.is_(None)).limit(1)):
            return True
    return False


async def lock_feed_head(session: AsyncSession) -> ChangeFeedHead:
    """The feed's head row, locked until the transaction ends (numbering serialises)."""
    head = await session.scalar(
        select(ChangeFeedHead).where(ChangeFeedHead.id == FEED_HEAD_ID).with_for_update())
    if head is None:
        raise LookupError("change_feed_head has no row: run the migrations (sig0008_sync)")
    return head


#: The feed's two tables: their key, and the order in which what waits is numbered
#: (any order is correct; this one makes a first sync read in intake order).
FEED_TABLES = ((SIGNALS, "id", ("recorded_at", "id")),
               (TOMBSTONES, "signal_id", ("erased_at", "signal_id")))


async def unnumbered(session: AsyncSession, table: Table, key: str, order: tuple[str, ...],
                     limit: int) -> list[uuid.UUID]:
    """Keys of rows of `table` changed and not numbered yet, locked for numbering.

    A row another transaction holds is skipped: it is being changed (numbered once that
    commits, by a later round), and waiting for it while holding the head could deadlock
    with an erasure or purge that locks several signals."""
    return list(await session.scalars(select(table.c[key]).where(
        table.c.change_position.is_(None)).order_by(*(table.c[c] for c in order))
        .limit(limit).with_for_update(skip_locked=True)))


async def number(session: AsyncSession, table: Table, key: str,
                 positions: dict[uuid.UUID, int]) -> None:
    """Give each row its position (one executemany)."""
    if positions:
        await session.execute(
            update(table).where(table.c[key] == bindparam("row_id"))
            .values(change_position=bindparam("position")),
            [{"row_id": row_id, "position": p} for row_id, p in positions.items()])


async def changed_signals(session: AsyncSession, organisation: str, reporter: str,
                          after: int, limit: int) -> list[Signal]:
    """The reporter's signals numbered after `after`, in position order; those whose
    personal data is gone show as tombstones instead."""
    q = (select(Signal).where(
        Signal.organisation == organisation, Signal.reported_by == reporter,
        Signal.change_position > after, Signal.personal_data_removed_at.is_(None))
        .order_by(Signal.change_position).limit(limit))
    return list((await session.scalars(q)).all())


async def tombstones_after(session: AsyncSession, organisation: str, reporter: str,
                           after: int, limit: int) -> list[SignalTombstone]:
    q = (select(SignalTombstone).where(
        SignalTombstone.organisation == organisation, SignalTombstone.reported_by == reporter,
        SignalTombstone.change_position > after)
        .order_by(SignalTombstone.change_position).limit(limit))
    return list((await session.scalars(q)).all())


async def outcomes_of(session: AsyncSession, signal_ids: Iterable[uuid.UUID],
                      ) -> dict[uuid.UUID, list[Referral]]:
    """The referrals with an outcome of these signals, by signal, oldest first."""
    wanted = list(signal_ids)
    found: dict[uuid.UUID, list[Referral]] = {i: [] for i in wanted}
    if wanted:
        q = (select(Referral).where(Referral.signal_id.in_(wanted),
                                    Referral.outcome.is_not(None))
             .order_by(Referral.outcome_at, Referral.id))
        for referral in await session.scalars(q):
            found[referral.signal_id].append(referral)
    return found
