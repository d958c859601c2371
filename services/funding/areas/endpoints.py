"""The funding service's read model of the area register (from `areas.v1`)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Path

from services.funding.areas.schemas import AreaRead, ProgrammeAreaRead
from services.funding.models import Area, ProgrammeArea
from services.funding.roles import READERS
from services.funding.scenarios.repository import latest_bases
from shared.auth import Principal, require_roles
from shared.openapi import problem_responses
from shared.problems import NotFound
from shared.runtime import SessionDep

router = APIRouter(tags=["areas"])


@router.get("/areas/{areaCode}", response_model=AreaRead, responses=problem_responses(404))
async def get_area(
    area_code: Annotated[str, Path(alias="areaCode", max_length=20)], session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> AreaRead:
    """An area with the bases an allocation would use."""
    area = await session.get(Area, area_code)
    if area is None:
        raise NotFound(f"no area {area_code} received")
    return AreaRead(code=area.code, level=area.level, name=area.name,
                    parent_code=area.parent_code,
                    programme_area_ids=orjson.loads(area.programme_area_ids_json),
                    bases=latest_bases(orjson.loads(area.statistics_json)),
                    updated_at=area.updated_at)


@router.get("/programme-areas/{programmeAreaId}", response_model=ProgrammeAreaRead,
            responses=problem_responses(404))
async def get_programme_area(
    programme_area_id: Annotated[str, Path(alias="programmeAreaId", max_length=64)],
    session: SessionDep, principal: Principal = require_roles(*READERS),
) -> ProgrammeAreaRead:
    """A programme area and its buurten."""
    row = await session.get(ProgrammeArea, programme_area_id)
    if row is None:
        raise NotFound(f"no programme area {programme_area_id} received")
    return ProgrammeAreaRead(id=row.id, name=row.name, gemeente_code=row.gemeente_code,
                             buurt_codes=orjson.loads(row.buurt_codes_json),
                             updated_at=row.updated_at)
