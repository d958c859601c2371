"""A stored period's public side always catches up with its raw counts.

A round stores a period's new raw counts and clears their marks; the public cells and the
index follow when a protection of the period held in memory is done (`snapshots/worker.py`).
The worker holds a few periods only, and may stop at any time: a period let go, or a worker
stopped, before that protection was stored must not keep the cells of the protection before
(no new signal may ever come to correct them: a closed month, a quiet night).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import datetime

import pytest
from sqlalchemy.exc import OperationalError

from services.indicators.computation.periods import current_period, parse_period
from services.indicators.publication import repository as publication_repository
from services.indicators.snapshots import publishing, store
from services.indicators.snapshots import worker as snapshot_worker
from services.indicators.snapshots.catch_up import CatchUp
from services.indicators.snapshots.components import Protection
from services.indicators.snapshots.state import PeriodState
from services.indicators.snapshots.worker import SnapshotWorker
from services.indicators.tests.helpers import (
    differing_from_facts,
    households,
    outbox_events,
    own_worker,
    record_each,
    settle,
    settle_through_refusals,
    small_register,
)
from shared.contracts.indicators import AREA_INDICATORS_UPDATED
from shared.db import utcnow


def _months_before(now: datetime, n: int) -> list[str]:
    year, month = now.year, now.month
    months = []
    for _ in range(n):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(f"month:{year:04d}-{month:02d}")
    return months


async def test_a_period_let_go_before_its_protection_is_built_again(indicators, auth):
    """A worker that holds two periods, both waiting for their next protection (5 s apart
    nationally; here an hour), is asked for a third: the one least recently used is let go,
    and then built again whole, so its public cells are those of its facts."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        worker = own_worker(svc, held=2, publish_events=False)
        try:
            await settle(worker)
            for n, buurt in ((12, "BU03440101"), (9, "BU03440102"), (11, "BU03440103")):
                await record_each(svc.runtime, households(buurt, n))
                await settle(worker)  # the 12 are protected, the 9 and 11 wait an hour
            current = current_period(utcnow())
            assert await differing_from_facts(svc, current)  # raw counts stored, not public
            async with svc.runtime.sessions() as session, session.begin():
                await store.request(session, _months_before(utcnow(), 1)[0])
            await settle(worker)
        finally:
            await worker.close()
        assert await differing_from_facts(svc, current) == []


