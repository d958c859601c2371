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
from services.indicators.snapshots import leadership, store
from services.indicators.snapshots.process import InlineWorker
from services.indicators.snapshots.worker import SnapshotWorker
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


async def _cut(svc, worker: SnapshotWorker) -> None:
    """The worker's lease connection is cut (a network fault, an administrator)."""
    pid = worker._leadership._lease.pid  # noqa: SLF001
    assert pid is not None
    async with svc.runtime.sessions() as session, session.begin():
        assert await session.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                    {"pid": pid})


async def test_a_second_worker_stands_by_until_the_first_ends(indicators, auth):
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        first, second = own_worker(svc, protect_interval_s=0.0), own_worker(svc)
        try:
            await settle(first)
            # A holder whose host died is found out by the server within seconds, not hours.
            held = first._leadership._lease._held  # noqa: SLF001
            assert held is not None
            if await held.scalar(text("SELECT inet_server_addr()")) is not None:  # TCP
                assert await held.scalar(text("SHOW tcp_keepalives_idle")) == "10"
                assert await held.scalar(text("SHOW tcp_user_timeout")) == "25000"
            async with svc.runtime.sessions() as session, session.begin():
                await first._leadership.exclusive(session)  # noqa: SLF001
                # ... and one that dies writing lets go of its locks soon.
                assert await session.scalar(
                    text("SHOW idle_in_transaction_session_timeout")) == "30s"
            await record_each(svc.runtime, households("BU03440101", 12))
            assert await _marks(svc)
            assert await second.round() is False  # work to do, but not its own
            assert not second.leading
            assert await _marks(svc)  # left for the first
            assert await InlineWorker(second, 0.05).tick() == leadership.LEASE_CHECK_S
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
    monkeypatch.setattr(leadership, "LEASE_CHECK_S", 0.0)
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        first, second = (own_worker(svc, protect_interval_s=0.0),
                         own_worker(svc, protect_interval_s=0.0))
        try:
            await record_each(svc.runtime, households("BU03440101", 12))
            await settle(first)
            await _cut(svc, first)
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


async def test_a_worker_that_loses_its_lease_during_a_round_writes_nothing(
        indicators, auth, monkeypatch):
    """A round counts for seconds nationally, the lease checked at its start. Its connection
    is cut meanwhile, and another worker takes over and stores a newer signal: what the
    first counted before it must not be stored over that (no mark is left to correct it)."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        first, second = (own_worker(svc, protect_interval_s=0.0),
                         own_worker(svc, protect_interval_s=0.0))
        real, armed = leadership.try_exclusive, []

        async def taken_over_first(session, name):
            if armed:  # the first worker's first write of the round
                armed.clear()
                await _cut(svc, first)
                await record_each(svc.runtime, households("BU03440102", 9))
                await settle(second)
            return await real(session, name)

        monkeypatch.setattr(leadership, "try_exclusive", taken_over_first)
        try:
            await settle(first)
            await record_each(svc.runtime, households("BU03440101", 12))
            armed.append(True)
            assert await first.round() is False
            assert not first.leading and second.leading
            await settle(second)
            assert await _marks(svc) == 0
            assert await differing_from_facts(svc, current_period(utcnow())) == []
        finally:
            await first.close()
            await second.close()
