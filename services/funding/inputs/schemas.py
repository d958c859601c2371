"""What the funding service knows of an area's indicators, and what a drafter may pin."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from services.funding.programmes.schemas import Camel, DecimalText


class IndicatorInputRead(BaseModel):
    """The latest indicators of an area as received from the indicators service."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    area_code: str
    level: str
    period: str
    method_version: str
    values: list[dict[str, Any]]
    computed_at: datetime
    received_at: datetime


class SnapshotArea(Camel):
    """One area's indicators in a given snapshot (instead of the received ones)."""

    area_code: Annotated[str, Field(max_length=64)]
    composite_score: DecimalText | None = None
    composite_decile: Annotated[int, Field(ge=1, le=10)] | None = None
    values: dict[str, DecimalText | None] = Field(default_factory=dict)
    method_version: str = "snapshot"
    period: str = ""
