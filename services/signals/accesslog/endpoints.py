"""Privacy officers read and verify the access log of personal-data reads."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query

from services.signals.accesslog import repository, service
from services.signals.accesslog.schemas import AccessLogEntryRead, AccessLogPage, ChainVerification
from services.signals.pagination import MAX_LIMIT, decode_id_cursor, encode_cursor
from services.signals.runtime import CryptoDep, SettingsDep
from shared.auth import Principal, Role, require_roles
from shared.openapi import problem_responses
from shared.runtime import SessionDep
from shared.wire import Moment

router = APIRouter(tags=["access log"])
PrivacyOfficer = Annotated[Principal, require_roles(Role.PRIVACY_OFFICER)]


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
    items = [
        AccessLogEntryRead(
            id=r.id, subject=r.subject, organisation=r.organisation, role=r.role,
            purpose=r.purpose, record_type=r.record_type, record_id=r.record_id,
            controller=r.controller, outcome=r.outcome, fields=orjson.loads(r.fields), at=r.at,
            prev_hash=r.prev_hash, entry_hash=r.entry_hash)
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return AccessLogPage(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


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
