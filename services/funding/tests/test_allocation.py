"""The allocation formula: worked examples, edge cases, and properties against a slow exact
reference (Fractions, every breakpoint tried) that shares no code with the engine."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.funding.allocation import (
    AreaInput,
    Binding,
    InfeasibleAllocation,
    InfeasibleConstraint,
    InvalidAllocationInput,
    NeedRule,
    allocate,
)

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


# --- strategies ---------------------------------------------------------------------------

codes = st.text(alphabet="ABCDEFGHJK0123456789", min_size=1, max_size=3)
rules = st.builds(
    NeedRule,
    threshold=st.decimals(min_value=0, max_value=1, places=2),
    exponent=st.sampled_from([D(1), D(2), D("0.5"), D("1.5")]),
)
monotone_rules = st.builds(
    NeedRule,
    threshold=st.decimals(min_value=0, max_value=1, places=2),
    exponent=st.sampled_from([D(1), D(2)]),
)


@st.composite
def area_lists(draw: st.DrawFn, max_size: int = 8) -> list[AreaInput]:
    result = []
    for code in draw(st.lists(codes, min_size=1, max_size=max_size, unique=True)):
        floor = draw(st.sampled_from([0, 0, 0]) | st.integers(0, 5_000))
        result.append(
            AreaInput(
                code=code,
                base=draw(st.integers(0, 5_000) | st.decimals(0, 100, places=2)),
                need=draw(st.decimals(min_value=-1, max_value=3, places=3)),
                inhabitants=draw(st.none() | st.integers(0, 10_000)),
                fixed_cents=draw(st.sampled_from([0, 0]) | st.integers(0, 8_000)),
                floor_cents=floor,
                cap_cents=draw(st.none() | st.integers(floor, floor + 20_000)),
            )
        )
    return result


@st.composite
def feasible_problems(
    draw: st.DrawFn, rule_strategy: st.SearchStrategy[NeedRule] = rules
) -> tuple[int, list[AreaInput], NeedRule]:
    areas = draw(area_lists())
    rule = draw(rule_strategy)
    least, most = room(areas, rule)
    pool = least + draw(st.integers(0, 200_000 if most is None else most - least))
    return pool, areas, rule


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
    # which one is a remainder cent; found by the property test below. Rounded down, the
    # line adds up: cents == floor(exact_cents) + remainder_cent.
    allocation = allocate(2, [AreaInput(code="a", base=1, need=Decimal(10**35 - 1)),
                              AreaInput(code="b", base=1, need=Decimal(1))], NeedRule())
    a, b = allocation.lines
    assert (a.cents, a.remainder_cent, b.cents) == (2, True, 0)
    assert a.exact_cents == Decimal("1.999999999999999999999999999999999")
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


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(feasible_problems())
def test_matches_the_exact_reference(problem: tuple[int, list[AreaInput], NeedRule]) -> None:
    pool, areas, rule = problem
    allocation = allocate(pool, areas, rule)

    weights = {
        line.code: Fraction(line.need_effective) * Fraction(line.base) for line in allocation.lines
    }
    assert allocation.cents_by_code() == reference(pool, areas, weights)


@settings(max_examples=200, deadline=None)
@given(feasible_problems())
def test_totals_are_exact_and_bounds_hold_after_rounding(
    problem: tuple[int, list[AreaInput], NeedRule],
) -> None:
    pool, areas, rule = problem
    allocation = allocate(pool, areas, rule)

    assert sum(line.cents for line in allocation.lines) == pool
    by_code = {a.code: a for a in areas}
    for line in allocation.lines:
        a = by_code[line.code]
        assert a.floor_cents <= line.cents
        assert a.cap_cents is None or line.cents <= a.cap_cents
        assert line.cents == math.floor(line.exact_cents) + line.remainder_cent
        if line.binding is Binding.FLOOR:
            assert line.cents == a.floor_cents
        if line.binding is Binding.CAP:
            assert line.cents == a.cap_cents
    assert [line.code for line in allocation.lines] == sorted(by_code)


@settings(max_examples=100, deadline=None)
@given(feasible_problems(), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_input_order(
    problem: tuple[int, list[AreaInput], NeedRule], random: object
) -> None:
    pool, areas, rule = problem
    shuffled = list(areas)
    random.shuffle(shuffled)  # type: ignore[attr-defined]

    assert allocate(pool, shuffled, rule) == allocate(pool, areas, rule)


@settings(max_examples=200, deadline=None)
@given(feasible_problems(monotone_rules), st.data())
def test_more_need_never_means_less_money(
    problem: tuple[int, list[AreaInput], NeedRule], data: st.DataObject
) -> None:
    pool, areas, rule = problem
    index = data.draw(st.integers(0, len(areas) - 1))
    extra = data.draw(st.decimals(min_value=0, max_value=2, places=3))
    needier = list(areas)
    needier[index] = AreaInput(
        code=areas[index].code,
        base=areas[index].base,
        need=D(areas[index].need) + extra,
        inhabitants=areas[index].inhabitants,
        fixed_cents=areas[index].fixed_cents,
        floor_cents=areas[index].floor_cents,
        cap_cents=areas[index].cap_cents,
    )
    code = areas[index].code

    before = allocate(pool, areas, rule).cents_by_code()[code]
    after = allocate(pool, needier, rule).cents_by_code()[code]

    assert after >= before


@settings(max_examples=100, deadline=None)
@given(feasible_problems())
def test_an_area_without_need_gets_exactly_its_guarantee(
    problem: tuple[int, list[AreaInput], NeedRule],
) -> None:
    pool, areas, rule = problem
    allocation = allocate(pool, areas, rule)

    by_code = {a.code: a for a in areas}
    for line in allocation.lines:
        a = by_code[line.code]
        if not has_weight(a, rule):
            assert line.cents == guarantee(a)
            assert not line.remainder_cent


@settings(max_examples=150, deadline=None)
@given(area_lists(), rules, st.data())
def test_an_impossible_pool_names_the_right_constraint(
    areas: list[AreaInput], rule: NeedRule, data: st.DataObject
) -> None:
    least, most = room(areas, rule)
    floors = sum(a.floor_cents for a in areas)
    below = [least - 1] if least > 0 else []
    above = [] if most is None else [most + 1]
    pool = data.draw(st.sampled_from(below + above) if below + above else st.nothing())

    with pytest.raises(InfeasibleAllocation) as raised:
        allocate(pool, areas, rule)

    error = raised.value
    if pool < least:
        expected = (
            (InfeasibleConstraint.FLOORS, floors - pool)
            if floors > pool
            else (InfeasibleConstraint.FIXED, least - pool)
        )
    else:
        assert most is not None
        caps = [a.cap_cents for a in areas]
        if all(cap is not None for cap in caps) and sum(caps) < pool:  # type: ignore[arg-type]
            expected = (InfeasibleConstraint.CAPS, pool - sum(caps))  # type: ignore[arg-type]
        else:
            expected = (InfeasibleConstraint.NEED, pool - most)
    assert (error.constraint, error.cents) == expected
