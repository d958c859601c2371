"""What the field app sends: one signal, validated field by field so every error shows at once.

Field validators run in declaration order and see the fields validated before them
(`info.data`), so cross-field rules (subcategory of the category, rent-arrears fields only on
rent arrears) are field errors too and pydantic reports them together with the rest.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from services.signals.addresses import (
    HouseLetter,
    HouseNumber,
    HouseNumberAddition,
    Postcode,
    UnitRefText,
)
from services.signals.categories.taxonomy import load_taxonomy
from shared.problems import InvalidParam
from shared.wire import Moment, PlainText, WholeNumber

BUURT_CODE = r"^BU[0-9]{4}[0-9A-Z]{4}$"  # CBS: wijk/buurt parts may hold capitals
MAX_SKEW = timedelta(minutes=5)
#: The validation context key of a batch's clock correction (a timedelta); the body keeps
#: the device's own moments (its idempotency fingerprint), checked as corrected.
CLOCK_CORRECTION = "clock_correction"
MAX_AGE = timedelta(days=730)
RENT_ARREARS = "rent-arrears"
RENT_ARREARS_FIELDS = ("arrearsAmountCents", "arrearsSince", "personalContactAttemptedAt",
                       "debtHelpPointedAt", "writtenReminderAt")


#: The context key that skips the checks of moments against the server's clock: only to
#: recognise a retry of a stored signal whose device clock was set right since.
RECOGNISE_REPLAY = "recognise_replay"
#: The codes of those checks.
MOMENT_CODES = frozenset({"in_future", "too_old"})


def _checks_moments(info: ValidationInfo) -> bool:
    context = info.context
    return not (isinstance(context, dict) and context.get(RECOGNISE_REPLAY))


def clock_correction(info: ValidationInfo) -> timedelta:
    """What the batch's `sentAt` says the device's clock is off by (added to its moments)."""
    context = info.context
    correction = context.get(CLOCK_CORRECTION) if isinstance(context, dict) else None
    return correction if isinstance(correction, timedelta) else timedelta(0)


def _not_in_future(value: datetime | date | None, what: str, info: ValidationInfo) -> None:
    if not _checks_moments(info):
        return
    now = datetime.now(UTC)
    if isinstance(value, datetime) and value + clock_correction(info) > now + MAX_SKEW:
        raise PydanticCustomError("in_future", f"{what} lies in the future")
    if isinstance(value, date) and not isinstance(value, datetime) and value > now.date():
        raise PydanticCustomError("in_future", f"{what} lies in the future")


class SignalCreate(BaseModel):
    """A doorstep signal; `id` (a client UUID) is also its idempotency key.

    The household is given by its address (`postcode` + `houseNumber`, optional letter and
    addition) or by the corporation's `unitRef`; one of the two is required.
    """

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")

    id: uuid.UUID = Field(description="Client-generated UUID; replaying it is safe")
    category: str = Field(max_length=64, description="A code from GET /v1/categories")
    subcategory: str | None = Field(default=None, max_length=64)
    observed_at: Moment = Field(description="When the situation was seen (RFC 3339)")
    severity: Literal["low", "medium", "high", "acute"]
    area_code: str = Field(pattern=BUURT_CODE, description="CBS buurt code, e.g. BU05990101")
    postcode: Postcode | None = Field(default=None, examples=["3011 AB"])
    house_number: HouseNumber | None = None
    house_letter: HouseLetter | None = None
    house_number_addition: HouseNumberAddition | None = None
    unit_ref: UnitRefText | None = Field(
        default=None, description="The corporation's own reference of the unit")
    note: PlainText | None = Field(default=None, max_length=2000,
                                   description="Free text (encrypted)")
    tenant_objected: StrictBool = Field(default=False,
                                  description="The tenant objected to passing details on")
    consent_recorded_at: Moment | None = Field(
        default=None, description="When the resident consented to a referral (if they did)")
    arrears_amount_cents: WholeNumber | None = Field(default=None, ge=0, le=100_000_000)
    arrears_since: date | None = None
    personal_contact_attempted_at: Moment | None = None
    debt_help_pointed_at: Moment | None = None
    written_reminder_at: Moment | None = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if load_taxonomy().find(value) is None:
            raise PydanticCustomError("unknown_category", "not a category of GET /v1/categories")
        return value

    @field_validator("subcategory")
    @classmethod
    def _fits_category(cls, value: str | None, info: ValidationInfo) -> str | None:
        category = info.data.get("category")
        if value is not None and category is not None and not load_taxonomy().is_valid(
                category, value):
            raise PydanticCustomError("unknown_subcategory",
                                      "not a subcategory of the signal's category")
        return value

    @field_validator("observed_at")
    @classmethod
    def _plausible_moment(cls, value: datetime, info: ValidationInfo) -> datetime:
        now, corrected = datetime.now(UTC), value + clock_correction(info)
        if not _checks_moments(info):
            return value.astimezone(UTC)
        if corrected > now + MAX_SKEW:
            raise PydanticCustomError("in_future", "observedAt lies in the future")
        if corrected < now - MAX_AGE:
            raise PydanticCustomError("too_old", "observedAt lies more than two years back")
        return value.astimezone(UTC)

    @field_validator("consent_recorded_at")
    @classmethod
    def _consent_moment(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        _not_in_future(value, "consentRecordedAt", info)
        return value

    @field_validator("arrears_amount_cents", "arrears_since", "personal_contact_attempted_at",
                     "debt_help_pointed_at", "written_reminder_at")
    @classmethod
    def _rent_arrears_only(cls, value: Any, info: ValidationInfo) -> Any:
        category = info.data.get("category")
        if value is not None and category is not None and category != RENT_ARREARS:
            raise PydanticCustomError("rent_arrears_only",
                                      "only for signals of category rent-arrears")
        _not_in_future(value, to_camel(info.field_name or "value"), info)
        return value


def _where(prefix: str, loc: tuple[int | str, ...]) -> str:
    return ".".join([prefix, *(str(p) for p in loc)])


def _household_problems(raw: dict[str, Any], prefix: str) -> list[InvalidParam]:
    """Address or unitRef: checked on the raw body, so it holds even when fields are invalid."""

    def given(name: str) -> bool:
        return raw.get(name) not in (None, "")

    problems = []
    if not (given("postcode") or given("houseNumber") or given("unitRef")):
        problems.append(InvalidParam(
            name=f"{prefix}.unitRef", code="household_missing",
            reason="give the address (postcode and houseNumber) or the unitRef"))
    if given("postcode") and not given("houseNumber"):
        problems.append(InvalidParam(name=f"{prefix}.houseNumber", code="missing",
                                     reason="an address needs a house number"))
    if not given("postcode") and (given("houseNumber") or given("houseLetter")
                                  or given("houseNumberAddition")):
        problems.append(InvalidParam(name=f"{prefix}.postcode", code="missing",
                                     reason="an address needs a postcode"))
    return problems


def parse_signal(raw: Any, prefix: str = "body", correction: timedelta | None = None,
                 ) -> tuple[SignalCreate | None, list[InvalidParam]]:
    """Validate one raw signal; every invalid field is reported, none of their values.

    With a `correction` (a batch's clock correction) its moments are checked as corrected."""
    if not isinstance(raw, dict):
        return None, [InvalidParam(name=prefix, code="object_type",
                                   reason="a signal is a JSON object")]
    problems: list[InvalidParam] = []
    signal: SignalCreate | None = None
    try:
        signal = SignalCreate.model_validate(
            raw, context={CLOCK_CORRECTION: correction} if correction else None)
    except ValidationError as exc:
        problems = [
            InvalidParam(name=_where(prefix, e["loc"]), code=e["type"], reason=e["msg"])
            for e in exc.errors(include_url=False, include_input=False)
        ]
    seen = {(p.name, p.code) for p in problems}
    problems += [p for p in _household_problems(raw, prefix) if (p.name, p.code) not in seen]
    return (None if problems else signal), problems


def parse_possible_replay(raw: Any) -> SignalCreate | None:
    """A signal refused only for its moments, parsed without those checks: what a retry of
    a stored one looks like once its device's clock was set right (`service.replays`)."""
    try:
        return SignalCreate.model_validate(raw, context={RECOGNISE_REPLAY: True})
    except ValidationError:
        return None


SIGNAL_CREATE_SCHEMA = SignalCreate.model_json_schema(by_alias=True)


class BatchEnvelope(BaseModel):
    """A batch with the moment the device sent it, by the device's own clock: the server
    corrects the items' moments by the difference (`intake/clock.py`)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid")

    sent_at: Moment = Field(description="When the device sent the batch, by its own clock")
    signals: list[Any] = Field(description="Signals in the shape of the body of "
                               "POST /v1/signals; each item is validated on its own")


def parse_envelope(raw: dict[str, Any]) -> tuple[BatchEnvelope | None, list[InvalidParam]]:
    """The envelope of a batch sent as an object; every invalid field is reported."""
    try:
        return BatchEnvelope.model_validate(raw), []
    except ValidationError as exc:
        return None, [
            InvalidParam(name=_where("body", e["loc"]), code=e["type"], reason=e["msg"])
            for e in exc.errors(include_url=False, include_input=False)]


class BatchItemResult(BaseModel):
    """The outcome of one item of a batch, in the order sent."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    index: int
    id: uuid.UUID | None = None
    result: Literal["created", "replayed", "rejected"]
    problem: dict[str, Any] | None = Field(
        default=None, description="RFC 9457 problem of a rejected item, with invalidParams")


class BatchResult(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    created: int
    replayed: int
    rejected: int
    items: list[BatchItemResult]
