"""Network faults between a service and the broker, and an unavailable database."""

import asyncio
import sqlite3
import uuid

import pytest
from sqlalchemy import func, select

from shared.tests.conftest import running
from shared.tests.testapp import Applied, Note
from tests.apps import runtime_of
from tests.faults.proxy import FaultyProxy
from tests.helpers import eventually
from tools.broker import EmbeddedBroker, free_port


def note():
    return {"id": str(uuid.uuid4()), "area": f"BU0363000{uuid.uuid4().int % 10}", "count": 1,
            "label": "n"}


async def test_latency_stalls_and_resets_lose_nothing_and_double_nothing(testsvc_settings, auth):
    proxy_port = free_port()
    broker = EmbeddedBroker(free_port(), advertised_port=proxy_port).start()
    proxy = await FaultyProxy(broker.port, proxy_port).start()
    settings = testsvc_settings(kafka_bootstrap_servers=f"127.0.0.1:{proxy_port}",
                                consumer_backoff_s=0.05)
    try:
        async with running(settings) as client:
            rt = runtime_of(client)
            posted = 0

            async def post(n):
                nonlocal posted
                for _ in range(n):
                    r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
                    assert r.status_code == 201  # intake never depends on the network
                    posted += 1

            await post(40)
            proxy.latency_s = 0.05
            await post(40)
            proxy.stall(True)
            await post(40)
            await asyncio.sleep(2)
            proxy.stall(False)
            for _ in range(3):
                await post(20)
                proxy.reset()
                await asyncio.sleep(0.5)
            proxy.latency_s = 0.0

            async def all_applied():
                async with rt.sessions() as s:
                    applied = await s.scalar(select(func.count()).select_from(Applied))
                return applied >= posted or None

            await eventually(all_applied, timeout_s=90)
            await asyncio.sleep(2)  # late duplicates, if any, would land now
            async with rt.sessions() as s:
                applied = await s.scalar(select(func.count()).select_from(Applied))
                distinct = await s.scalar(select(func.count(func.distinct(Applied.note_id))))
            assert (applied, distinct) == (posted, posted) == (180, 180)
            assert proxy.connections > 3  # the clients really reconnected
    finally:
        await proxy.stop()
        broker.stop()


@pytest.mark.parametrize("method", ["post", "get"])
async def test_locked_database_is_a_503_and_nothing_is_half_written(
        testsvc_settings, auth, method):
    settings = testsvc_settings(relay_enabled=False, consumer_enabled=False,
                                sqlite_busy_timeout_ms=200)
    async with running(settings) as client:
        rt = runtime_of(client)
        path = settings.sqlalchemy_url().split("///", 1)[1]
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            if method == "post":
                r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
            else:
                r = await client.get("/v1/applied-count", headers=auth("admin"))
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
        finally:
            other.execute("ROLLBACK")
            other.close()
        async with rt.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Note)) == 0
        r = await client.post("/v1/notes", json=note(), headers=auth("field-worker"))
        assert r.status_code == 201  # and it recovers
