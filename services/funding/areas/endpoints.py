"""The funding service's read model of the area register (from `areas.v1`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.funding.areas import service
from services.funding.areas.schemas import AreaRead, ProgrammeAreaRead
from services.funding.dependencies import Reader
from shared.openapi import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["areas"])


@router.get("/areas/{areaCode}", response_model=AreaRead, responses=problem_responses(404))
async def get_area(
    area_code: Annotated[str, Path(alias="areaCode", max_length=20)], session: SessionDep,
    principal: Reader,
) -> AreaRead:
    """An area with the bases an allocation would use."""
    return await service.area(session, area_code)


@router.get("/programme-areas/{programmeAreaId}", response_model=ProgrammeAreaRead,
            responses=problem_responses(404))
async def get_programme_area(
    programme_area_id: Annotated[str, Path(alias="programmeAreaId", max_length=64)],
    session: SessionDep, principal: Reader,
) -> ProgrammeAreaRead:
    """A programme area and its buurten."""
    return await service.programme_area(session, programme_area_id)
