"""HTTP edge of signal intake: parse, authorise, call the service."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Response, status

from services.signals.casework import views
from services.signals.casework.schemas import SignalRead
from services.signals.intake import service
from services.signals.intake.schemas import (
    SIGNAL_CREATE_SCHEMA,
    BatchItemResult,
    BatchResult,
    parse_signal,
)
from services.signals.runtime import CryptoDep, SettingsDep
from shared.auth import Principal, Role, require_roles
from shared.openapi import problem_responses
from shared.problems import BadRequest, Conflict, InvalidParam
from shared.runtime import SessionDep

router = APIRouter(tags=["signals"])
Reporter = Annotated[Principal, require_roles(Role.FIELD_WORKER, Role.COORDINATOR)]
IdempotencyKeyHeader = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200,
                       pattern=r"^[\x21-\x7E]+$",  # visible ASCII: it is stored and compared
                       description="Optional; a replay with the same body returns the result")]


# Items are validated one by one: a bad one, even one that is not an object, is rejected in the
# results and never blocks the others. So the document leaves an item's type open and points to
# the single-signal schema for its shape.
BATCH_ITEM_SCHEMA = {"description": "A signal in the shape of the body of POST /v1/signals; "
                     "each item is validated on its own."}


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": schema}}}}


def _invalid(problems: list[InvalidParam]) -> BadRequest:
    names = ", ".join(sorted({p.name for p in problems}))
    return BadRequest(f"{len(problems)} invalid field(s): {names}", invalid=problems)


@router.post(
    "/signals", status_code=status.HTTP_201_CREATED, response_model=SignalRead,
    responses={200: {"description": "Replay of a stored signal", "model": SignalRead},
               **problem_responses(400, 409, 413)},
    openapi_extra=_body_schema(SIGNAL_CREATE_SCHEMA),
)
async def create_signal(
    body: Annotated[dict[str, Any], Body()], response: Response, session: SessionDep,
    crypto: CryptoDep, settings: SettingsDep, principal: Reporter,
    idempotency_key: IdempotencyKeyHeader = None,
) -> SignalRead:
    """Record a doorstep signal (idempotent on `id` and on `Idempotency-Key`)."""
    signal_body, problems = parse_signal(body)
    if signal_body is None:
        raise _invalid(problems)
    recorded = await service.record_signal(session, signal_body, principal, crypto,
                                           settings.cloudevents_source(), idempotency_key)
    response.status_code = 201 if recorded.result == "created" else 200
    response.headers["Location"] = f"/v1/signals/{recorded.signal.id}"
    response.headers["ETag"] = f'"{recorded.signal.version}"'
    return views.full(recorded.signal, [])


@router.post(
    "/signals/batch", response_model=BatchResult, responses=problem_responses(400, 413),
    openapi_extra=_body_schema({"type": "array", "maxItems": 500, "items": BATCH_ITEM_SCHEMA}),
)
async def create_signal_batch(
    body: Annotated[list[Any], Body()], session: SessionDep, crypto: CryptoDep,
    settings: SettingsDep, principal: Reporter,
) -> BatchResult:
    """Record up to 500 signals; one result per item, a bad item never blocks the others."""
    if len(body) > settings.batch_max_items:
        raise BadRequest(f"a batch holds at most {settings.batch_max_items} signals", invalid=[
            InvalidParam(name="body", code="too_many_items",
                         reason=f"split it into batches of {settings.batch_max_items}")])
    items: list[BatchItemResult | None] = [None] * len(body)
    valid = []
    for index, raw in enumerate(body):
        parsed, problems = parse_signal(raw, prefix=f"body.{index}")
        if parsed is None:
            items[index] = BatchItemResult(
                index=index, result="rejected",
                id=raw.get("id") if isinstance(raw, dict) and _is_uuid(raw.get("id")) else None,
                problem=_invalid(problems).body())
        else:
            valid.append((index, parsed))
    outcomes = await service.record_batch(
        session, [b for _, b in valid], principal, crypto, settings.cloudevents_source())
    for (index, parsed), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, Conflict):
            items[index] = BatchItemResult(index=index, id=parsed.id, result="rejected",
                                           problem=outcome.body())
        else:
            items[index] = BatchItemResult(index=index, id=parsed.id, result=outcome.result)
    done = [i for i in items if i is not None]
    return BatchResult(
        created=sum(i.result == "created" for i in done),
        replayed=sum(i.result == "replayed" for i in done),
        rejected=sum(i.result == "rejected" for i in done), items=done)


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
