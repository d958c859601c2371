"""The background task that publishes dirty areas once per debounce interval."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.indicators.computation.periods import GRACE_DAYS
from services.indicators.publication import repository
from services.indicators.publication.service import publish_dirty
from shared.periodic import PeriodicTask
from shared.tracing import worker_span

log = logging.getLogger(__name__)


class IndicatorPublisher(PeriodicTask):
    """Turns dirty buurten into outbox events, at most once per `interval_s`.

    It looks for dirty rows every `poll_s` (a cheap query) and publishes as soon as some are
    there, unless it published less than `interval_s` ago: the first change after a quiet
    spell goes out at once (low lag), a burst is folded into one event per area per interval.
    With several replicas each would publish; the digest check in the same transaction keeps
    repeats rare (consumers keep the newest `computedAt` anyway).
    """

    name = "indicator-publisher"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], source: str,
                 interval_s: float, after_commit: Callable[[], None],
                 poll_s: float = 0.05, tracer: Tracer | None = None,
                 grace_days: int = GRACE_DAYS) -> None:
        # A failed round backs off up to one interval; its dirty rows stay for the next one.
        super().__init__(interval_s=min(poll_s, interval_s), max_backoff_s=interval_s,
                         first_delay=True, tracer=tracer)
        self._sessions = sessions
        self._source = source
        self._interval = interval_s
        self._after_commit = after_commit
        self._grace_days = grace_days
        self._last = -interval_s

    async def tick(self) -> float | None:
        loop = asyncio.get_running_loop()
        since = loop.time() - self._last
        if since < self._interval:
            return self._interval - since
        if await self.publish():
            self._last = loop.time()
        return None

    async def publish(self) -> bool:
        """Publish what is dirty; False when nothing was."""
        async with self._sessions() as session:
            if not await repository.any_dirty(session):
                return False
        with worker_span(self.tracer, "publish indicators"):
            async with self._sessions() as session, session.begin():
                written = await publish_dirty(session, self._source,
                                              grace_days=self._grace_days)
        if written:
            self._after_commit()
        return True

    async def failed(self, exc: Exception) -> None:
        log.warning("publishing indicators failed; retrying", extra={"error": repr(exc)})
