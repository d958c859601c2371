"""Exact largest-remainder (Hamilton) apportionment of whole cents, and the theme x year split.

Everything here is integer arithmetic on exact values: Decimal weights become integers over
one common denominator, so quotas are fractions with one denominator and remainders compare
exactly. No floats, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, Inexact, InvalidOperation
from functools import reduce
from math import lcm
from typing import TypeVar

# Subtraction and multiplication of finite decimals are exact at this precision; the
# Inexact trap turns any silent rounding into a loud bug instead of a wrong cent.
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation, Inexact])

Key = TypeVar("Key", str, int)


class InvalidAllocationInput(ValueError):
    """The input cannot describe an allocation (negative pool, floor above cap, ...)."""


def as_decimal(value: Decimal | int, what: str, of: object = None) -> Decimal:
    """`value` as a finite Decimal; a float, bool or NaN/Infinity is refused."""
    if type(value) is int:  # the common cases first, kept cheap for 14,000 areas
        return Decimal(value)
    if type(value) is Decimal and value.is_finite():
        return value
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite():
            return number
    owner = "" if of is None else f" of {of!r}"
    raise InvalidAllocationInput(f"{what}{owner} must be a finite int or Decimal, not {value!r}")


def common_denominator(ratios: Sequence[tuple[int, int]]) -> tuple[list[int], int]:
    """Numerators n_i and one denominator d with ratios[i] == n_i / d exactly."""
    denominator = lcm(*{q for _, q in ratios})
    factors = {q: denominator // q for _, q in ratios}
    return [p * factors[q] for p, q in ratios], denominator


def scaled_integers(values: Sequence[Decimal]) -> tuple[list[int], int]:
    """Integers n_i and one denominator d with values[i] == n_i / d exactly."""
    return common_denominator([value.as_integer_ratio() for value in values])


def largest_remainder(
    numerators: Sequence[int], denominator: int, keys: Sequence[Key]
) -> tuple[list[int], list[bool]]:
    """Round exact quotas numerators[i] / denominator to integers keeping their (integer) sum.

    Each quota is rounded down; the cents that leaves are given one each to the largest
    remainders, ties to the smallest key. Returns the rounded values and which got a cent.
    """
    floors: list[int] = []
    remainders: list[int] = []
    for numerator in numerators:
        quotient, remainder = divmod(numerator, denominator)
        floors.append(quotient)
        remainders.append(remainder)
    left, rest = divmod(sum(numerators), denominator)
    assert rest == 0, "quotas must sum to a whole number of cents"
    left -= sum(floors)
    bumped = [False] * len(floors)
    if left:
        order = sorted(range(len(floors)), key=lambda i: (-remainders[i], keys[i]))
        for i in order[:left]:
            floors[i] += 1
            bumped[i] = True
    return floors, bumped


def hamilton(total_cents: int, weights: Sequence[tuple[Key, Decimal | int]]) -> dict[Key, int]:
    """Split `total_cents` in proportion to `weights` by largest remainder, ties by key ascending.

    The result sums to `total_cents` exactly, and every part is its exact quota rounded down
    or up. Keys are returned in input order. All-zero (or no) weights with a positive total
    raise `InvalidAllocationInput`: an equal split would hide missing data (an indicator that
    is absent everywhere), so the caller has to ask for it explicitly with equal weights.
    """
    if total_cents < 0:
        raise InvalidAllocationInput(f"total must not be negative, got {total_cents}")
    keys = [key for key, _ in weights]
    if len(set(keys)) != len(keys):
        raise InvalidAllocationInput("keys must be unique")
    values = [as_decimal(weight, "weight", key) for key, weight in weights]
    if any(value < 0 for value in values):
        raise InvalidAllocationInput("weights must not be negative")
    integers, _ = scaled_integers(values)
    weight_sum = sum(integers)
    if weight_sum == 0:
        if total_cents:
            raise InvalidAllocationInput(f"cannot split {total_cents} cents: all weights zero")
        return dict.fromkeys(keys, 0)
    rounded, _ = largest_remainder([total_cents * n for n in integers], weight_sum, keys)
    return dict(zip(keys, rounded, strict=True))


@dataclass(frozen=True, slots=True)
class ThemeYearSplit:
    """A programme pool in cents per theme and year; rows and columns add up exactly."""

    theme_totals: Mapping[str, int]
    year_totals: Mapping[int, int]
    cells: Mapping[tuple[str, int], int]

    def cents(self, theme: str, year: int) -> int:
        """The budget of one theme in one year: the pool to allocate over areas."""
        return self.cells[(theme, year)]


def split_by_theme_and_year(
    pool_cents: int,
    theme_shares: Mapping[str, Decimal],
    year_weights: Mapping[int, Decimal | int],
) -> ThemeYearSplit:
    """Split a programme pool over themes (shares summing to exactly 1) and years.

    Year totals are `hamilton(pool, year_weights)` (ties by year; pass year budgets in cents
    as the weights to fix them exactly). Theme totals are `hamilton(pool, theme_shares)`
    (ties by theme code), so a theme receives its share of the whole programme rounded once,
    not a rounding error per year. The cells are then a controlled rounding of
    share x year total: each cell is its exact value rounded down or up, with every row adding
    up to its theme total and every column to its year total. In rare tables the theme totals
    rule that out; then a few cells move a cent further from exact: within one cent where
    possible (shares 4/10/4/30/20/32 % of 25 + 10 cents), more where the totals force it
    (10/10/22/10/10/38 % of 30 + 13 cents: two themes each need two cents more than their
    rounded-down cells, and the 2025 column has only one to give). The theme and year totals
    always hold (see `_round_table`).
    """
    if not theme_shares:
        raise InvalidAllocationInput("at least one theme is needed")
    themes = sorted(theme_shares)
    shares = [as_decimal(theme_shares[theme], "share", theme) for theme in themes]
    if any(share < 0 for share in shares):
        raise InvalidAllocationInput("theme shares must not be negative")
    share_units, unit = scaled_integers(shares)  # shares == share_units / unit exactly
    if sum(share_units) != unit:
        share_sum = reduce(EXACT.add, shares, Decimal(0))
        raise InvalidAllocationInput(f"theme shares must sum to exactly 1, got {share_sum}")
    year_totals = hamilton(pool_cents, sorted(year_weights.items()))
    theme_totals = hamilton(pool_cents, list(zip(themes, shares, strict=True)))
    years = list(year_totals)
    floors: list[list[int]] = []
    fractions: list[list[int]] = []
    for units in share_units:
        cells = [divmod(units * year_totals[year], unit) for year in years]
        floors.append([floor for floor, _ in cells])
        fractions.append([fraction for _, fraction in cells])
    row_need = [theme_totals[t] - sum(row) for t, row in zip(themes, floors, strict=True)]
    column_need = [
        year_totals[year] - sum(row[y] for row in floors) for y, year in enumerate(years)
    ]
    ups = _round_table(fractions, row_need, column_need)
    return ThemeYearSplit(
        theme_totals={theme: theme_totals[theme] for theme in themes},
        year_totals=year_totals,
        cells={
            (theme, year): floors[t][y] + ups[t][y]
            for t, theme in enumerate(themes)
            for y, year in enumerate(years)
        },
    )


def _round_table(
    fractions: list[list[int]], row_need: list[int], column_need: list[int]
) -> list[list[int]]:
    """Extra cents per cell so rows get `row_need` and columns `column_need` (equal sums).

    First greedily by largest fraction (ties by row, then column: theme code, then year),
    then by augmenting paths, both only on cells with a fraction and at most one cent each.
    That is a bipartite b-matching, so it finds a rounding whenever one exists. If none
    exists, any cell may take a cent (one cent from exact even where the exact value is
    whole), then two, and so on: the smallest per-cell excess that lets rows and columns add up.
    """
    rows, columns = len(row_need), len(column_need)
    ups = [[0] * columns for _ in range(rows)]
    row_left, column_left = list(row_need), list(column_need)
    cells = sorted(
        ((t, y) for t in range(rows) for y in range(columns) if fractions[t][y]),
        key=lambda cell: -fractions[cell[0]][cell[1]],
    )
    for t, y in cells:
        if row_left[t] and column_left[y]:
            ups[t][y] = 1
            row_left[t] -= 1
            column_left[y] -= 1

    def rounds_up(t: int, y: int) -> bool:
        return fractions[t][y] > 0 and ups[t][y] == 0

    while _augment(ups, row_left, column_left, rounds_up):
        pass
    # No neighbour rounding: allow every cell `limit` extra cents, the least limit that works.
    limit = 0

    def below_limit(t: int, y: int) -> bool:
        return ups[t][y] < limit

    while any(row_left):
        limit += 1
        while _augment(ups, row_left, column_left, below_limit):
            pass
    assert not any(row_left) and not any(column_left)
    return ups


def _augment(
    ups: list[list[int]],
    row_left: list[int],
    column_left: list[int],
    may_add: Callable[[int, int], bool],
) -> bool:
    """Move one cent along a shortest path from a short row to a short column, if any."""
    came_from: dict[tuple[str, int], tuple[str, int] | None] = {}
    queue: deque[tuple[str, int]] = deque()
    for t, left in enumerate(row_left):
        if left > 0:
            came_from[("row", t)] = None
            queue.append(("row", t))
    while queue:
        side, index = queue.popleft()
        if side == "row":
            for y in range(len(column_left)):
                if ("column", y) not in came_from and may_add(index, y):
                    came_from[("column", y)] = ("row", index)
                    if column_left[y] > 0:
                        column_left[y] -= 1
                        row_left[_apply_path(ups, came_from, ("column", y))] -= 1
                        return True
                    queue.append(("column", y))
        else:
            for t in range(len(row_left)):
                if ("row", t) not in came_from and ups[t][index] > 0:
                    came_from[("row", t)] = ("column", index)
                    queue.append(("row", t))
    return False


def _apply_path(
    ups: list[list[int]],
    came_from: dict[tuple[str, int], tuple[str, int] | None],
    node: tuple[str, int],
) -> int:
    """Add the cent along the path ending at `node`; return the row the path starts at."""
    previous = came_from[node]
    while previous is not None:
        if node[0] == "column":
            ups[previous[1]][node[1]] += 1
        else:
            ups[node[1]][previous[1]] -= 1
        node, previous = previous, came_from[previous]
    return node[1]


def round_rows(
    numerators: Sequence[Sequence[int]],
    denominator: int,
    row_totals: Sequence[int],
    column_totals: Sequence[int],
) -> tuple[list[list[int]], list[list[bool]]]:
    """Round a table of exact values numerators[i][t] / denominator to whole cents such that
    row i adds up to row_totals[i] and column t to column_totals[t] (equal grand totals).

    Made for many rows (areas) and few columns (themes). Each row first takes its largest
    remainders (ties to the first column), as `largest_remainder` would; the columns that then
    hold too many cents pass them on to those that hold too few, one row at a time, each time
    along the path through the columns that costs the least remainder (ties to the first row):
    a min-cost flow over the columns. A row moves at most once, so every cell stays its exact
    value rounded down or up. In the rare table where that cannot reach the column totals, the
    whole table is rounded as `split_by_theme_and_year` rounds its cells (`_round_table`),
    which may put a cell a cent further from exact. Returns the cents and which cells were
    rounded up.
    """
    columns = len(column_totals)
    if len(row_totals) != len(numerators) or any(len(row) != columns for row in numerators):
        raise InvalidAllocationInput("the table must have a total per row and per column")
    if sum(row_totals) != sum(column_totals):
        raise InvalidAllocationInput("row and column totals must add up to the same amount")
    floors: list[list[int]] = []
    remainders: list[list[int]] = []
    ups: list[list[int]] = []
    column_left = list(column_totals)
    order = range(columns)
    regular = True
    for i, row in enumerate(numerators):
        pairs = [divmod(n, denominator) for n in row]
        row_floors = [q for q, _ in pairs]
        row_remainders = [r for _, r in pairs]
        need = row_totals[i] - sum(row_floors)
        row_ups = [0] * columns
        if need:
            # reverse=True keeps equal remainders in column order (the sort stays stable)
            chosen = sorted(order, key=row_remainders.__getitem__, reverse=True)[:need]
            if need < 0 or len(chosen) < need or not row_remainders[chosen[-1]]:
                regular = False
            for t in chosen:
                row_ups[t] = 1
        floors.append(row_floors)
        remainders.append(row_remainders)
        ups.append(row_ups)
        for t in order:
            column_left[t] -= row_floors[t] + row_ups[t]
    if not regular or not _repair_columns(remainders, ups, column_left):
        row_need = [total - sum(row) for total, row in zip(row_totals, floors, strict=True)]
        column_need = [
            total - sum(row[t] for row in floors) for t, total in enumerate(column_totals)
        ]
        ups = _round_table(remainders, row_need, column_need)
    cents = [
        [f + u for f, u in zip(row_floors, row_ups, strict=True)]
        for row_floors, row_ups in zip(floors, ups, strict=True)
    ]
    return cents, [[u > 0 for u in row] for row in ups]


def _repair_columns(
    remainders: list[list[int]], ups: list[list[int]], column_left: list[int]
) -> bool:
    """Move rounded-up cents between columns until every column_left is 0; False if stuck."""
    columns = len(column_left)
    moved: set[int] = set()
    candidates: dict[tuple[int, int], list[tuple[int, int]]] = {}
    position: dict[tuple[int, int], int] = {}

    def best(a: int, b: int) -> tuple[int, int] | None:
        """The cheapest unmoved row that can pass its cent in column a to column b."""
        if (a, b) not in candidates:
            candidates[(a, b)] = sorted(
                (row[a] - row[b], i)
                for i, row in enumerate(remainders)
                if ups[i][a] and not ups[i][b] and row[b] and i not in moved
            )
            position[(a, b)] = 0
        listed, at = candidates[(a, b)], position[(a, b)]
        while at < len(listed) and listed[at][1] in moved:
            at += 1
        position[(a, b)] = at
        return listed[at] if at < len(listed) else None

    while any(column_left):
        # Bellman-Ford from every column with too many cents: few columns, costs >= 0.
        distance: list[int | None] = [0 if left < 0 else None for left in column_left]
        via: list[tuple[int, int] | None] = [None] * columns
        for _ in range(columns):
            changed = False
            for a in range(columns):
                start = distance[a]
                if start is None:
                    continue
                for b in range(columns):
                    if b == a or column_left[b] < 0:
                        continue
                    edge = best(a, b)
                    if edge is None:
                        continue
                    current = distance[b]
                    if current is None or start + edge[0] < current:
                        distance[b] = start + edge[0]
                        via[b] = (a, edge[1])
                        changed = True
            if not changed:
                break
        reached = [
            (cost, b) for b, cost in enumerate(distance) if cost is not None and column_left[b] > 0
        ]
        if not reached:
            return False
        _, target = min(reached)
        column_left[target] -= 1
        node = target
        while (step := via[node]) is not None:
            source, i = step
            ups[i][source], ups[i][node] = 0, 1
            moved.add(i)
            node = source
        column_left[node] += 1
    return True
