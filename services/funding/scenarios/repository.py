"""Scenarios, their versions and the read model they are computed from, in the database."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from services.funding.models import (
    Area,
    AreaIndicatorInput,
    ProgrammeArea,
    Scenario,
    ScenarioInput,
    ScenarioVersion,
)
from services.funding.scenarios.world import AreaFacts, IndicatorFacts, ProgrammeAreaFacts, World

# areas.v1 statistics field per formula base.
BASE_FIELDS = {"inhabitants": "inhabitants", "households": "households",
               "corporation-dwellings": "corporationDwellings"}


def latest_bases(statistics: list[dict[str, Any]]) -> dict[str, int]:
    bases: dict[str, int] = {}
    for base, field in BASE_FIELDS.items():
        known = [(s["year"], s[field]) for s in statistics if s.get(field) is not None]
        if known:
            bases[base] = int(max(known)[1])
    return bases


def _decimal(value: Any) -> Decimal | None:
    # Floats arrive from JSON: their shortest text is the value that was sent.
    return None if value is None else Decimal(repr(value) if isinstance(value, float)
                                              else str(value))


def indicator_facts(row: dict[str, Any]) -> IndicatorFacts:
    """A snapshot entry (or a stored row as a dict) as indicator facts."""
    values = row.get("values") or []
    if isinstance(values, dict):
        by_id = {k: _decimal(v) for k, v in values.items()}
    else:
        by_id = {v["indicatorId"]: None if v.get("suppressed") else _decimal(v.get("value"))
                 for v in values}
    return IndicatorFacts(
        composite_score=_decimal(row.get("compositeScore")),
        composite_decile=row.get("compositeDecile"), values=by_id,
        method_version=row.get("methodVersion") or "snapshot", period=row.get("period") or "")


async def load_world(session: AsyncSession,
                     snapshot: list[dict[str, Any]] | None = None) -> World:
    """Everything the read model knows; a snapshot's indicators replace the received ones."""
    areas = {
        a.code: AreaFacts(
            code=a.code, level=a.level, name=a.name, parent_code=a.parent_code,
            programme_area_ids=tuple(orjson.loads(a.programme_area_ids_json)),
            bases=latest_bases(orjson.loads(a.statistics_json)))
        for a in (await session.scalars(select(Area))).all()
    }
    programme_areas = {
        p.id: ProgrammeAreaFacts(id=p.id, name=p.name, gemeente_code=p.gemeente_code,
                                 buurt_codes=tuple(orjson.loads(p.buurt_codes_json)))
        for p in (await session.scalars(select(ProgrammeArea))).all()
    }
    indicators: dict[str, IndicatorFacts] = {}
    if snapshot is not None:
        indicators = {row["areaCode"]: indicator_facts(row) for row in snapshot}
    else:
        for row in (await session.scalars(select(AreaIndicatorInput))).all():
            indicators[row.area_code] = indicator_facts({
                "values": orjson.loads(row.values_json), "compositeScore": row.composite_score,
                "compositeDecile": row.composite_decile, "methodVersion": row.method_version,
                "period": row.period})
    return World(areas=areas, programme_areas=programme_areas, indicators=indicators)


async def get(session: AsyncSession, scenario_id: uuid.UUID, for_update: bool = False
              ) -> Scenario | None:
    return await session.get(Scenario, scenario_id, with_for_update=for_update)


async def transition(session: AsyncSession, scenario_id: uuid.UUID, revision: int,
                     from_status: str, **values: Any) -> bool:
    """Move a scenario on from `from_status` only if it is still at `revision` (the ETag the
    caller read) and not stale: False when another change came first. One conditional UPDATE,
    so a concurrent edit or recomputation can never slip between the check and the write."""
    result = await session.execute(
        update(Scenario)
        .where(Scenario.id == scenario_id, Scenario.revision == revision,
               Scenario.status == from_status, Scenario.stale.is_(False))
        .values(revision=revision + 1, **values)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def of_programme(session: AsyncSession, programme_id: uuid.UUID) -> list[Scenario]:
    query = select(Scenario).where(Scenario.programme_id == programme_id).order_by(
        Scenario.created_at)
    return list((await session.scalars(query)).all())


async def stale_drafts(session: AsyncSession, limit: int) -> list[Scenario]:
    query = select(Scenario).where(Scenario.stale.is_(True), Scenario.status == "draft",
                                   Scenario.snapshot_json.is_(None)).limit(limit)
    return list((await session.scalars(query)).all())


async def version(session: AsyncSession, scenario_id: uuid.UUID, number: int
                  ) -> ScenarioVersion | None:
    return await session.get(ScenarioVersion, (scenario_id, number))


async def versions(session: AsyncSession, scenario_id: uuid.UUID) -> list[ScenarioVersion]:
    """Every version without its lines (those are loaded only when read)."""
    query = (select(ScenarioVersion).where(ScenarioVersion.scenario_id == scenario_id)
             .options(defer(ScenarioVersion.lines_json)).order_by(ScenarioVersion.version))
    return list((await session.scalars(query)).all())


async def replace_inputs(session: AsyncSession, scenario_id: uuid.UUID, codes: set[str]) -> None:
    await session.execute(delete(ScenarioInput).where(ScenarioInput.scenario_id == scenario_id))
    session.add_all(ScenarioInput(scenario_id=scenario_id, area_code=c) for c in sorted(codes))
