"""Case work: reading signals (personal data only for a stated purpose, always logged) and
moving them through the workflow with optimistic concurrency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog import repository as access_log
from services.signals.accesslog.refusals import log_refusal
from services.signals.casework import repository, views
from services.signals.casework.schemas import History, SignalRead
from services.signals.casework.workflow import (
    InvalidOutcome,
    InvalidTransition,
    Outcome,
    SignalStatus,
    TransitionNotPermitted,
    WorkflowRole,
    check_outcome,
    check_transition_by,
)
from services.signals.consents import repository as consent_records
from services.signals.consents.standing import Entry as ConsentEntry
from services.signals.covenants.need_to_know import disallowed_purpose, staff_refusal, staff_role
from services.signals.covenants.registry import load_covenants
from services.signals.crypto.fields import FieldCipher
from services.signals.crypto.keys import Crypto
from services.signals.models import Outbox, Signal, StatusChange
from services.signals.webhooks import events as webhook_events
from shared.auth import Forbidden, Principal, Role
from shared.contracts.signals import SIGNAL_STATUS_CHANGED, SignalStatusChanged
from shared.db import utcnow
from shared.outbox import record_event
from shared.problems import (
    BadRequest,
    Conflict,
    InvalidParam,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)


async def own_signal(session: AsyncSession, signal_id: uuid.UUID, organisation: str,
                     *, lock: bool = False) -> Signal:
    """The signal, if it is the organisation's; another organisation's is not found either.
    `lock` it to change it: a partner's referral step may be changing it meanwhile."""
    signal = await repository.signal_of(session, signal_id, organisation, lock=lock)
    if signal is None:
        raise NotFound(f"no signal {signal_id} in your organisation")
    return signal


def acting_role(principal: Principal) -> WorkflowRole:
    if principal.has(Role.COORDINATOR):
        return WorkflowRole.COORDINATOR
    return WorkflowRole.FIELD_WORKER


async def authorise_personal_read(session: AsyncSession, signal: Signal, principal: Principal,
                                  purpose: str, crypto: Crypto) -> None:
    """The purpose is on the role's closed list (else 400), and the caller needs to know:
    a field worker reads only the signals they reported (else 403, the refusal logged)."""
    role = staff_role(principal)
    registry = load_covenants()
    allowed = disallowed_purpose(registry, role, purpose)
    if allowed is not None:
        # Logged as a refusal too (probing with purposes is an attempt), but never with the
        # text given: a free-text purpose may itself hold personal data.
        await log_refusal(session, principal, key=crypto.access_log_key,
                          role=acting_role(principal).value, purpose=None,
                          record_type="signal", record_id=signal.id,
                          controller=signal.organisation, reason="purpose-not-allowed")
        listed = ", ".join(f"{code} ({registry.read_purposes[code].label_nl})"
                           for code in allowed)
        raise BadRequest(f"{purpose!r} is not a purpose for which a {role} reads personal data",
                         invalid=[InvalidParam(name="query.purpose", code="purpose_not_allowed",
                                               reason=f"one of: {listed}")])
    refusal = staff_refusal(principal, signal.reported_by)
    if refusal is not None:
        await log_refusal(session, principal, key=crypto.access_log_key,
                          role=acting_role(principal).value, purpose=purpose,
                          record_type="signal", record_id=signal.id,
                          controller=signal.organisation, reason=refusal.value)
        raise Forbidden("a field worker reads personal data only of the signals they reported")


async def consent_entries(session: AsyncSession, signal: Signal) -> list[ConsentEntry]:
    """The signal's consents and objections: the intake's, then the records in order."""
    rows = await consent_records.records_of(session, signal.id)
    return [
        *views.intake_consent(signal),
        *(ConsentEntry(r.purpose, r.kind, r.given_at, r.recorded_by, r.recorded_at)
          for r in rows)]


async def read_signal(
    session: AsyncSession, signal: Signal, principal: Principal, crypto: Crypto,
    purpose: str | None,
) -> SignalRead:
    """The signal with referrals and consents; with a purpose also its personal data,
    logged."""
    if purpose is not None:
        await authorise_personal_read(session, signal, principal, purpose, crypto)
    referrals = await repository.referrals_of(session, signal.id)
    entries = await consent_entries(session, signal)
    if purpose is None:
        return views.full(signal, referrals, consent=entries)
    personal = views.decrypt_personal(signal, crypto.cipher)
    fields = views.present_personal_fields(personal)
    if fields:
        await access_log.append(
            session, principal, key=crypto.access_log_key,
            role=acting_role(principal).value, purpose=purpose,
            record_type="signal", record_id=signal.id, fields=fields,
            controller=signal.organisation)
    return views.full(signal, referrals, personal, consent=entries)


