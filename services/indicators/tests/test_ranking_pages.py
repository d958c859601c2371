"""A ranking's pages: slices of its kept bytes, kept with their ETag within a bound."""

from __future__ import annotations

from array import array

import orjson

from services.indicators.reporting.rankings import Ranking
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
