"""The indicators runtime: the shared one plus what turns signal facts into published figures."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.indicators.cellkey import RecordKeys, record_keys
from services.indicators.computation.service import PeriodBoundsCache
from services.indicators.models import Inbox, Outbox
from services.indicators.reporting.rankings import RankingCache
from services.indicators.settings import Settings
from services.indicators.snapshots.process import InlineWorker, WorkerProcess
from services.indicators.snapshots.reader import SnapshotReader
from services.indicators.snapshots.worker import SnapshotWorker
from services.indicators.stream.handlers import ROUTES
from services.indicators.stream.record_keys import fill_record_keys
from services.indicators.stream.retention import RetentionClock, retention_clock
from shared.consumer import EventConsumer
from shared.contracts import areas, indicators, signals
from shared.db import engine_for, sessionmaker
from shared.fastpath import collect_less_often
from shared.kafka import dlq_topic
from shared.runtime import Runtime, runtime_of

log = logging.getLogger(__name__)

# Owned (areas, indicators) and consumed (signals), each with its dead-letter topic.
TOPICS = [areas.TOPIC, indicators.TOPIC, signals.TOPIC]


@dataclass
class IndicatorsRuntime(Runtime):
    """The shared runtime plus the cache that API readers share, the debounced publisher of
    indicator events, the pseudonym retention clock (with an inline worker only), and the
    record keys of the cell-key method in every session's `info` (the consumer stores them
    with each fact)."""

    settings: Settings
    period_bounds: PeriodBoundsCache = field(init=False)
    reader: SnapshotReader = field(init=False)
    rankings: RankingCache = field(init=False)
    snapshots: SnapshotWorker = field(init=False)
    worker_process: WorkerProcess | None = field(init=False, default=None)
    inline_worker: InlineWorker | None = field(init=False, default=None)
    read_engine: AsyncEngine = field(init=False)
    retention: RetentionClock | None = field(init=False, default=None)
    record_keys: RecordKeys = field(init=False)

    @classmethod
    def of(cls, settings: Settings) -> IndicatorsRuntime:
        return cls(settings, outbox=Outbox,
                   topics=TOPICS + [dlq_topic(t) for t in TOPICS],
                   consumer_factory=_signals_consumer)

    async def start(self) -> None:
        s = self.settings
        self.period_bounds = PeriodBoundsCache(grace_days=s.period_grace_days,
                                               bounds_ttl_s=s.period_bounds_cache_s)
        self.record_keys = record_keys(s.cell_key_secret, s.dev_keys_file)
        collect_less_often()  # its readers hold every period's stored areas
        await super().start()
        self.configure_sessions()
        # Plain transactions on SQLite: the readers' and the worker's reads never wait for
        # a writer (each is BEGIN IMMEDIATE there), and block none.
        self.read_engine = engine_for(s, reads_only=True)
        reads = sessionmaker(self.read_engine)
        self.reader = SnapshotReader(reads, self.sessions, self.period_bounds,
                                     refresh_s=s.snapshot_read_refresh_s,
                                     wait_s=s.snapshot_wait_s)
        self.rankings = RankingCache()
        self.snapshots = SnapshotWorker(
            self.sessions, reads, source=s.cloudevents_source(),
            publish_events=s.indicator_publisher_enabled, debounce_s=s.indicator_debounce_s,
            index_interval_s=s.snapshot_index_interval_s,
            republish_interval_s=s.indicator_republish_interval_s,
            protect_interval_s=s.snapshot_protect_interval_s,
            grace_days=s.period_grace_days, after_commit=self.notify_relay, tracer=self.tracer,
            protect_in_process=s.snapshot_protection == "process")
        filled = await fill_record_keys(self.sessions, self.record_keys)
        if filled:
            log.info("record keys filled in", extra={"facts": filled})
        if s.snapshot_worker == "process":
            self.worker_process = WorkerProcess(s)
            self.worker_process.start()
        elif s.snapshot_worker == "inline":
            self.inline_worker = InlineWorker(self.snapshots, s.snapshot_poll_s)
            self.inline_worker.start()
        # The retention clock runs beside the snapshot worker: settling a month updates a
        # year of facts (seconds of SQLite work nationally), which must not hold the API's
        # event loop. Inline (tiny set-ups) it runs here.
        if s.snapshot_worker == "inline":
            self.retention = retention_clock(s, self.sessions, self.tracer)

    def configure_sessions(self) -> None:
        self.sessions.configure(info={"event_source": self.settings.cloudevents_source(),
                                      "record_keys": self.record_keys})

    async def stop(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        if self.inline_worker is not None:
            await self.inline_worker.stop()
        if self.worker_process is not None:
            await self.worker_process.stop()
        await self.snapshots.close()
        await super().stop()
        await self.reader.close()
        await self.read_engine.dispose()


def _signals_consumer(rt: Runtime) -> list[EventConsumer]:
    assert isinstance(rt, IndicatorsRuntime)
    # The shared runtime starts consumers before `start` above gets to the sessions: the
    # facts this one stores need the record keys in their session's `info` from the first.
    rt.configure_sessions()
    s = rt.settings
    return [EventConsumer(s.signals_consumer_group, [signals.TOPIC], ROUTES, s, rt.sessions,
                          Inbox, rt.producer, after_commit=rt.notify_relay)]


def indicators_runtime(request: Request) -> IndicatorsRuntime:
    rt = runtime_of(request)
    assert isinstance(rt, IndicatorsRuntime)
    return rt