async def test_a_worker_stopped_before_a_protection_leaves_it_to_the_next(indicators, auth):
    """The worker stops (a deployment, a crash) after storing new raw counts and before their
    protection: the worker that comes next builds the period again."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        before = own_worker(svc, publish_events=False)
        try:
            await settle(before)  # built whole
            for n, buurt in ((12, "BU03440101"), (9, "BU03440102")):
                await record_each(svc.runtime, households(buurt, n))
                await settle(before)  # the 9 wait an hour for their protection
        finally:
            await before.close()
        current = current_period(utcnow())
        assert await differing_from_facts(svc, current)
        assert (await _stored(svc))[str(current)] is True
        after = own_worker(svc, publish_events=False)
        try:
            await settle(after)
        finally:
            await after.close()
        assert await differing_from_facts(svc, current) == []
        assert not any((await _stored(svc)).values())  # and it is stored so


async def test_a_worker_stopped_during_a_protection_leaves_it_to_the_next(
        indicators, auth, monkeypatch):
    """The worker stops while a protection of new counts runs (seconds nationally: the
    likeliest moment): the worker that comes next builds the period again."""
    release = threading.Event()
    update = Protection.update

    def held_back(self: Protection, *args: object) -> None:
        assert release.wait(60), "the protection was never released"
        update(self, *args)

    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        before = own_worker(svc, publish_events=False, protect_interval_s=0.0)
        try:
            await settle(before)
            monkeypatch.setattr(Protection, "update", held_back)
            await record_each(svc.runtime, households("BU03440101", 12))
            for _ in range(3):  # the marks counted and cleared, the protection under way
                await before.round()
        finally:
            release.set()
            await before.close()
        monkeypatch.setattr(Protection, "update", update)
        current = current_period(utcnow())
        assert await differing_from_facts(svc, current)
        await _settle_a_new_worker(svc)
        assert await differing_from_facts(svc, current) == []


async def test_a_worker_stopped_while_storing_a_protection_leaves_it_to_the_next(
        indicators, auth, monkeypatch):
    """The worker stops while it stores the rows a protection changed (a part per round):
    the worker that comes next builds the period again."""
    monkeypatch.setattr(snapshot_worker, "ROWS_PER_ROUND", 1)
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        before = own_worker(svc, publish_events=False, protect_interval_s=0.0)
        try:
            await settle(before)
            await record_each(svc.runtime, households("BU03440101", 12))
            for _ in range(100):  # until a part of the protection's rows is stored
                await before.round()
                if any(state.unstored for state in before._states.values()):
                    break
        finally:
            await before.close()
        current = current_period(utcnow())
        assert await differing_from_facts(svc, current)
        await _settle_a_new_worker(svc)
        assert await differing_from_facts(svc, current) == []


@pytest.mark.parametrize("meanwhile", [False, True], ids=["alone", "signals-meanwhile"])
async def test_a_failed_write_of_a_period_built_again_is_done_again(
        indicators, auth, monkeypatch, meanwhile):
    """The database refuses the write of a period built again because it was behind (a lock
    waited for too long): the next rounds store its rows all the same, whole, and count the
    signals recorded before them (`meanwhile`); the marks are cleared."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        before = own_worker(svc, publish_events=False)
        try:
            await settle(before)
            for n, buurt in ((12, "BU03440101"), (9, "BU03440102")):
                await record_each(svc.runtime, households(buurt, n))
                await settle(before)  # the 9 wait an hour for their protection
        finally:
            await before.close()
        write, refused = store.write, []

        async def locked(session, period, rows, **kwargs):
            if kwargs["whole"] and not refused:
                refused.append(period)
                raise OperationalError("INSERT", {}, sqlite3.OperationalError("locked"))
            return await write(session, period, rows, **kwargs)

        monkeypatch.setattr(store, "write", locked)
        after = own_worker(svc, publish_events=False)
        try:
            for _ in range(20 if meanwhile else 0):  # until the whole write is refused
                try:
                    await after.round()
                except OperationalError:
                    break
            if meanwhile:
                assert refused, "no whole write was refused: the test would prove nothing"
                # Before the next round: a buurt without facts before, and one more
                # household where the refused build counted twelve.
                await record_each(svc.runtime, [*households("BU03440103", 6),
                                                *households("BU03440101", 13)[12:]])
            await settle_through_refusals(after)
        finally:
            await after.close()
        current = current_period(utcnow())
        assert refused == [str(current)]
        assert await differing_from_facts(svc, current) == []
        async with svc.runtime.sessions() as session:
            assert await store.marks(session) == []


async def test_marks_wait_for_every_period_while_one_is_caught_up(indicators, auth,
                                                                  monkeypatch):
    """A period is built again for being behind in a round in which only the current
    rolling period counts the new marks (the others count them every `OTHERS_INTERVAL_S`,
    here an hour, or when nothing new comes): the marks are not cleared before the current
    month has counted them too."""
    monkeypatch.setattr(snapshot_worker, "OTHERS_INTERVAL_S", 3600)
    now = utcnow()
    this_month, last_month = f"{now:%Y-%m}-01", _months_before(now, 1)[0]
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        await _ask(svc, last_month)
        await _settle_a_new_worker(svc)  # stored, and not held by the worker below
        worker = own_worker(svc, publish_events=False, protect_interval_s=0.0)
        try:
            await record_each(svc.runtime, households("BU03440101", 12, observed=this_month))
            await settle(worker)
            # Last month, as a worker that stopped with it behind leaves it.
            async with svc.runtime.sessions() as session, session.begin():
                await store.set_public_behind(session, last_month, True)
            await record_each(svc.runtime, households("BU03440102", 9, observed=this_month))
            await settle(worker)
        finally:
            await worker.close()
        assert await differing_from_facts(svc, parse_period(f"month:{now:%Y-%m}")) == []


