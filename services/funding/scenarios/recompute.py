"""The recompute worker: stale drafts get a new version at most once per interval.

Indicator events only flag drafts (in the consumer's transaction); this task recomputes them
in batches, so a burst of events for many areas costs one recomputation per draft, not one per
event. Each draft is recomputed in its own transaction with its `allocation-computed` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.funding import audit
from services.funding.scenarios import repository, service
from shared.problems import ProblemError
from shared.settings import ServiceSettings
from shared.tracing import worker_span

log = logging.getLogger(__name__)


class RecomputeWorker:
    def __init__(self, settings: ServiceSettings, interval_s: float,
                 sessions: async_sessionmaker[AsyncSession],
                 after_commit: Callable[[], None], tracer: Tracer | None = None) -> None:
        self._settings = settings
        self._interval = interval_s
        self._sessions = sessions
        self._after_commit = after_commit
        self._tracer = tracer
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="funding-recompute")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: log it and try again next interval
                log.exception("recomputing stale drafts failed")

    async def run_once(self, batch: int = 20) -> int:
        """Recompute up to `batch` stale drafts; returns how many got a new version."""
        async with self._sessions() as session:
            ids = [s.id for s in await repository.stale_drafts(session, batch)]
        if not ids:
            return 0
        with worker_span(self._tracer, "recompute stale allocations"):
            done = await self._recompute(ids)
        if done:
            self._after_commit()
        return done

    async def _recompute(self, ids: list[uuid.UUID]) -> int:
        done = 0
        for scenario_id in ids:
            async with self._sessions() as session, session.begin():
                # Row lock (PostgreSQL): an indicator event flagging it again waits for this
                # commit, so its flag is not overwritten by our `stale = False`.
                scenario = await repository.get(session, scenario_id, for_update=True)
                if scenario is None or not scenario.stale or scenario.status != "draft":
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
