"""Referral rows as API bodies: what the referring coordinator sees, and what the partner
sees (the signal's fields already cut down to what the purpose allows)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from services.signals.casework.workflow import Outcome
from services.signals.covenants.registry import ReferralField
from services.signals.models import Referral, Signal
from services.signals.referrals.lifecycle import ReferralStatus
from services.signals.referrals.schemas import (
    PartnerReferral,
    ReferralOption,
    ReferralOptions,
    ReferralRead,
    ReferralRefusal,
    SharedSignal,
)
from shared import i18n

if TYPE_CHECKING:  # service.py imports this module
    from services.signals.referrals import service


def exposed(row: Referral) -> list[ReferralField]:
    """The fields the covenant let this referral carry (fixed when it was made)."""
    return [ReferralField(f) for f in orjson.loads(row.exposed_fields)]


def referral(row: Referral, outcome_note: str | None = None) -> ReferralRead:
    """The reporting organisation's view; the note only when the caller read it (logged)."""
    return ReferralRead(
        id=row.id, signal_id=row.signal_id, partner_organisation=row.partner_organisation,
        purpose=row.purpose, legal_basis=row.legal_basis, legal_reference=row.legal_reference,
        exposed_fields=exposed(row), referred_by=row.referred_by, referred_at=row.referred_at,
        status=ReferralStatus(row.status), accepted_at=row.accepted_at,
        outcome=Outcome(row.outcome) if row.outcome else None, outcome_at=row.outcome_at,
        follow_up_date=row.follow_up_date, outcome_note=outcome_note,
        outcome_note_given=row.outcome_note_ciphertext is not None,
        handed_back_at=row.handed_back_at, withdrawn_at=row.withdrawn_at,
        end_reason=row.end_reason)


def partner_referral(row: Referral, signal: SharedSignal, personal_data_until: datetime | None,
                     ) -> PartnerReferral:
    return PartnerReferral(
        id=row.id, referring_organisation=row.organisation, purpose=row.purpose,
        legal_basis=row.legal_basis, legal_reference=row.legal_reference,
        referred_at=row.referred_at, exposed_fields=sorted(exposed(row)),
        status=ReferralStatus(row.status), accepted_at=row.accepted_at,
        outcome=Outcome(row.outcome) if row.outcome else None,
        outcome_at=row.outcome_at, follow_up_date=row.follow_up_date,
        outcome_note_given=True if row.outcome_note_ciphertext is not None else None,
        handed_back_at=row.handed_back_at, end_reason=row.end_reason,
        withdrawn_at=row.withdrawn_at,
        personal_data_until=personal_data_until, signal=signal)


def referral_options(signal: Signal, options: list[service.Option],
                     not_referable: str | None) -> ReferralOptions:
    """The options as the API shows them; messages in the answer's language (a 200 body is
    not translated on the way out, unlike a problem)."""
    return ReferralOptions(
        signal_id=signal.id, referable=not_referable is None,
        not_referable_reason=i18n.translate(not_referable) if not_referable else None,
        options=[ReferralOption(
            partner_organisation=o.organisation, partner_organisation_name=o.organisation_name,
            partner_type=o.purpose.partner_type, purpose=o.purpose.code,
            legal_basis=o.purpose.legal_basis.value, legal_reference=o.purpose.reference,
            allowed=o.decision.allowed, exposed_fields=sorted(o.decision.exposed_fields),
            refusals=[ReferralRefusal(code=r.code.value, message=i18n.translate(r.message))
                      for r in o.decision.reasons])
            for o in options])
