"""Scenarios over the real broker: exact lines, CSV, compare, four eyes, recomputation."""

import asyncio
import csv
import io
import uuid
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.funding.apportionment import split_by_theme_and_year
from services.funding.models import Outbox
from services.funding.tests.kafka_helpers import SyntheticWorld, funding_events, publish
from shared.contracts.funding import ALLOCATION_COMPUTED, ALLOCATION_PUBLISHED
from shared.contracts.indicators import INDICATOR_SNAPSHOT_PUBLISHED, IndicatorSnapshotPublished
from shared.tests.test_tracing import Collector
from tests.apps import runtime_of
from tests.helpers import eventually


async def loaded(client, auth, broker, world: SyntheticWorld) -> None:
    """Publish the world's areas and indicators and wait until funding has them all."""
    await publish(broker.bootstrap_servers, world.area_events() + world.indicator_events())
    analyst = auth("analyst")
    last_buurt = world.others[-1]

    async def ready():
        area = await client.get(f"/v1/areas/{last_buurt}", headers=analyst)
        pa = await client.get(f"/v1/programme-areas/{sorted(world.programme_areas)[-1]}",
                              headers=analyst)
        inputs = [await client.get(f"/v1/indicator-inputs/{c}", headers=analyst)
                  for w in (1, 2, 3) for c in world.buurten(w)]
        return area.status_code == pa.status_code == 200 and all(
            r.status_code == 200 for r in inputs)

    await eventually(ready)


