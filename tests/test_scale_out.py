"""Scale-out on PostgreSQL and the real broker: replicas share a database and a group."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from services.indicators.app import build as build_indicators
from services.indicators.models import SignalFact
from services.signals.app import build as build_signals
from services.signals.models import Outbox, Signal
from services.signals.tests.conftest import TEST_KEYS, signal_body
from shared.contracts.signals import SIGNAL_RECORDED, SignalRecorded
from shared.events import CloudEvent
from shared.kafka import ensure_topics
from tests.apps import runtime_of, serve
from tests.helpers import eventually
from tools.broker import embedded_broker, free_port

pytestmark = pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)

AREAS = [f"BU0599X0{i:02d}" for i in range(40)]


@pytest.fixture(scope="module")
def broker():
    with embedded_broker() as b:
        yield b


def recorded(i: int) -> CloudEvent:
    observed = datetime.now(UTC) - timedelta(days=i % 300)
    data = SignalRecorded(
        signal_id=uuid.uuid4(), category=["nuisance", "loneliness", "rent-arrears"][i % 3],
        severity="medium", area_code=AREAS[i % len(AREAS)], observed_at=observed,
        recorded_at=observed, organisation="demo-corp-a",
        household_stats_pseudonym=f"{i % 700:064x}")
    return CloudEvent.new("urn:nl:dichtdekloof:signals", SIGNAL_RECORDED.type, data)


async def test_two_indicators_instances_split_the_work_and_survive_a_kill(
        service_settings, broker, auth):
    settings = service_settings("indicators", indicator_debounce_s=0.5)
    await ensure_topics(settings, ["signals.v1", "signals.v1.dlq", "indicators.v1",
                                   "areas.v1"])
    events = [recorded(i) for i in range(3000)]
    expected = Counter(e.data["areaCode"] for e in events)
    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "services.indicators.app:app",
         "--port", str(port), "--log-level", "error"],
        env={**os.environ, "DDK_INDICATORS_DATABASE_URL": settings.database_url,
             "DDK_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
             "DDK_KAFKA_SESSION_TIMEOUT_MS": "2000", "DDK_KAFKA_HEARTBEAT_INTERVAL_MS": "400",
             "DDK_AUTH_PUBLIC_KEY_FILE": settings.auth_public_key_file,
             "DDK_LOG_LEVEL": "ERROR"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    await producer.start()
    try:
        async with serve(build_indicators(settings)) as client:
            consumer = runtime_of(client).consumers[0]

            async def both_members():
                k = consumer._consumer  # noqa: SLF001
                n = len(k.assignment()) if k else 0
                return 0 < n < 4 or None  # the other instance holds the rest

            await eventually(both_members, timeout_s=60)
            for i, event in enumerate(events):
                await producer.send(
                    "signals.v1", event.value(), key=event.data["areaCode"].encode(),
                    headers=event.headers())
                if i % 500 == 0:
                    # and every 500th event twice, as a redelivery would
                    await producer.send("signals.v1", event.value(),
                                        key=event.data["areaCode"].encode(),
                                        headers=event.headers())
                if i == 1500:
                    await producer.flush()
                    other.send_signal(signal.SIGKILL)  # mid-stream, no goodbye
            await producer.flush()
            rt = runtime_of(client)

            async def counted():
                async with rt.sessions() as s:
                    n = await s.scalar(select(func.count()).select_from(SignalFact))
                return n >= len(events) or None

            await eventually(counted, timeout_s=120)
            await asyncio.sleep(2)
            admin = auth("admin", "demo-municipality")
            for area in AREAS:
                r = await client.get(f"/v1/areas/{area}/signal-counts", headers=admin)
                assert r.json()["signals"] == expected[area], area  # each exactly once
    finally:
        other.kill()
        await producer.stop()


async def test_two_signals_instances_store_interleaved_retries_once(start_service, auth):
    async with start_service("signals", relay_enabled=False, **TEST_KEYS) as first:
        settings = runtime_of(first).settings
        async with serve(build_signals(settings)) as second:
            h = auth("field-worker")
            bodies = [signal_body() for _ in range(100)]

            async def post(client, body):
                r = await client.post("/v1/signals", json=body, headers=h)
                return body["id"], r.status_code

            attempts = [post(client, b) for b in bodies for client in (first, second, first)]
            results = await asyncio.gather(*attempts)
            by_id: dict[str, list[int]] = {}
            for signal_id, status in results:
                by_id.setdefault(signal_id, []).append(status)
            for statuses in by_id.values():
                assert sorted(statuses) == [200, 200, 201]  # one stored, two replays
            rt = runtime_of(first)
            async with rt.sessions() as s:
                assert await s.scalar(select(func.count()).select_from(Signal)) == 100
                assert await s.scalar(select(func.count()).select_from(Outbox)) == 100
