"""The programme pages: programmes and pools, scenarios and their lines, a comparison with a
chart, the CSV, drafting and approving with the four-eyes rule in view.

Whether someone may approve is the funding API's decision (403 with its reason); the page
only explains beforehand why the button is missing, from what the API says of the scenario
(who drafted it) and the programme (who wrote its formulas).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import ApiProblem
from services.console.web import api, form_of, labels, redirect, render, require, session_of

router = APIRouter()
READERS = ("programme-officer", "programme-approver", "analyst")


@router.get("/programmas")
async def programmes(request: Request) -> Response:
    require(request, *READERS)
    page = await api(request).get("funding", "/v1/programmes", params={"limit": 100})
    return render(request, "programmes.html", programmes=page["items"])


async def _programme_page(request: Request, programme_id: str, problem: ApiProblem | None = None,
                          values: dict[str, str] | None = None, status_code: int = 200
                          ) -> Response:
    client = api(request)
    programme = await client.get("funding", f"/v1/programmes/{programme_id}")
    scenarios = await client.get("funding", f"/v1/programmes/{programme_id}/scenarios",
                                 params={"limit": 100})
    return render(request, "programme.html", status_code, programme=programme,
                  codes=await labels(request, "funding"), scenarios=scenarios["items"],
                  problem=problem, values=values or {},
                  may_draft=session_of(request).has("programme-officer"),
                  new_id=str(uuid.uuid4()))


@router.get("/programmas/{programme_id}")
async def programme(request: Request, programme_id: str) -> Response:
    require(request, *READERS)
    return await _programme_page(request, programme_id)


@router.post("/programmas/{programme_id}/scenarios")
async def draft(request: Request, programme_id: str) -> Response:
    require(request, "programme-officer")
    form = await form_of(request)
    # The form carries an id made when the page was drawn: a double submit is a replay.
    body = {"id": form.get("id") or str(uuid.uuid4()), "name": form.get("name", "").strip()}
    try:
        r = await api(request).call("POST", "funding",
                                    f"/v1/programmes/{programme_id}/scenarios", json=body)
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _programme_page(request, programme_id, e, form, e.status)
    return redirect(f"/scenarios/{r.json()['id']}")


def four_eyes(request: Request, scenario: dict[str, Any], programme: dict[str, Any]
              ) -> tuple[bool, str]:
    """(show the approve button, why not) from what the API says; the API decides."""
    s = session_of(request)
    if scenario["status"] != "draft":
        return False, "not_draft"
    if not s.has("programme-approver"):
        return False, "not_approver"
    if s.organisation != programme["organisation"]:
        return False, "other_organisation"
    if s.subject == scenario["draftedBy"]:
        return False, "you_drafted"
    if s.subject == programme.get("poolsEditedBy"):
        return False, "you_wrote_formula"
    return True, ""


async def _scenario_page(request: Request, scenario_id: str, problem: ApiProblem | None = None,
                         status_code: int = 200, saved: bool = False, form: str = "approval",
                         values: dict[str, str] | None = None, pool: str = "") -> Response:
    client = api(request)
    response = await client.call("GET", "funding", f"/v1/scenarios/{scenario_id}")
    scenario = response.json()
    programme = await client.get("funding", f"/v1/programmes/{scenario['programmeId']}")
    lines = await client.get("funding", f"/v1/scenarios/{scenario_id}/lines",
                             params={"limit": 50})
    others = await client.get("funding", f"/v1/programmes/{scenario['programmeId']}/scenarios",
                              params={"limit": 100})
    may_approve, why_not = four_eyes(request, scenario, programme)
    return render(request, "scenario.html", status_code, scenario=scenario, programme=programme,
                  codes=await labels(request, "funding"), lines=lines["items"],
                  more_lines=bool(lines["nextCursor"]),
                  etag=response.headers.get("etag", ""), may_approve=may_approve,
                  why_not=why_not, problem=problem, problem_form=form, saved=saved,
                  others=[o for o in others["items"] if o["id"] != scenario_id],
                  may_edit=scenario["status"] == "draft" and session_of(request).has(
                      "programme-officer"),
                  inputs=values or pool_inputs(scenario, programme, pool))


#: The form's fields of one pool's formula (the API's names, so its messages find them).
INPUT_FIELDS = ("pool", "indicator", "threshold", "exponent", "floorCents", "capCents")


def pool_inputs(scenario: dict[str, Any], programme: dict[str, Any], pool: str
                ) -> dict[str, str]:
    """The form's starting values for a pool (the first if none is named): the scenario's
    override where it has one, else the programme's formula, as the API gave them."""
    pools = programme.get("pools") or []
    chosen = next((p for p in pools if p["name"] == pool), pools[0] if pools else None)
    if chosen is None:
        return {}
    formula = chosen["formula"]
    override: dict[str, Any] = next((o for o in scenario.get("overrides") or []
                                     if o["pool"] == chosen["name"]), {})
    need = override.get("need") or formula["need"]
    cap = override.get("capCents", formula.get("capCents"))
    return {"pool": chosen["name"], "indicator": need["indicator"],
            "threshold": str(need["threshold"]), "exponent": str(need["exponent"]),
            "floorCents": str(_first(override.get("floorCents"), formula.get("floorCents"), 0)),
            "capCents": "" if cap is None else str(cap)}


