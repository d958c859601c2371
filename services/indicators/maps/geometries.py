"""Reading the CBS/PDOK "wijk- en buurtkaart" into area outlines for display.

The map comes as a GeoJSON FeatureCollection of gemeenten, wijken or buurten (one layer or
several in one file), in RD New (EPSG:28992, metres, as CBS and PDOK publish it) or in WGS84.
A feature's area is its most specific code among its properties: `buurtcode`, `wijkcode`,
`gemeentecode` (PDOK), or `BU_CODE`, `WK_CODE`, `GM_CODE` (the older CBS shapefiles), with the
name beside it (`buurtnaam`, `BU_NAAM`, ...).

Each outline is made valid, simplified in metres (a few metres per level: invisible on a
screen map, a fraction of the points), turned into WGS84 longitude/latitude as RFC 7946 asks
and rounded to 6 decimals (about 0.1 m). A file with any bad feature is refused whole, every
bad feature named; nothing of it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from shared.areacodes import AreaLevel, InvalidAreaCode, parse_area_code

MAX_GEOMETRY_BYTES: Final = 64 * 1024 * 1024
MAX_FEATURES: Final = 30_000  # a national buurt layer has about 14,500
MAX_BAD_FEATURES_NAMED: Final = 50
RD_NEW: Final = "EPSG:28992"
WGS84: Final = "EPSG:4326"
# Simplification tolerance per level, in metres.
TOLERANCE_M: Final[dict[AreaLevel, float]] = {
    AreaLevel.GEMEENTE: 20.0, AreaLevel.WIJK: 8.0, AreaLevel.BUURT: 4.0}
DECIMALS: Final = 6
# Generous bounds of the Netherlands with its territorial waters, in each CRS.
RD_BOUNDS: Final = (-25_000.0, 280_000.0, 310_000.0, 650_000.0)  # minx, miny, maxx, maxy
WGS84_BOUNDS: Final = (2.8, 50.6, 7.4, 53.9)

_CODE_KEYS: Final = (
    (AreaLevel.BUURT, ("buurtcode", "bu_code"), ("buurtnaam", "bu_naam")),
    (AreaLevel.WIJK, ("wijkcode", "wk_code"), ("wijknaam", "wk_naam")),
    (AreaLevel.GEMEENTE, ("gemeentecode", "gm_code"), ("gemeentenaam", "gm_naam")),
)
_RD_NAMES: Final = frozenset({"urn:ogc:def:crs:epsg::28992", "epsg:28992"})
_WGS84_NAMES: Final = frozenset({"urn:ogc:def:crs:ogc:1.3:crs84", "urn:ogc:def:crs:epsg::4326",
                                 "epsg:4326", "crs84"})


class GeometryFileError(ValueError):
    """A map file that cannot be imported at all; nothing of it is used."""


class MapTooLarge(GeometryFileError):
    pass


@dataclass(frozen=True, slots=True)
class BadFeature:
    index: int  # 0-based position in `features`
    code: str | None
    reason: str

    def __str__(self) -> str:
        where = f"feature {self.index}" + (f" ({self.code})" if self.code else "")
        return f"{where}: {self.reason}"


class BadFeatures(GeometryFileError):
    def __init__(self, bad: list[BadFeature]) -> None:
        self.bad = bad
        named = "; ".join(str(b) for b in bad[:MAX_BAD_FEATURES_NAMED])
        more = len(bad) - MAX_BAD_FEATURES_NAMED
        super().__init__(f"{len(bad)} bad feature(s): {named}"
                         + (f"; and {more} more" if more > 0 else ""))


@dataclass(frozen=True, slots=True)
class AreaOutline:
    code: str
    level: AreaLevel
    parent_code: str | None
    gemeente_code: str | None
    name: str | None
    geometry: str  # a GeoJSON geometry object, WGS84, simplified and rounded


def read_area_map(data: bytes) -> list[AreaOutline]:
    """Every area outline of a wijk- en buurtkaart GeoJSON file, ready to store."""
    if len(data) > MAX_GEOMETRY_BYTES:
        raise MapTooLarge(f"the file is over {MAX_GEOMETRY_BYTES} bytes")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise GeometryFileError(f"the file is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise GeometryFileError("the file is not a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise GeometryFileError("the FeatureCollection has no features")
    if len(features) > MAX_FEATURES:
        raise GeometryFileError(f"{len(features)} features; at most {MAX_FEATURES} per file")
    in_rd = _in_rd_new(document.get("crs"), features)
    outlines: list[AreaOutline] = []
    bad: list[BadFeature] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        try:
            outline = _outline(feature, in_rd)
        except _Bad as exc:
            bad.append(BadFeature(index, exc.code, exc.reason))
            continue
        if outline.code in seen:
            bad.append(BadFeature(index, outline.code,
                                  f"duplicate area (first as feature {seen[outline.code]})"))
            continue
        seen[outline.code] = index
        outlines.append(outline)
    if bad:
        raise BadFeatures(bad)
    return outlines


def display_outline(geometry: BaseGeometry, level: AreaLevel, from_rd: bool) -> str:
    """A valid polygonal outline simplified for display, as WGS84 GeoJSON text."""
    rd = geometry if from_rd else shapely.transform(geometry, _project(WGS84, RD_NEW))
    if not rd.is_valid:
        rd = _polygonal(shapely.make_valid(rd))
    simple = rd.simplify(TOLERANCE_M[level], preserve_topology=True)
    if simple.is_empty:  # smaller than the tolerance: keep it as it came
        simple = rd
    lonlat = shapely.transform(simple, _rounded(_project(RD_NEW, WGS84)))
    return str(shapely.to_geojson(lonlat))


class _Bad(Exception):
    def __init__(self, code: str | None, reason: str) -> None:
        self.code, self.reason = code, reason


def _outline(feature: Any, in_rd: bool) -> AreaOutline:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _Bad(None, "not a GeoJSON Feature")
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        raise _Bad(None, "no properties (expected buurtcode, wijkcode or gemeentecode)")
    props = {str(k).casefold(): v for k, v in properties.items()}
    level, code, name = _area_of(props)
    geometry = _shape(feature.get("geometry"), code, in_rd)
    area = parse_area_code(code)
    gemeente = next((a.code for a in _lineage(area) if a.level is AreaLevel.GEMEENTE), None)
    return AreaOutline(
        code=code, level=level, parent_code=None if area.parent is None else area.parent.code,
        gemeente_code=gemeente, name=name,
        geometry=display_outline(geometry, level, from_rd=in_rd))


def _area_of(props: dict[str, Any]) -> tuple[AreaLevel, str, str | None]:
    for level, code_keys, name_keys in _CODE_KEYS:
        raw = next((props[k] for k in code_keys if props.get(k) not in (None, "")), None)
        if raw is None:
            continue
        code = str(raw).strip()
        try:
            area = parse_area_code(code)
        except InvalidAreaCode as exc:
            raise _Bad(code, f"area code: {exc.reason}") from None
        if area.level is not level:
            raise _Bad(code, f"{code} is not a {level.value} code")
        name = next((str(props[k]).strip() for k in name_keys if props.get(k)), None)
        return level, code, (name or None) and name[:200]
    raise _Bad(None, "no buurtcode, wijkcode or gemeentecode among the properties")


def _shape(raw: Any, code: str, in_rd: bool) -> BaseGeometry:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else type(raw).__name__
        raise _Bad(code, f"the geometry is {kind}, not a Polygon or MultiPolygon")
    try:
        geometry = shapely.from_geojson(orjson.dumps(raw))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise _Bad(code, f"the geometry cannot be read: {exc}") from None
    if geometry.is_empty or geometry.area == 0:
        raise _Bad(code, "the geometry is empty")
    coordinates = shapely.get_coordinates(geometry)
    if not np.isfinite(coordinates).all():
        raise _Bad(code, "the geometry has coordinates that are not numbers")
    minx, miny, maxx, maxy = RD_BOUNDS if in_rd else WGS84_BOUNDS
    x, y = coordinates[:, 0], coordinates[:, 1]
    if x.min() < minx or x.max() > maxx or y.min() < miny or y.max() > maxy:
        crs = "RD New (EPSG:28992)" if in_rd else "WGS84"
        raise _Bad(code, f"coordinates outside the Netherlands in {crs}")
    return geometry


def _in_rd_new(crs: Any, features: list[Any]) -> bool:
    """RD New or WGS84: the named crs (GeoJSON 2008), else the magnitude of the coordinates."""
    if crs is not None:
        name = ""
        if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
            name = str(crs["properties"].get("name", "")).strip().casefold()
        if name in _RD_NAMES:
            return True
        if name in _WGS84_NAMES:
            return False
        raise GeometryFileError(f"crs {name or crs!r} is neither RD New (EPSG:28992) nor WGS84")
    for feature in features:
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        first = _first_position(geometry.get("coordinates") if isinstance(geometry, dict)
                                else None)
        if first is not None:
            return abs(first[0]) > 180 or abs(first[1]) > 90
    return False


def _first_position(coordinates: Any) -> tuple[float, float] | None:
    while isinstance(coordinates, list) and coordinates and isinstance(coordinates[0], list):
        coordinates = coordinates[0]
    if (isinstance(coordinates, list) and len(coordinates) >= 2
            and all(isinstance(c, int | float) for c in coordinates[:2])):
        return float(coordinates[0]), float(coordinates[1])
    return None


def _lineage(area: Any) -> list[Any]:
    out = []
    while area is not None:
        out.append(area)
        area = area.parent
    return out


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of what make_valid returned (it may add lines and points)."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon",
                                                                          "MultiPolygon")]
    return shapely.unary_union(parts) if parts else geometry


Coordinates = NDArray[np.float64]  # shape (n, 2): x, y or longitude, latitude


@cache
def _project(source: str, target: str) -> Callable[[Coordinates], Coordinates]:
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def project(points: Coordinates) -> Coordinates:
        x, y = transformer.transform(points[:, 0], points[:, 1])
        return np.column_stack((np.asarray(x), np.asarray(y)))

    return project


def _rounded(project: Callable[[Coordinates], Coordinates]
             ) -> Callable[[Coordinates], Coordinates]:
    def rounded(points: Coordinates) -> Coordinates:
        return np.round(project(points), DECIMALS)

    return rounded


def rd_to_wgs84(x: float, y: float) -> tuple[float, float]:
    """One RD New point as (longitude, latitude)."""
    lon, lat = _project(RD_NEW, WGS84)(np.array([[x, y]]))[0]
    return float(lon), float(lat)


def wgs84_to_rd(lon: float, lat: float) -> tuple[float, float]:
    """One WGS84 point as RD New (x, y) in metres."""
    x, y = _project(WGS84, RD_NEW)(np.array([[lon, lat]]))[0]
    return float(x), float(y)
