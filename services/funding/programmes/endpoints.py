"""Programmes: budgets over years, pools with eligibility, themes and a formula."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from services.funding.dependencies import Drafter, Reader
from services.funding.programmes import service
from services.funding.programmes.schemas import (
    History,
    ProgrammeCreate,
    ProgrammePage,
    ProgrammeRead,
)
from services.funding.programmes.views import programme_read
from shared.openapi import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["programmes"])
ProgrammeId = Annotated[uuid.UUID, Path(alias="programmeId")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=400, description="A `nextCursor` as given")]


@router.post("/programmes", status_code=201, response_model=ProgrammeRead,
             responses=problem_responses(400, 409, 422))
async def create_programme(
    body: ProgrammeCreate, session: SessionDep, response: Response, principal: Drafter,
) -> ProgrammeRead:
    """Create a programme of your organisation (a replay of the same body returns it again)."""
    programme, created = await service.create(session, body, principal.subject,
                                              principal.organisation)
    await session.flush()
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/programmes/{programme.id}"
    return programme_read(programme)


@router.get("/programmes", response_model=ProgrammePage, responses=problem_responses(400))
async def list_programmes(
    session: SessionDep, principal: Reader, limit: Limit = 100, cursor: Cursor = None,
) -> ProgrammePage:
    """Every programme, oldest first, a page at a time."""
    return await service.page(session, limit, cursor)


@router.get("/programmes/{programmeId}", response_model=ProgrammeRead,
            responses=problem_responses(404))
async def get_programme(
    programme_id: ProgrammeId, session: SessionDep, principal: Reader,
) -> ProgrammeRead:
    """One programme with its pools and formulas."""
    return programme_read(await service.get(session, programme_id))


@router.get("/programmes/{programmeId}/history", response_model=History,
            responses=problem_responses(404))
async def get_programme_history(
    programme_id: ProgrammeId, session: SessionDep, principal: Reader,
) -> History:
    """Everything that happened to a programme and its scenarios, oldest first."""
    return await service.programme_history(session, programme_id)
