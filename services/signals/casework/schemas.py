"""How a signal reads: facts for its organisation, personal data only with a purpose."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, computed_field

from services.signals.casework.workflow import Outcome, SignalStatus
from services.signals.labels import LABEL, code_label, subcategory_label
from services.signals.schemas_common import Body

#: The description of every `...Label` field: the code beside it stays the contract.


def _labels_optional(schema: dict[str, Any]) -> None:
    """A label is absent where its code is (answers that leave out nulls): not required."""
    required = [name for name in schema.get("required", []) if not name.endswith("Label")]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)


class Labelled(Body):
    """A body whose codes have `...Label` fields beside them (computed, in the answer's
    language)."""

    model_config = ConfigDict(json_schema_extra=_labels_optional)

SeverityCode = Literal["low", "medium", "high", "acute"]


class AddressRead(Body):
    postcode: str
    house_number: int
    house_letter: str | None = None
    house_number_addition: str | None = None


class PersonalData(Body):
    """Decrypted personal fields; each read of them is in the access log."""

    address: AddressRead | None = None
    unit_ref: str | None = None
    note: str | None = None
    arrears_amount_cents: int | None = None
    arrears_since: date | None = None


class ReferralSummary(Labelled):
    id: uuid.UUID
    partner_organisation: str
    purpose: str
    legal_basis: str
    referred_at: datetime
    status: str = Field(default="sent", description="sent, accepted, completed, handed-back "
                        "or withdrawn")
    outcome: Outcome | None = None
    outcome_at: datetime | None = None
    withdrawn_at: datetime | None = Field(
        default=None, description="Withdrawn with the consent it rested on")

    purpose_label: ClassVar[Any] = code_label("purpose", "purpose")

    status_label: ClassVar[Any] = code_label("status", "referral-status")

    legal_basis_label: ClassVar[Any] = code_label("legal_basis", "legal-basis")

    outcome_label: ClassVar[Any] = code_label("outcome", "outcome")


class ConsentRead(Labelled):
    """The resident's consent to one purpose: given, or given and withdrawn."""

    purpose: str
    status: Literal["given", "withdrawn"]
    given_at: datetime = Field(description="When the resident consented")
    recorded_by: str
    recorded_at: datetime
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    purpose_label: ClassVar[Any] = code_label("purpose", "purpose")

    status_label: ClassVar[Any] = code_label("status", "consent-status")


class ObjectionRead(Labelled):
    """The resident objected to one purpose (GDPR art. 21; Besluit schuldhulpverlening art.
    2 d): referrals for it are refused."""

    purpose: str
    objected_at: datetime
    recorded_by: str
    recorded_at: datetime

    purpose_label: ClassVar[Any] = code_label("purpose", "purpose")


class OutcomeSummary(Labelled):
    """A referral's outcome as the field app shows it: codes and dates, no free text."""

    referral_id: uuid.UUID
    purpose: str
    outcome: Outcome
    outcome_at: datetime | None
    follow_up_date: date | None = Field(
        default=None, description="When the partner follows up, if it said so",
        json_schema_extra={"format": "date"})  # on the field itself, for the API design rules

    purpose_label: ClassVar[Any] = code_label("purpose", "purpose")

    outcome_label: ClassVar[Any] = code_label("outcome", "outcome")


class SignalSummary(Labelled):
    """A signal's non-personal facts, as its own organisation sees them."""

    id: uuid.UUID
    organisation: str
    reported_by: str
    category: str
    subcategory: str | None
    severity: SeverityCode
    area_code: str
    observed_at: datetime
    recorded_at: datetime
    status: SignalStatus
    version: int
    sla_due_at: datetime = Field(description="First action (triage) is due by then")
    overdue: bool = Field(description="Still new after its category's SLA")
    closed_at: datetime | None
    synthetic: bool
    tenant_objected: bool
    consent_recorded_at: datetime | None
    personal_contact_attempted_at: datetime | None
    debt_help_pointed_at: datetime | None
    written_reminder_at: datetime | None
    personal_data_removed: bool = Field(description="Removed by retention or erasure")
    clock_correction_seconds: int | None = Field(description=(
        "Seconds intake added to the device's moments (observedAt and the other moments "
        "the app stamped) because the device's clock was off, measured from the batch's "
        "sentAt; null when the app sent no sentAt"))
    outcomes: list[OutcomeSummary] = Field(
        default=[], description="The outcomes of its referrals, oldest first")

    category_label: ClassVar[Any] = code_label("category", "category")

    @computed_field(description=LABEL.format("subcategory"))  # type: ignore[prop-decorator]
    @property
    def subcategory_label(self) -> str | None:
        return subcategory_label(self.category, self.subcategory)

    severity_label: ClassVar[Any] = code_label("severity", "severity")

    status_label: ClassVar[Any] = code_label("status", "signal-status")


class SignalRead(SignalSummary):
    """One signal with its referrals; `personalData` only when read with a `purpose`."""

    referrals: list[ReferralSummary] = []
    consents: list[ConsentRead] = Field(
        default=[], description="Consent per purpose (one consent never covers another)")
    objections: list[ObjectionRead] = []
    personal_data: PersonalData | None = None


class SignalTombstoneRead(Body):
    """A signal whose personal data was erased or purged: the app forgets it."""

    signal_id: uuid.UUID
    kind: Literal["erasure", "purge"]
    erased_at: datetime


class SignalPage(Body):
    """A page of signals; with `changedSince`, a page of the change feed."""

    items: list[SignalSummary]
    next_cursor: str | None = Field(description=(
        "The next page's cursor; in the change feed always given: the next changedSince"))
    tombstones: list[SignalTombstoneRead] | None = Field(default=None, description=(
        "Only with changedSince: the signals to forget (erased or purged), in change order"))
    has_more: bool | None = Field(default=None, description=(
        "Only with changedSince: more changes wait, ask again with nextCursor now"))


class StatusChangeCreate(Body):
    """Move a signal to another workflow state (send the signal's ETag in `If-Match`)."""

    status: SignalStatus
    reason: str | None = Field(default=None, max_length=500)
    outcome: Outcome | None = Field(
        default=None, description="Required when closing (resolved or closed-no-action)")


class StatusChangeRead(Labelled):
    version: int
    from_status: SignalStatus | None
    to_status: SignalStatus
    reason: str | None = Field(description=(
        "Free text, personal data: only when read with a `purpose` (logged), or in the answer "
        "to the change that gave it"))
    reason_given: bool = Field(description="Whether the change has a reason (shown or not)")
    outcome: Outcome | None
    referral_id: uuid.UUID | None = Field(
        default=None, description="The referral whose step this entry records")
    referral_step: str | None = Field(
        default=None, description="sent, accepted, outcome-recorded, handed-back or withdrawn; "
        "the signal's status may stay as it was")
    referral_reason: str | None = Field(
        default=None, description="The coded reason of a hand-back or withdrawal")
    changed_by: str
    changed_by_organisation: str
    changed_at: datetime

    from_status_label: ClassVar[Any] = code_label("from_status", "signal-status")

    to_status_label: ClassVar[Any] = code_label("to_status", "signal-status")

    outcome_label: ClassVar[Any] = code_label("outcome", "outcome")

    referral_step_label: ClassVar[Any] = code_label("referral_step", "referral-step")

    referral_reason_label: ClassVar[Any] = code_label("referral_reason", "hand-back-reason",
                                                      "withdrawal-reason")


class History(Body):
    items: list[StatusChangeRead]
