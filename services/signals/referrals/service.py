"""Referrals: checked against the covenant, shared only as far as the purpose allows (the
steps after sending: `steps.py`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

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
from services.signals.crypto.fields import FieldCipher
from services.signals.crypto.keys import Crypto
from services.signals.models import Referral, Signal
from services.signals.referrals import repository, views
from services.signals.referrals.lifecycle import (
    ReferralStatus,
    ReferralStep,
)
from services.signals.referrals.schemas import (
    PartnerReferral,
    ReferralRead,
    SharedSignal,
)
from services.signals.referrals.steps import NOTE_FIELD, announce, open_note
from shared.auth import Forbidden, Principal, Role
from shared.db import utcnow
from shared.problems import Conflict, NotFound, Unprocessable

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
    announce(session, referral, signal, ReferralStep.SENT, source, principal)
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
