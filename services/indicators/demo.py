"""Loads the demo register (NPLV focus areas, synthetic buurten and their synthetic outlines)
idempotently.

Areas and programme areas go through the same services as the API, so each new or changed
one writes its `areas.v1` event to the outbox in the same transaction; a second run finds
everything unchanged and writes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.demo_data import DemoArea, DemoDataset, generate_demo
from services.indicators.demo_maps import SYNTHETIC_MAP_SOURCE, synthetic_outlines
from services.indicators.maps.service import store_outlines
from services.indicators.models import Area
from services.indicators.register import repository as repo
from services.indicators.register import service
from services.indicators.register.schemas import AreaIn, AreaStatisticsYear, ProgrammeAreaIn
from shared.areacodes import AreaLevel
from shared.settings import ServiceSettings

_ORDER = (AreaLevel.NATIONAL, AreaLevel.GEMEENTE, AreaLevel.WIJK, AreaLevel.BUURT)


async def load_demo(sessions: async_sessionmaker[AsyncSession], settings: ServiceSettings,
                    dataset: DemoDataset | None = None) -> int:
    """Insert what is missing or different; returns how many areas and programmes changed."""
    data = dataset or generate_demo()
    source = settings.cloudevents_source()
    changed = 0
    async with sessions() as session, session.begin():
        for level in _ORDER:
            for area in data.by_level(level):
                body = _area_in(area)
                if not await _same_area(session, area.code, body):
                    await service.put_area(session, area.code, body, source)
                    changed += 1
        existing = {p.id: p for p in await service.programme_areas_out(
            session, await repo.programme_areas(session))}
        for programme in data.programme_areas:
            programme_in = ProgrammeAreaIn(
                name=programme.name, gemeente_code=programme.gemeente_code,
                buurt_codes=list(programme.buurt_codes), synthetic=programme.synthetic)
            current = existing.get(programme.id)
            wanted = (programme_in.name, programme_in.gemeente_code,
                      sorted(programme_in.buurt_codes), programme_in.synthetic)
            if current is None or (current.name, current.gemeente_code,
                                   sorted(current.buurt_codes), current.synthetic) != wanted:
                await service.put_programme_area(session, programme.id, programme_in, source)
                changed += 1
        # Outlines are reference data without events: not counted among the changes.
        await store_outlines(session, synthetic_outlines(data), SYNTHETIC_MAP_SOURCE,
                             synthetic=True)
    return changed


def _area_in(area: DemoArea) -> AreaIn:
    statistics = []
    for year, stats in sorted(area.stats.items()):
        values: dict[str, Any] = {service.STAT_COLUMN[k]: v for k, v in stats.items()}
        statistics.append(AreaStatisticsYear(year=year, **values))
    return AreaIn(name=area.name, synthetic=area.synthetic, statistics=statistics)


async def _same_area(session: AsyncSession, code: str, body: AreaIn) -> bool:
    area: Area | None = await repo.get_area(session, code)
    if area is None or (area.name, area.synthetic) != (body.name, body.synthetic):
        return False
    current = (await service.areas_out(session, [area]))[0].statistics
    return [s.model_dump() for s in current] == [s.model_dump() for s in body.statistics]
