"""Reading the area register as the funding service received it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.areas import repository
from services.funding.areas.schemas import AreaRead, ProgrammeAreaRead
from services.funding.areas.views import area_read, programme_area_read
from shared.problems import NotFound


async def area(session: AsyncSession, code: str) -> AreaRead:
    row = await repository.get_area(session, code)
    if row is None:
        raise NotFound(f"no area {code} received")
    return area_read(row)


async def programme_area(session: AsyncSession, programme_area_id: str) -> ProgrammeAreaRead:
    row = await repository.get_programme_area(session, programme_area_id)
    if row is None:
        raise NotFound(f"no programme area {programme_area_id} received")
    return programme_area_read(row)
