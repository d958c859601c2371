"""Statistical disclosure control: what a published figure may reveal about a small group.

Applies to every output that is not an admin's; the caller decides who is an admin and skips
these functions only for them. All counts here are counts of households or signals in one
area. The rules, as users read them in the API description (docs/disclosure.md explains why):

Counts
    0 is published as 0 (as CBS does: "no cases" is not a group of people). Counts 1-4 are
    withheld with reason `small-count`. Counts of 5 and more are perturbed by the cell-key
    method (`services.indicators.cellkey`): the published value is within 2 of the true
    count, never below 5, and the same cell (the same households or signals) always gets the
    same value, whatever query or period reaches it.

Rates and percentages
    Only ever computed from published counts. A rate on a public denominator (corporation
    dwellings from CBS) is refused with `small-denominator` under 20 dwellings, refused with
    the count's reason when the count is withheld, and is otherwise the published count over
    the denominator. A percentage of two of our own counts (stacking) is refused with the
    reason of either count when one is withheld, with `small-denominator` when the published
    denominator is under 100 households, and is otherwise published numerator over published
    denominator. A trend is the difference of two such published rates (each period protected
    as in its own publication); withheld when either is.

Secondary suppression (withholding more cells so that a withheld one cannot be worked out
from its neighbours) is `suppression.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from services.indicators.cellkey import perturb

SMALL_COUNT_MAX: Final = 4
RATE_DECIMALS: Final = 1

DenominatorKind = Literal["dwellings", "households"]

MIN_DENOMINATOR: Final[Mapping[DenominatorKind, int]] = {"dwellings": 20, "households": 100}


class SuppressionReason(StrEnum):
    """Why a figure is not published; the values are the wire names."""

    SMALL_COUNT = "small-count"
    SMALL_DENOMINATOR = "small-denominator"
    SECONDARY = "secondary"


@dataclass(frozen=True, slots=True)
class DisclosedValue:
    """One published cell: a value, or no value and the reason it is withheld."""

    value: int | float | None
    reason: SuppressionReason | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("a disclosed value has either a value or a suppression reason")

    @classmethod
    def published(cls, value: int | float) -> DisclosedValue:
        return cls(value=value)

    @classmethod
    def withheld(cls, reason: SuppressionReason) -> DisclosedValue:
        return cls(value=None, reason=reason)

    @property
    def suppressed(self) -> bool:
        return self.value is None


def is_small_count(n: int) -> bool:
    """True for the counts that are never published (1-4)."""
    return 1 <= n <= SMALL_COUNT_MAX


def disclose_count(n: int, cell_key: int) -> DisclosedValue:
    """Publish a count: 0 as is, 1-4 withheld, 5 and more perturbed by its cell key."""
    require_count(n, "count")
    if is_small_count(n):
        return DisclosedValue.withheld(SuppressionReason.SMALL_COUNT)
    return DisclosedValue.published(perturb(n, cell_key))


def disclose_rate_of(
    count: DisclosedValue,
    denominator: int,
    denominator_kind: DenominatorKind,
    per: int = 100,
    *,
    decimals: int = RATE_DECIMALS,
) -> DisclosedValue:
    """Publish a rate from a disclosed count over a public denominator.

    A count withheld for any reason (also `secondary`) yields no rate: with a public
    denominator the rate would give the count back.
    """
    require_count(denominator, "denominator")
    if per <= 0:
        raise ValueError(f"per must be positive, got {per}")
    if denominator < MIN_DENOMINATOR[denominator_kind]:
        return DisclosedValue.withheld(SuppressionReason.SMALL_DENOMINATOR)
    if count.value is None:
        assert count.reason is not None
        return DisclosedValue.withheld(count.reason)
    return DisclosedValue.published(round(count.value / denominator * per, decimals))


def disclose_share(numerator: DisclosedValue, denominator: DisclosedValue,
                   denominator_kind: DenominatorKind, *, decimals: int = RATE_DECIMALS
                   ) -> DisclosedValue:
    """Publish a percentage of two disclosed counts (of which the numerator is a part)."""
    if denominator.reason is not None:
        return DisclosedValue.withheld(denominator.reason)
    assert denominator.value is not None
    if denominator.value < MIN_DENOMINATOR[denominator_kind]:
        return DisclosedValue.withheld(SuppressionReason.SMALL_DENOMINATOR)
    if numerator.reason is not None:
        return DisclosedValue.withheld(numerator.reason)
    assert numerator.value is not None
    # Independent noise on a part and its whole may put the part above the whole.
    return DisclosedValue.published(
        round(min(100.0, numerator.value / denominator.value * 100), decimals))


def disclose_difference(current: DisclosedValue, previous: DisclosedValue) -> DisclosedValue:
    """Publish the change between two published figures (a trend)."""
    for side in (current, previous):
        if side.reason is not None:
            return DisclosedValue.withheld(side.reason)
    assert current.value is not None and previous.value is not None
    return DisclosedValue.published(round(float(current.value) - float(previous.value),
                                          RATE_DECIMALS))


def require_count(n: int, what: str) -> None:
    """A count is a non-negative int (a bool is not)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"{what} must not be negative, got {n}")
