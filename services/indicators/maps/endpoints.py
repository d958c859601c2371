"""Area maps: outlines of gemeenten, wijken and buurten as GeoJSON, with published values."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from services.indicators.dependencies import Admin, CacheDep, PeriodQuery, Reader
from services.indicators.maps import service
from services.indicators.maps.schemas import FEATURE_COLLECTION_SCHEMA, MapImportReport
from services.indicators.register.uploads import UploadedFileDep, upload_body
from shared.areacodes import AreaLevel
from shared.http_cache import etag_off_loop, known_etag
from shared.openapi import problem_responses
from shared.problems import BadRequest
from shared.runtime import SessionDep

router = APIRouter(tags=["area maps"])
GEOJSON = "application/geo+json"
MAP_LEVEL = r"^(gemeente|wijk|buurt)$"
MAP_PARENT = r"^(NL00|GM[0-9]{4}|WK[0-9]{4}[0-9A-Z]{2})$"
MAP_BODY = upload_body(GEOJSON, "CBS/PDOK wijk- en buurtkaart as a GeoJSON FeatureCollection "
                       "(RD New EPSG:28992 or WGS84); up to 4 MiB as the body, larger files "
                       "as a multipart upload")
COLLECTION_RESPONSE: dict[int | str, dict[str, Any]] = {200: {
    "description": "GeoJSON FeatureCollection",
    "content": {GEOJSON: {"schema": FEATURE_COLLECTION_SCHEMA}}}}


@router.post("/area-geometries/import", response_model=MapImportReport,
             openapi_extra=MAP_BODY, responses=problem_responses(400, 413))
async def import_area_geometries(
    principal: Admin,  # first: no body is read for the unauthorised
    data: UploadedFileDep, session: SessionDep,
    source: Annotated[str, Query(min_length=1, max_length=200, description=(
        "Where the map comes from, e.g. 'CBS wijk- en buurtkaart 2024'"))
    ] = service.DEFAULT_SOURCE,
) -> MapImportReport:
    """Import outlines from a wijk- en buurtkaart (a bad feature refuses the whole file)."""
    return await service.import_area_map(session, data, source)


@router.get("/area-geometries", response_class=Response, responses={
    **COLLECTION_RESPONSE, **problem_responses(400)})
async def area_geometries(
    principal: Reader, session: SessionDep, cache: CacheDep,
    level: Annotated[str, Query(pattern=MAP_LEVEL)],
    parent_code: Annotated[str | None, Query(
        alias="parentCode", pattern=MAP_PARENT,
        description="A gemeente (its wijken or buurten) or a wijk (its buurten)")] = None,
    indicator: Annotated[str | None, Query(max_length=100, description=(
        "Join one indicator's published values (see /indicator-definitions)"))] = None,
    period: PeriodQuery = None,
) -> Response:
    """Outlines of one level within a parent as GeoJSON, optionally with published values."""
    chosen = AreaLevel(level)
    if parent_code is not None and parent_code.startswith("WK") and chosen is not AreaLevel.BUURT:
        raise BadRequest("a wijk holds only buurten: use level=buurt with a wijk parentCode")
    if period is not None and indicator is None:
        raise BadRequest("period is for the values of an indicator: give indicator too")
    values = None if indicator is None else await service.published_values(
        cache, principal, chosen, indicator, period)
    body = await service.feature_collection(session, chosen, parent_code, values)
    # Outlines and published values, nobody's personal data: its ETag handed over, the
    # answer goes gzipped where accepted (a map of every buurt is 10 MB), compressed once
    # for as long as it stays the same, and validates however large.
    return Response(body, media_type=GEOJSON, headers=known_etag(await etag_off_loop(body)))
