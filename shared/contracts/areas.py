"""Topic `areas.v1`, owned by the indicators service (the area register). Key: area code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.events import EventData, EventType, event_type_name

TOPIC = "areas.v1"


class AreaStatistics(EventData):
    year: int
    inhabitants: int | None = None
    households: int | None = None
    dwellings: int | None = None
    corporation_dwellings: int | None = None


class AreaUpserted(EventData):
    code: str = Field(description="CBS code (GM/WK/BU) or NL00 (national)")
    level: str = Field(description="national | gemeente | wijk | buurt")
    name: str
    parent_code: str | None = None
    programme_area_ids: list[str] = Field(default_factory=list)
    statistics: list[AreaStatistics] = Field(default_factory=list)
    synthetic: bool = False
    updated_at: datetime


class ProgrammeAreaUpserted(EventData):
    id: str
    name: str
    gemeente_code: str | None = None
    buurt_codes: list[str]
    synthetic: bool = False
    updated_at: datetime


AREA_UPSERTED = EventType(event_type_name("areas", "area-upserted"), TOPIC, AreaUpserted,
                          "An area was registered or its facts changed", key="code")
PROGRAMME_AREA_UPSERTED = EventType(
    event_type_name("areas", "programme-area-upserted"), TOPIC, ProgrammeAreaUpserted,
    "A programme area (a named group of buurten) was registered or changed", key="id")

EVENT_TYPES: list[EventType[Any]] = [AREA_UPSERTED, PROGRAMME_AREA_UPSERTED]
