"""Sign-in and session rules without a browser: CSRF, the dev sign-in's gate, OIDC + PKCE."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from fastapi import FastAPI, Form, Request

from services.console.app import build
from services.console.settings import Settings


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://127.0.0.1", follow_redirects=False)


async def csrf_of(client: httpx.AsyncClient) -> str:
    page = (await client.get("/aanmelden")).text
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def test_dev_sign_in_is_refused_without_the_dev_key():
    app = build(Settings(dev_signin_key_file="", log_json=False))
    async with app.router.lifespan_context(app), client_for(app) as client:
        page = await client.get("/aanmelden")
        assert "Aanmelden voor ontwikkeling" not in page.text
        r = await client.post("/aanmelden/dev", data={"role": "admin",
                                                      "organisation": "x"})
        assert r.status_code == 404


async def test_a_form_without_its_csrf_token_is_refused(key_dir):
    app = build(Settings(dev_signin_key_file=str(key_dir / "issuer-private.pem"),
                         log_json=False))
    async with app.router.lifespan_context(app), client_for(app) as client:
        await client.get("/aanmelden")
        r = await client.post("/aanmelden/dev", data={"role": "coordinator",
                                                      "organisation": "demo-corp-a"})
        assert r.status_code == 403 and "formulier is verlopen" in r.text
        r = await client.post("/aanmelden/dev", data={
            "role": "coordinator", "organisation": "demo-corp-a",
            "csrf": await csrf_of(client)})
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        # On localhost plain HTTP works; elsewhere the cookie is Secure.
        assert "secure" not in cookie


async def test_the_session_cookie_is_secure_outside_localhost(key_dir):
    app = build(Settings(dev_signin_key_file=str(key_dir / "issuer-private.pem"),
                         log_json=False))
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://console.example") as c:
        r = await c.get("/aanmelden")
        assert "secure" in r.headers["set-cookie"].lower()
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def fake_idp(issuer: str, private_pem: str, nonce_of=lambda sent: sent) -> FastAPI:
    """A tiny OpenID provider: discovery, and a token endpoint that checks PKCE."""
    idp = FastAPI()
    codes: dict[str, str] = {}

    @idp.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, str]:
        return {"issuer": issuer, "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token"}

    @idp.get("/authorize")
    async def authorize(request: Request) -> dict[str, str]:
        q = request.query_params
        assert q["code_challenge_method"] == "S256"
        codes["code-1"] = q["code_challenge"]
        codes["nonce"] = q["nonce"]
        return {"code": "code-1"}

    @idp.post("/token")
    async def token(code: str = Form(), code_verifier: str = Form(),
                    client_id: str = Form(), grant_type: str = Form()) -> dict[str, str]:
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        if codes.get(code) != challenge or client_id != "console":
            raise PermissionError("PKCE check failed")
        now = int(time.time())
        access = jwt.encode({"sub": "ana@gemeente", "org": "demo-municipality",
                             "roles": ["analyst"], "iat": now, "exp": now + 600},
                            private_pem, algorithm="ES256")
        id_token = jwt.encode({"sub": "ana@gemeente", "nonce": nonce_of(codes["nonce"]),
                               "iat": now, "exp": now + 600}, private_pem, algorithm="ES256")
        return {"access_token": access, "id_token": id_token, "token_type": "Bearer"}

    return idp


async def test_oidc_code_flow_with_pkce_against_a_local_idp(key_dir, monkeypatch):
    issuer = "http://idp.test"
    idp = fake_idp(issuer, (key_dir / "issuer-private.pem").read_text())
    app = build(Settings(oidc_issuer=issuer, oidc_client_id="console", log_json=False))
    idp_transport = httpx.ASGITransport(app=idp)
    async with app.router.lifespan_context(app), client_for(app) as client:
        # The console reaches the IdP over HTTP; here that HTTP is the fake IdP in-process.
        app.state.http = httpx.AsyncClient(transport=idp_transport)
        r = await client.get("/aanmelden/oidc")
        assert r.status_code == 303
        location = urlparse(r.headers["location"])
        assert f"{location.scheme}://{location.netloc}" == issuer
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert query["client_id"] == "console" and query["code_challenge_method"] == "S256"
        async with httpx.AsyncClient(transport=idp_transport, base_url=issuer) as browser:
            code = (await browser.get("/authorize", params=query)).json()["code"]
        # A callback with another state is refused.
        bad = await client.get("/aanmelden/callback", params={"code": code, "state": "x"})
        assert bad.status_code == 400
        r = await client.get("/aanmelden/callback",
                             params={"code": code, "state": query["state"]})
        # A page that goes on to "/" itself (a redirect would continue the IdP's cross-site
        # navigation, without the Strict session cookie: test_oidc_browser.py).
        assert r.status_code == 200 and 'content="0;url=/"' in r.text
        # The sign-in's state is used up: the same callback again is refused.
        again = await client.get("/aanmelden/callback",
                                 params={"code": code, "state": query["state"]})
        assert again.status_code == 400
        home = await client.get("/")
        assert "ana@gemeente" in home.text and "Kaart" in home.text
        await app.state.http.aclose()


async def test_an_identity_token_with_another_nonce_is_refused(key_dir):
    issuer = "http://idp.test"
    idp = fake_idp(issuer, (key_dir / "issuer-private.pem").read_text(),
                   nonce_of=lambda sent: "someone-elses")
    app = build(Settings(oidc_issuer=issuer, oidc_client_id="console", log_json=False))
    transport = httpx.ASGITransport(app=idp)
    async with app.router.lifespan_context(app), client_for(app) as client:
        app.state.http = httpx.AsyncClient(transport=transport)
        r = await client.get("/aanmelden/oidc")
        query = {k: v[0] for k, v in parse_qs(urlparse(r.headers["location"]).query).items()}
        async with httpx.AsyncClient(transport=transport, base_url=issuer) as browser:
            code = (await browser.get("/authorize", params=query)).json()["code"]
        r = await client.get("/aanmelden/callback",
                             params={"code": code, "state": query["state"]})
        assert r.status_code == 400
        assert (await client.get("/")).status_code == 303  # still signed out
        await app.state.http.aclose()


@pytest.mark.parametrize("header,expected", [("en-GB,en;q=0.9", "Sign in"),
                                             ("nl-NL", "Aanmelden"), ("", "Aanmelden")])
async def test_language_from_accept_language(header, expected):
    app = build(Settings(log_json=False))
    async with app.router.lifespan_context(app), client_for(app) as client:
        page = await client.get("/aanmelden", headers={"Accept-Language": header})
        assert f"<h1 class=\"utrecht-heading-1\">{expected}</h1>" in page.text


def fake_funding(name_of_b: str) -> FastAPI:
    """The funding API's two reads the comparison page makes; scenario `b` has `name_of_b`."""
    funding = FastAPI()

    @funding.get("/v1/scenarios/{sid}/compare/{other}")
    async def compare(sid: str, other: str) -> dict[str, object]:
        return {"totalDifferenceCents": 100, "areas": [
            {"areaCode": "GM0599", "areaName": "Rotterdam", "cents": 200, "otherCents": 100,
             "differenceCents": 100, "differenceEuros": "1.00"}]}

    @funding.get("/v1/scenarios/{sid}")
    async def scenario(sid: str) -> dict[str, str]:
        return {"id": sid, "name": name_of_b if sid == "b" else "Basis"}

    return funding


