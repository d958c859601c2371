"""One snapshot worker per database keeps the snapshots; another stands by (PostgreSQL).

Every API replica left at `snapshot_worker = "process"` starts a worker. Two at once would
each compute the whole country, and the builds and `public_behind` flags of one could undo
the other's. A session advisory lock (`shared.lease`) lets one work; the others take over
when its process ends or its connection is lost. (SQLite is written by one process.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from services.indicators.computation.periods import current_period
from services.indicators.snapshots import store
from services.indicators.snapshots import worker as snapshot_worker
from services.indicators.snapshots.process import InlineWorker
from services.indicators.tests.helpers import (
    differing_from_facts,
    households,
    own_worker,
    record_each,
    settle,
    small_register,
)
from shared.db import utcnow

pytestmark = pytest.mark.parametrize("database_kind", ["postgresql"], indirect=True)


async def _marks(svc) -> int:
    async with svc.runtime.sessions() as session:
        return len(await store.marks(session))


async def test_a_second_worker_stands_by_until_the_first_ends(indicators, auth):
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        first, second = own_worker(svc, protect_interval_s=0.0), own_worker(svc)
        try:
            await settle(first)
            await record_each(svc.runtime, households("BU03440101", 12))
            assert await _marks(svc)
            assert await second.round() is False  # work to do, but not its own
            assert not second.leading
            assert await _marks(svc)  # left for the first
            assert await InlineWorker(second, 0.05).tick() == snapshot_worker.LEASE_CHECK_S
            await settle(first)
            assert await _marks(svc) == 0
            await first.close()  # its process ends: the lease is handed over
            await record_each(svc.runtime, households("BU03440102", 9))
            await settle(second)
            assert second.leading
            assert await _marks(svc) == 0
            assert await differing_from_facts(svc, current_period(utcnow())) == []
        finally:
            await first.close()
            await second.close()


async def test_a_worker_that_lost_its_lease_starts_anew(indicators, auth, monkeypatch):
    """Its connection to the database is cut: another worker takes over and changes the
    stored periods. When the first holds the lease again, what it held before is stale:
    it builds from storage, as after a restart."""
    monkeypatch.setattr(snapshot_worker, "LEASE_CHECK_S", 0.0)
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        first, second = (own_worker(svc, protect_interval_s=0.0),
                         own_worker(svc, protect_interval_s=0.0))
        try:
            await record_each(svc.runtime, households("BU03440101", 12))
            await settle(first)
            async with svc.runtime.sessions() as session, session.begin():
                await session.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND pid <> pg_backend_pid()"))
            await record_each(svc.runtime, households("BU03440102", 9))
            await settle(second)  # takes the lease, counts the 9
            assert second.leading
            assert await first.round() is False
            assert not first.leading
            await second.close()
            await record_each(svc.runtime, households("BU03440103", 11))
            await settle(first)
            assert first.leading
            assert await differing_from_facts(svc, current_period(utcnow())) == []
        finally:
            await first.close()
            await second.close()
