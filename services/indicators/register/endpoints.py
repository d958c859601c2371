"""Indicators of an area (thin slice: signal counts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import func, select

from services.indicators.models import SignalFact
from shared.auth import Principal, Role, require_roles
from shared.runtime import SessionDep

router = APIRouter(tags=["indicators"])
AREA_CODE = r"^(NL00|GM[0-9]{4}|WK[0-9]{4}[0-9A-Z]{2}|BU[0-9]{4}[0-9A-Z]{4})$"


class AreaSignalCounts(BaseModel):
    """How many signals an area has, by category."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    area_code: str
    signals: int
    by_category: dict[str, int]


@router.get("/areas/{code}/signal-counts", response_model=AreaSignalCounts)
async def area_signal_counts(
    code: Annotated[str, Path(pattern=AREA_CODE)], session: SessionDep,
    principal: Principal = require_roles(Role.ANALYST, Role.ADMIN, Role.PROGRAMME_OFFICER),
) -> AreaSignalCounts:
    """Raw signal counts of a buurt (admin and analyst tooling)."""
    rows = (await session.execute(
        select(SignalFact.category, func.count()).where(SignalFact.area_code == code)
        .group_by(SignalFact.category)
    )).all()
    by_category = {str(c): int(n) for c, n in rows}
    return AreaSignalCounts(area_code=code, signals=sum(by_category.values()),
                            by_category=by_category)
