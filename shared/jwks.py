"""The identity provider's signing keys (JWKS), fetched without blocking the event loop.

A fetch runs on the loop with a timeout, so a slow provider delays only the requests whose
tokens need a key not yet known, never the rest of the service (PyJWKClient fetched
synchronously: a provider answering in 3 s stalled every request for 3 s). Requests waiting
for the same keys share one fetch. An unknown `kid` (the provider rotated its keys) fetches
again, at most once per `min_refresh_s`, so invented kids cannot make the service hammer the
provider.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt

from shared.problems import ProblemError


class IdentityProviderUnavailable(ProblemError):
    status = 503
    title = "Identity provider unavailable"


class UnknownSigningKey(Exception):
    """The token names a key the provider does not publish."""


class JwksKeys:
    def __init__(self, url: str, timeout_s: float, cache_s: float, min_refresh_s: float
                 ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self.min_refresh_s = min_refresh_s
        self._keys: dict[str | None, Any] = {}
        self._fetched_at = float("-inf")
        self._failed_at = float("-inf")
        self._fetching: asyncio.Task[None] | None = None

    async def key(self, kid: str | None) -> Any:
        """The public key named `kid`; raises UnknownSigningKey or IdentityProviderUnavailable."""
        age = time.monotonic() - self._fetched_at
        key = self._keys.get(kid)
        if key is not None and age < self.cache_s:
            return key
        if key is None and age < self.min_refresh_s:
            raise UnknownSigningKey(kid)
        if key is None and time.monotonic() - self._failed_at < self.min_refresh_s:
            # The provider just failed: answer at once rather than make each request wait.
            raise IdentityProviderUnavailable("the identity provider's keys are unavailable")
        try:
            await self._refresh()
        except IdentityProviderUnavailable:
            if key is not None:  # keys past their time still beat refusing everyone
                return key
            raise
        key = self._keys.get(kid)
        if key is None:
            raise UnknownSigningKey(kid)
        return key

    async def _refresh(self) -> None:
        if self._fetching is None:
            self._fetching = asyncio.create_task(self._fetch(), name="jwks-fetch")
            self._fetching.add_done_callback(self._fetched)
        # Shielded: a caller that gives up (its client went away) does not cancel the fetch
        # the others wait for.
        await asyncio.shield(self._fetching)

    def _fetched(self, task: asyncio.Task[None]) -> None:
        self._fetching = None
        if not task.cancelled():
            task.exception()  # retrieved here too, for when every waiter was cancelled

    async def _fetch(self) -> None:
        try:
            # Each step (connect, send, every read) within the timeout; a JWKS is a few KB.
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False
                                         ) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keyset = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            self._failed_at = time.monotonic()
            raise IdentityProviderUnavailable(
                f"the identity provider's keys could not be fetched ({type(exc).__name__})"
            ) from exc
        self._keys = {k.key_id: k.key for k in keyset.keys}
        self._fetched_at = time.monotonic()
