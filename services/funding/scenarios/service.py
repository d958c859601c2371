"""Scenarios: compute, recompute, approve (four eyes), publish, compare."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.funding import audit
from services.funding.allocation import InfeasibleAllocation
from services.funding.compute import compute_pool
from services.funding.inputs.repository import load_world, period_worlds
from services.funding.lines import AllocationLine, euros
from services.funding.models import Outbox, Programme, Scenario, ScenarioStatus, ScenarioVersion
from services.funding.programmes import service as programmes
from services.funding.programmes.schemas import Formula, FormulaOverride, History, Pool
from services.funding.programmes.views import history
from services.funding.scenarios import repository
from services.funding.scenarios.repository import LineFilter, LineKey, line_key
from services.funding.scenarios.schemas import (
    AllocationLinePage,
    ApprovalRecord,
    AreaDifference,
    Comparison,
    ScenarioCreate,
    ScenarioEdit,
    ScenarioPage,
    ScenarioRead,
    ScenarioSummary,
)
from services.funding.scenarios.views import scenario_read
from shared.auth import Forbidden, Principal
from shared.contracts.funding import (
    ALLOCATION_COMPUTED,
    ALLOCATION_PUBLISHED,
    AllocationComputed,
    AllocationPublished,
)
from shared.db import utcnow
from shared.outbox import record_event
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.problems import (
    BadRequest,
    Conflict,
    InvalidParam,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ProblemError,
)
from shared.settings import ServiceSettings

DRAFT, APPROVED, PUBLISHED = ScenarioStatus.DRAFT, ScenarioStatus.APPROVED, ScenarioStatus.PUBLISHED
DRAFTING_ACTIONS = {"scenario-created", "scenario-edited"}


def etag(scenario: Scenario) -> str:
    return f'"{scenario.id}.{scenario.revision}"'


def _approval_record(scenario: Scenario, approver: str, at: datetime) -> ApprovalRecord:
    pinned = repository.snapshot_of(scenario) or []
    return ApprovalRecord(
        version=scenario.version, approved_by=approver, approved_at=at,
        pinned_inputs_digest=repository.snapshot_digest(scenario),
        pinned_area_codes=[a.area_code for a in pinned],
        overrides=repository.overrides_of(scenario))


def _formula(pool: Pool, overrides: list[FormulaOverride]) -> Formula:
    formula = pool.formula
    for o in overrides:
        if o.pool == pool.name:
            changes = o.model_dump(exclude={"pool"}, exclude_none=True)
            formula = formula.model_copy(update={
                k: (o.need if k == "need" else v) for k, v in changes.items()})
    return formula


def _check_overrides(pools: list[Pool], overrides: list[FormulaOverride]) -> None:
    names = {p.name for p in pools}
    invalid = [
        InvalidParam(name=f"body.overrides.{i}.pool", code="unknown_pool",
                     reason=f"the programme has no pool {o.pool!r}")
        for i, o in enumerate(overrides) if o.pool not in names
    ]
    for i, o in enumerate(overrides):
        pool = next((p for p in pools if p.name == o.pool), None)
        if pool is None:
            continue
        formula = _formula(pool, [o])
        if formula.cap_cents is not None and formula.floor_cents > formula.cap_cents:
            invalid.append(InvalidParam(name=f"body.overrides.{i}.floorCents",
                                        code="floor_above_cap", reason="floor above cap"))
    if invalid:
        raise BadRequest(f"{len(invalid)} invalid field(s)", invalid)


async def compute(session: AsyncSession, settings: ServiceSettings, scenario: Scenario,
                  programme: Programme, reason: str, actor: str) -> ScenarioVersion:
    """A new version of `scenario` from the current inputs (or its snapshot), with its event."""
    definition = programmes.definition_of(programme)
    snapshot = repository.snapshot_of(scenario)
    world = await load_world(session, snapshot)
    years = definition.years
    periods = {year: definition.period_of(year) for year in years}
    by_period = await period_worlds(
        session, world, [p for p in periods.values() if p is not None], snapshot)
    # A year whose period has no indicators yet (a future one) uses the latest received.
    year_worlds = {year: by_period[p] for year, p in periods.items() if p in by_period}
    overrides = repository.overrides_of(scenario)
    lines: list[AllocationLine] = []
    used: set[str] = set()
    for pool in definition.pools:
        try:
            result = compute_pool(pool, _formula(pool, overrides), years, world, year_worlds)
        except InfeasibleAllocation as exc:
            raise programmes.infeasible(exc, pool.name) from exc
        lines.extend(result.lines)
        used |= result.used_area_codes
    methods = sorted({m for line in lines for m in
                      (line.indicator_method_version or "").split(",") if m})
    scenario.version += 1
    scenario.revision += 1
    scenario.stale = False
    row = ScenarioVersion(
        scenario_id=scenario.id, version=scenario.version, reason=reason,
        total_cents=sum(line.cents for line in lines),
        area_count=len({line.area_code for line in lines}),
        method_versions=",".join(methods)[:200], computed_at=utcnow())
    await repository.add_version(session, row, lines)
    await repository.replace_inputs(session, scenario.id, used)
    record_event(
        session, Outbox, ALLOCATION_COMPUTED,
        AllocationComputed(programme_id=programme.id, scenario_id=scenario.id,
                           version=row.version, total_cents=row.total_cents,
                           area_count=row.area_count, method_version=row.method_versions or None,
                           computed_at=row.computed_at),
        key=str(programme.id), source=settings.cloudevents_source(),
        subject=f"scenarios/{scenario.id}")
    audit.record(session, programme.id, "scenario-computed", actor, scenario.id,
                 version=row.version, reason=reason, totalCents=row.total_cents)
    return row


async def create(session: AsyncSession, settings: ServiceSettings, programme_id: uuid.UUID,
                 body: ScenarioCreate, principal: Principal) -> tuple[Scenario, bool]:
    """The new scenario (True), or the same one on a replay of its client id (False)."""
    programme = await programmes.get(session, programme_id)
    programmes.require_member(programme, principal)
    if body.id is not None:
        existing = await repository.get(session, body.id)
        if existing is not None:
            if existing.programme_id != programme_id or existing.name != body.name:
                raise Conflict(f"scenario {body.id} exists with other content")
            return existing, False
    _check_overrides(programmes.pools_of(programme), body.overrides)
    scenario = Scenario(
        id=body.id or uuid.uuid4(), programme_id=programme.id, name=body.name, status=DRAFT,
        version=0, revision=0, stale=False, drafted_by=principal.subject,
        created_at=utcnow())
    repository.set_overrides(scenario, body.overrides)
    repository.set_snapshot(scenario, body.snapshot)
    repository.add(session, scenario)
    await session.flush()
    audit.record(session, programme.id, "scenario-created", principal.subject, scenario.id,
                 name=body.name, pinned=body.snapshot is not None)
    await compute(session, settings, scenario, programme, "created", principal.subject)
    return scenario, True


async def get(session: AsyncSession, scenario_id: uuid.UUID) -> Scenario:
    return await _get(session, scenario_id)


async def _get(session: AsyncSession, scenario_id: uuid.UUID, for_update: bool = False
               ) -> Scenario:
    scenario = await repository.get(session, scenario_id, for_update=for_update)
    if scenario is None:
        raise NotFound(f"no scenario {scenario_id}")
    return scenario


async def version_of(session: AsyncSession, scenario: Scenario,
                     number: int | None = None) -> ScenarioVersion:
    row = await repository.version(session, scenario.id, number or scenario.version)
    if row is None:
        raise NotFound(f"scenario {scenario.id} has no version {number}")
    return row


def _require_draft(scenario: Scenario) -> None:
    if scenario.status != DRAFT:
        raise Conflict(f"scenario {scenario.id} is {scenario.status}: it can no longer change")


def _revision_matched(scenario: Scenario, if_match: str | None) -> int:
    """The revision the caller read, from its exact ETag (a strong one, not `*`).

    Approval and publication are decisions about one version: `*` would approve whatever
    the scenario has become by the time the request lands, so it is refused like no header.
    """
    if if_match is None:
        raise PreconditionRequired("send If-Match with the scenario's ETag")
    if if_match.strip() == "*":
        raise PreconditionRequired("If-Match: * names no version: send the scenario's ETag "
                                   "as you read it, so you decide on exactly that version")
    if if_match.strip() != etag(scenario):
        raise PreconditionFailed("the scenario changed since you read it; read it again")
    return scenario.revision


async def _moved_on(session: AsyncSession, scenario: Scenario, wanted: str) -> ProblemError:
    """Why a conditional transition changed no row: what came first, read afresh."""
    await session.refresh(scenario)
    if scenario.status != wanted:
        return Conflict(f"scenario {scenario.id} is {scenario.status} now")
    if scenario.stale:
        return Conflict("indicators changed: wait for the recomputation, then approve that")
    return PreconditionFailed("the scenario changed meanwhile; read it again")


async def edit(session: AsyncSession, settings: ServiceSettings, scenario_id: uuid.UUID,
               body: ScenarioEdit, principal: Principal) -> Scenario:
    """Recompute a draft now, optionally with new overrides."""
    # Row lock (PostgreSQL): an approval of the version read here waits for this commit and
    # then finds the revision moved on (412), instead of approving what it did not see.
    scenario = await _get(session, scenario_id, for_update=True)
    _require_draft(scenario)
    programme = await programmes.get(session, scenario.programme_id)
    programmes.require_member(programme, principal)
    if body.overrides is not None:
        _check_overrides(programmes.pools_of(programme), body.overrides)
        repository.set_overrides(scenario, body.overrides)
    audit.record(session, programme.id, "scenario-edited", principal.subject, scenario.id,
                 overridesChanged=body.overrides is not None)
    await compute(session, settings, scenario, programme, "edited", principal.subject)
    return scenario


async def recompute_stale(session: AsyncSession, settings: ServiceSettings,
                          scenario: Scenario) -> None:
    """The recompute worker's step for one stale draft."""
    programme = await programmes.get(session, scenario.programme_id)
    await compute(session, settings, scenario, programme, "indicators-changed", audit.SYSTEM)


