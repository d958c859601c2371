"""Every read of personal data is logged in a hash chain that shows tampering."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC

import orjson
from sqlalchemy import select, text

from services.signals.accesslog import checkpoints, repository
from services.signals.accesslog.chain import GENESIS_HASH, chain_hash
from services.signals.accesslog.repository import to_entry
from services.signals.models import AccessLogRow, AccessLogVerified
from services.signals.tests.conftest import (
    AMOUNT,
    NOTE,
    create,
    db,
    rent_arrears_body,
)
from tests.apps import runtime_of


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


# --------------------------------------------------------------------------- tampering


async def _read(client, headers, signal_id,
                purposes=("case-handling", "outreach", "debt-outreach")):
    for purpose in purposes:
        r = await client.get(f"/v1/signals/{signal_id}", params={"purpose": purpose},
                             headers=headers)
        assert r.status_code == 200, r.text


async def _verify(client, officer, **params):
    r = await client.get("/v1/access-log/verification", params=params, headers=officer)
    assert r.status_code == 200, r.text
    return r.json()


async def _checkpoint(client):
    published = await runtime_of(client).checkpoints.checkpoint()
    assert published is not None
    return published


def _sha256_link(prev, row):
    """The unkeyed chain an attacker can recompute: sha256(prev + canonical entry)."""
    fields = {"subject": row.subject, "organisation": row.organisation, "role": row.role,
              "purpose": row.purpose, "recordType": row.record_type, "recordId": row.record_id,
              "fields": orjson.loads(row.fields),
              "at": row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    return hashlib.sha256(prev.encode() + json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


async def _rechain(session, link):
    """Re-link the chain from its first broken link on, and the head, as someone with write
    access to the database would after deleting an entry."""
    prev, sequence, broken = GENESIS_HASH, 0, False
    for row in await session.scalars(select(AccessLogRow).order_by(AccessLogRow.id)):
        sequence += 1
        broken = broken or row.prev_hash != prev
        if broken:
            row.sequence = sequence
            row.prev_hash, row.entry_hash = prev, link(prev, row)
        prev = row.entry_hash
    await session.execute(text("UPDATE access_log_head SET head = :h, sequence = :s"),
                          {"h": prev, "s": sequence})


async def _cut_tail(session, keep):
    """Delete all but the first `keep` entries, point the head at the last one kept and
    forget where verification stood."""
    await session.execute(text("DELETE FROM access_log WHERE sequence > :n"), {"n": keep})
    last = (await session.execute(text(
        "SELECT entry_hash FROM access_log WHERE sequence = :n"), {"n": keep})).scalar()
    await session.execute(text("UPDATE access_log_head SET head = :h, sequence = :n"),
                          {"h": last, "n": keep})
    await session.execute(text("DELETE FROM access_log_verified"))


async def test_a_cut_tail_is_detected(signals_service, auth):
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        await _checkpoint(client)
        assert (await _verify(client, officer))["valid"] is True
        async with db(client) as session:
            await _cut_tail(session, keep=2)
        cut = await _verify(client, officer)
        assert cut["valid"] is False, cut


async def test_a_rehashed_middle_is_detected(signals_service, auth):
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, auth("coordinator"), s["id"],
                    ("case-handling", "triage", "outreach", "debt-outreach"))
        async with db(client) as session:
            await session.execute(text("DELETE FROM access_log WHERE purpose = 'triage'"))
            await _rechain(session, _sha256_link)
        bad = await _verify(client, officer)
        assert bad["valid"] is False and bad["checked"] == 1, bad


async def test_a_rewritten_controller_is_detected(signals_service, auth):
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET controller = 'demo-corp-b' WHERE purpose = 'outreach'"))
        bad = await _verify(client, officer)
        assert bad["valid"] is False and "altered" in bad["reason"], bad


async def test_verification_counts_only_the_officers_organisation(signals_service, auth):
    async with signals_service() as client:
        fw_a, fw_b = auth("field-worker"), auth("field-worker", "demo-corp-b")
        a, b = await create(client, fw_a), await create(client, fw_b)
        await _read(client, fw_a, a["id"])
        await _read(client, fw_b, b["id"], ("case-handling",))
        assert (await _verify(client, auth("privacy-officer")))["checked"] == 3
        assert (await _verify(client, auth("privacy-officer", "demo-corp-b")))["checked"] == 1
        assert (await _verify(client, auth("privacy-officer", "demo-corp-c")))["checked"] == 0


async def test_a_rehash_with_a_wrong_key_is_detected(signals_service, auth):
    wrong = bytes(32)

    def keyed_with_the_wrong_key(prev, row):
        return chain_hash(wrong, prev, to_entry(row).chain_fields())

    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, auth("coordinator"), s["id"],
                    ("case-handling", "triage", "outreach", "debt-outreach"))
        async with db(client) as session:
            await session.execute(text("DELETE FROM access_log WHERE purpose = 'triage'"))
            await _rechain(session, keyed_with_the_wrong_key)
        bad = await _verify(client, officer)
        assert (bad["valid"], bad["checked"]) == (False, 1), bad
        assert "altered" in bad["reason"]


async def test_a_tail_cut_below_the_checkpoint_is_detected(signals_service, auth):
    """The head row and the verification record rewound too: only the checkpoint in Kafka
    still knows how long the chain was."""
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        checkpoint = await _checkpoint(client)
        assert (checkpoint.sequence, checkpoint.entry_hash) == (3, (await _verify(
            client, officer))["head"])
        await _read(client, auth("coordinator"), s["id"],
                    ("debt-outreach", "triage"))
        ok = await _verify(client, officer)
        assert (ok["valid"], ok["checked"], ok["full"]) == (True, 5, False)
        assert ok["checkpointAt"] is not None
        async with db(client) as session:
            await _cut_tail(session, keep=2)
        cut = await _verify(client, officer)
        assert cut["valid"] is False and "before the latest checkpoint" in cut["reason"], cut
        assert (await _verify(client, officer, full="true"))["valid"] is False


async def test_a_chain_rewritten_before_the_checkpoint_is_detected(signals_service, auth):
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        await _checkpoint(client)
        async with db(client) as session:
            await session.execute(text("DELETE FROM access_log WHERE purpose = 'outreach'"))
            await _rechain(session, _sha256_link)
        bad = await _verify(client, officer)
        assert bad["valid"] is False and bad["checked"] == 1, bad


async def test_verification_resumes_from_the_last_verified_checkpoint(
        signals_service, auth, monkeypatch):
    monkeypatch.setattr(repository, "PAGE_SIZE", 2)  # several pages from a few entries
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, auth("coordinator"), s["id"],
                    ("case-handling", "triage", "outreach", "debt-outreach"))
        await _checkpoint(client)
        assert (await _verify(client, officer))["valid"] is True
        async with db(client) as session:
            stored = await session.get(AccessLogVerified, 1)
            assert stored.sequence == 4
            # Altered in place before the verified checkpoint: not walked again ...
            await session.execute(text(
                "UPDATE access_log SET purpose = 'audit' WHERE purpose = 'triage'"))
        assert (await _verify(client, officer))["valid"] is True
        # ... but a full walk, page by page, finds it.
        full = await _verify(client, officer, full="true")
        assert (full["valid"], full["checked"], full["full"]) == (False, 1, True)
        assert "altered" in full["reason"]
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET purpose = 'triage' WHERE sequence = 2"))
        # What came after the checkpoint is walked each time.
        await _read(client, auth("coordinator"), s["id"],
                    ("case-handling", "triage", "outreach"))
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET controller = 'demo-corp-b' WHERE sequence = 6"))
        later = await _verify(client, officer)
        assert (later["valid"], later["checked"]) == (False, 5), later


async def test_the_verified_position_cannot_be_moved_forward(signals_service, auth):
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        await _checkpoint(client)
        assert (await _verify(client, officer))["valid"] is True
        await _read(client, fw, s["id"])
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET purpose = 'audit' WHERE sequence = 4"))
            # Skip the altered entry by claiming it was verified already.
            await session.execute(text(
                "UPDATE access_log_verified SET sequence = 5, head = (SELECT entry_hash "
                "FROM access_log WHERE sequence = 5)"))
        bad = await _verify(client, officer)
        assert bad["valid"] is False and "last verification ended was altered" in bad["reason"], bad
        assert "altered" in (await _verify(client, officer, full="true"))["reason"]
        async with db(client) as session:
            await session.execute(text(
                "UPDATE access_log SET purpose = 'case-handling' WHERE sequence = 4"))
        # A clean full walk records the position afresh; incremental runs resume from it.
        assert (await _verify(client, officer, full="true"))["valid"] is True
        assert (await _verify(client, officer))["valid"] is True


async def test_a_bad_entry_is_named_only_to_its_organisation(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        s = await create(client, fw)
        await _read(client, fw, s["id"], ("case-handling",))
        async with db(client) as session:
            await session.execute(text("UPDATE access_log SET purpose = 'audit'"))
            bad_id = (await session.execute(text("SELECT id FROM access_log"))).scalar()
        mine = await _verify(client, auth("privacy-officer"))
        theirs = await _verify(client, auth("privacy-officer", "demo-corp-b"))
        assert (mine["valid"], mine["firstBadEntryId"]) == (False, bad_id)
        assert (theirs["valid"], theirs["firstBadEntryId"], theirs["checked"]) == (
            False, None, 0)


async def test_refused_reads_are_chained_too(signals_service, auth):
    """A field worker refused a colleague's signal: the refusal outlives the 403's rollback."""
    async with signals_service() as client:
        fw, officer = auth("field-worker", sub="fw-1"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"], ("case-handling",))
        refused = await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                                   headers=auth("field-worker", sub="fw-9"))
        assert refused.status_code == 403
        log = (await client.get("/v1/access-log", headers=officer)).json()["items"]
        assert [(e["subject"], e["outcome"], e["fields"], e["controller"]) for e in log] == [
            ("fw-1", "granted", ["address", "note"], "demo-corp-a"),
            ("fw-9", "refused", [], "demo-corp-a")]
        assert (await _verify(client, officer))["valid"] is True
        async with db(client) as session:
            await session.execute(text("UPDATE access_log SET outcome = 'granted'"))
        assert (await _verify(client, officer))["valid"] is False


async def test_the_head_is_checkpointed_periodically(signals_service, auth):
    async with signals_service(access_log_checkpoint_interval_s=0.05) as client:
        fw = auth("field-worker")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        settings = runtime_of(client).settings
        for _ in range(100):
            latest = await checkpoints.latest(settings)
            if latest and latest.sequence == 3:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no checkpoint of the head was published")
        async with db(client) as session:
            assert latest.entry_hash == (await repository.head(session)).head


async def test_without_the_checkpoints_verification_is_unavailable(signals_service, auth):
    async with signals_service(kafka_bootstrap_servers="127.0.0.1:9") as client:
        r = await client.get("/v1/access-log/verification", headers=auth("privacy-officer"))
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_cut_tail_is_never_checkpointed_into_the_truth(signals_service, auth):
    """The periodic checkpoint must not publish a head below the last checkpoint: it would
    make the cut tail pass verification again."""
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer")
        s = await create(client, fw)
        await _read(client, fw, s["id"])
        await _checkpoint(client)
        assert (await _verify(client, officer))["valid"] is True
        async with db(client) as session:
            await _cut_tail(session, keep=1)
        assert (await _verify(client, officer))["valid"] is False
        assert await runtime_of(client).checkpoints.checkpoint() is None
        assert (await _verify(client, officer))["valid"] is False
