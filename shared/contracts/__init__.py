"""Event contracts between the services: the only thing besides `shared` they have in common.

One module per owning service and topic. A type only ever gains optional fields; a
breaking change is a new `.v2` type published beside the old one for a while.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import areas, funding, indicators, signals
from shared.events import EventType

ALL_EVENT_TYPES: list[EventType[Any]] = [
    *signals.EVENT_TYPES, *areas.EVENT_TYPES, *indicators.EVENT_TYPES, *funding.EVENT_TYPES,
]
