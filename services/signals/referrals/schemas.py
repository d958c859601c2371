"""Bodies of referrals: what the coordinator sends and what a partner may see."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from services.signals.casework.schemas import AddressRead
from services.signals.casework.workflow import Outcome
from services.signals.covenants.registry import ReferralField
from services.signals.schemas_common import Body

CODE = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"


class ReferralCreate(Body):
    """Refer a signal to a partner organisation for a purpose of its covenant."""

    partner_organisation: str = Field(pattern=CODE, max_length=64)
    purpose: str = Field(pattern=CODE, max_length=64,
                         description="A covenant purpose; it fixes the legal basis and fields")


class ReferralRead(Body):
    """A referral as the referring organisation sees it."""

    id: uuid.UUID
    signal_id: uuid.UUID
    partner_organisation: str
    purpose: str
    legal_basis: str
    legal_reference: str
    exposed_fields: list[ReferralField]
    referred_by: str
    referred_at: datetime
    outcome: Outcome | None = None
    outcome_at: datetime | None = None


class SharedSignal(Body):
    """The signal's fields the referral's purpose allows; the rest is absent."""

    category: str | None = None
    subcategory: str | None = None
    severity: str | None = None
    area_code: str | None = None
    observed_at: datetime | None = None
    address: AddressRead | None = None
    contact: str | None = None
    note: str | None = None
    arrears_amount_cents: int | None = None
    arrears_since: date | None = None


class PartnerReferral(Body):
    """A referral in a partner's inbox."""

    id: uuid.UUID
    referring_organisation: str
    purpose: str
    legal_basis: str
    legal_reference: str
    referred_at: datetime
    exposed_fields: list[ReferralField]
    outcome: Outcome | None = None
    outcome_at: datetime | None = None
    withdrawn_at: datetime | None = Field(
        default=None, description="Withdrawn with the consent it rested on: access ended then")
    personal_data_until: datetime | None = Field(
        default=None, description="Personal fields are shared until then: the outcome or the "
        "signal's closure plus a grace period, or the withdrawal (absent: still open)")
    signal: SharedSignal


class PartnerReferralPage(Body):
    items: list[PartnerReferral]
    next_cursor: str | None


class OutcomeCreate(Body):
    """How the partner's contact with the household ended (visible to the reporter)."""

    outcome: Outcome
