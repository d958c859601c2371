"""Typed dependencies of the indicators endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from services.indicators.computation.periods import (
    Period,
    current_period,
    latest_final_period,
    parse_period,
)
from services.indicators.runtime import indicators_runtime
from services.indicators.snapshots.reader import SnapshotReader
from shared.auth import Forbidden, Principal, Role, require_roles
from shared.db import utcnow
from shared.problems import BadRequest, InvalidParam

PERIOD = r"^(month|rolling-12m):[0-9]{4}-(0[1-9]|1[0-2])$"
PeriodQuery = Annotated[str | None, Query(
    pattern=PERIOD, description="month:YYYY-MM or rolling-12m:YYYY-MM (12 months ending "
    "with that month), from the first month with data up to the current month (otherwise "
    "a 400 naming the parameter); default: the rolling 12 months ending this month")]


def period_of(text: str | None, name: str = "period") -> Period:
    """The period a query names, or the rolling 12 months ending this month."""
    if text is None:
        return current_period(utcnow())
    try:
        return parse_period(text)
    except ValueError as exc:
        raise _bad_period(name, "invalid_period", str(exc)) from exc


def _bad_period(name: str, code: str, reason: str) -> BadRequest:
    return BadRequest(f"query parameter {name} is not a readable period: {reason}",
                      [InvalidParam(name=f"query.{name}", code=code, reason=reason)])


async def bounded_period(cache: SnapshotReader, text: str | None, name: str = "period"
                         ) -> Period:
    """`period_of`, and a period named in the query must lie within the period bounds (the
    first month with data up to the current month); anything else is a 400 naming it."""
    period = period_of(text, name)
    if text is not None:
        reason = (await cache.bounds_for(period)).why_not(period)
        if reason is not None:
            raise _bad_period(name, "out_of_range", reason)
    return period


async def requested_period(cache: SnapshotReader, principal: Principal, text: str | None,
                           name: str = "period") -> Period:
    """The bounded period a reader asks for, as `readable_period` allows it."""
    if text is not None:
        await bounded_period(cache, text, name)
    return readable_period(text, principal, cache.grace_days, name)


def records_signals(principal: Principal) -> bool:
    """Whether a (non-admin) reader can also record signals, and so steer a figure."""
    return not principal.has(Role.ADMIN) and any(principal.has(r) for r in REPORTERS)


def readable_period(text: str | None, principal: Principal, grace_days: int,
                    name: str = "period") -> Period:
    """The period a reader asks for (default: the rolling 12 months ending this month).

    Those who record signals read figures of every organisation only for final periods,
    which no longer change (default: the latest final one): a tracker who adds signals and
    watches a figure change gets one state of it, not one per signal.
    """
    now = utcnow()
    if not records_signals(principal):
        return period_of(text, name)
    period = latest_final_period(now, grace_days) if text is None else period_of(text, name)
    final_at = period.final_at(grace_days)
    if final_at > now:
        raise Forbidden(f"{period} is open: those who record signals read figures of every "
                        f"organisation only for final periods; this one is final from "
                        f"{final_at.isoformat()}")
    return period


async def snapshot_reader(request: Request) -> SnapshotReader:
    return indicators_runtime(request).reader


async def snapshot_areas_per_part(request: Request) -> int:
    return indicators_runtime(request).settings.snapshot_areas_per_part


async def event_source(request: Request) -> str:
    return indicators_runtime(request).settings.cloudevents_source()


CacheDep = Annotated[SnapshotReader, Depends(snapshot_reader)]
EventSourceDep = Annotated[str, Depends(event_source)]
AreasPerPartDep = Annotated[int, Depends(snapshot_areas_per_part)]

# Who may read disclosure-controlled indicators: everyone who works with the programme,
# partners and field workers included (published figures reveal no small group).
READERS = (Role.ANALYST, Role.PROGRAMME_OFFICER, Role.PROGRAMME_APPROVER, Role.ADMIN,
           Role.PARTNER, Role.FIELD_WORKER, Role.COORDINATOR, Role.PRIVACY_OFFICER)
REPORTERS = (Role.FIELD_WORKER, Role.COORDINATOR)  # the roles that record signals

Reader = Annotated[Principal, require_roles(*READERS)]
Admin = Annotated[Principal, require_roles(Role.ADMIN)]
