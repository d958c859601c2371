"""Programmes over many years: amounts per pool per year and inputs that differ per year."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from services.funding.compute import compute_pool
from services.funding.programmes.schemas import Pool, ProgrammeCreate
from services.funding.tests.kafka_helpers import SyntheticWorld, publish
from services.funding.tests.test_compute import world
from services.funding.tests.test_scenarios import loaded, new_scenario
from services.funding.world import IndicatorFacts, World
from tests.helpers import eventually

YEARS = range(2027, 2047)  # twenty budget years


def scheduled_pool(**schedule: Any) -> Pool:
    return Pool.model_validate({
        "name": "p", "annualAmountCents": 1_000_000_00,
        "eligibility": {"kind": "other-vulnerable", "minCompositeDecile": 8},
        "themes": [{"code": "a", "share": "0.7"}, {"code": "b", "share": "0.3"}],
        "allocationLevel": "buurt",
        "formula": {"base": "inhabitants", "need": {"indicator": "composite-index"}},
        **schedule,
    })


def later_world() -> World:
    """The same areas with other needs: what a later indicator period says."""
    w = world()
    for code, facts in list(w.indicators.items()):
        score = facts.composite_score or Decimal(0)
        w.indicators[code] = IndicatorFacts(Decimal(4) - score, facts.composite_decile,
                                            facts.values, facts.method_version, "later")
    return w


def test_a_twenty_year_schedule_gives_cells_that_differ_by_year() -> None:
    pool = scheduled_pool(indexation="0.02",
                          yearAmounts=[{"year": 2030, "amountCents": 2_500_000_00}])
    assert pool.amounts(YEARS)[2027] == 1_000_000_00
    assert pool.amounts(YEARS)[2028] == 1_020_000_00  # 2 % a year, compounded
    assert pool.amounts(YEARS)[2029] == 1_040_400_00
    assert pool.amounts(YEARS)[2030] == 2_500_000_00  # a year of its own
    later = later_world()
    result = compute_pool(pool, pool.formula, YEARS, world(),
                          year_worlds={y: later for y in YEARS if y >= 2037})
    cells: dict[tuple[str, int], int] = defaultdict(int)
    per_area: dict[tuple[int, str], int] = defaultdict(int)
    for line in result.lines:
        cells[(line.theme, line.year)] += line.cents
        per_area[(line.year, line.area_code)] += line.cents
    for theme in ("a", "b"):
        assert len({cells[(theme, y)] for y in YEARS}) == len(YEARS)
    for year, amount in pool.amounts(YEARS).items():
        assert cells[("a", year)] + cells[("b", year)] == amount
    # The inputs of 2037 on come from the later period: the areas' shares turn around.
    early = {c: per_area[(2036, c)] for y, c in per_area if y == 2036}
    late = {c: per_area[(2037, c)] for y, c in per_area if y == 2037}
    assert late["BU90020101"] < early["BU90020101"] / 2  # its need went from 3 to 1
    assert {line.indicator_period for line in result.lines if line.year >= 2037} == {"later"}


def test_schedules_are_validated() -> None:
    with pytest.raises(ValidationError):
        scheduled_pool(indexation="-1")
    with pytest.raises(ValidationError):
        scheduled_pool(yearAmounts=[{"year": 2030, "amountCents": 1},
                                    {"year": 2030, "amountCents": 2}])
    body = SyntheticWorld().programme()
    body["pools"][0]["yearAmounts"] = [{"year": 2040, "amountCents": 5}]  # after lastYear
    with pytest.raises(ValidationError, match="2040"):
        ProgrammeCreate.model_validate(body)
    body = SyntheticWorld().programme()
    body["indicatorPeriods"] = [{"fromYear": 2026, "period": "rolling-12m:2026-11"}]
    with pytest.raises(ValidationError, match="2026"):
        ProgrammeCreate.model_validate(body)


async def test_a_twenty_year_scenario_uses_each_years_amount_and_period(start_service, auth,
                                                                          broker):
    world_ = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world_)
        # A later period with other needs: the focus areas swap places.
        later = world_.at + timedelta(minutes=1)
        events = []
        for code in world_.buurten(1) + world_.buurten(2) + world_.buurten(3):
            kind, data, key = world_.indicator_event(code, 3.0 - world_.score(code), later)
            events.append((kind, data.model_copy(update={"period": "rolling-12m:2027-12"}),
                           key))
        await publish(broker.bootstrap_servers, events)
        analyst = auth("analyst")

        async def later_received():
            for _, _, code in events:
                r = await client.get(f"/v1/indicator-inputs/{code}", headers=analyst)
                if r.json()["period"] != "rolling-12m:2027-12":
                    return False
            return True

        await eventually(later_received)
        body = world_.programme()
        body.update(firstYear=2027, lastYear=2046, indicatorPeriods=[
            {"fromYear": 2027, "period": "rolling-12m:2026-11"},
            {"fromYear": 2029, "period": "rolling-12m:2027-12"},
            {"fromYear": 2040, "period": "rolling-12m:2039-12"}])  # not published yet
        body["pools"][0].update(indexation="0.03",
                                yearAmounts=[{"year": 2033, "amountCents": 7_777_777_77}])
        officer = auth("programme-officer", sub="olga")
        r = await client.post("/v1/programmes", json=body, headers=officer)
        assert r.status_code == 201, r.text
        programme = r.json()
        assert programme["indicatorPeriods"][1]["period"] == "rolling-12m:2027-12"
        scenario = await new_scenario(client, auth, programme["id"])
        r = await client.get(f"/v1/scenarios/{scenario['id']}", headers=analyst)
        totals = r.json()["totals"]
        focus = defaultdict(int)
        for total in totals:
            if total["pool"] == "focus":
                focus[total["year"]] += total["cents"]
        assert focus[2027] == 1_000_000_01 and focus[2028] == 1_030_000_01
        assert focus[2033] == 7_777_777_77
        assert len(set(focus.values())) == 20  # every year its own amount

        async def shares(year: int) -> dict[str, int]:
            r = await client.get(f"/v1/scenarios/{scenario['id']}/lines",
                                 params={"pool": "focus", "year": year}, headers=analyst)
            out: dict[str, int] = defaultdict(int)
            for line in r.json()["items"]:
                out[line["areaCode"]] += line["cents"]
            return out

        first, second = sorted(world_.programme_areas)
        early, late = await shares(2028), await shares(2030)
        r = await client.get(f"/v1/scenarios/{scenario['id']}/lines",
                             params={"pool": "focus", "year": 2028}, headers=analyst)
        assert {line["indicatorPeriod"] for line in r.json()["items"]} == {
            "rolling-12m:2026-11"}
        assert early[first] > early[second] and late[first] < late[second]
        # A period not yet published: the latest received indicators stand in.
        r = await client.get(f"/v1/scenarios/{scenario['id']}/lines",
                             params={"pool": "focus", "year": 2045}, headers=analyst)
        assert {line["indicatorPeriod"] for line in r.json()["items"]} == {
            "rolling-12m:2027-12"}


async def test_floors_are_judged_in_the_leanest_year(start_service, auth, broker):
    world_ = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world_)
        body = world_.programme(floorCents=400_000_00)  # two focus areas: 800,000.00 a year
        body["pools"][0]["yearAmounts"] = [{"year": 2028, "amountCents": 700_000_00}]
        r = await client.post("/v1/programmes", json=body, headers=auth("programme-officer"))
        assert r.status_code == 422, r.text
        assert (r.json()["constraint"], r.json()["shortfallCents"]) == ("floors", 100_000_00)


async def test_scenarios_of_a_programme_come_in_pages(start_service, auth, broker):
    world_ = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world_)
        r = await client.post("/v1/programmes", json=world_.programme(),
                              headers=auth("programme-officer"))
        programme_id = r.json()["id"]
        made = [(await new_scenario(client, auth, programme_id, name=n))["id"]
                for n in ("a", "b", "c")]
        seen, cursor = [], None
        while True:
            r = await client.get(f"/v1/programmes/{programme_id}/scenarios", params={
                "limit": 2, **({"cursor": cursor} if cursor else {})}, headers=auth("analyst"))
            assert r.status_code == 200, r.text
            seen += [s["id"] for s in r.json()["items"]]
            assert all(s["status"] == "draft" for s in r.json()["items"])
            if (cursor := r.json()["nextCursor"]) is None:
                break
        assert seen == made
