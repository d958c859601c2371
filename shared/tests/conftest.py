from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.db import create_engine
from shared.tests import testapp
from tests.apps import serve
from tools.broker import QUICK_GROUPS, EmbeddedBroker


def note(area: str = "BU03630001", count: int = 1) -> dict[str, Any]:
    """A valid body for the test app's POST /v1/notes."""
    return {"id": str(uuid.uuid4()), "area": area, "count": count, "label": "n"}


async def applied(client: httpx.AsyncClient, auth: Callable[..., dict[str, str]]) -> int:
    """How many note events the test app's consumer has applied."""
    r = await client.get("/v1/applied-count", headers=auth("admin"))
    return int(r.json()["count"])


async def at_least(client: httpx.AsyncClient, auth: Callable[..., dict[str, str]],
                   n: int) -> bool | None:
    """For `eventually`: truthy once `n` events are applied."""
    return await applied(client, auth) >= n or None


@pytest.fixture
def testsvc_settings(tmp_path: Path, broker: EmbeddedBroker, key_dir: Path
                     ) -> Callable[..., testapp.NoteServiceSettings]:
    def make(**overrides: Any) -> testapp.NoteServiceSettings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'testsvc.db'}",
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            **QUICK_GROUPS,
            "auth_public_key_file": str(key_dir / "issuer-public.pem"),
            "relay_poll_interval_s": 0.05, "log_json": False, "log_level": "WARNING",
            "rate_limit_per_second": 0,
            "topic": f"test-{uuid.uuid4().hex[:8]}.v1", "consumer_backoff_s": 0.01,
        }
        values.update(overrides)
        return testapp.NoteServiceSettings(**values)

    return make


@contextlib.asynccontextmanager
async def running(settings: testapp.NoteServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The test service on a database with its tables, talking over ASGI."""
    engine = create_engine(settings.sqlalchemy_url())
    async with engine.begin() as conn:
        await conn.run_sync(testapp.Base.metadata.create_all)
    await engine.dispose()
    async with serve(testapp.build(settings)) as client:
        yield client


async def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0
                     ) -> list[Any]:
    """Messages of a topic from the beginning, once `expected` have arrived (or time is up)."""
    # No consumer group: a reader commits nothing, and joining one costs seconds.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    messages: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while len(messages) < expected and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                messages.extend(msgs)
    finally:
        await consumer.stop()
    return messages
