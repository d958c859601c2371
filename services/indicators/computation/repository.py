"""Loads what a computation needs with a few GROUP BY queries (never one row per signal)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.computation.definitions import SIGNAL_CATEGORIES
from services.indicators.computation.engine import OpenStatistics, SignalCounts
from services.indicators.computation.periods import Period
from services.indicators.models import (
    Area,
    AreaStatistics,
    ProgrammeArea,
    ProgrammeAreaMember,
    SignalFact,
)
from services.indicators.stream import retention

F = SignalFact


async def signal_counts(session: AsyncSession, period: Period) -> dict[str, SignalCounts]:
    """Per buurt: signals, distinct households (also per category and in the previous period),
    acute escalations, and stacking over the 12 months ending with the period.

    One pass over the facts: the inner query makes one row per (buurt, household) with flags,
    the outer one sums them per buurt. In a settled period (`stream/retention.py`) a household
    counts through the bit its representative fact carries, so facts whose pseudonym is gone
    (one NULL group per buurt) still add up; a period not yet settled has every pseudonym.
    """
    settled = await retention.settled_through(session)

    def is_settled(last_month: str) -> bool:
        return settled is not None and last_month <= settled

    previous = period.previous()
    stack = Period("rolling-12m", period.last_month)  # the stacking window
    current = F.month.between(period.first_month, period.last_month)
    before = F.month.between(previous.first_month, previous.last_month)
    stacking = F.month.between(stack.first_month, stack.last_month)
    bit_now, bit_before = _period_bit(period), _period_bit(previous)

    def households(window: ColumnElement[bool], last_month: str, column: SQLColumnExpression[int],
                   bit: ColumnElement[int] | int) -> ColumnElement[int]:
        if is_settled(last_month):
            return func.sum(case((and_(window, retention.carries(column, bit)), 1), else_=0))
        return _flag(window)

    categories = [households(and_(current, F.category == c), period.last_month,
                             F.category_windows, bit_now) for c in SIGNAL_CATEGORIES]
    stacked: ColumnElement[int]
    stack_base: ColumnElement[int]
    if is_settled(stack.last_month):
        stack_bit = retention.rolling_bit(stack.last_month)
        stacked = func.sum(case((and_(stacking, retention.carries(F.stacked_windows,
                                                                   stack_bit)), 1), else_=0))
        stack_base = func.sum(case((and_(stacking, retention.carries(F.household_windows,
                                                                      stack_bit)), 1), else_=0))
    else:
        # Categories per household in the stacking window, as flags (a COUNT(DISTINCT) per
        # group would make SQLite sort every group); for rolling 12 months it is the period.
        distinct = sum((_flag(and_(stacking, F.category == c)) for c in SIGNAL_CATEGORIES[1:]),
                       start=_flag(and_(stacking, F.category == SIGNAL_CATEGORIES[0])))
        stacked = case((distinct >= 2, 1), else_=0)
        stack_base = case((distinct >= 1, 1), else_=0)
    per_household = (
        select(
            F.area_code.label("area"),
            func.sum(case((current, 1), else_=0)).label("signals"),
            households(current, period.last_month, F.household_windows, bit_now).label("present"),
            func.sum(case((and_(current, F.acute), 1), else_=0)).label("acute"),
            households(before, previous.last_month, F.household_windows, bit_before
                       ).label("previous"),
            stacked.label("stacked"), stack_base.label("base"),
            *(flag.label(f"c{i}") for i, flag in enumerate(categories)),
        )
        .where(F.month.between(min(previous.first_month, stack.first_month), period.last_month))
        .group_by(F.area_code, F.household_stats_pseudonym)
        .subquery()
    )
    h = per_household.c
    rows = await session.execute(select(
        h.area, func.sum(h.signals), func.sum(h.present), func.sum(h.acute),
        func.sum(h.previous), func.sum(h.stacked), func.sum(h.base),
        *(func.sum(h[f"c{i}"]) for i in range(len(SIGNAL_CATEGORIES))),
    ).group_by(h.area))
    counts: dict[str, SignalCounts] = {}
    for area, signals, present, acute, prev, stacked_n, base, *by_category in rows:
        counts[str(area)] = SignalCounts(
            signals=int(signals), households=int(present), acute=int(acute),
            stacked=int(stacked_n), stack_base=int(base), previous_households=int(prev),
            by_category={c: int(n) for c, n in zip(SIGNAL_CATEGORIES, by_category, strict=True)
                         if n},
        )
    return counts


def _period_bit(period: Period) -> ColumnElement[int] | int:
    """The bit of a period on the facts (see `SignalFact`)."""
    return retention.MONTH_BIT if period.kind == "month" else retention.rolling_bit(
        period.last_month)


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
