"""Signal intake: store signals with their events in one transaction, idempotently.

A signal's `id` is its idempotency key: the same id with the same (normalised) body replays
the stored signal, with another body it conflicts. Personal fields are encrypted before they
reach the session; the household becomes two pseudonyms (operational, statistics).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.signals.addresses import CorporationUnit, DutchAddress, household_key
from services.signals.casework import views
from services.signals.casework.schemas import SignalRead
from services.signals.casework.workflow import Severity, SignalStatus
from services.signals.categories.taxonomy import load_taxonomy
from services.signals.crypto.keys import Crypto
from services.signals.intake import repository
from services.signals.intake.schemas import SignalCreate
from services.signals.intake.writer import Draft, Stored
from services.signals.models import IdempotencyKey, Outbox, Signal, StatusChange
from shared.auth import Principal
from shared.contracts.signals import (
    SIGNAL_ESCALATED,
    SIGNAL_RECORDED,
    SignalEscalated,
    SignalRecorded,
)
from shared.db import utcnow
from shared.outbox import outbox_row
from shared.problems import Conflict
from shared.runtime import transaction, unavailable_as_503

if TYPE_CHECKING:
    from services.signals.runtime import SignalsRuntime

Result = Literal["created", "replayed"]


@dataclass(frozen=True)
class Recorded:
    signal: Signal
    result: Result


@dataclass(frozen=True)
class Taken:
    """A signal taken in by an app: the answer's body, and whether it was new."""

    body: SignalRead
    result: Result


def body_hash(crypto: Crypto, body: SignalCreate) -> str:
    canonical = orjson.dumps(body.model_dump(mode="json", by_alias=True),
                             option=orjson.OPT_SORT_KEYS)
    return crypto.request_hash(canonical)


def _household(body: SignalCreate, organisation: str) -> str:
    if body.postcode is not None and body.house_number is not None:
        return household_key(DutchAddress(
            postcode=body.postcode, house_number=body.house_number,
            house_letter=body.house_letter, house_number_addition=body.house_number_addition))
    return household_key(CorporationUnit(organisation=organisation, unit_ref=body.unit_ref or ""))


def signal_row(body: SignalCreate, principal: Principal, crypto: Crypto, digest: str,
               now: datetime, *, synthetic: bool = False) -> dict[str, Any]:
    """The column values of a new signal, personal fields encrypted under the active key."""
    category = load_taxonomy().get(body.category)
    rid, cipher = str(body.id), crypto.cipher
    household = _household(body, principal.organisation)
    place = {k: v for k, v in {
        "postcode": body.postcode, "houseNumber": body.house_number,
        "houseLetter": body.house_letter, "houseNumberAddition": body.house_number_addition,
        "unitRef": body.unit_ref}.items() if v is not None}
    arrears = {k: v for k, v in {
        "amountCents": body.arrears_amount_cents,
        "since": body.arrears_since.isoformat() if body.arrears_since else None}.items()
        if v is not None}
    return {
        "id": body.id, "organisation": principal.organisation,
        "reported_by": principal.subject, "category": body.category,
        "subcategory": body.subcategory, "severity": body.severity,
        "area_code": body.area_code, "observed_at": body.observed_at, "recorded_at": now,
        "status": SignalStatus.NEW.value, "version": 1,
        "sla_due_at": now + timedelta(days=category.sla_days), "closed_at": None,
        "synthetic": synthetic,
        "personal_contact_attempted_at": body.personal_contact_attempted_at,
        "debt_help_pointed_at": body.debt_help_pointed_at,
        "written_reminder_at": body.written_reminder_at,
        "tenant_objected": body.tenant_objected,
        "consent_recorded_at": body.consent_recorded_at,
        "household_pseudonym": crypto.pseudonymiser.operational(household),
        "household_stats_pseudonym": crypto.pseudonymiser.statistics(household),
        "address_ciphertext": cipher.encrypt(orjson.dumps(place).decode(), record_id=rid,
                                             field="address"),
        "note_ciphertext": cipher.encrypt(body.note, record_id=rid, field="note")
        if body.note else None,
        "arrears_ciphertext": cipher.encrypt(orjson.dumps(arrears).decode(), record_id=rid,
                                             field="arrears") if arrears else None,
        "request_hash": digest, "personal_data_removed_at": None, "erased_at": None,
    }


