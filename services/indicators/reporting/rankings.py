"""Rankings as readers get them: the answer's bytes, kept per stored version of the period.

A buurt ranking is 14,000 items: made per request it would hold the event loop for 100 ms and
more. Here it is made at most once per `min_age_s` for a period that keeps changing (readers get
the previous bytes meanwhile, at most that much older than the store), in slices of
`SLICE` areas with a turn of the loop between them; readers asking while it is being made
wait for that one making. What it holds is public (or, for `raw`, an admin's raw) figures.
The bytes are hashed for their ETag once, when made (shared.http_cache.known_etag): hashing
1.5 MB per read cost more than the rest of the read. Where each item starts is kept too, so
that a page (`limit`, `cursor`) is a slice of the kept bytes, not a ranking made again; the
pages readers ask for are kept with their ETag as well, up to half the ranking's size (the
console and dashboards ask for the first pages again and again). The vulnerability index,
a ranking of buurten on the composite, is kept the same way.
"""

from __future__ import annotations

import asyncio
import functools
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import add, itemgetter
from typing import Any

import orjson

from services.indicators.composite import Direction
from services.indicators.computation import definitions
from services.indicators.computation.engine import Cell, Computation
from services.indicators.reporting.schemas import IndicatorRanking
from services.indicators.reporting.service import cell_of, index_item, vulnerability_index
from shared.areacodes import AreaLevel
from shared.http_cache import etag_off_loop, strong_etag
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.problems import BadRequest

SLICE = 500


class _Pages:
    """The pages of one ranking that readers asked for, with their ETag, the least recently
    read dropped first: at most half the ranking's bytes in all (any reader may ask for
    any slice, with a cursor of its own making)."""

    def __init__(self, budget: int) -> None:
        self.budget, self.used = budget, 0
        self.kept: OrderedDict[tuple[int, int], tuple[bytes, bytes]] = OrderedDict()

    def get(self, key: tuple[int, int]) -> tuple[bytes, bytes] | None:
        page = self.kept.get(key)
        if page is not None:
            self.kept.move_to_end(key)
        return page

    def put(self, key: tuple[int, int], page: tuple[bytes, bytes]) -> None:
        if len(page[0]) > self.budget:
            return
        self.kept[key] = page
        self.used += len(page[0])
        while self.used > self.budget:
            _, (body, _) = self.kept.popitem(last=False)
            self.used -= len(body)


@dataclass(frozen=True)
class Ranking:
    head: bytes  # the envelope up to its items: `{"indicatorId":...` without the closing }
    body: bytes  # the whole ranking
    starts: array[int]  # where each item starts in `body`, then one past the last item's end
    etag: bytes  # strong_etag(body)
    pages: _Pages = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pages", _Pages(len(self.body) // 2))

    def page(self, offset: int, limit: int) -> tuple[bytes, bytes]:
        """The items from `offset` on, at most `limit`, with the cursor of the next page;
        and the page's strong ETag."""
        count = len(self.starts) - 1
        offset = min(offset, count)
        after = min(offset + limit, count)
        kept = self.pages.get((offset, after))
        if kept is not None:
            return kept
        items = self.body[self.starts[offset]:self.starts[after] - 1] if after > offset else b""
        body = (self.head + b',"items":[' + items + b'],"nextCursor":'
                + orjson.dumps(encode_cursor(after) if after < count else None) + b"}")
        page = body, strong_etag(body)
        self.pages.put((offset, after), page)
        return page


def page_offset(cursor: str | None) -> int:
    """Where the page a cursor names starts (a cursor this API did not give out is a 400)."""
    if cursor is None:
        return 0
    offset = decode_cursor(cursor, 1)[0]
    if type(offset) is not int or offset < 0:
        raise invalid_cursor()
    return offset


@dataclass(frozen=True)
class KeptBody:
    """An answer made once per stored version, as readers get it, with its strong ETag."""

    body: bytes
    etag: bytes


@dataclass
class _Entry:
    made_at: float
    version: Hashable = None  # of `made`
    made: Any = None
    making: asyncio.Task[Any] | None = None

    def take(self, version: Hashable, making: asyncio.Task[Any]) -> None:
        """What `making` made, for `version`, once done, whether or not a reader waits for
        it (the one that started it may have been answered with the previous one)."""
        if self.making is making:
            self.making = None
        if not making.cancelled() and making.exception() is None:
            self.made, self.version = making.result(), version