async def approve(session: AsyncSession, scenario_id: uuid.UUID, principal: Principal,
                  if_match: str | None) -> Scenario:
    """Four eyes: an approver of the programme's organisation who neither drafted nor edited
    the scenario nor last wrote the programme's formulas approves exactly the version read."""
    scenario = await get(session, scenario_id)
    _require_draft(scenario)
    revision = _revision_matched(scenario, if_match)
    programme = await programmes.get(session, scenario.programme_id)
    programmes.require_member(programme, principal)
    drafters = await audit.actors(session, scenario.id, DRAFTING_ACTIONS)
    if principal.subject in drafters | {scenario.drafted_by}:
        raise Forbidden("four eyes: you drafted or edited this scenario, so someone else "
                        "must approve it")
    if principal.subject == programme.pools_edited_by:
        raise Forbidden("four eyes: you wrote this programme's pools and formula, so someone "
                        "else must approve its scenarios")
    if scenario.stale:
        raise Conflict("indicators changed: wait for the recomputation, then approve that")
    at = utcnow()
    record = _approval_record(scenario, principal.subject, at)
    if not await repository.transition(
            session, scenario.id, revision, DRAFT, status=APPROVED,
            approved_by=principal.subject, approved_at=at, approval=record):
        raise await _moved_on(session, scenario, DRAFT)
    await session.refresh(scenario)
    await repository.replace_inputs(session, scenario.id, set())  # frozen: nothing to watch
    audit.record(session, scenario.programme_id, "scenario-approved", principal.subject,
                 scenario.id, **record.model_dump(mode="json", by_alias=True,
                                                  exclude={"approved_by", "approved_at"}))
    return scenario


