"""Scenarios: computed allocations, their versions, CSV export, comparison and approval."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Path, Query, Response

from services.funding import audit
from services.funding.models import Scenario, ScenarioVersion
from services.funding.programmes import service as programmes
from services.funding.programmes.endpoints import ProgrammeId, history
from services.funding.programmes.schemas import History
from services.funding.roles import APPROVERS, DRAFTERS, READERS
from services.funding.scenarios import repository, service
from services.funding.scenarios.export import to_csv
from services.funding.scenarios.schemas import (
    AllocationLine,
    Comparison,
    ScenarioCreate,
    ScenarioEdit,
    ScenarioList,
    ScenarioRead,
    ScenarioSummary,
    VersionList,
    VersionSummary,
)
from shared.auth import Principal, require_roles
from shared.openapi import problem_responses
from shared.runtime import RuntimeDep, SessionDep

router = APIRouter(tags=["scenarios"])
ScenarioId = Annotated[uuid.UUID, Path(alias="scenarioId")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The scenario's ETag")]


def summary(row: ScenarioVersion) -> VersionSummary:
    return VersionSummary(version=row.version, reason=row.reason, total_cents=row.total_cents,
                          area_count=row.area_count, method_versions=row.method_versions,
                          computed_at=row.computed_at)


def read(scenario: Scenario, row: ScenarioVersion, pool: str | None = None,
         theme: str | None = None, year: int | None = None) -> ScenarioRead:
    lines = [
        AllocationLine.model_validate(line) for line in orjson.loads(row.lines_json)
        if (pool is None or line["pool"] == pool) and (theme is None or line["theme"] == theme)
        and (year is None or line["year"] == year)
    ]
    return ScenarioRead(
        id=scenario.id, programme_id=scenario.programme_id, name=scenario.name,
        status=scenario.status, version=row.version, stale=scenario.stale,
        pinned=scenario.snapshot_json is not None,
        pinned_inputs=service.pinned_inputs(scenario),
        pinned_inputs_digest=service.pinned_digest(scenario),
        overrides=service.overrides_of(scenario),
        drafted_by=scenario.drafted_by, created_at=scenario.created_at,
        approved_by=scenario.approved_by, approved_at=scenario.approved_at,
        approval=service.approval_of(scenario),
        published_at=scenario.published_at,
        current=summary(row),
        lines=lines)


@router.post("/programmes/{programmeId}/scenarios", status_code=201,
             response_model=ScenarioRead, responses=problem_responses(400, 403, 404, 409, 422))
async def create_scenario(
    programme_id: ProgrammeId, body: ScenarioCreate, session: SessionDep, rt: RuntimeDep,
    response: Response, principal: Principal = require_roles(*DRAFTERS),
) -> ScenarioRead:
    """Compute a draft scenario from the current indicators (or a given snapshot)."""
    scenario, created = await service.create(session, rt.settings, programme_id, body,
                                             principal)
    await session.flush()
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/scenarios/{scenario.id}"
    response.headers["ETag"] = service.etag(scenario)
    return read(scenario, await service.version_of(session, scenario))


@router.get("/programmes/{programmeId}/scenarios", response_model=ScenarioList,
            responses=problem_responses(404))
async def list_scenarios(
    programme_id: ProgrammeId, session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> ScenarioList:
    """A programme's scenarios, oldest first."""
    await programmes.get(session, programme_id)
    return ScenarioList(scenarios=[
        ScenarioSummary(id=s.id, name=s.name, status=s.status, version=s.version)
        for s in await repository.of_programme(session, programme_id)])


@router.get("/scenarios/{scenarioId}", response_model=ScenarioRead,
            responses=problem_responses(404))
