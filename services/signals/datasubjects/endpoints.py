"""Privacy officers answer data-subject requests (address or unitRef in the body)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.signals.datasubjects import repository, service, views
from services.signals.datasubjects.schemas import (
    DataSubjectErasure,
    DataSubjectExport,
    DataSubjectQuery,
    ErasureRecordPage,
)
from services.signals.dependencies import CryptoDep, PrivacyOfficer, SessionDep, SettingsDep
from shared.openapi import problem_responses
from shared.pagination import MAX_LIMIT, decode_id_cursor, encode_cursor, split_page

router = APIRouter(tags=["data subjects"])


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


@router.get("/erasure-records", response_model=ErasureRecordPage,
            responses=problem_responses(400))
async def list_erasure_records(
    session: SessionDep, principal: PrivacyOfficer,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> ErasureRecordPage:
    """Every erasure and retention purge of your organisation's signals: who, when, why."""
    after = decode_id_cursor(cursor) if cursor else None
    rows = await repository.erasure_records(session, principal.organisation, after, limit + 1)
    page, last = split_page(rows, limit)
    return ErasureRecordPage(items=[views.erasure_record(r) for r in page],
                             next_cursor=encode_cursor(last.id) if last else None)
