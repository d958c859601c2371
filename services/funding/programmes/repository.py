"""Programmes in the database; their pools (a JSON column) are typed here."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import Programme
from services.funding.programmes.schemas import Pool

POOLS = TypeAdapter(list[Pool])


def pools_of(programme: Programme) -> list[Pool]:
    return POOLS.validate_json(programme.pools_json)


def set_pools(programme: Programme, pools: list[Pool]) -> None:
    programme.pools_json = POOLS.dump_json(pools, by_alias=True).decode()


async def get(session: AsyncSession, programme_id: uuid.UUID) -> Programme | None:
    return await session.get(Programme, programme_id)


def add(session: AsyncSession, programme: Programme, pools: list[Pool]) -> None:
    set_pools(programme, pools)
    session.add(programme)


async def by_name(session: AsyncSession, name: str) -> Programme | None:
    result = await session.scalars(select(Programme).where(Programme.name == name))
    return result.first()


async def page(session: AsyncSession, limit: int,
               after: tuple[datetime, str] | None = None) -> list[Programme]:
    """Oldest first, names breaking ties (they are unique): a stable keyset."""
    query = select(Programme).order_by(Programme.created_at, Programme.name).limit(limit)
    if after is not None:
        at, name = after
        query = query.where(or_(Programme.created_at > at,
                                (Programme.created_at == at) & (Programme.name > name)))
    return list((await session.scalars(query)).all())
