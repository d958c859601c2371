"""A unit of work knows whether it wrote to the outbox, whoever added the row."""

from __future__ import annotations

import uuid

from shared.db import create_engine, sessionmaker
from shared.outbox import outbox_row, record_event, wrote_outbox
from shared.tests import testapp


async def test_a_session_knows_it_wrote_to_the_outbox(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    event = testapp.NoteRecorded(note_id=uuid.uuid4(), area="BU00000000", count=1)
    note_recorded = testapp.note_type("test-notes")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(testapp.Base.metadata.create_all)
        sessions = sessionmaker(engine)
        async with sessions() as session, session.begin():
            session.add(testapp.Note(id=uuid.uuid4(), area="BU00000000", count=1))
        assert not wrote_outbox(session)
        async with sessions() as session, session.begin():
            record_event(session, testapp.Outbox, note_recorded, event, key="k",
                         source="urn:test")
        assert wrote_outbox(session)
        async with sessions() as session, session.begin():  # a row added by hand counts too
            session.add(testapp.Outbox(**outbox_row(note_recorded, event, key="k",
                                                    source="urn:test")))
        assert wrote_outbox(session)
    finally:
        await engine.dispose()
