"""Bodies of data-subject requests (the address travels in the body, never in a URL)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from services.signals.accesslog.schemas import AccessLogEntryRead
from services.signals.addresses import (
    CorporationUnit,
    DutchAddress,
    HouseLetter,
    HouseNumber,
    HouseNumberAddition,
    Postcode,
    UnitRef,
    household_key,
)
from services.signals.casework.schemas import Labelled, SignalRead, StatusChangeRead
from services.signals.labels import code_label
from services.signals.schemas_common import Body


class DataSubjectQuery(Body):
    """The household: its address (postcode and houseNumber) or your unitRef."""

    postcode: Postcode | None = None
    house_number: HouseNumber | None = None
    house_letter: HouseLetter | None = None
    house_number_addition: HouseNumberAddition | None = None
    unit_ref: UnitRef | None = None

    @model_validator(mode="after")
    def _one_household(self) -> Self:
        address = self.postcode is not None and self.house_number is not None
        if address == (self.unit_ref is not None):
            raise PydanticCustomError(
                "household", "give either the address (postcode and houseNumber) or unitRef")
        return self

    def household(self, organisation: str) -> str:
        if self.postcode is not None and self.house_number is not None:
            return household_key(DutchAddress(
                postcode=self.postcode, house_number=self.house_number,
                house_letter=self.house_letter,
                house_number_addition=self.house_number_addition))
        return household_key(CorporationUnit(
            organisation=organisation, unit_ref=self.unit_ref or ""))


class SignalHistory(Body):
    signal_id: uuid.UUID
    items: list[StatusChangeRead]


class OutcomeNoteRead(Body):
    """A partner's note with a referral's outcome (free text about the household)."""

    signal_id: uuid.UUID
    referral_id: uuid.UUID
    outcome_note: str


class DataSubjectExport(Body):
    """Everything held about the household: signals (with referrals), their histories with
    the reasons given, and who read what."""

    signals: list[SignalRead]
    histories: list[SignalHistory] = Field(
        description="Each signal's status changes, with the reasons in plaintext")
    outcome_notes: list[OutcomeNoteRead] = Field(
        default=[], description="The partners' notes with their referrals' outcomes")
    disclosures: list[AccessLogEntryRead] = Field(
        description="Every logged read of these signals' personal data: who, what, when")


class DataSubjectErasure(Body):
    erased: int
    signal_ids: list[uuid.UUID]


#: How personal data went: a privacy officer's erasure, or the retention purge.
ErasureKind = Literal["erasure", "purge"]


class ErasureRecordRead(Labelled):
    """Who erased or purged which signals' personal data, when and why."""

    id: int
    kind: ErasureKind
    actor: str = Field(description="The privacy officer's subject, or `retention-purge`")
    actor_role: str
    reason: str = Field(description="`data-subject-request` (GDPR art. 17), "
                        "`closed-past-retention` or `open-past-max-age`")
    signal_ids: list[uuid.UUID]
    at: datetime

    kind_label: ClassVar[Any] = code_label("kind", "erasure-kind")
    reason_label: ClassVar[Any] = code_label("reason", "erasure-reason")


class ErasureRecordPage(Body):
    items: list[ErasureRecordRead]
    next_cursor: str | None