async def get_scenario(
    scenario_id: ScenarioId, session: SessionDep, response: Response,
    version: Annotated[int | None, Query(ge=1, description="An older version")] = None,
    pool: Annotated[str | None, Query(max_length=100)] = None,
    theme: Annotated[str | None, Query(max_length=40)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
    principal: Principal = require_roles(*READERS),
) -> ScenarioRead:
    """A scenario with the lines of its current (or a given) version, optionally filtered."""
    scenario = await service.get(session, scenario_id)
    response.headers["ETag"] = service.etag(scenario)
    return read(scenario, await service.version_of(session, scenario, version), pool, theme,
                year)


@router.post("/scenarios/{scenarioId}/versions", status_code=201, response_model=ScenarioRead,
             responses=problem_responses(400, 403, 404, 409, 422))
async def edit_scenario(
    scenario_id: ScenarioId, body: ScenarioEdit, session: SessionDep, rt: RuntimeDep,
    response: Response, principal: Principal = require_roles(*DRAFTERS),
) -> ScenarioRead:
    """Recompute a draft now as a new version, optionally with new formula overrides."""
    scenario = await service.edit(session, rt.settings, scenario_id, body, principal)
    await session.flush()
    response.headers["ETag"] = service.etag(scenario)
    return read(scenario, await service.version_of(session, scenario))


@router.get("/scenarios/{scenarioId}/versions", response_model=VersionList,
            responses=problem_responses(404))
async def list_versions(
    scenario_id: ScenarioId, session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> VersionList:
    """Every computed version of a scenario, oldest first (older ones are kept)."""
    await service.get(session, scenario_id)
    return VersionList(versions=[summary(v) for v in await repository.versions(session,
                                                                                scenario_id)])


@router.get("/scenarios/{scenarioId}/allocations.csv", responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "One row per pool, theme, year and area"},
    **problem_responses(404)})
async def export_allocations(
    scenario_id: ScenarioId, session: SessionDep,
    version: Annotated[int | None, Query(ge=1, description="An older version")] = None,
    principal: Principal = require_roles(*READERS),
) -> Response:
    """The lines of a scenario version as CSV (cents, and euros with two decimals)."""
    scenario = await service.get(session, scenario_id)
    row = await service.version_of(session, scenario, version)
    return Response(
        to_csv(orjson.loads(row.lines_json)), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="scenario-{scenario.id}-v{row.version}.csv"'})


@router.get("/scenarios/{scenarioId}/compare/{otherScenarioId}", response_model=Comparison,
            responses=problem_responses(404))
async def compare_scenarios(
    scenario_id: ScenarioId,
    other_id: Annotated[uuid.UUID, Path(alias="otherScenarioId")], session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> Comparison:
    """Per area, the difference between two scenarios' current versions (other - first)."""
    return await service.compare(session, scenario_id, other_id)


@router.post("/scenarios/{scenarioId}/approval", response_model=ScenarioRead,
             responses=problem_responses(403, 404, 409, 412, 428))
async def approve_scenario(
    scenario_id: ScenarioId, session: SessionDep, response: Response, if_match: IfMatch = None,
    principal: Principal = require_roles(*APPROVERS),
) -> ScenarioRead:
    """Approve a draft: If-Match its exact ETag; an approver of the programme's organisation
    who neither drafted nor edited it nor wrote the programme's formula."""
    scenario = await service.approve(session, scenario_id, principal, if_match)
    response.headers["ETag"] = service.etag(scenario)
    return read(scenario, await service.version_of(session, scenario))


@router.post("/scenarios/{scenarioId}/publication", response_model=ScenarioRead,
             responses=problem_responses(403, 404, 409, 412, 428))
async def publish_scenario(
    scenario_id: ScenarioId, session: SessionDep, rt: RuntimeDep, response: Response,
    if_match: IfMatch = None, principal: Principal = require_roles(*APPROVERS),
) -> ScenarioRead:
    """Publish an approved scenario (If-Match its exact ETag; emits allocation-published)."""
    scenario = await service.publish(session, rt.settings, scenario_id, principal, if_match)
    response.headers["ETag"] = service.etag(scenario)
    return read(scenario, await service.version_of(session, scenario))


@router.get("/scenarios/{scenarioId}/history", response_model=History,
            responses=problem_responses(404))
async def get_scenario_history(
    scenario_id: ScenarioId, session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> History:
    """Everything that happened to a scenario, oldest first."""
    await service.get(session, scenario_id)
    return history(await audit.entries(session, scenario_id=scenario_id))
