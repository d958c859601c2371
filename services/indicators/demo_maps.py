"""Synthetic outlines for the maps of the demo register (`demo_data.py` makes its areas).

Each demo gemeente is a blob around the real centre of its municipality (approximate,
longitude and latitude), cut into wijken and those into buurten by Voronoi cells: plausible on
a map, and nested exactly (a wijk is the union of its buurten), but nothing like the real
borders. Every outline says it is synthetic.
"""

from __future__ import annotations

import math
import random

import shapely
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry

from services.indicators.demo_data import DemoArea, DemoDataset
from services.indicators.maps.geometries import AreaOutline, display_outline, wgs84_to_rd
from shared.areacodes import AreaLevel

DEMO_MUNICIPALITY_CENTRES: dict[str, tuple[float, float]] = {
    "GM0080": (5.799, 53.201), "GM0014": (6.567, 53.219), "GM0202": (5.911, 51.985),
    "GM0917": (5.981, 50.888), "GM0758": (4.776, 51.589), "GM0772": (5.478, 51.441),
    "GM0855": (5.091, 51.555), "GM0606": (4.399, 51.919), "GM0599": (4.479, 51.922),
    "GM0518": (4.300, 52.070), "GM0363": (4.900, 52.373), "GM0479": (4.826, 52.457),
    "GM0995": (5.475, 52.518), "GM0344": (5.121, 52.091), "GM0356": (5.086, 52.029),
    "GM0622": (4.342, 51.912), "GM0503": (4.357, 52.012), "GM0505": (4.690, 51.813),
    "GM1674": (4.465, 51.531), "GM0153": (6.894, 52.221), "GM0193": (6.094, 52.516),
    "GM0935": (5.692, 50.851), "GM0268": (5.852, 51.842), "GM0400": (4.760, 52.957),
    "GM0928": (6.063, 50.866),
}
SYNTHETIC_MAP_SOURCE = "synthetisch (demo): geen echte grenzen"
_BUURT_SPACING_M = 260.0  # a buurt of the demo is about this wide
_GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))


def synthetic_outlines(dataset: DemoDataset) -> list[AreaOutline]:
    """Outlines of every gemeente, wijk and buurt of a demo dataset (not of NL00)."""
    rng = random.Random(dataset.seed)  # noqa: S311 (reproducible synthetic data)
    children: dict[str, list[DemoArea]] = {}
    for area in dataset.areas:
        if area.parent_code is not None:
            children.setdefault(area.parent_code, []).append(area)
    outlines: list[AreaOutline] = []
    for gemeente in dataset.by_level(AreaLevel.GEMEENTE):
        wijken = children.get(gemeente.code, [])
        buurten = sum(len(children.get(w.code, [])) for w in wijken)
        centre = _centre_rd(gemeente.code)
        radius = _BUURT_SPACING_M * math.sqrt(max(buurten, 1)) * 0.62 + 150.0
        shape = _blob(centre, radius, rng)
        outlines.append(_synthetic(gemeente, shape, None))
        for wijk, wijk_shape in zip(wijken, _cells(shape, len(wijken), rng), strict=True):
            outlines.append(_synthetic(wijk, wijk_shape, gemeente.code))
            members = children.get(wijk.code, [])
            for buurt, buurt_shape in zip(members, _cells(wijk_shape, len(members), rng),
                                          strict=True):
                outlines.append(_synthetic(buurt, buurt_shape, gemeente.code))
    return outlines


def _synthetic(area: DemoArea, shape: BaseGeometry, gemeente_code: str | None) -> AreaOutline:
    return AreaOutline(code=area.code, level=area.level, parent_code=area.parent_code,
                       gemeente_code=gemeente_code or area.code, name=area.name,
                       geometry=display_outline(shape, area.level, from_rd=True))


def _centre_rd(gemeente_code: str) -> tuple[float, float]:
    known = DEMO_MUNICIPALITY_CENTRES.get(gemeente_code)
    if known is not None:
        return wgs84_to_rd(*known)
    # The benchmark country's made-up gemeenten: a grid over the middle of the country.
    number = int(gemeente_code[2:])
    return 120_000.0 + (number % 19) * 6_000.0, 420_000.0 + (number // 19 % 19) * 6_000.0


def _blob(centre: tuple[float, float], radius: float, rng: random.Random) -> BaseGeometry:
    """A lumpy disc: a town-like outline rather than a circle."""
    phases = [rng.uniform(0, 2 * math.pi) for _ in range(3)]
    points = []
    for i in range(48):
        angle = 2 * math.pi * i / 48
        r = radius * (1 + 0.14 * math.sin(2 * angle + phases[0])
                      + 0.08 * math.sin(3 * angle + phases[1])
                      + 0.05 * math.sin(5 * angle + phases[2]))
        points.append((centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)))
    return Polygon(points)


def _cells(shape: BaseGeometry, count: int, rng: random.Random) -> list[BaseGeometry]:
    """`shape` cut into `count` Voronoi cells of evenly spread seeds (two Lloyd steps)."""
    if count <= 1:
        return [shape] * count
    cx, cy = shape.centroid.x, shape.centroid.y
    reach = math.sqrt(shape.area / math.pi)
    turn = rng.uniform(0, 2 * math.pi)
    seeds = []
    for i in range(count):  # a sunflower spiral: even spacing for any count
        r = reach * 0.85 * math.sqrt((i + 0.5) / count)
        angle = turn + i * _GOLDEN_ANGLE
        seed = Point(cx + r * math.cos(angle), cy + r * math.sin(angle))
        seeds.append(seed if shape.contains(seed) else _point_in(shape, rng))
    cells: list[BaseGeometry] = []
    for _ in range(3):
        diagram = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=shape, ordered=True)
        cells = [cell.intersection(shape) for cell in diagram.geoms]
        seeds = [cell.centroid if not cell.is_empty else seed
                 for cell, seed in zip(cells, seeds, strict=True)]
    return cells


def _point_in(shape: BaseGeometry, rng: random.Random) -> Point:
    minx, miny, maxx, maxy = shape.bounds
    while True:
        point = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if shape.contains(point):
            return point
