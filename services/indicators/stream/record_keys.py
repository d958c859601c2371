"""Record keys for facts stored before the cell-key method (or after a secret change)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.cellkey import RecordKeys
from services.indicators.models import SignalFact
from services.indicators.stream.retention import random_key

BATCH = 5_000


async def fill_record_keys(sessions: async_sessionmaker[AsyncSession], keys: RecordKeys) -> int:
    """Give every fact without a record key its household's; returns how many were filled.

    A fact whose pseudonym the retention clock already dropped gets a random key, as the
    clock gives those it settles itself."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(SignalFact).where(SignalFact.record_key.is_(None),
                                     SignalFact.household_stats_pseudonym.is_(None))
            .values(record_key=random_key(session)).execution_options(synchronize_session=False))
    filled = int(result.rowcount)  # type: ignore[attr-defined]
    while True:
        async with sessions() as session, session.begin():
            rows = (await session.execute(
                select(SignalFact.signal_id, SignalFact.household_stats_pseudonym)
                .where(SignalFact.record_key.is_(None),
                       SignalFact.household_stats_pseudonym.is_not(None)).limit(BATCH))).all()
            for signal_id, pseudonym in rows:
                assert pseudonym is not None
                await session.execute(update(SignalFact).where(
                    SignalFact.signal_id == signal_id).values(record_key=keys.of(pseudonym)))
        filled += len(rows)
        if len(rows) < BATCH:
            return filled
