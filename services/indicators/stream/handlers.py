"""The consumer edge of `signals.v1`: translate a wire event into a change of the facts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.stream import service
from shared.consumer import Routes, handles
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


async def on_signal_recorded(session: AsyncSession, event: CloudEvent,
                             data: SignalRecorded) -> None:
    await service.record_signal(session, data)


async def on_signal_escalated(session: AsyncSession, event: CloudEvent,
                              data: SignalEscalated) -> None:
    await service.escalate_signal(session, data)


async def on_signal_erased(session: AsyncSession, event: CloudEvent,
                           data: SignalErased | SignalErasedV1) -> None:
    await service.erase_signal(session, data)


ROUTES: Routes = [
    handles(SIGNAL_RECORDED, on_signal_recorded, prepare=service.look_up_signals),
    handles(SIGNAL_ESCALATED, on_signal_escalated),
    handles(SIGNAL_ERASED, on_signal_erased),
    handles(SIGNAL_ERASED_V1, on_signal_erased),  # v1 events are still on the topic
]
