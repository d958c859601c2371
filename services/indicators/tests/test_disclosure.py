"""Disclosure control: the published rules, and property tests that an attacker learns no small
group from what is published."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.indicators.cellkey import KEY_SPACE, MAX_NOISE, RecordKeys, noise, perturb
from services.indicators.disclosure import (
    DisclosedValue,
    SuppressionReason,
    disclose_count,
    disclose_difference,
    disclose_rate_of,
    disclose_share,
)
from services.indicators.suppression import disclose_groups
from services.indicators.suppression import disclose_hierarchy as _disclose_hierarchy

SMALL = SuppressionReason.SMALL_COUNT
SECONDARY = SuppressionReason.SECONDARY

counts = st.integers(min_value=0, max_value=100_000)
# Mostly small groups: that is where disclosure happens.
child_counts = st.one_of(st.integers(0, 12), st.integers(0, 60))
hierarchies = st.dictionaries(
    st.text(alphabet="ABCDEFGH", min_size=1, max_size=3), child_counts, max_size=8
)


def assert_publishable(cell: DisclosedValue) -> None:
    if cell.value is not None:
        assert isinstance(cell.value, int)
        assert not 1 <= cell.value <= 4


def _key(code: object) -> int:
    """A fixed pseudo-random cell key per code (the tests need no secret)."""
    return int(hashlib.sha256(str(code).encode()).hexdigest()[:8], 16)


def disclose_hierarchy(parent_count, children):
    return _disclose_hierarchy(parent_count, children, {c: _key(c) for c in children},
                               _key("parent"))


def _groups(counts, groups):
    return disclose_groups(counts, groups, {c: _key(c) for c in counts})


def _published(n: int) -> object:
    """Matches a published cell whose true count is n."""

    class Near:
        def __eq__(self, other: object) -> bool:
            return (isinstance(other, DisclosedValue) and other.value is not None
                    and abs(other.value - n) <= MAX_NOISE)

        def __repr__(self) -> str:
            return f"published~{n}"

    return Near()


# --- counts -------------------------------------------------------------------------------

keys = st.integers(min_value=0, max_value=KEY_SPACE - 1)


@given(st.integers(5, 100_000), keys)
def test_counts_of_five_and_more_are_perturbed_by_at_most_four_never_below_five(n, key):
    cell = disclose_count(n, key)
    assert cell.value is not None and cell.reason is None
    assert isinstance(cell.value, int)
    assert abs(cell.value - n) <= MAX_NOISE
    assert cell.value >= 5
    assert disclose_count(n, key) == cell  # the same cell key, the same noise


@given(keys)
def test_zero_stays_zero(key):
    assert disclose_count(0, key) == DisclosedValue.published(0)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_counts_one_to_four_are_suppressed_with_the_reason(n):
    cell = disclose_count(n, 12345)
    assert cell.suppressed
    assert cell.value is None
    assert cell.reason is SMALL
    assert cell.reason == "small-count"
    with pytest.raises(ValueError):
        perturb(n, 12345)


@pytest.mark.parametrize(("n", "mean", "variance"), [(500, 0.0, 0.928), (9, 0.0, 0.928),
                                                     (8, 0.002, 0.914), (7, 0.01, 1.27),
                                                     (6, 0.14, 1.1), (5, 0.76, 0.842)])
def test_the_noise_of_a_uniform_cell_key_follows_the_p_table(n, mean, variance):
    """Read at 10,000 evenly spread quantiles, the noise has the p-table's mean and variance."""
    draws = [noise(n, round((i + 0.5) / 10_000 * KEY_SPACE)) for i in range(10_000)]
    average = sum(draws) / len(draws)
    assert average == pytest.approx(mean, abs=0.01)
    assert sum((x - average) ** 2 for x in draws) / len(draws) == pytest.approx(variance,
                                                                                abs=0.01)


def test_record_keys_are_keyed_and_spread_over_the_key_space():
    first, second = RecordKeys(b"a" * 32), RecordKeys(b"b" * 32)
    assert first.of("hh-1") == first.of("hh-1")
    assert first.of("hh-1") != second.of("hh-1")
    values = [first.of(f"hh-{i}") for i in range(2_000)]
    assert all(0 <= v < KEY_SPACE for v in values)
    assert 0.45 < sum(values) / len(values) / KEY_SPACE < 0.55
    with pytest.raises(ValueError):
        RecordKeys(b"short")


