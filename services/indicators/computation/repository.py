"""Loads what a computation needs with a few GROUP BY queries (never one row per signal)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, func, literal_column, select
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


async def public_and_raw_counts(session: AsyncSession, period: Period, cutoffs: Cutoffs,
                                areas: Collection[str]
                                ) -> tuple[dict[str, SignalCounts], dict[str, SignalCounts]]:
    """`signal_counts` of `areas` up to `cutoffs` and of every fact, the two sides of a held
    period that has cutoffs.

    One pass over the facts where they differ in the previous period's cutoff only (an open
    period whose previous one is final: the current periods' case, counted every round of
    the snapshot worker), two otherwise.
    """
    if cutoffs.current is not None:
        return (await signal_counts(session, period, cutoffs, areas),
                await signal_counts(session, period, areas=areas))
    both: dict[str, tuple[int, int]] = {}
    public = await signal_counts(session, period, cutoffs, areas, uncut_previous=both)
    raw: dict[str, SignalCounts] = {}
    for code, counts in public.items():
        households, key = both[code]
        raw[code] = each = counts.copy()
        each.previous_households = households
        each.keys["previous_households"] = key
    return public, raw


async def signal_counts(session: AsyncSession, period: Period,
                        cutoffs: Cutoffs = Cutoffs(), areas: Collection[str] | None = None,
                        uncut_previous: dict[str, tuple[int, int]] | None = None
                        ) -> dict[str, SignalCounts]:
    """Per buurt: signals, distinct households (also per category and in the previous period),
    acute escalations, and stacking over the 12 months ending with the period, each with its
    cell key (the sum of the record keys it counts). `cutoffs`: only facts recorded before
    them count (a final period's public figures are frozen). `areas`: only these buurten.

    One pass over the facts: the inner query makes one row per (buurt, household) with each
    count and its key, the outer one sums them per buurt. In a settled period
    (`stream/retention.py`) a household counts through the bit its representative fact
    carries, with that fact's record key, so facts whose pseudonym is gone (one NULL group per
    buurt) still add up; a period not yet settled has every pseudonym.

    `uncut_previous`: filled with each buurt's previous-period households and their key as
    they are without `cutoffs.previous` (see `public_and_raw_counts`).
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
    # Inner columns: per (buurt, household) group, each count and, where the period is
    # settled, its key sum; an unsettled count's key is the count times the household's key,
    # multiplied in the outer query (one MAX per group, not one per count).
    inner: list[ColumnElement[int]] = []
    outer_counts: list[ColumnElement[int]] = []
    outer_keys: list[ColumnElement[int]] = []

    def household_count(name: str, window: ColumnElement[bool], last_month: str,
                        column: SQLColumnExpression[int], bit: ColumnElement[int] | int) -> None:
        if is_settled(last_month):
            carried = and_(window, retention.carries(column, bit))
            inner.extend((func.sum(case((carried, 1), else_=0)).label(name),
                          func.sum(case((carried, key), else_=0)).label(f"{name}_key")))
            outer_keys.append(func.sum(literal_column(f"{name}_key")))
        else:
            inner.append(_flag(window).label(name))
            outer_keys.append(func.sum(literal_column(name) * literal_column("hh_key")))
        outer_counts.append(func.sum(literal_column(name)))

    def signal_count(name: str, window: ColumnElement[bool]) -> None:
        inner.extend((func.sum(case((window, 1), else_=0)).label(name),
                      func.sum(case((window, key), else_=0)).label(f"{name}_key")))
        outer_counts.append(func.sum(literal_column(name)))
        outer_keys.append(func.sum(literal_column(f"{name}_key")))

    signal_count("signals", current)
    household_count("households", current, period.last_month, F.household_windows, bit_now)
    signal_count("acute", and_(current, F.acute))
    household_count("previous", before, previous.last_month, F.household_windows, bit_before)
    if is_settled(stack.last_month):
        stack_bit = retention.rolling_bit(stack.last_month)
        household_count("stacked", stacking, stack.last_month, F.stacked_windows, stack_bit)
        household_count("base", stacking, stack.last_month, F.household_windows, stack_bit)
    else:
        # Categories per household in the stacking window, as flags (a COUNT(DISTINCT) per
        # group would make SQLite sort every group); for rolling 12 months that window is the
        # period, whose category flags are counted anyway.
        same_window = stack.first_month == period.first_month and not is_settled(
            period.last_month)
        prefix = "c" if same_window else "s"
        if not same_window:
            inner.extend(_flag(and_(stacking, F.category == c)).label(f"s{i}")
                         for i, c in enumerate(SIGNAL_CATEGORIES))
        distinct: ColumnElement[int] = sum(
            (literal_column(f"{prefix}{i}") for i in range(1, len(SIGNAL_CATEGORIES))),
            start=literal_column(f"{prefix}0"))
        for at_least in (2, 1):  # stacked: two categories or more; the base: one or more
            flag = case((distinct >= at_least, 1), else_=0)
            outer_counts.append(func.sum(flag))
            outer_keys.append(func.sum(flag * literal_column("hh_key")))
    category_counts, category_keys = [], []
    for i, c in enumerate(SIGNAL_CATEGORIES):
        household_count(f"c{i}", and_(current, F.category == c), period.last_month,
                        F.category_windows, bit_now)
        category_counts.append(outer_counts.pop())
        category_keys.append(outer_keys.pop())
    uncut: list[ColumnElement[int]] = []
    if uncut_previous is not None:
        household_count("previous_uncut",
                        F.month.between(previous.first_month, previous.last_month),
                        previous.last_month, F.household_windows, bit_before)
        uncut = [outer_counts.pop(), outer_keys.pop()]
    per_household = (
        select(F.area_code.label("area"), func.max(key).label("hh_key"), *inner)
        .where(F.month.between(min(previous.first_month, stack.first_month), period.last_month),
               *(() if areas is None else (F.area_code.in_(sorted(areas)),)))
        .group_by(F.area_code, F.household_stats_pseudonym)
        .subquery()
    )
    h = per_household.c
    names = ("signals", "households", "acute", "previous_households", "stacked", "stack_base")
    n = len(SIGNAL_CATEGORIES)
    rows = await session.execute(
        select(h.area, *outer_counts, *outer_keys, *category_counts, *category_keys, *uncut)
        .select_from(per_household).group_by(h.area))
    counts: dict[str, SignalCounts] = {}
    for area, *rest in rows:
        values = [int(v or 0) for v in rest]
        if uncut_previous is not None:
            uncut_previous[str(area)] = (values[-2], values[-1])
            del values[-2:]
        totals, keys = values[:6], values[6:12]
        by_category, by_category_key = values[12:12 + n], values[12 + n:]
        signals, present_n, acute, prev, stacked_n, base = totals
        counts[str(area)] = SignalCounts(
            signals=signals, households=present_n, acute=acute, stacked=stacked_n,
            stack_base=base, previous_households=prev,
            by_category={c: x for c, x in zip(SIGNAL_CATEGORIES, by_category, strict=True)
                         if x},
            keys=dict(zip(names, keys, strict=True)),
            by_category_keys={c: k for c, k, x in zip(
                SIGNAL_CATEGORIES, by_category_key, by_category, strict=True) if x},
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


async def first_months(session: AsyncSession) -> tuple[str | None, int | None]:
    """The first month with a signal fact and the first year with open statistics."""
    month = await session.scalar(select(func.min(F.month)))
    year = await session.scalar(select(func.min(AreaStatistics.year)))
    return (None if month is None else str(month)), (None if year is None else int(year))


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
