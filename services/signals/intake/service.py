"""Signal intake: store the signal and its event in one transaction, idempotently."""

from __future__ import annotations

import hashlib
import hmac

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.intake.schemas import SignalCreate
from services.signals.models import Outbox, Signal
from services.signals.settings import Settings
from shared.auth import Principal
from shared.contracts.signals import SIGNAL_RECORDED, SignalRecorded
from shared.db import utcnow
from shared.outbox import record_event
from shared.problems import Conflict


def request_hash(body: SignalCreate) -> str:
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _pseudonym(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


async def record_signal(
    session: AsyncSession, body: SignalCreate, principal: Principal, settings: Settings
) -> tuple[Signal, bool]:
    """Returns (signal, created). A replay with the same body returns the stored signal."""
    digest = request_hash(body)
    existing = await session.get(Signal, body.id)
    if existing is not None:
        if existing.request_hash != digest or existing.organisation != principal.organisation:
            raise Conflict(f"signal {body.id} exists with a different body")
        return existing, False
    household = f"{principal.organisation}:{body.unit_ref or body.id}"
    signal = Signal(
        id=body.id, organisation=principal.organisation, reported_by=principal.subject,
        category=body.category, subcategory=body.subcategory, severity=body.severity,
        area_code=body.area_code, observed_at=body.observed_at, recorded_at=utcnow(),
        status="new", version=1,
        household_pseudonym=_pseudonym("operational-dev-key", household),
        household_stats_pseudonym=_pseudonym("statistics-dev-key", household),
        request_hash=digest,
    )
    session.add(signal)
    record_event(
        session, Outbox, SIGNAL_RECORDED,
        SignalRecorded(
            signal_id=signal.id, category=signal.category, subcategory=signal.subcategory,
            severity=signal.severity, area_code=signal.area_code,
            observed_at=signal.observed_at, recorded_at=signal.recorded_at,
            organisation=signal.organisation,
            household_stats_pseudonym=signal.household_stats_pseudonym,
        ),
        key=signal.area_code, source=settings.cloudevents_source(),
        subject=str(signal.id),
    )
    return signal, True