def test_negative_or_non_integer_counts_are_rejected() -> None:
    with pytest.raises(ValueError):
        disclose_count(-1, 0)
    with pytest.raises(TypeError):
        not_an_int: Any = 2.0
        disclose_count(not_an_int, 0)
    with pytest.raises(TypeError):
        disclose_count(True, 0)


def test_a_disclosed_value_has_a_value_or_a_reason_never_both():
    with pytest.raises(ValueError):
        DisclosedValue(value=5, reason=SMALL)
    with pytest.raises(ValueError):
        DisclosedValue(value=None)


# --- rates, percentages, trends -----------------------------------------------------------


def test_rates_are_refused_under_twenty_dwellings():
    count = DisclosedValue.published(10)
    assert disclose_rate_of(count, 19, "dwellings").reason is SuppressionReason.SMALL_DENOMINATOR
    assert disclose_rate_of(count, 20, "dwellings") == DisclosedValue.published(50.0)
    small = DisclosedValue.withheld(SMALL)
    assert disclose_rate_of(small, 10, "dwellings").reason is SuppressionReason.SMALL_DENOMINATOR


def test_a_rate_of_a_withheld_count_is_refused_because_the_denominator_is_public():
    assert disclose_rate_of(DisclosedValue.withheld(SMALL), 40, "dwellings").reason is SMALL
    withheld = DisclosedValue.withheld(SECONDARY)
    assert disclose_rate_of(withheld, 500, "dwellings") == withheld
    assert disclose_rate_of(DisclosedValue.published(0), 40, "dwellings").value == 0.0


def test_a_rate_per_nothing_is_rejected():
    with pytest.raises(ValueError):
        disclose_rate_of(DisclosedValue.published(10), 100, "households", per=0)


def test_a_percentage_comes_from_two_published_counts_and_never_shows_a_withheld_base():
    part, whole = DisclosedValue.published(21), DisclosedValue.published(104)
    assert disclose_share(part, whole, "households") == DisclosedValue.published(20.2)
    hidden = DisclosedValue.withheld(SECONDARY)
    assert disclose_share(part, hidden, "households") == hidden
    assert disclose_share(DisclosedValue.withheld(SMALL), whole, "households").reason is SMALL
    assert (disclose_share(part, DisclosedValue.published(99), "households").reason
            is SuppressionReason.SMALL_DENOMINATOR)
    # Noise on a part and on its whole may cross: never more than 100 %.
    assert disclose_share(DisclosedValue.published(102), DisclosedValue.published(101),
                          "households").value == 100.0


def test_a_trend_is_withheld_when_either_period_is():
    now, before = DisclosedValue.published(12.0), DisclosedValue.published(9.5)
    assert disclose_difference(now, before) == DisclosedValue.published(2.5)
    hidden = DisclosedValue.withheld(SECONDARY)
    assert disclose_difference(now, hidden) == hidden
    assert disclose_difference(hidden, before) == hidden


# --- secondary suppression ----------------------------------------------------------------


def test_a_single_small_child_takes_the_smallest_child_that_protects_it():
    parent, children = disclose_hierarchy(40, {"BU01": 3, "BU02": 12, "BU03": 25, "BU04": 0})
    assert parent == _published(40)
    assert children == {
        "BU01": DisclosedValue.withheld(SMALL),
        "BU02": DisclosedValue.withheld(SECONDARY),
        "BU03": _published(25),
        "BU04": DisclosedValue.published(0),
    }


def test_the_smallest_child_is_skipped_when_it_leaves_the_small_child_exact():
    # Hiding 5 beside 1 leaves 1 + 5 = 6: the attacker knows 1 <= a <= 4 and b >= 5, so a = 1.
    _, children = disclose_hierarchy(25, {"a": 1, "b": 5, "c": 19})
    assert children["b"] == _published(5)
    assert children["c"].reason is SECONDARY


