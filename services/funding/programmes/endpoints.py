"""Programmes: budgets over years, pools with eligibility, themes and a formula."""

from __future__ import annotations

import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Path, Response

from services.funding import audit
from services.funding.models import AuditEntry
from services.funding.programmes import repository, service
from services.funding.programmes.schemas import (
    History,
    HistoryEntry,
    ProgrammeCreate,
    ProgrammeList,
    ProgrammeRead,
)
from services.funding.roles import DRAFTERS, READERS
from shared.auth import Principal, require_roles
from shared.openapi import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["programmes"])
ProgrammeId = Annotated[uuid.UUID, Path(alias="programmeId")]


@router.post("/programmes", status_code=201, response_model=ProgrammeRead,
             responses=problem_responses(400, 409, 422))
async def create_programme(
    body: ProgrammeCreate, session: SessionDep, response: Response,
    principal: Principal = require_roles(*DRAFTERS),
) -> ProgrammeRead:
    """Create a programme of your organisation (a replay of the same body returns it again)."""
    programme, created = await service.create(session, body, principal.subject,
                                              principal.organisation)
    await session.flush()
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/programmes/{programme.id}"
    return service.read(programme)


@router.get("/programmes", response_model=ProgrammeList)
async def list_programmes(
    session: SessionDep, principal: Principal = require_roles(*READERS),
) -> ProgrammeList:
    """Every programme."""
    return ProgrammeList(programmes=[service.read(p) for p in await repository.all_(session)])


@router.get("/programmes/{programmeId}", response_model=ProgrammeRead,
            responses=problem_responses(404))
async def get_programme(
    programme_id: ProgrammeId, session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> ProgrammeRead:
    """One programme with its pools and formulas."""
    return service.read(await service.get(session, programme_id))


@router.get("/programmes/{programmeId}/history", response_model=History,
            responses=problem_responses(404))
async def get_programme_history(
    programme_id: ProgrammeId, session: SessionDep,
    principal: Principal = require_roles(*READERS),
) -> History:
    """Everything that happened to a programme and its scenarios, oldest first."""
    await service.get(session, programme_id)
    return history(await audit.entries(session, programme_id=programme_id))


def history(entries: list[AuditEntry]) -> History:
    return History(entries=[
        HistoryEntry(action=e.action, actor=e.actor, at=e.at, scenario_id=e.scenario_id,
                     detail=orjson.loads(e.detail_json))
        for e in entries
    ])
