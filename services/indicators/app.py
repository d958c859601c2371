"""The indicators service: area register, neighbourhood indicators, vulnerability index."""

from __future__ import annotations

from fastapi import FastAPI

from services.indicators.models import Inbox, Outbox
from services.indicators.register.endpoints import router as register_router
from services.indicators.settings import Settings
from services.indicators.stream.handlers import ROUTES
from shared.api import create_app
from shared.consumer import EventConsumer
from shared.contracts import areas, indicators, signals
from shared.kafka import dlq_topic
from shared.runtime import Runtime


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()

    def consumers(rt: Runtime) -> list[EventConsumer]:
        rt.sessions.configure(info={"event_source": s.cloudevents_source()})
        return [EventConsumer(
            "indicators.signals", [signals.TOPIC], ROUTES, s, rt.sessions, Inbox,
            rt.producer, after_commit=rt.notify_relay,
        )]

    topics = [areas.TOPIC, indicators.TOPIC, signals.TOPIC]
    return create_app(
        s,
        title="Dicht de kloof: indicators",
        description="The register of areas with open statistics, neighbourhood indicators "
        "computed from the signal stream, and a composite vulnerability index, all under "
        "disclosure control.",
        routers=[register_router],
        runtime=lambda: Runtime(s, outbox=Outbox,
                                topics=topics + [dlq_topic(t) for t in topics],
                                consumer_factory=consumers),
    )


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.indicators.app:app`."""
    return build()
