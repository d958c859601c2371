"""HTTP edge of consent: record it per purpose, withdraw it, record an objection."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.casework.schemas import ConsentRead, ObjectionRead
from services.signals.casework.service import own_signal
from services.signals.consents import service
from services.signals.consents.schemas import (
    CODE,
    ConsentCreate,
    ObjectionCreate,
    WithdrawalCreate,
    WithdrawalRead,
)
from services.signals.dependencies import CryptoDep, SessionDep, SettingsDep, SignalId, Staff
from services.signals.models import Signal
from shared.auth import Principal
from shared.openapi import problem_responses

PurposeCode = Annotated[str, Path(pattern=CODE, max_length=64)]
router = APIRouter(tags=["consents"])


async def _signal(session: AsyncSession, signal_id: uuid.UUID, principal: Principal) -> Signal:
    signal = await own_signal(session, signal_id, principal.organisation)
    service.check_recorder(principal, signal)
    return signal


@router.post("/signals/{signalId}/consents", status_code=status.HTTP_201_CREATED,
             response_model=ConsentRead, responses=problem_responses(400, 403, 404))
async def record_consent(signal_id: SignalId, body: ConsentCreate, session: SessionDep,
                         principal: Staff) -> ConsentRead:
    """Record the resident's consent to one purpose (with when, and by whom)."""
    signal = await _signal(session, signal_id, principal)
    return service.record_consent(session, signal, principal, body.purpose, body.given_at)


@router.post("/signals/{signalId}/consents/{purpose}/withdrawal",
             status_code=status.HTTP_201_CREATED, response_model=WithdrawalRead,
             responses=problem_responses(400, 403, 404, 409))
async def withdraw_consent(
    signal_id: SignalId, purpose: PurposeCode, body: WithdrawalCreate, session: SessionDep,
    settings: SettingsDep, crypto: CryptoDep, principal: Staff,
) -> WithdrawalRead:
    """Withdraw the consent to one purpose; referrals for it are withdrawn too."""
    signal = await _signal(session, signal_id, principal)
    return await service.withdraw(session, signal, principal, purpose, body.withdrawn_at,
                                  settings.cloudevents_source(), crypto.cipher)


@router.post("/signals/{signalId}/objections", status_code=status.HTTP_201_CREATED,
             response_model=ObjectionRead, responses=problem_responses(400, 403, 404))
async def record_objection(
    signal_id: SignalId, body: ObjectionCreate, session: SessionDep, settings: SettingsDep,
    crypto: CryptoDep, principal: Staff,
) -> ObjectionRead:
    """Record the resident's objection to one purpose: referrals for it are refused and the
    open ones withdrawn."""
    signal = await _signal(session, signal_id, principal)
    return await service.record_objection(session, signal, principal, body.purpose,
                                          body.objected_at, settings.cloudevents_source(),
                                          crypto.cipher)
