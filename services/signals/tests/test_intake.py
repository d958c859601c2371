"""Signal intake: idempotent replay, Idempotency-Key, every invalid field at once, batches."""

from __future__ import annotations

import asyncio
import re
import uuid

from sqlalchemy import func, select

from services.signals.models import IdempotencyKey, Outbox, Signal
from services.signals.tests.conftest import db, rent_arrears_body, signal_body
from tests.apps import runtime_of


async def _count(client, model) -> int:
    async with db(client) as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


async def test_create_replay_and_conflict(signals_service, auth):
    async with signals_service() as client:
        h = auth("field-worker")
        body = signal_body()
        r = await client.post("/v1/signals", json=body, headers=h)
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"/v1/signals/{body['id']}"
        created = r.json()
        assert created["status"] == "new" and created["version"] == 1
        assert created["personalData"] is None and created["overdue"] is False
        # Same body, also with the postcode spelled differently: normalised, so a replay.
        again = await client.post("/v1/signals", json={**body, "postcode": "3011ab"}, headers=h)
        assert again.status_code == 200 and again.json()["id"] == body["id"]
        r3 = await client.post("/v1/signals", json={**body, "severity": "high"}, headers=h)
        assert r3.status_code == 409
        assert r3.headers["content-type"] == "application/problem+json"
        # Another corporation reusing the id gets a conflict, not the signal.
        other = await client.post("/v1/signals", json=body, headers=auth("field-worker",
                                                                         "demo-corp-b"))
        assert other.status_code == 409 and "note" not in other.text
        assert await _count(client, Signal) == 1
        assert await _count(client, Outbox) == 1


async def test_idempotency_key_header(signals_service, auth):
    async with signals_service() as client:
        h = {**auth("field-worker"), "Idempotency-Key": "retry-42"}
        body = signal_body()
        assert (await client.post("/v1/signals", json=body, headers=h)).status_code == 201
        replay = await client.post("/v1/signals", json=body, headers=h)
        assert replay.status_code == 200 and replay.json()["id"] == body["id"]
        # Same key, other body (even a new id): conflict.
        r = await client.post("/v1/signals", json=signal_body(), headers=h)
        assert r.status_code == 409
        assert await _count(client, Signal) == 1


async def test_idempotency_keys_are_stored_hashed(signals_service, auth):
    """A client may put anything in the header (an address, a name): only a keyed hash stays."""
    async with signals_service() as client:
        key = "retry-Kerkstraat-12"
        h = {**auth("field-worker"), "Idempotency-Key": key}
        body = signal_body()
        assert (await client.post("/v1/signals", json=body, headers=h)).status_code == 201
        async with db(client) as session:
            stored = (await session.scalars(select(IdempotencyKey))).all()
        assert len(stored) == 1 and key not in stored[0].key
        assert stored[0].key == runtime_of(client).crypto.idempotency_key_hash(key)
        assert (await client.post("/v1/signals", json=body, headers=h)).status_code == 200
        assert (await client.post("/v1/signals", json=signal_body(), headers=h)
                ).status_code == 409
        # The ordinary path (a replica's race, a retry after an erasure) stores it hashed too.
        other = {**h, "Idempotency-Key": "second-key"}
        replay_by_id = await client.post("/v1/signals", json=body, headers=other)
        assert replay_by_id.status_code == 200
        async with db(client) as session:
            keys = set(await session.scalars(select(IdempotencyKey.key)))
        assert "second-key" not in keys and len(keys) == 2
        assert (await client.post("/v1/signals", json=body, headers=other)).status_code == 200


async def test_every_invalid_field_at_once_and_nothing_stored(signals_service, auth):
    async with signals_service() as client:
        body = {
            "id": "not-a-uuid", "category": "nuisance", "subcategory": "hoarding",
            "observedAt": "2099-01-01T00:00:00Z", "severity": "extreme",
            "areaCode": "GM0599", "postcode": "12345", "houseNumber": 0,
            "note": "x" * 2001, "arrearsAmountCents": 10, "unknownField": 1,
        }
        r = await client.post("/v1/signals", json=body, headers=auth("field-worker"))
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        names = {p["name"] for p in r.json()["invalidParams"]}
        assert names >= {
            "body.id", "body.subcategory", "body.observedAt", "body.severity", "body.areaCode",
            "body.postcode", "body.houseNumber", "body.note", "body.arrearsAmountCents",
            "body.unknownField",
        }
        # No input values echoed (the postcode as itself, not as digits inside a random id).
        assert not re.search(r"(?<![0-9a-f])12345(?![0-9a-f])", r.text)
        r2 = await client.post("/v1/signals", json={
            **rent_arrears_body(), "category": "unknown", "arrearsAmountCents": -5,
            "observedAt": "2020-01-01T00:00:00Z", "postcode": None}, headers=auth("field-worker"))
        names2 = {p["name"] for p in r2.json()["invalidParams"]}
        assert names2 >= {"body.category", "body.arrearsAmountCents", "body.observedAt",
                          "body.postcode"}
        none = signal_body(postcode=None, houseNumber=None, houseLetter=None)
        r3 = await client.post("/v1/signals", json=none, headers=auth("field-worker"))
        assert [p["name"] for p in r3.json()["invalidParams"]] == ["body.unitRef"]
        assert await _count(client, Signal) == 0
        assert await _count(client, Outbox) == 0


async def test_acute_unsafe_situation_escalates_in_the_same_transaction(signals_service, auth):
    async with signals_service() as client:
        await client.post("/v1/signals", json=signal_body(
            category="unsafe-situation", subcategory="danger", severity="acute"),
            headers=auth("field-worker"))
        await client.post("/v1/signals", json=signal_body(severity="acute"),
                          headers=auth("field-worker"))
        async with db(client) as session:
            types = list(await session.scalars(select(Outbox.type).order_by(Outbox.id)))
        assert [t.split(".")[-2] for t in types] == [
            "signal-recorded", "signal-escalated", "signal-recorded"]


