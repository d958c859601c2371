"""Shaping computed indicators for readers: public values for everyone, raw for admins."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from services.indicators.composite import METHOD_VERSION, AreaScore, Direction
from services.indicators.computation import definitions
from services.indicators.computation.engine import AreaResult, Cell, Computation
from services.indicators.computation.periods import Period
from services.indicators.reporting.schemas import (
    AreaIndicatorsOut,
    AreaSignalCounts,
    IndicatorDefinitionList,
    IndicatorDefinitionOut,
    IndicatorRanking,
    IndicatorSeries,
    IndicatorValueOut,
    RankedValue,
    RankStabilityOut,
    SeriesPoint,
    VulnerabilityIndexList,
    VulnerabilityIndexOut,
)
from services.indicators.snapshots.reader import StoredArea
from services.indicators.suppression import disclose_hierarchy
from shared.areacodes import AreaLevel
from shared.http_cache import strong_etag
from shared.pagination import decode_cursor, encode_cursor, invalid_cursor
from shared.problems import BadRequest, NotFound

# A series page reads at most this many periods (the area's stored row of each), and one
# more to tell an unknown area (404).
SERIES_MAX_LIMIT = 24
SERIES_MAX_COUNT = 36


def definition_list() -> IndicatorDefinitionList:
    return IndicatorDefinitionList(items=[IndicatorDefinitionOut(
        id=d.id, name=d.name, unit=d.unit, source=d.source, direction=d.direction.value,
        domain=None if d.domain is None else d.domain.value, method_version=METHOD_VERSION,
    ) for d in definitions.DEFINITIONS])


def cell_of(result: AreaResult, indicator: str, raw: bool) -> Cell:
    raw_value, cell = result.value(indicator)
    return Cell(raw_value) if raw else cell


def value_out(indicator: str, cell: Cell) -> IndicatorValueOut:
    return IndicatorValueOut(indicator_id=indicator, value=cell.value,
                             suppressed=cell.reason is not None, reason=cell.reason)


def index_out(result: AreaResult, method_version: str) -> VulnerabilityIndexOut | None:
    score = result.composite
    return None if score is None else index_item(result.code, score, method_version)


def index_item(code: str, score: AreaScore, method_version: str) -> VulnerabilityIndexOut:
    return VulnerabilityIndexOut(
        area_code=code, score=None if score.score is None else round(score.score, 4),
        rank=score.rank, decile=score.decile,
        alternative_ranks={m.value: r for m, r in score.alternative_ranks.items()},
        method_version=method_version)


def area_indicators(computation: Computation, code: str, raw: bool) -> AreaIndicatorsOut:
    result = computation.areas.get(code)
    if result is None:
        raise NotFound(f"area {code} is not registered and has no signals")
    return AreaIndicatorsOut(
        area_code=code, level=result.level.value, period=str(computation.period),
        method_version=computation.method_version, raw=raw,
        data_until=None if raw else computation.data_until,
        values=[value_out(d.id, cell_of(result, d.id, raw)) for d in definitions.DEFINITIONS],
        vulnerability_index=index_out(result, computation.method_version))


def area_indicators_body(computation: Computation, code: str, raw: bool
                         ) -> tuple[bytes, bytes]:
    """The JSON of `area_indicators` and its strong ETag, made once per stored state of the
    area: analysts and dashboards read the same areas again and again, and making the answer
    (and hashing it for its ETag, shared.http_cache.known_etag) is most of a read."""
    result = computation.areas.get(code)
    if result is None:
        raise NotFound(f"area {code} is not registered and has no signals")
    if not isinstance(result, StoredArea):
        body = _area_json(computation, code, result, raw)
        return body, strong_etag(body)
    key = (computation.method_version, computation.data_until)
    answers = result.answers(raw)
    answer = answers.get(key)
    if answer is None:
        body = _area_json(computation, code, result, raw)
        answer = answers[key] = (body, strong_etag(body))
    return answer


def _area_json(computation: Computation, code: str, result: AreaResult, raw: bool) -> bytes:
    """`area_indicators` as FastAPI writes it (by alias, in JSON mode), made from plain
    dictionaries: under intake the worker's changes make readers build hundreds of these
    a second, and building and checking the models took 170 instead of 67 us each (a test
    holds the two to the same JSON)."""
    method_version = computation.method_version
    values = []
    for d in definitions.DEFINITIONS:
        cell = cell_of(result, d.id, raw)
        values.append({"indicatorId": d.id, "value": cell.value,
                       "suppressed": cell.reason is not None, "reason": cell.reason})
    score = result.composite
    index = None if score is None else {
        "areaCode": result.code, "score": None if score.score is None else round(score.score, 4),
        "rank": score.rank, "decile": score.decile,
        "alternativeRanks": {m.value: r for m, r in score.alternative_ranks.items()},
        "methodVersion": method_version}
    return orjson.dumps({
        "areaCode": code, "level": result.level.value, "period": str(computation.period),
        "methodVersion": method_version, "raw": raw,
        "dataUntil": None if raw else computation.data_until, "values": values,
        "vulnerabilityIndex": index}, option=orjson.OPT_UTC_Z)


def ranking(computation: Computation, level: AreaLevel, indicator: str, raw: bool
            ) -> IndicatorRanking:
    definition = definitions.BY_ID.get(indicator)
    if definition is None:
        raise BadRequest(f"unknown indicator {indicator!r}; see /indicator-definitions")
    cells = [(code, cell_of(r, indicator, raw)) for code, r in computation.areas.items()
             if r.level is level]
    known = [(code, c) for code, c in cells if c.value is not None]
    sign = -1.0 if definition.direction is Direction.HIGHER_IS_WORSE else 1.0
    known.sort(key=lambda item: (sign * (item[1].value or 0.0), item[0]))
    withheld = sorted((item for item in cells if item[1].value is None), key=lambda i: i[0])
    items = [RankedValue(area_code=code, indicator_id=indicator, value=c.value,
                         suppressed=c.reason is not None, reason=c.reason, rank=i + 1)
             for i, (code, c) in enumerate(known)]
    items += [RankedValue(area_code=code, indicator_id=indicator, value=None,
                          suppressed=c.reason is not None, reason=c.reason, rank=None)
              for code, c in withheld]
    return IndicatorRanking(indicator_id=indicator, level=level.value,
                            period=str(computation.period),
                            method_version=computation.method_version, raw=raw,
                            data_until=None if raw else computation.data_until, items=items)


def vulnerability_index(computation: Computation,
                        items: list[VulnerabilityIndexOut] | None = None
                        ) -> VulnerabilityIndexList:
    """Every buurt's index, most vulnerable first; with `items`, those instead (the kept
    answer, `rankings._make_index`, makes them a part at a time)."""
    if items is None:
        items = [out for r in computation.areas.values()
                 if r.level is AreaLevel.BUURT
                 and (out := index_out(r, computation.method_version)) is not None]
        items.sort(key=lambda i: (i.rank is None, i.rank or 0, i.area_code))
    stability = [RankStabilityOut(
        method=s.method.value, spearman=None if s.spearman is None else round(s.spearman, 4),
        max_abs_rank_shift=s.max_abs_rank_shift,
        median_abs_rank_shift=s.median_abs_rank_shift,
        share_same_decile=None if s.share_same_decile is None else round(s.share_same_decile, 4),
    ) for s in computation.rank_stability]
    return VulnerabilityIndexList(level=AreaLevel.BUURT.value, period=str(computation.period),
                                  method_version=computation.method_version, items=items,
                                  rank_stability=stability)


def series_periods(last: Period, count: int, first_month: str) -> list[Period]:
    """The `count` periods ending with `last`, oldest first, without those ending before the
    first month with data (nothing is counted there: no computation for them)."""
    periods = [last.shifted(-step) for step in range(count - 1, -1, -1)]
    return [p for p in periods if p.last_month >= first_month] or [last]


def series_page(periods: Sequence[Period], cursor: str | None, limit: int
                ) -> tuple[list[Period], str | None]:
    """The periods of one page and the cursor of the next (None on the last page). A cursor
    names the first period of its page; one outside this series is a 400."""
    start = 0
    if cursor is not None:
        first = decode_cursor(cursor, 1)[0]
        start = next((i for i, p in enumerate(periods) if p.last_month == first), -1)
        if start < 0:
            raise invalid_cursor()
    page = list(periods[start:start + limit])
    after = start + limit
    return page, encode_cursor(periods[after].last_month) if after < len(periods) else None


def series(code: str, indicator: str, raw: bool, computations: Sequence[Computation],
           next_cursor: str | None) -> IndicatorSeries:
    """Each point as its own period publishes it (earlier periods are final sooner)."""
    points: list[SeriesPoint] = []
    for computation in computations:
        result = computation.areas.get(code)
        cell = cell_of(result, indicator, raw) if result else Cell(None)
        points.append(SeriesPoint(period=str(computation.period), value=cell.value,
                                  suppressed=cell.reason is not None, reason=cell.reason))
    return IndicatorSeries(area_code=code, indicator_id=indicator,
                           method_version=computations[-1].method_version, raw=raw,
                           items=points, points=points, next_cursor=next_cursor)


def signal_counts(code: str, by_category: dict[str, tuple[int, int]], raw: bool,
                  organisation: str | None) -> AreaSignalCounts:
    """`by_category`: (count, cell key) per category."""
    counts = {category: n for category, (n, _) in by_category.items()}
    total = sum(counts.values())
    if raw:
        return AreaSignalCounts(area_code=code, signals=total, by_category=counts, raw=True,
                                organisation=organisation)
    keys = {category: key for category, (_, key) in by_category.items()}
    parent, children = disclose_hierarchy(total, counts, keys, sum(keys.values()))
    return AreaSignalCounts(area_code=code, signals=_int(parent.value),
                            by_category={c: _int(v.value) for c, v in children.items()},
                            raw=False, organisation=organisation)


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
