"""Programmes in the database; their pools (a JSON column) are typed here."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import TypeAdapter
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import Programme
from services.funding.programmes.schemas import IndicatorPeriod, Pool, ProgrammeCreate

POOLS = TypeAdapter(list[Pool])
PERIODS = TypeAdapter(list[IndicatorPeriod])


def pools_of(programme: Programme) -> list[Pool]:
    return POOLS.validate_json(programme.pools_json)


def set_pools(programme: Programme, pools: list[Pool]) -> None:
    programme.pools_json = POOLS.dump_json(pools, by_alias=True).decode()


def indicator_periods_of(programme: Programme) -> list[IndicatorPeriod]:
    return PERIODS.validate_json(programme.indicator_periods_json)


def definition_of(programme: Programme) -> ProgrammeCreate:
    """The programme as it was defined: years, pools and their schedules, periods."""
    return ProgrammeCreate(
        name=programme.name, currency="EUR", first_year=programme.first_year,
        last_year=programme.last_year, pools=pools_of(programme),
        indicator_periods=indicator_periods_of(programme))


async def get(session: AsyncSession, programme_id: uuid.UUID) -> Programme | None:
    return await session.get(Programme, programme_id)


def add(session: AsyncSession, programme: Programme, definition: ProgrammeCreate) -> None:
    set_pools(programme, definition.pools)
    programme.indicator_periods_json = PERIODS.dump_json(
        definition.indicator_periods, by_alias=True).decode()
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
