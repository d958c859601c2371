"""Reading indicators: definitions, an area's values, rankings, series, the index."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.types import Scope

from services.indicators.computation import definitions
from services.indicators.dependencies import (
    PERIOD,
    READERS,
    CacheDep,
    PeriodQuery,
    Reader,
    records_signals,
    requested_period,
)
from services.indicators.reporting import audit, repository, service
from services.indicators.reporting.rankings import page_offset
from services.indicators.reporting.schemas import (
    AreaIndicatorsOut,
    AreaSignalCounts,
    IndicatorDefinitionList,
    IndicatorRanking,
    IndicatorSeries,
    VulnerabilityIndexList,
)
from services.indicators.runtime import indicators_runtime
from shared.areacodes import AreaLevel
from shared.auth import BEARER_SECURITY, Principal, Role, authorise
from shared.fastpath import fast_params, plain_query
from shared.http_cache import known_etag
from shared.openapi import problem_responses
from shared.problems import BadRequest, NotFound
from shared.runtime import SessionDep

router = APIRouter(tags=["indicators"])
AREA_OR_PROGRAMME = (r"^(NL00|GM[0-9]{4}|WK[0-9]{4}[0-9A-Z]{2}|BU[0-9]{4}[0-9A-Z]{4}"
                     r"|PA-[a-z0-9]+(-[a-z0-9]+)*)$")
BUURT = r"^BU[0-9]{4}[0-9A-Z]{4}$"
LEVEL = r"^(national|gemeente|wijk|buurt|programme-area)$"
RANKING_PAGE = 100  # areas per page where a cursor is given without a limit
RANKING_MAX_LIMIT = 1000
INDICATOR_MAX_LENGTH = 100
CURSOR_MAX_LENGTH = 40


def _raw(principal: Principal, endpoint: str, area: str | None = None,
         period: str | None = None) -> bool:
    """Admins read raw values; each such read is logged and counted."""
    if not principal.has(Role.ADMIN):
        return False
    audit.raw_read(principal, endpoint, area, period)
    return True


@router.get("/indicator-definitions", response_model=IndicatorDefinitionList)
async def indicator_definitions(principal: Reader) -> IndicatorDefinitionList:
    """Every indicator: name, unit, source, direction of worse and method version."""
    return service.definition_list()


# The two reads that dashboards and the console make most (an area, a ranking page) check
# the token themselves and find the reader on the runtime, and their plainly valid requests
# skip FastAPI's request handler (shared.fastpath.fast_params): FastAPI's dependencies, then
# its handler, cost a read a fifth, then 29 %, of its server CPU (docs/benchmarks.md). Their routes
# state the token in their OpenAPI (BEARER_SECURITY); what is not plainly valid goes to
# FastAPI's handler, which answers it as declared.
_AREA_OR_PROGRAMME, _LEVEL, _PERIOD = map(re.compile, (AREA_OR_PROGRAMME, LEVEL, PERIOD))
# A longer limit (leading zeros, or thousands of digits, which int() refuses) is the
# declaration's to judge.
_LIMIT_DIGITS = len(str(RANKING_MAX_LIMIT))


def _plain_period(query: dict[str, str]) -> bool:
    period = query.get("period")
    return period is None or _PERIOD.fullmatch(period) is not None


def _area_params(scope: Scope) -> dict[str, Any] | None:
    query = plain_query(scope, ("period",))
    code = scope["path_params"].get("code", "")
    if query is None or not _AREA_OR_PROGRAMME.fullmatch(code) or not _plain_period(query):
        return None
    return {"code": code, "period": query.get("period")}


def _ranking_params(scope: Scope) -> dict[str, Any] | None:
    query = plain_query(scope, ("level", "indicator", "period", "limit", "cursor"))
    if query is None or not _plain_period(query):
        return None
    level, indicator = query.get("level", ""), query.get("indicator")
    limit, cursor = query.get("limit"), query.get("cursor")
    if (not _LEVEL.fullmatch(level) or indicator is None
            or len(indicator) > INDICATOR_MAX_LENGTH
            or (cursor is not None and len(cursor) > CURSOR_MAX_LENGTH)
            or (limit is not None and not (limit.isascii() and limit.isdigit()
                                           and len(limit) <= _LIMIT_DIGITS
                                           and 1 <= int(limit) <= RANKING_MAX_LIMIT))):
        return None
    return {"level": level, "indicator": indicator, "period": query.get("period"),
            "limit": None if limit is None else int(limit), "cursor": cursor}


@router.get("/areas/{code}/indicators", response_model=AreaIndicatorsOut,
            responses=problem_responses(404), openapi_extra={"security": BEARER_SECURITY})
@fast_params(_area_params)
async def area_indicators(
    request: Request, code: Annotated[str, Path(pattern=AREA_OR_PROGRAMME)],
    period: PeriodQuery = None,
) -> Response:
    """An area's indicators and vulnerability index for a period (raw for admins)."""
    principal = await authorise(request, *READERS)
    cache = indicators_runtime(request).reader
    chosen = await requested_period(cache, principal, period)
    raw = _raw(principal, "area-indicators", code, str(chosen))
    body, etag = service.area_indicators_body(await cache.get(chosen), code, raw)
    return Response(body, media_type="application/json", headers=known_etag(etag))


