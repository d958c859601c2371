"""Runs a full computation for a period (the snapshot worker's), and the period bounds."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.computation import repository
from services.indicators.computation.engine import Computation, compute
from services.indicators.computation.periods import GRACE_DAYS, Period, PeriodBounds, period_bounds
from services.indicators.computation.repository import Cutoffs
from shared.db import utcnow


def public_cutoffs(period: Period, now: datetime, grace_days: int = GRACE_DAYS) -> Cutoffs:
    """What the public figures of `period` count at `now`: a final period (and a final previous
    period, for the trend) only the facts recorded before it became final, so its published
    figures no longer change when signals are added to it later; an open period every fact."""

    def frozen(p: Period) -> datetime | None:
        at = p.final_at(grace_days)
        return at if at <= now else None

    return Cutoffs(frozen(period), frozen(period.previous()))


async def compute_period(session: AsyncSession, period: Period, include: Iterable[str] = (),
                         cutoffs: Cutoffs = Cutoffs()) -> Computation:
    """Every area's indicators for `period`, from the facts and the register as they are.

    `include`: codes to show even when unregistered and without signals (a buurt whose last
    signal was just erased must be published with zeros). `cutoffs`: see `public_cutoffs`;
    the default counts every fact (raw values for admins).
    """
    counts = await repository.signal_counts(session, period, cutoffs)
    statistics = await repository.open_statistics(session, period.year)
    members = await repository.programme_area_members(session)
    registered = await repository.registered_codes(session)
    computation = compute(period, counts, statistics, members, [*registered, *include])
    return dataclasses.replace(computation, data_until=cutoffs.current)


@dataclass
class PeriodBoundsCache:
    """The first month with data, which bounds every period parameter (`bounds_for`), reused
    for `bounds_ttl_s`; a write to the register clears it."""

    grace_days: int = GRACE_DAYS
    bounds_ttl_s: float = 60.0
    _first: tuple[float, tuple[str | None, int | None]] | None = None

    async def bounds_for(self, session: AsyncSession, period: Period) -> PeriodBounds:
        """The period bounds to check `period` against (`periods.PeriodBounds`).

        The first month with data only moves back when a late signal arrives, so it is
        reused for `bounds_ttl_s`; a period before it is checked again against the database
        (at most once a second), so a late signal's month is readable at once.
        """
        now = time.monotonic()
        if self._first is None or now - self._first[0] >= self.bounds_ttl_s:
            self._first = (now, await repository.first_months(session))
        bounds = period_bounds(utcnow(), *self._first[1])
        if (period.last_month < bounds.first_month
                and now - self._first[0] >= min(1.0, self.bounds_ttl_s)):
            self._first = (now, await repository.first_months(session))
            bounds = period_bounds(utcnow(), *self._first[1])
        return bounds

    def clear(self) -> None:
        self._first = None
