"""The relay's loop: it backs off from a broker that fails, and commits do not hurry it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaConnectionError

from shared.db import create_engine, sessionmaker
from shared.outbox import OutboxRelay, record_event
from shared.tests.testapp import Base, NoteRecorded, Outbox, note_type


class DownBroker:
    """A producer whose broker never answers: counts the attempts and the resets."""

    def __init__(self) -> None:
        self.attempts = 0
        self.resets = 0

    async def get(self) -> Any:
        self.attempts += 1
        raise KafkaConnectionError("the broker is down")

    async def reset(self) -> None:
        self.resets += 1


async def test_a_relay_backs_off_from_a_down_broker_however_often_it_is_notified(
        tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = sessionmaker(engine)
    producer = DownBroker()
    relay = OutboxRelay("looptest", sessions, Outbox, producer,  # type: ignore[arg-type]
                        poll_interval_s=0.05, max_backoff_s=0.4)
    loop = asyncio.get_running_loop()
    started = loop.time()
    relay.start()
    try:
        for i in range(100):  # a commit every 10 ms, as under load
            async with sessions() as s, s.begin():
                record_event(s, Outbox, note_type("loop.v1"),
                             NoteRecorded(note_id=uuid.uuid4(), area="BU03630001", count=i),
                             key="BU03630001", source="urn:test")
            relay.notify()
            await asyncio.sleep(0.01)
        elapsed = loop.time() - started
    finally:
        await relay.stop()
        await engine.dispose()
    # Backoffs of 0.05, 0.1, 0.2, then 0.4 s; a relay woken by every commit would have tried
    # about a hundred times.
    assert 3 <= producer.attempts <= 4 + elapsed / 0.4 + 1
    assert producer.resets == producer.attempts
    assert relay.last_error is not None and "KafkaConnectionError" in relay.last_error
