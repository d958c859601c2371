"""Case work over HTTP: workflow transitions, ETag/If-Match, history, listing, SLA."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.signals.models import Signal
from services.signals.tests.conftest import create, db, move
from shared.db import utcnow
from shared.pagination import encode_cursor


async def test_transitions_history_and_concurrency(signals_service, auth):
    async with signals_service() as client:
        fw, coord = auth("field-worker"), auth("coordinator")
        s = await create(client, fw)
        path = f"/v1/signals/{s['id']}/status-changes"
        r = await client.get(f"/v1/signals/{s['id']}", headers=coord)
        assert r.headers["ETag"] == '"1"'
        # 428 without If-Match, 412 with a stale one.
        assert (await client.post(path, json={"status": "triaged"}, headers=coord)
                ).status_code == 428
        stale = await client.post(path, json={"status": "triaged"},
                                  headers={**coord, "If-Match": '"7"'})
        assert stale.status_code == 412
        ok = await client.post(path, json={"status": "triaged", "reason": "seen"},
                               headers={**coord, "If-Match": '"1"'})
        assert ok.status_code == 201, ok.text
        assert ok.headers["ETag"] == '"2"' and ok.json()["toStatus"] == "triaged"
        # The same If-Match again is stale now: the second of two editors loses.
        again = await client.post(path, json={"status": "in-progress"},
                                  headers={**coord, "If-Match": '"1"'})
        assert again.status_code == 412
        # Invalid transition: 409.
        invalid = await move(client, s["id"], coord, "new")
        assert invalid.status_code == 409
        # Closing needs a fitting outcome: 400 naming body.outcome.
        missing = await move(client, s["id"], coord, "resolved")
        assert missing.status_code == 400
        assert missing.json()["invalidParams"][0]["name"] == "body.outcome"
        assert (await move(client, s["id"], coord, "resolved",
                           outcome="help-accepted")).status_code == 201
        closed = (await client.get(f"/v1/signals/{s['id']}", headers=fw)).json()
        assert closed["status"] == "resolved" and closed["closedAt"] is not None
        # Reopen.
        assert (await move(client, s["id"], coord, "triaged", reason="again")).status_code == 201
        history = (await client.get(f"/v1/signals/{s['id']}/history", headers=fw)).json()
        assert [(h["fromStatus"], h["toStatus"], h["version"]) for h in history["items"]] == [
            (None, "new", 1), ("new", "triaged", 2), ("triaged", "resolved", 3),
            ("resolved", "triaged", 4)]


async def test_field_worker_may_only_withdraw_own_new_signal(signals_service, auth):
    async with signals_service() as client:
        mine = auth("field-worker", sub="fw-1")
        s = await create(client, mine)
        other = await create(client, auth("field-worker", sub="fw-2"))
        assert (await move(client, s["id"], mine, "triaged")).status_code == 403
        assert (await move(client, other["id"], mine, "closed-no-action",
                           outcome="not-our-domain")).status_code == 403
        assert (await move(client, s["id"], mine, "closed-no-action",
                           outcome="not-our-domain")).status_code == 201


async def test_list_filters_pagination_and_overdue(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        ids = []
        for i in range(7):
            s = await create(client, fw, areaCode="BU05990101" if i % 2 else "BU05990202",
                             severity="high" if i < 3 else "low")
            ids.append(s["id"])
        await create(client, auth("field-worker", "demo-corp-b"))
        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/signals", params=params, headers=fw)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["nextCursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 7
        high = (await client.get("/v1/signals", params={"severity": "high"}, headers=fw)).json()
        assert len(high["items"]) == 3
        area = (await client.get("/v1/signals", params={"areaCode": "BU05990101"},
                                 headers=fw)).json()
        assert len(area["items"]) == 3
        assert "postcode" not in str(area) and "note" not in str(area)
        bad = await client.get("/v1/signals", params={"limit": 500, "cursor": "garbage"},
                               headers=fw)
        assert bad.status_code == 400
        # Push one signal past its SLA.
        async with db(client) as session:
            signal = await session.get(Signal, uuid.UUID(ids[0]))
            signal.sla_due_at = utcnow() - timedelta(hours=1)
        overdue = (await client.get("/v1/signals", params={"overdue": "true"}, headers=fw)).json()
        assert [i["id"] for i in overdue["items"]] == [ids[0]]
        assert overdue["items"][0]["overdue"] is True
        one = (await client.get(f"/v1/signals/{ids[0]}", headers=fw)).json()
        assert one["overdue"] is True




async def test_bad_query_parameters_are_400_not_500(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        await create(client, fw)
        forged = encode_cursor("yesterday", "not-a-uuid")
        for params in ({"observedFrom": "2026-01-01T00:00:00"}, {"cursor": forged},
                       {"cursor": encode_cursor("2026-01-01T00:00:00", str(uuid.uuid4()))},
                       {"status": "archived"}, {"limit": 0}):
            r = await client.get("/v1/signals", params=params, headers=fw)
            assert r.status_code == 400, (params, r.text)
        r = await client.get("/v1/access-log", params={"cursor": forged},
                             headers=auth("privacy-officer"))
        assert r.status_code == 400
        window = {"observedFrom": "2020-01-01T00:00:00Z", "observedUntil": "2020-02-01T00:00:00Z"}
        assert (await client.get("/v1/signals", params=window, headers=fw)).json()["items"] == []
