"""Hostile input at the intake: each gets a clear 4xx problem and nothing is stored."""

from __future__ import annotations

import uuid

import orjson
import pytest
from sqlalchemy import func, select

from services.signals.models import Outbox, Signal
from services.signals.tests.conftest import db, signal_body


async def _stored(client) -> tuple[int, int]:
    async with db(client) as session:
        signals = await session.scalar(select(func.count()).select_from(Signal))
        events = await session.scalar(select(func.count()).select_from(Outbox))
        return int(signals or 0), int(events or 0)


def _raw(body: dict[str, object]) -> bytes:
    return orjson.dumps(body)


HOSTILE: dict[str, tuple[bytes, dict[str, str]]] = {
    "deeply nested JSON": (b'{"note": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", {}),
    "nested object where text belongs": (_raw(signal_body(note={"a": {"b": {"c": "d"}}})), {}),
    "huge integer": (
        _raw(signal_body()).replace(b'"houseNumber":17', b'"houseNumber":1' + b"0" * 40), {}),
    "float where an integer belongs": (_raw(signal_body(houseNumber=17.5)), {}),
    "number literal beyond float range": (
        _raw(signal_body()).replace(b'"houseNumber":17', b'"houseNumber":1e999'), {}),
    "lone surrogate in a note": (
        _raw(signal_body(note="x")).replace(b'"note":"x"', b'"note":"\\ud800"'), {}),
    "NUL byte in a note": (_raw(signal_body(note="before\x00after")), {}),
    "full-width digits in a postcode": (
        _raw(signal_body(postcode="\uff13\uff10\uff11\uff11 AB")), {}),
    "right-to-left override in an area code": (
        _raw(signal_body(areaCode="BU0599\u202e0101")), {}),
    "oversized note": (_raw(signal_body(note="ä" * 2001)), {}),
    "body over the size limit": (_raw(signal_body(note="x" * 2_000_000)), {}),
    "JSON sent as text/plain": (_raw(signal_body()), {"Content-Type": "text/plain"}),
    "form instead of JSON": (b"category=nuisance&severity=low",
                             {"Content-Type": "application/x-www-form-urlencoded"}),
    "empty body": (b"", {}),
    "a JSON array instead of an object": (b"[]", {}),
    "Idempotency-Key of 10,000 characters": (_raw(signal_body()),
                                             {"Idempotency-Key": "k" * 10_000}),
    "Idempotency-Key with control characters": (_raw(signal_body()),
                                                {"Idempotency-Key": "abc\tdef\x7f"}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_input_is_a_clear_4xx_and_stores_nothing(signals_service, auth, case):
    content, extra = HOSTILE[case]
    headers = {"Content-Type": "application/json", **auth("field-worker"), **extra}
    async with signals_service() as client:
        r = await client.post("/v1/signals", content=content, headers=headers)
        assert 400 <= r.status_code < 500, (case, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == r.status_code and problem["title"] and problem["detail"]
        assert await _stored(client) == (0, 0)


@pytest.mark.parametrize("request_id", [b"abc\r\nSet-Cookie: x=1", b"abc\xe9", b"a" * 500])
async def test_a_request_id_we_cannot_trust_is_replaced_not_echoed(signals_service, auth,
                                                                  request_id):
    """The request id is echoed back in a header: only a plain one may come through, so a
    client cannot split our response or smuggle bytes into our logs."""
    async with signals_service() as client:
        r = await client.post("/v1/signals", json=signal_body(),
                              headers={**auth("field-worker"), "X-Request-ID": request_id})
        assert r.status_code == 201, r.text
        assert "set-cookie" not in r.headers
        echoed = r.headers["x-request-id"]
        assert echoed.encode() != request_id
        assert uuid.UUID(echoed)  # one of ours instead
