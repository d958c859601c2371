"""Answers of the stored snapshots: the bytes readers are answered with, kept per stored
state with their ETag, are the answers made from the figures held."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from services.indicators.computation.periods import current_period, parse_period
from services.indicators.models import IndicatorSnapshot
from services.indicators.reporting import rankings, service
from services.indicators.reporting.service import area_indicators, ranking
from services.indicators.snapshots import store
from services.indicators.snapshots.state import AreaRow
from services.indicators.tests.helpers import (
    area_answer,
    households,
    kept_etag,
    record_all,
    small_register,
)
from shared import http_cache
from shared.areacodes import AreaLevel
from shared.db import utcnow
from tests.helpers import eventually


async def test_a_ranking_answer_is_the_ranking_of_the_stored_figures(indicators, auth):
    async with indicators() as svc:
        await small_register(svc.client, auth("admin"))
        signals = [*households("BU03440101", 12), *households("BU03440102", 3),
                   *households("BU03440201", 30)]
        await record_all(svc.runtime, signals)
        for who in ("analyst", "admin"):
            r = await svc.client.get("/v1/indicators", headers=auth(who), params={
                "level": "buurt", "indicator": "signals", "period": "rolling-12m:2026-10"})
            assert r.status_code == 200, r.text
            computation = await svc.runtime.reader.get(
                parse_period("rolling-12m:2026-10"))
            expected = ranking(computation, AreaLevel.BUURT, "signals", who == "admin")
            assert r.json() == expected.model_dump(mode="json", by_alias=True)
            ranks = [i["rank"] for i in r.json()["items"] if i["rank"] is not None]
            assert ranks == list(range(1, len(ranks) + 1)) and ranks
            # Its ETag, made with the kept bytes, is the hash of the bytes sent.
            assert r.headers["ETag"] == kept_etag(r)
            again = await svc.client.get("/v1/indicators", headers={
                **auth(who), "If-None-Match": r.headers["ETag"]}, params={
                "level": "buurt", "indicator": "signals", "period": "rolling-12m:2026-10"})
            assert again.status_code == 304 and again.content == b""
            # So are its pages' (kept too), each of its own page.
            tags = set()
            for _ in range(2):
                cursor: dict[str, str] = {}
                while True:
                    page = await svc.client.get("/v1/indicators", headers=auth(who), params={
                        "level": "buurt", "indicator": "signals", "limit": 2, **cursor,
                        "period": "rolling-12m:2026-10"})
                    assert page.headers["ETag"] == kept_etag(page)
                    tags.add(page.headers["ETag"])
                    if page.json()["nextCursor"] is None:
                        break
                    cursor = {"cursor": page.json()["nextCursor"]}
            assert len(tags) == (len(r.json()["items"]) + 1) // 2
        r = await svc.client.get("/v1/indicators", headers=auth("analyst"), params={
            "level": "buurt", "indicator": "nonsense"})
        assert r.status_code == 400


async def test_an_area_answer_is_the_stored_area_and_follows_its_index(indicators, auth):
    """Answers are kept as bytes per stored area: each is the answer made from the figures
    held, after a change to the area's own row and after one that moves only its index."""
    analyst, admin = auth("analyst"), auth("admin")
    codes = ["BU03440101", "BU03440102", "BU03440103", "WK034401", "GM0344", "PA-test"]
    period = current_period(utcnow())

    async def answers() -> dict[tuple[str, bool], dict[str, Any]]:
        seen = {}
        for code in codes:
            for raw, who in ((False, analyst), (True, admin)):
                body = await area_answer(svc.client, code, who)
                computation = await svc.runtime.reader.get(period)
                made = area_indicators(computation, code, raw)
                assert body == made.model_dump(mode="json", by_alias=True), (code, raw)
                seen[code, raw] = body
        return seen

    async with indicators() as svc:
        await small_register(svc.client, admin)
        await record_all(svc.runtime, [*households("BU03440101", 12),
                                       *households("BU03440102", 20)])
        before = await answers()
        path = "/v1/areas/BU03440102/indicators"
        old_tag = (await svc.client.get(path, headers=analyst)).headers["ETag"]
        # Another buurt's signals: BU03440102's own row stays, its place in the index moves.
        await record_all(svc.runtime, households("BU03440103", 40))
        await asyncio.sleep(svc.runtime.reader.refresh_s)
        after = await answers()
        # The answer's kept ETag moved with it: the old one gets the new answer, the new
        # one a 304.
        r = await svc.client.get(path, headers={**analyst, "If-None-Match": old_tag})
        assert r.status_code == 200 and r.headers["ETag"] != old_tag
        again = await svc.client.get(path, headers={**analyst,
                                                    "If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304 and again.content == b""
    index = "vulnerabilityIndex"
    assert after["BU03440102", False][index] != before["BU03440102", False][index]
    assert after["BU03440102", False]["values"] == before["BU03440102", False]["values"]


async def test_an_areas_answer_goes_gzipped_to_who_accepts_it(indicators, auth, monkeypatch):
    """Kept answers are compressed once (shared.compression): the same figures either way,
    and a copy kept either way validates the other. (National answers of this size go as
    they are: the bound is lowered to the small register's.)"""
    monkeypatch.setattr(http_cache, "MIN_BYTES", 1024)
    async with indicators() as svc:
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, households("BU03440101", 12))
        url = "/v1/areas/WK034401/indicators"
        plain = await svc.client.get(url, headers={**auth("analyst"),
                                                   "Accept-Encoding": "identity"})
        packed = await svc.client.get(url, headers={**auth("analyst"),
                                                    "Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.content == plain.content and plain.json()["areaCode"] == "WK034401"
    assert int(packed.headers["Content-Length"]) < len(plain.content) / 2
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"] == kept_etag(packed)
    for r in (plain, packed):
        assert "Accept-Encoding" in r.headers["Vary"]


async def test_the_vulnerability_index_is_kept_once_per_stored_version(
        indicators, auth, monkeypatch):
    """Made per request, the index of 14,000 buurten held the event loop for 88 ms: now it is
    made once per stored version, a part at a time, the same as made at once."""
    made: list[str] = []
    make = rankings._make_index

    async def counted(computation):
        made.append(str(computation.period))
        return await make(computation)

    monkeypatch.setattr(rankings, "_make_index", counted)
    async with indicators() as svc:
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, [*households("BU03440101", 12),
                                       *households("BU03440201", 30)])
        period = "rolling-12m:2026-10"
        computation = await svc.runtime.reader.get(parse_period(period))
        expected = service.vulnerability_index(computation).model_dump(mode="json",
                                                                      by_alias=True)
        assert expected["items"] and expected["rankStability"]
        for who in ("analyst", "admin", "partner"):
            r = await svc.client.get("/v1/vulnerability-index", params={"period": period},
                                     headers=auth(who, "demo-partner" if who == "partner"
                                                  else "demo-corp-a"))
            assert r.status_code == 200, r.text
            assert r.json() == expected and list(r.json()) == list(expected)  # key order
            assert r.headers["ETag"] == kept_etag(r)
    assert made == [period]  # every caller, one stored version: made once


async def test_a_kept_ranking_and_index_follow_their_period(indicators, auth):
    """A kept answer is made again when its period changed. (The reader that started the
    making got the previous answer back and nobody took the new one in: the first ranking
    and index were answered until they dropped out of the cache.)"""
    async with indicators() as svc:
        svc.runtime.rankings.min_age_s = 0.0
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, households("BU03440101", 12))
        params = {"level": "buurt", "indicator": "signals", "period": "rolling-12m:2026-10"}

        async def read() -> tuple[dict[str, Any], dict[str, Any]]:
            ranking = await svc.client.get("/v1/indicators", headers=auth("analyst"),
                                           params=params)
            index = await svc.client.get("/v1/vulnerability-index", headers=auth("analyst"),
                                         params={"period": params["period"]})
            return ranking.json(), index.json()

        before = await read()
        await record_all(svc.runtime, households("BU03440201", 30))
        computation = await svc.runtime.reader.get(parse_period(params["period"]))
        expected = (ranking(computation, AreaLevel.BUURT, "signals", False)
                    .model_dump(mode="json", by_alias=True),
                    service.vulnerability_index(computation).model_dump(mode="json",
                                                                       by_alias=True))
        assert expected != before

        async def current() -> bool:
            return await read() == expected

        assert await eventually(current, timeout_s=5)


async def test_public_answers_are_not_made_again_when_only_raw_values_moved(
        indicators, auth, monkeypatch):
    """Under intake the worker stores raw values several times a second, public cells only
    when a protection changed them. An analyst's ranking (14,000 buurten) and areas' public
    answers were made again at every stored row, as the same bytes: they are now kept until
    a public cell changes. A late signal in a final period moves raw values only."""
    made: list[bool] = []
    make = rankings._make

    async def counted(computation, level, indicator, raw, higher_is_worse):
        made.append(raw)
        return await make(computation, level, indicator, raw, higher_is_worse)

    monkeypatch.setattr(rankings, "_make", counted)
    areas_made: list[tuple[str, bool]] = []
    area_json = service._area_json

    def counted_area(computation, code, result, raw):
        areas_made.append((code, raw))
        return area_json(computation, code, result, raw)

    monkeypatch.setattr(service, "_area_json", counted_area)
    params = {"level": "buurt", "indicator": "signals", "period": "rolling-12m:2026-10"}
    area = "/v1/areas/BU03440101/indicators"
    async with indicators() as svc:
        svc.runtime.rankings.min_age_s = 0.0
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, households("BU03440101", 12))

        async def read(who: str) -> tuple[httpx.Response, httpx.Response]:
            return (await svc.client.get("/v1/indicators", headers=auth(who), params=params),
                    await svc.client.get(area, headers=auth(who),
                                         params={"period": params["period"]}))

        public, raw = await read("analyst"), await read("admin")
        assert made == [False, True] and areas_made == [("BU03440101", False),
                                                        ("BU03440101", True)]
        late = [s.model_copy(update={"recorded_at": utcnow()})
                for s in households("BU03440101", 5, observed="2026-10-20")]
        await record_all(svc.runtime, late)
        await asyncio.sleep(svc.runtime.reader.refresh_s)

        async def raw_moved() -> bool:  # the reader that asks first gets the previous one
            return all(a.json() != b.json() for a, b in zip(await read("admin"), raw,
                                                            strict=True))

        assert await eventually(raw_moved, timeout_s=5)  # the late signals count raw
        public_after = await read("analyst")
        assert [r.content for r in public_after] == [r.content for r in public]
        assert made.count(False) == 1 and made.count(True) >= 2
        assert ("BU03440101", False) not in areas_made[2:]
        # A change to public cells makes them again.
        await record_all(svc.runtime, households("BU03440102", 20))
        await asyncio.sleep(svc.runtime.reader.refresh_s)

        async def public_moved() -> bool:
            return (await read("analyst"))[0].json() != public[0].json()

        assert await eventually(public_moved, timeout_s=5)
        assert made.count(False) == 2


