"""Programmes in the database."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import Programme


async def get(session: AsyncSession, programme_id: uuid.UUID) -> Programme | None:
    return await session.get(Programme, programme_id)


async def by_name(session: AsyncSession, name: str) -> Programme | None:
    result = await session.scalars(select(Programme).where(Programme.name == name))
    return result.first()


async def all_(session: AsyncSession) -> list[Programme]:
    return list((await session.scalars(select(Programme).order_by(Programme.created_at,
                                                                  Programme.name))).all())
