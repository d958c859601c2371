"""The allocation formula: a pool in cents over areas by need x base, within floors and caps.

    amount_i = clamp(fixed_i + factor * need_i * base_i, floor_i, cap_i)

`factor` is the Gemeentefonds "uitkeringsfactor" (lambda): the smallest factor >= 0 that
spends the pool exactly. The exact amounts are then rounded to whole cents by largest
remainder (ties by area code), so the pool adds up to the cent and no area leaves its bounds.

Pure and deterministic: no I/O, no floats in any result, and areas are processed in code
order so the input order never matters. Edge cases, decided:

- The factor is never negative: money is never taken from the formula to pay guarantees.
  If the guaranteed amounts clamp(fixed, floor, cap) already exceed the pool, that is
  `InfeasibleAllocation(FIXED)` (or `FLOORS` when the floors alone do), not a scaled-down
  fixed amount.
- `CAPS`: every area is capped and the caps add up to less than the pool.
  `NEED`: otherwise the pool cannot be spent, because every area with need x base > 0 is at
  its cap (or there is none) and areas without need receive exactly their guarantee.
  No areas at all: a pool of 0 gives an empty allocation, a positive pool is `NEED`.
- Floor above cap, negative pool/base/fixed/floor/cap/inhabitants, duplicate codes, an
  exponent <= 0 or a non-finite number are `InvalidAllocationInput` (a ValueError).
- need_eff = max(0, need - threshold) ** exponent. Subtraction and need x base are exact;
  an exponent other than 1 is evaluated to 34 significant digits (deterministic). From
  need_eff on, all arithmetic is exact integers; reported Decimals have 34 digits.
- An area whose floor equals its unclamped amount is not bound ("none"): the floor changes
  nothing there. share = rounded cents / pool (0 for an empty pool).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from math import inf
from typing import NamedTuple

from services.funding.apportionment import (
    EXACT,
    InvalidAllocationInput,
    as_decimal,
    common_denominator,
    hamilton,
    largest_remainder,
    round_rows,
    scaled_integers,
)

__all__ = [
    "Allocation",
    "AllocationLine",
    "AreaInput",
    "Binding",
    "InfeasibleAllocation",
    "InfeasibleConstraint",
    "InvalidAllocationInput",
    "NeedRule",
    "allocate",
    "hamilton",
    "split_over_themes",
]

# Reported (explanatory) Decimals; never used to decide a cent.
REPORT = Context(prec=34, rounding=ROUND_HALF_EVEN)
ZERO = Decimal(0)
ONE = Decimal(1)


class Binding(StrEnum):
    """Which bound decided an area's amount."""

    FLOOR = "floor"
    CAP = "cap"
    NONE = "none"


class InfeasibleConstraint(StrEnum):
    """Why a pool cannot be allocated under the constraints."""

    FLOORS = "floors"  # the floors add up to more than the pool
    FIXED = "fixed"  # the fixed amounts (within floor and cap) add up to more than the pool
    CAPS = "caps"  # every area is capped and the caps add up to less than the pool
    NEED = "need"  # areas with need are all capped (or absent): the rest cannot be spent


class InfeasibleAllocation(Exception):
    """The pool cannot be allocated: `constraint` is violated by `cents` (always > 0)."""

    def __init__(self, constraint: InfeasibleConstraint, cents: int, pool_cents: int) -> None:
        self.constraint = constraint
        self.cents = cents
        self.pool_cents = pool_cents
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        """A sentence for the problem response: which constraint, by how many cents."""
        return {
            InfeasibleConstraint.FLOORS: f"the floors exceed the pool by {self.cents} cents",
            InfeasibleConstraint.FIXED: (
                f"the fixed amounts (within floors and caps) exceed the pool by {self.cents} cents"
            ),
            InfeasibleConstraint.CAPS: f"the caps fall short of the pool by {self.cents} cents",
            InfeasibleConstraint.NEED: (
                f"{self.cents} cents cannot be spent: every area with need above the threshold"
                " is at its cap, and areas without need receive only their fixed amount or floor"
            ),
        }[self.constraint]


@dataclass(frozen=True, slots=True)
class NeedRule:
    """need_eff = max(0, need - threshold) ** exponent."""

    threshold: Decimal = ZERO
    exponent: Decimal = ONE


@dataclass(frozen=True, slots=True)
class AreaInput:
    """One area: its base (inhabitants, households or corporation dwellings), need and bounds."""

    code: str
    base: Decimal | int
    need: Decimal | int
    inhabitants: int | None = None
    fixed_cents: int = 0
    floor_cents: int = 0
    cap_cents: int | None = None


