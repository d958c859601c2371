"""Typed dependencies of the indicators endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from services.indicators.computation.periods import Period, current_period, parse_period
from services.indicators.computation.service import ComputationCache
from shared.auth import Role, require_roles
from shared.db import utcnow
from shared.problems import BadRequest
from shared.runtime import settings_of

PERIOD = r"^(month|rolling-12m):[0-9]{4}-(0[1-9]|1[0-2])$"
PeriodQuery = Annotated[str | None, Query(
    pattern=PERIOD, description="month:YYYY-MM or rolling-12m:YYYY-MM (12 months ending "
    "with that month); default: the rolling 12 months ending this month")]


def period_of(text: str | None) -> Period:
    """The period a query names, or the rolling 12 months ending this month."""
    if text is None:
        return current_period(utcnow())
    try:
        return parse_period(text)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc


async def computation_cache(request: Request) -> ComputationCache:
    cache: ComputationCache = request.app.state.computation_cache
    return cache


async def snapshot_areas_per_part(request: Request) -> int:
    return int(settings_of(request).snapshot_areas_per_part)


async def event_source(request: Request) -> str:
    source: str = settings_of(request).cloudevents_source()
    return source


CacheDep = Annotated[ComputationCache, Depends(computation_cache)]
EventSourceDep = Annotated[str, Depends(event_source)]
AreasPerPartDep = Annotated[int, Depends(snapshot_areas_per_part)]

# Who may read disclosure-controlled indicators: everyone who works with the programme,
# partners and field workers included (published figures reveal no small group).
READERS = (Role.ANALYST, Role.PROGRAMME_OFFICER, Role.PROGRAMME_APPROVER, Role.ADMIN,
           Role.PARTNER, Role.FIELD_WORKER, Role.COORDINATOR, Role.PRIVACY_OFFICER)
require_reader = require_roles(*READERS)
require_admin = require_roles(Role.ADMIN)
