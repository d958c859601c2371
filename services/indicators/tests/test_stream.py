"""The signals.v1 consumer over the real broker: duplicates, reordering, erasure, replay."""

from __future__ import annotations

import contextlib
import random
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from sqlalchemy import event, select

from services.indicators.models import DirtyArea, Inbox, SignalFact, SnapshotMark
from services.indicators.stream.handlers import ROUTES
from services.indicators.stream.service import mark_dirty
from services.indicators.tests.helpers import recorded, value
from shared.consumer import EventConsumer
from shared.contracts.signals import (
    SIGNAL_ERASED,
    SIGNAL_ERASED_V1,
    SIGNAL_ESCALATED,
    SIGNAL_RECORDED,
    SignalErased,
    SignalErasedV1,
    SignalEscalated,
)
from shared.events import CloudEvent
from shared.kafka import ensure_topics
from tests.helpers import eventually

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _event(event_type, data) -> CloudEvent:
    return CloudEvent.new("urn:test:signals", event_type.type, data)


async def _indicators(svc, area, period):
    r = await svc.client.get(f"/v1/areas/{area}/indicators", params={"period": period},
                             headers=svc.admin)
    return r.json() if r.status_code == 200 else None


async def test_the_consumer_counts_each_signal_once_in_its_month_and_replays_identically(
        indicators, auth, broker, database_url):
    area = f"BU{random.randint(8000, 8999)}0101"  # noqa: S311 (a code unique to this run)
    s1, s2, s3, s4, s5, s6 = (uuid.uuid4() for _ in range(6))
    first = _event(SIGNAL_RECORDED, recorded(area, "hh-1", signal_id=s1))
    events = [
        first, first,  # redelivered: the inbox applies it once
        _event(SIGNAL_RECORDED, recorded(area, "hh-2", signal_id=s2)),
        _event(SIGNAL_RECORDED, recorded(area, "hh-2", signal_id=s2)),  # same signal, new id
        # Version 1, as erasures sent before v2 still are on the topic.
        _event(SIGNAL_ERASED_V1, SignalErasedV1(signal_id=s3, area_code=area,
                                               household_stats_pseudonym="hh-3",
                                               erased_at=NOW)),
        _event(SIGNAL_RECORDED, recorded(area, "hh-3", signal_id=s3)),  # after its erasure
        _event(SIGNAL_RECORDED, recorded(area, "hh-4", signal_id=s4, category="nuisance")),
        _event(SIGNAL_ERASED, SignalErased(signal_id=s4, area_code=area, erased_at=NOW)),
        _event(SIGNAL_ESCALATED, SignalEscalated(signal_id=s5, area_code=area,
                                                 category="unsafe-situation",
                                                 severity="acute", escalated_at=NOW)),
        _event(SIGNAL_RECORDED, recorded(area, "hh-5", signal_id=s5,
                                         category="unsafe-situation")),
        _event(SIGNAL_RECORDED, recorded(area, "hh-6", signal_id=s6, observed="2025-12-03")),
    ]
    group = f"indicators.test.{uuid.uuid4().hex[:8]}"
    async with indicators(consumer_enabled=True, signals_consumer_group=group) as svc:
        svc.admin = auth("admin")
        await ensure_topics(svc.runtime.settings, ["signals.v1"])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap_servers)
        await producer.start()
        try:
            for e in events:
                await producer.send_and_wait("signals.v1", e.value(), key=area.encode(),
                                             headers=e.headers())
        finally:
            await producer.stop()

        async def settled():
            body = await _indicators(svc, area, "month:2025-12")
            return body if body and value(body, "signals")["value"] == 1 else None

        await eventually(settled)
        october = await _indicators(svc, area, "month:2026-10")
        assert value(october, "signals")["value"] == 3  # s1, s2, s5
        assert value(october, "signalled-households")["value"] == 3
        assert value(october, "acute-escalations")["value"] == 1  # escalated before recorded
        year = await _indicators(svc, area, "rolling-12m:2026-11")
        assert value(year, "signals")["value"] == 4  # with the late one of 2025-12
        expected = [await _indicators(svc, area, p)
                    for p in ("month:2025-12", "month:2026-10", "rolling-12m:2026-11")]

    # A new consumer group on a fresh database replays the topic from its beginning.
    replay_group = f"indicators.replay.{uuid.uuid4().hex[:8]}"
    async with indicators(consumer_enabled=True, signals_consumer_group=replay_group,
                          database_url=database_url("indicators-replay")) as svc:
        svc.admin = auth("admin")
        await eventually(settled)

        async def same():
            got = [await _indicators(svc, area, p)
                   for p in ("month:2025-12", "month:2026-10", "rolling-12m:2026-11")]
            return got == expected

        await eventually(same)


