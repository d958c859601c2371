"""A programme's pools over its areas: eligibility, units, bases and needs, then the formula.

Pure: a `World` in, lines out. Decisions where the issue was silent:

- Bases are the latest year the register has for each buurt; a unit's base is the sum over
  its eligible buurten (so a wijk in `other-vulnerable` counts only its vulnerable buurten).
- A unit's need is its own indicator record when there is one (a programme area, wijk or
  gemeente the indicators service scores), else the base-weighted mean of its buurten's
  needs. An area without a value gets no need-based money: only its fixed amount or floor.
- For an indicator where lower is worse (`shared.contracts.indicators.LOWER_IS_WORSE`), need
  is the shortfall below the threshold, so more money still goes where things are worse.
- Floors, caps and fixed amounts are per area per year for the whole pool. The pool-year is
  allocated once; each theme x year cell is that allocation split over the themes (exactly
  pro rata, then rounded so areas add up to the cell and themes to the area's year amount,
  `split_over_themes`), so every cell is feasible when the pool-year is.
- `other-vulnerable` takes buurten with decile >= N or score >= threshold that lie in no
  programme area.
- Each budget year has its own amount (the pool's schedule) and may have its own inputs (the
  indicator period of that year): units, eligibility and needs are worked out per year.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import overload

from services.funding.allocation import (
    Allocation,
    AreaInput,
    NeedRule,
    allocate,
    split_over_themes,
)
from services.funding.apportionment import split_by_theme_and_year
from services.funding.catalogue import COMPOSITE_INDEX
from services.funding.lines import AllocationLine, euros
from services.funding.programmes.schemas import AllocationLevel, Formula, Pool
from services.funding.world import IndicatorFacts, World
from shared.contracts.indicators import LOWER_IS_WORSE

MEAN = Context(prec=34)


@dataclass(frozen=True, slots=True)
class Unit:
    """One area the pool allocates to, with what the formula needs to know about it."""

    code: str
    name: str
    base: int
    need: Decimal | None  # None: the indicator is unknown or suppressed here
    inhabitants: int
    method_version: str | None
    period: str | None


@dataclass(frozen=True, slots=True)
class PoolResult:
    lines: list[AllocationLine]
    used_area_codes: set[str]


@overload
def text(value: Decimal) -> str: ...
@overload
def text(value: Decimal | None) -> str | None: ...
def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(MEAN), "f")


def eligible_buurten(pool: Pool, world: World) -> tuple[list[str], set[str]]:
    """(eligible buurt codes, every code considered): the latter decides recomputation."""
    rule = pool.eligibility
    scope = set(rule.gemeente_codes) if rule.gemeente_codes else None
    considered: set[str] = set()

    def in_scope(code: str) -> bool:
        return scope is None or world.gemeente_of(code) in scope

    if rule.kind == "programme-areas":
        ids = rule.programme_area_ids or sorted(world.programme_areas)
        chosen: set[str] = set()
        for pa_id in ids:
            considered.add(pa_id)
            programme_area = world.programme_areas.get(pa_id)
            if programme_area is not None:
                chosen.update(c for c in programme_area.buurt_codes if in_scope(c))
        considered |= chosen
        return sorted(chosen), considered
    in_programmes = {c for pa in world.programme_areas.values() for c in pa.buurt_codes}
    min_score = None if rule.min_composite_score is None else Decimal(rule.min_composite_score)
    chosen = set()
    for code, area in world.areas.items():
        if area.level != "buurt" or code in in_programmes or area.programme_area_ids:
            continue
        if not in_scope(code):
            continue
        considered.add(code)
        facts = world.indicators.get(code)
        if facts is None:
            continue
        by_decile = (rule.min_composite_decile is not None and facts.composite_decile is not None
                     and facts.composite_decile >= rule.min_composite_decile)
        by_score = (min_score is not None and facts.composite_score is not None
                    and facts.composite_score >= min_score)
        if by_decile or by_score:
            chosen.add(code)
    return sorted(chosen), considered


def need_of(facts: IndicatorFacts | None, indicator: str) -> Decimal | None:
    if facts is None:
        return None
    if indicator == COMPOSITE_INDEX:
        return facts.composite_score
    return facts.values.get(indicator)


def units_of(pool: Pool, formula: Formula, world: World) -> tuple[list[Unit], set[str]]:
    """The pool's units at its allocation level, and every area code the result depends on."""
    buurten, used = eligible_buurten(pool, world)
    members: dict[str, list[str]] = defaultdict(list)
    level = pool.allocation_level
    for code in buurten:
        if level is AllocationLevel.BUURT:
            members[code].append(code)
        elif level is AllocationLevel.WIJK:
            members[world.wijk_of(code) or code].append(code)
        elif level is AllocationLevel.GEMEENTE:
            members[world.gemeente_of(code) or code].append(code)
    if level is AllocationLevel.PROGRAMME_AREA:
        wanted = set(buurten)
        for pa_id in pool.eligibility.programme_area_ids or sorted(world.programme_areas):
            programme_area = world.programme_areas.get(pa_id)
            codes = [] if programme_area is None else [
                c for c in programme_area.buurt_codes if c in wanted]
            if codes:  # a programme area wholly outside the gemeente scope is not a unit
                members[pa_id] = codes
    units = [_unit(code, codes, formula, world) for code, codes in sorted(members.items())]
    used |= set(members)
    return units, used


