"""The referral life cycle over HTTP: a partner accepts, reports an outcome with a note or
hands back; the reporting coordinator withdraws and reads the note; racing steps."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlalchemy import insert, select, text

from services.signals.crypto.keys import build_crypto
from services.signals.intake.new_signal import new_signal
from services.signals.intake.schemas import parse_signal
from services.signals.models import Outbox, Referral, Signal
from services.signals.settings import Settings
from services.signals.tests.conftest import NOTE, create, db, move, recent, signal_body
from services.signals.tests.test_migrations import older
from shared.auth import Principal, Role
from shared.db import create_engine
from tools.migrate import downgrade, upgrade

MUNICIPALITY = "demo-municipality"
PURPOSE = "woonoverlast-aanpak"
OUTCOME_NOTE = "Mevrouw wil hulp, intake bij het wijkteam op 12 maart"
HAND_BACK_TEXT = "Wachtlijst tot de zomer, meneer is daarover gebeld"


def _in_days(days: int) -> str:
    return (datetime.now(ZoneInfo("Europe/Amsterdam")).date() + timedelta(days=days)).isoformat()


async def _referred(client, auth, count: int = 1):
    s = await create(client, auth("field-worker"))
    assert (await move(client, s["id"], auth("coordinator"), "triaged")).status_code == 201
    ids = []
    for _ in range(count):
        r = await client.post(f"/v1/signals/{s['id']}/referrals",
                              json={"partnerOrganisation": MUNICIPALITY, "purpose": PURPOSE},
                              headers=auth("coordinator"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return s["id"], ids


def _partner(auth, org: str = MUNICIPALITY):
    return auth("partner", org, sub="partner-system-1", team="municipality")


async def _events(client, signal_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with db(client) as session:
        rows = await session.scalars(select(Outbox).where(Outbox.subject == signal_id)
                                     .order_by(Outbox.id))
        return [(r.type.split(".")[-2], orjson.loads(r.data)) for r in rows]


async def _history(client, auth, signal_id: str, **params) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/signals/{signal_id}/history", params=params,
                         headers=auth("coordinator"))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_accept_then_outcome_with_a_note_only_the_reporter_reads(
        signals_service, auth, caplog):
    caplog.set_level(logging.DEBUG)
    async with signals_service() as client:
        sid, [rid] = await _referred(client, auth)
        partner = _partner(auth)
        accepted = await client.post(f"/v1/referrals/{rid}/acceptance", headers=partner)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted" and accepted.json()["acceptedAt"]
        again = await client.post(f"/v1/referrals/{rid}/acceptance", headers=partner)
        assert again.status_code == 200 and again.json() == accepted.json()  # a replay
        signal = (await client.get(f"/v1/signals/{sid}", headers=auth("coordinator"))).json()
        assert signal["status"] == "in-progress"
        assert signal["referrals"][0]["status"] == "accepted"

        body = {"outcome": "help-accepted", "note": f"  {OUTCOME_NOTE} ",
                "followUpDate": _in_days(30)}
        done = await client.post(f"/v1/referrals/{rid}/outcome", json=body, headers=partner)
        assert done.status_code == 200, done.text
        assert (done.json()["status"], done.json()["outcomeNote"], done.json()["followUpDate"]
                ) == ("completed", OUTCOME_NOTE, _in_days(30))
        replay = await client.post(f"/v1/referrals/{rid}/outcome", json=body, headers=partner)
        assert replay.status_code == 200
        other_note = await client.post(f"/v1/referrals/{rid}/outcome",
                                       json={**body, "note": "iets anders"}, headers=partner)
        assert other_note.status_code == 409
        late = await client.post(f"/v1/referrals/{rid}/acceptance", headers=partner)
        assert late.status_code == 409
        assert late.json()["referralStatus"] == "completed" and "completed" in late.json()[
            "detail"]

        # The partner's reads never show the note again; nor does the signal.
        seen = await client.get(f"/v1/referrals/{rid}", headers=partner)
        assert OUTCOME_NOTE not in seen.text and seen.json()["outcomeNoteGiven"] is True
        assert OUTCOME_NOTE not in (await client.get(
            f"/v1/signals/{sid}", params={"purpose": "triage"}, headers=auth("coordinator"))).text

        # The reporting coordinator: without a purpose no note, with one the note, logged.
        path = f"/v1/signals/{sid}/referrals/{rid}"
        plain = (await client.get(path, headers=auth("coordinator"))).json()
        assert plain["outcomeNote"] is None and plain["outcomeNoteGiven"] is True
        assert plain["followUpDate"] == _in_days(30) and plain["status"] == "completed"
        read = await client.get(path, params={"purpose": "case-handling"},
                                headers=auth("coordinator", sub="coord-7"))
        assert read.status_code == 200 and read.json()["outcomeNote"] == OUTCOME_NOTE
        log = (await client.get("/v1/access-log", headers=auth("privacy-officer"))).json()
        entry = log["items"][-1]
        assert (entry["subject"], entry["recordType"], entry["recordId"], entry["fields"],
                entry["controller"]) == ("coord-7", "referral", rid, ["outcomeNote"],
                                         "demo-corp-a")
        bad_purpose = await client.get(path, params={"purpose": "curiosity"},
                                       headers=auth("coordinator"))
        assert bad_purpose.status_code == 400
        assert bad_purpose.json()["invalidParams"][0]["name"] == "query.purpose"
        # Field workers and partners do not read it here; another corporation finds nothing.
        assert (await client.get(path, headers=auth("field-worker"))).status_code == 403
        assert (await client.get(path, headers=partner)).status_code == 403
        assert (await client.get(path, headers=auth("coordinator", "demo-corp-b"))
                ).status_code == 404

        # Encrypted at rest; events carry ids only; nothing of it in the logs.
        async with db(client) as session:
            row = await session.get(Referral, uuid.UUID(rid))
            assert row is not None and row.outcome_note_ciphertext
            assert "intake" not in row.outcome_note_ciphertext
        events = await _events(client, sid)
        assert [t for t, d in events if d.get("referralId") == rid] == [
            "signal-referred", "referral-accepted", "referral-outcome-recorded"]
        assert all(OUTCOME_NOTE not in orjson.dumps(d).decode() for _, d in events)
        assert set(events[-1][1]) == {"signalId", "referralId", "areaCode", "organisation",
                                      "partnerOrganisation", "at"}
        assert OUTCOME_NOTE not in caplog.text and "intake bij" not in caplog.text

        steps = [(h["referralStep"], h["fromStatus"], h["toStatus"])
                 for h in await _history(client, auth, sid) if h["referralId"] == rid]
        assert steps == [("sent", "triaged", "referred"), ("accepted", "referred", "in-progress"),
                         ("outcome-recorded", "in-progress", "in-progress")]


async def test_bad_input_names_every_field_and_writes_nothing(signals_service, auth):
    async with signals_service() as client:
        sid, [rid] = await _referred(client, auth)
        partner = _partner(auth)
        r = await client.post(f"/v1/referrals/{rid}/outcome", headers=partner, json={
            "outcome": "maybe", "note": "x" * 501, "followUpDate": _in_days(-1)})
        assert r.status_code == 400 and r.headers["content-type"].startswith(
            "application/problem+json")
        assert {p["name"] for p in r.json()["invalidParams"]} == {
            "body.outcome", "body.note", "body.followUpDate"}
        far = await client.post(f"/v1/referrals/{rid}/outcome", headers=partner, json={
            "outcome": "contact-made", "followUpDate": _in_days(400)})
        assert far.status_code == 400
        assert [p["name"] for p in far.json()["invalidParams"]] == ["body.followUpDate"]
        unexplained = await client.post(f"/v1/referrals/{rid}/hand-back", headers=partner,
                                        json={"reasonCode": "other"})
        assert unexplained.status_code == 400
        assert [p["name"] for p in unexplained.json()["invalidParams"]] == ["body.reason"]
        # A consent withdrawal is the resident's, not a reason a coordinator picks.
        chosen = await client.post(f"/v1/signals/{sid}/referrals/{rid}/withdrawal",
                                   json={"reasonCode": "consent-withdrawn"},
                                   headers=auth("coordinator"))
        assert chosen.status_code == 400
        assert (await client.get(f"/v1/referrals/{rid}", headers=partner)).json()[
            "status"] == "sent"
        assert [t for t, _ in await _events(client, sid)][-1] == "signal-referred"


async def test_hand_back_returns_the_signal_and_ends_the_partners_access(signals_service,
                                                                        auth):
    async with signals_service() as client:
        sid, [rid] = await _referred(client, auth)
        partner = _partner(auth)
        assert NOTE in (await client.get(f"/v1/referrals/{rid}", headers=partner)).text
        body = {"reasonCode": "no-capacity", "reason": HAND_BACK_TEXT}
        r = await client.post(f"/v1/referrals/{rid}/hand-back", json=body, headers=partner)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["endReason"]) == ("handed-back", "no-capacity")
        assert (await client.post(f"/v1/referrals/{rid}/hand-back", json=body,
                                  headers=partner)).status_code == 200  # a replay
        after = (await client.get(f"/v1/referrals/{rid}", headers=partner)).json()
        assert "note" not in after["signal"] and after["personalDataUntil"]
        signal = (await client.get(f"/v1/signals/{sid}", headers=auth("coordinator"))).json()
        assert signal["status"] == "triaged"  # its only referral came back
        for path, json in ((f"/v1/referrals/{rid}/outcome", {"outcome": "no-contact"}),
                           (f"/v1/referrals/{rid}/acceptance", None)):
            refused = await client.post(path, json=json, headers=partner)
            assert refused.status_code == 409 and refused.json()["referralStatus"] == (
                "handed-back")
        withdrawn = await client.post(f"/v1/signals/{sid}/referrals/{rid}/withdrawal",
                                      json={"reasonCode": "resolved-otherwise"},
                                      headers=auth("coordinator"))
        assert withdrawn.status_code == 409 and "handed-back" in withdrawn.json()["detail"]

        last = (await _history(client, auth, sid))[-1]
        assert (last["referralStep"], last["referralReason"], last["toStatus"], last["reason"],
                last["reasonGiven"]) == ("handed-back", "no-capacity", "triaged", None, True)
        shown = (await _history(client, auth, sid, purpose="triage"))[-1]
        assert shown["reason"] == HAND_BACK_TEXT
        events = await _events(client, sid)
        assert events[-1][0] == "referral-handed-back"
        assert HAND_BACK_TEXT not in str(events) and "no-capacity" not in str(events)


async def test_the_coordinator_withdraws_and_nobody_else_finds_the_referral(signals_service,
                                                                            auth):
    async with signals_service() as client:
        sid, [rid, other] = await _referred(client, auth, count=2)
        partner = _partner(auth)
        # Another partner organisation, another corporation: not found, existence not told.
        ggz = auth("partner", "demo-ggz", team="ggz")
        for path in (f"/v1/referrals/{rid}/acceptance", f"/v1/referrals/{rid}/hand-back"):
            r = await client.post(path, json={"reasonCode": "no-capacity"}, headers=ggz)
            assert r.status_code == 404, r.text
        elsewhere = await client.post(f"/v1/signals/{sid}/referrals/{rid}/withdrawal",
                                      json={"reasonCode": "entered-by-mistake"},
                                      headers=auth("coordinator", "demo-corp-b"))
        assert elsewhere.status_code == 404
        mismatched = await client.post(
            f"/v1/signals/{sid}/referrals/{uuid.uuid4()}/withdrawal",
            json={"reasonCode": "entered-by-mistake"}, headers=auth("coordinator"))
        assert mismatched.status_code == 404
        # A partner does not withdraw, a field worker neither: roles before records.
        for headers in (partner, auth("field-worker")):
            r = await client.post(f"/v1/signals/{sid}/referrals/{rid}/withdrawal",
                                  json={"reasonCode": "entered-by-mistake"}, headers=headers)
            assert r.status_code == 403

        r = await client.post(f"/v1/signals/{sid}/referrals/{rid}/withdrawal",
                              json={"reasonCode": "referred-elsewhere"},
                              headers=auth("coordinator"))
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["endReason"]) == ("withdrawn", "referred-elsewhere")
        refused = await client.post(f"/v1/referrals/{rid}/acceptance", headers=partner)
        assert refused.status_code == 409 and refused.json()["referralStatus"] == "withdrawn"
        # The other referral is still open: the signal stays referred.
        signal = (await client.get(f"/v1/signals/{sid}", headers=auth("coordinator"))).json()
        assert signal["status"] == "referred"
        assert {x["id"]: x["status"] for x in signal["referrals"]} == {
            rid: "withdrawn", other: "sent"}
        assert (await _events(client, sid))[-1][0] == "referral-withdrawn"


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
async def test_racing_steps_one_wins_and_history_stays_in_order(signals_service, auth):
    """Accept, hand back and withdraw at once on each of several referrals of one signal:
    one step wins per referral, the others are 409s, and the signal's history numbers every
    entry once."""
    async with signals_service() as client:
        sid, ids = await _referred(client, auth, count=4)
        partner, coord = _partner(auth), auth("coordinator")

        def steps(rid):
            return [
                client.post(f"/v1/referrals/{rid}/acceptance", headers=partner),
                client.post(f"/v1/referrals/{rid}/hand-back",
                            json={"reasonCode": "not-our-domain"}, headers=partner),
                client.post(f"/v1/signals/{sid}/referrals/{rid}/withdrawal",
                            json={"reasonCode": "resolved-otherwise"}, headers=coord)]

        answers = await asyncio.gather(*(c for rid in ids for c in steps(rid)))
        codes = [a.status_code for a in answers]
        assert set(codes) <= {200, 409}, [a.text for a in answers if a.status_code not in (
            200, 409)]
        history = await _history(client, auth, sid)
        versions = [h["version"] for h in history]
        assert versions == list(range(1, len(history) + 1))
        events = await _events(client, sid)
        for i, rid in enumerate(ids):
            won = [a for a in answers[3 * i:3 * i + 3] if a.status_code == 200]
            # An acceptance may be followed by a hand-back or withdrawal (both legal from
            # accepted); a hand-back or withdrawal ends it, after which nothing else wins.
            taken = [h["referralStep"] for h in history
                     if h["referralId"] == rid and h["referralStep"] != "sent"]
            assert len(taken) == len(won) and 1 <= len(won) <= 2
            assert taken.count("handed-back") + taken.count("withdrawn") <= 1
            stepped = [t for t, d in events if d.get("referralId") == rid
                       and t != "signal-referred"]
            assert len(stepped) == len(won)
            final = (await client.get(f"/v1/referrals/{rid}", headers=partner)).json()
            assert final["status"] in {"accepted", "handed-back", "withdrawn"}


async def test_the_household_gets_the_note_in_its_export_and_erasure_removes_it(
        signals_service, auth):
    async with signals_service() as client:
        sid, [rid] = await _referred(client, auth)
        r = await client.post(f"/v1/referrals/{rid}/outcome", headers=_partner(auth),
                              json={"outcome": "contact-made", "note": OUTCOME_NOTE})
        assert r.status_code == 200, r.text
        officer = auth("privacy-officer")
        query = {"postcode": "3011AB", "houseNumber": 17, "houseLetter": "b"}
        export = await client.post("/v1/data-subject-exports", json=query, headers=officer)
        assert export.status_code == 200, export.text
        assert export.json()["outcomeNotes"] == [
            {"signalId": sid, "referralId": rid, "outcomeNote": OUTCOME_NOTE}]
        logged = (await client.get("/v1/access-log", params={"recordId": rid},
                                   headers=officer)).json()["items"]
        assert [(e["purpose"], e["fields"]) for e in logged] == [
            ("data-subject-access", ["outcomeNote"])]
        erased = await client.post("/v1/data-subject-erasures", json=query, headers=officer)
        assert erased.status_code == 200 and erased.json()["erased"] == 1
        async with db(client) as session:
            row = await session.get(Referral, uuid.UUID(rid))
            assert row is not None and row.outcome_note_ciphertext is None
            assert row.outcome == "contact-made"  # the fact stays, the text goes


async def test_a_consent_withdrawal_after_the_outcome_ends_access_and_keeps_the_outcome(
        signals_service, auth):
    async with signals_service() as client:
        s = await create(client, auth("field-worker"), category="loneliness", subcategory=None)
        coord = auth("coordinator")
        assert (await move(client, s["id"], coord, "triaged")).status_code == 201
        consent = {"purpose": "wijkteam-support", "givenAt": recent(5)}
        assert (await client.post(f"/v1/signals/{s['id']}/consents", json=consent,
                                  headers=coord)).status_code == 201
        r = await client.post(f"/v1/signals/{s['id']}/referrals", headers=coord, json={
            "partnerOrganisation": MUNICIPALITY, "purpose": "wijkteam-support"})
        rid = r.json()["id"]
        wijkteam = auth("partner", MUNICIPALITY, team="wijkteam")
        assert (await client.post(f"/v1/referrals/{rid}/outcome", json={
            "outcome": "help-accepted"}, headers=wijkteam)).status_code == 200
        assert NOTE in (await client.get(f"/v1/referrals/{rid}", headers=wijkteam)).text
        w = await client.post(f"/v1/signals/{s['id']}/consents/wijkteam-support/withdrawal",
                              json={}, headers=coord)
        assert w.status_code == 201 and w.json()["withdrawnReferrals"] == [rid]
        after = (await client.get(f"/v1/referrals/{rid}", headers=wijkteam)).json()
        assert (after["status"], after["outcome"], after["endReason"]) == (
            "completed", "help-accepted", "consent-withdrawn")
        assert NOTE not in str(after) and after["withdrawnAt"]
        last = (await _history(client, auth, s["id"]))[-1]
        assert (last["referralStep"], last["referralReason"]) == ("withdrawn",
                                                                  "consent-withdrawn")
        assert (await _events(client, s["id"]))[-1][0] == "referral-withdrawn"


async def _seed_referrals(url: str, key_dir) -> str:
    """A signal with three referrals as sig0007 stored them: plain, with an outcome,
    withdrawn with its consent."""
    crypto = build_crypto(Settings(dev_keys_file=str(key_dir / "signals-keys.json")))
    engine = create_engine(url)
    try:
        body, problems = parse_signal(signal_body())
        assert body is not None, problems
        draft = new_signal(body, Principal("fw-1", "demo-corp-a", frozenset({Role.FIELD_WORKER})),
                           crypto, "urn:test", None)
        async with engine.begin() as conn:
            # Core, not the ORM: the ORM would name columns later revisions added.
            await conn.execute(insert(Signal).values(older(draft.signal)))
            withdrawn_at = datetime(2026, 11, 2, tzinfo=UTC)
            for n, (outcome, withdrawn) in enumerate(
                    ((None, None), ("no-contact", None), (None, withdrawn_at))):
                await conn.execute(text(
                    "INSERT INTO referrals (id, signal_id, organisation, partner_organisation, "
                    "purpose, legal_basis, legal_reference, exposed_fields, referred_by, "
                    "referred_at, outcome, withdrawn_at) VALUES (:id, :s, 'demo-corp-a', "
                    "'demo-municipality', 'woonoverlast-aanpak', 'public-task', 'x', '[]', "
                    "'c-1', '2026-11-01 10:00:00.000000', :o, :w)"),
                    {"id": f"00000000-0000-0000-0000-00000000000{n}", "s": str(body.id),
                     "o": outcome, "w": withdrawn})
        return str(body.id)
    finally:
        await engine.dispose()


async def _statuses(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.scalars(text(
                "SELECT status FROM referrals ORDER BY id"))).all())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
def test_sig0008_gives_stored_referrals_their_status_and_downgrades(
        database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DDK_SIGNALS_DEV_KEYS_FILE", str(tmp_path / "signals-keys.json"))
    url = database_url("signals")
    upgrade("signals", url, "sig0007")
    asyncio.run(_seed_referrals(url, tmp_path))
    upgrade("signals", url, "sig0008_referral_lifecycle")
    assert asyncio.run(_statuses(url)) == ["sent", "completed", "withdrawn"]
    downgrade("signals", url, "sig0007")
    upgrade("signals", url, "sig0008_referral_lifecycle")
    assert asyncio.run(_statuses(url)) == ["sent", "completed", "withdrawn"]


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
async def test_a_status_change_racing_a_partners_step_is_stale_not_lost(signals_service, auth):
    """The coordinator moves the signal (If-Match) while the partner accepts its referral:
    whichever commits second sees the other's version, so no change is lost and no version
    is numbered twice."""
    async with signals_service() as client:
        coord, partner = auth("coordinator"), _partner(auth)
        pairs = []
        for _ in range(6):
            sid, [rid] = await _referred(client, auth)
            etag = (await client.get(f"/v1/signals/{sid}", headers=coord)).headers["ETag"]
            pairs.append((sid, rid, etag))
        answers = await asyncio.gather(*(c for sid, rid, etag in pairs for c in (
            client.post(f"/v1/referrals/{rid}/acceptance", headers=partner),
            client.post(f"/v1/signals/{sid}/status-changes", json={"status": "in-progress"},
                        headers={**coord, "If-Match": etag}))))
        for i, (sid, _, _) in enumerate(pairs):
            accepted, moved = answers[2 * i:2 * i + 2]
            assert accepted.status_code == 200, accepted.text
            assert moved.status_code in (201, 412), moved.text
            history = await _history(client, auth, sid)
            assert [h["version"] for h in history] == list(range(1, len(history) + 1))
            signal = (await client.get(f"/v1/signals/{sid}", headers=coord)).json()
            assert signal["version"] == len(history)
