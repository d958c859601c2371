"""Referrals: checked against the covenant, shared only as far as the purpose allows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.accesslog import repository as access_log
from services.signals.accesslog.refusals import log_refusal
from services.signals.casework import views as casework_views
from services.signals.casework.service import ReferralMark, record_referral_step, transition
from services.signals.casework.workflow import Severity, SignalStatus
from services.signals.consents.standing import OBJECTION, Entry, consented
from services.signals.covenants.need_to_know import (
    RefusalReason,
    partner_teams,
    personal_data_until,
    team_purposes,
)
from services.signals.covenants.registry import (
    Purpose,
    ReferralDecision,
    ReferralField,
    ReferralSubject,
    RentArrearsPreconditions,
    check_referral,
    load_covenants,
)
from services.signals.crypto.fields import FieldCipher, FieldCipherError
from services.signals.crypto.keys import Crypto
from services.signals.models import Outbox, Referral, Signal
from services.signals.referrals import repository, views
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
    PartnerReferral,
    ReferralRead,
    ReferralWithdrawalCreate,
    SharedSignal,
)
from services.signals.webhooks import events as webhook_events
from shared.auth import Forbidden, Principal, Role
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
from shared.problems import BadRequest, Conflict, InvalidParam, NotFound, Unprocessable

REFERABLE = {SignalStatus.TRIAGED, SignalStatus.REFERRED, SignalStatus.IN_PROGRESS}
PERSONAL_FIELDS = {ReferralField.ADDRESS, ReferralField.CONTACT, ReferralField.NOTE,
                   ReferralField.ARREARS_AMOUNT_CENTS, ReferralField.ARREARS_SINCE}


def subject_of(signal: Signal, consent: list[Entry]) -> ReferralSubject:
    return ReferralSubject(
        category=signal.category, severity=Severity(signal.severity),
        subcategory=signal.subcategory, has_address=signal.address_ciphertext is not None,
        has_contact=False, consented=consented(consent),
        objected=frozenset(e.purpose for e in consent if e.kind == OBJECTION),
        rent_arrears=RentArrearsPreconditions(
            personal_contact_attempted_at=signal.personal_contact_attempted_at,
            debt_help_pointed_at=signal.debt_help_pointed_at,
            written_reminder_at=signal.written_reminder_at,
            tenant_objected=signal.tenant_objected))


def not_referable(signal: Signal) -> str | None:
    """Why the signal's status allows no referral now (None: it does)."""
    if SignalStatus(signal.status) in REFERABLE:
        return None
    if signal.status == SignalStatus.NEW:
        return f"a signal that is {signal.status} cannot be referred; triage it first"
    return f"a signal that is {signal.status} cannot be referred; reopen it first"


@dataclass(frozen=True, slots=True)
class Option:
    """One partner and purpose of a covenant, and the check `refer` would make of it."""

    organisation: str
    organisation_name: str
    purpose: Purpose
    decision: ReferralDecision


def referral_options(signal: Signal, consent: list[Entry]) -> list[Option]:
    """Every partner organisation and purpose the covenants name, each checked by
    `check_referral` exactly as `refer` checks it, so a list and a referral cannot disagree.
    Covenant order: organisations, then their purposes, as in covenants.toml."""
    registry, subject = load_covenants(), subject_of(signal, consent)
    options = []
    for covenant in registry.organisations.values():
        for code in covenant.purposes:
            purpose = registry.purposes[code]  # the loader refuses an unknown one
            options.append(Option(covenant.organisation, covenant.name, purpose,
                                  check_referral(subject, covenant.organisation, code,
                                                 registry=registry)))
    return options


def refer(session: AsyncSession, signal: Signal, partner: str, purpose: str,
          principal: Principal, source: str, cipher: FieldCipher, consent: list[Entry],
          ) -> Referral:
    """Check the covenant, record the referral and its event; a triaged signal is referred."""
    why_not = not_referable(signal)
    if why_not is not None:
        raise Conflict(why_not)
    decision = check_referral(subject_of(signal, consent), partner, purpose)
    if not decision.allowed or decision.purpose is None:
        raise Unprocessable(
            "the covenant does not allow this referral: " + " ".join(decision.messages),
            refusals=[{"code": r.code.value, "message": r.message} for r in decision.reasons])
    now = utcnow()
    referral = Referral(
        id=uuid.uuid4(), signal_id=signal.id, organisation=signal.organisation,
        partner_organisation=partner, purpose=purpose,
        legal_basis=decision.purpose.legal_basis.value,
        legal_reference=decision.purpose.reference,
        exposed_fields=orjson.dumps(sorted(decision.exposed_fields)).decode(),
        referred_by=principal.subject, referred_at=now, status=ReferralStatus.SENT.value)
    repository.add(session, referral)
    mark = ReferralMark(referral.id, ReferralStep.SENT.value)
    if signal.status == SignalStatus.TRIAGED:
        transition(session, signal, SignalStatus.REFERRED, principal, source, cipher,
                   reason=f"referred to {partner} ({purpose})", referral=mark)
    else:
        record_referral_step(session, signal, principal, cipher, mark)
    _announce(session, referral, signal, ReferralStep.SENT, source, principal)
    return referral


