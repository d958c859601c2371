"""The exact core of the allocation: the factor, the clamped amounts and the whole cents.

Given integer weights w_i (need x base over one unit), fixed amounts, floors and caps in
cents, `solve` finds the smallest factor mu >= 0 with

    sum clamp(fixed_i + mu * w_i, floor_i, cap_i) == pool

as an exact fraction, every area's exact amount over one denominator, the bound that
decided it, and the amounts rounded to whole cents by largest remainder (ties to the lower
index, which the caller makes code order). Integers only: no Decimal, no float decides a
cent. When every value provably fits, the steps run on numpy int64 arrays (`Vectors`),
else on Python integers; both give the same results (`tests/test_allocation_golden.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from math import inf
from typing import NamedTuple

import numpy as np

from services.funding.apportionment import largest_remainder


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


class Solution(NamedTuple):
    """The factor numerator / denominator (times the weights' unit) and, per area, its exact
    amount times `denominator`, the bound that decided it, its whole cents and whether it got
    one of the cents left after rounding down."""

    numerator: int
    denominator: int
    exact: list[int]
    bindings: list[Binding]
    cents: list[int]
    bumped: list[bool]
    # Where exact / denominator is not a whole number of cents (None: not worked out). The
    # other areas' exact amounts are their cents: a zero remainder never gets a cent.
    fractional: list[int] | None = None


def solve(
    pool_cents: int,
    fixed: list[int],
    floors: list[int],
    caps: list[int | None],
    weights: list[int],
    keys: list[str],
) -> Solution:
    """The allocation of `pool_cents` in integers; `keys` (sorted, unique) break rounding
    ties. Raises `InfeasibleAllocation` when no factor >= 0 spends the pool exactly."""
    vectors = Vectors.of(pool_cents, fixed, floors, caps, weights)
    if vectors is None:  # numbers beyond int64: the same steps on Python integers
        guaranteed = [_clamp(f, lo, hi) for f, lo, hi in zip(fixed, floors, caps, strict=True)]
        cap_sum = sum(cap or 0 for cap in caps) if None not in caps else None
        _check_guarantees(pool_cents, sum(floors), sum(guaranteed), cap_sum if caps else None)
        numerator, denominator = _solve_factor(
            pool_cents, fixed, floors, caps, weights, guaranteed
        )
    else:
        guaranteed_sum = vectors.guaranteed_sum()
        _check_guarantees(pool_cents, vectors.floor_sum(), guaranteed_sum, vectors.cap_sum())
        numerator, denominator = vectors.solve_factor(pool_cents, guaranteed_sum)
        rounded = vectors.amounts(pool_cents, numerator, denominator)
        if rounded is not None:
            return Solution(numerator, denominator, *rounded)
    exact, bindings = _exact_amounts(fixed, floors, caps, weights, numerator, denominator)
    assert sum(exact) == pool_cents * denominator
    # A cent goes only to a positive remainder, so never to an area at its cap, and
    # rounding down never takes an area below its (whole-cent) floor: bounds hold.
    cents, bumped = largest_remainder(exact, denominator, keys)
    return Solution(numerator, denominator, exact, bindings, cents, bumped)


# Below these, numpy's int64 and float64 are exact for every value the fast path forms.
_INT64_SAFE = 2**62
_FLOAT_EXACT = 2**53
_BINDINGS = (Binding.NONE, Binding.FLOOR, Binding.CAP)


@dataclass(frozen=True, slots=True)
class Vectors:
    """The areas as int64 arrays (code order) when every value fits: the same steps as
    `_solve_factor`, `_exact_amounts` and `largest_remainder`, vectorised, same results."""

    fixed: np.ndarray
    floors: np.ndarray
    caps: np.ndarray  # -1 where there is no cap (caps are never negative)
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
    ) -> Vectors | None:
        if not weights:
            return None
        try:
            arrays = [
                np.array(values, dtype=np.int64)
                for values in (fixed, floors, [-1 if cap is None else cap for cap in caps], weights)
            ]
        except OverflowError:  # beyond int64, so far beyond the limits below
            return None
        fixed_array, floor_array, cap_array, weight_array = arrays
        largest = int(max(fixed_array.max(), floor_array.max(), cap_array.max()))
        # Breakpoints p / q as float64 must be correctly rounded (p, q < 2**53); the running
        # sums of up to two breakpoints per area (from the pool down) and of the weights must
        # fit int64 (the weights are summed exactly, in Python).
        if (
            max(largest, pool_cents) >= _FLOAT_EXACT
            or int(weight_array.max()) >= _FLOAT_EXACT
            or max(largest, pool_cents) * (2 * len(weights) + 1) >= _INT64_SAFE
            or sum(weights) >= _INT64_SAFE
        ):
            return None
        return cls(fixed_array, floor_array, cap_array, cap_array >= 0, weight_array, largest)

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

        def reaches(k: int) -> bool:  # in Python integers: the products need not fit int64
            before_level = level if k == 0 else int(levels[k - 1])
            before_slope = slope if k == 0 else int(slopes[k - 1])
            pk, qk = int(p[k]), int(q[k])
            return before_level * qk + before_slope * pk >= pool_cents * qk

        low, high = 0, len(p)
        while low < high:
            middle = (low + high) // 2
            if reaches(middle):
                high = middle
            else:
                low = middle + 1
        if low > 0:
            level, slope = int(levels[low - 1]), int(slopes[low - 1])
        if slope == 0:
            raise InfeasibleAllocation(InfeasibleConstraint.NEED, pool_cents - level, pool_cents)
        return pool_cents - level, slope

    def amounts(
        self, pool_cents: int, numerator: int, denominator: int
    ) -> tuple[list[int], list[Binding], list[int], list[bool], list[int]] | None:
        """`_exact_amounts` then `largest_remainder` (ties to the lower index: code order),
        and `Solution.fractional`; None when the exact amounts times the denominator would
        not fit int64."""
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
            # The `left` largest remainders, ties to the lower index: all above the left-th
            # largest value, then the first indices holding that value (a stable sort's pick).
            value = np.partition(remainders, len(exact) - left)[len(exact) - left]
            bumped = remainders > value
            ties = np.flatnonzero(remainders == value)[: left - int(bumped.sum())]
            bumped[ties] = True
        kinds = at_floor.astype(np.int8) + 2 * at_cap.astype(np.int8)
        return (
            exact.tolist(),
            list(map(_BINDINGS.__getitem__, kinds.tolist())),
            (quotients + bumped).tolist(),
            bumped.tolist(),
            np.flatnonzero(remainders).tolist(),
        )


def _order_exactly(order: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Within runs of equal float keys, order by the exact p / q (float ties are rare)."""
    if len(order) < 2:
        return order
    keys = p[order].astype(np.float64) / q[order].astype(np.float64)
    ties = np.flatnonzero(keys[1:] == keys[:-1])  # key[i] == key[i + 1]
    if not len(ties):
        return order
    result = order.copy()
    # A run of equal keys is a stretch of consecutive ties: it spans first to last + 1.
    breaks = np.flatnonzero(np.diff(ties) != 1)
    firsts = ties[np.concatenate(([0], breaks + 1))].tolist()
    lasts = ties[np.concatenate((breaks, [len(ties) - 1]))].tolist()
    for first, last in zip(firsts, lasts, strict=True):
        run = result[first : last + 2].tolist()
        result[first : last + 2] = sorted(run, key=lambda j: Fraction(int(p[j]), int(q[j])))
    return result


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