class AllocationLine(NamedTuple):
    """One area's amount with everything needed to recompute it by hand.

    A NamedTuple rather than a frozen dataclass: as immutable, but a third of the cost to
    build, which matters at 14,000 lines per allocation.
    """

    code: str
    base: Decimal
    need_effective: Decimal
    factor: Decimal  # lambda, the same on every line
    exact_cents: Decimal  # before rounding to whole cents
    cents: int
    binding: Binding
    remainder_cent: bool  # got one of the cents left after rounding down
    share: Decimal  # cents / pool
    euros_per_inhabitant: Decimal | None


@dataclass(frozen=True, slots=True)
class Allocation:
    """The whole pool over the areas, lines ordered by area code."""

    pool_cents: int
    factor: Decimal
    lines: tuple[AllocationLine, ...]
    # Each line's exact amount is exact[i] / denominator; what `split_over_themes` rounds.
    exact: tuple[int, ...] = field(default=(), repr=False, compare=False)
    denominator: int = field(default=1, repr=False, compare=False)
    inhabitants: tuple[int | None, ...] = field(default=(), repr=False, compare=False)

    def cents_by_code(self) -> dict[str, int]:
        """The rounded amount per area code."""
        return {line.code: line.cents for line in self.lines}


def allocate(
    pool_cents: int, areas: Sequence[AreaInput], rule: NeedRule | None = None
) -> Allocation:
    """Allocate `pool_cents` over `areas` by the formula; see the module docstring."""
    rule = rule or NeedRule()
    ordered = sorted(areas, key=lambda area: area.code)
    bases, needs = _validate(pool_cents, ordered, rule)
    weights, unit = _weights(needs, bases)
    fixed = [area.fixed_cents for area in ordered]
    floors = [area.floor_cents for area in ordered]
    caps = [area.cap_cents for area in ordered]
    guaranteed = [_clamp(f, lo, hi) for f, lo, hi in zip(fixed, floors, caps, strict=True)]
    _check_guarantees(pool_cents, floors, caps, guaranteed)
    numerator, denominator = _solve_factor(pool_cents, fixed, floors, caps, weights, guaranteed)
    exact, bindings = _exact_amounts(fixed, floors, caps, weights, numerator, denominator)
    assert sum(exact) == pool_cents * denominator
    # A cent goes only to a positive remainder, so never to an area at its cap, and rounding
    # down never takes an area below its (whole-cent) floor: bounds hold after rounding.
    cents, bumped = largest_remainder(exact, denominator, [area.code for area in ordered])
    factor = REPORT.divide(Decimal(numerator * unit), Decimal(denominator))
    lines = _explain(
        pool_cents, ordered, bases, needs, factor, exact, denominator, cents, bindings, bumped
    )
    return Allocation(
        pool_cents=pool_cents,
        factor=factor,
        lines=lines,
        exact=tuple(exact),
        denominator=denominator,
        inhabitants=tuple(area.inhabitants for area in ordered),
    )


def split_over_themes(
    year: Allocation, shares: Mapping[str, Decimal], budgets: Mapping[str, int]
) -> dict[str, Allocation]:
    """The year's allocation split over themes: `budgets` (summing to the year's pool) by
    theme, each theme's area amounts summing to its budget and each area's theme amounts to
    its cents in the year.

    A theme's exact amount for an area is its share of the area's exact amount in the year,
    so the theme line is the same formula with fixed amount, floor and cap taken pro rata
    (exactly, unrounded) and factor share x lambda: clamp(s*fixed + s*lambda*w, s*floor,
    s*cap) = s * clamp(fixed + lambda*w, floor, cap). Its binding is the year's. The exact
    amounts are rounded down or up to whole cents by `round_rows`, so a feasible year can
    never make a theme infeasible, and floors and caps hold per area over the year.
    `remainder_cent` then means: rounded up in this split; `share` is cents / theme budget.
    """
    themes = sorted(shares)
    if set(budgets) != set(themes):
        raise InvalidAllocationInput("every theme needs a budget, and only themes")
    values = [as_decimal(shares[theme], "share", theme) for theme in themes]
    share_units, unit = scaled_integers(values)
    if any(units < 0 for units in share_units) or sum(share_units) != unit:
        raise InvalidAllocationInput("theme shares must not be negative and sum to exactly 1")
    if sum(budgets.values()) != year.pool_cents or any(b < 0 for b in budgets.values()):
        raise InvalidAllocationInput(
            f"the theme budgets must not be negative and sum to the pool ({year.pool_cents})"
        )
    denominator = unit * year.denominator
    cents, bumped = round_rows(
        [[units * exact for units in share_units] for exact in year.exact],
        denominator,
        [line.cents for line in year.lines],
        [budgets[theme] for theme in themes],
    )
    result: dict[str, Allocation] = {}
    with localcontext(REPORT):
        big_denominator = Decimal(denominator)
        for t, theme in enumerate(themes):
            budget = budgets[theme]
            pool = Decimal(budget)
            factor = year.factor * values[t]
            lines = []
            for i, line in enumerate(year.lines):
                amount = cents[i][t]
                inhabitants = year.inhabitants[i]
                lines.append(
                    AllocationLine(
                        line.code,
                        line.base,
                        line.need_effective,
                        factor,
                        Decimal(share_units[t] * year.exact[i]) / big_denominator,
                        amount,
                        line.binding,
                        bumped[i][t],
                        Decimal(amount) / pool if budget else ZERO,
                        Decimal(amount) / (100 * inhabitants) if inhabitants else None,
                    )
                )
            result[theme] = Allocation(
                pool_cents=budget,
                factor=factor,
                lines=tuple(lines),
                exact=tuple(share_units[t] * exact for exact in year.exact),
                denominator=denominator,
                inhabitants=year.inhabitants,
            )
    return result


