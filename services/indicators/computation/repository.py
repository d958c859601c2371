"""Loads what a computation needs with a few GROUP BY queries (never one row per signal)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.computation.definitions import SIGNAL_CATEGORIES
from services.indicators.computation.engine import OpenStatistics, SignalCounts
from services.indicators.computation.periods import Period, month_index, month_label
from services.indicators.models import (
    Area,
    AreaStatistics,
    ProgrammeArea,
    ProgrammeAreaMember,
    SignalFact,
)

F = SignalFact


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """Only facts recorded before these instants count (None: every fact), for the period
    and for its previous period (the trend)."""

    current: datetime | None = None
    previous: datetime | None = None


async def signal_counts(session: AsyncSession, period: Period,
                        cutoffs: Cutoffs = Cutoffs()) -> dict[str, SignalCounts]:
    """Per buurt: signals, distinct households (also per category and in the previous period),
    acute escalations, and stacking over the 12 months ending with the period, each with its
    cell key (the sum of the record keys it counts). `cutoffs`: only facts recorded before
    them count (a final period's public figures are frozen).

    One pass over the facts: the inner query makes one row per (buurt, household) with flags,
    the outer one sums them per buurt.
    """
    previous = period.previous()
    stack_first = month_label(month_index(period.last_month) - 11)
    current = _recorded_before(F.month.between(period.first_month, period.last_month),
                               cutoffs.current)
    stacking = _recorded_before(F.month.between(stack_first, period.last_month),
                                cutoffs.current)
    earlier = _recorded_before(F.month.between(previous.first_month, previous.last_month),
                               cutoffs.previous)
    flag = _flag
    key = func.coalesce(F.record_key, 0)
    # Categories per household in the stacking window, as flags (a COUNT(DISTINCT) per group
    # would make SQLite sort every group); for rolling 12 months that window is the period.
    same_window = stack_first == period.first_month
    per_household = (
        select(
            F.area_code.label("area"),
            func.sum(case((current, 1), else_=0)).label("signals"),
            flag(current).label("present"),
            func.sum(case((and_(current, F.acute), 1), else_=0)).label("acute"),
            flag(earlier).label("previous"),
            func.max(key).label("key"),
            func.sum(case((current, key), else_=0)).label("signals_key"),
            func.sum(case((and_(current, F.acute), key), else_=0)).label("acute_key"),
            *(flag(and_(current, F.category == c)).label(f"c{i}")
              for i, c in enumerate(SIGNAL_CATEGORIES)),
            *(() if same_window else (flag(and_(stacking, F.category == c)).label(f"s{i}")
                                      for i, c in enumerate(SIGNAL_CATEGORIES))),
        )
        .where(F.month.between(min(previous.first_month, stack_first), period.last_month))
        .group_by(F.area_code, F.household_stats_pseudonym)
        .subquery()
    )
    h = per_household.c
    prefix = "c" if same_window else "s"
    distinct_categories = sum((h[f"{prefix}{i}"] for i in range(1, len(SIGNAL_CATEGORIES))),
                     start=h[f"{prefix}0"])
    stacked, based = distinct_categories >= 2, distinct_categories >= 1
    rows = await session.execute(select(
        h.area, func.sum(h.signals), func.sum(h.present), func.sum(h.acute),
        func.sum(h.previous), func.sum(case((stacked, 1), else_=0)),
        func.sum(case((based, 1), else_=0)),
        func.sum(h.signals_key), func.sum(h.present * h.key), func.sum(h.acute_key),
        func.sum(h.previous * h.key), func.sum(case((stacked, h.key), else_=0)),
        func.sum(case((based, h.key), else_=0)),
        *(func.sum(h[f"c{i}"]) for i in range(len(SIGNAL_CATEGORIES))),
        *(func.sum(h[f"c{i}"] * h.key) for i in range(len(SIGNAL_CATEGORIES))),
    ).group_by(h.area))
    counts: dict[str, SignalCounts] = {}
    n = len(SIGNAL_CATEGORIES)
    for area, signals, present, acute, prev, stacked_n, base, *rest in rows:
        keys, households, category_keys = rest[:6], rest[6:6 + n], rest[6 + n:]
        counts[str(area)] = SignalCounts(
            signals=int(signals), households=int(present), acute=int(acute),
            stacked=int(stacked_n), stack_base=int(base), previous_households=int(prev),
            by_category={c: int(x) for c, x in zip(SIGNAL_CATEGORIES, households, strict=True)
                         if x},
            keys=dict(zip(("signals", "households", "acute", "previous_households", "stacked",
                           "stack_base"), (int(k or 0) for k in keys), strict=True)),
            by_category_keys={c: int(k or 0) for c, k, x in zip(
                SIGNAL_CATEGORIES, category_keys, households, strict=True) if x},
        )
    return counts


def _recorded_before(condition: ColumnElement[bool], cutoff: datetime | None
                     ) -> ColumnElement[bool]:
    return condition if cutoff is None else and_(condition, F.recorded_at < cutoff)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 when any fact of the group meets the condition, else 0."""
    return func.max(case((condition, 1), else_=0))


async def open_statistics(session: AsyncSession, year: int) -> dict[str, OpenStatistics]:
    """Each area's statistics of the latest year up to `year` (else its earliest year)."""
    fields = [f.name for f in dataclasses.fields(OpenStatistics)]
    columns = [getattr(AreaStatistics, name) for name in fields]
    rows = await session.execute(
        select(AreaStatistics.code, *columns).order_by(AreaStatistics.year))
    chosen: dict[str, OpenStatistics] = {}
    for code, *values in rows:
        current = chosen.get(code)
        if current is None or values[0] <= year:
            chosen[code] = OpenStatistics(**dict(zip(fields, values, strict=True)))
    return chosen


async def programme_area_members(session: AsyncSession) -> Mapping[str, list[str]]:
    members: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(ProgrammeAreaMember.programme_area_id, ProgrammeAreaMember.buurt_code)
        .order_by(ProgrammeAreaMember.programme_area_id, ProgrammeAreaMember.buurt_code)
    )
    for programme_id, buurt in rows:
        members[str(programme_id)].append(str(buurt))
    return dict(members)


async def registered_codes(session: AsyncSession) -> list[str]:
    """Every area and programme area of the register (shown even without signals)."""
    areas = (await session.scalars(select(Area.code))).all()
    programmes = (await session.scalars(select(ProgrammeArea.id))).all()
    return [str(c) for c in (*areas, *programmes)]
