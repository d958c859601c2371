"""Runs a full computation for a period, with a short-lived cache shared by readers."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from services.indicators.computation import repository
from services.indicators.computation.engine import Computation, compute
from services.indicators.computation.periods import Period


async def compute_period(session: AsyncSession, period: Period,
                         include: Iterable[str] = ()) -> Computation:
    """Every area's indicators for `period`, from the facts and the register as they are.

    `include`: codes to show even when unregistered and without signals (a buurt whose last
    signal was just erased must be published with zeros).
    """
    counts = await repository.signal_counts(session, period)
    statistics = await repository.open_statistics(session, period.year)
    members = await repository.programme_area_members(session)
    registered = await repository.registered_codes(session)
    return compute(period, counts, statistics, members, [*registered, *include])


@dataclass
class ComputationCache:
    """Readers share a computation for `ttl_s` seconds; a write to the register clears it.

    A full computation is a few GROUP BY queries over the period's facts; caching it keeps a
    burst of API reads from repeating them, at the cost of answers up to `ttl_s` old.
    """

    ttl_s: float
    _entries: dict[str, tuple[float, Computation]] = field(default_factory=dict)

    async def get(self, session: AsyncSession, period: Period) -> Computation:
        key = str(period)
        hit = self._entries.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        result = await compute_period(session, period)
        if len(self._entries) > 64:
            self._entries.clear()
        self._entries[key] = (now, result)
        return result

    def clear(self) -> None:
        self._entries.clear()