def _weights(needs: list[Decimal], bases: list[Decimal]) -> tuple[list[int], int]:
    """Integers w_i and a unit with need_i * base_i == w_i / unit exactly."""
    return common_denominator(
        [
            (need_p * base_p, need_q * base_q)
            for (need_p, need_q), (base_p, base_q) in zip(
                (need.as_integer_ratio() for need in needs),
                (base.as_integer_ratio() for base in bases),
                strict=True,
            )
        ]
    )


def _exact_amounts(
    fixed: list[int],
    floors: list[int],
    caps: list[int | None],
    weights: list[int],
    numerator: int,
    denominator: int,
) -> tuple[list[int], list[Binding]]:
    """Each exact amount times `denominator` (an integer), and the bound that decided it."""
    exact: list[int] = []
    bindings: list[Binding] = []
    for f, lo, hi, weight in zip(fixed, floors, caps, weights, strict=True):
        unclamped = f * denominator + numerator * weight
        if unclamped < lo * denominator:
            exact.append(lo * denominator)
            bindings.append(Binding.FLOOR)
        elif hi is not None and unclamped > hi * denominator:
            exact.append(hi * denominator)
            bindings.append(Binding.CAP)
        else:
            exact.append(unclamped)
            bindings.append(Binding.NONE)
    return exact, bindings


def _explain(
    pool_cents: int,
    areas: list[AreaInput],
    bases: list[Decimal],
    needs: list[Decimal],
    factor: Decimal,
    exact: list[int],
    denominator: int,
    cents: list[int],
    bindings: list[Binding],
    bumped: list[bool],
) -> tuple[AllocationLine, ...]:
    """The result lines, their ratios rounded to REPORT's 34 digits."""
    lines: list[AllocationLine] = []
    with localcontext(REPORT):  # operators in a local context: 5x faster than REPORT.divide
        big_denominator = Decimal(denominator)
        pool = Decimal(pool_cents)
        for i, area in enumerate(areas):
            rounded = Decimal(cents[i])
            lines.append(
                AllocationLine(
                    area.code,
                    bases[i],
                    needs[i],
                    factor,
                    Decimal(exact[i]) / big_denominator,
                    cents[i],
                    bindings[i],
                    bumped[i],
                    rounded / pool if pool_cents else ZERO,
                    rounded / (100 * area.inhabitants) if area.inhabitants else None,
                )
            )
    return tuple(lines)


def _validate(
    pool_cents: int, areas: Sequence[AreaInput], rule: NeedRule
) -> tuple[list[Decimal], list[Decimal]]:
    """Check the input; return each area's base and effective need as exact Decimals."""
    if pool_cents < 0:
        raise InvalidAllocationInput(f"the pool must not be negative, got {pool_cents}")
    threshold = as_decimal(rule.threshold, "need threshold")
    exponent = as_decimal(rule.exponent, "need exponent")
    if exponent <= 0:
        raise InvalidAllocationInput(f"the need exponent must be positive, got {exponent}")
    bases: list[Decimal] = []
    needs: list[Decimal] = []
    previous_code: str | None = None
    with localcontext(EXACT):  # need - threshold exactly, whatever the caller's context
        for area in areas:
            if area.code == previous_code:
                raise InvalidAllocationInput(f"area {area.code!r} appears more than once")
            previous_code = area.code
            base = as_decimal(area.base, "base", area.code)
            if (
                base < 0
                or area.fixed_cents < 0
                or area.floor_cents < 0
                or (area.cap_cents or 0) < 0
                or (area.inhabitants or 0) < 0
            ):
                raise InvalidAllocationInput(
                    f"base, fixed amount, floor, cap and inhabitants of {area.code!r}"
                    " must not be negative"
                )
            if area.cap_cents is not None and area.floor_cents > area.cap_cents:
                raise InvalidAllocationInput(
                    f"floor of {area.code!r} ({area.floor_cents})"
                    f" is above its cap ({area.cap_cents})"
                )
            above = as_decimal(area.need, "need", area.code) - threshold
            if above <= 0:
                need = ZERO
            elif exponent == 1:
                need = above
            else:
                need = REPORT.power(above, exponent)
            bases.append(base)
            needs.append(need)
    return bases, needs


