"""Area maps: import of the wijk- en buurtkaart, and outlines served as GeoJSON.

Outlines are reference data beside the register: importing them changes no area, writes no
event and marks nothing dirty. A map may name areas the register does not hold (yet); their
outlines are kept and listed in the report.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.computation import definitions
from services.indicators.computation.engine import Computation
from services.indicators.dependencies import requested_period
from services.indicators.maps import repository as repo
from services.indicators.maps.geometries import (
    AreaOutline,
    GeometryFileError,
    MapTooLarge,
    read_area_map,
)
from services.indicators.maps.schemas import MapImportReport
from services.indicators.models import AreaGeometry
from services.indicators.reporting import service as reporting
from services.indicators.snapshots.reader import SnapshotReader
from shared.areacodes import AreaLevel
from shared.auth import Principal
from shared.db import utcnow
from shared.problems import BadRequest, InvalidParam, PayloadTooLarge

DEFAULT_SOURCE = "CBS/PDOK wijk- en buurtkaart"
NOT_REGISTERED_LISTED = 100
#: Features read and written per turn of the event loop (about 5 ms of it nationally).
MAP_PAGE = 500


async def import_area_map(session: AsyncSession, data: bytes, source: str) -> MapImportReport:
    """Store every outline of a map file; a file with any bad feature changes nothing."""
    try:
        # In a worker thread: reprojecting and simplifying a national map takes a while.
        outlines = await asyncio.to_thread(read_area_map, data)
    except MapTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except GeometryFileError as exc:
        bad = getattr(exc, "bad", [])
        raise BadRequest(f"the map cannot be imported: {exc}", [
            InvalidParam(name=f"body.features[{b.index}]", code="invalid_feature",
                         reason=str(b)) for b in bad[:50]]) from exc
    stored, unchanged = await store_outlines(session, outlines, source, synthetic=False)
    codes = [o.code for o in outlines]
    registered = await repo.registered_codes(session, codes)
    missing = sorted(set(codes) - registered)
    return MapImportReport(
        stored=stored, unchanged=unchanged,
        by_level=dict(Counter(o.level.value for o in outlines)),
        not_registered=missing[:NOT_REGISTERED_LISTED])


async def store_outlines(session: AsyncSession, outlines: Sequence[AreaOutline], source: str,
                         synthetic: bool) -> tuple[int, int]:
    """Insert or update outlines; (stored, unchanged)."""
    current = await repo.geometries_by_code(session, [o.code for o in outlines])
    stored = unchanged = 0
    now = utcnow()
    for outline in outlines:
        row = current.get(outline.code)
        values = {"level": outline.level.value, "parent_code": outline.parent_code,
                  "gemeente_code": outline.gemeente_code, "name": outline.name,
                  "geometry": outline.geometry, "source": source[:200], "synthetic": synthetic}
        if row is None:
            session.add(AreaGeometry(code=outline.code, updated_at=now, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = now
        else:
            unchanged += 1
            continue
        stored += 1
    await session.flush()
    return stored, unchanged


@dataclass(frozen=True, slots=True)
class PublishedValues:
    """One indicator's published values for the areas of a level, for one period: read from
    the held snapshot for the map's own areas (made into the level's whole ranking, a map of
    one gemeente held the event loop for 85 ms nationally)."""

    indicator_id: str
    level: AreaLevel
    computation: Computation

    def cell(self, code: str) -> tuple[float | None, str | None]:
        """(value, reason withheld) of an area, as the /indicators ranking gives it."""
        result = self.computation.areas.get(code)
        if result is None or result.level is not self.level:
            return None, "no-data"
        cell = reporting.cell_of(result, self.indicator_id, raw=False)
        return cell.value, cell.reason


async def published_values(cache: SnapshotReader, principal: Principal, level: AreaLevel,
                           indicator: str, period: str | None) -> PublishedValues:
    """The values everyone may see (disclosure-controlled, admins included), read the way the
    /indicators ranking reads them. The one place maps depend on how indicators are read."""
    if indicator not in definitions.BY_ID:
        raise BadRequest(f"unknown indicator {indicator!r}; see /indicator-definitions")
    chosen = await requested_period(cache, principal, period)
    return PublishedValues(indicator, level, await cache.get(chosen))


async def feature_collection(session: AsyncSession, level: AreaLevel, parent_code: str | None,
                             values: PublishedValues | None) -> bytes:
    """Outlines of a level within a parent as a GeoJSON FeatureCollection, ready to send.

    Read and written `MAP_PAGE` features at a time, with a turn of the event loop between:
    the map of every buurt is 10 MB, and made at once it held the loop for 150-230 ms.
    """
    indicator = None if values is None else {
        "indicatorId": values.indicator_id, "period": str(values.computation.period),
        "methodVersion": values.computation.method_version}
    head = orjson.dumps({"type": "FeatureCollection", "level": level.value,
                         "parentCode": parent_code, "indicator": indicator})
    parts: list[bytes] = []
    after = ""
    while True:
        rows = await repo.geometries_of(session, level=level.value, parent_code=parent_code,
                                        after=after, limit=MAP_PAGE)
        if rows:
            parts.append(await _features(session, level, rows, values))
            after = rows[-1][0]
        if len(rows) < MAP_PAGE:
            break
        await asyncio.sleep(0)  # let other requests in between parts
    if not parts and parent_code is not None and not await repo.geometries_by_code(
            session, [parent_code]) and not await repo.registered_codes(session, [parent_code]):
        raise BadRequest(f"parentCode {parent_code} is neither registered nor on a map",
                         [InvalidParam(name="query.parentCode", code="unknown",
                                       reason=f"{parent_code} is not a known area")])
    return head[:-1] + b',"features":[' + b",".join(parts) + b"]}"


async def _features(session: AsyncSession, level: AreaLevel,
                    rows: Sequence[tuple[str, str | None, str | None, str, bool]],
                    values: PublishedValues | None) -> bytes:
    """The features of `rows`, comma-separated JSON."""
    names = await repo.area_names(session, [r[0] for r in rows])
    features = []
    for code, parent, map_name, geometry, synthetic in rows:
        properties: dict[str, object] = {
            "code": code, "level": level.value, "name": names.get(code, map_name),
            "parentCode": parent, "synthetic": synthetic}
        if values is not None:
            value, reason = values.cell(code)
            properties["indicator"] = {"indicatorId": values.indicator_id, "value": value,
                                       "suppressed": reason is not None, "reason": reason}
        features.append({"type": "Feature", "id": code,
                         # stored as GeoJSON text: sent as it is, never parsed again
                         "geometry": orjson.Fragment(geometry), "properties": properties})
    return orjson.dumps(features)[1:-1]
