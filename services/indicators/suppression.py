"""Secondary suppression: withholding more cells, so that no withheld cell can be worked out
from the published ones (the rules of `disclosure.py` decide the first ones).

Model of the attacker: knows every published count as if it were exact (the noise is extra
protection, never relied on here), the reason of every withheld cell, and therefore that a
`small-count` cell holds 1-4 and a `secondary` cell 1 or more (and, knowing how they are
chosen, 5 or more unless it is a relabelled small count). Each of these relations
gives them the exact signed total of some withheld cells:
  1. a published parent and the children partitioning it: the hidden children's total;
  2. a withheld parent and its children: parent minus the hidden children (a withheld
     wijk must not be rebuilt from its published buurten);
  3. two published groups sharing cells (one inside the other, or overlapping): the cells
     only in the first minus the cells only in the second.
A relation is protected when
  a. the total of its hidden cells, when they are all on one side, is not 1-4, and
  b. no hidden cell's exact value follows from the total and the bounds above.
Rule b implies that a relation never has exactly one hidden cell. Until a relation is
protected, more of its cells are withheld as `secondary`: the smallest publishable cell
(ties by code) that protects it on its own, else the smallest, and again. Zero cells are
never chosen (they add no uncertainty). When no choice protects a relation of kind 1 or 3,
its total (the larger group's, or else the other's) is withheld as `secondary` instead,
never a total of 0 (published as 0, and known anyway from its published zero parts); when
nothing is left to withhold, `small-count` cells of the relation are published as
`secondary` (which tells less: 1 or more) until it is protected. If children do not add
up to their parent, the unallocated rest is a hidden cell of its own when it is 1-4 and
assumed known otherwise. All relations are checked again until none changes.

Then an audit of all relations together: interval propagation, and where that pins
nothing, a trial of every other value of each small count within its neighbourhood (what
only a combination of relations gives, e.g. two overlapping programme areas and a wijk).
A pinned small count is published as `secondary`, or else the largest small count beside
it; when every one of them says `secondary` already, one more published cell (or total)
of a relation that pins it is withheld. Then everything is checked again.

Not covered exactly: trials look at a cell's neighbourhood only (relations of at most 16
hidden cells), and only at small counts that intervals narrowed below 1-4. There the noise
on every published total (unknown to the attacker, the same on every query) is the
protection; the attacker suite checks with an exact integer solver that no withheld 1-4
cell is pinned.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from services.indicators.cellkey import perturb
from services.indicators.disclosure import (
    SMALL_COUNT_MAX,
    DisclosedValue,
    SuppressionReason,
    is_small_count,
    require_count,
)

K = TypeVar("K", bound=Hashable)  # an area or category code (or a one-group parent key)

_PARENT: Final = object()  # the parent's key in a one-group `disclose_groups`: no code


def disclose_hierarchy(
    parent_count: int, children: Mapping[str, int], keys: Mapping[str, int], parent_key: int,
) -> tuple[DisclosedValue, dict[str, DisclosedValue]]:
    """Publish a parent and its children with primary and secondary suppression.

    The children must partition (part of) the parent: their sum may not exceed it. `keys`
    are the children's cell keys. The result keeps the order of `children`; which cells are
    withheld depends only on the codes and counts.
    """
    require_count(parent_count, "parent count")
    if sum(children.values()) > parent_count:
        raise ValueError(
            f"children add up to {sum(children.values())}, more than the parent {parent_count}"
        )
    counts: dict[object, int] = {_PARENT: parent_count}
    counts.update(children.items())
    all_keys: dict[object, int] = {_PARENT: parent_key}
    all_keys.update(keys.items())
    out = disclose_groups(counts, {_PARENT: list(children)}, all_keys)
    return out[_PARENT], {code: out[code] for code in children}


def disclose_groups(
    counts: Mapping[K, int], groups: Mapping[K, Sequence[K]], keys: Mapping[K, int],
) -> dict[K, DisclosedValue]:
    """Publish cells that belong to several groups, e.g. gemeente > wijken > buurten and
    programme areas over buurten, each group a parent and the children partitioning (part
    of) it; a child missing from `counts` counts 0. `keys` are the cell keys (missing: 0).

    Withholds as in the module doc, then perturbs every published count by its cell key.
    Each round only adds suppressions, so this ends.
    """
    for code, n in counts.items():
        require_count(n, f"count of {code}")
    hidden: dict[K, SuppressionReason] = {
        code: SuppressionReason.SMALL_COUNT for code, n in counts.items() if is_small_count(n)}
    unallocated: dict[K, int] = {}
    for parent, kids in groups.items():
        unallocated[parent] = counts[parent] - sum(counts.get(code, 0) for code in kids)
        if unallocated[parent] < 0:
            raise ValueError(f"the children of {parent} add up to more than it")
    relations_of = _Relations(groups, _sharing_pairs(groups), unallocated)
    relabelled: set[K] = set()  # small counts published as `secondary` (see the module doc)
    while True:
        touched: set[K] | None = None  # None: check every relation
        while touched is None or touched:
            before = dict(hidden)
            for cells, remainder, kids, totals in relations_of.of(hidden):
                if touched is not None and touched.isdisjoint(map(_first, cells)):
                    continue  # unchanged since it was last checked
                if not is_small_count(abs(remainder)) and hidden.keys().isdisjoint(
                        map(_first, cells)):
                    continue  # nothing hidden: nothing to protect
                _protect(cells, remainder, kids, totals, counts, hidden, relabelled)
            touched = {code for code, reason in hidden.items() if before.get(code) != reason}
        # What the relations give together (e.g. a small gemeente whose wijken and buurten
        # are all small): publish the small counts they pin as `secondary`.
        # Intervals first; the trials of single values (costlier) once intervals pin nothing.
        pinned = set(_audit(relations_of, counts, hidden, relabelled))
        if not pinned:
            break
        # Relabel each pinned small count, or else the largest small count beside it.
        chosen = {code for code in pinned if hidden[code] is SuppressionReason.SMALL_COUNT}
        relations = relations_of.of(hidden)
        for cells, _, _, _ in relations:
            codes = [c for c, _ in cells]
            if any(c in pinned and c not in chosen for c in codes):
                near = [c for c in codes if hidden.get(c) is SuppressionReason.SMALL_COUNT]
                if near:
                    chosen.add(max(near, key=lambda c: (counts[c], str(c))))
        for code in chosen:
            hidden[code] = SuppressionReason.SECONDARY
            relabelled.add(code)
        if not chosen:
            # Every small count beside them says `secondary` already (e.g. a small gemeente
            # whose wijken are small too, under a published national total): withhold one more
            # published cell or total of a relation that pins each, and check again.
            extra = _widening(relations, pinned, counts, hidden)
            if not extra:
                break
            for code in extra:
                hidden[code] = SuppressionReason.SECONDARY
    out: dict[K, DisclosedValue] = {}
    for code, n in counts.items():
        reason = hidden.get(code)
        out[code] = (DisclosedValue.withheld(reason) if reason is not None
                     else DisclosedValue.published(perturb(n, keys.get(code, 0))))
    return out


_Relation = tuple[list[tuple[K, int]], int, Sequence[K], Sequence[K]]


class _Relations(Generic[K]):
    """Every relation an attacker can form (see the module doc): which ones depends on which
    totals are withheld, their cells and remainders only on the groups, so those are made
    once per `disclose_groups` (the relations are listed again at every check)."""

    def __init__(self, groups: Mapping[K, Sequence[K]],
                 shared: list[tuple[K, K, list[K], list[K]]],
                 unallocated: Mapping[K, int]) -> None:
        self._parents = [(parent, groups[parent],
                          [(parent, 1), *((code, -1) for code in groups[parent])],
                          [(code, 1) for code in groups[parent]], unallocated[parent])
                         for parent in sorted(groups, key=str)]
        self._shared = []
        for first, second, only_first, only_second in shared:
            outer, inner = sorted((first, second), key=lambda g: (len(groups[g]), str(g)),
                                  reverse=True)
            self._shared.append((first, second, [
                *((code, 1) for code in only_first), *((code, -1) for code in only_second)],
                unallocated[first] - unallocated[second], [*only_first, *only_second],
                (outer, inner)))

    def of(self, hidden: Mapping[K, SuppressionReason]) -> list[_Relation[K]]:
        """(cells with signs, known remainder, cells that may be withheld, totals to withhold
        instead, by preference) of every relation, with the totals in `hidden` withheld."""
        out: list[_Relation[K]] = []
        for parent, kids, rebuilt, children, rest in self._parents:
            if parent in hidden:  # 2: the parent is rebuilt from its children
                out.append((rebuilt, -rest, kids, ()))
            else:  # 1: the hidden children's total is the parent minus the published ones
                out.append((children, rest, kids, (parent,)))
        for first, second, cells, remainder, candidates, totals in self._shared:
            if first in hidden or second in hidden:
                continue  # no exact difference
            out.append((cells, remainder, candidates, totals))
        return out


def _widening(relations: Sequence[_Relation[K]], pinned: set[K], counts: Mapping[K, int],
              hidden: Mapping[K, SuppressionReason]) -> set[K]:
    """Published cells to withhold, one for each pinned small count: in the first relation
    holding it that has one, its smallest publishable cell (ties by code), else a total to
    withhold instead."""
    extra: set[K] = set()
    for code in sorted(pinned, key=str):
        for cells, _, candidates, totals in relations:
            if code not in map(_first, cells):
                continue
            options = sorted((counts.get(c, 0), str(c), c) for c in set(candidates)
                             if c not in hidden and c not in extra
                             and counts.get(c, 0) > SMALL_COUNT_MAX)
            total = _withholdable_total([t for t in totals if t not in extra], counts, hidden)
            pick = options[0][2] if options else total
            if pick is not None:
                extra.add(pick)
                break
    return extra


def _audit(relations_of: _Relations[K], counts: Mapping[K, int],
           hidden: Mapping[K, SuppressionReason], relabelled: set[K]) -> list[K]:
    """Small counts that all relations together pin: interval propagation to a fixpoint,
    then, when that pins none, for each small count still open each other value it could
    take is tried and propagated again within its neighbourhood (singleton consistency).
    Trials find what only a combination of relations gives, e.g. a published programme area
    of small buurten beside a small programme area and a small wijk (the sum of two relations
    bounds a cell by a half), which intervals alone miss.
    """
    hidden_codes = hidden.keys()
    relations = [[(code, sign) for code, sign in cells if code in hidden]
                 for cells, _, _, _ in relations_of.of(hidden)
                 if not hidden_codes.isdisjoint(map(_first, cells))]
    bounds = {code: [*_BOUNDS[reason, code in relabelled]] for code, reason in hidden.items()}
    holding: dict[K, list[int]] = {}
    for i, cells in enumerate(relations):
        for code, _ in cells:
            holding.setdefault(code, []).append(i)
    propagation = _Propagation(relations, counts, bounds, holding)
    initial = {code: tuple(b) for code, b in bounds.items()}
    # Propagation converges long before the budget; it bounds the cost.
    propagation.run(list(range(len(relations))), 50 * len(relations))
    pinned = [code for code, (lo, hi) in bounds.items()
              if lo >= hi and is_small_count(counts.get(code, 0))]
    for code in sorted(holding, key=str) if not pinned else ():
        n = counts.get(code, 0)
        lo, hi = bounds[code]
        if not is_small_count(n) or lo >= hi:
            continue
        if (lo, hi) == initial[code]:
            continue  # intervals left it as its reason says: not tried (cost), see above
        if hi - lo > _TRIAL_WIDTH:
            continue  # e.g. a relabelled small count with no upper bound
        # The true value is always possible; pinned when no other value is.
        others = [v for v in range(int(lo), int(hi) + 1) if v != n]
        if not any(propagation.possible(code, v) for v in others):
            pinned.append(code)
    return pinned


# A trial value of a cell looks at the cell's neighbourhood only: at most this many relations
# visited, each of at most this many hidden cells (a long relation has slack to spare).
_TRIAL_BUDGET: Final = 60
_TRIAL_RELATION_CELLS: Final = 16
# Values tried per small count: its bounds after propagation must be this narrow.
_TRIAL_WIDTH: Final = 12


class _Propagation(Generic[K]):
    """Bounds of hidden cells tightened by relations of known signed totals."""

    def __init__(self, relations: list[list[tuple[K, int]]], counts: Mapping[K, int],
                 bounds: dict[K, list[float]], holding: Mapping[K, list[int]]) -> None:
        self.relations, self.bounds, self.holding = relations, bounds, holding
        self.totals = [sum(sign * counts.get(code, 0) for code, sign in cells)
                       for cells in relations]

    def possible(self, code: K, value: int) -> bool:
        """Whether `code` may hold `value` as far as propagation tells (undone afterwards)."""
        trail: list[tuple[K, list[float]]] = [(code, self.bounds[code])]
        self.bounds[code] = [value, value]
        try:
            return self.run(list(self.holding[code]), _TRIAL_BUDGET, trail)
        finally:
            for changed, old in reversed(trail):
                self.bounds[changed] = old

    def run(self, queue: list[int], budget: int,
            trail: list[tuple[K, list[float]]] | None = None) -> bool:
        """Propagate from the relations in `queue`; False when some cell has no value left."""
        bounds, queued = self.bounds, set(queue)
        while queue and budget:
            budget -= 1
            i = queue.pop()
            queued.discard(i)
            cells, total = self.relations[i], self.totals[i]
            if trail is not None and len(cells) > _TRIAL_RELATION_CELLS:
                continue
            lows = [sign * bounds[c][0] if sign > 0 else -bounds[c][1] for c, sign in cells]
            highs = [sign * bounds[c][1] if sign > 0 else -bounds[c][0] for c, sign in cells]
            low_sum, low_inf = _finite_sum(lows)
            high_sum, high_inf = _finite_sum(highs)
            for (code, sign), lo, hi in zip(cells, lows, highs, strict=True):
                lo_inf, hi_inf = lo in _INFINITE, hi in _INFINITE
                others_low = -math.inf if low_inf - lo_inf else low_sum - (0.0 if lo_inf else lo)
                others_high = math.inf if high_inf - hi_inf else high_sum - (0.0 if hi_inf else hi)
                low, high = total - others_high, total - others_low  # of sign * value
                new = [low, high] if sign > 0 else [-high, -low]
                old = bounds[code]
                tightened = [max(old[0], new[0]), min(old[1], new[1])]
                if tightened != old:
                    if trail is not None:
                        trail.append((code, old))
                    bounds[code] = tightened
                    if tightened[0] > tightened[1]:
                        return False
                    for j in self.holding[code]:
                        if j not in queued:
                            queued.add(j)
                            queue.append(j)
        return True


def _protect(cells: Sequence[tuple[K, int]], remainder: int, candidates: Sequence[K],
             totals: Sequence[K], counts: Mapping[K, int],
             hidden: dict[K, SuppressionReason], relabelled: set[K]) -> bool:
    """Protect the hidden cells of one relation (cells with their signs, and a signed
    remainder that is not in any cell); returns whether a suppression was added."""
    current = {code: _hidden_cell(counts.get(code, 0), reason, sign, code in relabelled)
               for code, sign in cells if (reason := hidden.get(code)) is not None}
    rest = ([_HiddenCell(abs(remainder), 1, SMALL_COUNT_MAX, 1 if remainder > 0 else -1)]
            if is_small_count(abs(remainder)) else [])
    if (not current and not rest) or _is_protected([*current.values(), *rest]):
        return False
    signs = dict(cells)
    options = sorted((counts.get(code, 0), str(code), code) for code in set(candidates)
                     if code not in hidden and counts.get(code, 0) > SMALL_COUNT_MAX)
    picked: list[K] = []
    while not _is_protected([*current.values(), *rest]):
        if not options:
            fallback = _withholdable_total(totals, counts, hidden)
            if fallback is not None:
                # Withhold the total instead; the cells keep only their own suppression.
                hidden[fallback] = SuppressionReason.SECONDARY
                return True
            break
        pick = next((o for o in options if _is_protected(
            [*current.values(), *rest,
             _hidden_cell(o[0], SuppressionReason.SECONDARY, signs[o[2]])])), options[0])
        options.remove(pick)
        picked.append(pick[2])
        current[pick[2]] = _hidden_cell(pick[0], SuppressionReason.SECONDARY, signs[pick[2]])
    for code in picked:
        hidden[code] = SuppressionReason.SECONDARY
    # Nothing left to withhold (e.g. a small wijk of four buurten of 1 each): the bounds that
    # `small-count` reveals pin the cells, so some are published as `secondary` instead.
    small = sorted((c.value, str(code), code) for code, c in current.items()
                   if hidden[code] is SuppressionReason.SMALL_COUNT)
    while small and not _is_protected([*current.values(), *rest]):
        _, _, code = small.pop(0)
        hidden[code] = SuppressionReason.SECONDARY
        relabelled.add(code)
        current[code] = _HiddenCell(current[code].value, 1, math.inf, current[code].sign)
        picked.append(code)
    return bool(picked)


def _withholdable_total(totals: Sequence[K], counts: Mapping[K, int],
                        hidden: Mapping[K, SuppressionReason]) -> K | None:
    """The first total that withholding hides anything: not withheld yet, and not 0. A total
    of 0 is published as 0 (its cells are all 0 and published, so it is known anyway); hiding
    it would protect nothing and mislabel a 0 as `secondary` (1 or more)."""
    return next((t for t in totals if t not in hidden and counts.get(t, 0) > 0), None)


def _sharing_pairs(groups: Mapping[K, Sequence[K]]
                   ) -> list[tuple[K, K, list[K], list[K]]]:
    """(first, second, cells only in first, cells only in second) for every two groups that
    share a cell and are not the same set (relation 3)."""
    holding: dict[K, list[K]] = {}
    for parent, kids in groups.items():
        for code in set(kids):
            holding.setdefault(code, []).append(parent)
    cells = {parent: set(kids) for parent, kids in groups.items()}
    found: set[tuple[str, str]] = set()
    pairs = []
    for code in holding:
        for first in holding[code]:
            for second in holding[code]:
                pair = (str(first), str(second))
                if pair[0] >= pair[1] or pair in found or cells[first] == cells[second]:
                    continue
                found.add(pair)
                pairs.append((first, second,
                              [c for c in groups[first] if c not in cells[second]],
                              [c for c in groups[second] if c not in cells[first]]))
    return sorted(pairs, key=lambda p: (str(p[0]), str(p[1])))


@dataclass(frozen=True, slots=True)
class _HiddenCell:
    """A cell the attacker cannot see, the bounds its published reason reveals, and its sign
    in the relation."""

    value: int
    lower: float
    upper: float
    sign: int


def _hidden_cell(value: int, reason: SuppressionReason, sign: int,
                 relabelled: bool = False) -> _HiddenCell:
    """A hidden cell with the bounds its reason reveals (`_bounds`)."""
    return _HiddenCell(value, *_bounds(reason, relabelled), sign)


def _bounds(reason: SuppressionReason, relabelled: bool) -> tuple[float, float]:
    """The bounds an attacker who knows how cells are chosen can give a hidden cell: a
    `secondary` cell chosen to protect others is publishable (5 or more) unless it is a
    relabelled small count."""
    if reason is SuppressionReason.SMALL_COUNT:
        return 1, SMALL_COUNT_MAX
    return 1 if relabelled else SMALL_COUNT_MAX + 1, math.inf


def _is_protected(hidden: list[_HiddenCell]) -> bool:
    """Whether the known signed total of the hidden cells reveals neither a small group nor a
    cell.

    Each cell contributes sign * value, within [lo, hi] by its bounds. The attacker's knowledge
    of one cell's contribution is that range intersected with the total minus the others'
    range; the cell is revealed when that leaves one value.
    """
    total = sum(c.sign * c.value for c in hidden)
    if len({c.sign for c in hidden}) == 1 and is_small_count(abs(total)):
        return False
    lows = [c.lower if c.sign > 0 else -c.upper for c in hidden]
    highs = [c.upper if c.sign > 0 else -c.lower for c in hidden]
    low_sum, low_inf = _finite_sum(lows)
    high_sum, high_inf = _finite_sum(highs)
    for lo, hi in zip(lows, highs, strict=True):
        others_low = -math.inf if low_inf - (lo in _INFINITE) else low_sum - _finite(lo)
        others_high = math.inf if high_inf - (hi in _INFINITE) else high_sum - _finite(hi)
        if max(lo, total - others_high) >= min(hi, total - others_low):
            return False
    return True


def _finite(value: float) -> float:
    return 0.0 if value in _INFINITE else value


def _finite_sum(values: list[float]) -> tuple[float, int]:
    """(sum of the finite values, how many are infinite), added in order."""
    total: float = 0
    infinite = 0
    for v in values:
        if v in _INFINITE:
            infinite += 1
        else:
            total += v
    return total, infinite


_INFINITE: Final = frozenset((math.inf, -math.inf))
_BOUNDS: Final = {(reason, relabelled): _bounds(reason, relabelled)
                  for reason in SuppressionReason for relabelled in (False, True)}
_first = operator.itemgetter(0)