def _clamp(value: int, floor: int, cap: int | None) -> int:
    value = max(value, floor)
    return value if cap is None else min(value, cap)


def _check_guarantees(
    pool_cents: int, floors: list[int], caps: list[int | None], guaranteed: list[int]
) -> None:
    """Raise for the constraints that can be judged without solving for the factor."""
    floor_sum = sum(floors)
    if floor_sum > pool_cents:
        raise InfeasibleAllocation(InfeasibleConstraint.FLOORS, floor_sum - pool_cents, pool_cents)
    guaranteed_sum = sum(guaranteed)
    if guaranteed_sum > pool_cents:
        raise InfeasibleAllocation(
            InfeasibleConstraint.FIXED, guaranteed_sum - pool_cents, pool_cents
        )
    if caps and all(cap is not None for cap in caps):
        cap_sum = sum(cap or 0 for cap in caps)
        if cap_sum < pool_cents:
            raise InfeasibleAllocation(InfeasibleConstraint.CAPS, pool_cents - cap_sum, pool_cents)


def _solve_factor(
    pool_cents: int,
    fixed: list[int],
    floors: list[int],
    caps: list[int | None],
    weights: list[int],
    guaranteed: list[int],
) -> tuple[int, int]:
    """The smallest factor mu >= 0 with S(mu) == pool, as numerator and denominator.

    S(mu) = sum clamp(fixed + mu * weight, floor, cap) is continuous, non-decreasing and
    linear between breakpoints (where an area leaves its floor or reaches its cap). Walk the
    breakpoints in exact order keeping S = level + slope * mu on the current piece, all in
    integers; stop on the piece where S reaches the pool. O(n log n), no bisection.
    """
    level = sum(guaranteed)  # S(0) <= pool (checked by the caller); then S's constant part
    if level == pool_cents:
        return 0, 1
    slope = 0
    # (float key, p, q, leaves_floor): a breakpoint at mu = p / q > 0.
    breakpoints: list[tuple[float, int, int, bool]] = []
    for f, lo, hi, weight in zip(fixed, floors, caps, weights, strict=True):
        if weight == 0 or (hi is not None and f >= hi):
            continue  # constant in mu, already counted in `level`
        if f < lo:
            breakpoints.append((_key(lo - f, weight), lo - f, weight, True))
        else:
            slope += weight  # free from the start: its guarantee is f, the piece f + mu * weight
        if hi is not None:
            breakpoints.append((_key(hi - f, weight), hi - f, weight, False))
    _sort_exactly(breakpoints)
    for _, p, q, leaves_floor in breakpoints:
        if level * q + slope * p >= pool_cents * q:
            break
        # An area leaving its floor swaps `floor` for `fixed + mu * weight`; one reaching its
        # cap swaps that for `cap`. Both keep S continuous at mu = p / q.
        if leaves_floor:
            level -= p
            slope += q
        else:
            level += p
            slope -= q
    if slope == 0:
        raise InfeasibleAllocation(InfeasibleConstraint.NEED, pool_cents - level, pool_cents)
    return pool_cents - level, slope


def _key(p: int, q: int) -> float:
    """p / q correctly rounded: monotone, so only equal keys can be out of exact order."""
    try:
        return p / q
    except OverflowError:
        return inf


def _sort_exactly(breakpoints: list[tuple[float, int, int, bool]]) -> None:
    breakpoints.sort(key=lambda breakpoint: breakpoint[0])
    start = 0
    for end in range(1, len(breakpoints) + 1):
        if end == len(breakpoints) or breakpoints[end][0] != breakpoints[start][0]:
            if end - start > 1:
                breakpoints[start:end] = sorted(
                    breakpoints[start:end], key=lambda b: Fraction(b[1], b[2])
                )
            start = end
