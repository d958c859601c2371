"""Largest remainder (Hamilton) to the cent, and the theme x year split of a programme pool."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.funding.apportionment import (
    InvalidAllocationInput,
    ThemeYearSplit,
    hamilton,
    split_by_theme_and_year,
)

D = Decimal
FIVE_AREAS = [21878, 9713, 4167, 3252, 1065]


def test_43_cents_over_five_areas() -> None:
    # Quotas 23.47, 10.42, 4.47, 3.49, 1.14: 41 rounded down, 2 cents to D (.49) and A (.47).
    result = hamilton(43, list(zip("ABCDE", FIVE_AREAS, strict=True)))

    assert list(result.values()) == [24, 10, 4, 4, 1]


def test_44_cents_over_five_areas_takes_a_cent_from_d() -> None:
    # Quotas 24.02, 10.66, 4.58, 3.57, 1.17: 42 rounded down, 2 cents to B (.66) and C (.58);
    # D loses the cent it had at 43 (the Alabama paradox of largest remainder).
    result = hamilton(44, list(zip("ABCDE", FIVE_AREAS, strict=True)))

    assert list(result.values()) == [24, 11, 5, 3, 1]


def test_four_hundred_million_equally_over_three_gives_the_cent_to_the_first_key() -> None:
    result = hamilton(40_000_000_000, [("C", 1), ("A", 1), ("B", 1)])

    assert result == {"A": 13_333_333_334, "B": 13_333_333_333, "C": 13_333_333_333}
    assert list(result) == ["C", "A", "B"]  # input order kept


def test_ties_go_to_the_smallest_key_whatever_the_order() -> None:
    assert hamilton(1, [("B", D("0.5")), ("A", D("0.5"))]) == {"B": 0, "A": 1}
    assert hamilton(1, [(2027, 1), (2026, 1)]) == {2027: 0, 2026: 1}


def test_zero_weights_split_nothing_and_refuse_to_split_something() -> None:
    assert hamilton(0, [("A", 0), ("B", 0)]) == {"A": 0, "B": 0}
    assert hamilton(0, []) == {}
    with pytest.raises(InvalidAllocationInput, match="all weights zero"):
        hamilton(1, [("A", 0), ("B", 0)])
    with pytest.raises(InvalidAllocationInput):
        hamilton(1, [])


@pytest.mark.parametrize(
    ("total", "weights"),
    [
        (-1, [("A", 1)]),
        (1, [("A", -1)]),
        (1, [("A", 1), ("A", 2)]),
        (1, [("A", 0.5)]),
        (1, [("A", D("NaN"))]),
        (1, [("A", True)]),
    ],
)
def test_invalid_weights_are_refused(total: int, weights: list[tuple[str, object]]) -> None:
    with pytest.raises(InvalidAllocationInput):
        hamilton(total, weights)  # type: ignore[arg-type]


weights_lists = st.dictionaries(
    st.text(alphabet="ABCDEFGH", min_size=1, max_size=3),
    st.integers(0, 10**6) | st.decimals(min_value=0, max_value=1000, places=4),
    min_size=1,
    max_size=12,
).filter(lambda weights: any(weights.values()))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), weights_lists, st.randoms(use_true_random=False))
def test_hamilton_is_exact_within_quota_and_order_free(
    total: int, weights: dict[str, int | Decimal], random: object
) -> None:
    items = list(weights.items())
    result = hamilton(total, items)

    assert sum(result.values()) == total
    weight_sum = sum(Fraction(w) for w in weights.values())
    for key, weight in weights.items():
        quota = total * Fraction(weight) / weight_sum
        assert math.floor(quota) <= result[key] <= math.ceil(quota)
    random.shuffle(items)  # type: ignore[attr-defined]
    assert hamilton(total, items) == result


# --- theme x year ------------------------------------------------------------------------


def test_split_rounds_each_cell_to_a_neighbour_of_its_exact_value() -> None:
    shares = {"onderwijs": D("0.4"), "werk": D("0.35"), "wonen": D("0.25")}
    years = {year: 1 for year in range(2025, 2040)}  # 15 equal years

    split = split_by_theme_and_year(40_000_000_000, shares, years)

    assert split.theme_totals == {
        "onderwijs": 16_000_000_000,
        "werk": 14_000_000_000,
        "wonen": 10_000_000_000,
    }
    assert set(split.year_totals.values()) == {2_666_666_666, 2_666_666_667}
    assert split.year_totals[2025] == 2_666_666_667  # the first years get the extra cents
    assert split.cents("wonen", 2025) in (666_666_666, 666_666_667)
    assert assert_margins(split, shares) == 1


def test_split_keeps_the_totals_when_no_neighbour_rounding_exists() -> None:
    shares = dict(zip("ABCDEF", [D(p) / 100 for p in (10, 10, 22, 10, 10, 38)], strict=True))

    split = split_by_theme_and_year(43, shares, {2025: 30, 2026: 13})

    assert split.theme_totals == {"A": 4, "B": 4, "C": 10, "D": 4, "E": 4, "F": 17}
    # C and F each need 2 cents above their rounded-down cells, 2025 has only 1 to give, so
    # one cell must take 2: F 2026 gets 6 for an exact 4.94.
    assert split.cells[("C", 2025)] == 7 and split.cells[("C", 2026)] == 3
    assert split.cells[("F", 2025)] == 11 and split.cells[("F", 2026)] == 6
    assert assert_margins(split, shares) == 2


def test_split_stays_within_a_cent_when_a_whole_cell_can_take_the_cent() -> None:
    shares = dict(zip("ABCDEF", [D(p) / 100 for p in (4, 10, 4, 30, 20, 32)], strict=True))

    split = split_by_theme_and_year(35, shares, {2025: 25, 2026: 10})

    # B (2.5 + 1) and D (7.5 + 3) both need the one cent 2025 has: one of them takes a cent
    # on its whole 2026 cell instead.
    assert assert_margins(split, shares) == 1


def test_split_refuses_shares_that_do_not_sum_to_one() -> None:
    with pytest.raises(InvalidAllocationInput, match="sum to exactly 1"):
        split_by_theme_and_year(100, {"A": D("0.3"), "B": D("0.3")}, {2025: 1})
    with pytest.raises(InvalidAllocationInput):
        split_by_theme_and_year(100, {"A": D("1.5"), "B": D("-0.5")}, {2025: 1})
    with pytest.raises(InvalidAllocationInput):
        split_by_theme_and_year(100, {}, {2025: 1})


def assert_margins(split: ThemeYearSplit, shares: dict[str, Decimal]) -> int:
    """Check that rows and columns add up; return the largest distance of a cell from exact."""
    for theme, total in split.theme_totals.items():
        assert sum(c for (t, _), c in split.cells.items() if t == theme) == total
    for year, total in split.year_totals.items():
        assert sum(c for (_, y), c in split.cells.items() if y == year) == total
    worst = 0
    for (theme, year), cents in split.cells.items():
        exact = Fraction(shares[theme]) * split.year_totals[year]
        assert math.floor(exact) <= cents
        worst = max(worst, math.ceil(abs(cents - exact)))
    return worst


@st.composite
def share_tables(draw: st.DrawFn) -> dict[str, Decimal]:
    cuts = sorted(draw(st.lists(st.integers(1, 9_999), max_size=6, unique=True)))
    bounds = [0, *cuts, 10_000]
    return {f"T{i}": D(high - low) / 10_000 for i, (low, high) in enumerate(pairwise(bounds))}


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**7),
    share_tables(),
    st.dictionaries(st.integers(2025, 2045), st.integers(1, 100), min_size=1, max_size=8),
)
def test_split_adds_up_by_theme_and_by_year(
    pool: int, shares: dict[str, Decimal], years: dict[int, int]
) -> None:
    split = split_by_theme_and_year(pool, shares, years)

    assert split.theme_totals == hamilton(pool, sorted(shares.items()))
    assert split.year_totals == hamilton(pool, sorted(years.items()))
    assert_margins(split, shares)


@settings(max_examples=100, deadline=None)
@given(share_tables(), st.lists(st.integers(0, 60), min_size=1, max_size=5))
def test_year_budgets_given_in_cents_are_kept(
    shares: dict[str, Decimal], budgets: list[int]
) -> None:
    years = {2025 + i: budget for i, budget in enumerate(budgets)}
    if not any(budgets):
        return

    split = split_by_theme_and_year(sum(budgets), shares, years)

    assert split.year_totals == years
    assert_margins(split, shares)
