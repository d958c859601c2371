"""The snapshot worker's rounds: what a new signal waits for, and what waits for what.

A round counts the current rolling period's new marks first and stores them at once; the
other periods count the marks (and a protection's changed rows are stored, a part at a time)
at most every `OTHERS_INTERVAL_S` while new marks keep coming; a protection's events go out
after its last row.
"""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from services.indicators.computation import definitions
from services.indicators.models import DirtyArea, SnapshotArea
from services.indicators.publication import repository as publication_repository
from services.indicators.snapshots import lanes, publishing, store
from services.indicators.snapshots import worker as snapshot_worker
from services.indicators.tests.helpers import (
    households,
    outbox_events,
    record_each,
    recorded,
    settle,
    small_register,
    value,
)
from shared.contracts.indicators import AREA_INDICATORS_UPDATED, AreaIndicatorsUpdated
from shared.db import utcnow
from tests.helpers import eventually


async def test_the_rolling_period_counts_new_marks_at_once_the_others_after(
        indicators, auth, monkeypatch):
    """What readers read most (the current rolling period) counts a new mark in the next
    round; the current month counts it once the rolling period has nothing new to count
    (or `OTHERS_INTERVAL_S` after it last did, under constant intake), and only then are
    the marks cleared."""
    monkeypatch.setattr(snapshot_worker, "OTHERS_INTERVAL_S", 3600)
    admin = auth("admin")
    today = utcnow()
    month, observed = f"month:{today:%Y-%m}", f"{today:%Y-%m}-01"
    async with indicators(snapshot_worker="off") as svc:
        await small_register(svc.client, admin)
        worker = svc.runtime.snapshots
        await settle(worker)

        async def signals(period: str | None = None) -> float:
            r = await svc.client.get("/v1/areas/BU03440101/indicators", headers=admin,
                                     params={"period": period} if period else None)
            assert r.status_code == 200, r.text
            return value(r.json(), "signals")["value"]

        async def signals_are(expected: float, period: str | None = None) -> None:
            async def seen() -> bool:
                return await signals(period) == expected

            await eventually(seen)

        async def marks() -> int:
            async with svc.runtime.sessions() as session:
                return len(await store.marks(session))

        await record_each(svc.runtime, households("BU03440101", 3, observed=observed))
        await worker.round()
        await signals_are(3.0)
        assert await signals(month) == 0 and await marks() == 1
        # The same buurt and month marked again: new to the rolling period, counted again.
        await record_each(svc.runtime, [recorded("BU03440101", "hh-later", observed=observed)])
        await worker.round()
        await signals_are(4.0)
        assert await signals(month) == 0 and await marks() == 1
        await worker.round()  # nothing new: the other periods count every mark
        await signals_are(4.0, month)
        assert await marks() == 0


