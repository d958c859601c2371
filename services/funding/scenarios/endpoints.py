"""Scenarios: computed allocations, their versions, CSV export, comparison and approval."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from services.funding.dependencies import Approver, Drafter, Reader, SettingsDep
from services.funding.programmes.endpoints import Cursor, Limit, ProgrammeId
from services.funding.programmes.schemas import History
from services.funding.scenarios import repository, service
from services.funding.scenarios.export import to_csv
from services.funding.scenarios.repository import LineFilter
from services.funding.scenarios.schemas import (
    AllocationLinePage,
    Comparison,
    ScenarioCreate,
    ScenarioEdit,
    ScenarioPage,
    ScenarioRead,
    VersionList,
)
from services.funding.scenarios.views import version_summary
from shared.openapi import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["scenarios"])
ScenarioId = Annotated[uuid.UUID, Path(alias="scenarioId")]
Version = Annotated[int | None, Query(ge=1, description="An older version")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The scenario's ETag")]


@router.post("/programmes/{programmeId}/scenarios", status_code=201,
             response_model=ScenarioRead, responses=problem_responses(400, 403, 404, 409, 422))
async def create_scenario(
    programme_id: ProgrammeId, body: ScenarioCreate, session: SessionDep, settings: SettingsDep,
    response: Response, principal: Drafter,
) -> ScenarioRead:
    """Compute a draft scenario from the current indicators (or a given snapshot)."""
    scenario, created = await service.create(session, settings, programme_id, body,
                                             principal)
    await session.flush()
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/scenarios/{scenario.id}"
    response.headers["ETag"] = service.etag(scenario)
    return await service.read(session, scenario)


@router.get("/programmes/{programmeId}/scenarios", response_model=ScenarioPage,
            responses=problem_responses(400, 404))
async def list_scenarios(
    programme_id: ProgrammeId, session: SessionDep, principal: Reader, limit: Limit = 100,
    cursor: Cursor = None,
) -> ScenarioPage:
    """A programme's scenarios, oldest first, a page at a time."""
    return await service.page(session, programme_id, limit, cursor)


@router.get("/scenarios/{scenarioId}", response_model=ScenarioRead,
            responses=problem_responses(404))
async def get_scenario(
    scenario_id: ScenarioId, session: SessionDep, response: Response, principal: Reader,
    version: Version = None,
) -> ScenarioRead:
    """A scenario with the totals per pool, theme and year of its current (or a given)
    version; its lines are at /scenarios/{scenarioId}/lines."""
    scenario = await service.get(session, scenario_id)
    response.headers["ETag"] = service.etag(scenario)
    return await service.read(session, scenario, version)


@router.post("/scenarios/{scenarioId}/versions", status_code=201, response_model=ScenarioRead,
             responses=problem_responses(400, 403, 404, 409, 422))
async def edit_scenario(
    scenario_id: ScenarioId, body: ScenarioEdit, session: SessionDep, settings: SettingsDep,
    response: Response, principal: Drafter,
) -> ScenarioRead:
    """Recompute a draft now as a new version, optionally with new formula overrides."""
    scenario = await service.edit(session, settings, scenario_id, body, principal)
    await session.flush()
    response.headers["ETag"] = service.etag(scenario)
    return await service.read(session, scenario)


@router.get("/scenarios/{scenarioId}/versions", response_model=VersionList,
            responses=problem_responses(404))
async def list_versions(
    scenario_id: ScenarioId, session: SessionDep,
    principal: Reader,
) -> VersionList:
    """Every computed version of a scenario, oldest first (older ones are kept)."""
    await service.get(session, scenario_id)
    return VersionList(items=[version_summary(v) for v in await repository.versions(session,
                                                                                scenario_id)])


@router.get("/scenarios/{scenarioId}/allocations.csv", responses={
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "One row per pool, theme, year and area"},
    **problem_responses(404)})
async def export_allocations(
    scenario_id: ScenarioId, session: SessionDep, principal: Reader,
    version: Version = None,
) -> Response:
    """Every line of a scenario version as CSV (cents, and euros with two decimals)."""
    row, lines = await service.all_lines(session, scenario_id, version)
    return Response(
        to_csv(lines), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition":
                 f'attachment; filename="scenario-{scenario_id}-v{row.version}.csv"'})


@router.get("/scenarios/{scenarioId}/lines", response_model=AllocationLinePage,
            responses=problem_responses(400, 404))
async def list_lines(
    scenario_id: ScenarioId, session: SessionDep, principal: Reader,
    version: Version = None,
    pool: Annotated[str | None, Query(max_length=100)] = None,
    theme: Annotated[str | None, Query(max_length=40)] = None,
    year: Annotated[int | None, Query(ge=2000, le=2200)] = None,
    area_code: Annotated[str | None, Query(alias="areaCode", max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    cursor: Cursor = None,
) -> AllocationLinePage:
    """A page of a scenario version's lines in pool, theme, year and area order, optionally
    only those of one pool, theme, year or area."""
    return await service.lines_page(
        session, scenario_id, version,
        LineFilter(pool=pool, theme=theme, year=year, area_code=area_code), limit, cursor)


@router.get("/scenarios/{scenarioId}/compare/{otherScenarioId}", response_model=Comparison,
            responses=problem_responses(404))
async def compare_scenarios(
    scenario_id: ScenarioId,
    other_id: Annotated[uuid.UUID, Path(alias="otherScenarioId")], session: SessionDep,
    principal: Reader,
) -> Comparison:
    """Per area, the difference between two scenarios' current versions (other - first)."""
    return await service.compare(session, scenario_id, other_id)


@router.post("/scenarios/{scenarioId}/approval", response_model=ScenarioRead,
             responses=problem_responses(403, 404, 409, 412, 428))
async def approve_scenario(
    scenario_id: ScenarioId, session: SessionDep, response: Response, principal: Approver,
    if_match: IfMatch = None,
) -> ScenarioRead:
    """Approve a draft: If-Match its exact ETag; an approver of the programme's organisation
    who neither drafted nor edited it nor wrote the programme's formula."""
    scenario = await service.approve(session, scenario_id, principal, if_match)
    response.headers["ETag"] = service.etag(scenario)
    return await service.read(session, scenario)


@router.post("/scenarios/{scenarioId}/publication", response_model=ScenarioRead,
             responses=problem_responses(403, 404, 409, 412, 428))
async def publish_scenario(
    scenario_id: ScenarioId, session: SessionDep, settings: SettingsDep, response: Response,
    principal: Approver, if_match: IfMatch = None,
) -> ScenarioRead:
    """Publish an approved scenario (If-Match its exact ETag; emits allocation-published)."""
    scenario = await service.publish(session, settings, scenario_id, principal, if_match)
    response.headers["ETag"] = service.etag(scenario)
    return await service.read(session, scenario)


@router.get("/scenarios/{scenarioId}/history", response_model=History,
            responses=problem_responses(404))
async def get_scenario_history(
    scenario_id: ScenarioId, session: SessionDep,
    principal: Reader,
) -> History:
    """Everything that happened to a scenario, oldest first."""
    return await service.scenario_history(session, scenario_id)
