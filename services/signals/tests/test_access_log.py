"""Every read of personal data is logged in a hash chain that shows tampering."""

from __future__ import annotations

from sqlalchemy import text

from services.signals.tests.conftest import AMOUNT, NOTE, create, db, rent_arrears_body


async def test_personal_data_only_with_a_purpose_and_always_logged(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker", sub="fw-1")
        s = await create(client, fw)
        plain = (await client.get(f"/v1/signals/{s['id']}", headers=fw)).json()
        assert plain["personalData"] is None
        officer = auth("privacy-officer")
        assert (await client.get("/v1/access-log", headers=officer)).json()["items"] == []
        bad = await client.get(f"/v1/signals/{s['id']}", params={"purpose": "Just Curious!"},
                               headers=fw)
        assert bad.status_code == 400
        read = (await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                                 headers=fw)).json()
        assert read["personalData"]["note"] == NOTE
        assert read["personalData"]["address"] == {"postcode": "3011AB", "houseNumber": 17,
                                                   "houseLetter": "B",
                                                   "houseNumberAddition": None}
        rent = await create(client, fw, **rent_arrears_body())
        money = (await client.get(f"/v1/signals/{rent['id']}",
                                  params={"purpose": "debt-outreach"}, headers=fw)).json()
        assert money["personalData"]["arrearsAmountCents"] == AMOUNT
        log = (await client.get("/v1/access-log", headers=officer)).json()["items"]
        assert [(e["subject"], e["organisation"], e["role"], e["purpose"], e["recordId"],
                 e["fields"]) for e in log] == [
            ("fw-1", "demo-corp-a", "field-worker", "case-handling", s["id"],
             ["address", "note"]),
            ("fw-1", "demo-corp-a", "field-worker", "debt-outreach", rent["id"],
             ["address", "arrearsAmountCents", "arrearsSince"]),
        ]
        assert log[1]["prevHash"] == log[0]["entryHash"]
        # Filters and cursor pagination.
        only = (await client.get("/v1/access-log", params={"recordId": rent["id"]},
                                 headers=officer)).json()["items"]
        assert len(only) == 1
        first = (await client.get("/v1/access-log", params={"limit": 1},
                                  headers=officer)).json()
        second = (await client.get("/v1/access-log", params={"cursor": first["nextCursor"]},
                                   headers=officer)).json()
        assert [e["id"] for e in first["items"] + second["items"]] == [e["id"] for e in log]
        # Another corporation's privacy officer sees none of it; others may not look at all.
        other = auth("privacy-officer", "demo-corp-b")
        assert (await client.get("/v1/access-log", headers=other)).json()["items"] == []
        assert (await client.get("/v1/access-log", headers=fw)).status_code == 403


async def test_chain_verification_detects_tampering(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        officer = auth("privacy-officer")
        s = await create(client, fw)
        for purpose in ("case-handling", "triage", "outreach"):
            await client.get(f"/v1/signals/{s['id']}", params={"purpose": purpose},
                             headers=auth("coordinator"))
        ok = (await client.get("/v1/access-log/verification", headers=officer)).json()
        assert ok["valid"] is True and ok["checked"] == 3
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET purpose = 'audit' WHERE purpose = 'triage'"))
        bad = (await client.get("/v1/access-log/verification", headers=officer)).json()
        assert bad["valid"] is False and bad["checked"] == 1 and "altered" in bad["reason"]
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET purpose = 'triage' WHERE purpose = 'audit'"))
            await session.execute(text("DELETE FROM access_log WHERE purpose = 'triage'"))
        gone = (await client.get("/v1/access-log/verification", headers=officer)).json()
        assert gone["valid"] is False and "removed" in gone["reason"]


async def test_a_status_change_reason_is_personal_data(signals_service, auth):
    """Free text a coordinator types about a person: encrypted at rest, shown only for a
    purpose, every such read logged, and in the household's export."""
    reason = "mevrouw belde terug: haar zoon is opgenomen"
    async with signals_service() as client:
        fw, coord = auth("field-worker", sub="fw-1"), auth("coordinator", sub="co-1")
        officer = auth("privacy-officer")
        s = await create(client, fw)
        etag = (await client.get(f"/v1/signals/{s['id']}", headers=coord)).headers["ETag"]
        made = await client.post(f"/v1/signals/{s['id']}/status-changes",
                                 json={"status": "triaged", "reason": reason},
                                 headers={**coord, "If-Match": etag})
        assert made.status_code == 201, made.text
        assert (made.json()["reason"], made.json()["reasonGiven"]) == (reason, True)

        path = f"/v1/signals/{s['id']}/history"
        plain = (await client.get(path, headers=fw)).json()["items"]
        assert [(h["toStatus"], h["reason"], h["reasonGiven"]) for h in plain] == [
            ("new", None, False), ("triaged", None, True)]
        assert (await client.get("/v1/access-log", headers=officer)).json()["items"] == []

        read = (await client.get(path, params={"purpose": "case-handling"}, headers=fw)).json()
        assert [h["reason"] for h in read["items"]] == [None, reason]
        log = (await client.get("/v1/access-log", headers=officer)).json()["items"]
        assert [(e["subject"], e["purpose"], e["recordId"], e["fields"]) for e in log] == [
            ("fw-1", "case-handling", s["id"], ["statusChangeReason"])]
        assert (await client.get(path, params={"purpose": "case-handling"},
                                 headers=auth("field-worker", "demo-corp-b"))).status_code == 404

        async with db(client) as session:
            stored = (await session.execute(text(
                "SELECT reason_ciphertext FROM status_changes WHERE reason_ciphertext IS NOT NULL"
            ))).scalars().all()
        assert len(stored) == 1 and "mevrouw" not in stored[0]

        export = (await client.post("/v1/data-subject-exports", json={
            "postcode": "3011AB", "houseNumber": 17, "houseLetter": "b"}, headers=officer))
        assert export.status_code == 200, export.text
        histories = export.json()["histories"]
        assert [(h["signalId"], [i["reason"] for i in h["items"]]) for h in histories] == [
            (s["id"], [None, reason])]
        exported = (await client.get("/v1/access-log", params={"recordId": s["id"]},
                                     headers=officer)).json()["items"][-1]
        assert (exported["purpose"], exported["fields"]) == (
            "data-subject-access", ["address", "note", "statusChangeReason"])
