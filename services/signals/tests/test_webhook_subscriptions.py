"""Webhook subscriptions over HTTP: an organisation's admin makes, lists, rotates and deletes
them; the secret is shown once and stored encrypted; SSRF targets are refused."""

from __future__ import annotations

from sqlalchemy import select

from services.signals.models import WebhookSubscription
from services.signals.tests.conftest import db

TARGET = "https://93.184.216.34/hooks/ddk"  # a public address: no lookup needed


def _body(**overrides):
    return {"targetUrl": TARGET, "eventTypes": ["referral.created", "referral.withdrawn"],
            **overrides}


async def test_admin_creates_lists_gets_rotates_and_deletes(signals_service, auth):
    async with signals_service() as client:
        admin = auth("admin", "demo-municipality")
        made = await client.post("/v1/webhook-subscriptions", json=_body(), headers=admin)
        assert made.status_code == 201, made.text
        sub = made.json()
        assert sub["secret"].startswith("whsec_") and sub["format"] == "standard-webhooks"
        assert made.headers["Location"] == f"/v1/webhook-subscriptions/{sub['id']}"
        async with db(client) as session:
            row = await session.scalar(select(WebhookSubscription))
            assert row is not None and sub["secret"] not in row.secret_ciphertext
        listed = await client.get("/v1/webhook-subscriptions", headers=admin)
        assert [s["id"] for s in listed.json()["items"]] == [sub["id"]]
        assert "secret" not in listed.json()["items"][0]
        one = await client.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin)
        assert one.status_code == 200 and "secret" not in one.json()

        rotated = await client.post(f"/v1/webhook-subscriptions/{sub['id']}/secret-rotation",
                                    json={"overlapSeconds": 3600}, headers=admin)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["secret"] != sub["secret"]
        assert rotated.json()["previousSecretValidUntil"]

        other_org = auth("admin", "demo-ggz")
        assert (await client.get(f"/v1/webhook-subscriptions/{sub['id']}",
                                 headers=other_org)).status_code == 404
        assert (await client.get("/v1/webhook-subscriptions",
                                 headers=other_org)).json()["items"] == []
        assert (await client.get("/v1/webhook-subscriptions",
                                 headers=auth("partner", "demo-municipality"))).status_code == 403

        gone = await client.delete(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin)
        assert gone.status_code == 204
        assert (await client.get(f"/v1/webhook-subscriptions/{sub['id']}",
                                 headers=admin)).status_code == 404


async def test_ssrf_targets_and_bad_input_are_a_400_naming_every_field(signals_service, auth):
    async with signals_service() as client:
        admin = auth("admin", "demo-municipality")
        for url, code in [("http://93.184.216.34/h", "https_required"),
                          ("https://127.0.0.1/h", "forbidden_address"),
                          ("https://10.1.2.3/h", "forbidden_address"),
                          ("https://169.254.169.254/latest", "forbidden_address"),
                          ("https://[::1]/h", "forbidden_address"),
                          ("https://[::ffff:192.168.0.1]/h", "forbidden_address"),
                          ("https://localhost/h", "forbidden_address"),
                          ("https://user:pw@93.184.216.34/h", "credentials_in_url"),
                          ("ftp://93.184.216.34/h", "invalid_url")]:
            r = await client.post("/v1/webhook-subscriptions", json=_body(targetUrl=url),
                                  headers=admin)
            assert r.status_code == 400, (url, r.text)
            assert r.json()["invalidParams"][0]["name"] == "body.targetUrl"
            assert r.json()["invalidParams"][0]["code"] == code, url
        r = await client.post("/v1/webhook-subscriptions", headers=admin, json={
            "targetUrl": TARGET, "eventTypes": ["referral.eaten"], "format": "xml"})
        assert r.status_code == 400
        names = {p["name"] for p in r.json()["invalidParams"]}
        assert {"body.eventTypes.0", "body.format"} <= names, names
        async with db(client) as session:
            assert (await session.scalar(select(WebhookSubscription))) is None


async def test_the_dev_configuration_allows_a_loopback_receiver(signals_service, auth):
    async with signals_service(webhook_allow_loopback=True) as client:
        r = await client.post("/v1/webhook-subscriptions", headers=auth("admin"),
                              json=_body(targetUrl="http://127.0.0.1:9/hook", format="zgw"))
        assert r.status_code == 201, r.text
        r = await client.post("/v1/webhook-subscriptions", headers=auth("admin"),
                              json=_body(targetUrl="http://10.0.0.1/hook"))
        assert r.status_code == 400


async def test_another_organisations_admin_can_neither_rotate_delete_nor_read_deliveries(
        signals_service, auth, caplog):
    caplog.set_level("DEBUG")
    async with signals_service() as client:
        admin = auth("admin", "demo-municipality")
        made = await client.post("/v1/webhook-subscriptions", json=_body(), headers=admin)
        sub = made.json()
        assert made.headers["Cache-Control"] == "no-store"
        base = f"/v1/webhook-subscriptions/{sub['id']}"
        other = auth("admin", "demo-ggz")
        delivery = "00000000-0000-4000-8000-000000000001"
        for method, path in [("POST", base + "/secret-rotation"), ("DELETE", base),
                             ("GET", base + "/deliveries"),
                             ("POST", f"{base}/deliveries/{delivery}/replay")]:
            r = await client.request(method, path, headers=other)
            assert r.status_code == 404, (method, path, r.text)
            assert sub["id"] in r.json()["detail"] and "whsec_" not in r.text
        async with db(client) as session:
            row = await session.scalar(select(WebhookSubscription))
            assert row is not None and row.deleted_at is None
            assert row.secret_rotated_at is None and row.previous_secret_ciphertext is None
        rotated = await client.post(base + "/secret-rotation", headers=admin)
        assert rotated.headers["Cache-Control"] == "no-store"
        logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
        for secret in (sub["secret"], rotated.json()["secret"]):
            assert secret not in logged and secret.removeprefix("whsec_") not in logged
