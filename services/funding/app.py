"""The funding service: explainable allocation of programme budgets."""

from __future__ import annotations

from fastapi import FastAPI

from services.funding.areas.endpoints import router as areas_router
from services.funding.areas.handlers import ROUTES as AREA_ROUTES
from services.funding.codelists import router as code_lists_router
from services.funding.inputs.endpoints import router as inputs_router
from services.funding.inputs.handlers import ROUTES as INDICATOR_ROUTES
from services.funding.models import Inbox, Outbox
from services.funding.programmes.endpoints import router as programmes_router
from services.funding.runtime import FundingRuntime
from services.funding.scenarios.endpoints import router as scenarios_router
from services.funding.settings import Settings
from shared.api import create_app
from shared.consumer import EventConsumer
from shared.contracts import areas, funding, indicators
from shared.kafka import dlq_topic
from shared.runtime import Runtime


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()

    def consumers(rt: Runtime) -> list[EventConsumer]:
        # One group for both inputs: one rebalance, and areas and indicators each keep
        # their per-key order.
        return [EventConsumer(
            "funding.inputs", [areas.TOPIC, indicators.TOPIC], AREA_ROUTES + INDICATOR_ROUTES,
            s, rt.sessions, Inbox, rt.producer, after_commit=rt.notify_relay,
        )]

    topics = [funding.TOPIC, areas.TOPIC, indicators.TOPIC]
    return create_app(
        s,
        title="Dicht de kloof: funding",
        description="Allocation of programme budgets over areas by an explainable, exact "
        "formula on the neighbourhood indicators, with scenarios and four-eyes approval.",
        routers=[inputs_router, areas_router, programmes_router, scenarios_router,
                 code_lists_router],
        runtime=lambda: FundingRuntime(s, outbox=Outbox,
                                       topics=topics + [dlq_topic(t) for t in topics],
                                       consumer_factory=consumers,
                                       recompute_interval_s=s.recompute_interval_s),
    )


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.funding.app:app`."""
    return build()
