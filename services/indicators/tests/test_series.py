"""Series are paginated: `limit` periods a page (1-24), `nextCursor` for the next; a request
computes at most `limit` periods (and one more only to tell an unknown area), and reads
only the area's stored rows of periods the reader does not hold."""

from __future__ import annotations

import time
from typing import Any

from services.indicators.computation import service as computation
from services.indicators.snapshots import store
from services.indicators.tests.helpers import households, record_all, small_register

RATE = "signalled-households-per-100-corporation-dwellings"
SERIES = "/v1/areas/BU03440101/indicators/signalled-households/series"


async def _seed(svc: Any, admin: dict[str, str]) -> None:
    await small_register(svc.client, admin)  # statistics of 2026: data from 2026-01
    for month in ("2026-02", "2026-06", "2026-10"):
        await record_all(svc.runtime, households("BU03440101", 7, observed=f"{month}-10"))


def _counting(monkeypatch: Any) -> list[str]:
    """Every full computation the service runs, by period."""
    seen: list[str] = []
    original = computation.compute_period

    async def counted(session: Any, period: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(period))
        return await original(session, period, *args, **kwargs)

    monkeypatch.setattr(computation, "compute_period", counted)
    return seen


async def test_a_series_is_read_page_by_page(indicators, auth, monkeypatch):
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        computed = _counting(monkeypatch)
        params: dict[str, Any] = {"until": "month:2026-11", "count": 36, "limit": 4}
        pages, cursor = [], None
        while True:
            computed.clear()
            r = await svc.client.get(SERIES, headers=analyst,
                                     params={**params, **({"cursor": cursor} if cursor else {})})
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(computed) <= 4  # the documented bound: `limit` computations
            assert body["items"] == body["points"]
            pages.append([p["period"] for p in body["items"]])
            cursor = body["nextCursor"]
            if cursor is None:
                break
        # 36 months back reach 2023-12, but the data start in 2026-01: 11 periods, 3 pages.
        assert [len(p) for p in pages] == [4, 4, 3]
        periods = [p for page in pages for p in page]
        assert periods == [f"month:2026-{m:02d}" for m in range(1, 12)]


async def test_the_default_series_is_one_page(indicators, auth):
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        r = await svc.client.get(SERIES, headers=analyst,
                                 params={"until": "rolling-12m:2026-11"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) == 11 and body["nextCursor"] is None  # 2026-01 .. 2026-11
        assert body["items"][-1]["period"] == "rolling-12m:2026-11"


async def test_page_parameters_out_of_range_are_named(indicators, auth):
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        for params, name in (({"limit": 25}, "query.limit"), ({"limit": 0}, "query.limit"),
                             ({"count": 37}, "query.count"),
                             ({"cursor": "not-a-cursor"}, "query.cursor")):
            r = await svc.client.get(SERIES, headers=analyst,
                                     params={"until": "month:2026-11", **params})
            assert r.status_code == 400, r.text
            assert [p["name"] for p in r.json()["invalidParams"]] == [name], params
        # A cursor of another series (ending elsewhere) is not one of this series.
        first = (await svc.client.get(SERIES, headers=analyst, params={
            "until": "month:2026-11", "limit": 2})).json()
        r = await svc.client.get(SERIES, headers=analyst, params={
            "until": "month:2026-02", "count": 2, "cursor": first["nextCursor"]})
        assert r.status_code == 400, r.text
        assert r.json()["invalidParams"][0]["name"] == "query.cursor"


async def test_an_unknown_area_is_still_a_404(indicators, auth, monkeypatch):
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        computed = _counting(monkeypatch)
        r = await svc.client.get("/v1/areas/BU09999999/indicators/signals/series",
                                 headers=analyst, params={"until": "month:2026-11", "limit": 3})
        assert r.status_code == 404, r.text
        assert len(computed) <= 3 + 1


async def test_a_series_read_again_loads_no_period_whole(indicators, auth, monkeypatch):
    """A series of 11 months loaded 11 whole periods into the reader, which holds 8, so each
    read loaded some of them whole again: nationally 1.7 s a read, /livez held for 96 ms.
    Now a stored period that is not held gives only the area's row, the same figures."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        await _seed(svc, admin)
        params = {"until": "rolling-12m:2026-11"}
        first = await svc.client.get(SERIES, headers=analyst, params=params)
        assert first.status_code == 200, first.text
        assert len(first.json()["items"]) > svc.runtime.reader.held  # not all held
        whole: list[str] = []
        rows_since = store.rows_since

        async def counted(session: Any, period: str, seq: int, *args: Any, **kw: Any) -> Any:
            if seq == 0:
                whole.append(period)
            return await rows_since(session, period, seq, *args, **kw)

        monkeypatch.setattr(store, "rows_since", counted)
        again = await svc.client.get(SERIES, headers=analyst, params=params)
    assert again.status_code == 200 and again.json() == first.json()
    assert whole == []


async def test_periods_never_stored_are_asked_for_together_and_waited_for_once(
        indicators, auth):
    """A page of months nobody stored yet: all asked of the worker at once, and waited for
    `snapshot_wait_s` in all (not per period), then a 503 to try again."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators(snapshot_worker="off", snapshot_wait_s=0.5) as svc:
        await small_register(svc.client, admin)
        started = time.monotonic()
        r = await svc.client.get(SERIES, headers=analyst,
                                 params={"until": "month:2026-11", "limit": 6})
        waited = time.monotonic() - started
        async with svc.runtime.sessions() as session:
            asked = await store.requests(session)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "10"
    assert "month:2026-01, month:2026-02" in r.json()["detail"]  # the first page: oldest
    assert 0.5 <= waited < 1.5
    assert sorted(asked) == [f"month:2026-{m:02d}" for m in range(1, 7)]
