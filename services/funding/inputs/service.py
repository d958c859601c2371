"""Reading the indicators the funding service received."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.inputs import repository
from services.funding.inputs.schemas import IndicatorInputRead
from services.funding.inputs.views import indicator_input_read
from shared.problems import NotFound


async def indicator_input(session: AsyncSession, area_code: str) -> IndicatorInputRead:
    row = await repository.get(session, area_code)
    if row is None:
        raise NotFound(f"no indicators received for area {area_code}")
    return indicator_input_read(row)
