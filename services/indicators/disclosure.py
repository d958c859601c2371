"""Statistical disclosure control: what a published figure may reveal about a small group.

Applies to every output that is not an admin's; the caller decides who is an admin and skips
these functions only for them. All counts here are counts of people, households, dwellings or
signals in one area. The rules, as users read them in the API description:

Counts
    0 is published as 0 (as CBS does: "no cases" is not a group of people). Counts 1-4 are
    suppressed with reason `small-count`. Counts of 5 and more are rounded to the nearest
    multiple of 5, halves up (5, 6, 7 -> 5; 8 -> 10), so a published count is never 1-4.

Rates (numerator per `per` units of the denominator)
    Refused with `small-denominator` when the denominator is under 20 dwellings or under 100
    households. Otherwise a rate is computed from the *published* numerator: refused with the
    numerator's reason when that count is suppressed (a rate of 3 per 40 known dwellings is the
    count 3 in disguise), and computed from the rounded count when it is published, so a rate
    never tells more than the count published beside it (denominators are public in the CBS
    Kerncijfers). The cost is accuracy: 7 of 100 households is published as 5.0 %.

Secondary suppression (one parent and the children that partition it, e.g. a wijk and its
buurten)
    Model of the attacker: knows the published parent and children exactly (rounding is treated
    as extra noise, never relied on), the reason of every suppressed cell, and therefore that a
    `small-count` cell holds 1-4 and a `secondary` cell holds 5 or more. From "parent minus the
    published children" they learn the exact total of the hidden cells. With the parent
    published, the hidden cells are protected when
      1. their total is not itself a small count (1-4), and
      2. no hidden cell's exact value follows from that total and the bounds above.
    Rule 2 implies that a group never has exactly one suppressed cell (with 4 + 4 = 8 it also
    catches two suppressed cells of 4 each). Until the group is protected, more children are
    suppressed as `secondary`: the smallest publishable child (ties by code) that protects the
    group on its own, else the smallest publishable child, and again. Zero children are never
    chosen (they add no uncertainty). When even hiding every non-zero child cannot protect the
    group, the parent is suppressed as `secondary` instead and the children keep only their
    primary suppression. If the children do not add up to the parent, the unallocated rest is a
    hidden cell of its own: when it is 1-4 it is protected like a `small-count` child; otherwise
    it is assumed known to the attacker.

    One group at a time in `disclose_hierarchy`; `disclose_groups` protects groups that share
    cells (gemeente > wijk > buurt, programme areas over buurten) together.

Nested groups (one group's cells all inside another's, e.g. a wijk and a programme area of
that wijk's buurten plus one more)
    With both totals published, outer minus inner is the exact total of the outer's other
    cells: a group of its own, protected by the same rules. When no choice of those cells
    protects it, the outer total is suppressed as `secondary`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, TypeVar

SMALL_COUNT_MAX: Final = 4
ROUNDING_BASE: Final = 5
RATE_DECIMALS: Final = 1

K = TypeVar("K", bound=Hashable)  # an area or category code (or a one-group parent key)

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


def round_count(n: int) -> int:
    """Round a non-negative count to the nearest multiple of 5, halves up."""
    return (n + ROUNDING_BASE // 2) // ROUNDING_BASE * ROUNDING_BASE


def disclose_count(n: int) -> DisclosedValue:
    """Publish a count: 0 as is, 1-4 suppressed, 5 and more rounded to a multiple of 5."""
    _require_count(n, "count")
    if is_small_count(n):
        return DisclosedValue.withheld(SuppressionReason.SMALL_COUNT)
    return DisclosedValue.published(round_count(n))


def disclose_rate(
    numerator: int,
    denominator: int,
    denominator_kind: DenominatorKind,
    per: int = 100,
    *,
    decimals: int = RATE_DECIMALS,
) -> DisclosedValue:
    """Publish `numerator` per `per` units of `denominator`, or refuse it (see module doc)."""
    _require_count(numerator, "numerator")
    return disclose_rate_of(
        disclose_count(numerator), denominator, denominator_kind, per, decimals=decimals
    )


def disclose_rate_of(
    count: DisclosedValue,
    denominator: int,
    denominator_kind: DenominatorKind,
    per: int = 100,
    *,
    decimals: int = RATE_DECIMALS,
) -> DisclosedValue:
    """Publish a rate from an already disclosed count, e.g. a child of `disclose_hierarchy`.

    A count withheld for any reason (also `secondary`) yields no rate: with a public
    denominator the rate would give the count back.
    """
    _require_count(denominator, "denominator")
    if per <= 0:
        raise ValueError(f"per must be positive, got {per}")
    if denominator < MIN_DENOMINATOR[denominator_kind]:
        return DisclosedValue.withheld(SuppressionReason.SMALL_DENOMINATOR)
    if count.value is None:
        assert count.reason is not None
        return DisclosedValue.withheld(count.reason)
    return DisclosedValue.published(round(count.value / denominator * per, decimals))


_PARENT: Final = object()  # the parent's key in a one-group `disclose_groups`: no code


def disclose_hierarchy(
    parent_count: int, children: Mapping[str, int]
) -> tuple[DisclosedValue, dict[str, DisclosedValue]]:
    """Publish a parent and its children with primary and secondary suppression.

    The children must partition (part of) the parent: their sum may not exceed it. The result
    keeps the order of `children`; the decisions depend only on the codes and counts.
    """
    _require_count(parent_count, "parent count")
    for code, n in children.items():
        _require_count(n, f"count of {code}")
    if sum(children.values()) > parent_count:
        raise ValueError(
            f"children add up to {sum(children.values())}, more than the parent {parent_count}"
        )
    counts: dict[object, int] = {_PARENT: parent_count}
    counts.update(children.items())
    out = disclose_groups(counts, {_PARENT: list(children)})
    return out[_PARENT], {code: out[code] for code in children}


def disclose_groups(
    counts: Mapping[K, int], groups: Mapping[K, Sequence[K]]
) -> dict[K, DisclosedValue]:
    """Publish cells that belong to several groups, e.g. gemeente > wijken > buurten and
    programme areas over buurten, each group a parent and the children partitioning (part
    of) it; a child missing from `counts` counts 0.

    Each group is protected as in `disclose_hierarchy`, with a cell hidden for another group
    counted as hidden here too, and the groups are checked again until none changes: a wijk
    hidden to protect its buurten is then protected among its gemeente's wijken as well, and a
    buurt hidden in its wijk cannot be recovered from a programme area and its other buurten.
    Each round only adds suppressions, so this ends. A group nested in another (its cells a
    proper subset of the other's) also publishes their difference, which is protected as the
    group of the outer's other cells (see the module doc). Not covered: groups that overlap
    without one holding the other, whose difference mixes cells of both; that needs an audit
    of all published totals at once.
    """
    for code, n in counts.items():
        _require_count(n, f"count of {code}")
    out = {code: disclose_count(n) for code, n in counts.items()}
    unallocated: dict[K, int] = {}
    for parent, kids in groups.items():
        unallocated[parent] = counts[parent] - sum(counts.get(code, 0) for code in kids)
        if unallocated[parent] < 0:
            raise ValueError(f"the children of {parent} add up to more than it")
    nested = _nested_pairs(groups)
    changed = True
    while changed:
        changed = False
        for parent in sorted(groups, key=str):
            if out[parent].suppressed:
                continue  # no published total to subtract from
            changed |= _protect(parent, groups[parent], unallocated[parent], counts, out)
        for inner, outer, others in nested:
            rest = unallocated[outer] - unallocated[inner]
            if out[inner].suppressed or out[outer].suppressed or rest < 0:
                continue  # no exact difference of the outer's other cells alone
            changed |= _protect(outer, others, rest, counts, out)
    return out


def _protect(parent: K, kids: Sequence[K], unallocated: int, counts: Mapping[K, int],
             out: dict[K, DisclosedValue]) -> bool:
    """Protect the cells whose exact total is known (parent's published total minus the
    published rest); returns whether a suppression was added."""
    children = {code: counts.get(code, 0) for code in kids}
    hidden = {code: reason for code in children
              if code in out and (reason := out[code].reason) is not None}
    secondary = _secondary_suppressions(children, unallocated, hidden)
    if secondary is None:
        out[parent] = DisclosedValue.withheld(SuppressionReason.SECONDARY)
        return True
    for code in secondary:
        out[code] = DisclosedValue.withheld(SuppressionReason.SECONDARY)
    return bool(secondary)


def _nested_pairs(groups: Mapping[K, Sequence[K]]) -> list[tuple[K, K, list[K]]]:
    """(inner, outer, the outer's other cells) for every group whose cells are a proper
    subset of another's."""
    holding: dict[K, list[K]] = {}
    for parent, kids in groups.items():
        for code in set(kids):
            holding.setdefault(code, []).append(parent)
    cells = {parent: set(kids) for parent, kids in groups.items()}
    pairs = []
    for inner, inside in cells.items():
        if not inside:
            continue
        some = min(inside, key=lambda code: len(holding[code]))  # fewest candidates to check
        pairs += [(inner, outer, [code for code in groups[outer] if code not in inside])
                  for outer in holding[some] if outer != inner and inside < cells[outer]]
    return sorted(pairs, key=lambda pair: (str(pair[0]), str(pair[1])))


@dataclass(frozen=True, slots=True)
class _HiddenCell:
    """A cell the attacker cannot see, with the bounds its published reason reveals."""

    value: int
    lower: float
    upper: float


def _primary_cell(value: int) -> _HiddenCell:
    return _HiddenCell(value, 1, SMALL_COUNT_MAX)


def _secondary_cell(value: int) -> _HiddenCell:
    return _HiddenCell(value, SMALL_COUNT_MAX + 1, math.inf)


def _secondary_suppressions(
    children: Mapping[K, int], unallocated: int, hidden_already: Mapping[K, SuppressionReason],
) -> frozenset[K] | None:
    """The children to hide beside those hidden already, or None when no choice protects the
    group."""
    hidden = [_primary_cell(children[code]) if reason is SuppressionReason.SMALL_COUNT
              else _secondary_cell(children[code]) for code, reason in hidden_already.items()]
    if is_small_count(unallocated):
        hidden.append(_primary_cell(unallocated))
    candidates = sorted((n, code) for code, n in children.items()
                        if n > SMALL_COUNT_MAX and code not in hidden_already)
    chosen: list[K] = []
    while hidden and not _is_protected(hidden):
        if not candidates:
            return None
        pick = next(
            (c for c in candidates if _is_protected([*hidden, _secondary_cell(c[0])])),
            candidates[0],
        )
        candidates.remove(pick)
        hidden.append(_secondary_cell(pick[0]))
        chosen.append(pick[1])
    return frozenset(chosen)


def _is_protected(hidden: list[_HiddenCell]) -> bool:
    """Whether the exact total of the hidden cells reveals neither a small group nor a cell.

    The attacker's knowledge of one cell is the box of bounds intersected with the known
    total, projected on that cell: [max(lower, total - sum of others' upper), min(upper, total
    - sum of others' lower)]. A cell is revealed when that interval holds one value.
    """
    total = sum(c.value for c in hidden)
    if is_small_count(total):
        return False
    sum_lower = sum(c.lower for c in hidden)
    unbounded = sum(1 for c in hidden if math.isinf(c.upper))
    finite_upper = sum(c.upper for c in hidden if not math.isinf(c.upper))
    for cell in hidden:
        others_lower = sum_lower - cell.lower
        if math.isinf(cell.upper):
            others_upper = math.inf if unbounded > 1 else finite_upper
        else:
            others_upper = math.inf if unbounded else finite_upper - cell.upper
        lowest = max(cell.lower, total - others_upper)
        highest = min(cell.upper, total - others_lower)
        if lowest >= highest:
            return False
    return True


def _require_count(n: int, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{what} must be an int, got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"{what} must not be negative, got {n}")
