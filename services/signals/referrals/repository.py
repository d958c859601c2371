"""Queries of referrals."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
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
