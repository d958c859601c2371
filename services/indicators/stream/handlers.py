"""The consumer edge of `signals.v1`: translate a wire event into a change of the facts."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.stream import service
from shared.consumer import Route
from shared.contracts.signals import (
    SIGNAL_ERASED,
    SIGNAL_ERASED_V1,
    SIGNAL_ESCALATED,
    SIGNAL_RECORDED,
    SignalErased,
    SignalErasedV1,
    SignalEscalated,
    SignalRecorded,
)
from shared.events import CloudEvent


async def on_signal_recorded(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    assert isinstance(data, SignalRecorded)
    await service.record_signal(session, data)


async def on_signal_escalated(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    assert isinstance(data, SignalEscalated)
    await service.escalate_signal(session, data)


async def on_signal_erased(session: AsyncSession, event: CloudEvent, data: Any) -> None:
    assert isinstance(data, SignalErased | SignalErasedV1)  # v1 events are still on the topic
    await service.erase_signal(session, data)


ROUTES = [
    Route(SIGNAL_RECORDED, on_signal_recorded),
    Route(SIGNAL_ESCALATED, on_signal_escalated),
    Route(SIGNAL_ERASED, on_signal_erased),
    Route(SIGNAL_ERASED_V1, on_signal_erased),
]
