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
    """One indicator's published values for the areas of a level, for one period."""

    indicator_id: str
    period: str
    method_version: str
    cells: dict[str, tuple[float | None, str | None]]  # code -> (value, reason withheld)


async def published_values(cache: SnapshotReader, principal: Principal, level: AreaLevel,
                           indicator: str, period: str | None) -> PublishedValues:
    """The values everyone may see (disclosure-controlled, admins included), read the way the
    /indicators ranking reads them. The one place maps depend on how indicators are read."""
    chosen = await requested_period(cache, principal, period)
    ranking = reporting.ranking(await cache.get(chosen), level, indicator, raw=False)
    return PublishedValues(
        indicator_id=ranking.indicator_id, period=ranking.period,
        method_version=ranking.method_version,
        cells={item.area_code: (item.value, item.reason) for item in ranking.items})


async def feature_collection(session: AsyncSession, level: AreaLevel, parent_code: str | None,
                             values: PublishedValues | None) -> bytes:
    """Outlines of a level within a parent as a GeoJSON FeatureCollection, ready to send."""
    rows = await repo.geometries_of(session, level=level.value, parent_code=parent_code)
    names = await repo.area_names(session, [r[0] for r in rows])
    features = []
    for code, parent, map_name, geometry, synthetic in rows:
        properties: dict[str, object] = {
            "code": code, "level": level.value, "name": names.get(code, map_name),
            "parentCode": parent, "synthetic": synthetic}
        if values is not None:
            value, reason = values.cells.get(code, (None, "no-data"))
            properties["indicator"] = {"indicatorId": values.indicator_id, "value": value,
                                       "suppressed": reason is not None, "reason": reason}
        features.append({"type": "Feature", "id": code,
                         # stored as GeoJSON text: sent as it is, never parsed again
                         "geometry": orjson.Fragment(geometry), "properties": properties})
    if not features and parent_code is not None and not await repo.geometries_by_code(
            session, [parent_code]) and not await repo.registered_codes(session, [parent_code]):
        raise BadRequest(f"parentCode {parent_code} is neither registered nor on a map",
                         [InvalidParam(name="query.parentCode", code="unknown",
                                       reason=f"{parent_code} is not a known area")])
    indicator = None if values is None else {
        "indicatorId": values.indicator_id, "period": values.period,
        "methodVersion": values.method_version}
    return orjson.dumps({"type": "FeatureCollection", "level": level.value,
                         "parentCode": parent_code, "indicator": indicator,
                         "features": features})
