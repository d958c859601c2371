"""The administrator's pages: a CBS Kerncijfers upload with its import report, a map upload
(wijk- en buurtkaart GeoJSON) with its report, and the programme areas."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from services.console.backend import ApiProblem
from services.console.web import CsrfFailed, api, render, require, session_of

router = APIRouter()
#: A page's upload goes to the API whole; the API has its own (larger) limits.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


async def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    areas = await api(request).get("indicators", "/v1/programme-areas")
    return render(request, "admin.html", status_code, programme_areas=areas["items"],
                  **{"values": {}, **context})


async def _upload(request: Request) -> tuple[dict[str, str], bytes, str]:
    """The form's fields and its file, after the CSRF check."""
    async with request.form(max_files=1, max_fields=10) as form:
        if not session_of(request).csrf_ok(str(form.get("csrf") or "")):
            raise CsrfFailed
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        part = form.get("file")
        data, name = b"", ""
        if isinstance(part, UploadFile):
            data, name = await part.read(MAX_UPLOAD_BYTES + 1), part.filename or ""
    return fields, data, name


def _no_file(form: str) -> ApiProblem:
    return ApiProblem(400, "", "", fields={"file": ["Kies een bestand."]})


@router.get("/beheer")
async def admin(request: Request) -> Response:
    require(request, "admin")
    return await _page(request)


@router.post("/beheer/kerncijfers")
async def upload_kerncijfers(request: Request) -> Response:
    require(request, "admin")
    fields, data, _ = await _upload(request)
    if not data:
        return await _page(request, 400, problem=_no_file("cbs"), problem_form="cbs",
                           values=fields)
    try:
        r = await api(request).call("POST", "indicators", "/v1/areas/import", content=data,
                                    params={"year": fields.get("year", "")},
                                    headers={"Content-Type": "text/csv"})
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _page(request, e.status, problem=e, problem_form="cbs", values=fields)
    return await _page(request, cbs_report=r.json())


@router.post("/beheer/kaart")
async def upload_map(request: Request) -> Response:
    require(request, "admin")
    fields, data, name = await _upload(request)
    if not data:
        return await _page(request, 400, problem=_no_file("map"), problem_form="map",
                           values=fields)
    params = {"source": fields["source"]} if fields.get("source") else {}
    try:
        # As a multipart file, as the browser sent it: a GeoJSON body is held to the API's
        # JSON limit (4 MiB), a national map is far larger; a file part gets the map limit.
        r = await api(request).call("POST", "indicators", "/v1/area-geometries/import",
                                    files={"file": (name or "kaart.geojson", data,
                                                    "application/geo+json")}, params=params)
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _page(request, e.status, problem=e, problem_form="map", values=fields)
    return await _page(request, map_report=r.json())


@router.post("/beheer/programmagebieden")
async def put_programme_area(request: Request) -> Response:
    require(request, "admin")
    async with request.form(max_fields=10) as form:
        if not session_of(request).csrf_ok(str(form.get("csrf") or "")):
            raise CsrfFailed
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    body: dict[str, Any] = {"name": fields.get("name", "").strip(),
                            "buurtCodes": [c for c in re.split(r"[\s,;]+",
                                                               fields.get("buurtCodes", ""))
                                           if c]}
    if fields.get("gemeenteCode", "").strip():
        body["gemeenteCode"] = fields["gemeenteCode"].strip()
    area_id = fields.get("id", "").strip() or "-"
    try:
        await api(request).call("PUT", "indicators", f"/v1/programme-areas/{area_id}",
                                json=body)
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _page(request, e.status, problem=e, problem_form="pa", values=fields)
    return await _page(request, saved_area=area_id)
