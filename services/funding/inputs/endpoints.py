"""What the funding service knows of an area's indicators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from services.funding.models import AreaIndicatorInput
from shared.auth import Principal, Role, require_roles
from shared.openapi import problem_responses
from shared.problems import NotFound
from shared.runtime import SessionDep

router = APIRouter(tags=["indicator inputs"])


class IndicatorInputRead(BaseModel):
    """The latest indicators of an area as received from the indicators service."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    area_code: str
    level: str
    period: str
    method_version: str
    values: list[dict[str, Any]]
    computed_at: datetime
    received_at: datetime


@router.get("/indicator-inputs/{areaCode}", response_model=IndicatorInputRead,
            responses=problem_responses(404))
async def get_indicator_input(
    area_code: Annotated[str, Path(alias="areaCode", max_length=64)], session: SessionDep,
    principal: Principal = require_roles(Role.PROGRAMME_OFFICER, Role.PROGRAMME_APPROVER,
                                         Role.ANALYST, Role.ADMIN),
) -> IndicatorInputRead:
    """The indicators an allocation would use for an area."""
    row = await session.get(AreaIndicatorInput, area_code)
    if row is None:
        raise NotFound(f"no indicators received for area {area_code}")
    return IndicatorInputRead(
        area_code=row.area_code, level=row.level, period=row.period,
        method_version=row.method_version, values=orjson.loads(row.values_json),
        computed_at=row.computed_at, received_at=row.received_at,
    )
