"""Area maps: the wijk- en buurtkaart read, stored, served as GeoJSON with published values.

data/wijkenbuurten-2023-utrecht.geojson follows the PDOK layout (RD New with a named crs,
`buurtcode`, `wijkcode`, `gemeentecode`, names, `water`), with made-up rectangles as outlines
whose edges carry sub-metre jitter every 50 m: simplification for display removes it.
"""

from __future__ import annotations

import copy
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from pyproj import Transformer

from services.indicators.demo_data import generate_demo
from services.indicators.demo_maps import synthetic_outlines
from services.indicators.maps import repository as maps_repository
from services.indicators.maps import service as maps_service
from services.indicators.maps.geometries import (
    MAX_GEOMETRY_BYTES,
    BadFeatures,
    GeometryFileError,
    MapTooLarge,
    read_area_map,
)
from services.indicators.reporting import service as reporting_service
from services.indicators.tests.helpers import households, record_all, small_register
from services.indicators.tests.test_kerncijfers_upload import multipart
from shared.areacodes import AreaLevel
from shared.http_cache import strong_etag

DATA = Path(__file__).parent / "data"
MAP = DATA / "wijkenbuurten-2023-utrecht.geojson"
GEOJSON = {"Content-Type": "application/geo+json"}
RATE = "signalled-households-per-100-corporation-dwellings"
PERIOD = "rolling-12m:2026-11"


def document() -> dict[str, Any]:
    return orjson.loads(MAP.read_bytes())


def test_the_map_is_read_reprojected_and_simplified():
    outlines = {o.code: o for o in read_area_map(MAP.read_bytes())}
    assert list(outlines) == ["GM0344", "WK034401", "WK034402", "BU03440101", "BU03440102",
                              "BU03440103", "BU03440201"]
    buurt = outlines["BU03440101"]
    assert (buurt.level, buurt.parent_code, buurt.gemeente_code, buurt.name) == (
        AreaLevel.BUURT, "WK034401", "GM0344", "Binnenstad-Noord")
    assert outlines["WK034402"].parent_code == "GM0344"
    geometry = shapely.from_geojson(buurt.geometry)
    minx, miny, maxx, maxy = geometry.bounds
    assert 5.09 < minx < maxx < 5.11 and 52.08 < miny < maxy < 52.10  # Utrecht, lon/lat
    source = document()["features"][3]["geometry"]["coordinates"][0]
    assert len(source) > 60 and len(shapely.get_coordinates(geometry)) == 5  # jitter gone
    # Neighbours still meet: the shared edge is simplified the same way on both sides.
    neighbour = shapely.from_geojson(outlines["BU03440102"].geometry)
    assert geometry.intersection(neighbour).length > 0.005


def test_wgs84_input_gives_the_same_outlines():
    to_wgs84 = Transformer.from_crs("EPSG:28992", "EPSG:4326", always_xy=True)
    doc = document()
    del doc["crs"]  # RFC 7946: no crs member means WGS84
    for feature in doc["features"]:
        ring = feature["geometry"]["coordinates"][0]
        feature["geometry"]["coordinates"][0] = [list(to_wgs84.transform(x, y)) for x, y in ring]
    rd = {o.code: shapely.from_geojson(o.geometry) for o in read_area_map(MAP.read_bytes())}
    wgs = {o.code: shapely.from_geojson(o.geometry) for o in read_area_map(orjson.dumps(doc))}
    assert rd.keys() == wgs.keys()
    for code, geometry in rd.items():
        assert geometry.symmetric_difference(wgs[code]).area < 0.01 * geometry.area, code


def test_rd_coordinates_without_a_crs_member_are_recognised():
    doc = document()
    del doc["crs"]
    assert [o.geometry for o in read_area_map(orjson.dumps(doc))] == [
        o.geometry for o in read_area_map(MAP.read_bytes())]


