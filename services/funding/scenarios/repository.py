"""Scenarios and their versions in the database; their JSON columns are typed here."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import TypeAdapter
from sqlalchemy import delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.funding.inputs.schemas import SnapshotArea
from services.funding.lines import AllocationLine
from services.funding.models import (
    Scenario,
    ScenarioInput,
    ScenarioLine,
    ScenarioStatus,
    ScenarioVersion,
)
from services.funding.programmes.schemas import FormulaOverride
from services.funding.scenarios.schemas import ApprovalRecord

OVERRIDES = TypeAdapter(list[FormulaOverride])
SNAPSHOT = TypeAdapter(list[SnapshotArea])
INSERT_BATCH = 5000

# The order lines are paged in: the table's primary key after scenario and version.
LINE_ORDER = (ScenarioLine.pool, ScenarioLine.theme, ScenarioLine.year, ScenarioLine.area_code)


def overrides_of(scenario: Scenario) -> list[FormulaOverride]:
    return OVERRIDES.validate_json(scenario.overrides_json)


def set_overrides(scenario: Scenario, overrides: list[FormulaOverride]) -> None:
    scenario.overrides_json = OVERRIDES.dump_json(overrides, by_alias=True).decode()


def snapshot_of(scenario: Scenario) -> list[SnapshotArea] | None:
    return None if scenario.snapshot_json is None else SNAPSHOT.validate_json(
        scenario.snapshot_json)


def set_snapshot(scenario: Scenario, snapshot: list[SnapshotArea] | None) -> None:
    scenario.snapshot_json = None if snapshot is None else SNAPSHOT.dump_json(
        snapshot, by_alias=True).decode()


def snapshot_digest(scenario: Scenario) -> str | None:
    """sha256 of the pinned values as stored, in canonical JSON (sorted keys): approvals
    record it, so it must stay the same bytes for the same stored snapshot."""
    if scenario.snapshot_json is None:
        return None
    canonical = orjson.dumps(orjson.loads(scenario.snapshot_json), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def approval_of(scenario: Scenario) -> ApprovalRecord | None:
    return None if scenario.approval_json is None else ApprovalRecord.model_validate_json(
        scenario.approval_json)


def add(session: AsyncSession, scenario: Scenario) -> None:
    session.add(scenario)


async def get(session: AsyncSession, scenario_id: uuid.UUID, for_update: bool = False
              ) -> Scenario | None:
    return await session.get(Scenario, scenario_id, with_for_update=for_update)


async def transition(session: AsyncSession, scenario_id: uuid.UUID, revision: int,
                     from_status: ScenarioStatus, approval: ApprovalRecord | None = None,
                     **values: Any) -> bool:
    """Move a scenario on from `from_status` only if it is still at `revision` (the ETag the
    caller read) and not stale: False when another change came first. One conditional UPDATE,
    so a concurrent edit or recomputation can never slip between the check and the write."""
    if approval is not None:
        values["approval_json"] = approval.model_dump_json(by_alias=True)
    result = await session.execute(
        update(Scenario)
        .where(Scenario.id == scenario_id, Scenario.revision == revision,
               Scenario.status == from_status, Scenario.stale.is_(False))
        .values(revision=revision + 1, **values)
        .execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def of_programme(session: AsyncSession, programme_id: uuid.UUID, limit: int,
                       after: tuple[datetime, uuid.UUID] | None = None) -> list[Scenario]:
    """Oldest first, ids breaking ties: a stable keyset."""
    query = (select(Scenario).where(Scenario.programme_id == programme_id)
             .order_by(Scenario.created_at, Scenario.id).limit(limit))
    if after is not None:
        at, last = after
        query = query.where(or_(Scenario.created_at > at,
                                (Scenario.created_at == at) & (Scenario.id > last)))
    return list((await session.scalars(query)).all())


async def stale_drafts(session: AsyncSession, limit: int) -> list[Scenario]:
    query = select(Scenario).where(Scenario.stale.is_(True),
                                   Scenario.status == ScenarioStatus.DRAFT,
                                   Scenario.snapshot_json.is_(None)).limit(limit)
    return list((await session.scalars(query)).all())


async def version(session: AsyncSession, scenario_id: uuid.UUID, number: int
                  ) -> ScenarioVersion | None:
    return await session.get(ScenarioVersion, (scenario_id, number))


async def add_version(session: AsyncSession, row: ScenarioVersion,
                      lines: list[AllocationLine]) -> None:
    session.add(row)
    await session.flush()  # the lines refer to the version
    rows = [{"scenario_id": row.scenario_id, "version": row.version, "pool": line.pool,
             "theme": line.theme, "year": line.year, "area_code": line.area_code,
             "cents": line.cents, "line_json": line.model_dump_json(by_alias=True)}
            for line in lines]
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(insert(ScenarioLine), rows[start:start + INSERT_BATCH])


async def versions(session: AsyncSession, scenario_id: uuid.UUID) -> list[ScenarioVersion]:
    query = (select(ScenarioVersion).where(ScenarioVersion.scenario_id == scenario_id)
             .order_by(ScenarioVersion.version))
    return list((await session.scalars(query)).all())


@dataclass(frozen=True, slots=True)
class LineFilter:
    pool: str | None = None
    theme: str | None = None
    year: int | None = None
    area_code: str | None = None


LineKey = tuple[str, str, int, str]


def line_key(line: AllocationLine) -> LineKey:
    return (line.pool, line.theme, line.year, line.area_code)


async def lines(session: AsyncSession, row: ScenarioVersion, where: LineFilter = LineFilter(),
                after: LineKey | None = None, limit: int | None = None
                ) -> list[AllocationLine]:
    """A version's lines in (pool, theme, year, area) order, filtered, after a key."""
    query = select(ScenarioLine.line_json).where(
        ScenarioLine.scenario_id == row.scenario_id, ScenarioLine.version == row.version)
    for column, value in ((ScenarioLine.pool, where.pool), (ScenarioLine.theme, where.theme),
                          (ScenarioLine.year, where.year),
                          (ScenarioLine.area_code, where.area_code)):
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(tuple_(*LINE_ORDER) > tuple_(*after))
    query = query.order_by(*LINE_ORDER)
    if limit is not None:
        query = query.limit(limit)
    return [AllocationLine.model_validate_json(text)
            for text in (await session.scalars(query)).all()]


async def totals(session: AsyncSession, row: ScenarioVersion) -> list[tuple[str, str, int, int]]:
    """(pool, theme, year, cents) of every cell of a version."""
    query = (select(ScenarioLine.pool, ScenarioLine.theme, ScenarioLine.year,
                    func.sum(ScenarioLine.cents))
             .where(ScenarioLine.scenario_id == row.scenario_id,
                    ScenarioLine.version == row.version)
             .group_by(ScenarioLine.pool, ScenarioLine.theme, ScenarioLine.year)
             .order_by(ScenarioLine.pool, ScenarioLine.theme, ScenarioLine.year))
    return [(pool, theme, year, int(cents))
            for pool, theme, year, cents in (await session.execute(query)).all()]


async def replace_inputs(session: AsyncSession, scenario_id: uuid.UUID, codes: set[str]) -> None:
    await session.execute(delete(ScenarioInput).where(ScenarioInput.scenario_id == scenario_id))
    session.add_all(ScenarioInput(scenario_id=scenario_id, area_code=c) for c in sorted(codes))
