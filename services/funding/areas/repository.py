"""The read model of the area register in the database; its JSON columns are typed here."""

from __future__ import annotations

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.models import Area, ProgrammeArea
from shared.contracts.areas import AreaStatistics, AreaUpserted, ProgrammeAreaUpserted

CODES = TypeAdapter(list[str])
STATISTICS = TypeAdapter(list[AreaStatistics])

# The statistics field behind each formula base.
BASE_FIELDS = {"inhabitants": "inhabitants", "households": "households",
               "corporation-dwellings": "corporation_dwellings"}


async def get_area(session: AsyncSession, code: str) -> Area | None:
    return await session.get(Area, code)


async def get_programme_area(session: AsyncSession, programme_area_id: str
                             ) -> ProgrammeArea | None:
    return await session.get(ProgrammeArea, programme_area_id)


async def all_areas(session: AsyncSession) -> list[Area]:
    return list((await session.scalars(select(Area))).all())


async def all_programme_areas(session: AsyncSession) -> list[ProgrammeArea]:
    return list((await session.scalars(select(ProgrammeArea))).all())


def set_programme_area_ids(area: Area, ids: list[str]) -> None:
    area.programme_area_ids_json = CODES.dump_json(sorted(ids)).decode()


def set_statistics(area: Area, statistics: list[AreaStatistics]) -> None:
    area.statistics_json = STATISTICS.dump_json(statistics, by_alias=True).decode()


def set_buurt_codes(programme_area: ProgrammeArea, codes: list[str]) -> None:
    programme_area.buurt_codes_json = CODES.dump_json(sorted(codes)).decode()


def programme_area_ids(area: Area) -> list[str]:
    return CODES.validate_json(area.programme_area_ids_json)


def buurt_codes(programme_area: ProgrammeArea) -> list[str]:
    return CODES.validate_json(programme_area.buurt_codes_json)


def latest_bases(area: Area) -> dict[str, int]:
    """The latest known value of each base: an allocation uses the newest year there is."""
    statistics = STATISTICS.validate_json(area.statistics_json)
    bases: dict[str, int] = {}
    for base, name in BASE_FIELDS.items():
        known = [(s.year, getattr(s, name)) for s in statistics if getattr(s, name) is not None]
        if known:
            bases[base] = int(max(known)[1])
    return bases


async def upsert_area(session: AsyncSession, data: AreaUpserted) -> bool:
    """Store an area's description; False when an older one arrives late (it never
    overwrites a newer one)."""
    area = await session.get(Area, data.code)
    if area is not None and area.updated_at > data.updated_at:
        return False
    if area is None:
        area = Area(code=data.code)
        session.add(area)
    area.level = data.level
    area.name = data.name
    area.parent_code = data.parent_code
    set_programme_area_ids(area, data.programme_area_ids)
    set_statistics(area, data.statistics)
    area.updated_at = data.updated_at
    return True


async def upsert_programme_area(session: AsyncSession, data: ProgrammeAreaUpserted) -> bool:
    """Store a programme area; False when an older description arrives late."""
    programme_area = await session.get(ProgrammeArea, data.id)
    if programme_area is not None and programme_area.updated_at > data.updated_at:
        return False
    if programme_area is None:
        programme_area = ProgrammeArea(id=data.id)
        session.add(programme_area)
    programme_area.name = data.name
    programme_area.gemeente_code = data.gemeente_code
    set_buurt_codes(programme_area, data.buurt_codes)
    programme_area.updated_at = data.updated_at
    return True
