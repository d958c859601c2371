"""GET /v1/signals/{signalId}/referral-options: where a signal may go, by the very check a
referral gets, so a console's choices and the API's answer to the referral cannot disagree."""

from __future__ import annotations

from services.signals.covenants.registry import load_covenants
from services.signals.tests.conftest import NOTE, POSTCODE, create, move


def _path(signal_id: str) -> str:
    return f"/v1/signals/{signal_id}/referral-options"


async def test_every_option_agrees_with_the_referral_it_stands_for(signals_service, auth):
    async with signals_service() as client:
        coord = auth("coordinator")
        signal = await create(client, auth("field-worker"), category="care-need",
                              subcategory="mental-health", severity="high")
        assert (await move(client, signal["id"], coord, "triaged")).status_code == 201
        r = await client.get(_path(signal["id"]), headers=coord)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["signalId"] == signal["id"]
        assert body["referable"] is True and body["notReferableReason"] is None
        covenants = load_covenants()
        assert [(o["partnerOrganisation"], o["purpose"]) for o in body["options"]] == [
            (c.organisation, p) for c in covenants.organisations.values() for p in c.purposes]
        options = {(o["partnerOrganisation"], o["purpose"]): o for o in body["options"]}

        # Care information to the police, not acute: refused, with the code, its Dutch
        # label and the Dutch message the referral's 422 would carry.
        police = options[("demo-police", "police-acute-threat")]
        assert police["allowed"] is False and police["exposedFields"] == []
        assert police["partnerType"] == "police" and police["partnerTypeLabel"]
        assert police["purposeLabel"] == "Acute dreiging (politie)"
        codes = {x["code"]: x for x in police["refusals"]}
        assert {"care-data-to-police", "severity-too-low"} <= set(codes)
        assert codes["severity-too-low"]["codeLabel"] == "Ernst te laag"
        assert codes["severity-too-low"]["message"].startswith("Doel 'police-acute-threat'")
        # The Wvggz report rests on the public task: allowed, with what the partner would see.
        wvggz = options[("demo-municipality", "wvggz-melding")]
        assert wvggz["allowed"] is True and wvggz["refusals"] == []
        assert "address" in wvggz["exposedFields"] and wvggz["legalBasis"] == "public-task"
        assert wvggz["legalBasisLabel"].startswith("Publieke taak")

        # Each refused option is refused by the referral with the same codes; an allowed one
        # is made. Refusals first: a referral made changes nothing for the others' checks.
        for (partner, purpose), option in options.items():
            if option["allowed"]:
                continue
            refused = await client.post(f"/v1/signals/{signal['id']}/referrals", headers=coord,
                                        json={"partnerOrganisation": partner,
                                              "purpose": purpose})
            assert refused.status_code == 422, (partner, purpose, refused.text)
            assert [x["code"] for x in refused.json()["refusals"]] == [
                x["code"] for x in option["refusals"]], (partner, purpose)
        made = await client.post(f"/v1/signals/{signal['id']}/referrals", headers=coord,
                                 json={"partnerOrganisation": "demo-municipality",
                                       "purpose": "wvggz-melding"})
        assert made.status_code == 201, made.text
        assert made.json()["legalBasisLabel"].startswith("Publieke taak")
        listed = (await client.get(f"/v1/signals/{signal['id']}", headers=coord)).json()
        assert listed["referrals"][0]["legalBasisLabel"].startswith("Publieke taak")

        # Consent recorded: the option that lacked it is allowed now.
        assert options[("demo-ggz", "ggz-care-referral")]["refusals"][0]["code"] == (
            "consent-missing")
        r = await client.post(f"/v1/signals/{signal['id']}/consents", headers=coord,
                              json={"purpose": "ggz-care-referral"})
        assert r.status_code == 201, r.text
        again = (await client.get(_path(signal["id"]), headers=coord)).json()
        ggz = next(o for o in again["options"] if o["purpose"] == "ggz-care-referral")
        assert ggz["allowed"] is True

        # English on request; and no personal data in any of it.
        english = await client.get(_path(signal["id"]),
                                   headers={**coord, "Accept-Language": "en"})
        assert english.headers["content-language"] == "en"
        police_en = next(o for o in english.json()["options"]
                         if o["purpose"] == "police-acute-threat")
        assert police_en["purposeLabel"] == "Acute threat to life or safety (police)"
        assert {x["codeLabel"] for x in police_en["refusals"]} >= {"Severity too low"}
        for text in (r.text, english.text):
            assert NOTE not in text and POSTCODE.replace(" ", "") not in text.replace(" ", "")


async def test_a_new_signal_is_not_referable_yet_and_says_why(signals_service, auth):
    async with signals_service() as client:
        signal = await create(client, auth("field-worker"))
        body = (await client.get(_path(signal["id"]), headers=auth("coordinator"))).json()
        assert body["referable"] is False
        assert "beoordeel het eerst" in body["notReferableReason"]
        assert body["options"], "the options are listed all the same"


async def test_only_the_own_organisations_coordinator_and_no_unknown_params(signals_service,
                                                                             auth):
    async with signals_service() as client:
        signal = await create(client, auth("field-worker"))
        other = await client.get(_path(signal["id"]), headers=auth("coordinator", "demo-corp-b"))
        assert other.status_code == 404
        fw = await client.get(_path(signal["id"]), headers=auth("field-worker"))
        assert fw.status_code == 403
        odd = await client.get(_path(signal["id"]), params={"purpose": "triage"},
                               headers=auth("coordinator"))
        assert odd.status_code == 400
        documented = (await client.get("/v1/openapi.json")).json()
        operation = documented["paths"]["/signals/{signalId}/referral-options"]["get"]
        assert {"200", "400", "404"} <= set(operation["responses"])
