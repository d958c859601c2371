"""Need to know: closed purposes per role, own signals, partner teams and windows, consent per
purpose, objections, and who erased or purged what."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import orjson
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.signals.models import Outbox, Referral, Signal
from services.signals.retention.purge import purge_expired
from services.signals.tests.conftest import (
    NOTE,
    create,
    db,
    move,
    names_the_postcode,
    recent,
    rent_arrears_body,
)
from shared.db import utcnow

MUNI = "demo-municipality"
REFUSED = "signals_personal_data_refusals_total"


def _refusals(reason: str) -> float:
    return REGISTRY.get_sample_value(REFUSED, {"reason": reason}) or 0.0


def _partner(token, team: str | None = None, org: str = MUNI, sub: str | None = None):
    claims = {"team": team} if team is not None else {}
    return {"Authorization": f"Bearer {token('partner', org, sub, **claims)}"}


async def _triaged(client, auth, **body):
    s = await create(client, auth("field-worker"), **body)
    assert (await move(client, s["id"], auth("coordinator"), "triaged")).status_code == 201
    return s


async def _refer(client, auth, signal_id, purpose, partner=MUNI):
    return await client.post(f"/v1/signals/{signal_id}/referrals",
                             json={"partnerOrganisation": partner, "purpose": purpose},
                             headers=auth("coordinator"))


async def _consent(client, headers, signal_id, purpose):
    return await client.post(f"/v1/signals/{signal_id}/consents",
                             json={"purpose": purpose, "givenAt": recent(5)}, headers=headers)


async def test_a_purpose_outside_the_roles_closed_list_is_a_400_naming_it(
        signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        s = await create(client, fw)
        for purpose, who in (("just-curious", fw), ("triage", fw),
                             ("just-curious", auth("coordinator"))):
            r = await client.get(f"/v1/signals/{s['id']}", params={"purpose": purpose},
                                 headers=who)
            assert r.status_code == 400, r.text
            assert r.headers["content-type"] == "application/problem+json"
            [param] = r.json()["invalidParams"]
            assert param["name"] == "query.purpose"
            assert "case-handling" in param["reason"]  # the allowed values are listed
        r = await client.get(f"/v1/signals/{s['id']}/history", params={"purpose": "snooping"},
                             headers=fw)
        assert r.status_code == 400
        ok = await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                              headers=fw)
        assert ok.status_code == 200 and ok.json()["personalData"]["note"] == NOTE
        # Each refused purpose is in the access log, without the text that was given.
        log = (await client.get("/v1/access-log", headers=auth("privacy-officer"))).json()
        assert [(e["outcome"], e["purpose"]) for e in log["items"]] == [
            *[("refused", "none")] * 4, ("granted", "case-handling")]


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_field_worker_reads_personal_data_only_of_their_own_signals(
        signals_service, auth):
    async with signals_service() as client:
        reporter, colleague = auth("field-worker", sub="fw-1"), auth("field-worker", sub="fw-2")
        s = await create(client, reporter)
        before = _refusals("not-own-signal")
        lines, logger = _Lines(), logging.getLogger("services.signals.accesslog.refusals")
        logger.addHandler(lines)
        try:
            r = await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                                 headers=colleague)
        finally:
            logger.removeHandler(lines)
        assert r.status_code == 403, r.text
        assert NOTE not in r.text
        assert _refusals("not-own-signal") == before + 1
        [line] = lines.records
        assert (line.record_id, line.reason, line.subject, line.purpose) == (
            s["id"], "not-own-signal", "fw-2", "case-handling")
        text = str(line.__dict__)
        assert not names_the_postcode(text) and NOTE not in text
        history = await client.get(f"/v1/signals/{s['id']}/history",
                                   params={"purpose": "case-handling"}, headers=colleague)
        assert history.status_code == 403
        # Without a purpose the colleague still sees the facts (no personal data).
        facts = await client.get(f"/v1/signals/{s['id']}", headers=colleague)
        assert facts.status_code == 200 and facts.json()["personalData"] is None
        own = await client.get(f"/v1/signals/{s['id']}", params={"purpose": "case-handling"},
                               headers=reporter)
        assert own.status_code == 200 and own.json()["personalData"]["note"] == NOTE
        coordinator = await client.get(f"/v1/signals/{s['id']}", params={"purpose": "triage"},
                                       headers=auth("coordinator", sub="c-1"))
        assert coordinator.status_code == 200 and coordinator.json()["personalData"]["note"]


async def test_only_the_purposes_team_reads_a_referral(signals_service, auth, token):
    async with signals_service() as client:
        # Loneliness: wijkteam-support is the one consent purpose that covers it, so the
        # intake's consent timestamp is that purpose's consent.
        s = await _triaged(client, auth, category="loneliness", subcategory=None,
                           consentRecordedAt=recent(30))
        r = await _refer(client, auth, s["id"], "wijkteam-support")
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        debt_help = _partner(token, "debt-help")
        before = _refusals("other-team")
        seen = await client.get(f"/v1/referrals/{rid}", headers=debt_help)
        assert seen.status_code == 403 and NOTE not in seen.text
        assert _refusals("other-team") == before + 1
        assert (await client.get("/v1/referrals", headers=debt_help)).json()["items"] == []
        assert (await client.post(f"/v1/referrals/{rid}/outcome", json={"outcome": "no-contact"},
                                  headers=debt_help)).status_code == 403
        # A municipality user without a team claim: the organisation has several teams.
        assert (await client.get(f"/v1/referrals/{rid}",
                                 headers=_partner(token))).status_code == 403
        wijkteam = await client.get(f"/v1/referrals/{rid}", headers=_partner(token, "wijkteam"))
        assert wijkteam.status_code == 200 and wijkteam.json()["signal"]["note"] == NOTE
        inbox = (await client.get("/v1/referrals", headers=_partner(token, "wijkteam"))).json()
        assert [i["id"] for i in inbox["items"]] == [rid]


async def test_a_token_without_team_works_where_the_organisation_has_one(
        signals_service, auth, token):
    async with signals_service() as client:
        s = await _triaged(client, auth, category="care-need", subcategory="mental-health")
        assert (await _consent(client, auth("coordinator"), s["id"],
                               "ggz-care-referral")).status_code == 201
        r = await _refer(client, auth, s["id"], "ggz-care-referral", partner="demo-ggz")
        assert r.status_code == 201, r.text
        seen = await client.get(f"/v1/referrals/{r.json()['id']}",
                                headers=_partner(token, org="demo-ggz"))
        assert seen.status_code == 200 and seen.json()["signal"]["note"] == NOTE


async def test_partner_access_ends_after_the_outcome_and_its_grace_period(
        signals_service, auth, token):
    async with signals_service() as client:
        s = await _triaged(client, auth)
        rid = (await _refer(client, auth, s["id"], "woonoverlast-aanpak")).json()["id"]
        partner = _partner(token, "municipality")
        done = await client.post(f"/v1/referrals/{rid}/outcome",
                                 json={"outcome": "contact-made"}, headers=partner)
        assert done.status_code == 200
        assert (await move(client, s["id"], auth("coordinator"), "resolved",
                           outcome="contact-made")).status_code == 201
        within = (await client.get(f"/v1/referrals/{rid}", headers=partner)).json()
        assert within["signal"]["note"] == NOTE  # the default grace period: 30 days
        async with db(client) as session:
            referral = await session.get(Referral, uuid.UUID(rid))
            referral.outcome_at = utcnow() - timedelta(days=31)
            signal = await session.get(Signal, uuid.UUID(s["id"]))
            signal.closed_at = utcnow() - timedelta(days=31)
        after = await client.get(f"/v1/referrals/{rid}", headers=partner)
        assert after.status_code == 200, after.text
        assert "address" not in after.json()["signal"] and NOTE not in after.text
        assert after.json()["signal"]["category"] == "nuisance"
        assert after.json()["personalDataUntil"] is not None

    async with signals_service(partner_access_grace_days=0) as client:
        s = await _triaged(client, auth)
        rid = (await _refer(client, auth, s["id"], "woonoverlast-aanpak")).json()["id"]
        partner = _partner(token, "municipality")
        await client.post(f"/v1/referrals/{rid}/outcome", json={"outcome": "contact-made"},
                          headers=partner)
        seen = await client.get(f"/v1/referrals/{rid}", headers=partner)
        assert NOTE not in seen.text


async def test_consent_is_recorded_per_purpose(signals_service, auth):
    async with signals_service() as client:
        # One intake timestamp for a signal two consent purposes could use unlocks neither.
        s = await _triaged(client, auth, **rent_arrears_body(consentRecordedAt=recent(30)))
        r = await _refer(client, auth, s["id"], "debt-help-referral")
        assert r.status_code == 422, r.text
        assert [x["code"] for x in r.json()["refusals"]] == ["consent-missing"]
        coord = auth("coordinator", sub="c-7")
        given = await _consent(client, coord, s["id"], "debt-help-referral")
        assert given.status_code == 201, given.text
        assert (given.json()["purpose"], given.json()["recordedBy"]) == (
            "debt-help-referral", "c-7")
        assert (await _refer(client, auth, s["id"], "debt-help-referral")).status_code == 201
        other = await _refer(client, auth, s["id"], "wijkteam-support")
        assert [x["code"] for x in other.json()["refusals"]] == ["consent-missing"]
        # Not a consent-based purpose, or not a purpose at all: 400 naming it.
        for purpose in ("woonoverlast-aanpak", "fishing"):
            bad = await _consent(client, coord, s["id"], purpose)
            assert bad.status_code == 400
            assert [p["name"] for p in bad.json()["invalidParams"]] == ["body.purpose"]
        seen = (await client.get(f"/v1/signals/{s['id']}", headers=coord)).json()
        assert [(c["purpose"], c["status"]) for c in seen["consents"]] == [
            ("debt-help-referral", "given")]


async def test_withdrawing_consent_withdraws_open_referrals(signals_service, auth, token):
    async with signals_service() as client:
        s = await _triaged(client, auth, category="loneliness", subcategory=None)
        coord = auth("coordinator", sub="c-1")
        assert (await _consent(client, coord, s["id"], "wijkteam-support")).status_code == 201
        rid = (await _refer(client, auth, s["id"], "wijkteam-support")).json()["id"]
        partner = _partner(token, "wijkteam")
        assert (await client.get(f"/v1/referrals/{rid}", headers=partner)).json()[
            "signal"]["note"] == NOTE
        r = await client.post(f"/v1/signals/{s['id']}/consents/wijkteam-support/withdrawal",
                              json={"withdrawnAt": recent(1)}, headers=coord)
        assert r.status_code == 201, r.text
        assert r.json()["withdrawnReferrals"] == [rid]
        # At once, no grace period: the basis is gone.
        seen = await client.get(f"/v1/referrals/{rid}", headers=partner)
        assert NOTE not in seen.text and seen.json()["withdrawnAt"] is not None
        signal = (await client.get(f"/v1/signals/{s['id']}", headers=coord)).json()
        assert signal["status"] == "triaged"
        assert signal["referrals"][0]["withdrawnAt"] is not None
        assert [(c["purpose"], c["status"]) for c in signal["consents"]] == [
            ("wijkteam-support", "withdrawn")]
        history = (await client.get(f"/v1/signals/{s['id']}/history", headers=coord)).json()
        assert history["items"][-1]["toStatus"] == "triaged"
        async with db(client) as session:
            events = list(await session.scalars(select(Outbox).where(
                Outbox.subject == s["id"], Outbox.type.like("%referral-withdrawn%"))))
        assert [orjson.loads(e.data)["referralId"] for e in events] == [rid]
        assert NOTE not in events[0].data
        again = await _refer(client, auth, s["id"], "wijkteam-support")
        assert [x["code"] for x in again.json()["refusals"]] == ["consent-missing"]
        unknown = await client.post(
            f"/v1/signals/{s['id']}/consents/debt-help-referral/withdrawal", json={},
            headers=coord)
        assert unknown.status_code == 409


async def test_an_objection_can_be_recorded_after_intake(signals_service, auth):
    async with signals_service() as client:
        s = await _triaged(client, auth, **rent_arrears_body())
        coord = auth("coordinator")
        r = await client.post(f"/v1/signals/{s['id']}/objections",
                              json={"purpose": "vroegsignalering-schulden",
                                    "objectedAt": recent(2)}, headers=coord)
        assert r.status_code == 201, r.text
        refused = await _refer(client, auth, s["id"], "vroegsignalering-schulden")
        assert refused.status_code == 422
        assert [x["code"] for x in refused.json()["refusals"]] == ["tenant-objected"]
        bad = await client.post(f"/v1/signals/{s['id']}/objections",
                                json={"purpose": "wijkteam-support"}, headers=coord)
        assert bad.status_code == 400
        assert [p["name"] for p in bad.json()["invalidParams"]] == ["body.purpose"]
        other_fw = auth("field-worker", sub="someone-else")
        assert (await client.post(f"/v1/signals/{s['id']}/objections",
                                  json={"purpose": "vroegsignalering-schulden"},
                                  headers=other_fw)).status_code == 403


async def test_signals_never_closed_are_purged_after_their_maximum_age(signals_service, auth):
    async with signals_service() as client:
        fw = auth("field-worker")
        stale, young = await create(client, fw), await create(client, fw)
        async with db(client) as session:
            signal = await session.get(Signal, uuid.UUID(stale["id"]))
            signal.recorded_at = utcnow() - timedelta(days=731)  # nuisance: 730 days at most
        async with db(client) as session:
            assert await purge_expired(session) == 1
        read = (await client.get(f"/v1/signals/{stale['id']}",
                                 params={"purpose": "case-handling"}, headers=fw)).json()
        assert read["personalDataRemoved"] is True and read["status"] == "new"
        kept = (await client.get(f"/v1/signals/{young['id']}",
                                 params={"purpose": "case-handling"}, headers=fw)).json()
        assert kept["personalData"]["note"] == NOTE


async def test_every_erasure_and_purge_records_who_when_and_why(signals_service, auth):
    async with signals_service() as client:
        fw, officer = auth("field-worker"), auth("privacy-officer", sub="po-1")
        erased = await create(client, fw, houseNumber=5)
        stale = await create(client, fw, houseNumber=6)
        r = await client.post("/v1/data-subject-erasures",
                              json={"postcode": "3011 AB", "houseNumber": 5, "houseLetter": "b"},
                              headers=officer)
        assert r.json()["erased"] == 1
        async with db(client) as session:
            signal = await session.get(Signal, uuid.UUID(stale["id"]))
            signal.recorded_at = utcnow() - timedelta(days=731)
        async with db(client) as session:
            assert await purge_expired(session) == 1
        records = await client.get("/v1/erasure-records", headers=officer)
        assert records.status_code == 200, records.text
        items = records.json()["items"]
        assert [(i["kind"], i["actor"], i["actorRole"], i["reason"], i["signalIds"])
                for i in items] == [
            ("erasure", "po-1", "privacy-officer", "data-subject-request", [erased["id"]]),
            ("purge", "retention-purge", "system", "open-past-max-age", [stale["id"]]),
        ]
        assert all(i["at"] and not names_the_postcode(str(i)) for i in items)
        assert [(i["kindLabel"], i["reasonLabel"]) for i in items] == [
            ("Gewist op verzoek", "Verzoek van de betrokkene (AVG art. 17)"),
            ("Opgeschoond (bewaartermijn)", "Open, maximale looptijd verstreken")]
        assert (await client.get("/v1/erasure-records",
                                 headers=auth("privacy-officer", "demo-corp-b"))).json()[
            "items"] == []
        assert (await client.get("/v1/erasure-records", headers=fw)).status_code == 403


async def test_the_team_claim_contract(key_dir, capsys):
    """`team`: absent, one partner-type code, or a list of them; anything else is a 401.
    `make token TEAM=...` (tools.devtoken --team) mints it."""
    import jwt
    import pytest

    from shared.auth import TokenVerifier, Unauthorized
    from shared.settings import ServiceSettings
    from tools.devtoken import main, mint

    verifier = TokenVerifier(ServiceSettings(
        auth_public_key_file=str(key_dir / "issuer-public.pem")))
    assert (await verifier.verify(mint(["partner"], MUNI, key_dir=key_dir))).teams == frozenset()
    one = mint(["partner"], MUNI, key_dir=key_dir, team="wijkteam")
    assert (await verifier.verify(one)).teams == {"wijkteam"}
    two = mint(["partner"], MUNI, key_dir=key_dir, team=["wijkteam", "debt-help"])
    assert (await verifier.verify(two)).teams == {"wijkteam", "debt-help"}
    for bad in (7, ["Wijk Team"], "x" * 65, {"team": "wijkteam"}):
        with pytest.raises(Unauthorized, match="team"):
            await verifier.verify(mint(["partner"], MUNI, key_dir=key_dir, team=bad))

    assert main(["--role", "partner", "--org", MUNI, "--team", "debt-help"]) == 0
    minted = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert minted["team"] == "debt-help"


async def test_an_objection_withdraws_the_open_referrals_for_its_purpose(
        signals_service, auth, token):
    """After the resident objects, the partner no longer reads the address or note."""
    async with signals_service() as client:
        s = await _triaged(client, auth)
        r = await _refer(client, auth, s["id"], "woonoverlast-aanpak")
        assert r.status_code == 201, r.text
        referral, partner = r.json()["id"], _partner(token, "municipality")
        before = (await client.get(f"/v1/referrals/{referral}", headers=partner)).json()
        assert before["signal"].get("address")
        r = await client.post(f"/v1/signals/{s['id']}/objections",
                              json={"purpose": "woonoverlast-aanpak"}, headers=auth("coordinator"))
        assert r.status_code == 201, r.text
        after = (await client.get(f"/v1/referrals/{referral}", headers=partner)).json()
        assert after.get("withdrawnAt") and "address" not in after["signal"]
        assert "note" not in after["signal"]
        assert (await _refer(client, auth, s["id"], "woonoverlast-aanpak")).status_code == 422
