"""sig0008_sync on a database as sig0007 left it: what is stored is numbered for the change
feed, and signals erased or purged before get their tombstones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, text, update

from services.signals.crypto.keys import build_crypto
from services.signals.intake.new_signal import new_signal
from services.signals.intake.repository import SIGNALS
from services.signals.intake.schemas import parse_signal
from services.signals.settings import Settings
from services.signals.tests.conftest import TEST_KEYS, signal_body
from shared.auth import Principal, Role
from shared.db import create_engine, utcnow
from tools.migrate import upgrade

FIELD_WORKER = Principal("fw-1", "demo-corp-a", frozenset({Role.FIELD_WORKER}))


async def _seed(url: str) -> list[str]:
    """Three signals as sig0007 stored them, the last two erased and purged."""
    crypto = build_crypto(Settings.model_validate(TEST_KEYS))
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            ids, now = [], utcnow()
            for n in range(3):
                body, problems = parse_signal(signal_body(houseNumber=n + 1))
                assert body is not None, problems
                row = new_signal(body, FIELD_WORKER, crypto, "urn:test", None).signal
                row.pop("clock_correction_seconds")
                row["recorded_at"] = now - timedelta(minutes=10 - n)
                await conn.execute(insert(SIGNALS).values(row))
                ids.append(row["id"])
            removed = now - timedelta(days=1)
            await conn.execute(update(SIGNALS).where(SIGNALS.c.id == ids[1]).values(
                personal_data_removed_at=removed, erased_at=removed))
            await conn.execute(update(SIGNALS).where(SIGNALS.c.id == ids[2]).values(
                personal_data_removed_at=now))
        return [str(i) for i in ids]
    finally:
        await engine.dispose()


async def _unnumbered(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text(
                "SELECT (SELECT COUNT(*) FROM signals WHERE change_position IS NULL) + "
                "(SELECT COUNT(*) FROM signal_tombstones WHERE change_position IS NULL)")) or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
async def test_sig0008_numbers_what_is_stored_and_tombstones_what_was_removed(
        database_url, signals_service, auth):
    url = database_url("signals")
    upgrade("signals", url, "sig0007")
    kept, erased, purged = await _seed(url)
    upgrade("signals", url)
    # Numbered by the migration, not left to the first read of the feed.
    assert await _unnumbered(url) == 0
    async with signals_service(database_url=url) as client:
        r = await client.get("/v1/signals", params={"changedSince": "0"},
                             headers=auth("field-worker", sub="fw-1"))
        page = r.json()
        assert [i["id"] for i in page["items"]] == [kept]
        assert [(t["signalId"], t["kind"]) for t in page["tombstones"]] == [
            (erased, "erasure"), (purged, "purge")]
        again = await client.get("/v1/signals", params={"changedSince": page["nextCursor"]},
                                 headers=auth("field-worker", sub="fw-1"))
        assert again.json()["items"] == [] and again.json()["tombstones"] == []
