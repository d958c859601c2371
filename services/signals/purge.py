"""Retention: remove a signal's personal data once its category's clock has run out.

The clock starts when a signal is closed (resolved or closed-no-action) and runs for the
category's `retention_days`; reopening stops it. Ciphertexts, the operational pseudonym and
the free-text reasons of its status changes go; the non-personal facts (category, area,
status, dates, referral metadata, the history's transitions) and the statistics pseudonym
stay, so indicators and history keep adding up.

    python -m services.signals.purge     # the app also runs it every `purge_interval_s`
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import IdempotencyKey, Signal, StatusChange
from services.signals.settings import Settings
from services.signals.taxonomy import load_taxonomy
from shared.db import engine_for, sessionmaker, utcnow


def strip_personal_data(signal: Signal, now: datetime) -> None:
    """Forget the personal part of a signal (ciphertexts, operational pseudonym, body hash)."""
    signal.address_ciphertext = None
    signal.note_ciphertext = None
    signal.arrears_ciphertext = None
    signal.household_pseudonym = None
    signal.request_hash = None
    signal.personal_data_removed_at = now


async def forget_personal_history(session: AsyncSession, signal_ids: list[uuid.UUID]) -> None:
    """Remove what the signals' history holds of a person, and the keys that replay them.

    A status change's reason is free text a coordinator typed ("mevrouw belde terug, haar
    zoon is opgenomen"): personal data like the note, so it goes with it. The transition
    itself (who moved the signal where, when, with which outcome code) stays.
    """
    await session.execute(update(StatusChange).where(
        StatusChange.signal_id.in_(signal_ids), StatusChange.reason_ciphertext.is_not(None),
    ).values(reason_ciphertext=None))
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.signal_id.in_(signal_ids)))


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Strip every closed signal whose retention has run out; returns how many."""
    now = now or utcnow()
    count = 0
    for category in load_taxonomy().categories:
        cutoff = now - timedelta(days=category.retention_days)
        rows = await session.scalars(select(Signal).where(
            Signal.category == category.code, Signal.closed_at.is_not(None),
            Signal.closed_at < cutoff, Signal.personal_data_removed_at.is_(None)))
        ids = []
        for signal in rows:
            strip_personal_data(signal, now)
            ids.append(signal.id)
        if ids:
            await forget_personal_history(session, ids)
        count += len(ids)
    return count


async def main() -> int:
    engine = engine_for(Settings())
    try:
        async with sessionmaker(engine)() as session, session.begin():
            return await purge_expired(session)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    print(f"personal data removed from {asyncio.run(main())} signal(s)")  # noqa: T201