def test_ties_between_candidates_are_broken_by_code():
    _, children = disclose_hierarchy(83, {"z": 3, "b": 20, "a": 20, "c": 40})
    assert children["a"].reason is SECONDARY
    assert not children["b"].suppressed


def test_two_small_children_whose_total_is_not_small_protect_each_other():
    # 3 + 2 = 5: each of them could be anything from 1 to 4.
    parent, children = disclose_hierarchy(30, {"a": 3, "b": 2, "c": 25})
    assert parent == _published(30)
    assert [c.reason for c in children.values()] == [SMALL, SMALL, None]


def test_two_small_children_with_a_small_total_need_a_third_cell():
    # 1 + 2 = 3 would reveal a group of three across the two buurten.
    _, children = disclose_hierarchy(33, {"a": 1, "b": 2, "c": 30})
    assert children["c"].reason is SECONDARY


def test_the_parent_is_suppressed_when_no_choice_of_children_protects_the_group():
    # 4 + 4 = 8 and each is at most 4: both are exactly 4.
    parent, children = disclose_hierarchy(8, {"a": 4, "b": 4})
    assert parent == DisclosedValue.withheld(SECONDARY)
    assert all(c.reason is SMALL for c in children.values())


def test_a_small_parent_is_suppressed_and_its_children_keep_primary_suppression_only():
    parent, children = disclose_hierarchy(3, {"a": 3, "b": 0})
    assert parent.reason is SMALL
    assert children == {"a": DisclosedValue.withheld(SMALL), "b": DisclosedValue.published(0)}


def test_no_secondary_suppression_without_a_small_cell():
    parent, children = disclose_hierarchy(100, {"a": 50, "b": 45, "c": 5, "d": 0})
    assert parent == _published(100)
    assert not any(c.suppressed for c in children.values())


def test_a_small_unallocated_rest_is_protected_like_a_small_child():
    # 20 - 18 = 2 households in no buurt: publishing both would reveal that group.
    parent, children = disclose_hierarchy(20, {"a": 18})
    assert parent == _published(20)
    assert children["a"].reason is SECONDARY


def test_children_may_not_exceed_the_parent():
    with pytest.raises(ValueError):
        disclose_hierarchy(10, {"a": 6, "b": 5})


def test_an_empty_group_is_just_the_parent():
    assert disclose_hierarchy(7, {}) == (_published(7), {})


def _bounds(cell: DisclosedValue) -> tuple[int, float]:
    """What the published reason of a hidden cell tells the attacker about its value."""
    return (1, 4) if cell.reason is SMALL else (1, float("inf"))


@given(children=hierarchies, unallocated=st.one_of(st.just(0), st.integers(0, 12)))
def test_no_hidden_cell_can_be_recovered_from_the_published_totals(children, unallocated):
    parent_count = sum(children.values()) + unallocated
    parent, published = disclose_hierarchy(parent_count, children)

    assert_publishable(parent)
    for cell in published.values():
        assert_publishable(cell)
    for code, cell in published.items():
        assert cell.suppressed == (1 <= children[code] <= 4 or cell.reason is SECONDARY)
    if parent.suppressed:
        return
    hidden = {code: children[code] for code, cell in published.items() if cell.suppressed}
    bounds = {code: _bounds(published[code]) for code in hidden}
    if 1 <= unallocated <= 4:
        hidden["(unallocated)"] = unallocated
        bounds["(unallocated)"] = (1, 4)
    elif hidden:
        # The complete-partition statement of the contract: never exactly one hidden child.
        assert len(hidden) >= 2

    # Parent minus the published children gives the hidden total exactly (rounding ignored).
    total = sum(hidden.values())
    assert not 1 <= total <= 4
    # Every hidden cell has a twin table, equal in all that is published and consistent with
    # every published reason, in which that cell holds another value.
    for code, value in hidden.items():
        low, high = bounds[code]
        assert any(
            (low <= value + step <= high)
            and (bounds[other][0] <= hidden[other] - step <= bounds[other][1])
            for other in hidden
            if other != code
            for step in (1, -1)
        ), f"{code}={value} is revealed by {hidden}"


