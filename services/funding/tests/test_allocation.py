"""The allocation formula: worked examples and edge cases (its properties against the slow
exact reference are in test_allocation_properties.py)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from services.funding.allocation import (
    AreaInput,
    Binding,
    InfeasibleAllocation,
    InfeasibleConstraint,
    InvalidAllocationInput,
    NeedRule,
    allocate,
)
from services.funding.tests.allocation_reference import D, area, reference

# --- worked examples ----------------------------------------------------------------------


def test_four_hundred_million_over_three_equal_areas_gives_the_cent_to_the_first_code() -> None:
    allocation = allocate(40_000_000_000, [area("C"), area("A"), area("B")])

    assert allocation.cents_by_code() == {
        "A": 13_333_333_334,
        "B": 13_333_333_333,
        "C": 13_333_333_333,
    }
    assert [line.remainder_cent for line in allocation.lines] == [True, False, False]
    assert allocation.lines[0].exact_cents == D("13333333333.33333333333333333333333")


def test_proportional_split_reports_the_factor_and_each_line() -> None:
    allocation = allocate(
        1_000, [area("A", base=100, need=1, inhabitants=50), area("B", base=300, need=1)]
    )

    assert allocation.factor == D("2.5")  # cents per unit of need x base
    first, second = allocation.lines
    assert (first.cents, second.cents) == (250, 750)
    assert first.factor == allocation.factor
    assert first.binding is Binding.NONE and not first.remainder_cent
    assert first.share == D("0.25")
    assert first.euros_per_inhabitant == D("0.05")
    assert second.euros_per_inhabitant is None


def test_floors_and_caps_bind_and_the_rest_is_shared_by_the_factor() -> None:
    allocation = allocate(
        1_000,
        [
            area("A", base=100, need=D("0.5")),
            area("B", base=100, need=2, cap_cents=300),
            area("C", base=10, need=0, floor_cents=50),
        ],
    )

    assert allocation.factor == 13
    assert allocation.cents_by_code() == {"A": 650, "B": 300, "C": 50}
    assert [line.binding for line in allocation.lines] == [Binding.NONE, Binding.CAP, Binding.FLOOR]


def test_an_area_leaves_its_floor_once_the_factor_passes_it() -> None:
    allocation = allocate(1_000, [area("A", base=1, floor_cents=400), area("B", base=4)])

    # Unclamped A would get 200; held at its floor of 400, B gets the other 600.
    assert allocation.cents_by_code() == {"A": 400, "B": 600}
    assert allocation.lines[0].binding is Binding.FLOOR


def test_threshold_and_exponent_shape_the_need() -> None:
    rule = NeedRule(threshold=D("0.5"), exponent=D(2))
    allocation = allocate(
        900,
        [
            area("A", base=1, need=D("2.5")),
            area("B", base=1, need=D("1.5")),
            area("C", need=D("0.4")),
        ],
        rule,
    )

    assert [line.need_effective for line in allocation.lines] == [D(4), D(1), D(0)]
    assert allocation.cents_by_code() == {"A": 720, "B": 180, "C": 0}


def test_fixed_amounts_come_on_top_of_the_formula() -> None:
    allocation = allocate(
        1_000,
        [area("A", base=1, fixed_cents=400), area("B", base=1), area("C", need=0, fixed_cents=100)],
    )

    assert allocation.cents_by_code() == {"A": 650, "B": 250, "C": 100}


def test_a_pool_that_only_covers_the_guarantees_gives_factor_zero() -> None:
    allocation = allocate(300, [area("A", floor_cents=100), area("B", fixed_cents=200)])

    assert allocation.factor == 0
    assert allocation.cents_by_code() == {"A": 100, "B": 200}


def test_an_exact_tie_on_a_float_breakpoint_is_ordered_exactly() -> None:
    # Both caps are reached at a factor that rounds to the float 1.0, B's strictly first;
    # A comes first by code, so only an exact ordering gets B capped before A.
    big = 10**17
    areas = [
        area("A", base=big + 2, need=1, cap_cents=big + 1),
        area("B", base=big + 1, need=1, cap_cents=big),
        area("C", base=1, need=1),
    ]
    assert (big + 1) / (big + 2) == big / (big + 1)
    pool = 2 * big + 1 + 1  # both at their caps, C gets the factor ~1.0000...

    allocation = allocate(pool, areas)

    weights = {a.code: Fraction(a.base) for a in areas}
    assert allocation.cents_by_code() == reference(pool, areas, weights)


def test_an_exact_amount_just_under_a_cent_is_reported_under_it() -> None:
    # 2 cents x (1 - 1e-35): to the nearest of 34 digits that is 2.000..., beside 2 cents of
    # which one is a remainder cent (found by the rounding property in
    # test_allocation_properties). Rounded down, the line adds up: cents == floor(exact_cents)
    # + remainder_cent.
    allocation = allocate(2, [AreaInput(code="a", base=1, need=D(10**35 - 1)),
                              AreaInput(code="b", base=1, need=D(1))], NeedRule())
    a, b = allocation.lines
    assert (a.cents, a.remainder_cent, b.cents) == (2, True, 0)
    assert a.exact_cents == D("1.999999999999999999999999999999999")
    assert all(line.cents == math.floor(line.exact_cents) + line.remainder_cent
               for line in allocation.lines)


def test_no_areas_and_no_money_is_an_empty_allocation() -> None:
    allocation = allocate(0, [])

    assert allocation.lines == ()
    assert allocation.factor == 0


@pytest.mark.parametrize(
    ("pool", "areas", "constraint", "cents"),
    [
        (
            100,
            [area("A", floor_cents=80), area("B", floor_cents=50)],
            InfeasibleConstraint.FLOORS,
            30,
        ),
        (
            100,
            [area("A", fixed_cents=80), area("B", floor_cents=50)],
            InfeasibleConstraint.FIXED,
            30,
        ),
        (
            100,
            [area("A", cap_cents=30), area("B", need=0, cap_cents=40)],
            InfeasibleConstraint.CAPS,
            30,
        ),
        (100, [area("A", cap_cents=30), area("B", need=0)], InfeasibleConstraint.NEED, 70),
        (100, [area("A", need=0), area("B", base=0)], InfeasibleConstraint.NEED, 100),
        (100, [], InfeasibleConstraint.NEED, 100),
    ],
)
def test_infeasible_constraints_name_the_constraint_and_the_cents(
    pool: int, areas: list[AreaInput], constraint: InfeasibleConstraint, cents: int
) -> None:
    with pytest.raises(InfeasibleAllocation) as raised:
        allocate(pool, areas)

    assert (raised.value.constraint, raised.value.cents) == (constraint, cents)
    assert str(cents) in raised.value.detail


@pytest.mark.parametrize(
    ("pool", "areas", "rule"),
    [
        (-1, [area("A")], None),
        (100, [area("A", floor_cents=60, cap_cents=50)], None),
        (100, [area("A"), area("A")], None),
        (100, [area("A", base=-1)], None),
        (100, [area("A", fixed_cents=-1)], None),
        (100, [area("A", need=0.5)], None),  # type: ignore[arg-type]
        (100, [area("A", need=D("NaN"))], None),
        (100, [area("A")], NeedRule(exponent=D(0))),
        (100, [area("A")], NeedRule(threshold=D("Infinity"))),
    ],
)
def test_invalid_input_is_a_validation_error(
    pool: int, areas: list[AreaInput], rule: NeedRule | None
) -> None:
    with pytest.raises(InvalidAllocationInput):
        allocate(pool, areas, rule)