async def test_a_protections_rows_are_stored_over_rounds_and_then_its_events(
        indicators, auth, monkeypatch):
    """At national intake a protection changes the public cells of thousands of areas; built
    and stored at once, they held the next round (and a new signal's figures) back by a
    second and more. A round stores a part of them. An event never says more than readers
    can read: the events come after the last part."""
    monkeypatch.setattr(snapshot_worker, "ROWS_PER_ROUND", 2)
    monkeypatch.setattr(lanes, "TAKEN_PER_TURN", 2)  # rounds between its parts too
    stored_parts: list[int] = []  # rows of the current period per write, in order
    published: list[tuple[int, list[str]]] = []  # (parts before it, areas that differed)
    write, write_events = snapshot_worker.store.write, publishing.write_events

    async def counted(session, period, rows, **kwargs):
        if period.startswith("rolling-12m:"):
            stored_parts.append(len(rows))
        return await write(session, period, rows, **kwargs)

    async def checked(session, period, part, now):
        stored = dict((await session.execute(
            select(SnapshotArea.code, SnapshotArea.public).where(
                SnapshotArea.period == period,
                SnapshotArea.code.in_([e.code for e in part])))).all())
        differ = []
        for event in part:
            data = AreaIndicatorsUpdated.model_validate(orjson.loads(event.row["data"]))
            cells = dict(zip((d.id for d in definitions.DEFINITIONS),
                             orjson.loads(stored[event.code]), strict=True))
            if any(cells[v.indicator_id][0] != v.value for v in data.values):
                differ.append(event.code)
        published.append((len(stored_parts), differ))
        return await write_events(session, period, part, now)

    async with indicators(indicator_publisher_enabled=True, indicator_debounce_s=0,
                          snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        await settle(svc.runtime.snapshots)  # what the register itself changed
        monkeypatch.setattr(snapshot_worker.store, "write", counted)
        monkeypatch.setattr(publishing, "write_events", checked)
        await record_each(svc.runtime, [*households("BU03440101", 12, observed="2026-11-02"),
                                        *households("BU03440201", 14, observed="2026-11-02")])
        await settle(svc.runtime.snapshots)
    assert published and all(not differ for _, differ in published), published
    # The marks' own rows at once; the protection's after, two at a time, over rounds.
    first_event = published[0][0]
    protected = stored_parts[1:first_event]
    assert len(protected) >= 3 and all(0 < n <= 2 for n in protected), stored_parts


async def test_events_waiting_for_their_rows_are_written_when_the_period_is_built_anew(
        indicators, auth, monkeypatch):
    """A register change builds the period whole while a protection's rows are still being
    stored: the new build stores every row, and the waiting events go out after it."""
    monkeypatch.setattr(snapshot_worker, "ROWS_PER_ROUND", 1)
    monkeypatch.setattr(lanes, "TAKEN_PER_TURN", 1)
    async with indicators(indicator_publisher_enabled=True, indicator_debounce_s=0,
                          snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        worker = svc.runtime.snapshots
        await settle(worker)
        before = len(await outbox_events(svc, AREA_INDICATORS_UPDATED))
        await record_each(svc.runtime, households("BU03440101", 12, observed="2026-11-02"))
        for _ in range(50):  # until a protection's rows are half stored, its events waiting
            await worker.round()
            waiting = worker._publishing.lane  # noqa: SLF001 (the moment this test is about)
            if waiting is not None and waiting.state.unstored:
                break
        else:
            raise AssertionError("no protection's rows were stored over rounds")
        r = await svc.client.put("/v1/areas/BU03440103", headers=auth("admin"), json={
            "name": "BU03440103 (nieuw)", "statistics": []})
        assert r.status_code == 200, r.text
        await settle(worker)
        keys = {key for key, _ in (await outbox_events(svc, AREA_INDICATORS_UPDATED))[before:]}
        async with svc.runtime.sessions() as session:
            left = await session.scalar(select(func.count()).select_from(DirtyArea))
    assert {"BU03440101", "WK034401", "GM0344", "NL00", "PA-test"} <= keys and left == 0


@pytest.mark.parametrize("database_kind", ["sqlite", "postgresql"], indirect=True)
async def test_a_signal_committed_during_a_rounds_reads_is_published_with_its_count(
        indicators, auth, monkeypatch):
    """A round reads the marks it counts, then the dirty marks it publishes: one snapshot of
    the database. A signal committed between the two reads (PostgreSQL's READ COMMITTED
    gave each statement its own snapshot) had its area published without it, its dirty mark
    cleared, and no later event: funding never got the buurt (CI, end-to-end test)."""
    read_dirty = publication_repository.dirty_marks
    committed: list[str] = []

    async def dirty_after_a_commit(session):
        if not committed:  # the consumer commits while the round reads
            committed.append("BU03440102")
            await record_each(svc.runtime, households("BU03440102", 12, observed="2026-11-02"))
        return await read_dirty(session)

    async with indicators(indicator_publisher_enabled=True, indicator_debounce_s=0,
                          snapshot_worker="off") as svc:
        await small_register(svc.client, auth("admin"))
        await settle(svc.runtime.snapshots)  # what the register itself changed
        monkeypatch.setattr(publication_repository, "dirty_marks", dirty_after_a_commit)
        # Twice: a round whose snapshot holds none of the signal has nothing to do.
        await settle(svc.runtime.snapshots)
        await settle(svc.runtime.snapshots)
        events = [AreaIndicatorsUpdated.model_validate(data) for key, data
                  in await outbox_events(svc, AREA_INDICATORS_UPDATED) if key == "BU03440102"]
        async with svc.runtime.sessions() as session:
            left = await session.scalar(select(func.count()).select_from(DirtyArea))
    assert committed and events, "the buurt was never published"
    signals = next(v for v in events[-1].values if v.indicator_id == "signals")
    assert signals.value is not None and signals.value > 0, events[-1]
    assert left == 0