async def read_history(
    session: AsyncSession, signal: Signal, principal: Principal, crypto: Crypto,
    purpose: str | None,
) -> History:
    """The signal's history; with a purpose also the reasons in plaintext, logged."""
    if purpose is not None:
        await authorise_personal_read(session, signal, principal, purpose, crypto)
    rows = await repository.history(session, signal.id)
    cipher = crypto.cipher if purpose is not None else None
    items = [views.status_change(row, cipher) for row in rows]
    if purpose is not None and any(item.reason_given for item in items):
        await access_log.append(
            session, principal, key=crypto.access_log_key,
            role=acting_role(principal).value, purpose=purpose,
            record_type="signal", record_id=signal.id, fields=[views.REASON_LOGGED_AS],
            controller=signal.organisation)
    return History(items=items)


def check_if_match(signal: Signal, if_match: str | None) -> None:
    if if_match is None:
        raise PreconditionRequired("send the signal's ETag in If-Match to change it")
    tags = {t.strip().removeprefix("W/").strip('"') for t in if_match.split(",")}
    if "*" not in tags and str(signal.version) not in tags:
        raise PreconditionFailed(
            f"the signal changed since you read it (now version {signal.version}); "
            "read it again")


@dataclass(frozen=True)
class ReferralMark:
    """The referral step a history entry records (referrals/lifecycle.py)."""

    referral_id: uuid.UUID
    step: str
    reason: str | None = None  # a reason code, never free text


def transition(
    session: AsyncSession, signal: Signal, target: SignalStatus, principal: Principal,
    source: str, cipher: FieldCipher, *, reason: str | None = None,
    outcome: Outcome | None = None, referral: ReferralMark | None = None,
) -> None:
    """Apply an allowed change: new version, history entry and event, one transaction.
    A reason is stored encrypted, like the note."""
    current = SignalStatus(signal.status)
    now = _history_entry(session, signal, target, principal, cipher, reason=reason,
                         outcome=outcome, referral=referral)
    signal.closed_at = now if target.is_closed else None
    record_event(
        session, Outbox, SIGNAL_STATUS_CHANGED,
        SignalStatusChanged(signal_id=signal.id, area_code=signal.area_code,
                            category=signal.category, from_status=current.value,
                            to_status=target.value, changed_at=now, version=signal.version),
        key=signal.area_code, source=source, subject=str(signal.id))
    webhook_events.signal_status_changed(session, signal.id, signal.organisation, now)


def record_referral_step(
    session: AsyncSession, signal: Signal, principal: Principal, cipher: FieldCipher,
    referral: ReferralMark, *, reason: str | None = None,
) -> None:
    """A history entry for a referral step that leaves the signal's status as it is: a new
    version (the signal reads differently now), no `signal-status-changed` event."""
    _history_entry(session, signal, SignalStatus(signal.status), principal, cipher,
                   reason=reason, outcome=None, referral=referral)


def _history_entry(
    session: AsyncSession, signal: Signal, target: SignalStatus, principal: Principal,
    cipher: FieldCipher, *, reason: str | None, outcome: Outcome | None,
    referral: ReferralMark | None,
) -> datetime:
    current = SignalStatus(signal.status)
    now = utcnow()
    signal.status = target.value
    signal.version += 1
    repository.add_status_change(session, StatusChange(
        signal_id=signal.id, version=signal.version, from_status=current.value,
        to_status=target.value,
        reason_ciphertext=views.seal_reason(cipher, signal.id, signal.version, reason),
        outcome=outcome.value if outcome else None,
        referral_id=referral.referral_id if referral else None,
        referral_step=referral.step if referral else None,
        referral_reason=referral.reason if referral else None,
        changed_by=principal.subject, changed_by_organisation=principal.organisation,
        changed_at=now))
    return now


def change_status(
    session: AsyncSession, signal: Signal, principal: Principal, target: SignalStatus,
    source: str, cipher: FieldCipher, *, if_match: str | None, reason: str | None,
    outcome: Outcome | None,
) -> None:
    """A person's status change: If-Match, then the workflow rules, then the change."""
    check_if_match(signal, if_match)
    current = SignalStatus(signal.status)
    role = acting_role(principal)
    try:
        check_transition_by(role, current, target,
                            is_own=signal.reported_by == principal.subject)
        check_outcome(target, outcome)
    except InvalidTransition as exc:
        raise Conflict(str(exc)) from None
    except TransitionNotPermitted as exc:
        raise Forbidden(str(exc)) from None
    except InvalidOutcome as exc:
        raise BadRequest(str(exc), invalid=[InvalidParam(
            name="body.outcome", code=exc.code, reason=str(exc))]) from None
    transition(session, signal, target, principal, source, cipher, reason=reason,
               outcome=outcome)
