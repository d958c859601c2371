"""Queries of consents."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import ConsentRecord, Referral


async def records_of(session: AsyncSession, signal_id: uuid.UUID) -> list[ConsentRecord]:
    q = (select(ConsentRecord).where(ConsentRecord.signal_id == signal_id)
         .order_by(ConsentRecord.recorded_at, ConsentRecord.id))
    return list((await session.scalars(q)).all())


async def unwithdrawn_referrals(session: AsyncSession, signal_id: uuid.UUID, purpose: str,
                                ) -> list[Referral]:
    q = (select(Referral).where(Referral.signal_id == signal_id, Referral.purpose == purpose,
                                Referral.withdrawn_at.is_(None))
         .order_by(Referral.referred_at, Referral.id))
    return list((await session.scalars(q)).all())


async def open_referral_count(session: AsyncSession, signal_id: uuid.UUID) -> int:
    q = select(Referral.id).where(Referral.signal_id == signal_id, Referral.outcome.is_(None),
                                  Referral.withdrawn_at.is_(None))
    return len((await session.scalars(q)).all())


def add(session: AsyncSession, record: ConsentRecord) -> None:
    """Stage a consent, withdrawal or objection record in the caller's transaction."""
    session.add(record)
