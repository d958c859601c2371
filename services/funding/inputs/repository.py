"""Received indicators in the database, and the world a scenario is computed from."""

from __future__ import annotations

from decimal import Decimal

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.areas import repository as areas
from services.funding.inputs.schemas import SnapshotArea
from services.funding.models import AreaIndicatorInput
from services.funding.world import AreaFacts, IndicatorFacts, ProgrammeAreaFacts, World
from shared.contracts.indicators import AreaIndicatorsUpdated, IndicatorValue
from shared.db import utcnow

VALUES = TypeAdapter(list[IndicatorValue])


async def get(session: AsyncSession, area_code: str) -> AreaIndicatorInput | None:
    return await session.get(AreaIndicatorInput, area_code)


def values_of(row: AreaIndicatorInput) -> list[IndicatorValue]:
    return VALUES.validate_json(row.values_json)


async def apply(session: AsyncSession, data: AreaIndicatorsUpdated) -> bool:
    """Store an area's indicators unless newer ones are already here; True when stored."""
    current = await get(session, data.area_code)
    if current is not None and current.computed_at > data.computed_at:
        return False  # an older computation arriving late never overwrites a newer one
    if current is None:
        current = AreaIndicatorInput(area_code=data.area_code)
        session.add(current)
    current.level = data.level
    current.period = data.period
    current.method_version = data.method_version
    current.values_json = VALUES.dump_json(data.values, by_alias=True).decode()
    # repr of a float is its shortest round-trip text: Decimal(it) is what was sent.
    current.composite_score = (
        None if data.composite_score is None else repr(data.composite_score))
    current.composite_rank = data.composite_rank
    current.composite_decile = data.composite_decile
    current.computed_at = data.computed_at
    current.received_at = utcnow()
    return True


def _decimal(value: float | str | None) -> Decimal | None:
    # Floats arrive from JSON: their shortest text is the value that was sent.
    return None if value is None else Decimal(repr(value) if isinstance(value, float)
                                              else value)


def received_facts(row: AreaIndicatorInput) -> IndicatorFacts:
    return IndicatorFacts(
        composite_score=_decimal(row.composite_score), composite_decile=row.composite_decile,
        values={v.indicator_id: None if v.suppressed else _decimal(v.value)
                for v in values_of(row)},
        method_version=row.method_version, period=row.period)


def pinned_facts(area: SnapshotArea) -> IndicatorFacts:
    return IndicatorFacts(
        composite_score=_decimal(area.composite_score), composite_decile=area.composite_decile,
        values={k: _decimal(v) for k, v in area.values.items()},
        method_version=area.method_version or "snapshot", period=area.period)


async def load_world(session: AsyncSession, snapshot: list[SnapshotArea] | None = None
                     ) -> World:
    """Everything the read model knows; a snapshot's indicators replace the received ones."""
    world_areas = {
        a.code: AreaFacts(code=a.code, level=a.level, name=a.name, parent_code=a.parent_code,
                          programme_area_ids=tuple(areas.programme_area_ids(a)),
                          bases=areas.latest_bases(a))
        for a in await areas.all_areas(session)
    }
    programme_areas = {
        p.id: ProgrammeAreaFacts(id=p.id, name=p.name, gemeente_code=p.gemeente_code,
                                 buurt_codes=tuple(areas.buurt_codes(p)))
        for p in await areas.all_programme_areas(session)
    }
    if snapshot is not None:
        indicators = {a.area_code: pinned_facts(a) for a in snapshot}
    else:
        indicators = {row.area_code: received_facts(row)
                      for row in (await session.scalars(select(AreaIndicatorInput))).all()}
    return World(areas=world_areas, programme_areas=programme_areas, indicators=indicators)
