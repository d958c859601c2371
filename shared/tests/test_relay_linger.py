"""The relay's linger: commits that follow the one that woke it go out in the same round."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from shared.db import create_engine, sessionmaker
from shared.kafka import Outgoing, Placed, Producer, ensure_topics
from shared.outbox import OutboxRelay, record_event
from shared.tests.conftest import read_topic
from shared.tests.testapp import Base, NoteRecorded, NoteServiceSettings, Outbox, note_type
from tools.broker import EmbeddedBroker


@pytest.mark.parametrize(("linger_s", "rounds"), [(0.0, [1, 1, 1]), (0.6, [3])])
async def test_commits_within_the_linger_share_a_round(
        tmp_path: Path, broker: EmbeddedBroker, linger_s: float, rounds: list[int]) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'linger.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    topic = f"linger-{uuid.uuid4().hex[:8]}.v1"
    settings = NoteServiceSettings(kafka_bootstrap_servers=broker.bootstrap_servers, topic=topic)
    await ensure_topics(settings, [topic])
    sessions = sessionmaker(engine)
    producer = Producer(settings)
    sent_per_round: list[int] = []
    send_all = producer.send_all

    async def counting_send_all(messages: Sequence[Outgoing]) -> list[Placed]:
        sent_per_round.append(len(messages))
        return await send_all(messages)

    producer.send_all = counting_send_all  # type: ignore[method-assign]
    # Polling far off: only the commits' notifications start rounds.
    relay = OutboxRelay("lingertest", sessions, Outbox, producer, poll_interval_s=30.0,
                        linger_s=linger_s, verify_interval_s=3600)
    relay.start()
    try:
        await asyncio.sleep(0.3)  # the first round (nothing to send) and broker check are done
        for i in range(3):
            async with sessions() as s, s.begin():
                record_event(s, Outbox, note_type(topic),
                             NoteRecorded(note_id=uuid.uuid4(), area="BU03630001", count=i),
                             key="BU03630001", source="urn:test")
            relay.notify()
            await asyncio.sleep(0.15)
        messages = await read_topic(broker.bootstrap_servers, topic, 3)
    finally:
        await relay.stop()
        await producer.close()
        await engine.dispose()
    assert [orjson.loads(m.value)["count"] for m in messages] == [0, 1, 2]
    assert sent_per_round == rounds
