"""What the funding service knows of areas and programme areas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AreaRead(Camel):
    """An area as the allocation sees it: the latest base of each kind."""

    code: str
    level: str
    name: str
    parent_code: str | None
    programme_area_ids: list[str]
    bases: dict[str, int] = Field(description="inhabitants, households, corporation-dwellings")
    updated_at: datetime


class ProgrammeAreaRead(Camel):
    id: str
    name: str
    gemeente_code: str | None
    buurt_codes: list[str]
    updated_at: datetime
