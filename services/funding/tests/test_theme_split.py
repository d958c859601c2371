"""A theme x year cell is the year's allocation split over themes: never infeasible on its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.funding.compute import compute_pool
from services.funding.programmes.schemas import Pool
from services.funding.world import AreaFacts, IndicatorFacts, World


def two_buurten() -> World:
    areas = {code: AreaFacts(code=code, level="buurt", name=code, parent_code=None,
                             programme_area_ids=(), bases={"inhabitants": 100})
             for code in ("BU00000001", "BU00000002")}
    scores = {"BU00000001": Decimal("2"), "BU00000002": Decimal("0")}  # the second: no need
    indicators = {code: IndicatorFacts(score, 9, {}, "vi-1.0.0", "p")
                  for code, score in scores.items()}
    return World(areas=areas, programme_areas={}, indicators=indicators)


def issue_pool(**formula: Any) -> Pool:
    return Pool.model_validate({
        "name": "p", "annualAmountCents": 1_001,
        "eligibility": {"kind": "other-vulnerable", "minCompositeDecile": 8},
        "themes": [{"code": "a", "share": "0.5"}, {"code": "b", "share": "0.5"}],
        "allocationLevel": "buurt",
        "formula": {"base": "inhabitants", "need": {"indicator": "composite-index"},
                    "fixedCents": 1, "capCents": 1_000, **formula},
    })


def test_a_feasible_year_is_feasible_in_every_theme_cell() -> None:
    p = issue_pool()
    lines = compute_pool(p, p.formula, range(2027, 2029), two_buurten()).lines
    for year in (2027, 2028):
        year_lines = [line for line in lines if line.year == year]
        by_area: dict[str, int] = {}
        for line in year_lines:
            by_area[line.area_code] = by_area.get(line.area_code, 0) + line.cents
        assert by_area == {"BU00000001": 1_000, "BU00000002": 1}
        by_theme = {t: sum(line.cents for line in year_lines if line.theme == t)
                    for t in ("a", "b")}
        assert sorted(by_theme.values()) == [500, 501]


# --- properties over random programmes ------------------------------------------------------

from fractions import Fraction  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from services.funding.allocation import (  # noqa: E402
    AreaInput,
    NeedRule,
    allocate,
    split_over_themes,
)
from services.funding.apportionment import round_rows, split_by_theme_and_year  # noqa: E402
from services.funding.tests.allocation_reference import room  # noqa: E402

D = Decimal


@st.composite
def theme_shares(draw: st.DrawFn) -> dict[str, Decimal]:
    """1 to 6 themes with shares in 1/1000 (some zero) or thirds-like 1/7 ... summing to 1."""
    places = draw(st.sampled_from([2, 3, 6]))
    scale = 10**places
    cuts = sorted(draw(st.lists(st.integers(0, scale), max_size=5)))
    bounds = [0, *cuts, scale]
    return {f"T{i}": D(bounds[i + 1] - bounds[i]) / scale for i in range(len(bounds) - 1)}


@st.composite
def programmes(draw: st.DrawFn) -> tuple[int, list[AreaInput], NeedRule, dict[str, Decimal], int]:
    areas = []
    for i in range(draw(st.integers(1, 12))):
        floor = draw(st.sampled_from([0, 0]) | st.integers(0, 3_000))
        areas.append(AreaInput(
            code=f"BU{i:04d}",
            base=draw(st.integers(0, 5_000)),
            need=draw(st.sampled_from([D(0), D(1)]) | st.decimals(-1, 3, places=3)),
            inhabitants=draw(st.none() | st.integers(0, 9_000)),
            fixed_cents=draw(st.sampled_from([0, 0, 1]) | st.integers(0, 4_000)),
            floor_cents=floor,
            cap_cents=draw(st.none() | st.integers(floor, floor + 10_000)),
        ))
    rule = NeedRule(threshold=draw(st.sampled_from([D(0), D("0.5")])))
    least, most = room(areas, rule)  # what the year can spend: draw a feasible pool
    pool = least + draw(st.integers(0, 60_000 if most is None else most - least))
    return pool, areas, rule, draw(theme_shares()), draw(st.integers(1, 4))


@settings(max_examples=200, deadline=None)
@given(programmes())
def test_a_feasible_year_splits_over_its_themes_exactly(
    programme: tuple[int, list[AreaInput], NeedRule, dict[str, Decimal], int],
) -> None:
    pool, areas, rule, shares, years = programme
    whole_year = allocate(pool, areas, rule)
    split = split_by_theme_and_year(pool * years, shares, dict.fromkeys(range(years), pool))
    year_cents = whole_year.cents_by_code()
    for year in range(years):
        budgets = {theme: split.cents(theme, year) for theme in sorted(shares)}
        cells = split_over_themes(whole_year, shares, budgets)  # never raises
        for theme, cell in cells.items():
            assert sum(line.cents for line in cell.lines) == budgets[theme] == cell.pool_cents
            for line, year_line in zip(cell.lines, whole_year.lines, strict=True):
                exact = Fraction(shares[theme]) * Fraction(year_line.exact_cents)
                assert line.cents >= 0 and abs(line.cents - exact) < 2
                assert line.binding is year_line.binding
        for area in areas:
            total = sum(cells[t].cents_by_code()[area.code] for t in shares)
            assert total == year_cents[area.code]
            assert total >= area.floor_cents
            assert area.cap_cents is None or total <= area.cap_cents


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 10**6), min_size=3, max_size=3), min_size=1, max_size=30),
    st.integers(1, 1_000),
    st.data(),
)
def test_round_rows_keeps_both_margins_and_rounds_each_cell_down_or_up(
    table: list[list[int]], denominator: int, data: st.DataObject
) -> None:
    # Margins of some rounding of each cell down or up, so one exists; which one is random.
    some_rounding = [
        [n // denominator + (n % denominator > 0 and data.draw(st.booleans())) for n in row]
        for row in table
    ]
    row_totals = [sum(row) for row in some_rounding]
    column_totals = [sum(row[t] for row in some_rounding) for t in range(3)]

    cents, bumped = round_rows(table, denominator, row_totals, column_totals)

    assert [sum(row) for row in cents] == row_totals
    assert [sum(row[t] for row in cents) for t in range(3)] == column_totals
    for row, exact_row, up_row in zip(cents, table, bumped, strict=True):
        for value, n, up in zip(row, exact_row, up_row, strict=True):
            assert value in (n // denominator, -(-n // denominator))
            assert up == (value > n // denominator)


def test_round_rows_moves_the_cheapest_cent_between_columns() -> None:
    # Each row alone would round up its larger half (column 0); column 1 must get one cent:
    # from the row whose remainders are closest (0.55 vs 0.45, not 0.9 vs 0.1).
    cents, bumped = round_rows([[190, 110], [155, 145]], 100, [3, 3], [3, 3])
    assert cents == [[2, 1], [1, 2]]
    assert bumped == [[True, False], [False, True]]


def test_each_theme_line_is_the_year_line_pro_rata() -> None:
    areas = [AreaInput("A", 100, 1, inhabitants=10, fixed_cents=1, cap_cents=1_000),
             AreaInput("B", 100, 0, fixed_cents=1, cap_cents=1_000)]
    whole_year = allocate(1_001, areas)
    cells = split_over_themes(whole_year, {"a": D("0.5"), "b": D("0.5")}, {"a": 501, "b": 500})
    assert whole_year.cents_by_code() == {"A": 1_000, "B": 1}
    assert cells["a"].cents_by_code() == {"A": 500, "B": 1}  # B's cent: tie to the first theme
    assert cells["b"].cents_by_code() == {"A": 500, "B": 0}
    line = cells["a"].lines[1]
    assert line.exact_cents == D("0.5") and line.remainder_cent
    assert cells["a"].factor == whole_year.factor * D("0.5")
    assert cells["a"].lines[0].euros_per_inhabitant == D("0.5")