async def test_a_period_updated_and_let_go_in_one_round_is_built_again(indicators, auth,
                                                                      monkeypatch):
    """Last month, held and caught up, counts a late signal in the round in which a signal
    of this month builds the month (not held) whole. Every held period is behind then, and
    last month, not current, is let go with its new raw counts unprotected: it is stored as
    behind (nothing else says so when the round writes: it is no longer held) and built
    again."""
    monkeypatch.setattr(snapshot_worker, "OTHERS_INTERVAL_S", 0.0)  # one round for all
    now = utcnow()
    rolling, this_month = str(current_period(now)), f"month:{now:%Y-%m}"
    last_month = _months_before(now, 1)[0]
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        worker = own_worker(svc, held=2, publish_events=False)
        try:
            await settle(worker)
            # 13 months ago: counted by the rolling period only (its previous period), which
            # is then held more recently than this month (and protected: its first lane).
            await record_each(svc.runtime, households(
                "BU03440101", 12, observed=f"{_months_before(now, 13)[-1][6:]}-15"))
            await settle(worker)
            await _ask(svc, last_month)
            await settle(worker)  # held with the rolling period; this month let go
            assert await _stored(svc) == dict.fromkeys((rolling, this_month, last_month),
                                                       False)
            await record_each(svc.runtime, households(
                "BU03440102", 9, observed=f"{last_month[6:]}-15"))
            await record_each(svc.runtime, households(
                "BU03440103", 11, observed=f"{now:%Y-%m}-01"))
            await settle(worker)
        finally:
            await worker.close()
        assert await differing_from_facts(svc, parse_period(last_month)) == []


def test_a_period_behind_is_built_again_when_it_fits_beside_those_held():
    """One a round, and only when the periods held that are behind themselves, and those
    built this round anyway, leave room: else building it would let go of a period behind,
    to be built again in its turn, and so on without end while their protections wait."""
    rolling, month, behind = "rolling-12m:2026-12", "month:2026-12", "month:2026-10"
    catch_up = CatchUp()
    catch_up.read({rolling: False, month: False, behind: True, "month:2026-09": True})
    assert catch_up.waiting(rolling, {rolling: True, month: True}, set(), 2) == []
    assert catch_up.waiting(rolling, {rolling: True, month: False}, set(), 2) == ["month:2026-09"]
    assert catch_up.waiting(rolling, {rolling: True, month: False}, {"month:2026-11"}, 2) == []
    assert catch_up.waiting(rolling, {rolling: False, month: True}, {month}, 2) == [
        "month:2026-09"]  # behind and built anyway: its room counts once
    catch_up.read({rolling: True, month: False, behind: True})
    assert catch_up.waiting(rolling, {month: False}, set(), 2) == [rolling]  # current first


async def test_a_period_built_for_a_late_signal_is_stored_as_caught_up(indicators, auth):
    """A late signal for a month that no worker holds builds it whole, with its
    protection: it is stored as caught up, not to be built again after a restart."""
    last_month = _months_before(utcnow(), 1)[0]
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        await _ask(svc, last_month)
        await _settle_a_new_worker(svc)
        observed = f"{last_month[len('month:'):]}-20"
        await record_each(svc.runtime, households("BU03440101", 12, observed=observed))
        await _settle_a_new_worker(svc)
        stored = await _stored(svc)
        assert last_month in stored and not any(stored.values()), stored


async def test_after_a_restart_the_current_period_comes_before_one_caught_up(
        indicators, auth, monkeypatch):
    """A worker starts with new signals waiting and last month behind: the current rolling
    period, which readers wait for, is built first; last month after it."""
    now = utcnow()
    last_month = _months_before(now, 1)[0]
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        await _ask(svc, last_month)
        await _settle_a_new_worker(svc)
        # Last month, as a worker that stopped with it behind leaves it.
        async with svc.runtime.sessions() as session, session.begin():
            await store.set_public_behind(session, last_month, True)
        await record_each(svc.runtime, households("BU03440101", 12,
                                                  observed=f"{now:%Y-%m}-01"))
        builds = _count_builds(monkeypatch)
        await _settle_a_new_worker(svc)
        assert builds.index(str(current_period(now))) < builds.index(last_month), builds


async def test_an_index_derived_on_its_own_is_stored(indicators, auth):
    """A lane that only derives the index (the cells were protected by one before it, while
    the index was not due) stores the index it derived."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        worker = own_worker(svc, publish_events=False, protect_interval_s=0.0,
                         index_interval_s=1.0)
        try:
            await settle(worker)
            await asyncio.sleep(1.0)
            await record_each(svc.runtime, households("BU03440101", 12))
            await settle(worker)  # cells protected, the index derived
            await record_each(svc.runtime, households("BU03440102", 12))
            await settle(worker)  # cells protected, the index not due yet
            current = current_period(utcnow())
            assert await differing_from_facts(svc, current) == ["index"]
            await asyncio.sleep(1.0)
            await settle(worker)
            assert await differing_from_facts(svc, current) == []
        finally:
            await worker.close()


async def test_the_period_let_go_is_one_not_behind(indicators, auth, monkeypatch):
    """Of the periods held, the one let go for another is the least recently used of those
    whose public side is up to date: one that is behind would be built again."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        worker = own_worker(svc, held=3, publish_events=False)
        try:
            # The current periods wait an hour for the 9's protection; the earlier month is
            # built with them.
            builds = await _let_go_for_another(svc, worker, monkeypatch)
            assert builds == [_months_before(utcnow(), 2)[1]]  # none let go to build again
        finally:
            await worker.close()


