"""The recompute task: stale drafts get a new version at most once per interval.

Indicator events only flag drafts (in the consumer's transaction); this task recomputes them
in batches, so a burst of events for many areas costs one recomputation per draft, not one per
event. Each draft is recomputed in its own transaction with its `allocation-computed` event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.funding import audit
from services.funding.models import ScenarioStatus
from services.funding.scenarios import repository, service
from shared.periodic import PeriodicTask
from shared.problems import ProblemError
from shared.settings import ServiceSettings
from shared.tracing import worker_span

BATCH = 20


class RecomputeTask(PeriodicTask):
    name = "funding-recompute"

    def __init__(self, settings: ServiceSettings, interval_s: float,
                 sessions: async_sessionmaker[AsyncSession],
                 after_commit: Callable[[], None], tracer: Tracer | None = None) -> None:
        # first_delay: the interval is the debounce, also for what was flagged before start.
        super().__init__(interval_s=interval_s, first_delay=True, tracer=tracer)
        self._settings = settings
        self._sessions = sessions
        self._after_commit = after_commit

    async def tick(self) -> float | None:
        # A full batch means more may be waiting: go on at once rather than after an interval.
        return 0 if await self.run_once() == BATCH else None

    async def run_once(self, batch: int = BATCH) -> int:
        """Recompute up to `batch` stale drafts; returns how many were looked at."""
        async with self._sessions() as session:
            ids = [s.id for s in await repository.stale_drafts(session, batch)]
        if not ids:
            return 0
        # A span only for rounds with work: an idle tick every few seconds is no news.
        with worker_span(self.tracer, "recompute stale allocations"):
            done = await self._recompute(ids)
        if done:
            self._after_commit()
        return len(ids)

    async def _recompute(self, ids: list[uuid.UUID]) -> int:
        done = 0
        for scenario_id in ids:
            async with self._sessions() as session, session.begin():
                # Row lock (PostgreSQL): an indicator event flagging it again waits for this
                # commit, so its flag is not overwritten by our `stale = False`.
                scenario = await repository.get(session, scenario_id, for_update=True)
                if (scenario is None or not scenario.stale
                        or scenario.status is not ScenarioStatus.DRAFT):
                    continue
                programme_id = scenario.programme_id
                try:
                    async with session.begin_nested():
                        await service.recompute_stale(session, self._settings, scenario)
                    done += 1
                except ProblemError as exc:
                    # The new inputs make the formula infeasible: keep the last version,
                    # stop retrying until the inputs change again, and say so in the history.
                    await session.refresh(scenario)
                    scenario.stale = False
                    audit.record(session, programme_id, "recompute-failed", audit.SYSTEM,
                                 scenario_id, reason=exc.detail)
        return done
