"""HTTP edge of signal intake: parse, authorise, call the service."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Request, Response, status

from services.signals.casework.schemas import SignalRead
from services.signals.dependencies import SettingsDep, signals_runtime
from services.signals.intake import clock, service
from services.signals.intake.schemas import (
    MOMENT_CODES,
    SIGNAL_CREATE_SCHEMA,
    BatchItemResult,
    BatchResult,
    parse_envelope,
    parse_possible_replay,
    parse_signal,
)
from shared.auth import BEARER_SECURITY, Principal, Role, authorise, require_roles
from shared.db import utcnow
from shared.jsonbody import is_json_request
from shared.openapi import problem_responses
from shared.problems import BadRequest, Conflict, InvalidParam, UnsupportedMediaType

router = APIRouter(tags=["signals"])
Reporter = Annotated[Principal, require_roles(Role.FIELD_WORKER, Role.COORDINATOR)]

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


IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7E]{1,200}")  # visible ASCII: stored, compared
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Optional; a replay with the same body returns the result",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200,
               "pattern": "^[\\x21-\\x7E]+$"}}


async def create_signal(request: Request) -> Response:
    """Record a doorstep signal (idempotent on `id` and on `Idempotency-Key`)."""
    # The busiest endpoint reads its token, header and body itself, and so its route
    # documents all three by hand (`openapi_extra`). Declared as FastAPI dependencies and
    # parameters instead, they cost the single POST 19 % more server CPU per request
    # (measured 2026-12-04, docs/benchmarks.md); a test checks the document against the
    # rules enforced here.
    principal = await authorise(request, Role.FIELD_WORKER, Role.COORDINATOR)
    if not is_json_request(request.scope):
        raise UnsupportedMediaType("send the signal as application/json")
    raw = await request.body()
    signal_body, problems = parse_signal(orjson.loads(raw) if raw else None)
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        problems.append(InvalidParam(
            name="header.Idempotency-Key", code="string_pattern_mismatch",
            reason="1 to 200 visible ASCII characters"))
    if signal_body is None or problems:
        raise _invalid(problems)
    taken = await service.take_signal(signals_runtime(request), signal_body, principal, key)
    # Serialised here: FastAPI would validate the model, built from trusted values, again.
    return Response(
        taken.body.model_dump_json(by_alias=True),
        status_code=201 if taken.result == "created" else 200, media_type="application/json",
        headers={"Location": f"/v1/signals/{taken.body.id}",
                 "ETag": f'"{taken.body.version}"'})


router.add_api_route(
    "/signals", create_signal, methods=["POST"],
    status_code=status.HTTP_201_CREATED, response_model=SignalRead,
    responses={200: {"description": "Replay of a stored signal", "model": SignalRead},
               **problem_responses(400, 409, 413, 415)},
    openapi_extra={**_body_schema(SIGNAL_CREATE_SCHEMA), "security": BEARER_SECURITY,
                   "parameters": [IDEMPOTENCY_KEY_PARAMETER]},
)


BATCH_ITEMS_SCHEMA = {"type": "array", "maxItems": 500, "items": BATCH_ITEM_SCHEMA}
BATCH_SCHEMA = {"oneOf": [
    BATCH_ITEMS_SCHEMA,
    {"type": "object", "additionalProperties": False, "required": ["sentAt", "signals"],
     "description": "The batch with the moment the device sent it, by its own clock: the "
     "items' moments are corrected by the difference with the server's clock (at most 24 "
     "hours; the signal shows it as clockCorrectionSeconds)",
     "properties": {"sentAt": {"type": "string", "format": "date-time"},
                    "signals": BATCH_ITEMS_SCHEMA}}]}


@router.post(
    "/signals/batch", response_model=BatchResult, responses=problem_responses(400, 413),
    openapi_extra=_body_schema(BATCH_SCHEMA),
)
async def create_signal_batch(
    request: Request, body: Annotated[list[Any] | dict[str, Any], Body()],
    settings: SettingsDep, principal: Reporter,
) -> BatchResult:
    """Record up to 500 signals; one result per item, a bad item never blocks the others.

    Sent as `{"sentAt", "signals"}`, the device's clock is corrected."""
    correction, prefix = None, "body"
    if isinstance(body, dict):
        envelope, problems = parse_envelope(body)
        if envelope is None:
            raise _invalid(problems)
        correction = clock.correction(envelope.sent_at, utcnow())
        body, prefix = envelope.signals, "body.signals"
    if len(body) > settings.batch_max_items:
        raise BadRequest(f"a batch holds at most {settings.batch_max_items} signals", invalid=[
            InvalidParam(name=prefix, code="too_many_items",
                         reason=f"split it into batches of {settings.batch_max_items}")])
    items: list[BatchItemResult | None] = [None] * len(body)
    valid, only_moments = [], []
    for index, raw in enumerate(body):
        parsed, problems = parse_signal(raw, prefix=f"{prefix}.{index}", correction=correction)
        if parsed is None:
            items[index] = BatchItemResult(
                index=index, result="rejected",
                id=raw.get("id") if isinstance(raw, dict) and _is_uuid(raw.get("id")) else None,
                problem=_invalid(problems).body())
            if {p.code for p in problems} <= MOMENT_CODES:
                only_moments.append(index)
        else:
            valid.append((index, parsed))
    await _recognise_replays(request, body, only_moments, items, principal)
    outcomes = await service.take_batch(signals_runtime(request), [b for _, b in valid],
                                        principal, correction)
    for (index, parsed), outcome in zip(valid, outcomes, strict=True):
        if isinstance(outcome, Conflict):
            items[index] = BatchItemResult(index=index, id=parsed.id, result="rejected",
                                           problem=outcome.body())
        else:
            items[index] = BatchItemResult(index=index, id=parsed.id, result=outcome)
    done = [i for i in items if i is not None]
    return BatchResult(
        created=sum(i.result == "created" for i in done),
        replayed=sum(i.result == "replayed" for i in done),
        rejected=sum(i.result == "rejected" for i in done), items=done)


async def _recognise_replays(request: Request, body: list[Any], refused: list[int],
                             items: list[BatchItemResult | None], principal: Principal,
                             ) -> None:
    """Items refused for their moments alone that replay a stored signal are replays."""
    candidates = [(i, parsed) for i in refused
                  if (parsed := parse_possible_replay(body[i])) is not None]
    if not candidates:
        return
    found = await service.replays(signals_runtime(request), [p for _, p in candidates],
                                  principal)
    for (index, parsed), replayed in zip(candidates, found, strict=True):
        if replayed:
            items[index] = BatchItemResult(index=index, id=parsed.id, result="replayed")


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
