"""Period parameters are bounded: from the first month with data (a signal fact, or January of
the register's first statistics year) up to the current month; anything else is a 400 problem
naming the parameter, on every read that takes a period."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.indicators.computation.periods import Period, month_index, month_label
from services.indicators.tests.helpers import households, record_all, small_register
from shared.db import utcnow

RATE = "signalled-households-per-100-corporation-dwellings"
SERIES = f"/v1/areas/BU03440101/indicators/{RATE}/series"
# (path, extra query, the period's parameter) of every read that takes a period.
ROUTES = [
    ("/v1/areas/BU03440101/indicators", {}, "period"),
    ("/v1/indicators", {"level": "buurt", "indicator": RATE}, "period"),
    ("/v1/vulnerability-index", {}, "period"),
    (SERIES, {}, "until"),
    ("/v1/area-geometries", {"level": "buurt", "indicator": RATE}, "period"),
]


def _this_month() -> str:
    return utcnow().strftime("%Y-%m")


def _next_month() -> str:
    return month_label(month_index(_this_month()) + 1)


def _out_of_range() -> list[str]:
    # The register's statistics are of 2026 and the first fact is of 2026-10: 2026-01 is the
    # first readable month.
    return ["month:0000-01", "rolling-12m:9999-12", f"month:{_next_month()}",
            f"rolling-12m:{_next_month()}", "month:2025-12"]


MALFORMED = ["month:2026-13", "2026-11", "week:2026-11", "month:2026-1",
             "month:\uff12\uff10\uff12\uff16-11"]  # full-width digits


def _assert_names(r: Any, parameter: str) -> None:
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    names = [p["name"] for p in r.json()["invalidParams"]]
    assert names == [f"query.{parameter}"], r.json()


async def _seed(svc: Any, admin: dict[str, str]) -> None:
    await small_register(svc.client, admin)
    await record_all(svc.runtime, households("BU03440101", 8, observed="2026-10-15"))


@pytest.mark.parametrize(("path", "query", "parameter"), ROUTES)
async def test_every_period_read_refuses_periods_out_of_bounds(indicators, auth, path, query,
                                                               parameter):
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        for period in _out_of_range() + MALFORMED:
            for who in (admin, analyst):
                r = await svc.client.get(path, params={**query, parameter: period},
                                         headers=who)
                _assert_names(r, parameter)
        for period in ("month:2026-01", "rolling-12m:2026-10", f"month:{_this_month()}"):
            r = await svc.client.get(path, params={**query, parameter: period},
                                     headers=analyst)
            assert r.status_code == 200, (period, r.text)


async def test_a_snapshot_refuses_periods_out_of_bounds(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        await _seed(svc, admin)
        for period in _out_of_range() + MALFORMED:
            r = await svc.client.post("/v1/indicator-snapshots", params={"period": period},
                                      headers=admin)
            _assert_names(r, "period")
        r = await svc.client.post("/v1/indicator-snapshots",
                                  params={"period": "month:2026-10"}, headers=admin)
        assert r.status_code == 202, r.text


async def test_the_problem_says_what_the_bounds_are(indicators, auth):
    admin = auth("admin")
    async with indicators() as svc:
        await _seed(svc, admin)
        r = await svc.client.get("/v1/areas/BU03440101/indicators",
                                 params={"period": "month:0000-01"}, headers=admin)
        reason = r.json()["invalidParams"][0]
        assert reason["code"] == "out_of_range"
        assert "2026-01" in reason["reason"] and _this_month() in reason["reason"]


async def test_without_data_only_the_current_month_is_readable(indicators, auth):
    analyst = auth("analyst", "demo-municipality")
    async with indicators() as svc:
        r = await svc.client.get("/v1/vulnerability-index",
                                 params={"period": f"month:{_this_month()}"}, headers=analyst)
        assert r.status_code == 200, r.text
        last_month = month_label(month_index(_this_month()) - 1)
        r = await svc.client.get("/v1/vulnerability-index",
                                 params={"period": f"month:{last_month}"}, headers=analyst)
        _assert_names(r, "period")


async def test_a_late_signal_makes_its_month_readable(indicators, auth):
    """The first month with data is reused for a minute, but a period before it is checked
    against the database again: a late signal's month is readable (within a second)."""
    admin = auth("admin")
    async with indicators(period_bounds_cache_s=60.0) as svc:
        await _seed(svc, admin)
        old = Period("month", "2024-03")
        r = await svc.client.get("/v1/areas/BU03440101/indicators",
                                 params={"period": str(old)}, headers=admin)
        _assert_names(r, "period")
        await record_all(svc.runtime, households("BU03440101", 2, observed="2024-03-10"))
        await asyncio.sleep(1.05)
        r = await svc.client.get("/v1/areas/BU03440101/indicators",
                                 params={"period": str(old)}, headers=admin)
        assert r.status_code == 200, r.text
