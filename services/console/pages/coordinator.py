"""The coordinator's pages: the queue and a signal's page (history, status, referral).

Everything shown and every refusal comes from the signals API, the queue's order too
(`sort=urgency`: acute first, then overdue, then by due date, over all pages).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.console.backend import ApiProblem
from services.console.web import api, form_of, labels, redirect, render, require

router = APIRouter()


async def _categories(request: Request) -> dict[str, dict[str, Any]]:
    taxonomy = await api(request).get("signals", "/v1/categories")
    return {c["code"]: c for c in taxonomy["categories"]}


@router.get("/werkvoorraad")
async def queue(request: Request, buurt: str = "", categorie: str = "", status: str = "",
                over_termijn: str = "", alle: str = "", cursor: str = "") -> Response:
    require(request, "coordinator")
    params = {k: v for k, v in {"areaCode": buurt.strip(), "category": categorie,
                                "status": status, "cursor": cursor}.items() if v}
    params["sort"] = "urgency"
    if over_termijn:
        params["overdue"] = "true"
    # The work still to do, unless asked for all; a chosen status shows all of that status
    # (asking for "resolved" means wanting to see them).
    if not alle and not status:
        params["open"] = "true"
    categories = await _categories(request)
    problem = None
    items: list[dict[str, Any]] = []
    next_cursor = None
    try:
        page = await api(request).get("signals", "/v1/signals", params=params)
        items, next_cursor = page["items"], page["nextCursor"]
    except ApiProblem as e:
        if e.status != 400:
            raise
        problem = e
    filters = {"buurt": buurt, "categorie": categorie, "status": status,
               "over_termijn": over_termijn, "alle": alle}
    return render(request, "queue.html", items=items, next_cursor=next_cursor,
                  categories=categories, codes=await labels(request), filters=filters,
                  problem=problem)


async def _signal_page(request: Request, signal_id: str, purpose: str = "",
                       problem: ApiProblem | None = None, form: str = "",
                       values: dict[str, str] | None = None, status_code: int = 200,
                       saved: bool = False) -> Response:
    client = api(request)
    params = {"purpose": purpose} if purpose else {}
    response = await client.call("GET", "signals", f"/v1/signals/{signal_id}", params=params)
    signal = response.json()
    history = await client.get("signals", f"/v1/signals/{signal_id}/history", params=params)
    # Where it may go, and why not elsewhere: the API's own covenant check, per option.
    options = await client.get("signals", f"/v1/signals/{signal_id}/referral-options")
    codes = await labels(request)
    return render(request, "signal.html", status_code, signal=signal, etag=response.headers.get(
        "etag", ""), history=history["items"], options=options, purpose=purpose, codes=codes,
        read_purposes=codes.read_purposes("coordinator"),
        problem=problem, problem_form=form, values=values or {}, saved=saved)


@router.get("/signalen/{signal_id}")
async def signal_page(request: Request, signal_id: str, doel: str = "",
                      opgeslagen: str = "") -> Response:
    require(request, "coordinator")
    return await _signal_page(request, signal_id, purpose=doel, saved=bool(opgeslagen))


@router.post("/signalen/{signal_id}/status")
async def change_status(request: Request, signal_id: str) -> Response:
    require(request, "coordinator")
    form = await form_of(request)
    body: dict[str, Any] = {"status": form.get("status", "")}
    if form.get("reason", "").strip():
        body["reason"] = form["reason"].strip()
    if form.get("outcome"):
        body["outcome"] = form["outcome"]
    try:
        await api(request).call("POST", "signals", f"/v1/signals/{signal_id}/status-changes",
                                json=body, headers={"If-Match": form.get("etag", "")})
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _signal_page(request, signal_id, problem=e, form="status", values=form,
                                  status_code=e.status)
    return redirect(f"/signalen/{signal_id}?opgeslagen=1")


@router.post("/signalen/{signal_id}/doorverwijzing")
async def refer(request: Request, signal_id: str) -> Response:
    require(request, "coordinator")
    form = await form_of(request)
    body = {"partnerOrganisation": form.get("partnerOrganisation", "").strip(),
            "purpose": form.get("purpose", "").strip()}
    try:
        await api(request).call("POST", "signals", f"/v1/signals/{signal_id}/referrals",
                                json=body)
    except ApiProblem as e:
        if e.status >= 500:
            raise
        return await _signal_page(request, signal_id, problem=e, form="referral", values=form,
                                  status_code=e.status)
    return redirect(f"/signalen/{signal_id}?opgeslagen=1")
