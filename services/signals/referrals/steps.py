"""A referral's steps after it is sent (lifecycle.py): accepted, outcome recorded, handed
back, withdrawn. Each is a conditional update of its status, a history entry on the signal and
an event (`announce`), in the request's one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework import views as casework_views
from services.signals.casework.service import ReferralMark, record_referral_step, transition
from services.signals.casework.workflow import SignalStatus
from services.signals.crypto.fields import FieldCipher, FieldCipherError
from services.signals.models import Outbox, Referral, Signal
from services.signals.referrals import repository
from services.signals.referrals.lifecycle import (
    EXPLAIN,
    OPEN_STATUSES,
    STEPS,
    IllegalStep,
    ReferralStatus,
    ReferralStep,
    ResidentWithdrawalReason,
    target_of,
)
from services.signals.referrals.schemas import (
    HandBackCreate,
    OutcomeCreate,
    ReferralWithdrawalCreate,
)
from services.signals.webhooks import events as webhook_events
from shared.auth import Principal
from shared.contracts.signals import (
    REFERRAL_ACCEPTED,
    REFERRAL_HANDED_BACK,
    REFERRAL_OUTCOME_RECORDED,
    REFERRAL_WITHDRAWN,
    SIGNAL_REFERRED,
    ReferralWithdrawn,
    SignalReferred,
)
from shared.db import utcnow
from shared.events import EventType
from shared.outbox import record_event
from shared.problems import BadRequest, Conflict, InvalidParam


@dataclass(frozen=True)
class Actor:
    """Who takes a step, and what every step needs to record it."""

    principal: Principal
    source: str  # the CloudEvents source
    cipher: FieldCipher


def announce(session: AsyncSession, referral: Referral, signal: Signal, step: ReferralStep,
              source: str, by: Principal) -> None:
    """The one place a referral step leaves the service: its event on `signals.v1`, ids only
    (no reason, outcome, note or date), in the step's transaction, and the webhook
    notifications of both parties to the referral (webhooks/events.py)."""
    # Partner push: each party's subscribed systems hear of the step (ids only), after commit.
    webhook_events.referral_step(session, referral, step.value)
    common: dict[str, Any] = {"signal_id": signal.id, "referral_id": referral.id,
                              "area_code": signal.area_code}
    if step is ReferralStep.SENT:
        record_event(session, Outbox, SIGNAL_REFERRED, SignalReferred(
            **common, category=signal.category, partner_organisation=referral.partner_organisation,
            purpose=referral.purpose, referred_at=referral.referred_at),
            key=signal.area_code, source=source, subject=str(signal.id))
        return
    if step is ReferralStep.WITHDRAWN:
        assert referral.withdrawn_at is not None
        record_event(session, Outbox, REFERRAL_WITHDRAWN, ReferralWithdrawn(
            **common, category=signal.category, partner_organisation=referral.partner_organisation,
            purpose=referral.purpose, withdrawn_at=referral.withdrawn_at),
            key=signal.area_code, source=source, subject=str(signal.id))
        return
    steps: dict[ReferralStep, tuple[EventType[Any], datetime | None]] = {
        ReferralStep.ACCEPTED: (REFERRAL_ACCEPTED, referral.accepted_at),
        ReferralStep.HANDED_BACK: (REFERRAL_HANDED_BACK, referral.handed_back_at),
        ReferralStep.OUTCOME_RECORDED: (REFERRAL_OUTCOME_RECORDED, referral.outcome_at),
    }
    event_type, at = steps[step]
    record_event(session, Outbox, event_type, event_type.data_model(
        **common, organisation=referral.organisation,
        partner_organisation=referral.partner_organisation, at=at),
        key=signal.area_code, source=source, subject=str(signal.id))


async def _take(
    session: AsyncSession, referral: Referral, signal: Signal, step: ReferralStep, actor: Actor,
    values: dict[str, Any], *, replayed: Callable[[Referral], bool],
    reason_code: str | None = None, reason: str | None = None,
    sources: frozenset[ReferralStatus] | None = None,
) -> bool:
    """Take `step` unless it was already taken just so (a replay: False). The status moves
    by a conditional update, so a racing step that got there first turns this one into a
    409 naming the status it left, or into a replay when it was the same step. `sources`
    overrides the life cycle for a step that leaves the status as it is (the resident's
    withdrawal of a completed referral)."""
    if replayed(referral):
        return False
    allowed, target = STEPS[step]
    allowed = sources if sources is not None else allowed
    current = ReferralStatus(referral.status)
    if sources is None:
        _legal(current, step)
    else:
        target = current  # a step on a closed referral (consent withdrawn after its outcome)
    if not await repository.move(session, referral, {s.value for s in allowed},
                                 {"status": target.value, **values}):
        if replayed(referral):
            return False
        _legal(ReferralStatus(referral.status), step)
        raise Conflict(f"the referral changed meanwhile; it is {referral.status} now",
                       referralStatus=referral.status)
    signal = await repository.lock_signal(session, signal.id)
    mark = ReferralMark(referral.id, step.value, reason_code)
    moved_to = await _signal_follows(session, signal, step)
    if moved_to is None:
        record_referral_step(session, signal, actor.principal, actor.cipher, mark,
                             reason=reason)
    else:
        transition(session, signal, moved_to, actor.principal, actor.source, actor.cipher,
                   reason=reason, referral=mark)
    announce(session, referral, signal, step, actor.source, actor.principal)
    return True


def _legal(current: ReferralStatus, step: ReferralStep) -> None:
    try:
        target_of(current, step)
    except IllegalStep as exc:
        raise Conflict(str(exc), referralStatus=current.value) from None


async def _signal_follows(session: AsyncSession, signal: Signal, step: ReferralStep,
                          ) -> SignalStatus | None:
    """Where a referred signal goes with the step: in progress once a partner accepts, back
    to triaged when its last open referral ends without an outcome. A signal in progress
    stays there (the workflow has no way back; the coordinator refers again or closes)."""
    if signal.status != SignalStatus.REFERRED:
        return None
    if step is ReferralStep.ACCEPTED:
        return SignalStatus.IN_PROGRESS
    if step in (ReferralStep.HANDED_BACK, ReferralStep.WITHDRAWN) and await repository.open_count(
            session, signal.id, {s.value for s in OPEN_STATUSES}) == 0:
        return SignalStatus.TRIAGED
    return None


def _explained(code: str, reason: str | None) -> None:
    if code == EXPLAIN and reason is None:
        raise BadRequest("reason code 'other' needs an explanation", invalid=[InvalidParam(
            name="body.reason", code="missing", reason="required with reasonCode 'other'")])


def _seal_note(cipher: FieldCipher, referral: Referral, note: str | None) -> str | None:
    return None if note is None else cipher.encrypt(note, record_id=str(referral.id),
                                                    field=NOTE_FIELD)


def open_note(cipher: FieldCipher, referral: Referral) -> str | None:
    """The outcome note in plaintext (the caller logs the read)."""
    if referral.outcome_note_ciphertext is None:
        return None
    try:
        return cipher.decrypt(referral.outcome_note_ciphertext, record_id=str(referral.id),
                              field=NOTE_FIELD)
    except FieldCipherError as exc:
        raise casework_views.UnreadablePersonalData(
            f"the outcome note of referral {referral.id} cannot be decrypted: {exc}") from None


#: The associated-data field of an outcome note, and its name in the access log.
NOTE_FIELD = "outcomeNote"


async def accept(session: AsyncSession, referral: Referral, signal: Signal, actor: Actor,
                 ) -> bool:
    """The partner takes the referral on (in behandeling)."""
    return await _take(session, referral, signal, ReferralStep.ACCEPTED, actor,
                       {"accepted_at": utcnow(), "accepted_by": actor.principal.subject},
                       replayed=lambda r: r.status == ReferralStatus.ACCEPTED)


async def record_outcome(session: AsyncSession, referral: Referral, signal: Signal,
                         body: OutcomeCreate, actor: Actor) -> bool:
    """Set the outcome once, with its note and follow-up date; the same again is a replay
    (False), anything else a conflict naming the referral's status."""

    def replayed(r: Referral) -> bool:
        return (r.status == ReferralStatus.COMPLETED and r.outcome == body.outcome.value
                and r.follow_up_date == body.follow_up_date
                and open_note(actor.cipher, r) == body.note)

    return await _take(session, referral, signal, ReferralStep.OUTCOME_RECORDED, actor, {
        "outcome": body.outcome.value, "outcome_at": utcnow(),
        "outcome_by": actor.principal.subject,
        "outcome_note_ciphertext": _seal_note(actor.cipher, referral, body.note),
        "follow_up_date": body.follow_up_date}, replayed=replayed)


