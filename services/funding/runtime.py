"""The funding runtime: the shared one plus the task that recomputes stale drafts."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.funding.scenarios.recompute import RecomputeTask
from shared.runtime import Runtime


@dataclass
class FundingRuntime(Runtime):
    recompute_interval_s: float = 5.0
    recompute: RecomputeTask | None = field(init=False, default=None)

    async def start(self) -> None:
        await super().start()
        self.recompute = RecomputeTask(self.settings, self.recompute_interval_s,
                                       self.sessions, self.notify_relay, tracer=self.tracer)
        self.recompute.start()

    async def stop(self) -> None:
        if self.recompute is not None:
            await self.recompute.stop()
        await super().stop()
