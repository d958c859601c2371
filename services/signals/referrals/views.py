"""Referral rows as API bodies (what the referring coordinator sees)."""

from __future__ import annotations

from services.signals.models import Referral
from services.signals.referrals.schemas import ReferralRead
from services.signals.referrals.service import exposed


def referral(row: Referral) -> ReferralRead:
    return ReferralRead(
        id=row.id, signal_id=row.signal_id, partner_organisation=row.partner_organisation,
        purpose=row.purpose, legal_basis=row.legal_basis, legal_reference=row.legal_reference,
        exposed_fields=exposed(row), referred_by=row.referred_by, referred_at=row.referred_at)
