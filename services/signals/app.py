"""The signals service: doorstep signals in, thin events out."""

from __future__ import annotations

from fastapi import FastAPI

from services.signals.intake.endpoints import router as intake_router
from services.signals.models import Outbox
from services.signals.settings import Settings
from shared.api import create_app
from shared.contracts.signals import TOPIC
from shared.kafka import dlq_topic
from shared.runtime import Runtime


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()
    return create_app(
        s,
        title="Dicht de kloof: signals",
        description="Doorstep signals from housing-corporation field staff and partners: "
        "intake, privacy by design, referrals to partners and their outcomes.",
        routers=[intake_router],
        runtime=lambda: Runtime(s, outbox=Outbox, topics=[TOPIC, dlq_topic(TOPIC)]),
    )


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.signals.app:app`."""
    return build()
