"""Which snapshot worker writes: one per database, while the others stand by.

Every API replica left at `snapshot_worker = "process"` starts a worker. Two at once would
each compute the whole country, and the builds and `public_behind` flags of one could undo
the other's. The one that holds the lease (`shared.lease`) works, and writes only while the
database still sees it hold the lease: a round takes seconds nationally, and a worker whose
connection was cut meanwhile must not store what it counted over the newer holder's writes.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.db import try_exclusive
from shared.lease import Lease

log = logging.getLogger(__name__)
# How often a worker checks that it still holds the lease between rounds (every write
# transaction checks it as well), and how often a standby tries to take it.
LEASE_CHECK_S = 1.0


class TakenElsewhere(Exception):
    """Another worker holds the write lock (PostgreSQL's advisory lock)."""


class LeaseLost(Exception):
    """Another worker may have taken over: this one writes nothing more."""


class Leadership:
    def __init__(self, engine: AsyncEngine) -> None:
        self._lease = Lease(engine, "indicators.snapshots.worker", check_s=LEASE_CHECK_S)

    @property
    def held(self) -> bool:
        """As the last `hold()` found it."""
        return self._lease.held

    async def hold(self) -> bool:
        """Whether this worker holds the lease, taken now if free."""
        was = self._lease.held
        held = await self._lease.hold()
        if held and not was:
            log.info("this snapshot worker keeps the snapshots")
        elif was and not held:
            log.warning("the snapshot worker lost its lease; standing by")
        return held

    async def exclusive(self, session: AsyncSession) -> None:
        """In a transaction that writes: the write lock, then the lease as the database sees
        it now."""
        if not await try_exclusive(session, "indicators.snapshots"):
            raise TakenElsewhere  # another worker writes: this round ends, its marks stay
        if not await self._lease.confirm(session):
            log.warning("the snapshot worker lost its lease; standing by")
            await self._lease.release()
            raise LeaseLost

    async def release(self) -> None:
        await self._lease.release()