async def test_kept_public_answers_follow_a_change_of_public_cells_alone(indicators, auth):
    """A row whose public cells changed, stored without a new index (so nothing else drops
    the area's kept answers), makes its public area answer and ranking again."""
    period = "rolling-12m:2026-10"
    area = "/v1/areas/BU03440102/indicators"
    params = {"level": "buurt", "indicator": "signals", "period": period}
    async with indicators() as svc:
        svc.runtime.rankings.min_age_s = 0.0
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, households("BU03440101", 12))

        async def read() -> tuple[dict[str, Any], dict[str, Any]]:
            one = await svc.client.get(area, headers=auth("analyst"), params={"period": period})
            ranking = await svc.client.get("/v1/indicators", headers=auth("analyst"),
                                           params=params)
            return one.json(), ranking.json()

        before = await read()
        held = await svc.runtime.reader.get(parse_period(period))
        async with svc.runtime.sessions() as session:
            rows = await store.area_rows(session, "BU03440101", [period])
            own = await store.area_rows(session, "BU03440102", [period])
        # BU03440102 gets BU03440101's public cells, its own raw values, and no new index.
        level, public, _ = rows[period]
        async with svc.runtime.sessions() as session, session.begin():
            await store.write(session, period, [AreaRow(
                "BU03440102", level, public.encode(), own[period][2].encode(), "changed")],
                whole=False, index_json=None, computed_at=utcnow(),
                data_until=held.data_until, method_version=held.method_version)

        async def moved() -> bool:
            after = await read()
            return (after[0]["values"] != before[0]["values"]
                    and after[1]["items"] != before[1]["items"])

        assert await eventually(moved, timeout_s=5)


