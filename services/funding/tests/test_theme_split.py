"""A theme x year cell is the year's allocation split over themes: never infeasible on its own."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.funding.programmes.schemas import Pool
from services.funding.scenarios.compute import compute_pool
from services.funding.scenarios.world import AreaFacts, IndicatorFacts, World


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
        year_lines = [line for line in lines if line["year"] == year]
        by_area: dict[str, int] = {}
        for line in year_lines:
            by_area[line["areaCode"]] = by_area.get(line["areaCode"], 0) + line["cents"]
        assert by_area == {"BU00000001": 1_000, "BU00000002": 1}
        by_theme = {t: sum(line["cents"] for line in year_lines if line["theme"] == t)
                    for t in ("a", "b")}
        assert sorted(by_theme.values()) == [500, 501]
