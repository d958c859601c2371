"""A hostile target cannot hold or flood a delivery: an endless answer body is not read,
and headers trickled a byte at a time end at the request's deadline. The target is a real
TCP server (asyncio streams) speaking just enough HTTP/1.1 to misbehave."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from services.signals.settings import Settings
from services.signals.webhooks.delivery import Claim, WebhookDispatcher
from services.signals.webhooks.schemas import WebhookFormat
from services.signals.webhooks.signing import new_secret

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def target(handler: Handler) -> AsyncIterator[str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/hooks"


async def endless_body(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100000000000\r\n\r\n")
    chunk = b"x" * 65536
    while True:  # gigabytes, as fast as the reader takes them
        writer.write(chunk)
        await writer.drain()


async def trickled_headers(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nx-slow: " + b"a" * 10_000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)  # always within the read timeout, never done


def _dispatcher() -> WebhookDispatcher:
    settings = Settings(webhook_allow_loopback=True, webhook_timeout_s=0.5,
                        webhook_connect_timeout_s=0.5, log_json=False)
    return WebhookDispatcher(None, settings, None)  # type: ignore[arg-type]


def _claim(url: str) -> Claim:
    return Claim(delivery_id=uuid.uuid4(), subscription_id=uuid.uuid4(), lease_token="t",
                 target_url=url, fmt=WebhookFormat.STANDARD_WEBHOOKS, secrets=[new_secret()],
                 event={"type": "referral.created", "occurredAt": "2026-12-04T10:00:00+00:00",
                        "referralId": "r-1", "resourcePath": "/v1/referrals/r-1"},
                 event_created_at=datetime.now(UTC))


async def test_an_endless_answer_body_is_not_read():
    dispatcher = _dispatcher()
    async with target(endless_body) as url:
        started = time.monotonic()
        outcome = await asyncio.wait_for(dispatcher._post(_claim(url)), 10)
        assert outcome.status_code == 200 and outcome.delivered
        assert time.monotonic() - started < 2
    await dispatcher.stop()


async def test_trickled_headers_end_at_the_deadline():
    dispatcher = _dispatcher()
    async with target(trickled_headers) as url:
        started = time.monotonic()
        outcome = await asyncio.wait_for(dispatcher._post(_claim(url)), 10)
        assert outcome.error == "timeout" and outcome.status_code is None
        assert time.monotonic() - started < 2
    await dispatcher.stop()
