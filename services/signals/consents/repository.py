"""Queries of consents."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import ConsentRecord


async def records_of(session: AsyncSession, signal_id: uuid.UUID) -> list[ConsentRecord]:
    q = (select(ConsentRecord).where(ConsentRecord.signal_id == signal_id)
         .order_by(ConsentRecord.recorded_at, ConsentRecord.id))
    return list((await session.scalars(q)).all())


def add(session: AsyncSession, record: ConsentRecord) -> None:
    """Stage a consent, withdrawal or objection record in the caller's transaction."""
    session.add(record)