@given(children=hierarchies, unallocated=st.integers(0, 6), data=st.data())
def test_disclosure_is_deterministic_and_independent_of_the_order_of_children(
    children, unallocated, data
):
    parent_count = sum(children.values()) + unallocated
    shuffled = dict(data.draw(st.permutations(list(children.items()))))
    first = disclose_hierarchy(parent_count, children)
    assert disclose_hierarchy(parent_count, children) == first
    assert disclose_hierarchy(parent_count, shuffled) == first
    assert list(first[1]) == list(children)


# --- groups that share cells --------------------------------------------------------------


def test_a_wijk_hidden_for_its_buurten_is_protected_among_its_gemeentes_wijken():
    counts = {"GM": 58, "W1": 8, "W2": 20, "W3": 30, "a": 4, "b": 4}
    groups = {"GM": ["W1", "W2", "W3"], "W1": ["a", "b"]}
    # One group at a time, the gemeente publishes all its wijken: GM - W2 - W3 = W1 = 8,
    # and then W1 - b = a.
    assert not any(c.suppressed for c in disclose_hierarchy(58, {
        "W1": 8, "W2": 20, "W3": 30})[1].values())
    out = _groups(counts, groups)
    assert out["W1"] == DisclosedValue.withheld(SECONDARY)  # no choice protects a, b
    assert out["W2"] == DisclosedValue.withheld(SECONDARY)  # W1 is not left alone
    assert (out["GM"], out["W3"]) == (_published(58), _published(30))
    assert out["a"].reason is SMALL and out["b"].reason is SMALL


def test_a_buurt_hidden_in_its_wijk_is_not_recovered_through_a_programme_area():
    counts = {"W": 49, "a": 3, "b": 6, "c": 40, "PA": 43}
    wijk_only = _groups(counts, {"W": ["a", "b", "c"]})
    assert wijk_only["b"].reason is SECONDARY and wijk_only["c"] == _published(40)
    # PA - c = a: the programme area over a and c needs c hidden too.
    out = _groups(counts, {"W": ["a", "b", "c"], "PA": ["a", "c"]})
    assert out["c"] == DisclosedValue.withheld(SECONDARY)
    assert out["PA"] == _published(43) and out["W"] == _published(49)


def _assert_group_protected(parent: str, children: list[str], counts: dict[str, int],
                            out: dict[str, DisclosedValue]) -> None:
    """The property test above, for one group of a result of `disclose_groups`."""
    if not out[parent].suppressed:
        _assert_hidden_protected(parent, children, counts, out)
    elif counts[parent] and all(not out[c].suppressed for c in children):
        raise AssertionError(f"{parent} is withheld but its children all published")


def _assert_hidden_protected(parent: str, children: list[str], counts: dict[str, int],
                             out: dict[str, DisclosedValue]) -> None:
    """Cells whose exact total the attacker knows (all of them are counted in it)."""
    hidden = {c: counts[c] for c in children if out[c].suppressed}
    bounds = {c: _bounds(out[c]) for c in hidden}
    if len(hidden) == 1:
        raise AssertionError(f"{parent}: {hidden} is the only hidden child")
    assert not 1 <= sum(hidden.values()) <= 4
    for code, value in hidden.items():
        low, high = bounds[code]
        assert any(
            (low <= value + step <= high)
            and (bounds[other][0] <= hidden[other] - step <= bounds[other][1])
            for other in hidden if other != code for step in (1, -1)
        ), f"{parent}: {code}={value} is revealed by {hidden}"


@given(wijken=st.lists(st.lists(child_counts, min_size=1, max_size=5), min_size=1,
                       max_size=5),
       data=st.data())
