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

    python -m services.signals.retention.purge   # the app also runs it every `purge_interval_s`
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.signals.categories.taxonomy import load_taxonomy
from services.signals.models import Signal
from services.signals.retention import repository
from services.signals.settings import Settings
from shared.db import engine_for, sessionmaker, utcnow
from shared.periodic import PeriodicTask

log = logging.getLogger(__name__)

PURGE_ACTOR, SYSTEM_ROLE = "retention-purge", "system"
CLOSED_PAST_RETENTION, OPEN_PAST_MAX_AGE = "closed-past-retention", "open-past-max-age"


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


async def forget(session: AsyncSession, signals: list[Signal], *, kind: str,
                 organisation: str, actor: str, actor_role: str, reason: str, at: datetime,
                 ) -> None:
    """After `strip_personal_data`: the signals' personal history, the events that still tie
    them to the household, the record of who did this, when and why, and the tombstones
    that tell the field apps to forget them too (the change feed)."""
    signal_ids = [s.id for s in signals]
    await repository.forget_personal_history(session, signal_ids)
    await repository.add_tombstones(session, signals, kind=kind, at=at)
    await repository.unlink_recorded_events(session, signal_ids)
    repository.add_erasure_record(session, kind=kind, organisation=organisation, actor=actor,
                                  actor_role=actor_role, reason=reason, signal_ids=signal_ids,
                                  at=at)


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Strip every closed signal whose retention has run out, and every open one past its
    category's maximum age; returns how many."""
    now = now or utcnow()
    purged: dict[tuple[str, str], list[Signal]] = defaultdict(list)
    for category in load_taxonomy().categories:
        closed = await repository.closed_before(
            session, category.code, now - timedelta(days=category.retention_days))
        stale = await repository.open_since_before(
            session, category.code, now - timedelta(days=category.max_open_days))
        for reason, signals in ((CLOSED_PAST_RETENTION, closed), (OPEN_PAST_MAX_AGE, stale)):
            for signal in signals:
                strip_personal_data(signal, now)
                purged[signal.organisation, reason].append(signal)
    for (organisation, reason), signals in sorted(purged.items()):
        await forget(session, signals, kind="purge", organisation=organisation, actor=PURGE_ACTOR,
                     actor_role=SYSTEM_ROLE, reason=reason, at=now)
    return sum(len(signals) for signals in purged.values())


class PurgeTask(PeriodicTask):
    """`purge_expired` every `purge_interval_s`, the first one interval after start: a purge
    at every start-up would only repeat the last one. A failed round is retried at the next."""

    name = "retention purge"
    # A span for every round, with or without work.
    span_name = "purge expired personal data"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval_s: float,
                 tracer: Tracer | None = None) -> None:
        super().__init__(interval_s=interval_s, max_backoff_s=interval_s, first_delay=True,
                         tracer=tracer)
        self.sessions = sessions

    async def tick(self) -> None:
        async with self.sessions() as session, session.begin():
            count = await purge_expired(session)
        if count:
            log.info("retention purge", extra={"signals": count})

    async def failed(self, exc: Exception) -> None:
        log.warning("retention purge failed", extra={"error": repr(exc)})


async def main() -> int:
    engine = engine_for(Settings())
    try:
        async with sessionmaker(engine)() as session, session.begin():
            return await purge_expired(session)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    print(f"personal data removed from {asyncio.run(main())} signal(s)")  # noqa: T201
