"""HTTP edge of signal intake: parse, authorise, call the service."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from services.signals.intake import service
from services.signals.intake.schemas import SignalCreate, SignalRead
from services.signals.models import Signal
from shared.auth import Principal, Role, require_roles
from shared.openapi import problem_responses
from shared.problems import NotFound
from shared.runtime import RuntimeDep, SessionDep

router = APIRouter(tags=["signals"])


@router.post(
    "/signals", status_code=status.HTTP_201_CREATED, response_model=SignalRead,
    responses={200: {"description": "Replay of a stored signal", "model": SignalRead},
               **problem_responses(409, 413)},
)
async def create_signal(
    body: SignalCreate, response: Response, session: SessionDep, rt: RuntimeDep,
    principal: Principal = require_roles(Role.FIELD_WORKER, Role.PARTNER),
) -> Signal:
    """Record a doorstep signal (idempotent on `id`)."""
    signal, created = await service.record_signal(session, body, principal, rt.settings)  # type: ignore[arg-type]
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/v1/signals/{signal.id}"
    return signal


@router.get("/signals/{signal_id}", response_model=SignalRead,
            responses=problem_responses(404))
async def get_signal(
    signal_id: uuid.UUID, session: SessionDep,
    principal: Principal = require_roles(Role.FIELD_WORKER, Role.COORDINATOR),
) -> Signal:
    """One signal of the caller's organisation."""
    signal = await session.get(Signal, signal_id)
    if signal is None or signal.organisation != principal.organisation:
        raise NotFound(f"no signal {signal_id} for your organisation")
    return signal