async def hand_back(session: AsyncSession, referral: Referral, signal: Signal,
                    body: HandBackCreate, actor: Actor) -> bool:
    """The partner gives the referral back with a reason; its access ends at once."""
    _explained(body.reason_code, body.reason)
    return await _take(
        session, referral, signal, ReferralStep.HANDED_BACK, actor,
        {"handed_back_at": utcnow(), "handed_back_by": actor.principal.subject,
         "end_reason": body.reason_code.value},
        replayed=lambda r: (r.status == ReferralStatus.HANDED_BACK
                            and r.end_reason == body.reason_code.value),
        reason_code=body.reason_code.value, reason=body.reason)


async def withdraw(session: AsyncSession, referral: Referral, signal: Signal,
                   body: ReferralWithdrawalCreate, actor: Actor) -> bool:
    """The reporting coordinator takes the referral back; the partner's access ends at
    once."""
    _explained(body.reason_code, body.reason)
    return await _take(
        session, referral, signal, ReferralStep.WITHDRAWN, actor,
        {"withdrawn_at": utcnow(), "withdrawn_by": actor.principal.subject,
         "end_reason": body.reason_code.value},
        replayed=lambda r: (r.status == ReferralStatus.WITHDRAWN
                            and r.end_reason == body.reason_code.value),
        reason_code=body.reason_code.value, reason=body.reason)


async def withdraw_for_resident(
    session: AsyncSession, signal: Signal, purpose: str, reason: ResidentWithdrawalReason,
    at: datetime, actor: Actor,
) -> list[uuid.UUID]:
    """The resident withdrew consent to `purpose` or objected to it: every referral for it
    whose partner may still hold personal data is withdrawn. An open one becomes
    `withdrawn`; one with an outcome stays `completed`, but its grace period ends now."""
    withdrawn: list[uuid.UUID] = []
    for referral in await repository.not_withdrawn(session, signal.id, purpose):
        current = ReferralStatus(referral.status)
        taken = await _take(
            session, referral, signal, ReferralStep.WITHDRAWN, actor,
            {"withdrawn_at": at, "withdrawn_by": actor.principal.subject,
             "end_reason": reason.value}, replayed=lambda r: r.withdrawn_at is not None,
            reason_code=reason.value,
            sources=None if current.is_open else frozenset({current}))
        if taken:
            withdrawn.append(referral.id)
    return withdrawn
