"""What the funding service knows of an area's indicators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from services.funding.dependencies import Reader
from services.funding.inputs import service
from services.funding.inputs.schemas import IndicatorInputRead
from shared.openapi import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["indicator inputs"])


@router.get("/indicator-inputs/{areaCode}", response_model=IndicatorInputRead,
            responses=problem_responses(404))
async def get_indicator_input(
    area_code: Annotated[str, Path(alias="areaCode", max_length=64)], session: SessionDep,
    principal: Reader,
) -> IndicatorInputRead:
    """The indicators an allocation would use for an area."""
    return await service.indicator_input(session, area_code)