async def test_the_kept_index_follows_an_index_stored_alone(indicators, auth):
    """An index stored without any row makes the kept vulnerability index again."""
    period = "rolling-12m:2026-10"
    async with indicators() as svc:
        svc.runtime.rankings.min_age_s = 0.0
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, [*households("BU03440101", 12),
                                       *households("BU03440201", 30)])

        async def read() -> dict[str, Any]:
            r = await svc.client.get("/v1/vulnerability-index", headers=auth("analyst"),
                                     params={"period": period})
            return dict(r.json())

        before = await read()
        held = await svc.runtime.reader.get(parse_period(period))
        async with svc.runtime.sessions() as session:
            index = orjson.loads(await session.scalar(
                select(IndicatorSnapshot.vulnerability_index)
                .where(IndicatorSnapshot.period == period)) or "{}")
        for entry in index["areas"].values():
            entry[1] = 99  # every rank
        async with svc.runtime.sessions() as session, session.begin():
            await store.write(session, period, [], whole=False, index_json=orjson.dumps(index),
                              computed_at=utcnow(), data_until=held.data_until,
                              method_version=held.method_version)

        async def moved() -> bool:
            after = await read()
            return bool(after["items"]) and all(i["rank"] == 99 for i in after["items"]) \
                and after != before

        assert await eventually(moved, timeout_s=5)
