"""Request and response bodies of signal intake."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Severity = Literal["low", "medium", "high", "acute"]
BUURT_CODE = r"^BU[0-9]{4}[0-9A-Z]{4}$"


class Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SignalCreate(Body):
    """A doorstep signal as the field app sends it; `id` is also the idempotency key."""

    id: uuid.UUID = Field(description="Client-generated UUID; replaying it is safe")
    category: str = Field(min_length=1, max_length=50)
    subcategory: str | None = Field(default=None, max_length=50)
    observed_at: datetime
    severity: Severity
    area_code: str = Field(pattern=BUURT_CODE, description="CBS buurt code")
    unit_ref: str | None = Field(default=None, min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


class SignalRead(Body):
    """A signal as its own organisation sees it (no personal data in this slice)."""

    id: uuid.UUID
    organisation: str
    category: str
    subcategory: str | None
    severity: Severity
    area_code: str
    observed_at: datetime
    recorded_at: datetime
    status: str
    version: int
