"""The protection child (`snapshots/protector.py`, `snapshot_protection = "process"`): a
child that dies is started again, one that cannot start leaves the work to a thread, and
events after a build carry the index readers read. (That the child protects as a thread
does: `test_snapshot_worker.py`, on a build from the facts.)"""

from __future__ import annotations

import contextlib
import multiprocessing
from concurrent.futures.process import BrokenProcessPool

import orjson

from services.indicators.computation.periods import current_period
from services.indicators.computation.service import public_cutoffs
from services.indicators.models import IndicatorSnapshot
from services.indicators.snapshots import protector as protector_module
from services.indicators.snapshots import store
from services.indicators.snapshots.state import PeriodState
from services.indicators.tests.helpers import (
    households,
    outbox_events,
    record_all,
    record_each,
    settle,
    small_register,
)
from shared.contracts.indicators import AREA_INDICATORS_UPDATED
from shared.db import utcnow


async def test_a_protection_child_that_dies_is_started_again(indicators, auth):
    """The child process that protects (`snapshot_protection = "process"`) is killed: the
    round that finds out fails, the next ones build the periods again in a new child, and
    what is stored is what a build from the facts makes. Closing the worker ends the child."""
    async with indicators(snapshot_protection="process") as svc:
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, households("BU03440101", 12))
        await settle(svc.runtime.snapshots)
        children = multiprocessing.active_children()
        assert len(children) == 1, children
        children[0].kill()
        children[0].join(10)
        await record_each(svc.runtime, households("BU03440102", 9))
        for _ in range(3):  # a round or two fail on the dead child (the worker's loop too)
            with contextlib.suppress(BrokenProcessPool):
                await settle(svc.runtime.snapshots)
                break
        else:
            raise AssertionError("the rounds still fail")
        await _stored_as_built(svc)
        again = multiprocessing.active_children()
        assert len(again) == 1 and again[0].pid != children[0].pid, again
        # The new child protects what comes next.
        await record_all(svc.runtime, households("BU03440103", 7))
        await _stored_as_built(svc)
    assert not multiprocessing.active_children()


async def _stored_as_built(svc) -> None:
    """Every stored row of the current rolling period is what a build from the facts makes."""
    now = utcnow()
    period = current_period(now)
    async with svc.runtime.sessions() as session:
        fresh = await PeriodState.build(session, period, public_cutoffs(period, now))
        stored = await store.digests(session, str(period), fresh.codes())
    assert stored == {code: fresh.row(code).digest for code in fresh.codes()}


async def test_protections_go_on_in_a_thread_where_no_child_can_start(
        indicators, auth, monkeypatch, capfd):
    """Where the machine gives no child process (no semaphores, say), the worker says so
    and protects in a thread: the rounds go on, and the rows are right."""

    def refused(*args: object, **kwargs: object) -> None:
        raise OSError("no semaphores here")

    monkeypatch.setattr(protector_module, "ProcessPoolExecutor", refused)
    async with indicators(snapshot_protection="process") as svc:
        await small_register(svc.client, auth("admin"))
        await record_all(svc.runtime, households("BU03440101", 12))
        await record_all(svc.runtime, households("BU03440102", 9))
        await _stored_as_built(svc)
        assert not multiprocessing.active_children()
    assert "the protection child cannot start; protecting in a thread" in capfd.readouterr().err


async def test_events_after_a_build_carry_the_index_readers_read(indicators, auth):
    """A lane that derives no index (its interval has not passed) makes its events in the
    child with the index of the period's build: what the stored index, which readers read,
    says of each buurt."""
    admin = auth("admin")
    async with indicators(snapshot_protection="process", snapshot_index_interval_s=3600.0,
                          indicator_publisher_enabled=True, indicator_debounce_s=0.0) as svc:
        await small_register(svc.client, admin)
        await record_all(svc.runtime, households("BU03440101", 12)
                         + households("BU03440201", 7))
        # A change of the register: every period is built again, and opened in the child.
        r = await svc.client.put("/v1/areas/BU03440104", json={"name": "Nieuw"},
                                 headers=admin)
        assert r.status_code == 200, r.text
        await settle(svc.runtime.snapshots)
        before = len(await outbox_events(svc, AREA_INDICATORS_UPDATED))
        await record_all(svc.runtime, households("BU03440102", 9))
        events = (await outbox_events(svc, AREA_INDICATORS_UPDATED))[before:]
        async with svc.runtime.sessions() as session:
            snapshot = await session.get(IndicatorSnapshot, str(current_period(utcnow())))
        assert snapshot is not None
        index = orjson.loads(snapshot.vulnerability_index)["areas"]
        scored = {key: data for key, data in events if key in index}
        assert scored, events
        assert {key: data["compositeScore"] for key, data in scored.items()} == {
            key: index[key][0] for key in scored}