def first_status(signal: dict[str, Any]) -> dict[str, Any]:
    """The first entry of a new signal's history."""
    return {"signal_id": signal["id"], "version": 1, "from_status": None,
            "to_status": signal["status"], "reason_ciphertext": None, "outcome": None,
            "changed_by": signal["reported_by"],
            "changed_by_organisation": signal["organisation"],
            "changed_at": signal["recorded_at"]}


def recorded_events(signal: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """The outbox rows of a new signal: recorded, and escalated when it is acute."""
    subject, key = str(signal["id"]), signal["area_code"]
    events = [outbox_row(
        SIGNAL_RECORDED,
        SignalRecorded(
            signal_id=signal["id"], category=signal["category"],
            subcategory=signal["subcategory"], severity=signal["severity"],
            area_code=key, observed_at=signal["observed_at"],
            recorded_at=signal["recorded_at"], organisation=signal["organisation"],
            household_stats_pseudonym=signal["household_stats_pseudonym"],
            synthetic=signal["synthetic"],
        ),
        key=key, source=source, subject=subject,
    )]
    if load_taxonomy().escalates(signal["category"], Severity(signal["severity"])):
        events.append(outbox_row(
            SIGNAL_ESCALATED,
            SignalEscalated(signal_id=signal["id"], area_code=key,
                            category=signal["category"], severity=signal["severity"],
                            escalated_at=signal["recorded_at"]),
            key=key, source=source, subject=subject,
        ))
    return events


def add_signal(session: AsyncSession, row: dict[str, Any], source: str) -> Signal:
    """Add a new signal (`signal_row`), its first history entry and its events to the
    transaction."""
    signal = Signal(**row)
    session.add(signal)
    session.add(StatusChange(**first_status(row)))
    for event in recorded_events(row, source):
        session.add(Outbox(**event))
    session.info["outbox_written"] = True
    return signal


def draft(body: SignalCreate, principal: Principal, crypto: Crypto, source: str,
          idempotency_key: str | None) -> Draft:
    """Everything a new signal writes, for the group writer."""
    digest = body_hash(crypto, body)
    row = signal_row(body, principal, crypto, digest, utcnow())
    key = None if idempotency_key is None else {
        "organisation": principal.organisation,
        "key": crypto.idempotency_key_hash(idempotency_key),
        "signal_id": body.id, "request_hash": digest, "created_at": row["recorded_at"]}
    return Draft(signal=row, status_change=first_status(row),
                 events=recorded_events(row, source), idempotency_key=key)


def _replay(existing: Signal, principal: Principal, digest: str) -> Recorded:
    # Only its reporter's retry is a replay. Anyone else gets the same conflict whatever the
    # body, or replaying guessed addresses under a colleague's signal id would confirm one.
    if not _same_reporter(existing, principal) or existing.request_hash != digest:
        raise Conflict(f"signal {existing.id} was already recorded with a different body")
    return Recorded(existing, "replayed")


def _same_reporter(existing: Signal, principal: Principal) -> bool:
    return (existing.organisation == principal.organisation
            and existing.reported_by == principal.subject)


async def _by_key(session: AsyncSession, principal: Principal, key: str, digest: str,
                  ) -> Recorded | None:
    known = await repository.idempotency_key(session, principal.organisation, key)
    if known is None:
        return None
    if known.request_hash != digest:
        raise Conflict("this Idempotency-Key was used with a different body")
    stored = await session.get(Signal, known.signal_id)
    if stored is None:  # erased since: nothing to replay, the key is spent
        raise Conflict("the signal of this Idempotency-Key no longer exists")
    if stored.reported_by != principal.subject:
        raise Conflict("this Idempotency-Key was used with a different body")
    return Recorded(stored, "replayed")


async def record_signal(
    session: AsyncSession, body: SignalCreate, principal: Principal, crypto: Crypto,
    source: str, idempotency_key: str | None = None,
) -> Recorded:
    """Record one signal, or replay it; raises Conflict for a reused id or key.

    The insert runs in a savepoint: when a concurrent request with the same id or key
    commits first, the unique constraint fires, and the second look finds its result.
    """
    digest = body_hash(crypto, body)
    key_hash = None if idempotency_key is None else crypto.idempotency_key_hash(idempotency_key)
    for _ in range(2):
        if key_hash is not None:
            known = await _by_key(session, principal, key_hash, digest)
            if known is not None:
                return known
        existing = await session.get(Signal, body.id)
        try:
            async with session.begin_nested():
                if existing is not None:
                    recorded = _replay(existing, principal, digest)
                else:
                    signal = add_signal(
                        session, signal_row(body, principal, crypto, digest, utcnow()), source)
                    recorded = Recorded(signal, "created")
                if key_hash is not None:
                    session.add(IdempotencyKey(
                        organisation=principal.organisation, key=key_hash,
                        signal_id=body.id, request_hash=digest))
            return recorded
        except IntegrityError:
            continue
    raise Conflict("concurrent requests recorded this signal; retry to get its stored result")


async def record_batch(
    session: AsyncSession, bodies: list[SignalCreate], principal: Principal, crypto: Crypto,
    source: str,
) -> list[Recorded | Conflict]:
    """Record many valid signals in the caller's transaction; a conflict stays per item."""
    digests = [body_hash(crypto, body) for body in bodies]
    for _ in range(2):
        existing = await repository.signals_by_id(session, {b.id for b in bodies})
        now = utcnow()
        results: list[Recorded | Conflict] = []
        try:
            async with session.begin_nested():
                for body, digest in zip(bodies, digests, strict=True):
                    stored = existing.get(body.id)
                    if stored is not None:
                        try:
                            results.append(_replay(stored, principal, digest))
                        except Conflict as exc:
                            results.append(exc)
                        continue
                    signal = add_signal(
                        session, signal_row(body, principal, crypto, digest, now), source)
                    existing[body.id] = signal
                    results.append(Recorded(signal, "created"))
            return results
        except IntegrityError:
            continue  # a concurrent batch stored some of these: look again
    raise Conflict("concurrent requests recorded these signals; retry the batch (it is safe)")


async def _store(rt: SignalsRuntime, drafts: list[Draft]) -> list[Stored]:
    with unavailable_as_503():
        return await rt.intake.store(drafts)


async def take_signal(rt: SignalsRuntime, body: SignalCreate, principal: Principal,
                      idempotency_key: str | None = None) -> Taken:
    """Record one signal from an app: a new one through the group writer, the rest
    (replays, conflicts, races with another replica) on the ordinary path."""
    source = rt.settings.cloudevents_source()
    new = draft(body, principal, rt.crypto, source, idempotency_key)
    if await _store(rt, [new]) == ["created"]:
        return Taken(views.created(new.signal), "created")
    async with transaction(rt) as session:
        recorded = await record_signal(session, body, principal, rt.crypto, source,
                                       idempotency_key)
        return Taken(views.full(recorded.signal, []), recorded.result)


async def take_batch(rt: SignalsRuntime, bodies: list[SignalCreate], principal: Principal,
                     ) -> list[Result | Conflict]:
    """Record valid signals of a batch: the new ones in one transaction of the group writer,
    the rest on the ordinary path; a conflict stays per item."""
    source = rt.settings.cloudevents_source()
    stored = await _store(rt, [draft(b, principal, rt.crypto, source, None) for b in bodies])
    results: list[Result | Conflict] = ["created"] * len(bodies)
    deferred = [i for i, outcome in enumerate(stored) if outcome == "deferred"]
    if deferred:
        async with transaction(rt) as session:
            later = await record_batch(session, [bodies[i] for i in deferred], principal,
                                       rt.crypto, source)
        for i, outcome in zip(deferred, later, strict=True):
            results[i] = outcome if isinstance(outcome, Conflict) else outcome.result
    return results
