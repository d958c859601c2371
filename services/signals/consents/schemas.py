"""Bodies of consents, their withdrawal and objections (process facts, no personal data)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from services.signals.casework.schemas import ConsentRead
from services.signals.schemas_common import Body
from shared.wire import Moment

CODE = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
MAX_SKEW = timedelta(minutes=5)


def _not_in_future(value: datetime | None) -> datetime | None:
    if value is not None and value > datetime.now(UTC) + MAX_SKEW:
        raise PydanticCustomError("in_future", "this moment lies in the future")
    return value


class ConsentCreate(Body):
    """The resident consented to one covenant purpose that rests on consent."""

    purpose: str = Field(pattern=CODE, max_length=64,
                         description="A consent-based covenant purpose, e.g. wijkteam-support")
    given_at: Moment | None = Field(
        default=None, description="When the resident consented (default: now)")

    _past = field_validator("given_at")(_not_in_future)


class WithdrawalCreate(Body):
    """The resident withdrew their consent to the purpose in the path."""

    withdrawn_at: Moment | None = Field(
        default=None, description="When the resident withdrew it (default: now)")

    _past = field_validator("withdrawn_at")(_not_in_future)


class ObjectionCreate(Body):
    """The resident objected to one purpose that rests on a legal obligation, a public task
    or legitimate interests."""

    purpose: str = Field(pattern=CODE, max_length=64)
    objected_at: Moment | None = Field(
        default=None, description="When the resident objected (default: now)")

    _past = field_validator("objected_at")(_not_in_future)


class WithdrawalRead(Body):
    consent: ConsentRead
    withdrawn_referrals: list[uuid.UUID] = Field(
        description="Referrals for this purpose withdrawn with it (their partners' access ends)")
