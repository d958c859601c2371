"""Queries of referrals."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import Referral, Signal


async def for_partner(session: AsyncSession, referral_id: uuid.UUID, partner: str,
                      ) -> tuple[Referral, Signal] | None:
    row = (await session.execute(
        select(Referral, Signal).join(Signal, Signal.id == Referral.signal_id)
        .where(Referral.id == referral_id, Referral.partner_organisation == partner))).first()
    return None if row is None else (row[0], row[1])


async def inbox(session: AsyncSession, partner: str, purposes: list[str],
                after: tuple[datetime, uuid.UUID] | None, limit: int,
                ) -> list[tuple[Referral, Signal]]:
    """The referrals to `partner` for `purposes` (its user's teams)."""
    q = (select(Referral, Signal).join(Signal, Signal.id == Referral.signal_id)
         .where(Referral.partner_organisation == partner, Referral.purpose.in_(purposes)))
    if after is not None:
        at, last = after
        q = q.where(or_(Referral.referred_at < at,
                        and_(Referral.referred_at == at, Referral.id < last)))
    q = q.order_by(Referral.referred_at.desc(), Referral.id.desc()).limit(limit)
    return [(r, s) for r, s in (await session.execute(q)).all()]


def add(session: AsyncSession, referral: Referral) -> None:
    """Stage a new referral in the caller's transaction."""
    session.add(referral)


async def of_signal(session: AsyncSession, signal_id: uuid.UUID, referral_id: uuid.UUID,
                    ) -> Referral | None:
    return (await session.scalars(select(Referral).where(
        Referral.id == referral_id, Referral.signal_id == signal_id))).first()


async def move(session: AsyncSession, referral: Referral, sources: Iterable[str],
               values: dict[str, Any]) -> bool:
    """Change the referral only if its status is still one of `sources` (a conditional update:
    of two racing steps, the second finds no row), then read it back either way."""
    result = await session.execute(
        update(Referral).where(Referral.id == referral.id, Referral.status.in_(list(sources)))
        .values(**values).execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    await session.refresh(referral)
    return bool(result.rowcount == 1)


async def lock_signal(session: AsyncSession, signal_id: uuid.UUID) -> Signal:
    """The signal, locked until the commit (PostgreSQL), with its current version: steps on
    two referrals of one signal number their history entries one after the other. SQLite
    has one writer at a time anyway."""
    signal = (await session.scalars(
        select(Signal).where(Signal.id == signal_id).with_for_update()
        .execution_options(populate_existing=True))).one()
    return signal


async def open_count(session: AsyncSession, signal_id: uuid.UUID, open_statuses: Iterable[str],
                     ) -> int:
    return int(await session.scalar(select(func.count()).select_from(Referral).where(
        Referral.signal_id == signal_id, Referral.status.in_(list(open_statuses)),
        Referral.withdrawn_at.is_(None))) or 0)


async def not_withdrawn(session: AsyncSession, signal_id: uuid.UUID, purpose: str,
                        ) -> list[Referral]:
    """The signal's referrals for `purpose` whose partner may still hold personal data."""
    q = (select(Referral).where(Referral.signal_id == signal_id, Referral.purpose == purpose,
                                Referral.withdrawn_at.is_(None),
                                Referral.handed_back_at.is_(None))
         .order_by(Referral.referred_at, Referral.id))
    return list((await session.scalars(q)).all())


async def of_signals(session: AsyncSession, signal_ids: list[uuid.UUID]) -> list[Referral]:
    """Every referral of these signals, oldest first."""
    if not signal_ids:
        return []
    rows = await session.scalars(select(Referral).where(Referral.signal_id.in_(signal_ids))
                                 .order_by(Referral.referred_at, Referral.id))
    return list(rows.all())
