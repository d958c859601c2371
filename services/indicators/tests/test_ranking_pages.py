"""A ranking's pages: slices of its kept bytes, kept with their ETag within a bound; kept
rankings in the order of the rankings made at once."""

from __future__ import annotations

import random
from array import array
from typing import Any

import orjson

from services.indicators.composite import METHOD_VERSION, AreaScore, Direction
from services.indicators.computation import definitions
from services.indicators.computation.engine import Cell, Computation
from services.indicators.computation.periods import parse_period
from services.indicators.reporting import rankings, service
from services.indicators.reporting.rankings import Ranking
from shared.areacodes import AreaLevel
from shared.http_cache import strong_etag
from shared.pagination import decode_cursor


def _ranking(count: int) -> Ranking:
    """A ranking of `count` items laid out as `rankings._make` lays them out."""
    head = b'{"indicatorId":"signals"'
    items = [orjson.dumps({"areaCode": f"BU{i:08d}", "rank": i + 1}) for i in range(count)]
    opening = head + b',"items":['
    starts, at = array("q"), len(opening)
    for item in items:
        starts.append(at)
        at += len(item) + 1
    starts.append(at)
    body = opening + b",".join(items) + b'],"nextCursor":null}'
    return Ranking(head, body, starts, strong_etag(body))


def test_pages_are_slices_with_their_own_etag():
    ranking = _ranking(250)
    first, etag = ranking.page(0, 100)
    assert etag == strong_etag(first)
    answer = orjson.loads(first)
    assert [i["rank"] for i in answer["items"]] == list(range(1, 101))
    assert decode_cursor(answer["nextCursor"], 1) == [100]
    last = orjson.loads(ranking.page(200, 100)[0])
    assert [i["rank"] for i in last["items"]] == list(range(201, 251))
    assert last["nextCursor"] is None
    # Two limits that cut the same slice share the kept page, which has the same bytes.
    assert ranking.page(200, 500) == ranking.page(200, 100)
    assert orjson.loads(ranking.page(250, 10)[0])["items"] == []


def test_pages_kept_stay_within_half_the_ranking_and_the_first_stays_kept():
    """Any reader may ask for any slice (a cursor of its own making): what is kept stays
    within half the ranking's bytes, the least recently read dropped first."""
    ranking = _ranking(2000)
    budget = len(ranking.body) // 2
    first = ranking.page(0, 100)
    for offset in range(1, 2000, 7):
        assert ranking.page(offset, 100)[1] == strong_etag(ranking.page(offset, 100)[0])
        assert ranking.page(0, 100) is first  # read again and again: kept
        assert ranking.pages.used <= budget
    assert sum(len(body) for body, _ in ranking.pages.kept.values()) == ranking.pages.used
    whole = ranking.page(0, 2000)  # more than the budget: made, not kept
    assert orjson.loads(whole[0])["items"] == orjson.loads(ranking.body)["items"]
    assert (0, 2000) not in ranking.pages.kept


class _Area:
    """What a ranking reads of an area: its code, level, cells and composite score."""

    def __init__(self, code: str, cells: dict[str, Cell], composite: AreaScore | None) -> None:
        self.code, self.level, self.cells, self.composite = code, AreaLevel.BUURT, cells, composite


def _country(n: int, seed: int) -> Computation:
    """`n` buurten in no order of code, with many equal values, withheld cells and
    unranked scores: what the kept answers' sorts must order as the answers made at once."""
    rng = random.Random(seed)
    codes = [f"BU{rng.randrange(10**8):08d}" for _ in range(n)]
    areas: dict[str, Any] = {}
    for code in codes:
        cells = {d: Cell(None, "small-count") if rng.random() < 0.2
                 else Cell(float(rng.randrange(6))) for d in ("signals", "mean-woz-value")}
        # Ranks from the stored index may go beyond the buurten held.
        rank = None if rng.random() < 0.1 else rng.randrange(1, 3 * n)
        areas[code] = _Area(code, cells, AreaScore(code, None if rank is None else 0.5, rank,
                                                   None, {}, {}, None))
    return Computation(parse_period("rolling-12m:2026-10"), METHOD_VERSION, areas)


async def test_kept_answers_order_areas_as_the_answers_made_at_once(monkeypatch):
    def cell(result: _Area, indicator: str, raw: bool) -> Cell:
        return result.cells[indicator]

    monkeypatch.setattr(rankings, "cell_of", cell)
    monkeypatch.setattr(service, "cell_of", cell)
    for seed in range(3):
        country = _country(1_500, seed)
        for indicator in ("signals", "mean-woz-value"):  # higher and lower is worse
            worse = definitions.BY_ID[indicator].direction is Direction.HIGHER_IS_WORSE
            kept = await rankings._make(country, AreaLevel.BUURT, indicator, False, worse)
            made = service.ranking(country, AreaLevel.BUURT, indicator, False)
            expected = made.model_dump(mode="json", by_alias=True)
            assert orjson.loads(kept.body) == expected
            assert kept.etag == strong_etag(kept.body)
            # Pages are cut at the kept offsets: each item starts where it is said to.
            starts = kept.starts
            assert [orjson.loads(kept.body[starts[i]:starts[i + 1] - 1])
                    for i in range(len(starts) - 1)] == expected["items"]
        index = await rankings._make_index(country)
        assert orjson.loads(index.body) == service.vulnerability_index(country).model_dump(
            mode="json", by_alias=True)