async def new_programme(client, auth, world, **formula) -> str:
    r = await client.post("/v1/programmes", json=world.programme(**formula),
                          headers=auth("programme-officer", sub="olga"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def new_scenario(
    client, auth, programme_id, name="base", sub="olga", **extra
) -> dict[str, Any]:
    r = await client.post(f"/v1/programmes/{programme_id}/scenarios",
                          json={"name": name, **extra},
                          headers=auth("programme-officer", sub=sub))
    assert r.status_code == 201, r.text
    return r.json()


async def all_lines(client, headers, scenario_id, limit: int = 7,
                    **params) -> list[dict[str, Any]]:
    """Every line of a scenario version, page by page (small pages: the paging is tested)."""
    lines: list[dict[str, Any]] = []
    cursor = None
    while True:
        r = await client.get(f"/v1/scenarios/{scenario_id}/lines", headers=headers, params={
            "limit": limit, **params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        lines += r.json()["items"]
        cursor = r.json()["nextCursor"]
        if cursor is None:
            return lines


async def test_lines_are_exact_and_csv_and_compare_agree(start_service, auth, broker):
    world = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world)
        programme_id = await new_programme(client, auth, world)
        scenario = await new_scenario(client, auth, programme_id)
        lines = await all_lines(client, auth("analyst"), scenario["id"])
        keys = [(li["pool"], li["theme"], li["year"], li["areaCode"]) for li in lines]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        # The scenario answers with its cells' totals; its lines come a page at a time.
        assert "lines" not in scenario
        totals = {(t["pool"], t["theme"], t["year"]): t["cents"] for t in scenario["totals"]}
        assert len(totals) == 2 * 3 * 3
        assert {line["areaCode"] for line in lines if line["pool"] == "focus"} == set(
            world.programme_areas)
        assert {line["areaCode"] for line in lines if line["pool"] == "vulnerable"} == set(
            world.others[:2])  # decile 10 and 8; the decile-3 buurt is not eligible
        shares = {"education": Decimal("0.333333"), "labour-market": Decimal("0.333333"),
                  "safety": Decimal("0.333334")}
        cells: dict[tuple, int] = defaultdict(int)
        for line in lines:
            cells[(line["pool"], line["theme"], line["year"])] += line["cents"]
            assert line["euros"] == f"{line['cents'] // 100}.{line['cents'] % 100:02d}"
            assert line["indicatorMethodVersion"] == "vi-1.0.0"
        for pool, annual in (("focus", 1_000_000_01), ("vulnerable", 333_333_33)):
            split = split_by_theme_and_year(annual * 3, shares, dict.fromkeys(range(2027, 2030),
                                                                             annual))
            for year in range(2027, 2030):
                assert sum(cells[(pool, t, year)] for t in shares) == annual
                for theme in shares:
                    assert cells[(pool, theme, year)] == split.cents(theme, year)
                    assert totals[(pool, theme, year)] == cells[(pool, theme, year)]
        assert scenario["current"]["totalCents"] == 3 * (1_000_000_01 + 333_333_33)

        r = await client.get(f"/v1/scenarios/{scenario['id']}/allocations.csv",
                             headers=auth("analyst"))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert len(rows) == len(lines)
        per_pool_year: dict[tuple, int] = defaultdict(int)
        for row in rows:
            cents = int(row["cents"])
            per_pool_year[(row["pool"], row["year"])] += cents
            assert Decimal(row["euros"]) * 100 == cents and "." in row["euros"]
        assert per_pool_year[("focus", "2028")] == 1_000_000_01
        assert per_pool_year[("vulnerable", "2029")] == 333_333_33

        other = await new_scenario(client, auth, programme_id, name="squared need",
                                   overrides=[{"pool": "focus", "need": {
                                       "indicator": "composite-index", "exponent": "2"}}])
        r = await client.get(f"/v1/scenarios/{scenario['id']}/compare/{other['id']}",
                             headers=auth("analyst"))
        assert r.status_code == 200, r.text
        comparison = r.json()
        assert comparison["totalDifferenceCents"] == 0
        by_area = {a["areaCode"]: a for a in comparison["areas"]}
        pa_a, pa_b = sorted(world.programme_areas)
        assert by_area[pa_a]["differenceCents"] == -by_area[pa_b]["differenceCents"] != 0

        events = await funding_events(broker.bootstrap_servers, scenario["id"], 1)
        assert events[0][0] == ALLOCATION_COMPUTED.type
        assert events[0][1]["totalCents"] == scenario["current"]["totalCents"]


async def test_infeasible_floors_and_caps_are_422_with_the_shortfall(start_service, auth,
                                                                     broker):
    world = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world)
        officer = auth("programme-officer")
        # Two focus areas with a floor of 600,000.00 each: 199,999,99 cents above the pool.
        body = world.programme(floorCents=600_000_00)
        r = await client.post("/v1/programmes", json=body, headers=officer)
        assert r.status_code == 422, r.text
        problem = r.json()
        assert problem["constraint"] == "floors" and problem["pool"] == "focus"
        assert problem["shortfallCents"] == 2 * 600_000_00 - 1_000_000_01
        assert problem["detail"] == (  # Dutch by default; the codes stay as they are
            f"pot 'focus': de ondergrenzen zijn {problem['shortfallCents']} cent meer dan de pot")
        r = await client.post("/v1/programmes", json=world.programme(capCents=400_000_00),
                              headers=officer)
        assert r.status_code == 422 and r.json()["constraint"] == "caps"
        assert r.json()["shortfallCents"] == 1_000_000_01 - 2 * 400_000_00


async def test_four_eyes_approval_immutability_and_publication(start_service, auth, broker):
    world = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world)
        programme_id = await new_programme(client, auth, world)
        scenario = await new_scenario(client, auth, programme_id, sub="olga")
        url = f"/v1/scenarios/{scenario['id']}"
        got = await client.get(url, headers=auth("analyst"))
        tag = got.headers["ETag"]
        both_roles = auth(["programme-officer", "programme-approver"], sub="olga")
        r = await client.post(f"{url}/approval", headers={**both_roles, "If-Match": tag})
        assert r.status_code == 403 and "vier ogen" in r.json()["detail"]
        r = await client.post(f"{url}/approval", headers={**auth("programme-officer",
                                                                  sub="pete"),
                                                           "If-Match": tag})
        assert r.status_code == 403
        approver = auth("programme-approver", sub="anna")
        assert (await client.post(f"{url}/approval", headers=approver)).status_code == 428
        # An edit by an officer makes the approver's copy stale.
        r = await client.post(f"{url}/versions", json={}, headers=auth("programme-officer",
                                                                         sub="pete"))
        assert r.status_code == 201 and r.json()["version"] == 2
        r = await client.post(f"{url}/approval", headers={**approver, "If-Match": tag})
        assert r.status_code == 412
        tag = (await client.get(url, headers=approver)).headers["ETag"]
        r = await client.post(f"{url}/approval", headers={
            **auth("programme-approver", sub="pete"), "If-Match": tag})
        assert r.status_code == 403  # pete edited it
        r = await client.post(f"{url}/approval", headers={**approver, "If-Match": tag})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "approved" and r.json()["approvedBy"] == "anna"
        tag = r.headers["ETag"]
        r = await client.post(f"{url}/versions", json={}, headers=auth("programme-officer"))
        assert r.status_code == 409
        r = await client.post(f"{url}/approval", headers={**approver, "If-Match": tag})
        assert r.status_code == 409
        r = await client.post(f"{url}/publication", headers={**approver, "If-Match": tag})
        assert r.status_code == 200 and r.json()["status"] == "published"
        assert (await client.post(f"{url}/publication", headers={
            **approver, "If-Match": r.headers["ETag"]})).status_code == 409
        history = (await client.get(f"{url}/history", headers=auth("analyst"))).json()
        assert [(e["action"], e["actor"]) for e in history["items"]] == [
            ("scenario-created", "olga"), ("scenario-computed", "olga"),
            ("scenario-edited", "pete"), ("scenario-computed", "pete"),
            ("scenario-approved", "anna"), ("scenario-published", "anna")]
        events = await funding_events(broker.bootstrap_servers, scenario["id"], 3)
        assert [t for t, _ in events] == [ALLOCATION_COMPUTED.type] * 2 + [
            ALLOCATION_PUBLISHED.type]
        assert events[-1][1]["version"] == 2


async def test_indicator_change_recomputes_drafts_once(start_service, auth, broker):
    world = SyntheticWorld()
    async with start_service("funding", recompute_interval_s=0.2) as client:
        await loaded(client, auth, broker, world)
        programme_id = await new_programme(client, auth, world)
        draft = await new_scenario(client, auth, programme_id, name="draft")
        pinned = await new_scenario(client, auth, programme_id, name="pinned", snapshot=[
            {"areaCode": c, "compositeScore": "1.0", "compositeDecile": 9}
            for w in (1, 2, 3) for c in world.buurten(w)])
        assert pinned["version"] == 1
        analyst = auth("analyst")
        focus_buurt = world.buurten(1)[0]
        change = world.indicator_event(focus_buurt, 4.0, world.at + timedelta(minutes=5))
        [event] = await publish(broker.bootstrap_servers, [change])

        async def recomputed():
            r = await client.get(f"/v1/scenarios/{draft['id']}", headers=analyst)
            return r.json() if r.json()["version"] == 2 else None

        current = await eventually(recomputed)
        assert current["current"]["reason"] == "indicators-changed"
        # Redelivery of the same event and a late, older computation change nothing.
        await publish(broker.bootstrap_servers, [change], reuse=event)
        await publish(broker.bootstrap_servers, [world.indicator_event(
            focus_buurt, 0.1, world.at - timedelta(days=1))])
        # A marker for another buurt the draft considered, keyed like the focus buurt so it
        # lands on the same partition after the two ignored events: once it is applied, they
        # were too.
        marker_code = world.buurten(3)[2]
        marker_type, marker_data, _ = world.indicator_event(marker_code, 0.2, world.at)
        await publish(broker.bootstrap_servers, [(marker_type, marker_data, focus_buurt)])

        async def marker_seen():
            r = await client.get(f"/v1/indicator-inputs/{marker_code}", headers=analyst)
            return r.json()["computedAt"].startswith(world.at.strftime("%Y-%m-%dT%H:%M"))

        await eventually(marker_seen)
        current = await eventually(lambda: _settled(client, draft["id"], analyst))
        assert current["version"] == 3  # one version for the marker, none for the others
        await asyncio.sleep(0.6)  # three recompute intervals: nothing else is pending
        r = await client.get(f"/v1/scenarios/{draft['id']}", headers=analyst)
        assert r.json()["version"] == 3
        r = await client.get(f"/v1/indicator-inputs/{focus_buurt}", headers=analyst)
        assert r.json()["computedAt"].startswith(
            (world.at + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
        old = await client.get(f"/v1/scenarios/{draft['id']}?version=1", headers=analyst)
        assert old.json()["version"] == 1 and old.json()["current"]["reason"] == "created"
        assert await all_lines(client, analyst, draft["id"], limit=500, version=1) != (
            await all_lines(client, analyst, draft["id"], limit=500))
        versions = await client.get(f"/v1/scenarios/{draft['id']}/versions", headers=analyst)
        assert [(v["version"], v["reason"]) for v in versions.json()["items"]] == [
            (1, "created"), (2, "indicators-changed"), (3, "indicators-changed")]
        r = await client.get(f"/v1/scenarios/{pinned['id']}", headers=analyst)
        assert r.json()["version"] == 1 and r.json()["pinned"]
        # A full snapshot (one part) changes the draft's inputs too.
        _, newer, _ = world.indicator_event(focus_buurt, 5.0, world.at + timedelta(minutes=9))
        snapshot = IndicatorSnapshotPublished(
            snapshot_id=uuid.uuid4(), period="rolling-12m:2026-11", method_version="vi-1.0.0",
            part=1, parts=1, areas=[newer], computed_at=world.at + timedelta(minutes=9))
        await publish(broker.bootstrap_servers,
                      [(INDICATOR_SNAPSHOT_PUBLISHED, snapshot, str(snapshot.snapshot_id))])
        await eventually(lambda: _settled(client, draft["id"], analyst, 4))
        events = await funding_events(broker.bootstrap_servers, draft["id"], 4)
        assert [d["version"] for _, d in events] == [1, 2, 3, 4]


async def _settled(client, scenario_id, headers, version=3):
    r = await client.get(f"/v1/scenarios/{scenario_id}", headers=headers)
    return r.json() if r.json()["version"] >= version and not r.json()["stale"] else None


async def test_a_recompute_round_is_a_trace_and_its_events_carry_it(start_service, auth,
                                                                     broker):
    world = SyntheticWorld()
    collector = Collector()
    try:
        async with start_service("funding", recompute_interval_s=0.2,
                                 otlp_endpoint=collector.url) as client:
            await loaded(client, auth, broker, world)
            programme_id = await new_programme(client, auth, world)
            draft = await new_scenario(client, auth, programme_id, name="draft")
            change = world.indicator_event(world.buurten(1)[0], 4.0,
                                           world.at + timedelta(minutes=5))
            await publish(broker.bootstrap_servers, [change])

            async def recomputed():
                r = await client.get(f"/v1/scenarios/{draft['id']}", headers=auth("analyst"))
                return r.json()["version"] == 2

            await eventually(recomputed)
            rt = runtime_of(client)
            async with rt.sessions() as session:
                rows = (await session.scalars(select(Outbox).where(
                    Outbox.type == ALLOCATION_COMPUTED.type).order_by(Outbox.id))).all()
        # Spans are exported when the app stops.
        rounds = {s.span_id: s for s in collector.spans
                  if s.name == "recompute stale allocations"}
        assert rounds and all(s.parent_id == "" for s in rounds.values())
        _, trace_id, span_id, _ = rows[-1].traceparent.split("-")  # version 2's event
        assert rounds[span_id].trace_id == trace_id
    finally:
        collector.close()


async def test_lines_are_filtered_and_paged(start_service, auth, broker):
    world = SyntheticWorld()
    async with start_service("funding") as client:
        await loaded(client, auth, broker, world)
        scenario = await new_scenario(client, auth, await new_programme(client, auth, world))
        analyst = auth("analyst")
        every = await all_lines(client, analyst, scenario["id"], limit=500)
        pa = sorted(world.programme_areas)[0]
        for params, keep in (
                ({"pool": "vulnerable"}, lambda li: li["pool"] == "vulnerable"),
                ({"theme": "safety", "year": 2028},
                 lambda li: li["theme"] == "safety" and li["year"] == 2028),
                ({"areaCode": pa}, lambda li: li["areaCode"] == pa),
                ({"pool": "focus", "theme": "education", "year": 2029, "areaCode": pa},
                 lambda li: (li["pool"], li["theme"], li["year"], li["areaCode"]) == (
                     "focus", "education", 2029, pa))):
            wanted = [li for li in every if keep(li)]
            assert wanted and await all_lines(client, analyst, scenario["id"], limit=2,
                                              **params) == wanted, params
        r = await client.get(f"/v1/scenarios/{scenario['id']}/lines",
                             params={"pool": "nope"}, headers=analyst)
        assert r.json() == {"version": 1, "items": [], "nextCursor": None}
        r = await client.get(f"/v1/scenarios/{scenario['id']}/lines",
                             params={"cursor": "e30"}, headers=analyst)
        assert r.status_code == 400
        r = await client.get(f"/v1/scenarios/{scenario['id']}/lines",
                             params={"version": 9}, headers=analyst)
        assert r.status_code == 404
