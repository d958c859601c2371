"""`upsert_statement`: one statement object per dialect and table, which inserts, ignores or
updates as asked, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import create_engine, upsert_statement

metadata = MetaData()
MARKS = Table(
    "marks", metadata,
    Column("code", String(10), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("seen", Integer),
)


async def test_an_upsert_is_built_once_and_ignores_or_updates(database_url):
    engine = create_engine(database_url("upsert"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with AsyncSession(engine) as session, session.begin():
            ignore = upsert_statement(session, MARKS)
            update = upsert_statement(session, MARKS, on=("code", "month"), update=("seen",))
            assert upsert_statement(session, MARKS) is ignore  # built once, reused
            assert upsert_statement(session, MARKS, on=("code", "month"),
                                    update=("seen",)) is update
            assert ignore is not update
            row = {"code": "BU1", "month": "2026-11", "seen": 1}
            assert (await session.execute(ignore, row)).rowcount == 1
            assert (await session.execute(ignore, {**row, "seen": 2})).rowcount == 0
            assert await session.scalar(select(MARKS.c.seen)) == 1
            await session.execute(update, {**row, "seen": 3})
            await session.execute(update, {**row, "month": "2026-12", "seen": 4})
            assert sorted((await session.execute(select(MARKS.c.month, MARKS.c.seen))).all()) == [
                ("2026-11", 3), ("2026-12", 4)]
    finally:
        await engine.dispose()
