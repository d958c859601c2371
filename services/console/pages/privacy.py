"""The privacy officer's pages: the access log and its chain check, a household's export
and erasure, and the record of erasures. The signals API decides and refuses; this shows."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import ApiProblem
from services.console.web import api, form_of, labels, render, require

router = APIRouter()
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
HOUSEHOLD_FIELDS = ("postcode", "houseNumber", "houseLetter", "houseNumberAddition", "unitRef")


def _moment(value: str) -> str:
    """A date from the date picker is its start in UTC; anything else goes as typed, for the
    API to judge."""
    return f"{value}T00:00:00Z" if DATE.match(value) else value


@router.get("/privacy/toegangslog")
async def access_log(request: Request, recordId: str = "", subject: str = "",  # noqa: N803
                     organisation: str = "", since: str = "", until: str = "",
                     cursor: str = "") -> Response:
    require(request, "privacy-officer")
    client = api(request)
    filters = {"recordId": recordId.strip(), "subject": subject.strip(),
               "organisation": organisation.strip(), "since": since, "until": until}
    params = {k: (_moment(v) if k in ("since", "until") else v)
              for k, v in filters.items() if v}
    if cursor:
        params["cursor"] = cursor
    problem, items, next_cursor = None, [], None
    try:
        page = await client.get("signals", "/v1/access-log", params=params)
        items, next_cursor = page["items"], page["nextCursor"]
    except ApiProblem as e:
        if e.status != 400:
            raise
        problem = e
    verification = await client.get("signals", "/v1/access-log/verification")
    return render(request, "access_log.html", codes=await labels(request), items=items,
                  next_cursor=next_cursor, filters=filters, problem=problem,
                  verification=verification)


def _household(form: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in HOUSEHOLD_FIELDS:
        value = form.get(name, "").strip()
        if value:
            body[name] = int(value) if name == "houseNumber" and value.isdigit() else value
    return body


async def _records(request: Request) -> list[dict[str, Any]]:
    page = await api(request).get("signals", "/v1/erasure-records", params={"limit": 20})
    items: list[dict[str, Any]] = page["items"]
    return items


@router.get("/privacy/betrokkenen")
async def data_subjects(request: Request) -> Response:
    require(request, "privacy-officer")
    return render(request, "data_subjects.html", records=await _records(request), values={},
                  codes=await labels(request))


@router.post("/privacy/betrokkenen")
async def data_subject_request(request: Request) -> Response:
    require(request, "privacy-officer")
    form = await form_of(request)
    action = form.get("action", "export")
    body = _household(form)
    export = erasure = problem = None
    status_code = 200
    try:
        if action == "erase":
            if form.get("confirm") != "yes":
                problem = ApiProblem(400, "", "", fields={"confirm": ["confirm_erasure"]})
            else:
                erasure = (await api(request).call("POST", "signals", "/v1/data-subject-erasures",
                                                   json=body)).json()
        else:
            export = (await api(request).call("POST", "signals", "/v1/data-subject-exports",
                                              json=body)).json()
    except ApiProblem as e:
        if e.status >= 500:
            raise
        problem, status_code = e, e.status
    return render(request, "data_subjects.html", status_code, codes=await labels(request),
                  records=await _records(request),
                  values=form, export=export, erasure=erasure, problem=problem, action=action)
