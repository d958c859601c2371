"""Indicators over HTTP: aggregation up the hierarchy, periods, rankings, disclosure control."""

from __future__ import annotations

from typing import Any

import fastapi.routing

from services.indicators.cellkey import MAX_NOISE
from services.indicators.computation.periods import GRACE_DAYS, latest_final_period
from services.indicators.reporting.service import area_indicators
from services.indicators.tests.helpers import (
    households,
    record_all,
    recorded,
    small_register,
    value,
)
from shared.db import utcnow
from shared.fastpath import declared_handlers
from tests.apps import app_of

RATE = "signalled-households-per-100-corporation-dwellings"
PERIOD = {"period": "rolling-12m:2026-11"}


async def _seed(svc, admin) -> None:
    await small_register(svc.client, admin)
    signals = households("BU03440101", 12)
    signals += [recorded("BU03440101", f"hh-BU03440101-{i}", category="nuisance")
                for i in range(3)]  # three households stack two categories
    signals += households("BU03440102", 2) + households("BU03440103", 9)
    signals += households("BU03440201", 20, severity="acute")
    await record_all(svc.runtime, signals)


async def _get(svc, code, headers, **params):
    r = await svc.client.get(f"/v1/areas/{code}/indicators", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_counts_and_denominators_are_summed_up_the_hierarchy(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        await _seed(svc, admin)
        expected = {"BU03440101": 12, "WK034401": 23, "GM0344": 43, "NL00": 43, "PA-test": 32}
        for code, n in expected.items():
            body = await _get(svc, code, admin, **PERIOD)
            assert body["raw"] is True
            assert value(body, "signalled-households")["value"] == n, code
        buurt = await _get(svc, "BU03440101", admin, **PERIOD)
        assert value(buurt, "signals")["value"] == 15
        assert value(buurt, RATE)["value"] == 12.0
        assert value(buurt, "stacked-households-pct")["value"] == 25.0
        assert value(buurt, f"{RATE}.nuisance")["value"] == 3.0
        # A rate of a wijk comes from summed counts and dwellings, not from averaged rates.
        wijk = await _get(svc, "WK034401", admin, **PERIOD)
        assert value(wijk, RATE)["value"] == round(23 / 300 * 100, 2)
        programme = await _get(svc, "PA-test", admin, **PERIOD)
        assert value(programme, RATE)["value"] == 16.0
        assert value(programme, "low-income-households-pct")["value"] == 10.0
        acute = await _get(svc, "GM0344", admin, **PERIOD)
        assert value(acute, "acute-escalations")["value"] == 20


async def test_non_admins_get_disclosure_controlled_values(indicators, auth):
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        small = await _get(svc, "BU03440102", analyst, **PERIOD)
        assert small["raw"] is False
        cell = value(small, "signalled-households")
        assert cell == {"indicatorId": "signalled-households", "value": None,
                        "suppressed": True, "reason": "small-count"}
        assert value(small, RATE)["reason"] == "small-count"
        # Wijk 23 = 12 + 2 + 9: hiding only the 2 would give it away, so 9 goes too.
        sibling = await _get(svc, "BU03440103", analyst, **PERIOD)
        assert value(sibling, "signalled-households")["reason"] == "secondary"
        assert value(sibling, RATE)["reason"] == "secondary"
        big = await _get(svc, "BU03440101", analyst, **PERIOD)
        published = value(big, "signalled-households")["value"]
        assert abs(published - 12) <= MAX_NOISE  # 12 with the cell-key noise
        assert abs(value(big, "signals")["value"] - 15) <= MAX_NOISE
        assert value(big, RATE)["value"] == published  # from the published count (of 100)
        assert value(big, "stacked-households-pct")["reason"] == "small-denominator"
        # Last year had none: the trend is this year's published rate.
        assert value(big, "signalled-households-trend")["value"] == published
        again = await _get(svc, "BU03440101", analyst, **PERIOD)
        assert again["values"] == big["values"]  # the same cells, the same noise
        assert value(big, "low-income-households-pct")["value"] == 10.0  # open data as is
        counts = (await svc.client.get("/v1/areas/BU03440102/signal-counts",
                                       headers=analyst)).json()
        assert counts["signals"] is None and counts["raw"] is False


async def test_calendar_months_and_series(indicators, auth):
    admin, officer = auth("admin"), auth("programme-officer", "demo-programme")
    async with indicators() as svc:
        await _seed(svc, admin)
        await record_all(svc.runtime, households("BU03440201", 6, observed="2026-08-02"))
        october = await _get(svc, "BU03440201", officer, period="month:2026-10")
        assert abs(value(october, "signalled-households")["value"] - 20) <= MAX_NOISE
        r = await svc.client.get(
            "/v1/areas/BU03440201/indicators/signalled-households/series",
            params={"until": "month:2026-11", "count": 4}, headers=officer)
        assert r.status_code == 200, r.text
        points = [(p["period"], p["value"]) for p in r.json()["points"]]
        assert [p for p, _ in points] == ["month:2026-08", "month:2026-09", "month:2026-10",
                                          "month:2026-11"]
        truth = [6, 0, 20, 0]
        assert all(abs(v - n) <= MAX_NOISE for (_, v), n in zip(points, truth, strict=True))
        # Each point is what its own period publishes.
        assert points[2][1] == value(october, "signalled-households")["value"]
        r = await svc.client.get("/v1/areas/BU03440201/indicators",
                                 params={"period": "week:2026-11"}, headers=officer)
        assert r.status_code == 400


async def test_ranking_and_vulnerability_index(indicators, auth):
    admin, partner = auth("admin"), auth("partner", "demo-partner")
    async with indicators() as svc:
        await _seed(svc, admin)
        r = await svc.client.get("/v1/indicators", headers=partner, params={
            "level": "buurt", "indicator": RATE, **PERIOD})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(i["areaCode"], i["rank"]) for i in items[:2]] == [
            ("BU03440201", 1), ("BU03440101", 2)]
        assert all(i["rank"] is None for i in items[2:])
        r = await svc.client.get("/v1/vulnerability-index", params=PERIOD, headers=partner)
        assert r.status_code == 200, r.text
        index = r.json()
        assert index["methodVersion"]
        ranked = [i for i in index["items"] if i["rank"] is not None]
        assert [i["rank"] for i in ranked] == list(range(1, len(ranked) + 1))
        assert set(ranked[0]["alternativeRanks"]) == {"min-max", "percentile-rank"}
        body = await _get(svc, "BU03440201", partner, **PERIOD)
        assert body["vulnerabilityIndex"]["areaCode"] == "BU03440201"
        definitions = (await svc.client.get("/v1/indicator-definitions",
                                            headers=partner)).json()["items"]
        assert {d["id"] for d in definitions} >= {RATE, "stacked-households-pct"}
        assert all(d["direction"] in ("higher-is-worse", "lower-is-worse") for d in definitions)


async def test_a_ranking_is_read_in_pages_that_make_up_the_whole(indicators, auth):
    """A national buurt ranking is 14,000 areas (1.5 MB): a console or dashboard reads it a
    page at a time. The pages, followed by their cursors, are the whole ranking."""
    partner = auth("partner", "demo-partner")
    async with indicators() as svc:
        await _seed(svc, auth("admin"))
        params = {"level": "buurt", "indicator": RATE, **PERIOD}
        whole = await svc.client.get("/v1/indicators", headers=partner, params=params)
        assert whole.status_code == 200 and whole.json()["nextCursor"] is None
        items, cursor, pages = [], None, 0
        while True:
            r = await svc.client.get("/v1/indicators", headers=partner, params={
                **params, "limit": 2, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            page = r.json()
            assert len(page["items"]) <= 2 and r.headers["ETag"]
            assert {k: v for k, v in page.items() if k not in ("items", "nextCursor")} == {
                k: v for k, v in whole.json().items() if k not in ("items", "nextCursor")}
            items += page["items"]
            pages += 1
            cursor = page["nextCursor"]
            if cursor is None:
                break
        assert items == whole.json()["items"] and pages == -(-len(items) // 2) > 1

        for limit in (0, 1001):
            r = await svc.client.get("/v1/indicators", headers=partner, params={
                **params, "limit": limit})
            assert r.status_code == 400
            assert [p["name"] for p in r.json()["invalidParams"]] == ["query.limit"]
        for forged in ("bm9uc2Vuc2U", "WyJ4Il0", "Wy0xXQ"):  # not JSON, ["x"], [-1]
            r = await svc.client.get("/v1/indicators", headers=partner, params={
                **params, "cursor": forged})
            assert r.status_code == 400, forged
            assert [p["name"] for p in r.json()["invalidParams"]] == ["query.cursor"]


def test_the_contract_names_exactly_the_indicators_where_lower_is_worse():
    """Funding turns indicators into need by this list; it must follow our definitions."""
    from services.indicators.composite import Direction
    from services.indicators.computation.definitions import DEFINITIONS
    from shared.contracts.indicators import LOWER_IS_WORSE

    assert {d.id for d in DEFINITIONS if d.direction is Direction.LOWER_IS_WORSE} == LOWER_IS_WORSE


async def test_the_busiest_reads_check_the_token_themselves(indicators, auth):
    """An area's indicators and a ranking check the token in the endpoint, not as FastAPI
    dependencies: the same refusals, and the same security in the OpenAPI document."""
    reads = [("/v1/areas/BU03440101/indicators", {}),
             ("/v1/indicators", {"level": "buurt", "indicator": RATE, "limit": 5})]
    current = {"period": f"rolling-12m:{utcnow():%Y-%m}"}
    async with indicators() as svc:
        await _seed(svc, auth("admin"))
        for path, params in reads:
            anonymous = await svc.client.get(path, params=params)
            assert anonymous.status_code == 401, path
            assert anonymous.headers["www-authenticate"] == "Bearer"
            assert anonymous.headers["content-type"] == "application/problem+json"
            for bad in ("Bearer x.y.z", "Basic eDp5"):
                refused = await svc.client.get(path, params=params,
                                               headers={"Authorization": bad})
                assert refused.status_code == 401, (path, bad)
            # Those who record signals read every organisation's figures of final periods
            # only: the open current period stays refused.
            worker = await svc.client.get(path, params={**params, **current},
                                          headers=auth("field-worker"))
            assert worker.status_code == 403, (path, worker.text)
            analyst = await svc.client.get(path, params=params, headers=auth("analyst"))
            assert analyst.status_code == 200, path
        document = (await svc.client.get("/v1/openapi.json")).json()
        for path in ("/areas/{code}/indicators", "/indicators"):
            assert document["paths"][path]["get"]["security"] == [{"HTTPBearer": []}], path


async def test_the_busiest_reads_answer_as_declared(indicators, auth, monkeypatch):
    """An area's indicators and a ranking serve their plainly valid requests without
    FastAPI's request handler (shared.fastpath.fast_params): every request, valid or not,
    gets the answer the declared route gives (status, body, ETag), whoever asks, and the
    valid ones never reach FastAPI's parameter solving."""
    current = f"rolling-12m:{utcnow():%Y-%m}"
    area, ranking = "/v1/areas/{}/indicators", "/v1/indicators"
    plain = {"level": "buurt", "indicator": RATE}
    requests: list[tuple[str, Any, bool]] = [  # path, query, skips FastAPI's handler
        (area.format("BU03440101"), {}, True),
        (area.format("GM0344"), {"period": current}, True),
        (area.format("PA-test"), {"period": "month:2026-01"}, True),
        (area.format("BU99999999"), {}, True),  # not registered: a 404
        (area.format("NL00"), {"period": "rolling-12m:1999-01"}, True),  # before the data
        (area.format("bu03440101"), {}, False),
        (area.format("BU03440101%0A"), {}, False),
        (area.format("BU0344010"), {}, False),
        (area.format("BU03440101"), {"period": ""}, False),
        (area.format("BU03440101"), {"period": "month:2026-13"}, False),
        (area.format("BU03440101"), {"period": "month:2026-1\n"}, False),
        (area.format("BU03440101"), [("period", current), ("period", current)], False),
        (area.format("BU03440101"), {"other": "1"}, True),  # the query guard's 400
        (ranking, plain, True),
        (ranking, {**plain, "limit": "5"}, True),
        (ranking, {**plain, "limit": "0005"}, True),
        (ranking, {**plain, "limit": "1000", "period": current}, True),
        (ranking, {**plain, "indicator": "unknown"}, True),  # a 400 of the endpoint's
        (ranking, {**plain, "indicator": "x" * 100}, True),
        (ranking, {**plain, "cursor": "garbage"}, True),
        (ranking, {**plain, "limit": "2", "cursor": "x" * 40}, True),
        (ranking, {"level": "wijk", "indicator": "signals", "limit": "1"}, True),
        (ranking, {**plain, "indicator": "x" * 101}, False),
        (ranking, {**plain, "cursor": "x" * 41}, False),
        (ranking, {**plain, "level": "country"}, False),
        (ranking, {**plain, "level": "buurt\n"}, False),
        (ranking, {"indicator": RATE}, False),
        (ranking, {"level": "buurt"}, False),
        *((ranking, {**plain, "limit": limit}, False)
          for limit in ("0" * 5000 + "5", "1" * 5000, "0", "1001", "-1", "+5", " 5", "5.0",
                        "1_0", "\u0665", "", "x", "00005")),
        (ranking, [*plain.items(), ("limit", "1"), ("limit", "2")], False),
    ]
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved.append("solved")
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    callers = [auth("analyst"), auth("admin"), {}, {"Authorization": "Bearer x.y.z"}]
    async with indicators() as svc:
        await _seed(svc, auth("admin"))
        nxt = (await svc.client.get(ranking, params={**plain, "limit": 1},
                                    headers=auth("analyst"))).json()["nextCursor"]
        requests.append((ranking, {**plain, "limit": "1", "cursor": nxt}, True))

        async def answers() -> list[tuple[int, bytes, str | None]]:
            seen = []
            for path, query, skips in requests:
                for who in callers:
                    solved.clear()
                    r = await svc.client.get(path, params=query, headers=who)
                    seen.append((r.status_code, r.content, r.headers.get("etag")))
                    assert (solved == []) is skips, (path, query, r.status_code)
            return seen

        fast = await answers()
        with declared_handlers(app_of(svc.client)) as served:
            assert served == 2
            monkeypatch.setattr(fastapi.routing, "solve_dependencies", solve)
            declared = [(r.status_code, r.content, r.headers.get("etag"))
                        for path, query, _ in requests for who in callers
                        for r in [await svc.client.get(path, params=query, headers=who)]]
    for (path, query, _), pair in zip([r for r in requests for _ in callers],
                                      zip(fast, declared, strict=True), strict=True):
        assert pair[0] == pair[1], (path, query)
    assert {status for status, _, _ in fast} == {200, 400, 401, 404}


async def test_an_answer_of_a_final_period_is_the_models_json(indicators, auth):
    """An area's answer is made from plain dictionaries: it is the JSON of its model, the
    moment a final period's public figures count until (`dataUntil`) included."""
    analyst, admin = auth("analyst"), auth("admin")
    final = latest_final_period(utcnow(), GRACE_DAYS)
    async with indicators() as svc:
        await small_register(svc.client, admin)
        await record_all(svc.runtime, households("BU03440101", 12,
                                                 observed=f"{final.last_month}-02"))
        computation = await svc.runtime.reader.get(final)
        for code in ("BU03440101", "BU03440201", "WK034401", "GM0344", "NL00", "PA-test"):
            for raw, who in ((False, analyst), (True, admin)):
                r = await svc.client.get(f"/v1/areas/{code}/indicators", headers=who,
                                         params={"period": str(final)})
                assert r.status_code == 200, r.text
                made = area_indicators(computation, code, raw)
                assert r.json() == made.model_dump(mode="json", by_alias=True), (code, raw)
                assert (r.json()["dataUntil"] is None) is raw
