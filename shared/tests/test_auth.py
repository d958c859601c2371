"""Tokens: missing, expired, wrongly signed, wrong audience/issuer, alg none -> 401; role -> 403."""

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.tests.conftest import running


@pytest.fixture
async def client(testsvc_settings):
    async with running(testsvc_settings(relay_enabled=False, consumer_enabled=False)) as c:
        yield c


def claims(**over):
    now = int(time.time())
    base = {"iss": "urn:dichtdekloof:dev-issuer", "aud": "dichtdekloof-api", "sub": "u1",
            "org": "demo-corp-a", "roles": ["admin"], "iat": now, "exp": now + 300}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def own_key(key_dir):
    return (key_dir / "issuer-private.pem").read_text()


def other_key():
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("make_token", [
    pytest.param(lambda kd: None, id="missing"),
    pytest.param(lambda kd: jwt.encode(claims(exp=int(time.time()) - 3600), own_key(kd),
                                       algorithm="ES256"), id="expired"),
    pytest.param(lambda kd: jwt.encode(claims(), other_key(), algorithm="ES256"),
                 id="wrong-key"),
    pytest.param(lambda kd: jwt.encode(claims(aud="someone-else"), own_key(kd),
                                       algorithm="ES256"), id="wrong-audience"),
    pytest.param(lambda kd: jwt.encode(claims(iss="urn:evil"), own_key(kd), algorithm="ES256"),
                 id="wrong-issuer"),
    pytest.param(lambda kd: jwt.encode(claims(), "", algorithm="none"), id="alg-none"),
    pytest.param(lambda kd: jwt.encode(claims(), "secret", algorithm="HS256"), id="alg-hs256"),
    pytest.param(lambda kd: jwt.encode(claims(org=None), own_key(kd), algorithm="ES256"),
                 id="no-org-claim"),
    pytest.param(lambda kd: jwt.encode(claims(exp=None), own_key(kd), algorithm="ES256"),
                 id="no-exp"),
    pytest.param(lambda kd: "not.a.jwt", id="garbage"),
    pytest.param(lambda kd: jwt.encode(claims(sub=""), own_key(kd), algorithm="ES256"),
                 id="empty-sub"),
    pytest.param(lambda kd: jwt.encode(claims(sub="u" * 10_000), own_key(kd),
                                       algorithm="ES256"), id="sub-of-10000-characters"),
    pytest.param(lambda kd: jwt.encode(claims(sub="u1\n"), own_key(kd), algorithm="ES256"),
                 id="sub-with-a-control-character"),
    pytest.param(lambda kd: jwt.encode(claims(org="o" * 101), own_key(kd), algorithm="ES256"),
                 id="org-of-101-characters"),
    pytest.param(lambda kd: jwt.encode(claims(exp=10**20), own_key(kd), algorithm="ES256"),
                 id="exp-of-10^20"),
    pytest.param(lambda kd: jwt.encode(claims(exp=int(time.time()) + 25 * 3600), own_key(kd),
                                       algorithm="ES256"), id="exp-25-hours-ahead"),
])
async def test_bad_tokens_get_401(client, key_dir, make_token):
    token = make_token(key_dir)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await client.get("/v1/applied-count", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 401
    # RFC 9110 11.6.1: a 401 says how to authenticate, on reads as on writes.
    assert r.headers["www-authenticate"] == "Bearer"


async def test_the_expiry_horizon_is_a_setting(testsvc_settings, key_dir):
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                auth_token_max_lifetime_s=48 * 3600)
    token = jwt.encode(claims(exp=int(time.time()) + 25 * 3600, sub="s" * 200, org="o" * 100),
                       own_key(key_dir), algorithm="ES256")
    async with running(settings) as client:
        r = await client.get("/v1/applied-count", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


async def test_wrong_role_gets_403(client, auth):
    r = await client.get("/v1/applied-count", headers=auth("field-worker"))
    assert r.status_code == 403
    # Dutch by default (shared/i18n.py); the English text on request.
    assert r.json()["title"] == "Niet toegestaan"
    assert r.json()["detail"].startswith("deze handeling vraagt een van de rollen: ")
    r = await client.get("/v1/applied-count",
                         headers={**auth("field-worker"), "Accept-Language": "en"})
    assert r.json()["title"] == "Not allowed"


async def test_right_role_passes(client, auth):
    r = await client.get("/v1/applied-count", headers=auth("admin"))
    assert r.status_code == 200


async def test_a_cached_token_still_expires(key_dir):
    from shared.auth import TokenVerifier, Unauthorized
    from shared.settings import ServiceSettings

    verifier = TokenVerifier(ServiceSettings(
        auth_public_key_file=str(key_dir / "issuer-public.pem"), auth_leeway_s=0))
    token = jwt.encode(claims(exp=int(time.time()) + 1), own_key(key_dir), algorithm="ES256")
    assert (await verifier.verify(token)).organisation == "demo-corp-a"
    assert (await verifier.verify(token)).subject == "u1"  # from the cache
    await asyncio.sleep(2.1)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
