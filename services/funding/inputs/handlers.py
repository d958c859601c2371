"""indicators.v1 -> the funding service's view of each area's indicators."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import AreaIndicatorInput
from shared.consumer import Route
from shared.contracts.indicators import AREA_INDICATORS_UPDATED, AreaIndicatorsUpdated
from shared.db import utcnow
from shared.events import CloudEvent


async def on_area_indicators_updated(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    assert isinstance(data, AreaIndicatorsUpdated)
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
    current.computed_at = data.computed_at
    current.received_at = utcnow()


ROUTES = [Route(AREA_INDICATORS_UPDATED, on_area_indicators_updated)]
