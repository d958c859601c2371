"""Applying signal events to the facts: each change marks its buurt dirty for publication.

Facts are kept per signal with the month it was observed in, so a late or out-of-order event
lands in the right month, and a replay from the start of the topic gives the same facts.
An erasure leaves a tombstone (the signal id only), so a recorded or escalated event that
arrives after the erasure cannot bring the signal back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, delete, event, exists, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.indicators.cellkey import RecordKeys
from services.indicators.models import AcuteEscalation, DirtyArea, SignalFact, SignalTombstone
from services.indicators.snapshots import store as snapshot_store
from shared.contracts.signals import (
    SignalErased,
    SignalErasedV1,
    SignalEscalated,
    SignalRecorded,
)
from shared.db import UUIDString, upsert_statement, utcnow

ACUTE = "acute"
_MARKS = "indicators.marks"  # session.info: (buurt, month) marked in its transaction

_SEEN = "indicators.seen"  # session.info: signal id -> (erased, known, escalated), see below

_SIGNAL = bindparam("signal_id", type_=UUIDString())
# What the consumer must know of a signal before it records one, in a statement built once:
# three ORM look-ups per signal were a third of the consumer's CPU at national intake.
_LOOK_UP = select(exists().where(SignalTombstone.signal_id == _SIGNAL),
                  exists().where(SignalFact.signal_id == _SIGNAL),
                  exists().where(AcuteEscalation.signal_id == _SIGNAL))
_SIGNALS = bindparam("signal_ids", type_=UUIDString(), expanding=True)
_LOOK_UP_ALL = union_all(*(
    select(column, literal(what)).where(column.in_(_SIGNALS)) for what, column in enumerate(
        (SignalTombstone.signal_id, SignalFact.signal_id, AcuteEscalation.signal_id))))


async def look_up_signals(session: AsyncSession, signals: list[SignalRecorded]) -> None:
    """`record_signal`'s look-up for a batch of signals in one statement (the consumer's
    `prepare`): a statement per event was a third of what an event cost it. Remembered in
    the session until an escalation or erasure of the signal in the same batch changes it."""
    seen: dict[uuid.UUID, list[bool]] = {s.signal_id: [False, False, False] for s in signals}
    rows = await session.execute(_LOOK_UP_ALL, {"signal_ids": list(seen)})
    for signal_id, what in rows:
        seen[signal_id][what] = True
    session.info[_SEEN] = {signal_id: tuple(flags) for signal_id, flags in seen.items()}


async def record_signal(session: AsyncSession, signal: SignalRecorded) -> None:
    remembered: dict[uuid.UUID, tuple[bool, ...]] = session.info.get(_SEEN, {})
    flags = remembered.get(signal.signal_id)
    if flags is None:
        with session.no_autoflush:
            # Facts added for earlier events of a consumer's batch are flushed together at
            # its commit, not one by one before each look-up here: what the batch recorded
            # itself is in `remembered`, set below.
            flags = tuple((await session.execute(
                _LOOK_UP, {"signal_id": signal.signal_id})).one())
    erased, known, escalated = flags
    if erased or known:
        return  # known: the same signal under another event id, counted once
    remembered[signal.signal_id] = (False, True, escalated)  # a second event of it: known
    keys: RecordKeys = session.info["record_keys"]
    session.add(SignalFact(
        signal_id=signal.signal_id, area_code=signal.area_code, category=signal.category,
        severity=signal.severity, acute=bool(escalated) or signal.severity == ACUTE,
        month=signal.observed_at.strftime("%Y-%m"),
        household_stats_pseudonym=signal.household_stats_pseudonym,
        observed_at=signal.observed_at, recorded_at=signal.recorded_at,
        organisation=signal.organisation,
        record_key=keys.of(signal.household_stats_pseudonym),
    ))
    await mark_dirty(session, signal.area_code, signal.observed_at.strftime("%Y-%m"))


async def escalate_signal(session: AsyncSession, escalation: SignalEscalated) -> None:
    _forget(session, escalation.signal_id)
    if escalation.severity != ACUTE or await _erased(session, escalation.signal_id):
        return
    await _insert_ignore(session, AcuteEscalation, signal_id=str(escalation.signal_id),
                         escalated_at=escalation.escalated_at)
    fact = await session.get(SignalFact, escalation.signal_id)
    if fact is not None and not fact.acute:
        fact.acute = True
        await mark_dirty(session, fact.area_code, fact.month)


async def erase_signal(session: AsyncSession, erasure: SignalErased | SignalErasedV1) -> None:
    _forget(session, erasure.signal_id)
    await _insert_ignore(session, SignalTombstone, signal_id=str(erasure.signal_id),
                         erased_at=erasure.erased_at)
    fact = await session.get(SignalFact, erasure.signal_id)
    await session.execute(delete(AcuteEscalation).where(
        AcuteEscalation.signal_id == erasure.signal_id))
    if fact is not None:
        await session.delete(fact)
        await mark_dirty(session, fact.area_code, fact.month)


async def mark_dirty(session: AsyncSession, area_code: str, month: str) -> None:
    """For the publisher's events and the stored snapshots of every period `month` counts in.

    Written when the transaction commits (`_write_marks`), all of its marks in one statement
    per table: the consumer applies fifty events in a transaction, and two statements each
    were half of what an event cost it."""
    session.info.setdefault(_MARKS, set()).add((area_code, month))


@event.listens_for(Session, "before_commit")
def _write_marks(session: Session) -> None:
    session.info.pop(_SEEN, None)  # the transaction's own: the next one looks again
    marks = session.info.pop(_MARKS, None)
    if not marks:
        return
    now = utcnow()
    session.execute(upsert_statement(session, DirtyArea.__table__),
                    [{"code": code, "marked_at": now} for code in sorted({c for c, _ in marks})])
    snapshot_store.mark_many(session, sorted(marks), now)


@event.listens_for(Session, "after_rollback")
def _drop_marks(session: Session) -> None:
    session.info.pop(_MARKS, None)  # their changes were rolled back with them
    session.info.pop(_SEEN, None)


def _forget(session: AsyncSession, signal_id: uuid.UUID) -> None:
    # What `look_up_signals` found no longer holds: the next event of the signal looks again.
    session.info.get(_SEEN, {}).pop(signal_id, None)


async def _erased(session: AsyncSession, signal_id: uuid.UUID) -> bool:
    return await session.get(SignalTombstone, signal_id) is not None


async def _insert_ignore(session: AsyncSession, model: type[object], **values: str | datetime
                         ) -> None:
    # Values as parameters, not `.values()`: one statement, built and compiled once.
    await session.execute(upsert_statement(session, model.__table__), values)  # type: ignore[attr-defined]
