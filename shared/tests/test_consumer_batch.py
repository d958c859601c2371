"""A consumer's batch in one transaction: its events claimed in one statement, each applied
once, on SQLite and PostgreSQL. (The broker's part is in test_delivery.)"""

from __future__ import annotations

import uuid

from aiokafka.structs import ConsumerRecord
from sqlalchemy import event, func, select

from shared.consumer import EventConsumer, handles
from shared.db import create_engine, sessionmaker
from shared.events import CloudEvent
from shared.tests.testapp import Applied, Base, Inbox, NoteRecorded, NoteServiceSettings, apply_note
from shared.tests.testapp import note_type as _note_type

NOTE = _note_type("test.v1")


def _record(e: CloudEvent, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("test.v1", 0, offset, 0, 0, b"BU03630001", e.value(), None, 0, 0,
                          e.headers())


def _note() -> CloudEvent:
    return CloudEvent.new("urn:test", NOTE.type, NoteRecorded(
        note_id=uuid.uuid4(), area="BU03630001", count=1))


async def test_a_batch_is_claimed_in_one_statement_and_each_event_applied_once(database_url):
    engine = create_engine(database_url("batch"))
    inserts: list[int] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO INBOX"):
            inserts.append(len(parameters) if executemany else 1)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        consumer = EventConsumer("batch", ["test.v1"], [handles(NOTE, apply_note)],
                                 NoteServiceSettings(), sessionmaker(engine), Inbox, None)
        first = [_note() for _ in range(20)]
        batch = first + [first[3], first[7]]  # redelivered within the batch
        assert await consumer.apply_together([_record(e, i) for i, e in enumerate(batch)])
        assert len(inserts) == 1, "one statement claims the whole batch"

        again = [first[0], _note(), first[19], _note()]  # two seen in the batch before
        assert await consumer.apply_together([_record(e, 30 + i) for i, e in enumerate(again)])
        async with sessionmaker(engine)() as session:
            applied = (await session.execute(
                select(Applied.note_id, func.count()).group_by(Applied.note_id))).all()
            claimed = await session.scalar(select(func.count()).select_from(Inbox))
        applied_ids = {note_id for note_id, _ in applied}
        assert len(applied) == 22 and all(n == 1 for _, n in applied)
        assert applied_ids == {str(NoteRecorded.model_validate(e.data).note_id)
                               for e in first + again}
        assert claimed == 22
    finally:
        await engine.dispose()