async def test_the_period_let_go_is_one_readers_read_least(indicators, auth, monkeypatch):
    """Of the periods held and up to date, the one let go for another is the least
    recently used that is not current: a current one would be built again at the next
    signal."""
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        worker = own_worker(svc, held=3, publish_events=False, protect_interval_s=0.0)
        try:
            await _let_go_for_another(svc, worker, monkeypatch)
        finally:
            await worker.close()


async def _let_go_for_another(svc, worker: SnapshotWorker, monkeypatch) -> list[str]:
    """Signals, then two earlier months asked for, with three periods held: the earlier
    of the two is let go; returns the periods built for the second."""
    now = utcnow()
    current, month = str(current_period(now)), f"month:{now:%Y-%m}"
    earlier, earliest = _months_before(now, 2)
    await settle(worker)
    for n, buurt in ((12, "BU03440101"), (9, "BU03440102")):
        await record_each(svc.runtime, households(buurt, n))
        await settle(worker)
    await _ask(svc, earlier)
    await settle(worker)
    builds = _count_builds(monkeypatch)
    await _ask(svc, earliest)
    await settle(worker)
    # Held now (the worker's own bookkeeping, which no reader sees):
    assert set(worker._states) == {current, month, earliest}
    return builds


def _count_builds(monkeypatch) -> list[str]:
    """The periods built from now on, in order."""
    builds: list[str] = []
    build = PeriodState.build

    async def counted(cls, session, period, cutoffs):
        builds.append(str(period))
        return await build(session, period, cutoffs)

    monkeypatch.setattr(PeriodState, "build", classmethod(counted))
    return builds


async def _ask(svc, period: str) -> None:
    async with svc.runtime.sessions() as session, session.begin():
        await store.request(session, period)


async def _settle_a_new_worker(svc) -> None:
    after = own_worker(svc, publish_events=False)
    try:
        await settle(after)
    finally:
        await after.close()


async def test_events_a_stopped_worker_left_are_written_by_the_next(indicators, auth,
                                                                   monkeypatch):
    """The worker stops while it writes a protection's events (a part per round): the next
    one protects the period again and writes the events still due (before, it went round
    and round without end, for their period was not held)."""
    monkeypatch.setattr(publishing, "EVENTS_PER_ROUND", 1)
    async with indicators(snapshot_worker="off", indicator_publisher_enabled=True) as svc:
        await small_register(svc.client, auth("admin"))
        before = own_worker(svc, debounce_s=0.0, protect_interval_s=0.0)
        try:
            await settle(before)
            published = await _events_of(svc, "WK034401")
            events = len(await outbox_events(svc, AREA_INDICATORS_UPDATED))
            await record_each(svc.runtime, households("BU03440101", 12))
            for _ in range(100):  # until its public side is stored, and some of its events
                await before.round()
                if (len(await outbox_events(svc, AREA_INDICATORS_UPDATED)) > events
                        and not any((await _stored(svc)).values())):
                    break
        finally:
            await before.close()
        assert await _dirty(svc)
        assert await _stored(svc) == dict.fromkeys(
            (str(current_period(utcnow())), f"month:{utcnow():%Y-%m}"), False)
        after = own_worker(svc, debounce_s=0.0)
        try:
            await settle(after)
        finally:
            await after.close()
        assert await _dirty(svc) == 0
        assert await _events_of(svc, "WK034401") == published + 1


async def _stored(svc) -> dict[str, bool]:
    async with svc.runtime.sessions() as session:
        return await store.stored_periods(session)


async def _dirty(svc) -> int:
    async with svc.runtime.sessions() as session:
        return len(await publication_repository.dirty_marks(session))


async def _events_of(svc, code: str) -> int:
    return sum(key == code for key, _ in await outbox_events(svc, AREA_INDICATORS_UPDATED))
