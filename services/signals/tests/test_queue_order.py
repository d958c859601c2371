"""The work queue's order over the API: `sort=urgency` across pages, `open`, and the 400s of
a sort or cursor that does not fit."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.signals.models import Signal
from services.signals.tests.conftest import create, db
from shared.db import utcnow
from shared.pagination import encode_cursor

BOTH = pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)

#: name -> (severity, status, SLA due in hours from now, personal data removed)
QUEUE: dict[str, tuple[str, str, int, bool]] = {
    "acute-later": ("acute", "new", 48, False),
    "acute-overdue": ("acute", "new", -1, False),
    "high-overdue": ("high", "new", -3, False),
    "low-overdue": ("low", "new", -2, False),
    "triaged-past-due": ("medium", "triaged", -5, False),  # past due, but no longer `new`
    "medium-later": ("medium", "new", 24, False),
    "resolved": ("low", "resolved", -10, False),
    "erased-overdue": ("high", "new", -4, True),
}
#: Acute first, then overdue, then by SLA due date, earliest first.
URGENT_FIRST = ["acute-overdue", "acute-later", "erased-overdue", "high-overdue",
                "low-overdue", "resolved", "triaged-past-due", "medium-later"]


async def _queue(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """The QUEUE's signals, made; name by id."""
    names: dict[str, str] = {}
    for name, (severity, _, _, _) in QUEUE.items():
        names[(await create(client, headers, severity=severity))["id"]] = name
    now = utcnow()
    async with db(client) as session:
        for signal_id, name in names.items():
            _, status, due_in, removed = QUEUE[name]
            signal = await session.get(Signal, uuid.UUID(signal_id))
            signal.status = status
            signal.sla_due_at = now + timedelta(hours=due_in)
            if removed:
                signal.personal_data_removed_at = now
    return names


async def _pages(client: httpx.AsyncClient, headers: dict[str, str], **params: Any,
                 ) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        r = await client.get("/v1/signals", headers=headers, params={
            **params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        pages.append([item["id"] for item in r.json()["items"]])
        cursor = r.json()["nextCursor"]
        if cursor is None:
            return pages


@BOTH
async def test_urgency_orders_across_pages_and_open_leaves_out_closed_and_erased(
        signals_service, auth):
    async with signals_service() as client:
        coordinator = auth("coordinator")
        names = await _queue(client, auth("field-worker"))
        await create(client, auth("field-worker", "demo-corp-b"), severity="acute")

        pages = await _pages(client, coordinator, sort="urgency", limit=3)
        assert [len(p) for p in pages] == [3, 3, 2]
        assert [names[i] for page in pages for i in page] == URGENT_FIRST

        open_pages = await _pages(client, coordinator, sort="urgency", open="true", limit=2)
        assert [names[i] for page in open_pages for i in page] == [
            n for n in URGENT_FIRST if n not in ("resolved", "erased-overdue")]
        overdue = await _pages(client, coordinator, sort="urgency", overdue="true", limit=1)
        assert [names[i] for page in overdue for i in page] == [
            "acute-overdue", "erased-overdue", "high-overdue", "low-overdue"]

        # The default order is still newest first, and still pages.
        recorded = await _pages(client, coordinator, limit=5)
        assert [names[i] for page in recorded for i in page] == list(reversed(QUEUE))


async def test_a_sort_or_cursor_that_does_not_fit_is_a_400(signals_service, auth):
    async with signals_service() as client:
        coordinator = auth("coordinator")
        for _ in range(2):
            await create(client, auth("field-worker"))

        async def refused(params: dict[str, str], *, lang: str = "en") -> dict[str, Any]:
            r = await client.get("/v1/signals", params=params,
                                 headers={**coordinator, "Accept-Language": lang})
            assert r.status_code == 400, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            problem: dict[str, Any] = r.json()
            return problem

        bad = await refused({"sort": "severity"})
        assert [p["name"] for p in bad["invalidParams"]] == ["query.sort"]

        by_sort: dict[str, str] = {}
        for sort in ("recorded", "urgency"):
            r = await client.get("/v1/signals", params={"sort": sort, "limit": 1},
                                 headers=coordinator)
            by_sort[sort] = r.json()["nextCursor"]
            assert by_sort[sort]
        for sort, other in (("urgency", "recorded"), ("recorded", "urgency")):
            mismatch = await refused({"sort": sort, "cursor": by_sort[other]})
            assert [(p["name"], p["code"]) for p in mismatch["invalidParams"]] == [
                ("query.cursor", "cursor_of_other_sort")]
            assert mismatch["detail"] == f"the cursor pages the list in {other} order"
        dutch = await refused({"cursor": by_sort["urgency"]}, lang="nl")
        assert dutch["detail"] == "de cursor bladert door de lijst in volgorde urgency"

        now = utcnow().isoformat()
        forged = [encode_cursor("urgency", now, True, 1, now, str(uuid.uuid4())),
                  encode_cursor("urgency", now, 0, 1, "2026-01-01T00:00:00", str(uuid.uuid4())),
                  encode_cursor("recorded", now, 0, 1, now, str(uuid.uuid4())),
                  "garbage"]
        for cursor in forged:
            invalid = await refused({"sort": "urgency", "cursor": cursor})
            assert [(p["name"], p["code"]) for p in invalid["invalidParams"]] == [
                ("query.cursor", "invalid_cursor")], cursor

        # The change feed has its own order and cursor: neither a sort nor `open` with it.
        feed = await refused({"changedSince": "0", "sort": "urgency", "open": "true"})
        assert sorted(p["name"] for p in feed["invalidParams"]) == ["query.open", "query.sort"]