async def test_a_name_from_the_api_cannot_close_the_chart_data_script(key_dir):
    """Chart data goes into `<script type="application/json">`; a scenario name is typed by a
    programme officer. `</script>` in it must not end the element and put the officer's
    markup (a fake figure, a form) into the approver's comparison page."""
    evil = "Plan </script><h1 id=injected>Goedgekeurd</h1><script>"
    funding = fake_funding(evil)
    app = build(Settings(dev_signin_key_file=str(key_dir / "issuer-private.pem"),
                         log_json=False))
    async with app.router.lifespan_context(app), client_for(app) as client:
        await app.state.http.aclose()
        app.state.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=funding))
        r = await client.post("/aanmelden/dev", data={
            "role": "programme-approver", "organisation": "demo-programme",
            "csrf": await csrf_of(client)})
        assert r.status_code == 303
        page = await client.get("/scenarios/a/vergelijk", params={"met": "b"})
        assert page.status_code == 200, page.text
        assert "<h1 id=injected>" not in page.text
        data = page.text.split('id="verschil-data">', 1)[1].split("</script>", 1)[0]
        assert json.loads(data)["title"].startswith("Plan </script><h1 id=injected>")
        await app.state.http.aclose()


@pytest.mark.parametrize("back", ["//evil.example/x", "/\\evil.example/x", "https://evil.example",
                                  "/\t/evil.example", "javascript:alert(1)"])
async def test_the_language_switch_never_sends_the_browser_elsewhere(back):
    app = build(Settings(log_json=False))
    async with app.router.lifespan_context(app), client_for(app) as client:
        r = await client.get("/taal/en", params={"terug": back})
        assert r.status_code == 303
        location = r.headers["location"]
        assert location.startswith("/") and not location.startswith("//")
        assert "\\" not in location and "\t" not in location
        assert urlparse(location).netloc == ""
