"""shared.sqlite_inline: SQLAlchemy's aiosqlite dialect works on it, and never waits on it;
waiting for another connection's lock leaves the event loop free."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import OperationalError

from shared.db import create_engine

metadata = MetaData()
NOTES = Table("notes", metadata, Column("id", Integer, primary_key=True),
              Column("text", String(20)))


async def test_a_transaction_runs_without_a_turn_of_the_event_loop(tmp_path):
    """What the adapter buys rests on this: the single connection is never held across loop
    turns until its commit. A dialect that starts to await something of its own would show
    here."""
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
            assert turns == before
            await conn.commit()  # waits for the disk: on a thread, the loop goes on
        assert len(rows) == 51 and rows[-1].text == "one" and len(streamed) == 51
        stop.set()
        await counter
    finally:
        await engine.dispose()


@asynccontextmanager
async def longest_stall() -> AsyncIterator[Callable[[], float]]:
    """The longest the event loop went without a turn, meanwhile (in seconds)."""
    loop = asyncio.get_running_loop()
    longest = 0.0
    stop = asyncio.Event()

    async def beat() -> None:
        nonlocal longest
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.002)
            longest = max(longest, loop.time() - before - 0.002)

    task = asyncio.create_task(beat())
    await asyncio.sleep(0.01)
    try:
        yield lambda: longest
    finally:
        stop.set()
        await task


def hold_the_lock(path: Path) -> sqlite3.Connection:
    """Another connection, as another process would be, in the midst of a write."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (text) VALUES ('other')")
    return other


async def test_waiting_for_another_writer_leaves_the_loop_free(tmp_path):
    """The national bench's /livez answered after 5 s: the API's consumer waited for the
    snapshot worker's write lock inside SQLite, on the loop."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        other = hold_the_lock(tmp_path / "locked.db")
        threading.Timer(0.4, other.commit).start()
        async with longest_stall() as stall:
            async with engine.begin() as conn:
                await conn.execute(insert(NOTES).values(text="mine"))
            assert stall() < 0.1
        async with engine.connect() as conn:
            texts = (await conn.execute(select(NOTES.c.text).order_by(NOTES.c.id))).scalars()
            assert list(texts) == ["other", "mine"]
        other.close()
    finally:
        await engine.dispose()


async def test_a_lock_held_past_the_busy_timeout_still_fails_and_writes_nothing(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'locked.db'}",
                           busy_timeout_ms=300)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        other = hold_the_lock(tmp_path / "locked.db")
        started = asyncio.get_running_loop().time()
        async with longest_stall() as stall:
            with pytest.raises(OperationalError, match="database is locked"):
                async with engine.begin() as conn:
                    await conn.execute(insert(NOTES).values(text="mine"))
            assert stall() < 0.1
        assert asyncio.get_running_loop().time() - started >= 0.3
        other.rollback()
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(NOTES)) == 0
        other.close()
    finally:
        await engine.dispose()


async def test_a_commit_waits_for_the_disk_off_the_event_loop(tmp_path):
    """With synchronous=FULL a commit waits for fsync: over 100 ms on a busy machine (the
    national bench saw the indicators API's loop held that long by its consumer's commits).
    It runs on a thread; the statements before it stay on the loop."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'commit.db'}")
    where: dict[str, int] = {}

    def traced(conn: Any) -> None:
        raw = conn.connection.dbapi_connection._connection._conn  # sqlite3, underneath
        raw.set_trace_callback(lambda sql: where.setdefault(sql.split()[0].upper(),
                                                            threading.get_ident()))

    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with engine.connect() as conn:
            await conn.run_sync(traced)
            await conn.begin()
            await conn.execute(insert(NOTES).values(text="one"))
            await conn.commit()
        loop_thread = threading.get_ident()
        assert where["INSERT"] == loop_thread
        assert where["COMMIT"] != loop_thread
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(NOTES)) == 1
    finally:
        await engine.dispose()
