"""Writing indicator events to the outbox with explicit nulls.

`IndicatorValue.value` is a required field that may be null, but `shared.events.CloudEvent.new`
drops null fields, so a suppressed value would reach consumers without `value` and fail their
validation. Until the contract gives `value` a default (reported to the lead), this helper
writes the row itself from a JSON body that keeps nulls, with the same checks as
`shared.outbox.record_event`.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.models import Outbox
from shared.events import CloudEvent, EventData, EventType
from shared.kafka import MessageTooLarge
from shared.tracing import current_traceparent

MAX_EVENT_BYTES = 1_048_576


def outbox_row_with_nulls(event_type: EventType[Any], data: EventData, *, key: str,
                          source: str) -> dict[str, Any]:
    """The column values of the event's outbox row (for a session or a Core insert); its
    `traceparent` is for the caller to set, in the span that writes it."""
    if not isinstance(data, event_type.data_model):
        raise TypeError(f"{event_type.type} takes {event_type.data_model.__name__}")
    event = CloudEvent.new(source, event_type.type, data)
    body = data.model_dump(mode="json", by_alias=True)
    value = orjson.dumps(body)
    if len(value) > MAX_EVENT_BYTES:
        raise MessageTooLarge(f"event {event_type.type} is {len(value)} bytes")
    return {"event_id": event.id, "topic": event_type.topic, "key": key, "type": event.type,
            "source": event.source, "subject": None, "time": event.time,
            "data": value.decode(), "traceparent": None}


def record_with_nulls(
    session: AsyncSession, event_type: EventType[Any], data: EventData, *, key: str,
    source: str,
) -> None:
    row = outbox_row_with_nulls(event_type, data, key=key, source=source)
    session.add(Outbox(**{**row, "traceparent": current_traceparent()}))
