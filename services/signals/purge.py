"""Retention: remove a signal's personal data once its category's clock has run out.

The clock starts when a signal is closed (resolved or closed-no-action) and runs for the
category's `retention_days`; reopening stops it. A signal that is never closed loses its
personal data all the same `max_open_days` after intake (its status stays). Every purge, like
every erasure, leaves an `erasure_records` row: who (here the system), when, why, which
signals -- no personal data. Ciphertexts, the operational pseudonym and
the free-text reasons of its status changes go; the non-personal facts (category, area,
status, dates, referral metadata, the history's transitions) stay. The statistics
pseudonym goes as well, in the signal and in its `signal-recorded` event in the outbox:
indicators keeps its own copy only as long as its own clock allows.

    python -m services.signals.purge     # the app also runs it every `purge_interval_s`
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import ErasureRecord, IdempotencyKey, Outbox, Signal, StatusChange
from services.signals.settings import Settings
from services.signals.taxonomy import load_taxonomy
from shared.contracts.signals import SIGNAL_RECORDED
from shared.db import engine_for, sessionmaker, utcnow


def strip_personal_data(signal: Signal, now: datetime) -> None:
    """Forget the personal part of a signal (ciphertexts, both pseudonyms, body hash).

    The statistics pseudonym goes too: signals holds its key, so it would still point back
    to an address. Indicators already has its own copy, on its own retention clock."""
    signal.address_ciphertext = None
    signal.note_ciphertext = None
    signal.arrears_ciphertext = None
    signal.household_pseudonym = None
    signal.household_stats_pseudonym = None
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


async def unlink_recorded_events(session: AsyncSession, signal_ids: list[uuid.UUID]) -> None:
    """Give the erased signals' `signal-recorded` events in the outbox a random pseudonym.

    The outbox keeps every event (it is the record a rebuild re-publishes from), and these
    carry the household's statistics pseudonym, which the statistics key could recompute from
    an address: left as they are, they would still tie the erased signals to the household. A
    random value of the same shape keeps each event valid for a rebuild, links to nothing
    (not even the household's other signals), and the `signal-erased` after it removes the
    signal downstream anyway. Published or not, the event goes out as changed from here on.
    """
    subjects = [str(i) for i in signal_ids]
    rows = await session.scalars(select(Outbox).where(
        Outbox.type == SIGNAL_RECORDED.type, Outbox.subject.in_(subjects)))
    for row in rows:
        data = orjson.loads(row.data)
        data["householdStatsPseudonym"] = secrets.token_hex(32)
        row.data = orjson.dumps(data).decode()


PURGE_ACTOR, SYSTEM_ROLE = "retention-purge", "system"
CLOSED_PAST_RETENTION, OPEN_PAST_MAX_AGE = "closed-past-retention", "open-past-max-age"


def record_erasure(session: AsyncSession, *, kind: str, organisation: str, actor: str,
                   actor_role: str, reason: str, signal_ids: list[uuid.UUID], at: datetime,
                   ) -> None:
    """Who removed which signals' personal data, when and why (ids and codes only)."""
    session.add(ErasureRecord(
        kind=kind, organisation=organisation, actor=actor, actor_role=actor_role,
        reason=reason, signal_ids=orjson.dumps([str(i) for i in signal_ids]).decode(), at=at))


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Strip every closed signal whose retention has run out, and every open one past its
    category's maximum age; returns how many."""
    now = now or utcnow()
    purged: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
    for category in load_taxonomy().categories:
        unpurged = (Signal.category == category.code,
                    Signal.personal_data_removed_at.is_(None))
        closed = select(Signal).where(
            *unpurged, Signal.closed_at.is_not(None),
            Signal.closed_at < now - timedelta(days=category.retention_days))
        stale = select(Signal).where(
            *unpurged, Signal.closed_at.is_(None),
            Signal.recorded_at < now - timedelta(days=category.max_open_days))
        for reason, query in ((CLOSED_PAST_RETENTION, closed), (OPEN_PAST_MAX_AGE, stale)):
            for signal in await session.scalars(query):
                strip_personal_data(signal, now)
                purged[signal.organisation, reason].append(signal.id)
    for (organisation, reason), ids in sorted(purged.items()):
        await forget_personal_history(session, ids)
        await unlink_recorded_events(session, ids)
        record_erasure(session, kind="purge", organisation=organisation, actor=PURGE_ACTOR,
                       actor_role=SYSTEM_ROLE, reason=reason, signal_ids=ids, at=now)
    return sum(len(ids) for ids in purged.values())


async def main() -> int:
    engine = engine_for(Settings())
    try:
        async with sessionmaker(engine)() as session, session.begin():
            return await purge_expired(session)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    print(f"personal data removed from {asyncio.run(main())} signal(s)")  # noqa: T201
