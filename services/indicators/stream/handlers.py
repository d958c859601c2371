"""Signal events -> signal facts; the consumer edge only translates and applies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import Outbox, SignalFact
from shared.consumer import Route
from shared.contracts.indicators import (
    AREA_INDICATORS_UPDATED,
    AreaIndicatorsUpdated,
    IndicatorValue,
)
from shared.contracts.signals import SIGNAL_RECORDED, SignalRecorded
from shared.db import utcnow
from shared.events import CloudEvent
from shared.outbox import record_event

METHOD_VERSION = "slice-0"


async def on_signal_recorded(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    assert isinstance(data, SignalRecorded)
    if await session.get(SignalFact, data.signal_id) is not None:
        return  # the same signal under another event id: count it once
    session.add(SignalFact(
        signal_id=data.signal_id, area_code=data.area_code, category=data.category,
        severity=data.severity, month=data.observed_at.strftime("%Y-%m"),
        household_stats_pseudonym=data.household_stats_pseudonym,
        observed_at=data.observed_at,
    ))
    await session.flush()
    count = await session.scalar(
        select(func.count()).select_from(SignalFact).where(SignalFact.area_code == data.area_code)
    )
    record_event(
        session, Outbox, AREA_INDICATORS_UPDATED,
        AreaIndicatorsUpdated(
            area_code=data.area_code, level="buurt", period="all", method_version=METHOD_VERSION,
            values=[IndicatorValue(indicator_id="signals", value=float(count or 0))],
            computed_at=utcnow(),
        ),
        key=data.area_code, source=event_source(session),
    )


def event_source(session: AsyncSession) -> str:
    source: str = session.info.get("event_source", "urn:nl:dichtdekloof:indicators")
    return source


ROUTES = [Route(SIGNAL_RECORDED, on_signal_recorded)]
