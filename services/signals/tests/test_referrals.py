"""Referrals: covenant rules over HTTP, what a partner sees, outcomes back to the reporter."""

from __future__ import annotations

from services.signals.tests.conftest import AMOUNT, create, move, rent_arrears_body

MUNICIPALITY = "demo-municipality"


async def _triaged(client, auth, **body):
    s = await create(client, auth("field-worker"), **body)
    assert (await move(client, s["id"], auth("coordinator"), "triaged")).status_code == 201
    return s


async def _refer(client, auth, signal_id, partner, purpose):
    return await client.post(f"/v1/signals/{signal_id}/referrals",
                             json={"partnerOrganisation": partner, "purpose": purpose},
                             headers=auth("coordinator"))


async def test_rent_arrears_vroegsignalering_preconditions(signals_service, auth):
    async with signals_service() as client:
        incomplete = await _triaged(client, auth, **rent_arrears_body(
            debtHelpPointedAt=None, writtenReminderAt=None))
        r = await _refer(client, auth, incomplete["id"], MUNICIPALITY,
                         "vroegsignalering-schulden")
        assert r.status_code == 422
        assert [x["code"] for x in r.json()["refusals"]] == [
            "rent-arrears-precondition-missing"] * 2
        objected = await _triaged(client, auth, **rent_arrears_body(tenantObjected=True))
        r = await _refer(client, auth, objected["id"], MUNICIPALITY, "vroegsignalering-schulden")
        assert r.status_code == 422 and r.json()["refusals"][0]["code"] == "tenant-objected"

        ready = await _triaged(client, auth, **rent_arrears_body(note="rent note"))
        r = await _refer(client, auth, ready["id"], MUNICIPALITY, "vroegsignalering-schulden")
        assert r.status_code == 201, r.text
        referral = r.json()
        assert set(referral["exposedFields"]) == {"address", "contact", "arrearsAmountCents"}
        assert referral["legalBasis"] == "legal-obligation"
        signal = (await client.get(f"/v1/signals/{ready['id']}",
                                   headers=auth("field-worker"))).json()
        assert signal["status"] == "referred"

        partner = auth("partner", MUNICIPALITY, team="debt-help")
        inbox = (await client.get("/v1/referrals", headers=partner)).json()
        assert [i["id"] for i in inbox["items"]] == [referral["id"]]
        assert inbox["items"][0]["signal"] == {}  # the list holds no personal data
        seen = (await client.get(f"/v1/referrals/{referral['id']}", headers=partner)).json()
        assert seen["signal"] == {"address": {"postcode": "3011AB", "houseNumber": 17,
                                              "houseLetter": "B"},
                                  "arrearsAmountCents": AMOUNT}
        assert "rent note" not in str(seen) and "arrearsSince" not in str(seen)
        log = (await client.get("/v1/access-log", headers=auth("privacy-officer"))).json()
        entry = log["items"][-1]
        assert (entry["organisation"], entry["role"], entry["purpose"], entry["fields"]) == (
            MUNICIPALITY, "partner", "vroegsignalering-schulden",
            ["address", "arrearsAmountCents"])


async def test_care_need_goes_to_police_only_for_acute_threat(signals_service, auth):
    async with signals_service() as client:
        high = await _triaged(client, auth, category="care-need", subcategory="mental-health",
                              severity="high")
        r = await _refer(client, auth, high["id"], "demo-police", "police-acute-threat")
        assert r.status_code == 422
        codes = {x["code"] for x in r.json()["refusals"]}
        assert "care-data-to-police" in codes
        acute = await _triaged(client, auth, category="care-need", subcategory="mental-health",
                               severity="acute")
        r = await _refer(client, auth, acute["id"], "demo-police", "police-acute-threat")
        assert r.status_code == 201, r.text


async def test_referral_needs_triage_coordinator_and_own_signal(signals_service, auth):
    async with signals_service() as client:
        fresh = await create(client, auth("field-worker"), consentRecordedAt=None)
        r = await _refer(client, auth, fresh["id"], MUNICIPALITY, "woonoverlast-aanpak")
        assert r.status_code == 409
        r = await client.post(f"/v1/signals/{fresh['id']}/referrals",
                              json={"partnerOrganisation": MUNICIPALITY,
                                    "purpose": "woonoverlast-aanpak"},
                              headers=auth("coordinator", "demo-corp-b"))
        assert r.status_code == 404
        r = await client.post(f"/v1/signals/{fresh['id']}/referrals",
                              json={"partnerOrganisation": MUNICIPALITY,
                                    "purpose": "woonoverlast-aanpak"},
                              headers=auth("field-worker"))
        assert r.status_code == 403


async def test_partner_outcome_is_visible_to_the_reporter(signals_service, auth):
    async with signals_service() as client:
        s = await _triaged(client, auth)
        r = await _refer(client, auth, s["id"], MUNICIPALITY, "woonoverlast-aanpak")
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        # Another partner neither sees nor answers it.
        other = auth("partner", "demo-ggz")
        assert (await client.get(f"/v1/referrals/{rid}", headers=other)).status_code == 404
        assert (await client.get("/v1/referrals", headers=other)).json()["items"] == []
        assert (await client.post(f"/v1/referrals/{rid}/outcome", json={"outcome": "no-contact"},
                                  headers=other)).status_code == 404
        partner = auth("partner", MUNICIPALITY, team="municipality")
        bad = await client.post(f"/v1/referrals/{rid}/outcome", json={"outcome": "maybe"},
                                headers=partner)
        assert bad.status_code == 400
        ok = await client.post(f"/v1/referrals/{rid}/outcome",
                               json={"outcome": "contact-made"}, headers=partner)
        assert ok.status_code == 200 and ok.json()["outcome"] == "contact-made"
        replay = await client.post(f"/v1/referrals/{rid}/outcome",
                                   json={"outcome": "contact-made"}, headers=partner)
        assert replay.status_code == 200
        conflict = await client.post(f"/v1/referrals/{rid}/outcome",
                                     json={"outcome": "help-declined"}, headers=partner)
        assert conflict.status_code == 409
        seen = (await client.get(f"/v1/signals/{s['id']}", headers=auth("field-worker"))).json()
        assert seen["referrals"][0]["outcome"] == "contact-made"
        assert seen["referrals"][0]["partnerOrganisation"] == MUNICIPALITY


async def test_consent_based_purpose_needs_recorded_consent(signals_service, auth):
    async with signals_service() as client:
        without = await _triaged(client, auth, category="loneliness", subcategory=None)
        r = await _refer(client, auth, without["id"], MUNICIPALITY, "wijkteam-support")
        assert r.status_code == 422
        assert [x["code"] for x in r.json()["refusals"]] == ["consent-missing"]
        with_consent = await _triaged(client, auth, category="loneliness", subcategory=None,
                                      consentRecordedAt="2026-11-01T10:00:00Z")
        r = await _refer(client, auth, with_consent["id"], MUNICIPALITY, "wijkteam-support")
        assert r.status_code == 201 and r.json()["legalBasis"] == "consent"
        unknown = await _refer(client, auth, with_consent["id"], "demo-nobody",
                               "wijkteam-support")
        assert unknown.status_code == 422


async def test_a_partners_last_page_says_there_is_no_next_one(signals_service, auth):
    """`nextCursor` is required in the document: null on the last page, never left out."""
    async with signals_service() as client:
        partner = auth("partner", MUNICIPALITY, team="debt-help")
        r = await client.get("/v1/referrals", headers=partner)
        assert r.status_code == 200, r.text
        assert r.json() == {"items": [], "nextCursor": None}
