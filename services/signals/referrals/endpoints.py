"""HTTP edge of referrals: coordinators refer, partners read their inbox and report back."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from services.signals.casework.service import consent_entries, own_signal
from services.signals.dependencies import (
    Coordinator,
    CryptoDep,
    Partner,
    ReferralId,
    SessionDep,
    SettingsDep,
    SignalId,
)
from services.signals.referrals import repository, service, views
from services.signals.referrals.schemas import (
    OutcomeCreate,
    PartnerReferral,
    PartnerReferralPage,
    ReferralCreate,
    ReferralRead,
)
from services.signals.settings import Settings
from shared.openapi import problem_responses
from shared.pagination import MAX_LIMIT, decode_keyset, encode_keyset, split_page

router = APIRouter(tags=["referrals"])


def _grace(settings: Settings) -> timedelta:
    return timedelta(days=settings.partner_access_grace_days)


@router.post("/signals/{signalId}/referrals", status_code=status.HTTP_201_CREATED,
             response_model=ReferralRead, responses=problem_responses(400, 404, 409, 422))
async def create_referral(
    signal_id: SignalId, body: ReferralCreate, response: Response, session: SessionDep,
    settings: SettingsDep, crypto: CryptoDep, principal: Coordinator,
) -> ReferralRead:
    """Refer a signal to a partner for a covenant purpose (checked; 422 lists refusals)."""
    signal = await own_signal(session, signal_id, principal.organisation)
    referral = service.refer(session, signal, body.partner_organisation, body.purpose,
                             principal, settings.cloudevents_source(), crypto.cipher,
                             await consent_entries(session, signal))
    response.headers["Location"] = f"/v1/referrals/{referral.id}"
    return views.referral(referral)


@router.get("/referrals", response_model=PartnerReferralPage, response_model_exclude_none=True,
            responses=problem_responses(400))
async def list_referrals(
    session: SessionDep, settings: SettingsDep, principal: Partner,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> JSONResponse:
    """Referrals addressed to your team in your organisation, newest first (no personal
    data)."""
    after = decode_keyset(cursor) if cursor else None
    rows = await repository.inbox(session, principal.organisation,
                                  service.teams_purposes(principal), after, limit + 1)
    page, last = split_page(rows, limit)
    items = [await service.partner_view(session, r, s, principal, None, _grace(settings))
             for r, s in page]
    next_cursor = encode_keyset(last[0].referred_at, last[0].id) if last else None
    body = PartnerReferralPage(items=items, next_cursor=next_cursor).model_dump(
        mode="json", by_alias=True, exclude_none=True)
    # Absent fields stay out (a partner sees only what the purpose allows), but the page
    # always says whether there is a next one: `nextCursor` is null on the last page.
    return JSONResponse({**body, "nextCursor": next_cursor})


@router.get("/referrals/{referralId}", response_model=PartnerReferral,
            response_model_exclude_none=True, responses=problem_responses(403, 404))
async def get_referral(
    referral_id: ReferralId, session: SessionDep, settings: SettingsDep, crypto: CryptoDep,
    principal: Partner,
) -> PartnerReferral:
    """One referral to your team with the fields its purpose allows while it is open and
    for a grace period after (reads logged)."""
    found = await service.for_partner_team(session, referral_id, principal, crypto)
    return await service.partner_view(session, *found, principal, crypto, _grace(settings))


@router.post("/referrals/{referralId}/outcome", response_model=PartnerReferral,
             response_model_exclude_none=True,
             responses=problem_responses(400, 403, 404, 409))
async def record_outcome(
    referral_id: ReferralId, body: OutcomeCreate, session: SessionDep, settings: SettingsDep,
    crypto: CryptoDep, principal: Partner,
) -> PartnerReferral:
    """Report how the referral ended (a fixed code; the same code again is a replay)."""
    found = await service.for_partner_team(session, referral_id, principal, crypto)
    service.record_outcome(found[0], body.outcome, principal)
    return await service.partner_view(session, *found, principal, None, _grace(settings))
