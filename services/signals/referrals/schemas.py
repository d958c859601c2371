"""Bodies of referrals: what the coordinator sends and what a partner may see."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, StringConstraints, computed_field
from pydantic.config import JsonDict

from services.signals.casework.schemas import AddressRead, Labelled
from services.signals.casework.workflow import Outcome
from services.signals.covenants.registry import ReferralField
from services.signals.labels import LABEL, code_label, subcategory_label
from services.signals.referrals.lifecycle import (
    HandBackReason,
    ReferralStatus,
    WithdrawalReason,
)
from services.signals.schemas_common import Body

CODE = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
#: Follow-up dates are days in the Netherlands, where partners and residents live.
LOCAL = ZoneInfo("Europe/Amsterdam")
MAX_FOLLOW_UP = timedelta(days=366)

#: A day (`YYYY-MM-DD`); the format stated on the field itself as well as inside its
#: `anyOf`, where the NL API Design Rules' date check looks for it.
DAY: JsonDict = {"format": "date"}

#: Free text about a household (encrypted at rest): trimmed, not empty, short.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=500)]


class ReferralLabels(Labelled):
    """The labels of a referral's codes (purpose, status, outcome, end reason)."""

    purpose: str
    status: ReferralStatus = ReferralStatus.SENT
    outcome: Outcome | None = None
    end_reason: str | None = None

    purpose_label: ClassVar[Any] = code_label("purpose", "purpose")

    status_label: ClassVar[Any] = code_label("status", "referral-status")

    outcome_label: ClassVar[Any] = code_label("outcome", "outcome")

    end_reason_label: ClassVar[Any] = code_label("end_reason", "hand-back-reason",
                                                 "withdrawal-reason")


def _within_a_year(day: date) -> date:
    today = datetime.now(LOCAL).date()
    if day < today:
        raise ValueError(f"a follow-up date is today ({today}) or later")
    if day > today + MAX_FOLLOW_UP:
        raise ValueError(f"a follow-up date is at most a year ahead ({today + MAX_FOLLOW_UP})")
    return day


class ReferralCreate(Body):
    """Refer a signal to a partner organisation for a purpose of its covenant."""

    partner_organisation: str = Field(pattern=CODE, max_length=64)
    purpose: str = Field(pattern=CODE, max_length=64,
                         description="A covenant purpose; it fixes the legal basis and fields")


class ReferralRead(ReferralLabels):
    """A referral as the referring organisation sees it."""

    legal_basis_label: ClassVar[Any] = code_label("legal_basis", "legal-basis")

    id: uuid.UUID
    signal_id: uuid.UUID
    partner_organisation: str
    purpose: str
    legal_basis: str
    legal_reference: str
    exposed_fields: list[ReferralField]
    referred_by: str
    referred_at: datetime
    status: ReferralStatus = ReferralStatus.SENT
    accepted_at: datetime | None = None
    outcome: Outcome | None = None
    outcome_at: datetime | None = None
    follow_up_date: date | None = Field(default=None, json_schema_extra=DAY)
    outcome_note: str | None = Field(default=None, description=(
        "The partner's note with the outcome (personal data): only to the reporting "
        "organisation's coordinator, read with a `purpose` (logged)"))
    outcome_note_given: bool = Field(default=False,
                                     description="Whether the outcome has a note (shown or not)")
    handed_back_at: datetime | None = None
    withdrawn_at: datetime | None = None
    end_reason: str | None = Field(default=None, description=(
        "The coded reason of the hand-back or withdrawal (a withdrawal that followed the "
        "resident: consent-withdrawn, objection)"))


class SharedSignal(Labelled):
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

    category_label: ClassVar[Any] = code_label("category", "category")

    @computed_field(description=LABEL.format("subcategory"))  # type: ignore[prop-decorator]
    @property
    def subcategory_label(self) -> str | None:
        return subcategory_label(self.category, self.subcategory)

    severity_label: ClassVar[Any] = code_label("severity", "severity")


class PartnerReferral(ReferralLabels):
    """A referral in a partner's inbox."""

    id: uuid.UUID
    referring_organisation: str
    purpose: str
    legal_basis: str
    legal_reference: str
    referred_at: datetime
    exposed_fields: list[ReferralField]
    status: ReferralStatus = ReferralStatus.SENT
    accepted_at: datetime | None = None
    outcome: Outcome | None = None
    outcome_at: datetime | None = None
    follow_up_date: date | None = Field(default=None, json_schema_extra=DAY)
    outcome_note: str | None = Field(default=None, description=(
        "Only in the answer to the outcome that gave it: afterwards only the reporting "
        "organisation reads it"))
    outcome_note_given: bool | None = None
    handed_back_at: datetime | None = None
    end_reason: str | None = None
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
    note: ShortText | None = Field(default=None, description=(
        "A short note for the reporting corporation (personal data: stored encrypted, read "
        "only by its coordinators, never sent on to other partners)"))
    follow_up_date: Annotated[date | None, AfterValidator(
        lambda d: None if d is None else _within_a_year(d))] = Field(
        default=None, json_schema_extra=DAY, description="When the reporter may look again: "
        "today or later, at most a year ahead (Dutch date)")


class HandBackCreate(Body):
    """Give a referral back to the reporting corporation, with a reason."""

    reason_code: HandBackReason
    reason: ShortText | None = Field(default=None, description=(
        "A short explanation (personal data: stored encrypted in the signal's history); "
        "required with reason code `other`"))


class ReferralWithdrawalCreate(Body):
    """Take a referral back from the partner, with a reason."""

    reason_code: WithdrawalReason
    reason: ShortText | None = Field(default=None, description=(
        "A short explanation (personal data: stored encrypted in the signal's history); "
        "required with reason code `other`"))


class ReferralRefusal(Labelled):
    """Why the covenants refuse one referral: the code POST .../referrals would give."""

    code: str = Field(description="As in the 422 of POST /v1/signals/{signalId}/referrals")
    message: str = Field(description="In the language of the answer (Content-Language)")

    code_label: ClassVar[Any] = code_label("code", "refusal")


class ReferralOption(Labelled):
    """One partner organisation and purpose a covenant names, checked for this signal."""

    partner_organisation: str = Field(
        description="Send as partnerOrganisation to POST /v1/signals/{signalId}/referrals")
    partner_organisation_name: str
    partner_type: str
    purpose: str = Field(description="Send as purpose to POST /v1/signals/{signalId}/referrals")
    legal_basis: str = Field(description="GDPR art. 6(1) ground the referral would rest on")
    legal_reference: str
    allowed: bool = Field(description=(
        "Whether the covenants allow this referral of this signal now (its status aside: see "
        "`referable`)"))
    exposed_fields: list[ReferralField] = Field(description=(
        "What the partner would see; empty when refused"))
    refusals: list[ReferralRefusal] = Field(description="Why not; empty when allowed")

    legal_basis_label: ClassVar[Any] = code_label("legal_basis", "legal-basis")

    partner_type_label: ClassVar[Any] = code_label("partner_type", "partner-type")

    purpose_label: ClassVar[Any] = code_label("purpose", "purpose")


class ReferralOptions(Body):
    """Where this signal may go: every partner and purpose of the covenants, allowed or not
    and why, by the very check a referral gets. No personal data."""

    signal_id: uuid.UUID
    referable: bool = Field(description="Whether the signal's status allows a referral now")
    not_referable_reason: str | None = Field(description=(
        "Why not (the 409 a referral would get), in the language of the answer"))
    options: list[ReferralOption] = Field(description=(
        "In covenant order: allowed and refused alike"))
