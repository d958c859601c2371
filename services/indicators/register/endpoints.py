"""The area register: areas at every level with open statistics, and programme areas."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.indicators.dependencies import Admin, CacheDep, EventSourceDep, Reader
from services.indicators.register import repository as repo
from services.indicators.register import service
from services.indicators.register.schemas import (
    AreaIn,
    AreaOut,
    AreaPage,
    ImportReport,
    ProgrammeAreaIn,
    ProgrammeAreaList,
    ProgrammeAreaOut,
)
from services.indicators.register.uploads import UploadedFileDep, upload_body
from shared.openapi import problem_responses
from shared.pagination import decode_cursor, encode_cursor
from shared.runtime import SessionDep

router = APIRouter(tags=["area register"])
AREA_CODE = r"^(NL00|GM[0-9]{4}|WK[0-9]{4}[0-9A-Z]{2}|BU[0-9]{4}[0-9A-Z]{4})$"
PROGRAMME_AREA_ID = r"^PA-[a-z0-9]+(-[a-z0-9]+)*$"
CBS_LEVEL = r"^(national|gemeente|wijk|buurt)$"
CSV_BODY = upload_body("text/csv", "CBS Kerncijfers wijken en buurten (CSV): kwb-YYYY.csv "
                       "from cbs.nl, or a StatLine table")


@router.post("/areas/import", response_model=ImportReport, openapi_extra=CSV_BODY,
             responses=problem_responses(400, 413))
async def import_areas(
    principal: Admin,  # first: no body is read for the unauthorised
    data: UploadedFileDep, session: SessionDep, cache: CacheDep, source: EventSourceDep,
    year: Annotated[int, Query(ge=1995, le=2100, description="Year the figures are about")],
) -> ImportReport:
    """Import a CBS Kerncijfers CSV for one year (idempotent; bad rows are reported)."""
    report = await service.import_kerncijfers(session, data, year, source)
    cache.clear()
    return report


@router.put("/areas/{code}", response_model=AreaOut, responses=problem_responses(422))
async def put_area(
    code: Annotated[str, Path(pattern=AREA_CODE)], body: AreaIn, session: SessionDep,
    cache: CacheDep, source: EventSourceDep, principal: Admin,
) -> AreaOut:
    """Register or update an area and its statistics per year."""
    out = await service.put_area(session, code, body, source)
    cache.clear()
    return out


@router.get("/areas", response_model=AreaPage)
async def list_areas(
    session: SessionDep, principal: Reader,
    level: Annotated[str | None, Query(pattern=CBS_LEVEL)] = None,
    parent_code: Annotated[str | None, Query(alias="parentCode", pattern=AREA_CODE)] = None,
    programme_area_id: Annotated[str | None, Query(alias="programmeAreaId",
                                                   pattern=PROGRAMME_AREA_ID)] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AreaPage:
    """List registered areas in code order, filtered by level, parent or programme area."""
    after = str(decode_cursor(cursor, 1)[0]) if cursor else None
    rows = await repo.page_of_areas(session, level=level, parent_code=parent_code,
                                    programme_area_id=programme_area_id, after=after,
                                    limit=limit + 1)
    items = await service.areas_out(session, rows[:limit])
    more = len(rows) > limit
    return AreaPage(items=items, next_cursor=encode_cursor(items[-1].code) if more else None)


@router.get("/areas/{code}", response_model=AreaOut, responses=problem_responses(404))
async def get_area(
    code: Annotated[str, Path(pattern=AREA_CODE)], session: SessionDep, principal: Reader,
) -> AreaOut:
    """One area with its statistics per year and the programme areas it is in."""
    return await service.get_area(session, code)


@router.put("/programme-areas/{id}", response_model=ProgrammeAreaOut,
            responses=problem_responses(422))
async def put_programme_area(
    id: Annotated[str, Path(pattern=PROGRAMME_AREA_ID, max_length=64)], body: ProgrammeAreaIn,
    session: SessionDep, cache: CacheDep, source: EventSourceDep, principal: Admin,
) -> ProgrammeAreaOut:
    """Register or update a programme area (a named group of registered buurten)."""
    out = await service.put_programme_area(session, id, body, source)
    cache.clear()
    return out


@router.get("/programme-areas", response_model=ProgrammeAreaList)
async def list_programme_areas(
    session: SessionDep, principal: Reader,
) -> ProgrammeAreaList:
    """Every programme area with its buurten."""
    rows = await repo.programme_areas(session)
    return ProgrammeAreaList(items=await service.programme_areas_out(session, rows))
