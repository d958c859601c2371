"""The backend-for-frontend's one way out: the services' public HTTP APIs, as the user.

Every call carries the signed-in user's token and language. A problem (RFC 9457) comes back
as `ApiProblem` for the page to show as the API said it; a service that does not answer is
`ServiceDown`, shown as a plain message (never a stack trace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from services.console.settings import Settings

SERVICE_NAMES_NL = {"signals": "signalen", "indicators": "indicatoren", "funding": "financiering"}


class ServiceDown(Exception):
    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


class SignedOut(Exception):
    """The API refused the token (expired or revoked): sign in again."""


@dataclass
class ApiProblem(Exception):
    status: int
    title: str
    detail: str
    #: field name (the last part of `body.x` / `query.x`) -> the API's reasons
    fields: dict[str, list[str]] = field(default_factory=dict)
    #: a refusal's coded reasons (e.g. a referral's covenant checks)
    refusals: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, response: httpx.Response) -> ApiProblem:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        fields: dict[str, list[str]] = {}
        for p in body.get("invalidParams") or []:
            name = str(p.get("name", "")).split(".")[-1]
            fields.setdefault(name, []).append(str(p.get("reason", "")))
        return cls(status=response.status_code, title=str(body.get("title", "")),
                   detail=str(body.get("detail", response.reason_phrase)), fields=fields,
                   refusals=list(body.get("refusals") or []))


class Api:
    """One user's view of the APIs (made per request)."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, token: str | None,
                 lang: str) -> None:
        self._client = client
        self._settings = settings
        self._headers = {"Accept-Language": lang}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    async def call(self, method: str, service: str, path: str, *,
                   headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        url = self._settings.api_url(service) + path
        try:
            r = await self._client.request(method, url, headers={**self._headers,
                                                                 **(headers or {})}, **kw)
        except httpx.TransportError as e:
            raise ServiceDown(service) from e
        if r.status_code in (502, 503, 504):
            raise ServiceDown(service)
        if r.status_code == 401:
            raise SignedOut
        if r.status_code >= 400:
            raise ApiProblem.of(r)
        return r

    async def get(self, service: str, path: str, **kw: Any) -> Any:
        return (await self.call("GET", service, path, **kw)).json()
