"""HTTP edge of referrals: coordinators refer, partners read their inbox and report back."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from services.signals.casework.endpoints import Purpose
from services.signals.casework.service import (
    authorise_personal_read,
    consent_entries,
    own_signal,
)
from services.signals.crypto.keys import Crypto
from services.signals.dependencies import (
    Coordinator,
    CryptoDep,
    Partner,
    ReferralId,
    SessionDep,
    SettingsDep,
    SignalId,
)
from services.signals.referrals import repository, service, steps, views
from services.signals.referrals.schemas import (
    HandBackCreate,
    OutcomeCreate,
    PartnerReferral,
    PartnerReferralPage,
    ReferralCreate,
    ReferralOptions,
    ReferralRead,
    ReferralWithdrawalCreate,
)
from services.signals.settings import Settings
from shared.auth import Principal
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
    signal = await own_signal(session, signal_id, principal.organisation, lock=True)
    referral = service.refer(session, signal, body.partner_organisation, body.purpose,
                             principal, settings.cloudevents_source(), crypto.cipher,
                             await consent_entries(session, signal))
    response.headers["Location"] = f"/v1/referrals/{referral.id}"
    return views.referral(referral)


@router.get("/signals/{signalId}/referral-options", response_model=ReferralOptions,
            responses=problem_responses(400, 404))
async def list_referral_options(
    signal_id: SignalId, session: SessionDep, principal: Coordinator,
) -> ReferralOptions:
    """Where your organisation's signal may be referred: every partner organisation and
    purpose the covenants name, each allowed or refused with the reasons, by the same check
    as POST /v1/signals/{signalId}/referrals (its consents and objections counted). No
    personal data and no read logged: it says what may go, never what is in the signal."""
    signal = await own_signal(session, signal_id, principal.organisation)
    options = service.referral_options(signal, await consent_entries(session, signal))
    return views.referral_options(signal, options, service.not_referable(signal))


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


def _actor(principal: Principal, settings: Settings, crypto: Crypto) -> steps.Actor:
    return steps.Actor(principal, settings.cloudevents_source(), crypto.cipher)


@router.post("/referrals/{referralId}/acceptance", response_model=PartnerReferral,
             response_model_exclude_none=True, responses=problem_responses(403, 404, 409))
async def accept_referral(
    referral_id: ReferralId, session: SessionDep, settings: SettingsDep, crypto: CryptoDep,
    principal: Partner,
) -> PartnerReferral:
    """Take the referral on (status `accepted`, in behandeling); again is a replay, after it
    ended a 409 naming its status."""
    referral, signal = await service.for_partner_team(session, referral_id, principal, crypto)
    await steps.accept(session, referral, signal, _actor(principal, settings, crypto))
    return await service.partner_view(session, referral, signal, principal, None,
                                      _grace(settings))


@router.post("/referrals/{referralId}/outcome", response_model=PartnerReferral,
             response_model_exclude_none=True,
             responses=problem_responses(400, 403, 404, 409))
async def record_outcome(
    referral_id: ReferralId, body: OutcomeCreate, session: SessionDep, settings: SettingsDep,
    crypto: CryptoDep, principal: Partner,
) -> PartnerReferral:
    """Report how the referral ended (a fixed code, optionally a short note for the reporter
    and a follow-up date; the same again is a replay)."""
    referral, signal = await service.for_partner_team(session, referral_id, principal, crypto)
    await steps.record_outcome(session, referral, signal, body,
                                 _actor(principal, settings, crypto))
    seen = await service.partner_view(session, referral, signal, principal, None,
                                      _grace(settings))
    # The partner's own note, as sent: echoing it reads nothing stored about anyone else.
    return seen.model_copy(update={"outcome_note": body.note})


@router.post("/referrals/{referralId}/hand-back", response_model=PartnerReferral,
             response_model_exclude_none=True,
             responses=problem_responses(400, 403, 404, 409))
async def hand_back_referral(
    referral_id: ReferralId, body: HandBackCreate, session: SessionDep, settings: SettingsDep,
    crypto: CryptoDep, principal: Partner,
) -> PartnerReferral:
    """Give the referral back to the reporting corporation with a reason (your access to its
    personal data ends at once)."""
    referral, signal = await service.for_partner_team(session, referral_id, principal, crypto)
    await steps.hand_back(session, referral, signal, body, _actor(principal, settings, crypto))
    return await service.partner_view(session, referral, signal, principal, None,
                                      _grace(settings))


@router.get("/signals/{signalId}/referrals/{referralId}", response_model=ReferralRead,
            responses=problem_responses(400, 403, 404))
async def get_own_referral(
    signal_id: SignalId, referral_id: ReferralId, session: SessionDep, crypto: CryptoDep,
    principal: Coordinator, purpose: Purpose = None,
) -> ReferralRead:
    """A referral of your organisation's signal; the partner's outcome note only with a
    `purpose` (logged)."""
    signal = await own_signal(session, signal_id, principal.organisation)
    referral = await service.for_coordinator(session, signal, referral_id)
    if purpose is not None:
        await authorise_personal_read(session, signal, principal, purpose, crypto)
    return await service.reporter_view(session, referral, principal, crypto, purpose)


@router.post("/signals/{signalId}/referrals/{referralId}/withdrawal",
             response_model=ReferralRead, responses=problem_responses(400, 403, 404, 409))
async def withdraw_referral(
    signal_id: SignalId, referral_id: ReferralId, body: ReferralWithdrawalCreate,
    session: SessionDep, settings: SettingsDep, crypto: CryptoDep, principal: Coordinator,
) -> ReferralRead:
    """Take a referral back from the partner with a reason (its access ends at once)."""
    signal = await own_signal(session, signal_id, principal.organisation)
    referral = await service.for_coordinator(session, signal, referral_id)
    await steps.withdraw(session, referral, signal, body, _actor(principal, settings, crypto))
    return views.referral(referral)
