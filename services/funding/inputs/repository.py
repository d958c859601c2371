"""Received indicators in the database, and the world a scenario is computed from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.areas import repository as areas
from services.funding.inputs.schemas import SnapshotArea
from services.funding.models import AreaIndicatorInput, AreaIndicatorPeriod
from services.funding.world import AreaFacts, IndicatorFacts, ProgrammeAreaFacts, World
from shared.contracts.indicators import AreaIndicatorsUpdated, IndicatorValue
from shared.db import utcnow

VALUES = TypeAdapter(list[IndicatorValue])


async def get(session: AsyncSession, area_code: str) -> AreaIndicatorInput | None:
    return await session.get(AreaIndicatorInput, area_code)


def values_of(row: AreaIndicatorInput | AreaIndicatorPeriod) -> list[IndicatorValue]:
    return VALUES.validate_json(row.values_json)


async def apply(session: AsyncSession, data: AreaIndicatorsUpdated) -> bool:
    """Store an area's indicators, as the latest and as its period's, unless newer ones are
    already here (an older computation arriving late never overwrites a newer one); True
    when either changed."""
    stored = False
    of_period = await session.get(AreaIndicatorPeriod, (data.area_code, data.period))
    if of_period is None or of_period.computed_at <= data.computed_at:
        if of_period is None:
            of_period = AreaIndicatorPeriod(area_code=data.area_code, period=data.period)
            session.add(of_period)
        _fill(of_period, data)
        stored = True
    latest = await get(session, data.area_code)
    if latest is None or latest.computed_at <= data.computed_at:
        if latest is None:
            latest = AreaIndicatorInput(area_code=data.area_code)
            session.add(latest)
        latest.period = data.period
        _fill(latest, data)
        stored = True
    return stored


def _fill(row: AreaIndicatorInput | AreaIndicatorPeriod, data: AreaIndicatorsUpdated) -> None:
    row.level = data.level
    row.method_version = data.method_version
    row.values_json = VALUES.dump_json(data.values, by_alias=True).decode()
    # repr of a float is its shortest round-trip text: Decimal(it) is what was sent.
    row.composite_score = None if data.composite_score is None else repr(data.composite_score)
    row.composite_rank = data.composite_rank
    row.composite_decile = data.composite_decile
    row.computed_at = data.computed_at
    row.received_at = utcnow()


def _decimal(value: float | str | None) -> Decimal | None:
    # Floats arrive from JSON: their shortest text is the value that was sent.
    return None if value is None else Decimal(repr(value) if isinstance(value, float)
                                              else value)


def received_facts(row: AreaIndicatorInput | AreaIndicatorPeriod) -> IndicatorFacts:
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


async def period_worlds(session: AsyncSession, world: World, periods: Iterable[str],
                        snapshot: list[SnapshotArea] | None = None) -> dict[str, World]:
    """The world as each named period saw it, for the periods there are indicators of (in
    the snapshot, when pinned); a period with none is left out, and its years use `world`."""
    wanted = sorted(set(periods))
    by_period: dict[str, dict[str, IndicatorFacts]] = {p: {} for p in wanted}
    if snapshot is not None:
        for area in snapshot:
            if area.period in by_period:
                by_period[area.period][area.area_code] = pinned_facts(area)
    elif wanted:
        rows = await session.scalars(select(AreaIndicatorPeriod).where(
            AreaIndicatorPeriod.period.in_(wanted)))
        for row in rows.all():
            by_period[row.period][row.area_code] = received_facts(row)
    return {period: replace(world, indicators=facts)
            for period, facts in by_period.items() if facts}