async def publish(session: AsyncSession, settings: ServiceSettings, scenario_id: uuid.UUID,
                  principal: Principal, if_match: str | None) -> Scenario:
    """Publish an approved scenario: `allocation-published` goes out with the commit."""
    scenario = await get(session, scenario_id)
    if scenario.status != APPROVED:
        raise Conflict(f"only an approved scenario can be published; this one is "
                       f"{scenario.status}")
    revision = _revision_matched(scenario, if_match)
    programmes.require_member(await programmes.get(session, scenario.programme_id), principal)
    row = await version_of(session, scenario)
    at = utcnow()
    if not await repository.transition(session, scenario.id, revision, APPROVED,
                                       status=PUBLISHED, published_by=principal.subject,
                                       published_at=at):
        raise await _moved_on(session, scenario, APPROVED)
    await session.refresh(scenario)
    record_event(
        session, Outbox, ALLOCATION_PUBLISHED,
        AllocationPublished(programme_id=scenario.programme_id, scenario_id=scenario.id,
                            version=scenario.version, total_cents=row.total_cents,
                            published_at=at),
        key=str(scenario.programme_id), source=settings.cloudevents_source(),
        subject=f"scenarios/{scenario.id}")
    audit.record(session, scenario.programme_id, "scenario-published", principal.subject,
                 scenario.id, version=scenario.version)
    return scenario


