"""Bearer-token authentication (OAuth2 JWTs) and role-based authorisation.

Tokens are verified against a JWKS URL (production: the organisation's OIDC provider) or a
PEM public key (embedded default: the local dev issuer). `iss`, `aud` and `exp` are required
and checked, and only the configured algorithms are accepted (never `none`). `exp` may lie at
most `auth_token_max_lifetime_s` ahead, and `sub` and `org` must fit what is stored of them.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.types import Scope

from shared.jwks import JwksKeys, UnknownSigningKey
from shared.problems import ProblemError
from shared.settings import ServiceSettings


class Role(StrEnum):
    FIELD_WORKER = "field-worker"
    COORDINATOR = "coordinator"
    PARTNER = "partner"
    ANALYST = "analyst"
    PROGRAMME_OFFICER = "programme-officer"
    PROGRAMME_APPROVER = "programme-approver"
    PRIVACY_OFFICER = "privacy-officer"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who calls: the token's subject, organisation, roles and teams.

    `teams` are the partner types (taxonomy codes such as `wijkteam`, `debt-help`) a partner
    user works for, from the optional `team` claim; empty when the token has none.
    """

    subject: str
    organisation: str
    roles: frozenset[Role]
    teams: frozenset[str] = frozenset()

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))


class Unauthorized(ProblemError):
    status = 401
    title = "Authentication required"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.headers["WWW-Authenticate"] = "Bearer"  # RFC 9110 11.6.1: how to authenticate


class Forbidden(ProblemError):
    status = 403
    title = "Not allowed"


#: Longest `sub` and `org` accepted: what the databases store (`reported_by`, `organisation`).
MAX_SUBJECT_LENGTH = 200
MAX_ORGANISATION_LENGTH = 100


def _identifier(value: Any, max_length: int) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= max_length and value.isprintable() \
            and value.strip() == value:
        return value
    return None


class TokenVerifier:
    """Verifies bearer tokens; a verified token is remembered until it expires.

    Signature checks cost ~0.3 ms (ES256) and apps send the same token for hours; the cache
    is keyed by the whole token, so a changed byte is a cache miss and verified afresh. Only
    a miss may await (the provider's keys); a hit is a dictionary look-up.
    """

    CACHE_SIZE = 4096

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        url = settings.auth_jwks_url
        self.jwks = JwksKeys(url, settings.auth_jwks_timeout_s, settings.auth_jwks_cache_s,
                             settings.auth_jwks_min_refresh_s) if url else None

    @cached_property
    def _public_key(self) -> str:
        path = Path(self._settings.auth_public_key_file)
        if not path.is_file():
            raise Unauthorized("no token issuer key is configured on this service")
        return path.read_text()

    async def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            expires, principal = hit
            if time.time() < expires + self._settings.auth_leeway_s:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
        principal, expires = self._verify(token, await self._key(token))
        self._verified[token] = (expires, principal)
        if len(self._verified) > self.CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    async def _key(self, token: str) -> Any:
        if self.jwks is None:
            return self._public_key
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            return await self.jwks.key(kid if isinstance(kid, str) else None)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is not valid: {type(exc).__name__}") from exc
        except UnknownSigningKey as exc:
            raise Unauthorized("the token is signed with a key the issuer does not publish "
                               "(kid)") from exc

    def _verify(self, token: str, key: Any) -> tuple[Principal, float]:
        s = self._settings
        try:
            claims = jwt.decode(
                token, key, algorithms=s.auth_algorithms, audience=s.auth_audience,
                issuer=s.auth_issuer, leeway=s.auth_leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("the token is not meant for this API (aud)") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("the token comes from an unknown issuer (iss)") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is not valid: {type(exc).__name__}") from exc
        expires = float(claims["exp"])
        if expires > time.time() + s.auth_token_max_lifetime_s + s.auth_leeway_s:
            raise Unauthorized("the token expires too far ahead (exp): at most "
                               f"{s.auth_token_max_lifetime_s} s")
        subject = _identifier(claims["sub"], MAX_SUBJECT_LENGTH)
        if subject is None:
            raise Unauthorized("the 'sub' claim must be 1 to "
                               f"{MAX_SUBJECT_LENGTH} printable characters")
        org, roles = claims.get("org"), claims.get("roles")
        if not isinstance(org, str) or not org or not isinstance(roles, list):
            raise Unauthorized("the token lacks the 'org' or 'roles' claim")
        if _identifier(org, MAX_ORGANISATION_LENGTH) is None:
            raise Unauthorized("the 'org' claim must be 1 to "
                               f"{MAX_ORGANISATION_LENGTH} printable characters")
        known = {r.value for r in Role}
        principal = Principal(
            subject=subject,
            organisation=org,
            roles=frozenset(Role(r) for r in roles if isinstance(r, str) and r in known),
            teams=_teams(claims.get("team")),
        )
        return principal, expires


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer` header, without the spaces around it."""
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


async def authenticate(scope: Scope, token: str) -> Principal | ProblemError:
    """Verify `token` once per request: the outcome is kept in the scope for the route."""
    known: tuple[str, Principal | ProblemError] | None = scope.get(_OUTCOME)
    if known is not None and known[0] == token:  # by the body check before
        return known[1]
    verifier: TokenVerifier = scope["app"].state.token_verifier
    try:
        outcome: Principal | ProblemError = await verifier.verify(token)
    except ProblemError as exc:
        outcome = exc
    scope[_OUTCOME] = (token, outcome)
    return outcome


_OUTCOME = "ddk.authentication"


_TEAM = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _teams(claim: object) -> frozenset[str]:
    """The `team` claim: absent, one partner-type code, or a list of them."""
    if claim is None:
        return frozenset()
    teams = [claim] if isinstance(claim, str) else claim
    if not isinstance(teams, list) or not all(
            isinstance(t, str) and len(t) <= 64 and _TEAM.fullmatch(t) for t in teams):
        raise Unauthorized("the token's 'team' claim is not a code or a list of codes")
    return frozenset(teams)


_bearer = HTTPBearer(auto_error=False, description="OAuth2 access token (JWT)")
# What a route that checks the token itself (see `authorise`) states in its OpenAPI.
BEARER_SECURITY: list[dict[str, list[str]]] = [{"HTTPBearer": []}]


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None
                     ) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send an 'Authorization: Bearer <token>' header")
    token = credentials.credentials.strip()
    known: tuple[str, Principal | ProblemError] | None = request.scope.get(_OUTCOME)
    outcome: Principal | ProblemError
    if known is not None and known[0] == token:  # verified already, by the rate limiter
        outcome = known[1]
    else:
        outcome = await authenticate(request.scope, token)
    if isinstance(outcome, ProblemError):
        raise outcome
    request.state.principal = outcome
    return outcome


def _admit(principal: Principal, roles: tuple[Role, ...]) -> Principal:
    if not principal.has(*roles):
        raise Forbidden("this action needs one of the roles: " + ", ".join(r.value for r in roles))
    return principal


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await _principal(request, credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Any:
    """A dependency that admits a principal holding any of `roles`."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        return _admit(await _principal(request, credentials), roles)

    return Depends(check)


async def authorise(request: Request, *roles: Role) -> Principal:
    """`require_roles` as a plain call, for the busiest endpoint: FastAPI's dependency
    machinery costs that endpoint a tenth of its time. Its route states BEARER_SECURITY."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) \
        if scheme and token else None
    return _admit(await _principal(request, credentials), roles)
