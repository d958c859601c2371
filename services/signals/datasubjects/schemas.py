"""Bodies of data-subject requests (the address travels in the body, never in a URL)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from services.signals import privacy
from services.signals.accesslog.schemas import AccessLogEntryRead
from services.signals.casework.schemas import SignalRead, StatusChangeRead
from services.signals.schemas_common import Body


class DataSubjectQuery(Body):
    """The household: its address (postcode and houseNumber) or your unitRef."""

    postcode: str | None = Field(default=None, max_length=7)
    house_number: int | None = Field(default=None, ge=1, le=privacy.MAX_HOUSE_NUMBER)
    house_letter: str | None = Field(default=None, max_length=1)
    house_number_addition: str | None = Field(default=None, max_length=4)
    unit_ref: str | None = Field(default=None, max_length=privacy.MAX_UNIT_REF)

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str | None) -> str | None:
        try:
            return None if value is None else privacy.normalise_postcode(value)
        except privacy.InvalidAddress as exc:
            raise PydanticCustomError("invalid_address", str(exc)) from None

    @field_validator("house_letter")
    @classmethod
    def _letter(cls, value: str | None) -> str | None:
        try:
            return privacy.normalise_house_letter(value)
        except privacy.InvalidAddress as exc:
            raise PydanticCustomError("invalid_address", str(exc)) from None

    @field_validator("house_number_addition")
    @classmethod
    def _addition(cls, value: str | None) -> str | None:
        try:
            return privacy.normalise_house_number_addition(value)
        except privacy.InvalidAddress as exc:
            raise PydanticCustomError("invalid_address", str(exc)) from None

    @field_validator("unit_ref")
    @classmethod
    def _unit_ref(cls, value: str | None) -> str | None:
        try:
            return None if value is None else privacy.normalise_unit_ref(value)
        except privacy.InvalidAddress as exc:
            raise PydanticCustomError("invalid_address", str(exc)) from None

    @model_validator(mode="after")
    def _one_household(self) -> Self:
        address = self.postcode is not None and self.house_number is not None
        if address == (self.unit_ref is not None):
            raise PydanticCustomError(
                "household", "give either the address (postcode and houseNumber) or unitRef")
        return self

    def household(self, organisation: str) -> str:
        if self.postcode is not None and self.house_number is not None:
            return privacy.household_key(privacy.DutchAddress(
                postcode=self.postcode, house_number=self.house_number,
                house_letter=self.house_letter,
                house_number_addition=self.house_number_addition))
        return privacy.household_key(privacy.CorporationUnit(
            organisation=organisation, unit_ref=self.unit_ref or ""))


class SignalHistory(Body):
    signal_id: uuid.UUID
    items: list[StatusChangeRead]


class DataSubjectExport(Body):
    """Everything held about the household: signals (with referrals), their histories with
    the reasons given, and who read what."""

    signals: list[SignalRead]
    histories: list[SignalHistory] = Field(
        description="Each signal's status changes, with the reasons in plaintext")
    disclosures: list[AccessLogEntryRead] = Field(
        description="Every logged read of these signals' personal data: who, what, when")


class DataSubjectErasure(Body):
    erased: int
    signal_ids: list[uuid.UUID]


class ErasureRecordRead(Body):
    """Who erased or purged which signals' personal data, when and why."""

    id: int
    kind: Literal["erasure", "purge"]
    actor: str = Field(description="The privacy officer's subject, or `retention-purge`")
    actor_role: str
    reason: str = Field(description="`data-subject-request` (GDPR art. 17), "
                        "`closed-past-retention` or `open-past-max-age`")
    signal_ids: list[uuid.UUID]
    at: datetime


class ErasureRecordPage(Body):
    items: list[ErasureRecordRead]
    next_cursor: str | None
