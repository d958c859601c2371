"""Topic `indicators.v1`, owned by the indicators service. Key: area code.

Only disclosure-controlled values travel here, with the method version that made them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from shared.events import EventData, EventType, event_type_name

TOPIC = "indicators.v1"

# Indicators where a LOWER value is worse (the rest: higher is worse). A consumer that turns an
# indicator into need (funding) must count the shortfall below its threshold, not the excess.
LOWER_IS_WORSE: frozenset[str] = frozenset({"labour-participation-pct", "mean-woz-value"})


class IndicatorValue(EventData):
    indicator_id: str
    value: float | None = Field(default=None, description="null when suppressed or unknown")
    suppressed: bool = False
    reason: str | None = None


class AreaIndicatorsUpdated(EventData):
    area_code: str
    level: str
    period: str = Field(description="e.g. rolling-12m:2026-11 or month:2026-11")
    method_version: str
    values: list[IndicatorValue]
    composite_score: float | None = None
    composite_rank: int | None = None
    composite_decile: int | None = None
    computed_at: datetime


class IndicatorSnapshotPublished(EventData):
    snapshot_id: UUID
    period: str
    method_version: str
    part: int
    parts: int
    areas: list[AreaIndicatorsUpdated]
    computed_at: datetime


AREA_INDICATORS_UPDATED = EventType(
    event_type_name("indicators", "area-indicators-updated"), TOPIC, AreaIndicatorsUpdated,
    "An area's indicators changed (debounced per area)")
INDICATOR_SNAPSHOT_PUBLISHED = EventType(
    event_type_name("indicators", "indicator-snapshot-published"), TOPIC,
    IndicatorSnapshotPublished, "One part of a full snapshot of all areas' indicators",
    key="snapshotId")

EVENT_TYPES: list[EventType[Any]] = [AREA_INDICATORS_UPDATED, INDICATOR_SNAPSHOT_PUBLISHED]
