"""PostgreSQL: migrations up/down/up for every service, and two relays on one outbox."""

import asyncio
import uuid

import orjson
import pytest
from sqlalchemy import func, select

from shared.db import create_engine, sessionmaker
from shared.kafka import Producer, ensure_topics
from shared.outbox import OutboxRelay, record_event
from shared.tests.conftest import read_topic
from shared.tests.testapp import Base, NoteRecorded, NoteServiceSettings, Outbox, note_type
from tests.helpers import eventually
from tools.migrate import downgrade, upgrade
from tools.registry import NAMES

pytestmark = pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)


@pytest.mark.parametrize("service", NAMES)
def test_migrations_up_down_up(database_url, service):
    url = database_url(service)
    upgrade(service, url)
    downgrade(service, url, "-1")
    upgrade(service, url)


async def test_two_relays_publish_each_event_once_in_order(database_url, broker):
    url = database_url("relays")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    topic = f"relays-{uuid.uuid4().hex[:8]}.v1"
    settings = NoteServiceSettings(kafka_bootstrap_servers=broker.bootstrap_servers, topic=topic)
    await ensure_topics(settings, [topic])
    etype = note_type(topic)
    sessions = sessionmaker(engine)

    async def write(start, n):
        async with sessions() as s, s.begin():
            for i in range(start, start + n):
                area = f"BU0000000{i % 10}"
                record_event(s, Outbox, etype, NoteRecorded(note_id=uuid.uuid4(), area=area,
                                                            count=i), key=area, source="urn:t")

    engines = [create_engine(url), create_engine(url)]
    producers = [Producer(settings), Producer(settings)]
    relays = [OutboxRelay("relaytest", sessionmaker(e), Outbox, p, poll_interval_s=0.05)
              for e, p in zip(engines, producers, strict=True)]
    try:
        await write(0, 300)
        for r in relays:
            r.start()

        async def unsent():
            async with sessions() as s:
                n = await s.scalar(select(func.count()).select_from(Outbox)
                                   .where(Outbox.published_at.is_(None)))
            return n == 0 or None

        await eventually(unsent)
        leader = next(r for r in relays if r._lease.held)  # noqa: SLF001
        await leader.stop()  # hand over: the standby takes the lock
        await write(300, 100)
        await eventually(unsent, timeout_s=30)
        messages = await read_topic(broker.bootstrap_servers, topic, 400)
        await asyncio.sleep(0.5)
        counts = [orjson.loads(m.value)["count"] for m in messages]
        assert sorted(counts) == list(range(400))  # every event exactly once
        by_key: dict[bytes, list[int]] = {}
        for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
            by_key.setdefault(m.key, []).append(orjson.loads(m.value)["count"])
        for sequence in by_key.values():
            assert sequence == sorted(sequence)  # in order per key
    finally:
        for r in relays:
            await r.stop()
        for p in producers:
            await p.close()
        for e in [*engines, engine]:
            await e.dispose()
