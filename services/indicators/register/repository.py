"""All SQL of the area register."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import (
    Area,
    AreaStatistics,
    ProgrammeArea,
    ProgrammeAreaMember,
)

STAT_COLUMNS = (
    "inhabitants", "households", "dwellings", "corporation_dwellings",
    "corporation_dwellings_pct", "mean_woz_value", "low_income_households_pct",
    "bijstand_recipients", "ww_recipients", "ao_recipients", "labour_participation_pct",
    "youth_care_pct",
)


async def get_area(session: AsyncSession, code: str) -> Area | None:
    return await session.get(Area, code)


async def areas_by_code(session: AsyncSession, codes: Iterable[str]) -> dict[str, Area]:
    codes = list(set(codes))
    found: dict[str, Area] = {}
    for i in range(0, len(codes), 500):
        rows = await session.scalars(select(Area).where(Area.code.in_(codes[i:i + 500])))
        found.update({a.code: a for a in rows})
    return found


async def page_of_areas(
    session: AsyncSession, *, level: str | None, parent_code: str | None,
    programme_area_id: str | None, after: str | None, limit: int,
) -> Sequence[Area]:
    query = select(Area).order_by(Area.code).limit(limit)
    if level is not None:
        query = query.where(Area.level == level)
    if parent_code is not None:
        query = query.where(Area.parent_code == parent_code)
    if programme_area_id is not None:
        query = query.where(Area.code.in_(
            select(ProgrammeAreaMember.buurt_code)
            .where(ProgrammeAreaMember.programme_area_id == programme_area_id)))
    if after is not None:
        query = query.where(Area.code > after)
    return (await session.scalars(query)).all()


async def statistics_of(session: AsyncSession, codes: Sequence[str]
                        ) -> dict[str, list[AreaStatistics]]:
    out: dict[str, list[AreaStatistics]] = defaultdict(list)
    for i in range(0, len(codes), 500):
        rows = await session.scalars(
            select(AreaStatistics).where(AreaStatistics.code.in_(codes[i:i + 500]))
            .order_by(AreaStatistics.code, AreaStatistics.year))
        for row in rows:
            out[row.code].append(row)
    return out


async def statistics_for_year(session: AsyncSession, codes: Sequence[str], year: int
                              ) -> dict[str, AreaStatistics]:
    out: dict[str, AreaStatistics] = {}
    for i in range(0, len(codes), 500):
        rows = await session.scalars(select(AreaStatistics).where(
            AreaStatistics.code.in_(codes[i:i + 500]), AreaStatistics.year == year))
        out.update({r.code: r for r in rows})
    return out


async def programme_ids_of(session: AsyncSession, codes: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for i in range(0, len(codes), 500):
        rows = await session.execute(
            select(ProgrammeAreaMember.buurt_code, ProgrammeAreaMember.programme_area_id)
            .where(ProgrammeAreaMember.buurt_code.in_(codes[i:i + 500]))
            .order_by(ProgrammeAreaMember.programme_area_id))
        for code, programme_id in rows:
            out[str(code)].append(str(programme_id))
    return out


async def get_programme_area(session: AsyncSession, programme_id: str) -> ProgrammeArea | None:
    return await session.get(ProgrammeArea, programme_id)


async def programme_areas(session: AsyncSession) -> Sequence[ProgrammeArea]:
    return (await session.scalars(select(ProgrammeArea).order_by(ProgrammeArea.id))).all()


async def members_of(session: AsyncSession, programme_ids: Sequence[str]
                     ) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(ProgrammeAreaMember.programme_area_id, ProgrammeAreaMember.buurt_code)
        .where(ProgrammeAreaMember.programme_area_id.in_(programme_ids))
        .order_by(ProgrammeAreaMember.buurt_code))
    for programme_id, code in rows:
        out[str(programme_id)].append(str(code))
    return out


async def replace_members(session: AsyncSession, programme_id: str, buurten: Iterable[str]
                          ) -> None:
    await session.execute(delete(ProgrammeAreaMember).where(
        ProgrammeAreaMember.programme_area_id == programme_id))
    session.add_all(ProgrammeAreaMember(programme_area_id=programme_id, buurt_code=b)
                    for b in sorted(set(buurten)))
