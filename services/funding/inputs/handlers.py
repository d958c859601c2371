"""indicators.v1 -> the funding service's view of each area's indicators."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import AreaIndicatorInput
from services.funding.stale import mark_drafts_stale
from shared.consumer import Routes, handles
from shared.contracts.indicators import (
    AREA_INDICATORS_UPDATED,
    INDICATOR_SNAPSHOT_PUBLISHED,
    AreaIndicatorsUpdated,
    IndicatorSnapshotPublished,
)
from shared.db import utcnow
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
    current = await session.get(AreaIndicatorInput, data.area_code)
    if current is not None and current.computed_at > data.computed_at:
        return  # an older computation arriving late never overwrites a newer one
    values = orjson.dumps([v.model_dump(mode="json", by_alias=True) for v in data.values]).decode()
    if current is None:
        current = AreaIndicatorInput(area_code=data.area_code)
        session.add(current)
    current.level = data.level
    current.period = data.period
    current.method_version = data.method_version
    current.values_json = values
    # repr of a float is its shortest round-trip text: Decimal(it) is what was sent.
    current.composite_score = (
        None if data.composite_score is None else repr(data.composite_score))
    current.composite_rank = data.composite_rank
    current.composite_decile = data.composite_decile
    current.computed_at = data.computed_at
    current.received_at = utcnow()
    await mark_drafts_stale(session, [data.area_code])


ROUTES: Routes = [
    handles(AREA_INDICATORS_UPDATED, on_area_indicators_updated),
    handles(INDICATOR_SNAPSHOT_PUBLISHED, on_indicator_snapshot_published),
]
