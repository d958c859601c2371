"""areas.v1 -> the funding service's read model of areas and programme areas."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.areas import repository
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
    if await repository.upsert_area(session, data):
        await mark_drafts_stale(session, [data.code])


async def on_programme_area_upserted(session: AsyncSession, event: CloudEvent,
                                     data: ProgrammeAreaUpserted) -> None:
    if await repository.upsert_programme_area(session, data):
        await mark_drafts_stale(session, [data.id])


ROUTES: Routes = [
    handles(AREA_UPSERTED, on_area_upserted),
    handles(PROGRAMME_AREA_UPSERTED, on_programme_area_upserted),
]