def teams_purposes(principal: Principal) -> list[str]:
    """The referral purposes this partner user works on (their teams' partner types)."""
    registry = load_covenants()
    teams = partner_teams(principal, registry.covenant(principal.organisation))
    return team_purposes(registry, teams)


async def for_partner_team(session: AsyncSession, referral_id: uuid.UUID, principal: Principal,
                           crypto: Crypto) -> tuple[Referral, Signal]:
    """A referral to the partner's organisation (else 404) and their team (else 403, logged),
    with its signal."""
    found = await repository.for_partner(session, referral_id, principal.organisation)
    if found is None:
        raise NotFound(f"no referral {referral_id} to your organisation")
    await check_team(session, found[0], principal, crypto)
    return found


async def check_team(session: AsyncSession, referral: Referral, principal: Principal,
                     crypto: Crypto) -> None:
    """Only a user of the purpose's partner type (wijkteam, debt help, ...) handles it."""
    if referral.purpose not in teams_purposes(principal):
        await log_refusal(session, principal, key=crypto.access_log_key,
                          role=Role.PARTNER.value, purpose=referral.purpose,
                          record_type="referral", record_id=referral.id,
                          controller=referral.organisation,
                          reason=RefusalReason.OTHER_TEAM.value)
        raise Forbidden("this referral is for another team of your organisation (token claim "
                        "'team')")


def access_until(referral: Referral, signal: Signal, grace: timedelta) -> datetime | None:
    # Handed back ends access at once, like a withdrawal: the partner no longer works on it.
    return personal_data_until(withdrawn_at=referral.withdrawn_at or referral.handed_back_at,
                               outcome_at=referral.outcome_at, closed_at=signal.closed_at,
                               grace=grace)


async def partner_view(
    session: AsyncSession, referral: Referral, signal: Signal, principal: Principal,
    crypto: Crypto | None, grace: timedelta,
) -> PartnerReferral:
    """What the partner may see; with `crypto`, the personal fields too (logged) while the
    referral is open or within its grace period (a read after it is a logged refusal)."""
    fields = set(views.exposed(referral))
    values: dict[str, object] = {
        "category": signal.category, "subcategory": signal.subcategory,
        "severity": signal.severity, "areaCode": signal.area_code,
        "observedAt": signal.observed_at}
    until = access_until(referral, signal, grace)
    if crypto is not None and fields & PERSONAL_FIELDS and until is not None \
            and until <= utcnow():
        reason = (RefusalReason.REFERRAL_WITHDRAWN if referral.withdrawn_at is not None
                  else RefusalReason.REFERRAL_ENDED)
        await log_refusal(session, principal, key=crypto.access_log_key,
                          role=Role.PARTNER.value, purpose=referral.purpose,
                          record_type="signal", record_id=signal.id,
                          controller=signal.organisation, reason=reason.value)
        fields -= PERSONAL_FIELDS
        crypto = None
    if crypto is not None and fields & PERSONAL_FIELDS:
        personal = casework_views.decrypt_personal(signal, crypto.cipher).model_dump(
            by_alias=True)
        values.update({k: personal.get(k) for k in ("address", "note", "arrearsAmountCents",
                                                     "arrearsSince")})
        read = sorted(f.value for f in fields & PERSONAL_FIELDS if values.get(f.value))
        if read:
            await access_log.append(
                session, principal, key=crypto.access_log_key,
                role=Role.PARTNER.value, purpose=referral.purpose,
                record_type="signal", record_id=signal.id, fields=read,
                controller=signal.organisation)
    shared = SharedSignal.model_validate(
        {f.value: values.get(f.value) for f in fields if values.get(f.value) is not None})
    return views.partner_referral(referral, shared, until)


# --- The life cycle (lifecycle.py): each step a conditional update, a history entry and
# --- an event, in the request's one transaction.


@dataclass(frozen=True)
class Actor:
    """Who takes a step, and what every step needs to record it."""

    principal: Principal
    source: str  # the CloudEvents source
    cipher: FieldCipher


def _announce(session: AsyncSession, referral: Referral, signal: Signal, step: ReferralStep,
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
    _announce(session, referral, signal, step, actor.source, actor.principal)
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


async def for_coordinator(session: AsyncSession, signal: Signal, referral_id: uuid.UUID,
                          ) -> Referral:
    """A referral of the coordinator's own signal; any other is not found."""
    referral = await repository.of_signal(session, signal.id, referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id} of this signal")
    return referral


async def reporter_view(session: AsyncSession, referral: Referral, principal: Principal,
                        crypto: Crypto, purpose: str | None) -> ReferralRead:
    """The referral as its reporting organisation sees it; with a purpose also the outcome
    note in plaintext (a read of personal data, logged)."""
    note = None
    if purpose is not None and referral.outcome_note_ciphertext is not None:
        note = open_note(crypto.cipher, referral)
        await access_log.append(
            session, principal, key=crypto.access_log_key, role=Role.COORDINATOR.value,
            purpose=purpose, record_type="referral", record_id=referral.id,
            fields=[NOTE_FIELD], controller=referral.organisation)
    return views.referral(referral, note)
