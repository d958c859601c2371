"""indicators.v1 -> the funding service's view of each area's indicators."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.inputs import repository
from services.funding.stale import mark_drafts_stale
from shared.consumer import Routes, handles
from shared.contracts.indicators import (
    AREA_INDICATORS_UPDATED,
    INDICATOR_SNAPSHOT_PUBLISHED,
    AreaIndicatorsUpdated,
    IndicatorSnapshotPublished,
)
from shared.events import CloudEvent


async def on_area_indicators_updated(session: AsyncSession, event: CloudEvent,
                                     data: AreaIndicatorsUpdated) -> None:
    await apply_area_indicators(session, data)


async def on_indicator_snapshot_published(session: AsyncSession, event: CloudEvent,
                                          data: IndicatorSnapshotPublished) -> None:
    """One part of a full snapshot: each area in it is applied like a single update."""
    for area in data.areas:
        await apply_area_indicators(session, area)


async def apply_area_indicators(session: AsyncSession, data: AreaIndicatorsUpdated) -> None:
    if await repository.apply(session, data):
        await mark_drafts_stale(session, [data.area_code])


ROUTES: Routes = [
    handles(AREA_INDICATORS_UPDATED, on_area_indicators_updated),
    handles(INDICATOR_SNAPSHOT_PUBLISHED, on_indicator_snapshot_published),
]
