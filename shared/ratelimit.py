"""Rate limiting per client: a token bucket per verified principal, else per address.

A request whose token verifies spends the budget of its organisation and subject, however the
header is spelled and however many tokens that person holds; one with no token or a token
that does not verify spends its client address's. Verifying here costs nothing extra: the
outcome is kept for the route, and a known token is a cache hit.

Answers 429 with `Retry-After` and a problem body when a client exceeds its budget, and
tells every client where it stands with `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset`. The buckets live in the process: with N replicas a client gets N times
the budget, which is fine for protecting each replica.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import Principal, authenticate, bearer_token
from shared.problems import PROBLEM_JSON

EXEMPT = ("/livez", "/readyz", "/metrics")


class TokenBucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_second: float, burst: int, max_clients: int = 10_000
                 ) -> None:
        self.app = app
        self.rate = per_second
        self.burst = burst
        self.max_clients = max_clients
        self.buckets: OrderedDict[tuple[str, str], TokenBucket] = OrderedDict()

    async def _client(self, scope: Scope) -> tuple[str, str]:
        token = bearer_token(scope)
        if token is not None and "app" in scope:
            outcome = await authenticate(scope, token)
            if isinstance(outcome, Principal):
                return outcome.organisation, outcome.subject
        client = scope.get("client")
        return "", client[0] if client else "unknown"  # no organisation: an address

    def take(self, client: tuple[str, str]) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until one token is back)."""
        now = time.monotonic()
        bucket = self.buckets.get(client)
        if bucket is None:
            bucket = self.buckets[client] = TokenBucket(float(self.burst), now)
            if len(self.buckets) > self.max_clients:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(client)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return True, bucket.tokens, 0.0
        return False, bucket.tokens, (1 - bucket.tokens) / self.rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        allowed, left, wait = self.take(await self._client(scope))
        headers = [
            (b"ratelimit-limit", str(self.burst).encode()),
            (b"ratelimit-remaining", str(int(left)).encode()),
            (b"ratelimit-reset", str(math.ceil((self.burst - left) / self.rate)).encode()),
        ]
        if not allowed:
            retry = str(max(1, math.ceil(wait))).encode()
            body = orjson.dumps({
                "type": "about:blank", "title": "Too many requests", "status": 429,
                "detail": f"slow down: at most {self.rate:g} requests per second "
                          f"(bursts of {self.burst})", "instance": scope["path"]})
            await send({"type": "http.response.start", "status": 429, "headers": [
                (b"content-type", PROBLEM_JSON.encode()), (b"retry-after", retry),
                (b"content-length", str(len(body)).encode()), *headers]})
            await send({"type": "http.response.body", "body": body})
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)
