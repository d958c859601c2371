"""A route table pairs each event type with a handler typed on that type's data."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.consumer import Routes, handles
from shared.events import CloudEvent, EventData, EventType


class Planted(EventData):
    tree: str


class Felled(EventData):
    tree: str
    reason: str


PLANTED = EventType("nl.dichtdekloof.test.planted.v1", "test.v1", Planted, "test")
FELLED = EventType("nl.dichtdekloof.test.felled.v1", "test.v1", Felled, "test")


async def on_felled(session: AsyncSession, event: CloudEvent, data: Felled) -> None:
    """Reads `reason`, which only Felled has: routed a Planted, it would fail at run time."""
    assert data.reason


# The type checker refuses a handler routed an event type it does not take. Should `handles`
# stop checking that, mypy reports this ignore as unused (warn_unused_ignores, strict).
MISROUTED: Routes = [handles(PLANTED, on_felled)]  # type: ignore[arg-type]


def test_a_route_table_maps_each_type_to_its_handler() -> None:
    routes: Routes = [handles(FELLED, on_felled)]
    assert {r.event_type.type: r.handler for r in routes} == {FELLED.type: on_felled}
