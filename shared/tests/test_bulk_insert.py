"""BulkInsert stores exactly what SQLAlchemy's own insert stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, insert, select

from shared.bulkinsert import BulkInsert
from shared.db import UTCDateTime, UUIDString, create_engine

metadata = MetaData()
THINGS = Table(
    "things", metadata,
    Column("id", UUIDString(), primary_key=True),
    Column("at", UTCDateTime()),
    Column("flag", Boolean, default=False),
    Column("amount", Integer),
    Column("label", String(50)),
)


def _rows() -> list[dict[str, object]]:
    cet = timezone(timedelta(hours=1))
    return [
        {"id": uuid.uuid4(), "at": datetime(2026, 11, 29, 3, 4, 5, 678901, tzinfo=cet),
         "flag": True, "amount": 42, "label": "één"},
        {"id": uuid.uuid4(), "at": datetime(2026, 1, 1, tzinfo=UTC), "flag": False,
         "amount": None, "label": None},
    ]


async def test_bulk_insert_stores_what_sqlalchemy_stores(database_url):
    engine = create_engine(database_url("bulk"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            core, bulk = _rows(), _rows()
            await conn.execute(insert(THINGS), core)
            await BulkInsert(THINGS).execute(conn, bulk)
            # Raw, as stored: text on SQLite, the driver's values on PostgreSQL.
            raw = {row[0]: row[1:] for row in await conn.exec_driver_sql(
                "SELECT id, CAST(at AS TEXT), flag, amount, label FROM things")}
            for a, b in zip(core, bulk, strict=True):
                assert raw[str(a["id"])] == raw[str(b["id"])]
            read = {r.id: r for r in await conn.execute(select(THINGS))}
            assert read[bulk[0]["id"]].at == bulk[0]["at"]  # same moment, read back in UTC
            assert read[bulk[0]["id"]].at.tzinfo == UTC
            with pytest.raises(ValueError, match="exactly the columns"):
                await BulkInsert(THINGS).execute(conn, [{"id": uuid.uuid4(), "amount": 1}])
    finally:
        await engine.dispose()