def _unit(code: str, buurten: list[str], formula: Formula, world: World) -> Unit:
    base_kind = formula.base.value
    bases = {b: world.areas[b].bases.get(base_kind, 0) if b in world.areas else 0
             for b in buurten}
    inhabitants = sum(world.areas[b].bases.get("inhabitants", 0)
                      for b in buurten if b in world.areas)
    own = world.indicators.get(code)
    need = need_of(own, formula.need.indicator)
    sources = [own] if need is not None else []
    if need is None:
        weighted, weight = Decimal(0), 0
        for b in buurten:
            facts = world.indicators.get(b)
            value = need_of(facts, formula.need.indicator)
            if value is not None and facts is not None:
                weighted += value * bases[b]
                weight += bases[b]
                sources.append(facts)
        need = MEAN.divide(weighted, Decimal(weight)) if weight else None
    name = (world.areas[code].name if code in world.areas
            else world.programme_areas[code].name if code in world.programme_areas else code)
    return Unit(
        code=code, name=name, base=sum(bases.values()),
        need=need, inhabitants=inhabitants,
        method_version=_joined(s.method_version for s in sources if s is not None),
        period=_joined(s.period for s in sources if s is not None),
    )


def _joined(values: Iterable[str]) -> str | None:
    distinct = sorted(set(values))
    return ",".join(distinct) if distinct else None


def _scaled(cents: int, share: Decimal, rounding: str) -> int:
    return int((share * cents).to_integral_value(rounding=rounding))


def area_inputs(units: list[Unit], formula: Formula, share: Decimal = Decimal(1)
                ) -> list[AreaInput]:
    sign, threshold = _direction(formula), need_rule(formula).threshold
    return [
        AreaInput(
            code=u.code, base=u.base, inhabitants=u.inhabitants or None,
            # Unknown need sits exactly at the threshold: no need-based money either way.
            need=threshold if u.need is None else sign * u.need,
            fixed_cents=_scaled(formula.fixed_cents, share, ROUND_FLOOR),
            floor_cents=_scaled(formula.floor_cents, share, ROUND_FLOOR),
            cap_cents=(None if formula.cap_cents is None
                       else _scaled(formula.cap_cents, share, ROUND_CEILING)),
        )
        for u in units
    ]


def _direction(formula: Formula) -> int:
    return -1 if formula.need.indicator in LOWER_IS_WORSE else 1


def need_rule(formula: Formula) -> NeedRule:
    """The allocation counts need above the threshold. For an indicator where lower is worse
    (labour participation, WOZ value) the need is the shortfall below it, so both the value
    and the threshold enter negated: max(0, -value - -threshold) = max(0, threshold - value)."""
    return NeedRule(threshold=_direction(formula) * Decimal(formula.need.threshold),
                    exponent=Decimal(formula.need.exponent))


def compute_pool(pool: Pool, formula: Formula, years: range, world: World,
                 year_worlds: Mapping[int, World] | None = None) -> PoolResult:
    """Every line of one pool over `years`, each year with its own amount (the pool's
    schedule) and its own inputs (`year_worlds`, else `world`); raises InfeasibleAllocation
    for a pool-year as a whole."""
    amounts = pool.amounts(years)
    worlds = {year: (year_worlds or {}).get(year, world) for year in years}
    rule = need_rule(formula)
    # Units depend on the world only: worked out once per distinct world, not once a year.
    units_of_world: dict[int, list[Unit]] = {}
    used: set[str] = set()
    for w in worlds.values():
        if id(w) not in units_of_world:
            units, considered = units_of(pool, formula, w)
            units_of_world[id(w)] = units
            used |= considered
    # Each pool-year is allocated as a whole (an error names its real size); each theme x year
    # cell is that allocation split over the themes, so it is feasible when the year is.
    whole: dict[tuple[int, int], Allocation] = {}
    for world_id, cents in sorted({(id(worlds[y]), amounts[y]) for y in years},
                                  key=lambda pair: pair[1]):
        whole[(world_id, cents)] = allocate(
            cents, area_inputs(units_of_world[world_id], formula), rule)
    shares = {t.code: Decimal(t.share) for t in pool.themes}
    split = split_by_theme_and_year(sum(amounts.values()), shares, amounts)
    by_year: dict[int, dict[str, Allocation]] = {}
    by_budgets: dict[tuple[int, int, tuple[int, ...]], dict[str, Allocation]] = {}
    for year in years:
        budgets = {theme: split.cents(theme, year) for theme in sorted(shares)}
        key = (id(worlds[year]), amounts[year], tuple(budgets.values()))
        if key not in by_budgets:  # years with equal inputs and cells split alike: once
            by_budgets[key] = split_over_themes(whole[key[0], key[1]], shares, budgets)
        by_year[year] = by_budgets[key]
    lines: list[AllocationLine] = []
    unit_maps: dict[int, dict[str, Unit]] = {}
    for theme in sorted(shares):
        for year in years:
            world_id = id(worlds[year])
            if world_id not in unit_maps:
                unit_maps[world_id] = {u.code: u for u in units_of_world[world_id]}
            by_code = unit_maps[world_id]
            allocation = by_year[year][theme]
            for line in allocation.lines:
                unit = by_code[line.code]
                # Built from values of the types the line declares: validating each of many
                # thousands of lines again would cost about a quarter of the computation.
                lines.append(AllocationLine.model_construct(
                    pool=pool.name, theme=theme, year=year,
                    area_code=line.code, area_name=unit.name,
                    level=pool.allocation_level.value,
                    base=text(line.base), need=text(unit.need),
                    need_effective=text(line.need_effective),
                    lambda_=text(line.factor), unrounded_cents=text(line.exact_cents),
                    cents=line.cents, euros=euros(line.cents),
                    binding_constraint=line.binding.value,
                    remainder_cent=line.remainder_cent, share=text(line.share),
                    euros_per_inhabitant=text(line.euros_per_inhabitant),
                    indicator_method_version=unit.method_version,
                    indicator_period=unit.period,
                ))
    return PoolResult(lines=lines, used_area_codes=used)
