"""Writing the `area-indicators-updated` events a lane made (`lanes.py`), for the snapshot
worker (`worker.py`): one lane's at a time, a part per round, after the rows they describe;
the lane's dirty marks cleared with its last part; the next lane's dirty marks read at most
once per debounce interval after that (a burst of signals becomes one event per area).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.publication import repository as publication_repository
from services.indicators.publication.service import write_events
from services.indicators.snapshots.lanes import Lane, Lanes
from services.indicators.snapshots.leadership import Leadership
from shared.tracing import worker_span

# Events written per round: each round holds SQLite's one write lock for a short time.
EVENTS_PER_ROUND = 1000


class Publishing:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], leadership: Leadership,
                 lanes: Lanes, *, enabled: bool, debounce_s: float,
                 after_commit: Callable[[], None], tracer: Tracer | None) -> None:
        self._sessions = sessions
        self._leadership = leadership
        self._lanes = lanes
        self.enabled = enabled
        self._debounce_s = debounce_s
        self._after_commit = after_commit
        self._tracer = tracer
        self._published_at = -debounce_s
        self.lane: Lane | None = None  # a done lane whose events are being written

    def may_read(self, at: float) -> bool:
        """Whether the dirty marks of a next lane may be read now."""
        return (self.enabled and self.lane is None
                and at - self._published_at >= self._debounce_s)

    def period(self, first: str) -> str:
        """The period whose next lane may make events: the current rolling one, once the
        events of the one before are written."""
        return first if self.enabled and self.lane is None else ""

    async def write_some(self, period: str, now: datetime) -> None:
        """Up to `EVENTS_PER_ROUND` of the lane's events.

        A publication at national intake is thousands of events: written at once, they
        held SQLite's one write lock for seconds, and the service's consumer waited. A
        round that fails half-way writes none twice: `write_events` skips an area whose
        published values are what was last published of it.
        """
        lane = self.lane
        assert lane is not None
        part, rest = lane.events[:EVENTS_PER_ROUND], lane.events[EVENTS_PER_ROUND:]
        async with self._sessions() as session, session.begin():
            await self._leadership.exclusive(session)
            with worker_span(self._tracer, "publish indicators"):
                written = await write_events(session, period, part, now)
            if not rest:
                await publication_repository.clear_marks(session, lane.marks)
        lane.events = rest  # only now: a part that failed is written by the next round
        if not rest:
            self.lane = None
            self._published_at = asyncio.get_running_loop().time()
            self._lanes.published(lane)
        if written:
            self._after_commit()
