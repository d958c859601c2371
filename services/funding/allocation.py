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

Speed: when every value provably fits (the usual case), the factor, the exact amounts and
the rounding run on numpy int64 arrays, else on Python integers; both give the same lines
(`tests/test_allocation_golden.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from math import inf
from typing import NamedTuple

import numpy as np

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
    vector = _Vectors.of(pool_cents, fixed, floors, caps, weights)
    if vector is None:  # numbers beyond int64: the same steps on Python integers
        guaranteed = [_clamp(f, lo, hi) for f, lo, hi in zip(fixed, floors, caps, strict=True)]
        cap_sum = sum(cap or 0 for cap in caps) if None not in caps else None
        _check_guarantees(pool_cents, sum(floors), sum(guaranteed), cap_sum if caps else None)
        numerator, denominator = _solve_factor(
            pool_cents, fixed, floors, caps, weights, guaranteed
        )
    else:
        guaranteed_sum = vector.guaranteed_sum()
        _check_guarantees(pool_cents, vector.floor_sum(), guaranteed_sum, vector.cap_sum())
        numerator, denominator = vector.solve_factor(pool_cents, guaranteed_sum)
    rounded = None if vector is None else vector.amounts(pool_cents, numerator, denominator)
    if rounded is None:
        exact, bindings = _exact_amounts(fixed, floors, caps, weights, numerator, denominator)
        assert sum(exact) == pool_cents * denominator
        # A cent goes only to a positive remainder, so never to an area at its cap, and
        # rounding down never takes an area below its (whole-cent) floor: bounds hold.
        cents, bumped = largest_remainder(exact, denominator, [area.code for area in ordered])
    else:
        exact, bindings, cents, bumped = rounded
    factor = REPORT.divide(Decimal(numerator * unit), Decimal(denominator))
    lines = _explain(
        pool_cents,
        ordered,
        bases,
        needs,
        factor,
        exact,
        denominator,
        cents,
        bindings,
        bumped,
        weights,
    )
    return Allocation(
        pool_cents=pool_cents,
        factor=factor,
        lines=lines,
        exact=tuple(exact),
        denominator=denominator,
        inhabitants=tuple([area.inhabitants for area in ordered]),
    )


# Below these, numpy's int64 and float64 are exact for every value the fast path forms.
_INT64_SAFE = 2**62
_FLOAT_EXACT = 2**53
_BINDINGS = (Binding.NONE, Binding.FLOOR, Binding.CAP)


@dataclass(frozen=True, slots=True)
class _Vectors:
    """The areas as int64 arrays (code order) when every value fits: the same steps as
    `_solve_factor`, `_exact_amounts` and `largest_remainder`, vectorised, same results."""

    fixed: np.ndarray
    floors: np.ndarray
    caps: np.ndarray  # 0 where there is no cap
    has_cap: np.ndarray
    weights: np.ndarray
    largest: int  # the largest fixed amount, floor or cap in cents

    @classmethod
    def of(
        cls,
        pool_cents: int,
        fixed: list[int],
        floors: list[int],
        caps: list[int | None],
        weights: list[int],
    ) -> _Vectors | None:
        if not weights:
            return None
        capped = [0 if cap is None else cap for cap in caps]
        largest = max(max(fixed), max(floors), max(capped))
        # Breakpoints p / q as float64 must be correctly rounded (p, q < 2**53); the running
        # sums of up to two breakpoints per area (from the pool down) and of the weights must
        # fit int64.
        if (
            max(largest, pool_cents) >= _FLOAT_EXACT
            or max(weights) >= _FLOAT_EXACT
            or max(largest, pool_cents) * (2 * len(weights) + 1) >= _INT64_SAFE
            or sum(weights) >= _INT64_SAFE
        ):
            return None
        return cls(
            np.array(fixed, dtype=np.int64),
            np.array(floors, dtype=np.int64),
            np.array(capped, dtype=np.int64),
            np.array([cap is not None for cap in caps]),
            np.array(weights, dtype=np.int64),
            largest,
        )

    def floor_sum(self) -> int:
        return int(self.floors.sum())

    def guaranteed_sum(self) -> int:
        """The sum of clamp(fixed, floor, cap)."""
        at_least = np.maximum(self.fixed, self.floors)
        return int(np.where(self.has_cap, np.minimum(at_least, self.caps), at_least).sum())

    def cap_sum(self) -> int | None:
        return int(self.caps.sum()) if bool(self.has_cap.all()) else None

    def solve_factor(self, pool_cents: int, level: int) -> tuple[int, int]:
        """`_solve_factor`: breakpoints sorted by float64 key (exact order where keys tie),
        S at each breakpoint from running sums, the first that reaches the pool by bisection
        (S is non-decreasing in the factor)."""
        if level == pool_cents:
            return 0, 1
        f, lo, hi, w = self.fixed, self.floors, self.caps, self.weights
        active = (w != 0) & ~(self.has_cap & (f >= hi))
        below = active & (f < lo)
        slope = int(w[active & ~below].sum())
        reaching = active & self.has_cap
        p = np.concatenate([(lo - f)[below], (hi - f)[reaching]])
        q = np.concatenate([w[below], w[reaching]])
        leaves = np.zeros(len(p), dtype=bool)
        leaves[: int(below.sum())] = True
        order = np.argsort(p.astype(np.float64) / q.astype(np.float64), kind="stable")
        order = _order_exactly(order, p, q)
        p, q, leaves = p[order], q[order], leaves[order]
        # Level and slope on the piece after breakpoint k (leaving a floor: -p, +q;
        # reaching a cap: +p, -q), so before k they are the values at k - 1.
        levels = level + np.cumsum(np.where(leaves, -p, p))
        slopes = slope + np.cumsum(np.where(leaves, q, -q))
        ps: list[int] = p.tolist()
        qs: list[int] = q.tolist()
        level_list: list[int] = levels.tolist()
        slope_list: list[int] = slopes.tolist()

        def reaches(k: int) -> bool:
            before_level = level if k == 0 else level_list[k - 1]
            before_slope = slope if k == 0 else slope_list[k - 1]
            return before_level * qs[k] + before_slope * ps[k] >= pool_cents * qs[k]

        low, high = 0, len(ps)
        while low < high:
            middle = (low + high) // 2
            if reaches(middle):
                high = middle
            else:
                low = middle + 1
        if low > 0:
            level, slope = level_list[low - 1], slope_list[low - 1]
        if slope == 0:
            raise InfeasibleAllocation(InfeasibleConstraint.NEED, pool_cents - level, pool_cents)
        return pool_cents - level, slope

    def amounts(
        self, pool_cents: int, numerator: int, denominator: int
    ) -> tuple[list[int], list[Binding], list[int], list[bool]] | None:
        """`_exact_amounts` then `largest_remainder` (ties to the lower index: code order);
        None when the exact amounts times the denominator would not fit int64."""
        largest_weight = int(self.weights.max())
        if self.largest * denominator + numerator * largest_weight >= _INT64_SAFE:
            return None
        unclamped = self.fixed * denominator + self.weights * numerator
        floor = self.floors * denominator
        cap = self.caps * denominator
        at_floor = unclamped < floor
        at_cap = ~at_floor & self.has_cap & (unclamped > cap)
        exact = np.where(at_floor, floor, np.where(at_cap, cap, unclamped))
        quotients, remainders = np.divmod(exact, denominator)
        left = pool_cents - int(quotients.sum())
        bumped = np.zeros(len(exact), dtype=bool)
        if left:
            bumped[np.argsort(-remainders, kind="stable")[:left]] = True
        kinds = at_floor.astype(np.int8) + 2 * at_cap.astype(np.int8)
        return (
            exact.tolist(),
            [_BINDINGS[kind] for kind in kinds.tolist()],
            (quotients + bumped).tolist(),
            bumped.tolist(),
        )


def _order_exactly(order: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Within runs of equal float keys, order by the exact p / q (float ties are rare)."""
    if len(order) < 2:
        return order
    keys = p[order].astype(np.float64) / q[order].astype(np.float64)
    ties = np.flatnonzero(keys[1:] == keys[:-1])
    if not len(ties):
        return order
    result = order.copy()
    start = None
    ends = set((ties + 1).tolist())
    for index in range(len(order) + 1):
        if index in ends:
            continue
        if start is not None and index - start > 1:
            run = result[start:index].tolist()
            result[start:index] = sorted(run, key=lambda j: Fraction(int(p[j]), int(q[j])))
        start = index
    return result


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
            lines = []
            for line, exact, row, row_bumped, inhabitants in zip(
                year.lines, theme_exact, cents, bumped, year.inhabitants, strict=True
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
                            Decimal(exact) / big_denominator,
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

    The product is exact (EXACT traps any rounding); a zero product adds nothing to the unit,
    which only scales every weight alike, so no amount or factor depends on it.
    """
    zero = (0, 1)
    with localcontext(EXACT):
        ratios = [
            (need * base).as_integer_ratio() if need and base else zero
            for need, base in zip(needs, bases, strict=True)
        ]
    return common_denominator(ratios)


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
    weights: list[int],
) -> tuple[AllocationLine, ...]:
    """The result lines, their ratios rounded to REPORT's 34 digits.

    Lines at a floor or cap, and lines without need, repeat few amounts (a floor, a cap, the
    fixed amount), so their ratios are computed once per amount.
    """
    new_line = tuple.__new__  # AllocationLine(...) without its Python-level __new__
    free = Binding.NONE
    lines: list[AllocationLine] = []
    exact_memo: dict[int, Decimal] = {}
    share_memo: dict[int, Decimal] = {}
    per_inhabitant: dict[int, Decimal] = {}  # 100 x inhabitants, converted once per value
    with localcontext(REPORT):  # operators in a local context: 5x faster than REPORT.divide
        big_denominator = Decimal(denominator)
        pool = Decimal(pool_cents) if pool_cents else None
        for area, base, need, e, c, binding, bump, weight in zip(
            areas, bases, needs, exact, cents, bindings, bumped, weights, strict=True
        ):
            rounded = Decimal(c)
            if binding is free and weight:
                exact_cents = Decimal(e) / big_denominator
                share = rounded / pool if pool is not None else ZERO
            else:
                bound_exact = exact_memo.get(e)
                if bound_exact is None:
                    bound_exact = exact_memo[e] = Decimal(e) / big_denominator
                exact_cents = bound_exact
                bound_share = share_memo.get(c)
                if bound_share is None:
                    bound_share = share_memo[c] = rounded / pool if pool is not None else ZERO
                share = bound_share
            inhabitants = area.inhabitants
            if inhabitants:
                divisor = per_inhabitant.get(inhabitants)
                if divisor is None:
                    divisor = per_inhabitant[inhabitants] = Decimal(100 * inhabitants)
                euros_per_inhabitant: Decimal | None = rounded / divisor
            else:
                euros_per_inhabitant = None
            lines.append(
                new_line(
                    AllocationLine,
                    (
                        area.code,
                        base,
                        need,
                        factor,
                        exact_cents,
                        c,
                        binding,
                        bump,
                        share,
                        euros_per_inhabitant,
                    ),
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
    decimal, integer = Decimal, int
    with localcontext(EXACT):  # need - threshold exactly, whatever the caller's context
        for area in areas:
            code = area.code
            if code == previous_code:
                raise InvalidAllocationInput(f"area {code!r} appears more than once")
            previous_code = code
            # as_decimal inlined for its common cases: 14,000 calls less.
            raw = area.base
            if type(raw) is integer:
                negative = raw < 0
                base = decimal(raw)
            else:
                base = raw if type(raw) is decimal and raw.is_finite() else as_decimal(
                    raw, "base", code)
                negative = base < ZERO
            cap, inhabitants = area.cap_cents, area.inhabitants
            if (
                negative
                or area.fixed_cents < 0
                or area.floor_cents < 0
                or (cap is not None and cap < 0)
                or (inhabitants is not None and inhabitants < 0)
            ):
                raise InvalidAllocationInput(
                    f"base, fixed amount, floor, cap and inhabitants of {code!r}"
                    " must not be negative"
                )
            if cap is not None and area.floor_cents > cap:
                raise InvalidAllocationInput(
                    f"floor of {code!r} ({area.floor_cents}) is above its cap ({cap})"
                )
            need = area.need
            if type(need) is integer:
                need = decimal(need)
            elif type(need) is not decimal or not need.is_finite():
                need = as_decimal(need, "need", code)
            above = need - threshold
            if above <= ZERO:
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
    pool_cents: int, floor_sum: int, guaranteed_sum: int, cap_sum: int | None
) -> None:
    """Raise for the constraints that can be judged without solving for the factor.

    `guaranteed_sum` adds clamp(fixed, floor, cap) over the areas; `cap_sum` is None unless
    there are areas and every one has a cap.
    """
    if floor_sum > pool_cents:
        raise InfeasibleAllocation(InfeasibleConstraint.FLOORS, floor_sum - pool_cents, pool_cents)
    if guaranteed_sum > pool_cents:
        raise InfeasibleAllocation(
            InfeasibleConstraint.FIXED, guaranteed_sum - pool_cents, pool_cents
        )
    if cap_sum is not None and cap_sum < pool_cents:
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
