from statistics import mean

import pytest

from services.indicators.cbs_cells import StatName
from services.indicators.demo_data import (
    DEFAULT_YEARS,
    NPLV_FOCUS_AREAS,
    OTHER_DEMO_MUNICIPALITIES,
    DemoDataset,
    generate_demo,
    generate_national,
)
from shared.areacodes import (
    NATIONAL_CODE,
    AreaLevel,
    is_valid_programme_area_id,
    parent_code,
    parse_area_code,
)


@pytest.fixture(scope="module")
def demo() -> DemoDataset:
    return generate_demo()


@pytest.fixture(scope="module")
def national() -> DemoDataset:
    return generate_national()


def check_register(dataset: DemoDataset) -> None:
    codes = [a.code for a in dataset.areas]
    assert len(codes) == len(set(codes))
    known = set(codes)
    for area in dataset.areas:
        assert parse_area_code(area.code).level is area.level
        assert area.parent_code == parent_code(area.code)
        assert area.parent_code is None or area.parent_code in known
        assert area.synthetic is True
        assert set(area.stats) == set(dataset.years)
        for stats in area.stats.values():
            assert set(stats) == set(StatName)
            assert all(v is None or v >= 0 for v in stats.values())
            for stat in StatName:
                value = stats[stat]
                assert value is None or not stat.value.endswith("Pct") or value <= 100


def test_demo_has_the_twenty_nplv_focus_areas_in_nineteen_municipalities(demo):
    assert len(NPLV_FOCUS_AREAS) == 20
    assert len({f.municipality.code for f in NPLV_FOCUS_AREAS}) == 19
    ids = [p.id for p in demo.programme_areas]
    assert len(ids) == len(set(ids)) == 20
    assert all(is_valid_programme_area_id(i) for i in ids)
    names = {p.name: p.gemeente_code for p in demo.programme_areas}
    assert names["Amsterdam Nieuw-West"] == names["Amsterdam Zuidoost"] == "GM0363"
    assert names["Rotterdam-Zuid"] == "GM0599"
    assert names["Roosendaal"] == "GM1674"
    assert "PA-den-haag-zuidwest" in ids


def test_demo_counts(demo):
    assert len(demo.by_level(AreaLevel.NATIONAL)) == 1
    assert len(demo.by_level(AreaLevel.GEMEENTE)) == 19 + len(OTHER_DEMO_MUNICIPALITIES)
    assert len(demo.by_level(AreaLevel.WIJK)) == 20 * 3 + 19 * 2 + 6 * 3
    buurten = demo.by_level(AreaLevel.BUURT)
    focus = {code for p in demo.programme_areas for code in p.buurt_codes}
    assert len(focus) == 300
    assert 150 <= len(buurten) - len(focus) <= 300
    assert demo.years == DEFAULT_YEARS


def test_demo_register_is_consistent(demo):
    check_register(demo)
    areas = {a.code: a for a in demo.areas}
    for programme in demo.programme_areas:
        for code in programme.buurt_codes:
            assert areas[code].level is AreaLevel.BUURT
            assert parse_area_code(code).gemeente_code == programme.gemeente_code


def test_gemeenten_have_real_names_and_the_rest_says_synthetic(demo):
    gemeenten = {a.code: a.name for a in demo.by_level(AreaLevel.GEMEENTE)}
    assert gemeenten["GM0080"] == "Leeuwarden"
    assert gemeenten["GM0518"] == "'s-Gravenhage"
    assert gemeenten["GM0479"] == "Zaanstad"
    for area in (*demo.by_level(AreaLevel.WIJK), *demo.by_level(AreaLevel.BUURT)):
        assert area.name.startswith("Synthetische ") and area.name.endswith("(demo)")


def test_programme_areas_are_in_their_municipality_only(demo):
    for programme in demo.programme_areas:
        assert programme.synthetic
        assert len(programme.buurt_codes) == 15
    all_focus = [c for p in demo.programme_areas for c in p.buurt_codes]
    assert len(all_focus) == len(set(all_focus))


