"""The analyst's pages: a map of buurten or wijken coloured by an indicator or the
vulnerability index, the ranking, and an area's page with series and rank stability.

Outlines and values come from the indicators API (the register's geometries with published,
disclosure-controlled values joined); withheld cells stay withheld, drawn grey with the
reason the API gave. The console only arranges them for plotly.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import ApiProblem
from services.console.web import api, render, require

router = APIRouter()
READERS = ("analyst", "admin", "programme-officer", "programme-approver")
INDEX = "vulnerability-index"
#: How many areas the table and the withheld list beside the map show.
LISTED = 300
RANKING_PAGE = 100  # rows per page of a ranking


def _points(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    found: list[tuple[float, float]] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], int | float):
            found.append((float(c[0]), float(c[1])))
        else:
            for part in c:
                walk(part)

    walk(geometry.get("coordinates") or [])
    return found


def view_of(features: list[dict[str, Any]]) -> tuple[dict[str, float], float]:
    """The map's centre and zoom that show every outline."""
    points = [p for f in features for p in _points(f.get("geometry") or {})]
    if not points:
        return {"lon": 5.3, "lat": 52.1}, 6.0
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    span = max(max(lons) - min(lons), (max(lats) - min(lats)) * 1.6, 1e-4)
    return ({"lon": (min(lons) + max(lons)) / 2, "lat": (min(lats) + max(lats)) / 2},
            max(1.0, min(15.0, math.log2(360 / span) - 0.5)))


async def _definitions(request: Request) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api(request).get(
        "indicators", "/v1/indicator-definitions"))["items"]
    return items


@router.get("/kaart")
async def map_page(request: Request, niveau: str = "buurt", gemeente: str = "GM0599",
                   indicator: str = INDEX) -> Response:
    require(request, *READERS)
    client = api(request)
    definitions = await _definitions(request)
    params = {"level": niveau, "parentCode": gemeente.strip()}
    if indicator != INDEX:
        params["indicator"] = indicator
    problem = None
    features: list[dict[str, Any]] = []
    try:
        collection = await client.get("indicators", "/v1/area-geometries", params=params)
        features = collection.get("features", [])
    except ApiProblem as e:
        if e.status != 400:
            raise
        problem = e
    index: dict[str, dict[str, Any]] = {}
    if indicator == INDEX and features:
        listed = await client.get("indicators", "/v1/vulnerability-index")
        index = {i["areaCode"]: i for i in listed["items"]}
    rows = []
    for f in features:
        p = f["properties"]
        if indicator == INDEX:
            i = index.get(p["code"], {})
            value, reason = i.get("score"), None if i.get("score") is not None else "no-data"
        else:
            cell = p.get("indicator") or {}
            value, reason = cell.get("value"), cell.get("reason")
            if value is None and reason is None:
                reason = "no-data"
        rows.append({"code": p["code"], "name": p.get("name") or p["code"], "value": value,
                     "reason": reason})
    shown = [r for r in rows if r["value"] is not None]
    withheld = [r for r in rows if r["value"] is None]
    definition = next((d for d in definitions if d["id"] == indicator), None)
    legend = (f"{definition['name']} ({definition['unit']})" if definition
              else "Kwetsbaarheidsindex")
    center, zoom = view_of(features)
    chart = {"kind": "map", "geojson": {"type": "FeatureCollection", "features": features},
             "locations": [r["code"] for r in shown], "z": [r["value"] for r in shown],
             "text": [f"{r['name']}: {r['value']:.3g}" for r in shown],
             "suppressed": {"locations": [r["code"] for r in withheld],
                            "text": [f"{r['name']}: {r['reason']}" for r in withheld]},
             "legend": legend, "center": center, "zoom": zoom}
    # At national scale (14,000 buurten) the lists beside the map would drown the page: they
    # show the first ones, the withheld by reason in full counts, and point to the ranking.
    by_reason: dict[str, int] = {}
    for r in withheld:
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    return render(request, "map.html", chart=json.dumps(chart), rows=rows[:LISTED],
                  withheld=withheld[:LISTED], by_reason=by_reason, total=len(rows),
                  definitions=definitions, filters={"niveau": niveau, "gemeente": gemeente,
                                                    "indicator": indicator},
                  legend=legend, problem=problem, index=INDEX)


@router.get("/ranglijst")
async def ranking(request: Request, niveau: str = "buurt", indicator: str = "",
                  cursor: str = "") -> Response:
    """A page of RANKING_PAGE areas at a time: a national buurt ranking is 14,000 rows."""
    require(request, *READERS)
    definitions = await _definitions(request)
    chosen = indicator or definitions[0]["id"]
    params = {"level": niveau, "indicator": chosen, "limit": RANKING_PAGE}
    if cursor:
        params["cursor"] = cursor
    result = await api(request).get("indicators", "/v1/indicators", params=params)
    return render(request, "ranking.html", result=result, definitions=definitions,
                  filters={"niveau": niveau, "indicator": chosen},
                  next_cursor=result["nextCursor"])


@router.get("/gebieden/{code}")
async def area(request: Request, code: str, indicator: str = "") -> Response:
    require(request, *READERS)
    client = api(request)
    definitions = await _definitions(request)
    indicators = await client.get("indicators", f"/v1/areas/{code}/indicators")
    chosen = indicator or (indicators["values"][0]["indicatorId"] if indicators["values"]
                           else definitions[0]["id"])
    series = await client.get("indicators", f"/v1/areas/{code}/indicators/{chosen}/series",
                              params={"count": 12})
    points = series["points"]
    chart = {"kind": "lines", "title": chosen, "series": [{
        "name": chosen, "x": [p["period"] for p in points], "y": [p["value"] for p in points]}]}
    names = {d["id"]: d for d in definitions}
    return render(request, "area.html", code=code, indicators=indicators, names=names,
                  series=series, chart=json.dumps(chart), chosen=chosen)
