"""shared.sqlite_inline: SQLAlchemy's aiosqlite dialect works on it, and never waits on it."""

from __future__ import annotations

import asyncio

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from shared.db import create_engine

metadata = MetaData()
NOTES = Table("notes", metadata, Column("id", Integer, primary_key=True),
              Column("text", String(20)))


async def test_a_transaction_runs_without_a_turn_of_the_event_loop(tmp_path):
    """What the adapter buys rests on this: the single connection is never held across loop
    turns. A dialect that starts to await something of its own would show here."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    turns = 0
    stop = asyncio.Event()

    async def count_turns() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        counter = asyncio.create_task(count_turns())
        await asyncio.sleep(0)
        before = turns
        async with engine.connect() as conn:
            await conn.begin()
            await conn.execute(insert(NOTES), [{"text": f"n{i}"} for i in range(50)])
            await conn.execute(insert(NOTES).values(text="one"))
            rows = (await conn.execute(select(NOTES.c.text).order_by(NOTES.c.id))).all()
            streamed = [r async for r in await conn.stream(select(NOTES.c.id))]
            await conn.commit()
            # (Closing the connection may take turns: by then it is handed back.)
            assert turns == before
        assert len(rows) == 51 and rows[-1].text == "one" and len(streamed) == 51
        stop.set()
        await counter
    finally:
        await engine.dispose()
