"""Topic `funding.v1`, owned by the funding service. Key: the programme id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from shared.events import EventData, EventType, event_type_name

TOPIC = "funding.v1"


class AllocationComputed(EventData):
    programme_id: UUID
    scenario_id: UUID
    version: int
    total_cents: int
    area_count: int
    method_version: str | None = None
    computed_at: datetime


class AllocationPublished(EventData):
    programme_id: UUID
    scenario_id: UUID
    version: int
    total_cents: int
    published_at: datetime


ALLOCATION_COMPUTED = EventType(
    event_type_name("funding", "allocation-computed"), TOPIC, AllocationComputed,
    "A scenario's allocation was (re)computed", key="programmeId")
ALLOCATION_PUBLISHED = EventType(
    event_type_name("funding", "allocation-published"), TOPIC, AllocationPublished,
    "An approved allocation was published", key="programmeId")

EVENT_TYPES: list[EventType[Any]] = [ALLOCATION_COMPUTED, ALLOCATION_PUBLISHED]