def test_no_group_of_a_gemeente_with_programme_areas_gives_a_hidden_cell_away(wijken, data):
    counts: dict[str, int] = {}
    groups: dict[str, list[str]] = {"GM": []}
    for w, buurten in enumerate(wijken):
        wijk = f"W{w}"
        groups["GM"].append(wijk)
        groups[wijk] = [f"{wijk}B{b}" for b in range(len(buurten))]
        counts.update(zip(groups[wijk], buurten, strict=True))
        counts[wijk] = sum(buurten)
    counts["GM"] = sum(counts[w] for w in groups["GM"])
    every_buurt = sorted(b for w in groups["GM"] for b in groups[w])
    for p in range(data.draw(st.integers(0, 3))):  # programme areas across wijken
        members = data.draw(st.lists(st.sampled_from(every_buurt), min_size=1, unique=True))
        if data.draw(st.booleans()):  # a wijk and more: nested groups
            members = sorted({*groups[data.draw(st.sampled_from(groups["GM"]))], *members})
        groups[f"PA{p}"] = members
        counts[f"PA{p}"] = sum(counts[b] for b in members)

    out = _groups(counts, groups)
    for code, cell in out.items():
        assert_publishable(cell)
        if 1 <= counts[code] <= 4:  # withheld; `secondary` when its bounds would pin others
            assert cell.reason in (SMALL, SECONDARY)
    for parent, children in groups.items():
        _assert_group_protected(parent, children, counts, out)
    for inner, outer in itertools.permutations(groups, 2):
        inside = set(groups[inner])
        if inside < set(groups[outer]) and not (out[inner].suppressed
                                                or out[outer].suppressed):
            # Outer minus inner: the exact total of the outer's other cells.
            _assert_hidden_protected(f"{outer}-{inner}", [
                c for c in groups[outer] if c not in inside], counts, out)


def test_a_programme_area_one_buurt_larger_than_a_wijk_does_not_give_that_buurt_away():
    counts = {"W": 30, "a": 10, "b": 10, "c": 10, "d": 2, "PA": 32}
    assert _groups(counts, {"W": ["a", "b", "c"]})["W"] == _published(30)
    # PA - W = d = 2: with nothing else to hide beside d, the programme area is withheld.
    out = _groups(counts, {"W": ["a", "b", "c"], "PA": ["a", "b", "c", "d"]})
    assert out["PA"] == DisclosedValue.withheld(SECONDARY)
    assert (out["W"], out["d"].reason) == (_published(30), SMALL)
    # With a second buurt beyond the wijk, hiding that one protects d and PA is published.
    counts |= {"e": 7, "PA": 39}
    out = _groups(counts, {"W": ["a", "b", "c"], "PA": ["a", "b", "c", "d", "e"]})
    assert out["e"] == DisclosedValue.withheld(SECONDARY)
    assert (out["PA"], out["W"]) == (_published(39), _published(30))


def test_a_withheld_wijk_is_not_rebuilt_from_its_published_buurten():
    """Gemeente = W1 (7 + 7) + W2 (4): W1 is withheld for W2, so one of its buurten goes too."""
    counts = {"GM": 18, "W1": 14, "W2": 4, "a": 7, "b": 7, "c": 4}
    out = _groups(counts, {"GM": ["W1", "W2"], "W1": ["a", "b"], "W2": ["c"]})
    assert out["W1"].reason is SECONDARY and out["W2"].reason is SMALL
    assert [out["a"].reason, out["b"].reason].count(SECONDARY) == 1


def test_overlapping_programme_areas_are_protected_by_their_difference():
    """PA1 - PA2 = a - d: with d published, a would follow; d is withheld too."""
    counts = {"a": 1, "b": 11, "c": 10, "d": 32, "PA1": 22, "PA2": 53}
    out = _groups(counts, {"PA1": ["a", "b", "c"], "PA2": ["b", "c", "d"]})
    assert out["a"].reason is SMALL
    assert out["d"].reason is SECONDARY or out["PA1"].suppressed or out["PA2"].suppressed


def test_small_counts_that_pin_each_other_across_levels_are_published_as_secondary():
    """Gemeente 4 = wijk 3 (1 + 1 + 1) + wijk 1: with every cell `small-count` (1-4), the
    wijk is at least 3, so the gemeente is 4 and every buurt 1. The audit over all relations
    publishes the pinned cells, the gemeente among them, as `secondary` (1 or more)."""
    counts = {"NL": 4, "GM": 4, "W0": 3, "W1": 1, "a": 1, "b": 1, "c": 1, "d": 1}
    groups = {"NL": ["GM"], "GM": ["W0", "W1"], "W0": ["a", "b", "c"], "W1": ["d"]}
    out = _groups(counts, groups)
    assert all(cell.suppressed for cell in out.values())
    assert out["GM"].reason is SECONDARY
