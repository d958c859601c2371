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
- Themes: `split_over_themes` splits an allocated pool-year over themes pro rata, so a theme
  cell is feasible whenever its year is (see there).

Speed: the exact core (factor, clamped amounts, whole cents) is `clamping.solve`, on numpy
int64 arrays when every value provably fits; `allocation_input` checks the areas and turns
them into columns (area by area only for input that might be invalid), and this module
explains the result column by column (`map` over Decimal operations, no Python loop per
area). The lines are those of the original pure-Python engine
(`tests/test_allocation_golden.py`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import repeat
from math import lcm
from operator import attrgetter, mul, truediv
from typing import NamedTuple

from services.funding.allocation_input import ZERO, AreaInput, Columns, NeedRule, validate
from services.funding.apportionment import (
    EXACT,
    InvalidAllocationInput,
    as_decimal,
    hamilton,
    round_rows,
    scaled_integers,
)
from services.funding.clamping import (
    Binding,
    InfeasibleAllocation,
    InfeasibleConstraint,
    Solution,
    Vectors,
    solve,
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
# Exact amounts are reported rounded down: 24.99...97 (35 nines) shown as 25 next to 25 cents
# and a remainder cent would not add up; rounded down, cents == floor(exact) + remainder.
EXACT_AMOUNT = Context(prec=34, rounding=ROUND_FLOOR)
_Vectors = Vectors  # the int64 fast path, by the name the golden test switches it off with


class AllocationLine(NamedTuple):
    """One area's amount with everything needed to recompute it by hand.

    A NamedTuple rather than a frozen dataclass: as immutable, but a third of the cost to
    build, which matters at 14,000 lines per allocation.
    """

    code: str
    base: Decimal
    need_effective: Decimal
    factor: Decimal  # lambda, the same on every line
    exact_cents: Decimal  # before rounding to whole cents (34 digits, rounded down)
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
    with _collector_paused():
        return _allocate(pool_cents, areas, rule or NeedRule())


def _allocate(pool_cents: int, areas: Sequence[AreaInput], rule: NeedRule) -> Allocation:
    ordered = sorted(areas, key=_BY_CODE)
    columns = Columns.of(ordered)
    bases, needs = validate(pool_cents, ordered, rule, columns)
    weights, unit = _weights(needs, bases)
    solution = solve(
        pool_cents, columns.fixed, columns.floors, columns.caps, weights, columns.codes
    )
    factor = REPORT.divide(Decimal(solution.numerator * unit), Decimal(solution.denominator))
    return Allocation(
        pool_cents=pool_cents,
        factor=factor,
        lines=_explain(pool_cents, columns, bases, needs, factor, solution),
        exact=tuple(solution.exact),
        denominator=solution.denominator,
        inhabitants=tuple(columns.inhabitants),
    )


_BY_CODE = attrgetter("code")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the columns and lines are built.

    An allocation creates no cycles, but its 14,000 lines would wake the collector some
    twenty times, each pass walking every young column again: a sixth of the time. Paused,
    one later pass walks the lines once, the columns being gone by then. Re-enabled only if
    it was on; a concurrent allocation finishing first merely re-enables it early.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


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
    new_line = tuple.__new__  # AllocationLine(...) without its Python-level __new__
    with localcontext(REPORT):
        big_denominator = Decimal(denominator)
        for t, theme in enumerate(themes):
            budget = budgets[theme]
            pool = Decimal(budget) if budget else None
            factor = year.factor * values[t]
            units = share_units[t]
            theme_exact = [units * exact for exact in year.exact]
            with localcontext(EXACT_AMOUNT):
                exact_amounts = [Decimal(exact) / big_denominator for exact in theme_exact]
            lines = []
            for line, exact_amount, row, row_bumped, inhabitants in zip(
                year.lines, exact_amounts, cents, bumped, year.inhabitants, strict=True
            ):
                amount = Decimal(row[t])
                lines.append(
                    new_line(
                        AllocationLine,
                        (
                            line.code,
                            line.base,
                            line.need_effective,
                            factor,
                            exact_amount,
                            row[t],
                            line.binding,
                            row_bumped[t],
                            amount / pool if pool is not None else ZERO,
                            amount / (100 * inhabitants) if inhabitants else None,
                        ),
                    )
                )
            result[theme] = Allocation(
                pool_cents=budget,
                factor=factor,
                lines=tuple(lines),
                exact=tuple(theme_exact),
                denominator=denominator,
                inhabitants=year.inhabitants,
            )
    return result


def _weights(needs: list[Decimal], bases: list[Decimal]) -> tuple[list[int], int]:
    """Integers w_i and a unit with need_i * base_i == w_i / unit exactly.

    The product is exact (EXACT traps any rounding); a zero product is 0 / 1, adding nothing
    to the unit, which only scales every weight alike, so no amount or factor depends on it.
    """
    numerators: list[int] = []
    denominators: list[int] = []
    numerator, denominator = numerators.append, denominators.append
    ratio = _INTEGER_RATIO
    with localcontext(EXACT):
        for need, base in zip(needs, bases, strict=True):
            if need is ZERO:  # `validate` gives ZERO itself at or below the threshold
                numerator(0)
                denominator(1)
            else:
                p, q = ratio(need * base)
                numerator(p)
                denominator(q)
    distinct = set(denominators)
    unit = lcm(*distinct)
    if len(distinct) <= 1:
        return numerators, unit
    factors = {q: unit // q for q in distinct}
    return list(map(mul, numerators, map(factors.__getitem__, denominators))), unit


_INTEGER_RATIO = Decimal.as_integer_ratio


def _explain(
    pool_cents: int,
    columns: Columns,
    bases: list[Decimal],
    needs: list[Decimal],
    factor: Decimal,
    solution: Solution,
) -> tuple[AllocationLine, ...]:
    """The result lines, their ratios rounded to REPORT's 34 digits.

    Column by column with `map`, so no Python-level loop runs around each Decimal operation;
    the lines are then built as tuples straight from the columns.
    """
    count = len(bases)
    cents, inhabitants = solution.cents, columns.inhabitants
    with localcontext(REPORT):  # operators in a local context: 5x faster than REPORT.divide
        rounded = list(map(Decimal, cents))
        denominator = Decimal(solution.denominator)
        fractional = solution.fractional
        if fractional is None:
            with localcontext(EXACT_AMOUNT):
                exact_cents = list(map(truediv, map(Decimal, solution.exact),
                                       repeat(denominator)))
        else:
            # A whole exact amount k * d / d divides to Decimal(k) itself (k < 2**62 has
            # fewer than 34 digits): the rounded amount. Only the rest needs a division.
            exact_cents = rounded.copy()
            exact = solution.exact
            with localcontext(EXACT_AMOUNT):
                quotients = list(map(truediv, map(Decimal, [exact[i] for i in fractional]),
                                     repeat(denominator)))
            for index, quotient in zip(fractional, quotients, strict=True):
                exact_cents[index] = quotient
        shares = (
            list(map(truediv, rounded, repeat(Decimal(pool_cents))))
            if pool_cents
            else [ZERO] * count
        )
        euros_per_inhabitant: list[Decimal | None]
        if all(inhabitants):
            hundredfold = map(Decimal, map(mul, repeat(100), inhabitants))
            euros_per_inhabitant = list(map(truediv, rounded, hundredfold))
        else:
            euros_per_inhabitant = [
                amount / Decimal(100 * people) if people else None
                for amount, people in zip(rounded, inhabitants, strict=True)
            ]
    lines = zip(
        columns.codes,
        bases,
        needs,
        repeat(factor, count),
        exact_cents,
        cents,
        solution.bindings,
        solution.bumped,
        shares,
        euros_per_inhabitant,
        strict=True,
    )
    # tuple.__new__: an AllocationLine without its Python-level __new__, 14,000 times.
    return tuple(map(tuple.__new__, repeat(AllocationLine), lines))
