"""Consent per purpose, its withdrawal and objections, recorded with time and actor.

A withdrawal also withdraws the referrals made for that purpose (referrals/steps.py): each
gets `withdrawnAt` (its partner's access ends at once), a history entry and a
`referral-withdrawn` event, and a signal left `referred` without another open referral goes
back to `triaged`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework.schemas import ConsentRead, ObjectionRead
from services.signals.casework.service import consent_entries
from services.signals.consents import repository, views
from services.signals.consents.schemas import WithdrawalRead
from services.signals.consents.standing import (
    CONSENT,
    OBJECTION,
    WITHDRAWAL,
    Entry,
    consented,
    consents,
)
from services.signals.covenants.need_to_know import objectable
from services.signals.covenants.registry import LegalBasis, Purpose, load_covenants
from services.signals.crypto.fields import FieldCipher
from services.signals.models import ConsentRecord, Signal
from services.signals.referrals import steps as referrals
from services.signals.referrals.lifecycle import ResidentWithdrawalReason
from shared.auth import Forbidden, Principal, Role
from shared.db import utcnow
from shared.problems import BadRequest, Conflict, InvalidParam


def check_recorder(principal: Principal, signal: Signal) -> None:
    """Coordinators record for every signal of their organisation; a field worker for the
    signals they reported (the resident told them at the door)."""
    if not principal.has(Role.COORDINATOR) and signal.reported_by != principal.subject:
        raise Forbidden("a field worker records consent and objections only on the signals "
                        "they reported")


def _purpose(code: str, wanted: str, fits: list[Purpose]) -> Purpose:
    found = next((p for p in fits if p.code == code), None)
    if found is None:
        allowed = ", ".join(f"{p.code} ({p.label_nl})" for p in fits)
        raise BadRequest(f"{code!r} is not a purpose {wanted}", invalid=[InvalidParam(
            name="body.purpose", code="purpose_not_allowed",
            reason=f"one of: {allowed}")])
    return found


def _consent_purposes() -> list[Purpose]:
    return sorted((p for p in load_covenants().purposes.values()
                   if p.legal_basis is LegalBasis.CONSENT), key=lambda p: p.code)


def _record(session: AsyncSession, signal: Signal, principal: Principal, purpose: str,
            kind: str, at: datetime | None) -> ConsentRecord:
    now = utcnow()
    row = ConsentRecord(signal_id=signal.id, purpose=purpose, kind=kind, given_at=at or now,
                        recorded_by=principal.subject,
                        recorded_by_organisation=principal.organisation, recorded_at=now)
    repository.add(session, row)
    return row


def record_consent(session: AsyncSession, signal: Signal, principal: Principal, purpose: str,
                   given_at: datetime | None) -> ConsentRead:
    _purpose(purpose, "that rests on consent", _consent_purposes())
    row = _record(session, signal, principal, purpose, CONSENT, given_at)
    return views.given(row)


async def record_objection(
    session: AsyncSession, signal: Signal, principal: Principal, purpose: str,
    objected_at: datetime | None, source: str, cipher: FieldCipher,
) -> ObjectionRead:
    """Record an objection: new referrals for the purpose are refused, and the open ones are
    withdrawn (their partners' access to personal data ends at once)."""
    fits = sorted((p for p in load_covenants().purposes.values() if objectable(p)),
                  key=lambda p: p.code)
    _purpose(purpose, "a resident can object to (consent is withdrawn instead)", fits)
    row = _record(session, signal, principal, purpose, OBJECTION, objected_at)
    await _withdraw_referrals(session, signal, principal, purpose, row.recorded_at, source,
                              cipher, reason=ResidentWithdrawalReason.OBJECTION)
    return views.objection(row)


async def withdraw(session: AsyncSession, signal: Signal, principal: Principal, purpose: str,
                   withdrawn_at: datetime | None, source: str, cipher: FieldCipher,
                   ) -> WithdrawalRead:
    """Withdraw a standing consent and the referrals that rest on it."""
    known = await consent_entries(session, signal)
    if purpose not in consented(known):
        raise Conflict(f"no standing consent for purpose {purpose!r} on this signal")
    row = _record(session, signal, principal, purpose, WITHDRAWAL, withdrawn_at)
    withdrawn = await _withdraw_referrals(session, signal, principal, purpose, row.recorded_at,
                                          source, cipher,
                                          reason=ResidentWithdrawalReason.CONSENT_WITHDRAWN)
    entry = Entry(purpose, WITHDRAWAL, row.given_at, row.recorded_by, row.recorded_at)
    [consent] = [c for c in consents([*known, entry]) if c.purpose == purpose]
    return WithdrawalRead(consent=consent, withdrawn_referrals=withdrawn)


async def _withdraw_referrals(
    session: AsyncSession, signal: Signal, principal: Principal, purpose: str, now: datetime,
    source: str, cipher: FieldCipher, *, reason: ResidentWithdrawalReason,
) -> list[uuid.UUID]:
    """Withdraw the signal's referrals for `purpose` (referrals/steps.py: each a history
    entry and a `referral-withdrawn` event; a referred signal left without an open referral
    goes back to triaged)."""
    return await referrals.withdraw_for_resident(
        session, signal, purpose, reason, now, referrals.Actor(principal, source, cipher))