def _per_area(lines: Iterable[AllocationLine]) -> tuple[dict[str, int], dict[str, str]]:
    cents: dict[str, int] = defaultdict(int)
    names: dict[str, str] = {}
    for line in lines:
        cents[line.area_code] += line.cents
        names[line.area_code] = line.area_name
    return cents, names


async def compare(session: AsyncSession, scenario_id: uuid.UUID, other_id: uuid.UUID
                  ) -> Comparison:
    """Per area, what the other scenario gives more (or less) over all pools and years."""
    first, other = await get(session, scenario_id), await get(session, other_id)
    a_cents, a_names = _per_area(await repository.lines(session,
                                                         await version_of(session, first)))
    b_cents, b_names = _per_area(await repository.lines(session,
                                                         await version_of(session, other)))
    names = {**a_names, **b_names}
    areas = [
        AreaDifference(area_code=code, area_name=names[code], cents=a_cents.get(code, 0),
                       other_cents=b_cents.get(code, 0),
                       difference_cents=b_cents.get(code, 0) - a_cents.get(code, 0),
                       difference_euros=euros(b_cents.get(code, 0) - a_cents.get(code, 0)))
        for code in sorted(names)
    ]
    return Comparison(scenario_id=first.id, version=first.version, other_scenario_id=other.id,
                      other_version=other.version,
                      total_difference_cents=sum(a.difference_cents for a in areas), areas=areas)


async def page(session: AsyncSession, programme_id: uuid.UUID, limit: int,
               cursor: str | None) -> ScenarioPage:
    await programmes.get(session, programme_id)
    after = None
    if cursor is not None:
        at, last = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(str(at)), uuid.UUID(str(last)))
        except ValueError:
            raise invalid_cursor() from None
        if after[0].tzinfo is None:
            raise invalid_cursor()
    rows = await repository.of_programme(session, programme_id, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return ScenarioPage(
        items=[ScenarioSummary(id=s.id, name=s.name, status=s.status, version=s.version)
               for s in rows],
        next_cursor=encode_cursor(rows[-1].created_at.isoformat(), str(rows[-1].id))
        if more else None)


async def scenario_history(session: AsyncSession, scenario_id: uuid.UUID) -> History:
    await get(session, scenario_id)
    return history(await audit.entries(session, scenario_id=scenario_id))


async def lines_page(session: AsyncSession, scenario_id: uuid.UUID, version: int | None,
                     where: LineFilter, limit: int, cursor: str | None) -> AllocationLinePage:
    """A page of a version's lines in (pool, theme, year, area) order."""
    row = await version_of(session, await get(session, scenario_id), version)
    after: LineKey | None = None
    if cursor is not None:
        pool, theme, year, area = decode_cursor(cursor, 4)
        if not (isinstance(pool, str) and isinstance(theme, str) and isinstance(year, int)
                and isinstance(area, str)):
            raise invalid_cursor()
        after = (pool, theme, year, area)
    found = await repository.lines(session, row, where, after, limit + 1)
    more = len(found) > limit
    items = found[:limit]
    return AllocationLinePage(
        version=row.version, items=items,
        next_cursor=encode_cursor(*line_key(items[-1])) if more else None)


async def all_lines(session: AsyncSession, scenario_id: uuid.UUID, version: int | None
                    ) -> tuple[ScenarioVersion, list[AllocationLine]]:
    row = await version_of(session, await get(session, scenario_id), version)
    return row, await repository.lines(session, row)


async def read(session: AsyncSession, scenario: Scenario, number: int | None = None
               ) -> ScenarioRead:
    """A scenario with the cell totals of its current (or a given) version."""
    row = await version_of(session, scenario, number)
    return scenario_read(scenario, row, await repository.totals(session, row))