def test_every_bad_feature_is_named_and_nothing_is_used():
    doc = document()
    features = doc["features"]
    features[1]["properties"]["wijkcode"] = "WK0344"  # too short
    features[2]["geometry"] = {"type": "Point", "coordinates": [137000, 455000]}
    features[3]["geometry"]["coordinates"][0][0] = [900000.0, 455000.0]
    features[3]["geometry"]["coordinates"][0][-1] = [900000.0, 455000.0]
    features[4]["properties"] = {"naam": "zonder code"}
    features.append(copy.deepcopy(features[5]))
    with pytest.raises(BadFeatures) as caught:
        read_area_map(orjson.dumps(doc))
    bad = {b.index: b for b in caught.value.bad}
    assert sorted(bad) == [1, 2, 3, 4, 7]
    assert "area code" in bad[1].reason and bad[1].code == "WK0344"
    assert "Point" in bad[2].reason
    assert "outside the Netherlands" in bad[3].reason
    assert "no buurtcode" in bad[4].reason
    assert "duplicate" in bad[7].reason and "feature 5" in bad[7].reason
    assert "feature 2 (WK034402)" in str(caught.value)


@pytest.mark.parametrize(("content", "reason"), [
    (b"not json", "not JSON"),
    (b'{"type": "Feature"}', "FeatureCollection"),
    (b'{"type": "FeatureCollection", "features": []}', "no features"),
    (b'{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": '
     b'"EPSG:3857"}}, "features": [{}]}', "neither RD New"),
])
def test_files_that_are_not_a_map_are_refused(content, reason):
    with pytest.raises(GeometryFileError, match=reason):
        read_area_map(content)


def test_size_limit():
    with pytest.raises(MapTooLarge):
        read_area_map(b" " * (MAX_GEOMETRY_BYTES + 1))


def test_demo_outlines_are_synthetic_nested_and_cover_every_area():
    dataset = generate_demo()
    outlines = {o.code: o for o in synthetic_outlines(dataset)}
    assert set(outlines) == {a.code for a in dataset.areas if a.level is not AreaLevel.NATIONAL}
    shapes = {code: shapely.from_geojson(o.geometry) for code, o in outlines.items()}
    for area in dataset.by_level(AreaLevel.WIJK):
        buurten = [shapes[a.code] for a in dataset.areas if a.parent_code == area.code]
        union = shapely.unary_union(buurten)
        assert union.symmetric_difference(shapes[area.code]).area < 0.02 * union.area
    # Rotterdam's demo outline lies around Rotterdam.
    centre = shapes["GM0599"].centroid
    assert abs(centre.x - 4.48) < 0.05 and abs(centre.y - 51.92) < 0.05
    assert synthetic_outlines(dataset) == list(outlines.values())  # same seed, same map


