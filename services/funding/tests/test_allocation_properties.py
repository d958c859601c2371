"""The allocation formula's properties, over random programmes, against the slow exact
reference (allocation_reference.py)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.funding.allocation import (
    AreaInput,
    Binding,
    InfeasibleAllocation,
    InfeasibleConstraint,
    NeedRule,
    allocate,
)
from services.funding.tests.allocation_reference import (
    D,
    guarantee,
    has_weight,
    reference,
    room,
)

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
