"""Keys from an identity provider (JWKS) are fetched without stalling the service.

The provider is outside the system, so it is a fake: a real HTTP server on a free port in a
thread, whose keys and answering speed the tests change.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from shared.tests.conftest import running
from shared.tests.test_auth import claims
from tools.broker import free_port


class FakeIdentityProvider:
    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.delay_s = 0.0
        self.fetches = 0
        self.rotate()

    def rotate(self) -> str:
        """A new signing key replaces the old ones; returns its kid."""
        kid = f"key-{len(self.keys) + 1}"
        self.keys = {kid: ec.generate_private_key(ec.SECP256R1())}
        return kid

    def sign(self, kid: str | None = None, **over: Any) -> str:
        kid = kid or next(iter(self.keys))
        key = self.keys.get(kid) or ec.generate_private_key(ec.SECP256R1())
        return jwt.encode(claims(**over), key, algorithm="ES256", headers={"kid": kid})

    def jwks(self) -> bytes:
        keys = [{**json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key())), "kid": kid,
                 "use": "sig", "alg": "ES256"} for kid, k in self.keys.items()]
        return json.dumps({"keys": keys}).encode()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                provider.fetches += 1
                time.sleep(provider.delay_s)
                body = provider.jwks()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def provider() -> Iterator[tuple[FakeIdentityProvider, str]]:
    idp = FakeIdentityProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), idp.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield idp, f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_slow_provider_stalls_nothing_else(testsvc_settings, provider):
    idp, url = provider
    idp.delay_s = 0.8
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                auth_jwks_url=url, auth_jwks_timeout_s=3)
    async with running(settings) as client:
        token = idp.sign()
        started = time.monotonic()
        verifying = asyncio.create_task(client.get("/v1/applied-count", headers=bearer(token)))
        await asyncio.sleep(0.1)  # the key is being fetched now
        assert (await client.get("/livez")).status_code == 200
        assert time.monotonic() - started < 0.1 + 0.2
        assert (await verifying).status_code == 200
        # Others waiting for the same keys share the one fetch; a verified token is cached.
        r = await asyncio.gather(*(client.get("/v1/applied-count", headers=bearer(idp.sign()))
                                   for _ in range(3)))
        assert [x.status_code for x in r] == [200] * 3
        assert idp.fetches == 1


async def test_a_rotated_key_is_fetched_and_an_unknown_one_refused(testsvc_settings, provider):
    idp, url = provider
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False, auth_jwks_url=url,
                                auth_jwks_min_refresh_s=0.2)
    async with running(settings) as client:
        assert (await client.get("/v1/applied-count", headers=bearer(idp.sign()))
                ).status_code == 200
        await asyncio.sleep(settings.auth_jwks_min_refresh_s)
        new = idp.rotate()
        assert (await client.get("/v1/applied-count", headers=bearer(idp.sign(new)))
                ).status_code == 200
        assert idp.fetches == 2
        r = await client.get("/v1/applied-count", headers=bearer(idp.sign("who-knows")))
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        # Unknown kids do not make the service fetch again and again.
        for _ in range(5):
            await client.get("/v1/applied-count", headers=bearer(idp.sign("who-knows-2")))
        assert idp.fetches <= 3


@pytest.mark.parametrize("reachable", [True, False], ids=["too-slow", "unreachable"])
async def test_a_provider_that_does_not_answer_is_a_503_after_the_timeout(
        testsvc_settings, provider, reachable):
    idp, url = provider
    idp.delay_s = 5
    if not reachable:
        url = f"http://127.0.0.1:{free_port()}/jwks.json"
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                auth_jwks_url=url, auth_jwks_timeout_s=0.3)
    async with running(settings) as client:
        started = time.monotonic()
        r = await client.get("/v1/applied-count", headers=bearer(idp.sign()))
        assert time.monotonic() - started < 1.0
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