async def test_import_and_serve_a_level_within_a_parent(indicators, auth):
    admin, reader = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        c = svc.client
        await small_register(c, admin)
        await c.put("/v1/areas/BU03440101", headers=admin, json={"name": "Noord (register)"})
        r = await c.post("/v1/area-geometries/import", content=MAP.read_bytes(),
                         headers={**admin, **GEOJSON})
        assert r.status_code == 200, r.text
        report = r.json()
        assert report == {"stored": 7, "unchanged": 0, "notRegistered": [],
                          "byLevel": {"gemeente": 1, "wijk": 2, "buurt": 4}}
        body, content_type = multipart("wijkenbuurten.geojson", MAP.read_bytes())
        r = await c.post("/v1/area-geometries/import", content=body,
                         headers={**admin, "Content-Type": content_type})
        assert r.status_code == 200, r.text
        assert r.json()["unchanged"] == 7

        r = await c.get("/v1/area-geometries", headers=reader,
                        params={"level": "buurt", "parentCode": "GM0344"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/geo+json"
        collection = r.json()
        assert collection["type"] == "FeatureCollection" and collection["indicator"] is None
        features = {f["id"]: f for f in collection["features"]}
        assert list(features) == ["BU03440101", "BU03440102", "BU03440103", "BU03440201"]
        first = features["BU03440101"]
        assert first["geometry"]["type"] == "Polygon"
        assert first["properties"] == {"code": "BU03440101", "level": "buurt",
                                       "name": "Noord (register)", "parentCode": "WK034401",
                                       "synthetic": False}
        r = await c.get("/v1/area-geometries", headers=reader,
                        params={"level": "buurt", "parentCode": "WK034402"})
        assert [f["id"] for f in r.json()["features"]] == ["BU03440201"]
        r = await c.get("/v1/area-geometries", headers=reader, params={"level": "gemeente"})
        assert [f["id"] for f in r.json()["features"]] == ["GM0344"]


async def test_a_map_joined_with_published_values(indicators, auth):
    admin, partner = auth("admin"), auth("partner", "demo-partner")
    async with indicators() as svc:
        c = svc.client
        await small_register(c, admin)
        await record_all(svc.runtime, households("BU03440101", 12) + households("BU03440102", 2)
                         + households("BU03440103", 9) + households("BU03440201", 20))
        r = await c.post("/v1/area-geometries/import", content=MAP.read_bytes(),
                         headers={**admin, **GEOJSON})
        assert r.status_code == 200, r.text
        for who in (partner, admin):  # admins too: a map shows what is published
            r = await c.get("/v1/area-geometries", headers=who, params={
                "level": "buurt", "parentCode": "GM0344", "indicator": RATE, "period": PERIOD})
            assert r.status_code == 200, r.text
            collection = r.json()
            assert collection["indicator"]["indicatorId"] == RATE
            assert collection["indicator"]["period"] == PERIOD
            on_map = {f["id"]: f["properties"]["indicator"] for f in collection["features"]}
            r = await c.get("/v1/indicators", headers=partner, params={
                "level": "buurt", "indicator": RATE, "period": PERIOD})
            published = {i["areaCode"]: i for i in r.json()["items"]}
            assert on_map.keys() == published.keys()
            for code, cell in on_map.items():
                assert (cell["value"], cell["suppressed"], cell["reason"]) == (
                    published[code]["value"], published[code]["suppressed"],
                    published[code]["reason"]), code
            assert on_map["BU03440102"]["value"] is None  # 2 households: withheld
            assert on_map["BU03440201"]["value"] is not None


async def test_a_map_is_made_a_part_at_a_time_from_its_own_areas_figures(
        indicators, auth, monkeypatch):
    """A map of a gemeente's buurten with values made the whole buurt ranking (85 ms of the
    event loop nationally), and a map was read and written in one go (the map of every buurt
    is 10 MB: 150-230 ms). Now: the figures of the map's own areas, and a part at a time."""
    monkeypatch.setattr(maps_service, "MAP_PAGE", 2, raising=False)
    pages: list[list[str]] = []
    read_page = maps_repository.geometries_of

    async def counted(session, **kw):
        rows = await read_page(session, **kw)
        pages.append([row[0] for row in rows])
        return rows

    admin = auth("admin")
    async with indicators() as svc:
        await small_register(svc.client, admin)
        await record_all(svc.runtime, households("BU03440101", 12) + households("BU03440201", 20))
        r = await svc.client.post("/v1/area-geometries/import", content=MAP.read_bytes(),
                                  headers={**admin, **GEOJSON})
        assert r.status_code == 200, r.text
        whole = (await svc.client.get("/v1/area-geometries", headers=admin, params={
            "level": "buurt", "indicator": RATE, "period": PERIOD})).json()

        def no_ranking(*args, **kwargs):
            raise AssertionError("a map read made the level's whole ranking")

        monkeypatch.setattr(reporting_service, "ranking", no_ranking)
        monkeypatch.setattr(maps_repository, "geometries_of", counted)
        r = await svc.client.get("/v1/area-geometries", headers=admin, params={
            "level": "buurt", "indicator": RATE, "period": PERIOD})
        assert r.status_code == 200, r.text
    assert r.json() == whole and len(whole["features"]) == 4
    assert pages == [["BU03440101", "BU03440102"], ["BU03440103", "BU03440201"], []]


async def test_map_requests_that_are_refused(indicators, auth):
    admin, reader = auth("admin"), auth("analyst", "demo-municipality")
    async with indicators() as svc:
        c = svc.client
        r = await c.post("/v1/area-geometries/import", content=MAP.read_bytes(),
                         headers={**reader, **GEOJSON})
        assert r.status_code == 403
        doc = document()
        doc["features"][2]["geometry"] = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
        r = await c.post("/v1/area-geometries/import", content=orjson.dumps(doc),
                         headers={**admin, **GEOJSON})
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["invalidParams"][0]["name"] == "body.features[2]"
        assert "WK034402" in problem["detail"] and "LineString" in problem["detail"]
        for params in ({"level": "national"}, {"level": "buurt", "parentCode": "BU03440101"},
                       {"level": "wijk", "parentCode": "WK034401"},
                       {"level": "buurt", "parentCode": "GM0999"},
                       {"level": "buurt", "indicator": "no-such-indicator"},
                       {"level": "buurt", "period": PERIOD}):
            r = await c.get("/v1/area-geometries", headers=reader, params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_large_map_goes_as_a_multipart_upload(indicators, auth):
    """A GeoJSON body is JSON, held whole to the 4 MiB JSON limit before the app runs; the
    same file as a browser upload may be up to MAX_GEOMETRY_BYTES."""
    admin = auth("admin")
    padded = MAP.read_bytes() + b" " * (5 * 1024 * 1024)  # still the same JSON document
    async with indicators() as svc:
        r = await svc.client.post("/v1/area-geometries/import", content=padded,
                                  headers={**admin, **GEOJSON})
        assert r.status_code == 413, r.text
        body, content_type = multipart("wijkenbuurten.geojson", padded)
        r = await svc.client.post("/v1/area-geometries/import", content=body,
                                  headers={**admin, "Content-Type": content_type})
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 7


async def test_a_map_goes_gzipped_compressed_once_and_validates(indicators, auth,
                                                                 monkeypatch):
    """A map of every buurt is 10 MB nationally: it goes gzipped to who accepts it (browsers,
    the console's httpx), compressed once while it stays the same; its ETag is the hash of
    the map, weak when gzipped, and `If-None-Match` gives a 304 either way."""
    compressed: list[int] = []
    compress = zlib.compress

    def counted(data: bytes, level: int, wbits: int) -> bytes:
        compressed.append(len(data))
        return compress(data, level, wbits)

    monkeypatch.setattr(zlib, "compress", counted)  # as shared.compression calls it
    reader = auth("analyst")
    async with indicators() as svc:
        async with svc.runtime.sessions() as session, session.begin():
            await maps_service.store_outlines(session, synthetic_outlines(generate_demo()),
                                              "synthetic", synthetic=True)
        params = {"level": "buurt", "parentCode": "GM0599"}
        plain = await svc.client.get("/v1/area-geometries", params=params,
                                     headers={**reader, "Accept-Encoding": "identity"})
        assert plain.status_code == 200, plain.text
        assert len(plain.content) > 8 * 1024 and "Content-Encoding" not in plain.headers
        assert plain.headers["ETag"] == strong_etag(plain.content).decode()
        packed = []
        for _ in range(3):
            r = await svc.client.get("/v1/area-geometries", params=params,
                                     headers={**reader, "Accept-Encoding": "gzip"})
            assert r.status_code == 200, r.text
            assert r.headers["Content-Encoding"] == "gzip"
            assert r.headers["Content-Type"] == "application/geo+json"
            assert "Accept-Encoding" in r.headers["Vary"]
            assert r.content == plain.content  # httpx took the gzip off
            assert int(r.headers["Content-Length"]) < len(plain.content) / 2
            assert r.headers["ETag"] == "W/" + plain.headers["ETag"]
            packed.append(r.headers["ETag"])
        for etag, encoding in ((plain.headers["ETag"], "gzip"), (packed[0], "identity")):
            again = await svc.client.get("/v1/area-geometries", params=params, headers={
                **reader, "Accept-Encoding": encoding, "If-None-Match": etag})
            assert again.status_code == 304 and again.content == b""
    assert compressed == [len(plain.content)]
