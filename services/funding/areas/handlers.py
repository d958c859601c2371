"""areas.v1 -> the funding service's read model of areas and programme areas."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.areas import repository
from services.funding.models import Area, ProgrammeArea
from services.funding.stale import mark_drafts_stale
from shared.consumer import Routes, handles
from shared.contracts.areas import (
    AREA_UPSERTED,
    PROGRAMME_AREA_UPSERTED,
    AreaUpserted,
    ProgrammeAreaUpserted,
)
from shared.events import CloudEvent


async def on_area_upserted(session: AsyncSession, event: CloudEvent,
                           data: AreaUpserted) -> None:
    area = await session.get(Area, data.code)
    if area is not None and area.updated_at > data.updated_at:
        return  # an older description arriving late never overwrites a newer one
    if area is None:
        area = Area(code=data.code)
        session.add(area)
    area.level = data.level
    area.name = data.name
    area.parent_code = data.parent_code
    repository.set_programme_area_ids(area, data.programme_area_ids)
    repository.set_statistics(area, data.statistics)
    area.updated_at = data.updated_at
    await mark_drafts_stale(session, [data.code])


async def on_programme_area_upserted(session: AsyncSession, event: CloudEvent,
                                     data: ProgrammeAreaUpserted) -> None:
    programme_area = await session.get(ProgrammeArea, data.id)
    if programme_area is not None and programme_area.updated_at > data.updated_at:
        return
    if programme_area is None:
        programme_area = ProgrammeArea(id=data.id)
        session.add(programme_area)
    programme_area.name = data.name
    programme_area.gemeente_code = data.gemeente_code
    repository.set_buurt_codes(programme_area, data.buurt_codes)
    programme_area.updated_at = data.updated_at
    await mark_drafts_stale(session, [data.id])


ROUTES: Routes = [
    handles(AREA_UPSERTED, on_area_upserted),
    handles(PROGRAMME_AREA_UPSERTED, on_programme_area_upserted),
]
