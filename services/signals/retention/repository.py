"""Queries of retention and erasure: expired signals, and what a forgotten signal leaves."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.models import (
    ErasureRecord,
    IdempotencyKey,
    Outbox,
    Referral,
    Signal,
    SignalTombstone,
    StatusChange,
)
from shared.contracts.signals import SIGNAL_RECORDED


async def closed_before(session: AsyncSession, category: str, moment: datetime,
                        ) -> Sequence[Signal]:
    """Signals of the category still holding personal data, closed before `moment`."""
    return (await session.scalars(select(Signal).where(
        Signal.category == category, Signal.personal_data_removed_at.is_(None),
        Signal.closed_at.is_not(None), Signal.closed_at < moment))).all()


async def open_since_before(session: AsyncSession, category: str, moment: datetime,
                            ) -> Sequence[Signal]:
    """Signals of the category still holding personal data, open and recorded before `moment`."""
    return (await session.scalars(select(Signal).where(
        Signal.category == category, Signal.personal_data_removed_at.is_(None),
        Signal.closed_at.is_(None), Signal.recorded_at < moment))).all()


async def forget_personal_history(session: AsyncSession, signal_ids: list[uuid.UUID]) -> None:
    """Remove what the signals' history holds of a person, and the keys that replay them.

    A status change's reason is free text a coordinator typed ("mevrouw belde terug, haar
    zoon is opgenomen"): personal data like the note, so it goes with it. The transition
    itself (who moved the signal where, when, with which outcome code) stays.
    """
    await session.execute(update(StatusChange).where(
        StatusChange.signal_id.in_(signal_ids), StatusChange.reason_ciphertext.is_not(None),
    ).values(reason_ciphertext=None))
    # A partner's outcome note is free text about the household too; the outcome code stays.
    await session.execute(update(Referral).where(
        Referral.signal_id.in_(signal_ids), Referral.outcome_note_ciphertext.is_not(None),
    ).values(outcome_note_ciphertext=None))
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


def add_erasure_record(session: AsyncSession, *, kind: str, organisation: str, actor: str,
                       actor_role: str, reason: str, signal_ids: list[uuid.UUID], at: datetime,
                       ) -> None:
    """Who removed which signals' personal data, when and why (ids and codes only)."""
    session.add(ErasureRecord(
        kind=kind, organisation=organisation, actor=actor, actor_role=actor_role,
        reason=reason, signal_ids=orjson.dumps([str(i) for i in signal_ids]).decode(), at=at))


async def add_tombstones(session: AsyncSession, signals: Sequence[Signal], *, kind: str,
                         at: datetime) -> None:
    """What the change feed tells the field apps of these signals: forget them. Ids and
    scope only; a signal that has one already keeps it."""
    ids = [s.id for s in signals]
    known = set(await session.scalars(select(SignalTombstone.signal_id).where(
        SignalTombstone.signal_id.in_(ids))))
    session.add_all(SignalTombstone(signal_id=s.id, organisation=s.organisation,
                                    reported_by=s.reported_by, kind=kind, erased_at=at)
                    for s in signals if s.id not in known)
