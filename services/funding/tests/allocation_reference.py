"""The slow exact reference of the allocation formula (Fractions, every breakpoint tried),
sharing no code with the engine, and the helpers its tests build areas with."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from services.funding.allocation import AreaInput, NeedRule

D = Decimal


def area(code: str, base: int | Decimal = 100, need: int | Decimal = 1, **bounds: int | None):
    return AreaInput(code=code, base=base, need=need, **bounds)  # type: ignore[arg-type]


# --- the slow exact reference -------------------------------------------------------------


def clamp(value: Fraction, floor: int, cap: int | None) -> Fraction:
    value = max(value, Fraction(floor))
    return value if cap is None else min(value, Fraction(cap))


def reference(pool: int, areas: list[AreaInput], weights: dict[str, Fraction]) -> dict[str, int]:
    """Cents per area: the smallest factor spending the pool, then Hamilton by code."""

    def spent(mu: Fraction) -> Fraction:
        return sum(
            (
                clamp(a.fixed_cents + mu * weights[a.code], a.floor_cents, a.cap_cents)
                for a in areas
            ),
            Fraction(0),
        )

    points = {Fraction(0)}
    for a in areas:
        w = weights[a.code]
        if w:
            points |= {Fraction(b - a.fixed_cents) / w for b in (a.floor_cents, a.cap_cents) if b}
    points_sorted = sorted(p for p in points if p >= 0)
    previous = points_sorted[0]
    if spent(previous) >= pool:
        mu = previous
    else:
        for point in points_sorted[1:]:
            if spent(point) >= pool:
                mu = previous + (pool - spent(previous)) * (point - previous) / (
                    spent(point) - spent(previous)
                )
                break
            previous = point
        else:
            slope = sum(
                (weights[a.code] for a in areas if a.cap_cents is None and weights[a.code]),
                Fraction(0),
            )
            mu = previous + (pool - spent(previous)) / slope
    exact = {
        a.code: clamp(a.fixed_cents + mu * weights[a.code], a.floor_cents, a.cap_cents)
        for a in areas
    }
    cents = {code: math.floor(x) for code, x in exact.items()}
    left = pool - sum(cents.values())
    for code in sorted(exact, key=lambda c: (-(exact[c] - cents[c]), c))[:left]:
        cents[code] += 1
    return cents


def guarantee(a: AreaInput) -> int:
    """What an area without need receives: max(fixed, floor) clipped by the cap."""
    value = max(a.fixed_cents, a.floor_cents)
    return value if a.cap_cents is None else min(value, a.cap_cents)


def has_weight(a: AreaInput, rule: NeedRule) -> bool:
    return D(a.need) > rule.threshold and D(a.base) > 0


def room(areas: list[AreaInput], rule: NeedRule) -> tuple[int, int | None]:
    """The least and most (None: unbounded) the formula can spend."""
    least = sum(guarantee(a) for a in areas)
    most: int | None = 0
    for a in areas:
        if not has_weight(a, rule):
            most = None if most is None else most + guarantee(a)
        elif a.cap_cents is None:
            most = None
        elif most is not None:
            most += max(a.cap_cents, guarantee(a))
    return least, most
