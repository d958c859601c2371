"""Loads what a computation needs with a few GROUP BY queries (never one row per signal)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

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

    One pass over the facts: the inner query makes one row per (buurt, household) with each
    count and its key, the outer one sums them per buurt. In a settled period
    (`stream/retention.py`) a household counts through the bit its representative fact
    carries, with that fact's record key, so facts whose pseudonym is gone (one NULL group per
    buurt) still add up; a period not yet settled has every pseudonym.
    """
    settled = await retention.settled_through(session)

    def is_settled(last_month: str) -> bool:
        return settled is not None and last_month <= settled

    previous = period.previous()
    stack = Period("rolling-12m", period.last_month)  # the stacking window
    current = _recorded_before(F.month.between(period.first_month, period.last_month),
                               cutoffs.current)
    before = _recorded_before(F.month.between(previous.first_month, previous.last_month),
                              cutoffs.previous)
    stacking = _recorded_before(F.month.between(stack.first_month, stack.last_month),
                                cutoffs.current)
    bit_now, bit_before = _period_bit(period), _period_bit(previous)
    key = func.coalesce(F.record_key, 0)
    household_key = func.max(key)

    def households(window: ColumnElement[bool], last_month: str,
                   column: SQLColumnExpression[int], bit: ColumnElement[int] | int,
                   ) -> tuple[ColumnElement[int], ColumnElement[int]]:
        """(count, key) of the group's households in `window`."""
        if is_settled(last_month):
            carried = and_(window, retention.carries(column, bit))
            return (func.sum(case((carried, 1), else_=0)),
                    func.sum(case((carried, key), else_=0)))
        present = _flag(window)
        return present, present * household_key

    categories = [households(and_(current, F.category == c), period.last_month,
                             F.category_windows, bit_now) for c in SIGNAL_CATEGORIES]
    stacked: tuple[ColumnElement[int], ColumnElement[int]]
    stack_base: tuple[ColumnElement[int], ColumnElement[int]]
    if is_settled(stack.last_month):
        stack_bit = retention.rolling_bit(stack.last_month)
        stacked = households(stacking, stack.last_month, F.stacked_windows, stack_bit)
        stack_base = households(stacking, stack.last_month, F.household_windows, stack_bit)
    else:
        # Categories per household in the stacking window, as flags (a COUNT(DISTINCT) per
        # group would make SQLite sort every group); for rolling 12 months it is the period.
        distinct = sum((_flag(and_(stacking, F.category == c)) for c in SIGNAL_CATEGORIES[1:]),
                       start=_flag(and_(stacking, F.category == SIGNAL_CATEGORIES[0])))
        is_stacked, is_based = case((distinct >= 2, 1), else_=0), case((distinct >= 1, 1),
                                                                        else_=0)
        stacked = is_stacked, is_stacked * household_key
        stack_base = is_based, is_based * household_key
    present = households(current, period.last_month, F.household_windows, bit_now)
    earlier = households(before, previous.last_month, F.household_windows, bit_before)
    measures = {"households": present, "previous_households": earlier, "stacked": stacked,
                "stack_base": stack_base}
    per_household = (
        select(
            F.area_code.label("area"),
            func.sum(case((current, 1), else_=0)).label("signals"),
            func.sum(case((current, key), else_=0)).label("signals_key"),
            func.sum(case((and_(current, F.acute), 1), else_=0)).label("acute"),
            func.sum(case((and_(current, F.acute), key), else_=0)).label("acute_key"),
            *(count.label(name) for name, (count, _) in measures.items()),
            *(k.label(f"{name}_key") for name, (_, k) in measures.items()),
            *(count.label(f"c{i}") for i, (count, _) in enumerate(categories)),
            *(ck.label(f"c{i}_key") for i, (_, ck) in enumerate(categories)),
        )
        .where(F.month.between(min(previous.first_month, stack.first_month), period.last_month))
        .group_by(F.area_code, F.household_stats_pseudonym)
        .subquery()
    )
    h = per_household.c
    names = ("signals", "households", "acute", "previous_households", "stacked", "stack_base")
    n = len(SIGNAL_CATEGORIES)
    rows = await session.execute(select(
        h.area,
        *(func.sum(h[name]) for name in names),
        *(func.sum(h[f"{name}_key"]) for name in names),
        *(func.sum(h[f"c{i}"]) for i in range(n)),
        *(func.sum(h[f"c{i}_key"]) for i in range(n)),
    ).group_by(h.area))
    counts: dict[str, SignalCounts] = {}
    for area, *rest in rows:
        values = [int(v or 0) for v in rest]
        totals, keys = values[:6], values[6:12]
        by_category, category_keys = values[12:12 + n], values[12 + n:]
        signals, present_n, acute, prev, stacked_n, base = totals
        counts[str(area)] = SignalCounts(
            signals=signals, households=present_n, acute=acute, stacked=stacked_n,
            stack_base=base, previous_households=prev,
            by_category={c: x for c, x in zip(SIGNAL_CATEGORIES, by_category, strict=True)
                         if x},
            keys=dict(zip(names, keys, strict=True)),
            by_category_keys={c: k for c, k, x in zip(
                SIGNAL_CATEGORIES, category_keys, by_category, strict=True) if x},
        )
    return counts


def _period_bit(period: Period) -> ColumnElement[int] | int:
    """The bit of a period on the facts (see `SignalFact`)."""
    return retention.MONTH_BIT if period.kind == "month" else retention.rolling_bit(
        period.last_month)


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