async def test_a_transactions_marks_are_written_once_at_its_commit(indicators):
    """Marks wait for the commit and go in together (one statement per table); a rolled
    back transaction leaves none, and none are left over for the session's next one."""
    async with indicators() as svc:
        sessions = svc.runtime.sessions
        async with sessions() as session:
            async with session.begin():
                for code, month in [("BU1", "2026-10"), ("BU1", "2026-11"), ("BU2", "2026-10"),
                                    ("BU1", "2026-10")]:
                    await mark_dirty(session, code, month)
                assert await session.scalar(select(SnapshotMark.code)) is None  # not yet
            with contextlib.suppress(RuntimeError):
                async with session.begin():
                    await mark_dirty(session, "BU3", "2026-12")
                    raise RuntimeError("rolled back")
            async with session.begin():
                pass  # a later transaction of the same session writes no stale mark
        async with sessions() as session:
            dirty = sorted(await session.scalars(select(DirtyArea.code)))
            marks = sorted((await session.execute(
                select(SnapshotMark.code, SnapshotMark.month))).all())
        assert dirty == ["BU1", "BU2"]
        assert marks == [("BU1", "2026-10"), ("BU1", "2026-11"), ("BU2", "2026-10")]


async def test_a_batch_looks_its_signals_up_together_and_heeds_what_it_changes(indicators):
    """The consumer's batch looks up all its signals in one statement before applying them.
    What an event of the same batch changes is not taken from that look-up: a signal erased
    or escalated earlier in the batch, or recorded twice in it, counts as it would one by
    one."""
    area = "BU03440101"
    plain = [recorded(area, f"hh-{i}") for i in range(30)]
    erased, escalated, twice, gone = (uuid.uuid4() for _ in range(4))
    mixed = [
        _event(SIGNAL_RECORDED, recorded(area, "hh-a", signal_id=twice)),
        _event(SIGNAL_ERASED, SignalErased(signal_id=erased, area_code=area, erased_at=NOW)),
        _event(SIGNAL_RECORDED, recorded(area, "hh-b", signal_id=erased)),
        _event(SIGNAL_ESCALATED, SignalEscalated(signal_id=escalated, area_code=area,
                                                 category="unsafe-situation",
                                                 severity="acute", escalated_at=NOW)),
        _event(SIGNAL_RECORDED, recorded(area, "hh-c", signal_id=escalated)),
        _event(SIGNAL_RECORDED, recorded(area, "hh-a", signal_id=twice)),  # another event id
        _event(SIGNAL_RECORDED, recorded(area, "hh-d", signal_id=gone)),
    ]
    async with indicators() as svc:
        rt = svc.runtime
        consumer = EventConsumer("batch", ["signals.v1"], ROUTES, rt.settings, rt.sessions,
                                 Inbox, rt.producer)
        look_ups: list[str] = []

        @event.listens_for(rt.engine.sync_engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "signal_tombstones" in statement:
                look_ups.append(statement)

        records = [_record(_event(SIGNAL_RECORDED, s), i) for i, s in enumerate(plain)]
        assert await consumer.apply_together(records)
        assert len(look_ups) == 1, "one look-up for the batch"
        # `gone` was erased in an earlier batch: the look-up finds its tombstone.
        assert await consumer.apply_together([_record(_event(SIGNAL_ERASED, SignalErased(
            signal_id=gone, area_code=area, erased_at=NOW)), 90), _record(_event(
                SIGNAL_RECORDED, recorded(area, "hh-x")), 91)])
        assert await consumer.apply_together([_record(e, 100 + i) for i, e in enumerate(mixed)])
        async with rt.sessions() as session:
            facts = {f.signal_id: f for f in await session.scalars(
                select(SignalFact).where(SignalFact.signal_id.in_([erased, escalated, twice,
                                                                     gone])))}
        assert set(facts) == {escalated, twice}
        assert facts[escalated].acute


def _record(e: CloudEvent, offset: int) -> ConsumerRecord:
    return ConsumerRecord("signals.v1", 0, offset, 0, 0, b"k", e.value(), None, 0, 0,
                          e.headers())
