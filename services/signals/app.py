"""The signals service: doorstep signals in, thin events out."""

from __future__ import annotations

from fastapi import FastAPI

from services.signals.accesslog.endpoints import router as access_log_router
from services.signals.casework.endpoints import router as casework_router
from services.signals.categories.endpoints import router as categories_router
from services.signals.consents.endpoints import router as consents_router
from services.signals.datasubjects.endpoints import router as data_subjects_router
from services.signals.intake.endpoints import router as intake_router
from services.signals.models import Outbox
from services.signals.referrals.endpoints import router as referrals_router
from services.signals.runtime import SignalsRuntime
from services.signals.settings import Settings
from services.signals.webhooks.endpoints import router as webhooks_router
from shared.api import create_app
from shared.contracts.signals import TOPIC
from shared.kafka import dlq_topic


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()
    return create_app(
        s,
        title="Dicht de kloof: signals",
        description="Doorstep signals from housing-corporation field staff and partners: "
        "intake, privacy by design, referrals to partners and their outcomes.",
        # intake before case work: `/signals/batch` must not match `/signals/{signalId}`.
        routers=[categories_router, intake_router, casework_router, consents_router,
                 referrals_router, access_log_router, data_subjects_router, webhooks_router],
        runtime=lambda: SignalsRuntime(
            s, outbox=Outbox,
            topics=[TOPIC, dlq_topic(TOPIC), s.access_log_checkpoint_topic]),
    )


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.signals.app:app`."""
    return build()