@router.get("/indicators", response_model=IndicatorRanking,
            openapi_extra={"security": BEARER_SECURITY})
@fast_params(_ranking_params)
async def indicator_ranking(
    request: Request,
    level: Annotated[str, Query(pattern=LEVEL)],
    indicator: Annotated[str, Query(max_length=INDICATOR_MAX_LENGTH)],
    period: PeriodQuery = None,
    limit: Annotated[int | None, Query(ge=1, le=RANKING_MAX_LIMIT, description=(
        "Areas per page; without it (and without `cursor`) the whole ranking, 14,000 "
        "buurten nationally"))] = None,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_LENGTH, description=(
        "The nextCursor of the previous page"))] = None,
) -> Response:
    """Areas of one level ranked on one indicator for a period, worst first: all of them, or
    a page of at most `limit`."""
    principal = await authorise(request, *READERS)
    runtime = indicators_runtime(request)
    cache, rankings = runtime.reader, runtime.rankings
    offset = page_offset(cursor)
    chosen = await requested_period(cache, principal, period)
    raw = _raw(principal, "indicator-ranking", None, str(chosen))
    computation = await cache.get(chosen)
    version = cache.version(chosen, "raw" if raw else "public")
    ranking = await rankings.ranking(computation, version, AreaLevel(level), indicator, raw)
    if limit is None and cursor is None:
        return Response(ranking.body, media_type="application/json",
                        headers=known_etag(ranking.etag))
    body, etag = ranking.page(offset, limit or RANKING_PAGE)
    return Response(body, media_type="application/json", headers=known_etag(etag))


@router.get("/areas/{code}/indicators/{indicatorId}/series", response_model=IndicatorSeries,
            responses=problem_responses(404))
async def indicator_series(
    code: Annotated[str, Path(pattern=AREA_OR_PROGRAMME)],
    indicator_id: Annotated[str, Path(alias="indicatorId", max_length=100)],
    cache: CacheDep, principal: Reader,
    until: PeriodQuery = None,
    count: Annotated[int, Query(ge=1, le=service.SERIES_MAX_COUNT, description=(
        "How many periods the whole series has (periods before the first month with data "
        "are left out)"))] = 12,
    limit: Annotated[int, Query(ge=1, le=service.SERIES_MAX_LIMIT, description=(
        "Periods per page"))] = 12,
    cursor: Annotated[str | None, Query(max_length=40, description=(
        "The nextCursor of the previous page"))] = None,
) -> IndicatorSeries:
    """One indicator of an area over `count` consecutive periods ending with `until`, a page
    of at most `limit` periods at a time."""
    last = await requested_period(cache, principal, until, "until")
    if indicator_id not in definitions.BY_ID:
        raise BadRequest(f"unknown indicator {indicator_id!r}; see /indicator-definitions")
    raw = _raw(principal, "indicator-series", code, str(last))
    bounds = await cache.bounds_for(last)
    periods = service.series_periods(last, count, bounds.first_month)
    page, next_cursor = service.series_page(periods, cursor, limit)
    computations = await cache.area_series(code, page)
    if all(code not in c.areas for c in computations) and code not in (
            await cache.area_series(code, [last]))[0].areas:
        raise NotFound(f"area {code} is not registered and has no signals")
    return service.series(code, indicator_id, raw, computations, next_cursor)


@router.get("/vulnerability-index", response_model=VulnerabilityIndexList)
async def vulnerability_index(
    request: Request, cache: CacheDep, principal: Reader,
    level: Annotated[str, Query(pattern=r"^buurt$")] = "buurt",
    period: PeriodQuery = None,
) -> Response:
    """The composite vulnerability index of every buurt, most vulnerable first."""
    chosen = await requested_period(cache, principal, period)
    index = await indicators_runtime(request).rankings.vulnerability_index(
        await cache.get(chosen), cache.version(chosen, "index"))
    return Response(index.body, media_type="application/json", headers=known_etag(index.etag))


@router.get("/areas/{code}/signal-counts", response_model=AreaSignalCounts)
async def area_signal_counts(
    code: Annotated[str, Path(pattern=BUURT)], session: SessionDep, principal: Reader,
) -> AreaSignalCounts:
    """All signals of a buurt by category (disclosure-controlled unless admin; for those who
    record signals, their own organisation's only)."""
    organisation = principal.organisation if records_signals(principal) else None
    by_category = await repository.signals_by_category(session, code, organisation)
    raw = _raw(principal, "signal-counts", code)
    return service.signal_counts(code, by_category, raw, organisation)
