"""What a new signal writes, as one typed value: `NewSignal`, made by `new_signal`.

Everything is prepared before the database is touched: personal fields encrypted under the
active key, the household as two pseudonyms (operational, statistics), the first history
entry, the outbox rows of its events and the hashed Idempotency-Key. Storing it is then a
matter of inserting rows (`repository.insert_new`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from services.signals.addresses import CorporationUnit, DutchAddress, household_key
from services.signals.casework.workflow import Severity, SignalStatus
from services.signals.categories.taxonomy import load_taxonomy
from services.signals.crypto.keys import Crypto
from services.signals.intake.schemas import SignalCreate
from shared.auth import Principal
from shared.contracts.signals import (
    SIGNAL_ESCALATED,
    SIGNAL_RECORDED,
    SignalEscalated,
    SignalRecorded,
)
from shared.db import utcnow
from shared.outbox import outbox_row


@dataclass(frozen=True)
class NewSignal:
    """The rows of one new signal: itself, its first history entry, its events and, when
    the app sent one, its Idempotency-Key. Column values, keyed by column name."""

    signal: dict[str, Any]
    status_change: dict[str, Any]
    events: list[dict[str, Any]]
    idempotency_key: dict[str, Any] | None = None

    @property
    def id(self) -> uuid.UUID:
        signal_id: uuid.UUID = self.signal["id"]
        return signal_id

    @property
    def request_hash(self) -> str:
        digest: str = self.signal["request_hash"]
        return digest

    @property
    def key(self) -> tuple[str, str] | None:
        """(organisation, hashed key) of its Idempotency-Key, if any."""
        k = self.idempotency_key
        return None if k is None else (k["organisation"], k["key"])


def new_signal(body: SignalCreate, principal: Principal, crypto: Crypto, source: str,
               idempotency_key: str | None, *, synthetic: bool = False,
               correction: timedelta | None = None) -> NewSignal:
    """Everything a new signal of `principal` writes, ready to insert; `correction` (a
    batch's clock correction) moves its device moments, and not its fingerprint."""
    digest = body_hash(crypto, body)
    row = signal_row(body, principal, crypto, digest, utcnow(), synthetic=synthetic)
    if correction is not None:
        correct_clock(row, correction)
    key = None if idempotency_key is None else {
        "organisation": principal.organisation,
        "key": crypto.idempotency_key_hash(idempotency_key),
        "signal_id": body.id, "request_hash": digest, "created_at": row["recorded_at"]}
    return NewSignal(signal=row, status_change=first_status(row),
                     events=recorded_events(row, source), idempotency_key=key)


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
        "clock_correction_seconds": None,
    }


#: The moments a device stamps with its own clock (`arrears_since` is a date: left alone).
DEVICE_MOMENTS = ("observed_at", "consent_recorded_at", "personal_contact_attempted_at",
                  "debt_help_pointed_at", "written_reminder_at")


def correct_clock(row: dict[str, Any], correction: timedelta) -> None:
    """Move a new signal's device moments by its batch's clock correction, and record it."""
    for name in DEVICE_MOMENTS:
        if row[name] is not None:
            row[name] += correction
    row["clock_correction_seconds"] = int(correction.total_seconds())


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
