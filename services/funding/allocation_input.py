"""The allocation's input: areas and the need rule, checked and turned into exact columns.

Usual input (unique codes, ints or finite Decimals, nothing negative, no floor above its cap)
is checked and converted column by column (`map`, no Python-level loop per area); anything
else goes area by area, so that the first area at fault (in code order) is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from itertools import compress, repeat
from operator import gt, is_not, sub
from typing import NamedTuple, cast

from services.funding.apportionment import EXACT, InvalidAllocationInput, as_decimal

ZERO = Decimal(0)
ONE = Decimal(1)
# need_eff for an exponent other than 1: 34 significant digits, the same on every machine.
POWER = Context(prec=34, rounding=ROUND_HALF_EVEN)


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


class Columns(NamedTuple):
    """The areas' fields as columns in code order: one pass over 14,000 areas, after which
    every step works on a column with `map`, without a Python-level loop per area."""

    codes: list[str]
    bases: list[Decimal | int]
    needs: list[Decimal | int]
    inhabitants: list[int | None]
    fixed: list[int]
    floors: list[int]
    caps: list[int | None]

    @classmethod
    def of(cls, ordered: list[AreaInput]) -> Columns:
        # Seven list comprehensions beat one transposing zip over attrgetter tuples.
        return cls(
            [area.code for area in ordered],
            [area.base for area in ordered],
            [area.need for area in ordered],
            [area.inhabitants for area in ordered],
            [area.fixed_cents for area in ordered],
            [area.floor_cents for area in ordered],
            [area.cap_cents for area in ordered],
        )


def validate(
    pool_cents: int, areas: list[AreaInput], rule: NeedRule, columns: Columns
) -> tuple[list[Decimal], list[Decimal]]:
    """Check the input; return each area's base and effective need as exact Decimals.

    Usual input (see `_usual`) is converted column by column; anything else goes area by
    area through `_validate_each`, which names the first area at fault.
    """
    if pool_cents < 0:
        raise InvalidAllocationInput(f"the pool must not be negative, got {pool_cents}")
    threshold = as_decimal(rule.threshold, "need threshold")
    exponent = as_decimal(rule.exponent, "need exponent")
    if exponent <= 0:
        raise InvalidAllocationInput(f"the need exponent must be positive, got {exponent}")
    if not _usual(columns):
        return _validate_each(areas, threshold, exponent)
    bases = list(map(Decimal, columns.bases))  # exact in any context; a Decimal is copied
    with localcontext(EXACT):  # need - threshold exactly, whatever the caller's context
        # An int need minus a Decimal threshold is exact too: Decimal converts it exactly.
        above = list(map(sub, columns.needs, repeat(threshold)))
    if exponent == 1:
        return bases, [need if need > ZERO else ZERO for need in above]
    power = POWER.power
    return bases, [power(need, exponent) if need > ZERO else ZERO for need in above]


def _usual(columns: Columns) -> bool:
    """True when no area can fail `_validate_each`: unique codes, int or finite Decimal
    bases and needs, no negative base, amount or inhabitants, and no floor above its cap."""
    codes, bases, needs, inhabitants, fixed, floors, caps = columns
    if not (_numbers(bases) and _numbers(needs)):
        return False
    # map and compress rather than comprehensions: no Python-level step per area.
    has_cap = list(map(is_not, caps, repeat(None)))
    capped = cast(list[int], list(compress(caps, has_cap)))
    counted = cast(list[int], list(compress(inhabitants, map(is_not, inhabitants, repeat(None)))))
    try:
        return (
            len(set(codes)) == len(codes)
            and min(
                min(bases, default=0),
                min(fixed, default=0),
                min(floors, default=0),
                min(capped, default=0),
                min(counted, default=0),
            ) >= 0
            and not any(map(gt, compress(floors, has_cap), capped))
        )
    except TypeError:  # a code or amount of the wrong type: for `_validate_each` to meet
        return False


def _numbers(values: list[Decimal | int]) -> bool:
    """Whether every value is an int (not a bool) or a finite Decimal."""
    kinds = set(map(type, values))
    if kinds <= {int}:
        return True
    if kinds == {Decimal}:
        return all(map(Decimal.is_finite, cast(list[Decimal], values)))
    return kinds <= {int, Decimal} and all(
        value.is_finite() for value in values if type(value) is Decimal
    )


def _validate_each(
    areas: list[AreaInput], threshold: Decimal, exponent: Decimal
) -> tuple[list[Decimal], list[Decimal]]:
    """`validate` area by area: raises for the first area (in code order) at fault."""
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
                need = POWER.power(above, exponent)
            bases.append(base)
            needs.append(need)
    return bases, needs
