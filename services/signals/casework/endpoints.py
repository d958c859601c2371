"""HTTP edge of case work: an organisation's signals, their history and status changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from services.signals.casework import changes, ordering, repository, service, views
from services.signals.casework.ordering import SignalSort
from services.signals.casework.schemas import (
    History,
    SeverityCode,
    SignalPage,
    SignalRead,
    StatusChangeCreate,
    StatusChangeRead,
)
from services.signals.casework.workflow import SignalStatus
from services.signals.dependencies import CryptoDep, SessionDep, SettingsDep, SignalId, Staff
from shared.db import utcnow
from shared.openapi import problem_responses
from shared.pagination import MAX_LIMIT, split_page
from shared.problems import BadRequest, InvalidParam
from shared.wire import Moment

router = APIRouter(tags=["signals"])
ChangedSince = Annotated[str | None, Query(
    alias="changedSince", max_length=300,
    description="The change feed of a field app: `0` for a first sync, then the "
    "`nextCursor` of the last page. Gives the signals you reported that changed since "
    "(status, referral outcomes) in change order, and `tombstones` of those erased or "
    "purged; takes only `limit` beside it.")]
PURPOSE = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
Purpose = Annotated[str | None, Query(
    pattern=PURPOSE, max_length=64,
    description="Why you read personal data, from your role's closed list (covenants.toml "
    "`read_purposes`: `case-handling`, `outreach`; coordinators also `triage`); without it the "
    "answer holds no personal data. A field worker reads only the signals they reported (else "
    "403). Every read with a purpose is in the access log.")]


Sort = Annotated[SignalSort, Query(
    description="The order: `recorded` newest first (the default); `urgency` the work queue: "
    "acute first, then overdue (still `new` past the SLA), then by SLA due date, earliest "
    "first. A `nextCursor` pages only the order that gave it.")]
OpenOnly = Annotated[bool, Query(
    alias="open", description="Only work still to do: not `resolved` or `closed-no-action`, "
    "and the personal data not erased or purged")]


@router.get("/signals", response_model=SignalPage, responses=problem_responses(400))
async def list_signals(
    session: SessionDep, principal: Staff,
    area_code: Annotated[str | None, Query(alias="areaCode", max_length=10)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    status: SignalStatus | None = None,
    open_only: OpenOnly = False,
    severity: SeverityCode | None = None,
    observed_from: Annotated[Moment | None, Query(alias="observedFrom")] = None,
    observed_until: Annotated[Moment | None, Query(alias="observedUntil")] = None,
    overdue: Annotated[bool, Query(description="Only signals past their SLA")] = False,
    sort: Sort = SignalSort.RECORDED,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    changed_since: ChangedSince = None,
) -> SignalPage:
    """Your organisation's signals, newest first or most urgent first (no personal data);
    with `changedSince`, the change feed of the signals you reported."""
    now = utcnow()
    after = ordering.decode(sort, cursor) if cursor and changed_since is None else None
    # An urgency list is ordered as of its first page's moment, overdue filter included.
    as_of = after.as_of if isinstance(after, ordering.UrgencyKey) else now
    filters = repository.SignalFilter(
        area_code=area_code, category=category, status=status, severity=severity,
        observed_from=observed_from, observed_until=observed_until,
        overdue_at=as_of if overdue else None, open_only=open_only)
    if changed_since is not None:
        _only_limit_with_changed_since(filters, cursor, sort)
        return await changes.changes(session, principal, changed_since, limit)
    rows = await repository.list_signals(session, principal.organisation, filters, after,
                                         limit + 1, sort=sort, as_of=as_of)
    page, last = split_page(rows, limit)
    next_cursor = None
    if last is not None:
        next_cursor = ordering.encode(
            ordering.urgency_key(last, as_of) if sort == SignalSort.URGENCY
            else ordering.RecordedKey(last.recorded_at, last.id))
    outcomes = await repository.outcomes_of(session, (s.id for s in page))
    return SignalPage(items=[views.summary(s, now, outcomes[s.id]) for s in page],
                      next_cursor=next_cursor)


def _only_limit_with_changed_since(filters: repository.SignalFilter, cursor: str | None,
                                   sort: SignalSort) -> None:
    """The feed is every change of your signals: a filter would hide a signal that moved
    out of it, and the feed pages with its own cursor."""
    given = {"areaCode": filters.area_code, "category": filters.category,
             "status": filters.status, "severity": filters.severity,
             "observedFrom": filters.observed_from, "observedUntil": filters.observed_until,
             "overdue": filters.overdue_at, "open": filters.open_only or None,
             "sort": None if sort == SignalSort.RECORDED else sort, "cursor": cursor}
    names = sorted(name for name, value in given.items() if value is not None)
    if names:
        raise BadRequest("the change feed takes only changedSince and limit", invalid=[
            InvalidParam(name=f"query.{name}", code="not_with_changed_since",
                         reason="page the change feed with nextCursor as changedSince")
            for name in names])


@router.get("/signals/{signalId}", response_model=SignalRead,
            responses=problem_responses(400, 403, 404))
async def get_signal(
    signal_id: SignalId, response: Response, session: SessionDep, crypto: CryptoDep,
    principal: Staff, purpose: Purpose = None,
) -> SignalRead:
    """One signal of your organisation; personal data only with a `purpose` (logged)."""
    signal = await service.own_signal(session, signal_id, principal.organisation)
    response.headers["ETag"] = f'"{signal.version}"'
    return await service.read_signal(session, signal, principal, crypto, purpose)


@router.get("/signals/{signalId}/history", response_model=History,
            responses=problem_responses(400, 403, 404))
async def get_history(signal_id: SignalId, session: SessionDep, crypto: CryptoDep,
                      principal: Staff, purpose: Purpose = None) -> History:
    """The signal's status changes, oldest first (append-only); their reasons only with a
    `purpose` (logged)."""
    signal = await service.own_signal(session, signal_id, principal.organisation)
    return await service.read_history(session, signal, principal, crypto, purpose)


@router.post("/signals/{signalId}/status-changes", status_code=201,
             response_model=StatusChangeRead,
             responses=problem_responses(400, 403, 404, 409, 412, 428))
async def change_status(
    signal_id: SignalId, body: StatusChangeCreate, response: Response, session: SessionDep,
    settings: SettingsDep, crypto: CryptoDep, principal: Staff,
    if_match: Annotated[str | None, Header(alias="If-Match",
                                           description="The signal's ETag")] = None,
) -> StatusChangeRead:
    """Move a signal to another workflow state (needs `If-Match`)."""
    signal = await service.own_signal(session, signal_id, principal.organisation, lock=True)
    service.change_status(session, signal, principal, body.status,
                          settings.cloudevents_source(), crypto.cipher, if_match=if_match,
                          reason=body.reason, outcome=body.outcome)
    await session.flush()
    rows = await repository.history(session, signal.id)
    response.headers["ETag"] = f'"{signal.version}"'
    # The caller's own reason, as sent: echoing it reads nothing stored about anyone else.
    return views.status_change(rows[-1], None).model_copy(update={"reason": body.reason})
