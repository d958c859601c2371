"""The area register on the wire (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.alias_generators import to_camel

from shared.wire import Number, WholeNumber


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class InputSchema(Schema):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class AreaStatisticsYear(Schema):
    """Open statistics of an area for one year; null is unknown (never 0 for unknown)."""

    year: WholeNumber = Field(ge=1995, le=2100)
    inhabitants: WholeNumber | None = Field(default=None, ge=0)
    households: WholeNumber | None = Field(default=None, ge=0)
    dwellings: WholeNumber | None = Field(default=None, ge=0)
    corporation_dwellings: WholeNumber | None = Field(default=None, ge=0)
    corporation_dwellings_pct: Number | None = Field(default=None, ge=0, le=100)
    mean_woz_value: Number | None = Field(default=None, ge=0, description="euros")
    low_income_households_pct: Number | None = Field(default=None, ge=0, le=100)
    bijstand_recipients: WholeNumber | None = Field(default=None, ge=0)
    ww_recipients: WholeNumber | None = Field(default=None, ge=0)
    ao_recipients: WholeNumber | None = Field(default=None, ge=0)
    labour_participation_pct: Number | None = Field(default=None, ge=0, le=100)
    youth_care_pct: Number | None = Field(default=None, ge=0, le=100)


class AreaIn(InputSchema):
    """An area to register or update; its level and parent follow from its code."""

    name: str = Field(min_length=1, max_length=200)
    synthetic: StrictBool = False
    statistics: list[AreaStatisticsYear] = Field(
        default_factory=list, description="Years given replace those years; others are kept")


class AreaOut(Schema):
    """An area of the register."""

    code: str
    level: str = Field(description="national | gemeente | wijk | buurt")
    name: str
    parent_code: str | None
    programme_area_ids: list[str]
    synthetic: bool
    statistics: list[AreaStatisticsYear]
    updated_at: datetime


class AreaPage(Schema):
    """One page of areas in code order; pass `nextCursor` as `cursor` for the next."""

    items: list[AreaOut]
    next_cursor: str | None


class ProgrammeAreaIn(InputSchema):
    """A programme area: a named group of registered buurten."""

    name: str = Field(min_length=1, max_length=200)
    gemeente_code: str | None = Field(default=None, pattern=r"^GM[0-9]{4}$")
    buurt_codes: list[str] = Field(min_length=1, max_length=5000)
    synthetic: StrictBool = False


class ProgrammeAreaOut(Schema):
    """A programme area and its buurten."""

    id: str
    name: str
    gemeente_code: str | None
    buurt_codes: list[str]
    synthetic: bool
    updated_at: datetime


class ProgrammeAreaList(Schema):
    items: list[ProgrammeAreaOut]


class RejectedRowOut(Schema):
    line: int = Field(description="1-based line in the file; the header is line 1")
    code: str | None
    reasons: list[str]


class ImportReport(Schema):
    """What an import did: rows new to the register, changed, unchanged, and rejected."""

    year: int
    imported: int
    updated: int
    unchanged: int
    rejected: list[RejectedRowOut]
    missing_statistics: list[str] = Field(description="Statistics the file has no column for")
