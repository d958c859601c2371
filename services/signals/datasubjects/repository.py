"""Queries of data-subject requests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import ErasureRecord, Signal


async def household_signals(session: AsyncSession, organisation: str, pseudonym: str,
                            ) -> list[Signal]:
    q = (select(Signal).where(Signal.organisation == organisation,
                              Signal.household_pseudonym == pseudonym)
         .order_by(Signal.recorded_at))
    return list((await session.scalars(q)).all())


async def erasure_records(session: AsyncSession, organisation: str, after_id: int | None,
                          limit: int) -> list[ErasureRecord]:
    q = select(ErasureRecord).where(ErasureRecord.organisation == organisation)
    if after_id is not None:
        q = q.where(ErasureRecord.id > after_id)
    return list((await session.scalars(q.order_by(ErasureRecord.id).limit(limit))).all())
