"""A partner's system, not a person, works its referrals with a client-credentials token from
an external identity provider (docs/partner-identity.md): verified against the provider's
JWKS on a real local HTTP server, across a key rotation."""

from __future__ import annotations

import asyncio
import time

from services.signals.tests.conftest import signal_body
from shared.tests.test_jwks import bearer, provider  # noqa: F401 (the fixture)

ISSUER = "https://login.example-idp.test/realms/ddk"
AUDIENCE = "dichtdekloof-signals"


def _as(idp, kid=None, **claims):
    return bearer(idp.sign(kid, iss=ISSUER, aud=AUDIENCE, **claims))


async def test_a_client_credentials_token_works_its_referral_across_a_key_rotation(
        signals_service, provider):  # noqa: F811
    idp, url = provider
    async with signals_service(auth_jwks_url=url, auth_issuer=ISSUER, auth_audience=AUDIENCE,
                               auth_jwks_min_refresh_s=0.2,
                               auth_token_max_lifetime_s=3600) as client:
        people = {"org": "demo-corp-a"}
        fw = _as(idp, sub="fw-1", roles=["field-worker"], **people)
        coord = _as(idp, sub="coord-1", roles=["coordinator"], **people)
        body = signal_body()
        assert (await client.post("/v1/signals", json=body, headers=fw)).status_code == 201
        current = await client.get(f"/v1/signals/{body['id']}", headers=coord)
        assert (await client.post(f"/v1/signals/{body['id']}/status-changes",
                                  json={"status": "triaged"},
                                  headers={**coord, "If-Match": current.headers["ETag"]})
                ).status_code == 201
        referral = await client.post(
            f"/v1/signals/{body['id']}/referrals", headers=coord,
            json={"partnerOrganisation": "demo-municipality", "purpose": "woonoverlast-aanpak"})
        assert referral.status_code == 201, referral.text
        rid = referral.json()["id"]
        assert idp.fetches == 1

        # The provider rotates its key; the partner system's next token names the new one.
        await asyncio.sleep(0.2)  # past auth_jwks_min_refresh_s
        new_kid = idp.rotate()
        system = {"sub": "client-wijkteam-rotterdam-zaaksysteem", "org": "demo-municipality",
                  "roles": ["partner"], "team": "municipality", "client_id": "zaaksysteem"}
        machine = _as(idp, new_kid, **system)
        inbox = await client.get("/v1/referrals", headers=machine)
        assert inbox.status_code == 200, inbox.text
        assert [i["id"] for i in inbox.json()["items"]] == [rid]
        assert idp.fetches == 2  # the new kid made the service fetch the keys again
        accepted = await client.post(f"/v1/referrals/{rid}/acceptance", headers=machine)
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
        history = await client.get(f"/v1/signals/{body['id']}/history", headers=coord)
        assert history.json()["items"][-1]["changedBy"] == system["sub"]

        # A kid the provider does not publish, another audience, a lifetime past the limit:
        # each a 401 problem, and nothing changes.
        for refused in (_as(idp, "unpublished-kid", **system),
                        bearer(idp.sign(new_kid, iss=ISSUER, aud="another-api", **system)),
                        _as(idp, new_kid, exp=int(time.time()) + 7200, **system)):
            r = await client.post(f"/v1/referrals/{rid}/hand-back", headers=refused,
                                  json={"reasonCode": "no-capacity"})
            assert r.status_code == 401, r.text
            assert r.headers["content-type"] == "application/problem+json"
        assert (await client.get(f"/v1/referrals/{rid}", headers=machine)).json()[
            "status"] == "accepted"
        assert idp.fetches <= 3
