"""Queries of signal intake."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import IdempotencyKey, Signal


async def signals_by_id(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID,
                                                                                  Signal]:
    if not ids:
        return {}
    rows = await session.scalars(select(Signal).where(Signal.id.in_(list(ids))))
    return {s.id: s for s in rows}


async def idempotency_key(session: AsyncSession, organisation: str, key: str,
                          ) -> IdempotencyKey | None:
    return await session.get(IdempotencyKey, (organisation, key))