def _first(*values: Any) -> Any:
    return next(v for v in values if v is not None)


def _cents(value: str) -> int | str:
    """A whole number of cents as a number; anything else as typed, for the API to judge."""
    value = value.strip()
    return int(value) if value.isdigit() else value


@router.post("/scenarios/{scenario_id}/invoer")
async def edit_inputs(request: Request, scenario_id: str) -> Response:
    """A new version of a draft with one pool's formula changed: the API checks and
    recomputes; its messages come back next to the fields."""
    require(request, "programme-officer")
    form = await form_of(request)
    client = api(request)
    scenario = await client.get("funding", f"/v1/scenarios/{scenario_id}")
    pool = form.get("pool", "")
    override: dict[str, Any] = {
        "pool": pool, "need": {"indicator": form.get("indicator", "").strip(),
                               "threshold": form.get("threshold", "").strip(),
                               "exponent": form.get("exponent", "").strip()},
        "floorCents": _cents(form.get("floorCents", "") or "0")}
    if form.get("capCents", "").strip():
        override["capCents"] = _cents(form["capCents"])
    # The other pools' overrides stay as they are (the API replaces the whole list).
    kept = [{k: v for k, v in o.items() if v is not None}
            for o in scenario.get("overrides") or [] if o["pool"] != pool]
    try:
        await client.call("POST", "funding", f"/v1/scenarios/{scenario_id}/versions",
                          json={"overrides": [*kept, override]})
    except ApiProblem as e:
        if e.status >= 500:
            raise
        values = {k: form.get(k, "") for k in INPUT_FIELDS}
        return await _scenario_page(request, scenario_id, e, e.status, form="edit",
                                    values=values)
    return redirect(f"/scenarios/{scenario_id}?opgeslagen=1")


@router.get("/scenarios/{scenario_id}")
async def scenario(request: Request, scenario_id: str, opgeslagen: str = "",
                   pot: str = "") -> Response:
    require(request, *READERS)
    return await _scenario_page(request, scenario_id, saved=bool(opgeslagen), pool=pot)


@router.post("/scenarios/{scenario_id}/goedkeuring")
async def approve(request: Request, scenario_id: str) -> Response:
    require(request, "programme-approver")
    form = await form_of(request)
    try:
        await api(request).call("POST", "funding", f"/v1/scenarios/{scenario_id}/approval",
                                headers={"If-Match": form.get("etag", "")})
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _scenario_page(request, scenario_id, e, e.status)
    return redirect(f"/scenarios/{scenario_id}?opgeslagen=1")


@router.get("/scenarios/{scenario_id}/allocaties.csv")
async def csv(request: Request, scenario_id: str) -> Response:
    require(request, *READERS)
    r = await api(request).call("GET", "funding", f"/v1/scenarios/{scenario_id}/allocations.csv")
    return Response(r.content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": r.headers.get(
            "content-disposition", f'attachment; filename="scenario-{scenario_id}.csv"')})


@router.get("/scenarios/{scenario_id}/vergelijk")
async def compare(request: Request, scenario_id: str, met: str = "") -> Response:
    require(request, *READERS)
    client = api(request)
    if not met:
        return redirect(f"/scenarios/{scenario_id}")
    comparison = await client.get("funding", f"/v1/scenarios/{scenario_id}/compare/{met}")
    first = await client.get("funding", f"/v1/scenarios/{scenario_id}")
    other = await client.get("funding", f"/v1/scenarios/{met}")
    areas = sorted(comparison["areas"], key=lambda a: a["differenceCents"])
    chart = {"kind": "bar",
             "x": [a["areaCode"] for a in areas],
             "y": [a["differenceCents"] / 100 for a in areas],
             "title": f"{other['name']} - {first['name']} (€)"}
    return render(request, "compare.html", comparison=comparison, first=first, other=other,
                  areas=areas, chart=json.dumps(chart))