def test_focus_buurten_are_more_vulnerable_on_average(demo):
    focus = {code for p in demo.programme_areas for code in p.buurt_codes}
    year = DEFAULT_YEARS[-1]

    def average(stat, in_focus, per_inhabitant=False):
        values = []
        for area in demo.by_level(AreaLevel.BUURT):
            stats = area.stats[year]
            value = stats[stat]
            if (area.code in focus) != in_focus or value is None:
                continue
            values.append(value / stats[StatName.INHABITANTS] if per_inhabitant else value)
        return mean(values)

    for stat in (
        StatName.LOW_INCOME_HOUSEHOLDS_PCT,
        StatName.CORPORATION_DWELLINGS_PCT,
        StatName.YOUTH_CARE_PCT,
    ):
        assert average(stat, True) > average(stat, False)
    assert average(StatName.BIJSTAND_RECIPIENTS, True, per_inhabitant=True) > average(
        StatName.BIJSTAND_RECIPIENTS, False, per_inhabitant=True
    )
    assert average(StatName.LABOUR_PARTICIPATION_PCT, True) < average(
        StatName.LABOUR_PARTICIPATION_PCT, False
    )
    assert average(StatName.MEAN_WOZ_VALUE, True) < average(StatName.MEAN_WOZ_VALUE, False)


def test_the_non_focus_pool_has_vulnerable_buurten_too(demo):
    focus = {code for p in demo.programme_areas for code in p.buurt_codes}
    year = DEFAULT_YEARS[-1]
    focus_low_income = sorted(
        a.stats[year][StatName.LOW_INCOME_HOUSEHOLDS_PCT] or 0
        for a in demo.by_level(AreaLevel.BUURT)
        if a.code in focus
    )
    median_focus = focus_low_income[len(focus_low_income) // 2]
    vulnerable_others = [
        a
        for a in demo.by_level(AreaLevel.BUURT)
        if a.code not in focus
        and (a.stats[year][StatName.LOW_INCOME_HOUSEHOLDS_PCT] or 0) >= median_focus
    ]
    assert len(vulnerable_others) >= 15


def test_higher_levels_sum_their_buurten(demo):
    year = DEFAULT_YEARS[0]
    buurten = demo.by_level(AreaLevel.BUURT)
    national = demo.by_level(AreaLevel.NATIONAL)[0]
    total = sum(b.stats[year][StatName.DWELLINGS] for b in buurten)
    # each level rounds once, so the sums agree to within rounding
    assert abs(national.stats[year][StatName.DWELLINGS] - total) <= len(buurten)
    gemeente = next(a for a in demo.areas if a.code == "GM0363")
    inside = [b for b in buurten if b.code.startswith("BU0363")]
    inhabitants = sum(b.stats[year][StatName.INHABITANTS] for b in inside)
    assert abs(gemeente.stats[year][StatName.INHABITANTS] - inhabitants) <= 3 * len(inside)


def test_demo_is_deterministic_per_seed(demo):
    assert generate_demo() == demo
    assert generate_demo(seed=7) == generate_demo(seed=7)
    assert generate_demo(seed=7) != demo
    other = generate_demo(seed=7)
    assert [a.code for a in other.areas] == [a.code for a in demo.areas]


def test_demo_years_can_be_chosen():
    dataset = generate_demo(years=(2023,))
    assert dataset.years == (2023,)
    assert set(dataset.areas[0].stats) == {2023}
    with pytest.raises(ValueError):
        generate_demo(years=())


def test_national_scale_counts_and_consistency(national):
    assert len(national.by_level(AreaLevel.NATIONAL)) == 1
    assert len(national.by_level(AreaLevel.GEMEENTE)) == 342
    assert len(national.by_level(AreaLevel.WIJK)) == 3_200
    assert len(national.by_level(AreaLevel.BUURT)) == 14_000
    assert national.programme_areas == ()
    check_register(national)
    gemeenten = {a.code for a in national.by_level(AreaLevel.GEMEENTE)}
    assert all(code >= "GM9001" for code in gemeenten)
    assert national.by_level(AreaLevel.NATIONAL)[0].code == NATIONAL_CODE


def test_national_scale_is_realistic_and_has_suppressed_small_buurten(national):
    year = national.years[0]
    inhabitants = national.by_level(AreaLevel.NATIONAL)[0].stats[year][StatName.INHABITANTS]
    assert 12_000_000 < inhabitants < 24_000_000
    suppressed = [
        b for b in national.by_level(AreaLevel.BUURT)
        if b.stats[year][StatName.LOW_INCOME_HOUSEHOLDS_PCT] is None
    ]
    assert suppressed
    assert all(b.stats[year][StatName.INHABITANTS] < 200 for b in suppressed)


def test_national_is_deterministic():
    first = generate_national(seed=11)
    assert generate_national(seed=11) == first
    assert generate_national(seed=12) != first


def test_national_scales_down():
    small = generate_national(n_buurten=50, n_gemeenten=5)
    assert len(small.by_level(AreaLevel.BUURT)) == 50
    assert len(small.by_level(AreaLevel.GEMEENTE)) == 5
    check_register(small)
    with pytest.raises(ValueError):
        generate_national(n_buurten=0)
