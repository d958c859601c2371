"""Rows of the area read model as response bodies."""

from __future__ import annotations

from services.funding.areas import repository
from services.funding.areas.schemas import AreaRead, ProgrammeAreaRead
from services.funding.models import Area, ProgrammeArea


def area_read(area: Area) -> AreaRead:
    return AreaRead(code=area.code, level=area.level, name=area.name,
                    parent_code=area.parent_code,
                    programme_area_ids=repository.programme_area_ids(area),
                    bases=repository.latest_bases(area), updated_at=area.updated_at)


def programme_area_read(row: ProgrammeArea) -> ProgrammeAreaRead:
    return ProgrammeAreaRead(id=row.id, name=row.name, gemeente_code=row.gemeente_code,
                             buurt_codes=repository.buurt_codes(row), updated_at=row.updated_at)
