"""What the golden lines do not cover: the exact amounts and theme splits built on them, and
the column-wise validation, each against the engine as it was before it was sped up.

Both digests were computed with the engine of a1b2cc0 (one loop per area, no `clamping`
module): every programme's exact amounts, denominator and inhabitants and its split over two
themes (GOLDEN_EXACT), and for flawed programmes the error and its text, or the lines
(GOLDEN_VALIDATION), must stay those to the character. Both were taken again once, when exact
amounts came to be reported rounded down (see test_allocation_golden).
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from services.funding import allocation_input, clamping
from services.funding.allocation import (
    AreaInput,
    InfeasibleAllocation,
    InvalidAllocationInput,
    NeedRule,
    allocate,
    hamilton,
    split_over_themes,
)
from services.funding.tests.test_allocation_golden import programmes

GOLDEN_EXACT = "7c5dfde051b635c5bca0b92594be7f93f265b6fcbb0c29479e9b7b973af4bb80"
GOLDEN_VALIDATION = "eb01a419b8470eaae8dea4e8ffd4c9b5f5ba083d3e8933fabdfd7e1d361b5fca"
SHARES = {"schuld": Decimal("0.3"), "zorg": Decimal("0.7")}


def exact_outcome(pool: int, areas: list[AreaInput], rule: NeedRule) -> str:
    try:
        year = allocate(pool, areas, rule)
    except InfeasibleAllocation as error:
        return f"infeasible {error.constraint} {error.cents}"
    budgets = hamilton(pool, list(SHARES.items()))
    themes = split_over_themes(year, SHARES, budgets)
    return repr((
        year.exact, year.denominator, year.inhabitants,
        [(theme, split.factor, split.exact, split.denominator,
          [tuple(line) for line in split.lines]) for theme, split in sorted(themes.items())],
    ))


def test_exact_amounts_and_theme_splits_are_those_of_the_previous_engine() -> None:
    hashed = hashlib.sha256()
    for pool, areas, rule in programmes(120, seed=22):
        hashed.update(exact_outcome(pool, areas, rule).encode())
    assert hashed.hexdigest() == GOLDEN_EXACT


def flawed_programmes(count: int = 400, seed: int = 23) -> list[tuple[int, list[AreaInput]]]:
    """Random programmes, half of them with one or more flaws (in any area, any field)."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    flaws: list[tuple[str, object]] = [
        ("base", -1), ("base", Decimal("-0.5")), ("base", 2.5), ("base", True),
        ("base", Decimal("NaN")), ("need", Decimal("Infinity")), ("need", 0.5),
        ("need", False), ("fixed_cents", -3), ("floor_cents", -1), ("cap_cents", -1),
        ("inhabitants", -7), ("floor_cents", 10**6), ("code", "duplicate"),
    ]
    result = []
    for _ in range(count):
        pool = rng.choice([0, 10_000, 10**6])
        areas: list[AreaInput] = []
        for i in range(rng.randint(1, 12)):
            floor = rng.choice([0, 100])
            fields: dict[str, object] = {
                "code": f"B{rng.randint(0, 30):03d}-{i}",
                "base": rng.choice([rng.randint(0, 900), Decimal(rng.randint(0, 900)) / 10]),
                "need": rng.choice([rng.randint(0, 3), Decimal(rng.randint(0, 3000)) / 1000]),
                "inhabitants": rng.choice([None, 0, rng.randint(1, 900)]),
                "fixed_cents": rng.choice([0, 50]),
                "floor_cents": floor,
                "cap_cents": rng.choice([None, floor + 5_000]),
            }
            while rng.random() < 0.06:
                field, value = rng.choice(flaws)
                fields[field] = areas[0].code if field == "code" and areas else value
            areas.append(AreaInput(**fields))  # type: ignore[arg-type]
        result.append((pool, areas))
    return result


def validation_outcome(pool: int, areas: list[AreaInput]) -> str:
    try:
        allocation = allocate(pool, areas, NeedRule(threshold=Decimal("0.5")))
    except (InvalidAllocationInput, InfeasibleAllocation) as error:
        return f"{type(error).__name__}: {error}"
    return repr([tuple(line) for line in allocation.lines])


def test_flawed_input_is_judged_as_the_previous_engine_judged_it() -> None:
    outcomes = [validation_outcome(*programme) for programme in flawed_programmes()]
    assert sum(outcome.startswith("InvalidAllocationInput") for outcome in outcomes) > 80
    assert hashlib.sha256(repr(outcomes).encode()).hexdigest() == GOLDEN_VALIDATION


def test_the_column_checks_name_the_area_the_area_by_area_check_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`_validate_each` is the previous engine's loop: it decides which area is at fault
    first; the column-wise checks must only ever hand it the input, never judge it."""
    fast = [validation_outcome(*programme) for programme in flawed_programmes()]
    monkeypatch.setattr(allocation_input, "_usual", lambda columns: False)
    slow = [validation_outcome(*programme) for programme in flawed_programmes()]
    assert fast == slow


def test_breakpoints_are_ordered_exactly_where_float_keys_tie() -> None:
    """The fast path sorts breakpoints p / q by float key, then by the exact fraction within
    runs of equal keys: together a stable sort by the fraction."""
    rng = random.Random(24)  # noqa: S311 (test data)
    for _ in range(300):
        count = rng.randint(1, 60)
        big = 2**52 + rng.randint(0, 50)  # neighbours whose ratios round to one float
        pairs = [rng.choice([(rng.randint(1, 4), rng.randint(1, 4)),
                             (big + rng.randint(0, 3), big + rng.randint(0, 3)),
                             (3 * big + rng.randint(0, 3), 3 * big)]) for _ in range(count)]
        p = np.array([pair[0] for pair in pairs], dtype=np.int64)
        q = np.array([pair[1] for pair in pairs], dtype=np.int64)
        order = np.argsort(p.astype(np.float64) / q.astype(np.float64), kind="stable")
        exact = sorted(range(count), key=lambda j: Fraction(*pairs[j]))
        assert clamping._order_exactly(order, p, q).tolist() == exact
