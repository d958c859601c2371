"""Received indicators as response bodies."""

from __future__ import annotations

from services.funding.inputs import repository
from services.funding.inputs.schemas import IndicatorInputRead
from services.funding.models import AreaIndicatorInput


def indicator_input_read(row: AreaIndicatorInput) -> IndicatorInputRead:
    return IndicatorInputRead(
        area_code=row.area_code, level=row.level, period=row.period,
        method_version=row.method_version,
        values=[v.model_dump(mode="json", by_alias=True) for v in repository.values_of(row)],
        computed_at=row.computed_at, received_at=row.received_at)
