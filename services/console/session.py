"""The session: an encrypted, authenticated cookie holding the user's token and CSRF secret.

Encrypted (AES-GCM) so the token in it is neither readable nor forgeable in the browser;
HttpOnly so no script reads it, SameSite=Strict so no other site's request carries it, and
Secure everywhere but on localhost (where `make run` serves plain HTTP).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Request, Response

COOKIE = "ddk_console"
#: The OpenID Connect sign-in in flight (state, nonce, PKCE verifier), for the callback only.
SIGN_IN_COOKIE = "ddk_console_sign_in"
SIGN_IN_PATH = "/aanmelden/callback"
SIGN_IN_MAX_AGE_S = 600
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    subject: str | None = None
    organisation: str | None = None
    roles: list[str] = field(default_factory=list)
    expires_at: float = 0.0
    #: OpenID Connect sign-in in flight: state, nonce and the PKCE verifier.
    pending: dict[str, str] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.token is not None and time.time() < self.expires_at

    def has(self, *roles: str) -> bool:
        return self.signed_in and bool(set(roles) & set(self.roles))

    def csrf_ok(self, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf, sent or "")


class SessionCodec:
    def __init__(self, secret: str, max_age_s: int) -> None:
        key = hashlib.sha256(secret.encode()).digest() if secret else os.urandom(32)
        self._aead = AESGCM(key)
        self.max_age_s = max_age_s

    def dump(self, session: Session) -> str:
        nonce = os.urandom(12)
        data = json.dumps(session.__dict__, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, data, COOKIE.encode())
                                        ).decode()

    def load(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            raw = base64.urlsafe_b64decode(value.encode())
            data: dict[str, Any] = json.loads(self._aead.decrypt(raw[:12], raw[12:],
                                                                 COOKIE.encode()))
            return Session(**data)
        except (ValueError, InvalidTag, TypeError):
            return None  # tampered, from another secret, or an old shape: a fresh session

    def write(self, request: Request, response: Response, session: Session) -> None:
        secure = (request.url.hostname or "") not in LOCAL_HOSTS
        response.set_cookie(COOKIE, self.dump(session), max_age=self.max_age_s, httponly=True,
                            secure=secure, samesite="strict", path="/")

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/")

    def write_sign_in(self, request: Request, response: Response, pending: dict[str, str],
                      ) -> None:
        """An OpenID Connect sign-in's state, in a cookie of its own: the IdP sends the browser
        back from its own site, a cross-site navigation that carries no SameSite=Strict
        cookie (the session's), but a Lax one; only the callback's path gets it."""
        secure = (request.url.hostname or "") not in LOCAL_HOSTS
        response.set_cookie(SIGN_IN_COOKIE, self.dump(Session(pending=pending)),
                            max_age=SIGN_IN_MAX_AGE_S, httponly=True, secure=secure,
                            samesite="lax", path=SIGN_IN_PATH)

    def read_sign_in(self, request: Request) -> dict[str, str]:
        found = self.load(request.cookies.get(SIGN_IN_COOKIE))
        return found.pending if found is not None else {}

    def clear_sign_in(self, response: Response) -> None:
        response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN_PATH)
