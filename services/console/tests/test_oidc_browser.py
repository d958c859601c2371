"""OpenID Connect sign-in in a real browser, with the identity provider on another site.

The IdP sends the browser back to the console's callback from its own pages: a cross-site
navigation, on which a browser withholds SameSite=Strict cookies. The sign-in must still
find its state and leave the person signed in (httpx, in test_security.py, ignores
SameSite, so only a browser shows this)."""

from __future__ import annotations

import html
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import jwt
import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from services.console.app import build
from services.console.settings import Settings
from services.console.tests.conftest import start_server
from tests.browser import launch_chromium
from tools.broker import free_port


def other_site_idp(issuer: str, private_pem: str) -> FastAPI:
    """An IdP whose sign-in page links back to the callback (the person clicks on)."""
    idp = FastAPI()

    @idp.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, str]:
        return {"issuer": issuer, "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token"}

    @idp.get("/authorize")
    async def authorize(request: Request) -> HTMLResponse:
        q = request.query_params
        back = q["redirect_uri"] + "?" + urlencode({"code": "code-1", "state": q["state"]})
        return HTMLResponse(f'<!DOCTYPE html><title>IdP</title>'
                            f'<a id="continue" href="{html.escape(back)}">Doorgaan</a>')

    @idp.post("/token")
    async def token(code: str = Form(), code_verifier: str = Form()) -> dict[str, str]:
        now = int(time.time())
        return {"token_type": "Bearer", "access_token": jwt.encode(
            {"sub": "ana@gemeente", "org": "demo-municipality", "roles": ["analyst"],
             "iat": now, "exp": now + 600}, private_pem, algorithm="ES256")}

    return idp


@pytest.fixture
async def console_and_idp(key_dir: Path) -> AsyncIterator[str]:
    idp_port, console_port = free_port(), free_port()
    issuer = f"http://localhost:{idp_port}"  # localhost and 127.0.0.1: two sites
    servers = [
        await start_server(other_site_idp(issuer, (key_dir / "issuer-private.pem").read_text()),
                           idp_port),
        await start_server(build(Settings(oidc_issuer=issuer, oidc_client_id="console",
                                          log_json=False)), console_port)]
    try:
        yield f"http://127.0.0.1:{console_port}"
    finally:
        for server, task in servers[::-1]:
            server.should_exit = True
            await task


async def test_oidc_sign_in_survives_the_cross_site_return(console_and_idp: str) -> None:
    async with launch_chromium() as browser:
        context = await browser.new_context(base_url=console_and_idp, locale="nl-NL")
        context.set_default_timeout(10_000)
        page = await context.new_page()
        await page.goto("/aanmelden/oidc")
        assert "/authorize" in page.url
        await page.click("#continue")
        await page.wait_for_url(console_and_idp + "/")
        await page.wait_for_load_state()
        assert "ana@gemeente" in await page.content()
        await context.close()
