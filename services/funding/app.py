"""The funding service: explainable allocation of programme budgets."""

from __future__ import annotations

from fastapi import FastAPI

from services.funding.inputs.endpoints import router as inputs_router
from services.funding.inputs.handlers import ROUTES
from services.funding.models import Inbox, Outbox
from services.funding.settings import Settings
from shared.api import create_app
from shared.consumer import EventConsumer
from shared.contracts import funding, indicators
from shared.kafka import dlq_topic
from shared.runtime import Runtime


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()

    def consumers(rt: Runtime) -> list[EventConsumer]:
        return [EventConsumer(
            "funding.indicators", [indicators.TOPIC], ROUTES, s, rt.sessions, Inbox,
            rt.producer, after_commit=rt.notify_relay,
        )]

    topics = [funding.TOPIC, indicators.TOPIC]
    return create_app(
        s,
        title="Dicht de kloof: funding",
        description="Allocation of programme budgets over areas by an explainable, exact "
        "formula on the neighbourhood indicators, with scenarios and four-eyes approval.",
        routers=[inputs_router],
        runtime=lambda: Runtime(s, outbox=Outbox,
                                topics=topics + [dlq_topic(t) for t in topics],
                                consumer_factory=consumers),
    )


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.funding.app:app`."""
    return build()
