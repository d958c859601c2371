"""Queries of data-subject requests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import Signal


async def household_signals(session: AsyncSession, organisation: str, pseudonym: str,
                            ) -> list[Signal]:
    q = (select(Signal).where(Signal.organisation == organisation,
                              Signal.household_pseudonym == pseudonym)
         .order_by(Signal.recorded_at))
    return list((await session.scalars(q)).all())
