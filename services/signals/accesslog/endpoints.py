"""Privacy officers read and verify the access log of personal-data reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.signals.accesslog import repository, service, views
from services.signals.accesslog.schemas import AccessLogPage, ChainVerification
from services.signals.dependencies import CryptoDep, PrivacyOfficer, SessionDep, SettingsDep
from shared.openapi import problem_responses
from shared.pagination import MAX_LIMIT, decode_id_cursor, encode_cursor, split_page
from shared.wire import Moment

router = APIRouter(tags=["access log"])


@router.get("/access-log", response_model=AccessLogPage, responses=problem_responses(400))
async def list_access_log(
    session: SessionDep, principal: PrivacyOfficer,
    record_id: Annotated[str | None, Query(alias="recordId", max_length=200)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    organisation: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[Moment | None, Query(description="From this moment on")] = None,
    until: Annotated[Moment | None, Query(description="Before this moment")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> AccessLogPage:
    """Reads of personal data in your organisation's records or by your organisation."""
    after = decode_id_cursor(cursor) if cursor else None
    rows = await repository.search(
        session, principal.organisation, record_ids=[record_id] if record_id else None,
        subject=subject, reader_organisation=organisation, since=since, until=until,
        after_id=after, limit=limit + 1)
    page, last = split_page(rows, limit)
    return AccessLogPage(items=[views.entry(r) for r in page],
                         next_cursor=encode_cursor(last.id) if last else None)


@router.get("/access-log/verification", response_model=ChainVerification,
            responses=problem_responses(400, 503))
async def verify_access_log(
    session: SessionDep, principal: PrivacyOfficer, crypto: CryptoDep, settings: SettingsDep,
    full: Annotated[bool, Query(description="Walk the whole chain, not only what the last "
                                            "verified checkpoint does not cover")] = False,
) -> ChainVerification:
    """Verify the access log against its latest checkpoint (tampering, removal, reordering)."""
    return await service.verify(session, settings, crypto.access_log_key,
                                principal.organisation, full=full)