async def test_batch_isolates_bad_items_and_survives_retries(signals_service, auth):
    async with signals_service() as client:
        h = auth("field-worker")
        good = [signal_body() for _ in range(3)]
        bad = signal_body(category="nope", severity="extreme")
        batch = [good[0], bad, good[1], "not an object", good[2]]
        r = await client.post("/v1/signals/batch", json=batch, headers=h)
        assert r.status_code == 200, r.text
        result = r.json()
        assert (result["created"], result["replayed"], result["rejected"]) == (3, 0, 2)
        rejected = result["items"][1]
        assert rejected["result"] == "rejected" and rejected["id"] == bad["id"]
        assert {p["name"] for p in rejected["problem"]["invalidParams"]} == {
            "body.1.category", "body.1.severity"}
        # The client retries the whole batch after a timeout: all replayed, nothing doubled.
        conflicting = {**good[2], "severity": "low"}
        retry = await client.post("/v1/signals/batch",
                                  json=[good[0], good[1], conflicting], headers=h)
        items = retry.json()["items"]
        assert [i["result"] for i in items] == ["replayed", "replayed", "rejected"]
        assert items[2]["problem"]["status"] == 409
        assert await _count(client, Signal) == 3


async def test_batch_of_500_is_taken_and_larger_batches_are_refused(signals_service, auth):
    async with signals_service() as client:
        h = auth("field-worker")
        batch = [signal_body(areaCode=f"BU0599{i % 100:04d}") for i in range(500)]
        r = await client.post("/v1/signals/batch", json=batch, headers=h)
        assert r.status_code == 200 and r.json()["created"] == 500
        too_many = await client.post("/v1/signals/batch", json=batch + [signal_body()], headers=h)
        assert too_many.status_code == 400
        assert too_many.json()["invalidParams"][0]["code"] == "too_many_items"
        assert await _count(client, Outbox) == 500


async def test_categories(signals_service, auth):
    async with signals_service() as client:
        r = await client.get("/v1/categories", headers=auth("analyst", "demo-municipality"))
        assert r.status_code == 200
        rent = next(c for c in r.json()["categories"] if c["code"] == "rent-arrears")
        assert {"labelNl", "labelEn", "description", "sensitivity", "retentionDays", "slaDays",
                "partnerTypes", "subcategories"} <= rent.keys()
        assert (await client.get("/v1/categories")).status_code == 401


async def test_unknown_signal_is_404(signals_service, auth):
    async with signals_service() as client:
        r = await client.get(f"/v1/signals/{uuid.uuid4()}", headers=auth("field-worker"))
        assert r.status_code == 404


async def test_concurrent_retries_store_one_signal(signals_service, auth):
    async with signals_service() as client:
        body, h = signal_body(), auth("field-worker")
        answers = await asyncio.gather(*(client.post("/v1/signals", json=body, headers=h)
                                         for _ in range(5)))
        assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 201]
        assert await _count(client, Signal) == 1
        assert await _count(client, Outbox) == 1


async def test_buurt_codes_may_hold_capitals_but_nothing_else(signals_service, auth):
    async with signals_service() as client:
        h = auth("field-worker")
        for code, status in [("BU0363AB01", 201), ("BU0599X001", 201), ("BU0363ab01", 400),
                             ("WK036301", 400), ("BU036300011", 400)]:
            r = await client.post("/v1/signals", json=signal_body(areaCode=code), headers=h)
            assert r.status_code == status, (code, r.text)


async def test_a_colleague_cannot_confirm_an_address_by_replaying_a_signal_id(
        signals_service, auth):
    """Replaying guessed addresses under a colleague's signal id: every guess a 409, the right
    one too; only the reporter's own retry is a replay."""
    async with signals_service() as client:
        reporter = auth("field-worker", sub="fw-a")
        colleague = auth("field-worker", sub="fw-b")
        secret = signal_body(note=None, houseNumber=23, houseLetter=None)
        assert (await client.post("/v1/signals", json=secret, headers=reporter)).status_code \
            == 201
        answers = {n: (await client.post("/v1/signals", json={**secret, "houseNumber": n},
                                         headers=colleague)).status_code
                   for n in range(20, 26)}
        assert set(answers.values()) == {409}, answers
        assert (await client.post("/v1/signals", json=secret, headers=reporter)).status_code \
            == 200


def test_the_single_post_documents_what_it_reads_itself():
    """The single POST reads its token, Idempotency-Key and body by hand (shared.fastpath),
    so its document says so by hand: the same security as a route that declares the
    reporter roles (the batch), and the header with the rule the endpoint enforces."""
    from services.signals.app import build
    from services.signals.intake.endpoints import IDEMPOTENCY_KEY_PATTERN

    paths = build().openapi()["paths"]
    single, batch = paths["/signals"]["post"], paths["/signals/batch"]["post"]
    assert single["security"] == batch["security"]
    assert single["requestBody"]["required"] is True
    (header,) = single["parameters"]
    assert (header["name"], header["in"]) == ("Idempotency-Key", "header")
    schema = header["schema"]

    def documented(key: str) -> bool:
        return (schema["minLength"] <= len(key) <= schema["maxLength"]
                and re.search(schema["pattern"], key) is not None)

    for key in ("k", "app-7-retry", "x" * 200, "x" * 201, "", "a b", "sleutel-\u00e9"):
        assert documented(key) == bool(IDEMPOTENCY_KEY_PATTERN.fullmatch(key)), key
