"""Signing in: OpenID Connect (code flow with PKCE) in production, a dev page under `make run`.

The dev page mints a token the way `make token` does, with the dev issuer's private key; it
exists only when that key is configured (`DDK_CONSOLE_DEV_SIGNIN_KEY_FILE`), else it is
refused. Whatever the sign-in, the APIs verify the token: the console trusts its claims only
to choose which menu to show.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.console.session import SessionCodec
from services.console.settings import Settings
from services.console.web import form_of, redirect, render, session_of

router = APIRouter()

ROLES = ("coordinator", "privacy-officer", "programme-officer", "programme-approver",
         "analyst", "admin", "partner", "field-worker")
DEMO_ORGANISATIONS = ("demo-corp-a", "demo-corp-b", "demo-municipality", "demo-programme")


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.session_codec
    return codec


def _adopt(request: Request, token: str) -> None:
    """Put a token in the session. Its claims are read unverified, only to pick menus: every
    API call verifies the token itself."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    s = session_of(request)
    s.token = token
    s.subject = str(claims.get("sub", ""))
    s.organisation = str(claims.get("org", ""))
    roles = claims.get("roles") or []
    s.roles = [str(r) for r in (roles if isinstance(roles, list) else [roles])]
    s.expires_at = float(claims.get("exp", time.time() + 3600))
    s.csrf = secrets.token_urlsafe(32)  # a new session, a new CSRF secret
    s.pending = {}


@router.get("/aanmelden")
async def sign_in_page(request: Request) -> Response:
    settings = _settings(request)
    return render(request, "signin.html", dev=bool(settings.dev_signin_key_file),
                  oidc=bool(settings.oidc_issuer), roles=ROLES,
                  organisations=DEMO_ORGANISATIONS)


def mint_dev_token(settings: Settings, role: str, organisation: str, subject: str,
                   team: str | None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.auth_issuer, "aud": settings.auth_audience, "sub": subject,
        "org": organisation, "roles": [role], "iat": now, "nbf": now,
        "exp": now + settings.dev_token_ttl_s, "jti": str(uuid.uuid4())}
    if team:
        claims["team"] = team
    key = Path(settings.dev_signin_key_file).read_text()
    return jwt.encode(claims, key, algorithm="ES256")


@router.post("/aanmelden/dev")
async def dev_sign_in(request: Request) -> Response:
    settings = _settings(request)
    if not settings.dev_signin_key_file:
        raise HTTPException(404)
    form = await form_of(request)
    role, organisation = form.get("role", ""), form.get("organisation", "").strip()
    errors: dict[str, str] = {}
    if role not in ROLES:
        errors["role"] = "Kies een rol."
    if not organisation or len(organisation) > 64:
        errors["organisation"] = "Vul een organisatie in."
    if errors:
        return render(request, "signin.html", 422, dev=True, oidc=bool(settings.oidc_issuer),
                      roles=ROLES, organisations=DEMO_ORGANISATIONS, errors=errors)
    subject = form.get("user", "").strip()[:64] or f"dev-{role}@{organisation}"
    _adopt(request, mint_dev_token(settings, role, organisation, subject,
                                   form.get("team", "").strip() or None))
    return redirect("/")


@router.post("/afmelden")
async def sign_out(request: Request) -> Response:
    await form_of(request)
    request.state.session_cleared = True
    return redirect("/aanmelden")


# --- OpenID Connect -------------------------------------------------------------------------

async def _discovery(request: Request) -> dict[str, Any]:
    cached: dict[str, Any] | None = getattr(request.app.state, "oidc_discovery", None)
    if cached:
        return cached
    settings = _settings(request)
    url = settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
    r = await request.app.state.http.get(url)
    r.raise_for_status()
    found: dict[str, Any] = r.json()
    if found.get("issuer", "").rstrip("/") != settings.oidc_issuer.rstrip("/"):
        raise HTTPException(502, "the identity provider names another issuer")
    request.app.state.oidc_discovery = found
    return found


def _callback_url(request: Request) -> str:
    return str(request.url_for("oidc_callback"))


@router.get("/aanmelden/oidc")
async def oidc_start(request: Request) -> Response:
    settings = _settings(request)
    if not settings.oidc_issuer:
        raise HTTPException(404)
    found = await _discovery(request)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()
                                         ).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    pending = {"state": state, "nonce": nonce, "verifier": verifier}
    query = urlencode({
        "response_type": "code", "client_id": settings.oidc_client_id,
        "redirect_uri": _callback_url(request), "scope": settings.oidc_scopes,
        "state": state, "nonce": nonce, "code_challenge": challenge,
        "code_challenge_method": "S256"})
    response = redirect(f"{found['authorization_endpoint']}?{query}")
    _codec(request).write_sign_in(request, response, pending)
    return response


@router.get("/aanmelden/callback", name="oidc_callback")
async def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
    settings = _settings(request)
    pending = _codec(request).read_sign_in(request)
    if not settings.oidc_issuer or not pending or not secrets.compare_digest(
            state, pending.get("state", "")) or not code:
        raise HTTPException(400, "sign-in expired or was not started here")
    found = await _discovery(request)
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": _callback_url(request), "client_id": settings.oidc_client_id,
            "code_verifier": pending["verifier"]}
    secret = settings.oidc_client_secret.get_secret_value()
    if secret:
        data["client_secret"] = secret
    try:
        r = await request.app.state.http.post(found["token_endpoint"], data=data)
    except httpx.TransportError as e:
        raise HTTPException(502, "the identity provider did not answer") from e
    if r.status_code != 200 or "access_token" not in r.json():
        raise HTTPException(400, "the identity provider refused the sign-in")
    id_token = r.json().get("id_token")
    if id_token:
        # Straight from the token endpoint over TLS (OIDC Core 3.1.3.7: its signature may go
        # unchecked); its nonce must be the one this sign-in sent, or it is a replay.
        claims = jwt.decode(str(id_token), options={"verify_signature": False})
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending["nonce"]):
            raise HTTPException(400, "the identity token belongs to another sign-in")
    _adopt(request, str(r.json()["access_token"]))
    # Not a redirect: one would continue the IdP's cross-site navigation, which carries no
    # SameSite=Strict cookie, so "/" would not see the session just set. This page's own
    # refresh is a navigation from the console itself.
    response = HTMLResponse(SIGNED_IN_PAGE)
    _codec(request).clear_sign_in(response)
    return response


SIGNED_IN_PAGE = """<!DOCTYPE html>
<html lang="nl"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">
<title>Aangemeld · Dicht de kloof: console</title></head>
<body><p><a href="/">Verder naar de console</a></p></body></html>
"""
