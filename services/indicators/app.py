"""The indicators service: area register, neighbourhood indicators, vulnerability index."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import FastAPI

from services.indicators.cbs_csv import MAX_KERNCIJFERS_BYTES
from services.indicators.cellkey import RecordKeys, record_keys
from services.indicators.computation.service import ComputationCache
from services.indicators.maps.endpoints import router as maps_router
from services.indicators.maps.geometries import MAX_GEOMETRY_BYTES
from services.indicators.models import Inbox, Outbox
from services.indicators.publication.endpoints import router as publication_router
from services.indicators.publication.publisher import IndicatorPublisher
from services.indicators.register.endpoints import router as register_router
from services.indicators.reporting.endpoints import router as reporting_router
from services.indicators.settings import Settings
from services.indicators.stream.handlers import ROUTES
from services.indicators.stream.record_keys import fill_record_keys
from services.indicators.stream.retention import RetentionClock
from shared.api import create_app
from shared.consumer import EventConsumer
from shared.contracts import areas, indicators, signals
from shared.kafka import dlq_topic
from shared.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class IndicatorsRuntime(Runtime):
    """The shared runtime plus the debounced publisher of indicator events, the pseudonym
    retention clock, and the record keys of the cell-key method in every session's `info`
    (the consumer stores them)."""

    publisher: IndicatorPublisher | None = field(init=False, default=None)
    retention: RetentionClock | None = field(init=False, default=None)
    record_keys: RecordKeys = field(init=False)

    def configure_sessions(self) -> None:
        s = self.settings
        self.sessions.configure(info={"event_source": s.cloudevents_source(),
                                      "record_keys": self.record_keys})

    async def start(self) -> None:
        s = self.settings
        assert isinstance(s, Settings)
        self.record_keys = record_keys(s.cell_key_secret, s.dev_keys_file)
        await super().start()
        self.configure_sessions()
        filled = await fill_record_keys(self.sessions, self.record_keys)
        if filled:
            log.info("record keys filled in", extra={"facts": filled})
        if s.indicator_publisher_enabled:
            self.publisher = IndicatorPublisher(
                self.sessions, s.cloudevents_source(), s.indicator_debounce_s, self.notify_relay,
                tracer=self.tracer, grace_days=s.period_grace_days)
            self.publisher.start()
        if s.pseudonym_retention_interval_s > 0:
            self.retention = RetentionClock(
                self.sessions, timedelta(days=s.late_signal_grace_days),
                s.pseudonym_retention_interval_s, tracer=self.tracer)
            self.retention.start()

    async def stop(self) -> None:
        if self.retention is not None:
            await self.retention.stop()
        if self.publisher is not None:
            await self.publisher.stop()
        await super().stop()


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()

    def consumers(rt: Runtime) -> list[EventConsumer]:
        assert isinstance(rt, IndicatorsRuntime)
        rt.configure_sessions()
        return [EventConsumer(
            s.signals_consumer_group, [signals.TOPIC], ROUTES, s, rt.sessions, Inbox,
            rt.producer, after_commit=rt.notify_relay,
        )]

    topics = [areas.TOPIC, indicators.TOPIC, signals.TOPIC]
    app = create_app(
        s,
        title="Dicht de kloof: indicators",
        description="The register of areas with open statistics, neighbourhood indicators "
        "computed from the signal stream, and a composite vulnerability index. Every output "
        "for a non-admin is under disclosure control (docs/disclosure.md): counts of 1-4 are "
        "withheld (`small-count`), other counts carry a consistent cell-key perturbation of at "
        "most 4, rates on fewer than 20 dwellings or shares of fewer than 100 households are "
        "refused (`small-denominator`), and further cells are withheld (`secondary`: 1 or "
        "more) so that no withheld count can be worked out from other figures. Those who "
        "record signals read every organisation's figures of final periods only.",
        routers=[register_router, reporting_router, publication_router, maps_router],
        runtime=lambda: IndicatorsRuntime(s, outbox=Outbox,
                                          topics=topics + [dlq_topic(t) for t in topics],
                                          consumer_factory=consumers),
        # A whole CBS Kerncijfers file: larger than an API body, still bounded on the bytes read.
        body_limits={"/v1/areas/import": MAX_KERNCIJFERS_BYTES,
                     "/v1/area-geometries/import": MAX_GEOMETRY_BYTES},
    )
    app.state.computation_cache = ComputationCache(ttl_s=s.indicator_cache_s,
                                                   grace_days=s.period_grace_days)
    return app


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.indicators.app:app`."""
    return build()
