"""The vulnerability index is served with its rank stability (Spearman correlation and rank
shifts of each alternative method against the z-score ranks), made of published values only:
it follows from the published ranks, and a withheld small count does not move it."""

from __future__ import annotations

import statistics
from typing import Any

from services.indicators.tests.helpers import households, record_all, recorded, small_register

PERIOD = {"period": "rolling-12m:2026-11"}


async def _seed(svc: Any, admin: dict[str, str], small: int) -> None:
    """Four buurten of one gemeente; BU03440102 holds `small` (1-4) signalled households."""
    await small_register(svc.client, admin)
    signals = households("BU03440101", 12)
    signals += [recorded("BU03440101", f"hh-BU03440101-{i}", category="nuisance")
                for i in range(6)]
    signals += households("BU03440102", small) + households("BU03440103", 9)
    signals += households("BU03440201", 20, severity="acute")
    await record_all(svc.runtime, signals)


async def _index(svc: Any, headers: dict[str, str]) -> dict[str, Any]:
    r = await svc.client.get("/v1/vulnerability-index", params=PERIOD, headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _decile(rank: int, n: int) -> int:
    return 10 - (rank - 1) * 10 // n


async def test_the_index_carries_its_rank_stability(indicators, auth):
    admin, partner = auth("admin"), auth("partner", "demo-partner")
    async with indicators() as svc:
        await _seed(svc, admin, small=2)
        body = await _index(svc, partner)
        ranked = [i for i in body["items"] if i["rank"] is not None]
        n = len(ranked)
        assert n == 4
        assert [s["method"] for s in body["rankStability"]] == ["min-max", "percentile-rank"]
        for summary in body["rankStability"]:
            # Everything in it follows from the ranks that are published beside it.
            shifts = [abs(i["alternativeRanks"][summary["method"]] - i["rank"]) for i in ranked]
            assert summary["maxAbsRankShift"] == max(shifts)
            assert summary["medianAbsRankShift"] == statistics.median(shifts)
            spearman = 1 - 6 * sum(d * d for d in shifts) / (n * (n * n - 1))
            assert summary["spearman"] == round(spearman, 4)
            same = [_decile(i["alternativeRanks"][summary["method"]], n) == i["decile"]
                    for i in ranked]
            assert summary["shareSameDecile"] == round(sum(same) / n, 4)


async def test_a_withheld_small_count_does_not_move_the_rank_stability(indicators, auth,
                                                                       database_url):
    """Two registers that differ only in a buurt's small count (2 or 4 households, withheld
    either way) publish the same index and the same rank stability; the raw values differ."""
    admin, analyst = auth("admin"), auth("analyst", "demo-municipality")
    bodies = []
    for small in (2, 4):
        async with indicators(database_url=database_url(f"indicators-{small}")) as svc:
            await _seed(svc, admin, small)
            r = await svc.client.get("/v1/areas/BU03440102/indicators", params=PERIOD,
                                     headers=admin)
            raw = next(v for v in r.json()["values"] if v["indicatorId"] == "signalled-households")
            assert raw["value"] == small
            bodies.append(await _index(svc, analyst))
    assert bodies[0]["rankStability"] == bodies[1]["rankStability"]
    assert bodies[0]["items"] == bodies[1]["items"]
