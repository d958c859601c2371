"""The pool computation on a hand-made world: units, bases, needs and exact cells."""

from decimal import Decimal
from typing import Any

from services.funding.compute import PoolResult, compute_pool, units_of
from services.funding.programmes.schemas import Pool
from services.funding.world import AreaFacts, IndicatorFacts, ProgrammeAreaFacts, World


def wire(result: PoolResult) -> list[dict[str, Any]]:
    """The lines as the API shows them."""
    return [line.model_dump(mode="json", by_alias=True) for line in result.lines]


def world() -> World:
    areas = {}
    for code, inhabitants in (("BU90010101", 1000), ("BU90010102", 3000),
                              ("BU90010201", 2000), ("BU90020101", 500)):
        areas[code] = AreaFacts(code=code, level="buurt", name=code, parent_code=None,
                                programme_area_ids=(), bases={"inhabitants": inhabitants})
    facts = {
        "BU90010101": Decimal("2"), "BU90010102": Decimal("1"), "BU90010201": Decimal("0.5"),
        "BU90020101": Decimal("3"),
    }
    indicators = {c: IndicatorFacts(composite_score=s, composite_decile=9, values={},
                                    method_version="vi-1.0.0", period="p")
                  for c, s in facts.items()}
    indicators["BU90010201"] = IndicatorFacts(Decimal("0.5"), 5, {}, "vi-1.0.0", "p")
    focus = ProgrammeAreaFacts("PA-focus", "Focus", "GM9001", ("BU90010101",))
    return World(areas=areas, programme_areas={"PA-focus": focus}, indicators=indicators)


def pool(**overrides: Any) -> Pool:
    body: dict[str, Any] = {
        "name": "p", "annualAmountCents": 1_000_01,
        "eligibility": {"kind": "other-vulnerable", "minCompositeDecile": 8},
        "themes": [{"code": "a", "share": "0.7"}, {"code": "b", "share": "0.3"}],
        "allocationLevel": "gemeente",
        "formula": {"base": "inhabitants", "need": {"indicator": "composite-index"}},
    }
    body.update(overrides)
    return Pool.model_validate(body)


def test_gemeente_units_sum_eligible_buurten_and_weight_their_needs() -> None:
    p = pool()
    units, used = units_of(p, p.formula, world())
    # BU90010101 is in a programme area, BU90010201 has decile 5: neither is eligible.
    assert [(u.code, u.base, u.need) for u in units] == [
        ("GM9001", 3000, Decimal("1")), ("GM9002", 500, Decimal("3"))]
    assert "BU90010201" in used and "BU90010101" not in used


def test_score_threshold_and_buurt_level() -> None:
    p = pool(eligibility={"kind": "other-vulnerable", "minCompositeScore": "0.5"},
             allocationLevel="buurt")
    units, _ = units_of(p, p.formula, world())
    assert [u.code for u in units] == ["BU90010102", "BU90010201", "BU90020101"]


def test_cells_are_exact_and_floors_apply_pro_rata_per_theme() -> None:
    p = pool(formula={"base": "inhabitants", "need": {"indicator": "composite-index"},
                      "floorCents": 500_00})
    result = wire(compute_pool(p, p.formula, range(2027, 2029), world()))
    for year in (2027, 2028):
        assert sum(line["cents"] for line in result if line["year"] == year) == 1_000_01
    small = [line for line in result if line["areaCode"] == "GM9002"]
    # 500 * 3 = 1,500 weight against 3,000: the floor of 500.00 (350.00 + 150.00) binds.
    assert {(line["theme"], line["cents"], line["bindingConstraint"]) for line in small
            if line["year"] == 2027} == {("a", 350_00, "floor"), ("b", 150_00, "floor")}


def test_for_an_indicator_where_lower_is_worse_the_shortfall_is_the_need() -> None:
    w = world()
    participation = {"BU90010102": Decimal("50"), "BU90010201": Decimal("70"),
                     "BU90020101": Decimal("90")}  # BU90020101 is above the threshold
    for code, value in participation.items():
        facts = w.indicators[code]
        w.indicators[code] = IndicatorFacts(facts.composite_score, facts.composite_decile,
                                            {"labour-participation-pct": value},
                                            facts.method_version, facts.period)
    p = pool(allocationLevel="buurt",
             eligibility={"kind": "other-vulnerable", "minCompositeScore": "0.5"},
             themes=[{"code": "a", "share": "1"}],
             formula={"base": "inhabitants",
                      "need": {"indicator": "labour-participation-pct", "threshold": "80"}})
    lines = {line["areaCode"]: line for line in wire(compute_pool(p, p.formula,
                                                                   range(2027, 2028), w))}
    # Shortfalls 30 and 10 below 80, times 3,000 and 2,000 inhabitants: 90,000 : 20,000.
    assert lines["BU90010102"]["needEffective"] == "30"
    assert lines["BU90010201"]["needEffective"] == "10"
    assert lines["BU90020101"]["needEffective"] == "0"  # 90 % participation: no need
    assert lines["BU90010102"]["cents"] > lines["BU90010201"]["cents"] > 0
    assert lines["BU90020101"]["cents"] == 0
    assert lines["BU90010102"]["need"] == "50"  # the line shows the indicator as it is


def test_an_area_without_a_value_gets_no_need_based_money_even_below_a_negative_threshold(
) -> None:
    w = world()
    w.indicators["BU90020101"] = IndicatorFacts(None, 9, {}, "vi-1.0.0", "p")
    p = pool(allocationLevel="buurt", eligibility={"kind": "other-vulnerable",
                                                   "minCompositeDecile": 8},
             themes=[{"code": "a", "share": "1"}],
             formula={"base": "inhabitants",
                      "need": {"indicator": "composite-index", "threshold": "-1"}})
    lines = {line["areaCode"]: line for line in wire(compute_pool(p, p.formula,
                                                                   range(2027, 2028), w))}
    assert lines["BU90020101"]["need"] is None and lines["BU90020101"]["cents"] == 0
