"""The field apps' change feed: `GET /v1/signals?changedSince=` gives a worker's own signals
changed since a cursor (status, outcome summaries) and tombstones of those erased or purged."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta

import pytest

from services.signals.casework import service as casework
from services.signals.casework.workflow import SignalStatus
from services.signals.labels import code_lists
from services.signals.models import Signal
from services.signals.retention.purge import purge_expired
from services.signals.tests.conftest import create, db, move
from shared.auth import Principal, Role
from shared.db import utcnow
from tests.apps import runtime_of

BOTH = pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
PURPOSE = "woonoverlast-aanpak"  # a municipality purpose resting on a public task


async def feed(client, headers, cursor="0", **params):
    r = await client.get("/v1/signals", params={"changedSince": cursor, **params},
                         headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def ids(page):
    return [item["id"] for item in page["items"]]


async def refer(client, auth, signal_id):
    coord = auth("coordinator")
    assert (await move(client, signal_id, coord, "triaged")).status_code == 201
    ref = await client.post(f"/v1/signals/{signal_id}/referrals", json={
        "partnerOrganisation": "demo-municipality", "purpose": PURPOSE}, headers=coord)
    assert ref.status_code == 201, ref.text
    return ref.json()["id"]


async def report_outcome(client, auth, referral_id, outcome="help-accepted"):
    done = await client.post(f"/v1/referrals/{referral_id}/outcome", json={"outcome": outcome},
                             headers=auth("partner", "demo-municipality", team="municipality"))
    assert done.status_code == 200, done.text


@BOTH
async def test_the_feed_brings_an_app_up_to_date(signals_service, auth):
    async with signals_service() as client:
        fw, colleague = auth("field-worker", sub="fw-1"), auth("field-worker", sub="fw-2")
        first = await create(client, fw, houseNumber=1)
        second = await create(client, fw, houseNumber=2)
        theirs = await create(client, colleague, houseNumber=3)

        start = await feed(client, fw)
        assert ids(start) == [first["id"], second["id"]]  # own signals only, in change order
        assert start["tombstones"] == [] and start["hasMore"] is False
        cursor = start["nextCursor"]
        assert (await feed(client, colleague))["items"][0]["id"] == theirs["id"]
        quiet = await feed(client, fw, cursor)
        assert quiet["items"] == [] and quiet["nextCursor"] == cursor

        referral = await refer(client, auth, first["id"])
        referred = await feed(client, fw, cursor)
        assert ids(referred) == [first["id"]]
        assert referred["items"][0]["status"] == "referred"
        assert referred["items"][0]["outcomes"] == []
        cursor = referred["nextCursor"]
        # The partner's outcome alone (no status change) is a change of the signal too.
        await report_outcome(client, auth, referral)
        changed = await feed(client, fw, cursor)
        assert ids(changed) == [first["id"]]
        item = changed["items"][0]
        [summary] = item["outcomes"]
        assert set(summary) == {"referralId", "purpose", "outcome", "outcomeAt", "followUpDate",
                                "purposeLabel", "outcomeLabel"}  # labels: Dutch by default
        assert summary["outcomeLabel"] == code_lists()["outcome"][summary["outcome"]]["nl"]
        assert (summary["referralId"], summary["outcome"]) == (referral, "help-accepted")
        assert "personalData" not in item and "note" not in str(item)
        # The ordinary list carries the same summary: no GET per signal needed.
        listed = (await client.get("/v1/signals", headers=fw)).json()["items"]
        assert {s["id"]: s["outcomes"] for s in listed}[first["id"]] == [summary]
        cursor = changed["nextCursor"]

        # Erased (a data-subject request) and purged (retention): the app must forget them.
        erased = await client.post("/v1/data-subject-erasures", json={
            "postcode": "3011 AB", "houseNumber": 2, "houseLetter": "b"},
            headers=auth("privacy-officer"))
        assert erased.json()["signalIds"] == [second["id"]], erased.text
        assert (await move(client, first["id"], auth("coordinator"), "resolved",
                           outcome="help-accepted")).status_code == 201
        async with db(client) as session:
            signal = await session.get(Signal, uuid.UUID(first["id"]))
            signal.closed_at = utcnow() - timedelta(days=800)
        async with db(client) as session:
            assert await purge_expired(session) == 1
        gone = await feed(client, fw, cursor)
        # The resolution came before the purge; a purged signal shows only as a tombstone.
        assert gone["items"] == []
        assert [(t["signalId"], t["kind"]) for t in gone["tombstones"]] == [
            (second["id"], "erasure"), (first["id"], "purge")]
        assert set(gone["tombstones"][0]) == {"signalId", "kind", "erasedAt"}
        assert (await feed(client, colleague, (await feed(client, colleague))["nextCursor"])
                )["tombstones"] == []


@BOTH
async def test_the_feed_pages_and_refuses_a_bad_cursor(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker", sub="fw-1")
        made = [(await create(client, fw, houseNumber=n))["id"] for n in range(1, 6)]
        seen, cursor, pages = [], "0", 0
        while True:
            page = await feed(client, fw, cursor, limit=2)
            seen += ids(page)
            cursor, pages = page["nextCursor"], pages + 1
            if not page["hasMore"]:
                break
        assert seen == made and pages == 3

        listed = (await client.get("/v1/signals", params={"limit": 1}, headers=fw)).json()
        # Past a BIGINT: a 400, not a database error.
        beyond = base64.urlsafe_b64encode(b'["changes", 10000000000000000000]').decode()
        for bad in ("nonsense", listed["nextCursor"], "WyJjaGFuZ2VzIiwgLTFd", beyond):
            r = await client.get("/v1/signals", params={"changedSince": bad}, headers=fw)
            assert r.status_code == 400, bad
            assert [p["name"] for p in r.json()["invalidParams"]] == ["query.changedSince"]
        r = await client.get("/v1/signals", params={"changedSince": "0", "status": "new",
                                                    "cursor": listed["nextCursor"]}, headers=fw)
        assert r.status_code == 400
        assert sorted(p["name"] for p in r.json()["invalidParams"]) == [
            "query.cursor", "query.status"]


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
async def test_a_change_that_commits_late_is_not_skipped(signals_service, auth):
    """Two transactions interleave: the one that changes first commits last. A position
    given at the change (a sequence, an autoincrement id, a timestamp) puts its change
    before one a reader has already passed, and the app never hears of it.

    PostgreSQL only: SQLite lets one writer in at a time (BEGIN IMMEDIATE), so there the
    second change waits for the first to commit and cannot overtake it."""
    async with signals_service() as client:
        fw, coord = auth("field-worker", sub="fw-1"), auth("coordinator")
        early = await create(client, fw, houseNumber=1)
        late = await create(client, fw, houseNumber=2)
        cursor = (await feed(client, fw))["nextCursor"]

        rt = runtime_of(client)
        coordinator = Principal("coord-1", "demo-corp-a", frozenset({Role.COORDINATOR}))
        async with rt.sessions() as slow, slow.begin():
            signal = await slow.get(Signal, uuid.UUID(early["id"]))
            casework.transition(slow, signal, SignalStatus.TRIAGED, coordinator, "urn:test",
                                rt.crypto.cipher)
            await slow.flush()  # changed first ...
            assert (await move(client, late["id"], coord, "triaged")).status_code == 201
            overtaken = await feed(client, fw, cursor)
            assert ids(overtaken) == [late["id"]]
            cursor = overtaken["nextCursor"]
        # ... committed last: the app still hears of it.
        after = await feed(client, fw, cursor)
        assert ids(after) == [early["id"]]
        assert after["items"][0]["status"] == "triaged"


@pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)
async def test_the_feed_does_not_wait_for_a_change_in_flight(signals_service, auth):
    """A signal locked by an open transaction is numbered once that commits: the feed
    neither waits for it (nor deadlocks with a purge that locks several) nor loses it."""
    async with signals_service() as client:
        fw = auth("field-worker", sub="fw-1")
        busy = await create(client, fw, houseNumber=1)  # not numbered yet
        idle = await create(client, fw, houseNumber=2)
        rt = runtime_of(client)
        coordinator = Principal("coord-1", "demo-corp-a", frozenset({Role.COORDINATOR}))
        async with rt.sessions() as slow, slow.begin():
            signal = await slow.get(Signal, uuid.UUID(busy["id"]))
            casework.transition(slow, signal, SignalStatus.TRIAGED, coordinator, "urn:test",
                                rt.crypto.cipher)
            await slow.flush()
            first = await asyncio.wait_for(feed(client, fw), timeout=10)
            assert ids(first) == [idle["id"]]
        after = await feed(client, fw, first["nextCursor"])
        assert ids(after) == [busy["id"]] and after["items"][0]["status"] == "triaged"
