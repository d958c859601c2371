"""Privacy officers answer data-subject requests (address or unitRef in the body)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from services.signals.datasubjects import service
from services.signals.datasubjects.schemas import (
    DataSubjectErasure,
    DataSubjectExport,
    DataSubjectQuery,
)
from services.signals.runtime import CryptoDep, SettingsDep
from shared.auth import Principal, Role, require_roles
from shared.openapi import problem_responses
from shared.runtime import SessionDep

router = APIRouter(tags=["data subjects"])
PrivacyOfficer = Annotated[Principal, require_roles(Role.PRIVACY_OFFICER)]


@router.post("/data-subject-exports", response_model=DataSubjectExport,
             responses=problem_responses(400))
async def export_data_subject(
    body: DataSubjectQuery, session: SessionDep, crypto: CryptoDep, principal: PrivacyOfficer,
) -> DataSubjectExport:
    """Everything your organisation holds on a household, and who received what when."""
    return await service.export(session, body, principal, crypto)


@router.post("/data-subject-erasures", response_model=DataSubjectErasure,
             responses=problem_responses(400))
async def erase_data_subject(
    body: DataSubjectQuery, session: SessionDep, crypto: CryptoDep, settings: SettingsDep,
    principal: PrivacyOfficer,
) -> DataSubjectErasure:
    """Erase a household's personal data from your organisation's signals."""
    return await service.erase(session, body, principal, crypto, settings.cloudevents_source())