class RankingCache:
    """The rankings (and the vulnerability index, a ranking of buurten on the composite)
    as readers get them, per period and kind."""

    def __init__(self, min_age_s: float = 0.5, held: int = 64) -> None:
        self.min_age_s = min_age_s
        self.held = held
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    async def ranking(self, computation: Computation, version: Hashable, level: AreaLevel,
                      indicator: str, raw: bool) -> Ranking:
        """The JSON of `IndicatorRanking` for the computation (as stored at `version`)."""
        definition = definitions.BY_ID.get(indicator)
        if definition is None:
            raise BadRequest(f"unknown indicator {indicator!r}; see /indicator-definitions")
        higher_is_worse = definition.direction is Direction.HIGHER_IS_WORSE
        ranking: Ranking = await self._kept(
            (str(computation.period), level, indicator, raw), version,
            lambda: _make(computation, level, indicator, raw, higher_is_worse))
        return ranking

    async def vulnerability_index(self, computation: Computation, version: Hashable
                                  ) -> KeptBody:
        """The JSON of `VulnerabilityIndexList` for the computation (stored at `version`):
        14,000 buurten, made per request it held the event loop for 88 ms."""
        index: KeptBody = await self._kept((str(computation.period), "vulnerability-index"),
                                           version, lambda: _make_index(computation))
        return index

    async def _kept(self, key: Hashable, version: Hashable,
                    make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        """What `make` makes for `key`, made at most once per `min_age_s` for a period that
        keeps changing (the previous one meanwhile); readers asking while it is made wait
        for that one making."""
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and entry.made is not None and (
                entry.version == version or entry.making is not None
                or now - entry.made_at < self.min_age_s):
            self._entries.move_to_end(key)
            return entry.made
        if entry is None or entry.making is None:
            entry = entry or _Entry(now)
            self._entries[key] = entry
            while len(self._entries) > self.held:
                self._entries.popitem(last=False)
            making = entry.making = asyncio.create_task(make())
            making.add_done_callback(functools.partial(entry.take, version))
            entry.made_at = now
        if entry.made is not None:
            return entry.made  # the previous one while the new one is made
        assert entry.making is not None
        return await asyncio.shield(entry.making)


async def _make(computation: Computation, level: AreaLevel, indicator: str, raw: bool,
                higher_is_worse: bool) -> Ranking:
    """The ranking's bytes, with a turn of the loop at least every `SLICE` areas: nationally
    no step holds the loop for more than a few ms (a sort that calls Python for each key, or
    the hash of 1.5 MB on the loop, would hold it for 7 and 2 ms)."""
    areas = list(computation.areas.values())
    cells: list[tuple[str, Cell]] = []
    for start in range(0, len(areas), SLICE):
        cells += [(r.code, cell_of(r, indicator, raw))
                  for r in areas[start:start + SLICE] if r.level is level]
        await asyncio.sleep(0)
    cells.sort(key=itemgetter(0))  # by code: ties keep this order (nearly free when it is)
    known = [item for item in cells if item[1].value is not None]
    withheld = [item for item in cells if item[1].value is None]
    await asyncio.sleep(0)
    # A stable sort on plain floats: CPython compares them without calling back into Python.
    sign = -1.0 if higher_is_worse else 1.0
    keys = [sign * (c.value or 0.0) for _, c in known]
    ordered = [known[i] for i in sorted(range(len(known)), key=keys.__getitem__)]
    ordered += withheld
    await asyncio.sleep(0)
    envelope = IndicatorRanking(
        indicator_id=indicator, level=level.value, period=str(computation.period),
        method_version=computation.method_version, raw=raw,
        data_until=None if raw else computation.data_until, items=[],
    ).model_dump(mode="json", by_alias=True)
    del envelope["items"], envelope["nextCursor"]
    items: list[bytes] = []
    for start in range(0, len(ordered), SLICE):
        items += [orjson.dumps(
            {"indicatorId": indicator, "value": c.value, "suppressed": c.reason is not None,
             "reason": c.reason, "areaCode": code,
             "rank": start + i + 1 if c.value is not None else None})
            for i, (code, c) in enumerate(ordered[start:start + SLICE])]
        await asyncio.sleep(0)
    head = orjson.dumps(envelope)[:-1]
    opening = head + b',"items":['
    # Where each item starts: the lengths summed, one comma after each item before it.
    starts = array("q", map(add, accumulate(map(len, items), initial=len(opening)),
                            range(len(items) + 1)))
    body = opening + b",".join(items) + b'],"nextCursor":null}'
    return Ranking(head, body, starts, await etag_off_loop(body))


async def _make_index(computation: Computation) -> KeptBody:
    """`reporting.service.vulnerability_index` as bytes, `SLICE` buurten at a time."""
    # Every buurt's score taken at once: a reader's refresh sets the scores of the areas it
    # holds in place, and must not give a part of the index the old ones, a part the new.
    scores = [(r.code, r.composite) for r in computation.areas.values()
              if r.level is AreaLevel.BUURT and r.composite is not None]
    # By rank, the unranked last, ties by code: a stable sort on plain ints (see `_make`).
    # (Ranks come from the stored index, which may rank more buurten than are held.)
    scores.sort(key=itemgetter(0))
    unranked = max((score.rank for _, score in scores if score.rank is not None),
                   default=0) + 1
    ranks = [unranked if score.rank is None else score.rank for _, score in scores]
    scores = [scores[i] for i in sorted(range(len(scores)), key=ranks.__getitem__)]
    encoded: list[bytes] = []
    for start in range(0, len(scores), SLICE):
        await asyncio.sleep(0)
        encoded += [orjson.dumps(index_item(code, score, computation.method_version)
                                 .model_dump(mode="json", by_alias=True))
                    for code, score in scores[start:start + SLICE]]
    envelope = orjson.dumps(vulnerability_index(computation, items=[]).model_dump(
        mode="json", by_alias=True))
    before, after = envelope.split(b'"items":[]', 1)  # the keys in the schema's order
    body = before + b'"items":[' + b",".join(encoded) + b"]" + after
    return KeptBody(body, await etag_off_loop(body))
