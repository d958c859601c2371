"""Signal rows -> response bodies (decrypting personal fields only when asked)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import orjson

from services.signals.casework.schemas import (
    AddressRead,
    OutcomeSummary,
    PersonalData,
    ReferralSummary,
    SignalRead,
    SignalSummary,
    SignalTombstoneRead,
    StatusChangeRead,
)
from services.signals.casework.workflow import Outcome, SignalStatus
from services.signals.consents import standing
from services.signals.covenants.registry import load_covenants
from services.signals.crypto.fields import FieldCipher, FieldCipherError
from services.signals.models import Referral, Signal, SignalTombstone, StatusChange
from shared.db import utcnow
from shared.problems import ProblemError


def is_overdue(signal: Signal, now: datetime | None = None) -> bool:
    return signal.status == SignalStatus.NEW and signal.sla_due_at < (now or utcnow())


def summary(signal: Signal, now: datetime | None = None,
            outcomes: list[Referral] | None = None) -> SignalSummary:
    """A signal in a list; `outcomes`: its referrals with an outcome."""
    return SignalSummary.model_validate(
        {**_facts(signal, now), "outcomes": [outcome_summary(r) for r in outcomes or []]})


def outcome_summary(referral: Referral) -> OutcomeSummary:
    # A summary for the field worker's app: codes and dates, never the partner's note.
    return OutcomeSummary.model_validate({
        "referral_id": referral.id, "purpose": referral.purpose, "outcome": referral.outcome,
        "outcome_at": referral.outcome_at, "follow_up_date": referral.follow_up_date})


def tombstone(row: SignalTombstone) -> SignalTombstoneRead:
    return SignalTombstoneRead.model_validate(
        {"signal_id": row.signal_id, "kind": row.kind, "erased_at": row.erased_at})


# The columns a response shows as they are stored.
_FACT_COLUMNS = (
    "id", "organisation", "reported_by", "category", "subcategory", "severity", "area_code",
    "observed_at", "recorded_at", "status", "version", "sla_due_at", "closed_at", "synthetic",
    "tenant_objected", "consent_recorded_at", "personal_contact_attempted_at",
    "debt_help_pointed_at", "written_reminder_at", "clock_correction_seconds",
)


def _facts(signal: Signal, now: datetime | None) -> dict[str, Any]:
    return {**{name: getattr(signal, name) for name in _FACT_COLUMNS},
            "overdue": is_overdue(signal, now),
            "personal_data_removed": signal.personal_data_removed_at is not None}


def created(row: dict[str, Any]) -> SignalRead:
    """The answer to a new signal, from the values just stored (a new signal is not overdue,
    and its personal data is all there)."""
    consent: list[standing.Entry] = []
    if row["consent_recorded_at"] is not None or row["tenant_objected"]:
        consent = standing.intake_entries(
            load_covenants(), category=row["category"],
            consent_recorded_at=row["consent_recorded_at"],
            tenant_objected=row["tenant_objected"], reported_by=row["reported_by"],
            recorded_at=row["recorded_at"])
    return SignalRead.model_validate({
        **{name: row[name] for name in _FACT_COLUMNS}, "overdue": False,
        "personal_data_removed": False, "referrals": [], "personal_data": None,
        "consents": standing.consents(consent), "objections": standing.objections(consent)})


def referral_summary(r: Referral) -> ReferralSummary:
    return ReferralSummary(
        id=r.id, partner_organisation=r.partner_organisation, purpose=r.purpose,
        legal_basis=r.legal_basis, referred_at=r.referred_at, status=r.status,
        outcome=Outcome(r.outcome) if r.outcome else None, outcome_at=r.outcome_at,
        withdrawn_at=r.withdrawn_at)


def intake_consent(signal: Signal) -> list[standing.Entry]:
    """The consent and objection the intake recorded (what a replay can show unqueried)."""
    return standing.intake_entries(
        load_covenants(), category=signal.category,
        consent_recorded_at=signal.consent_recorded_at, tenant_objected=signal.tenant_objected,
        reported_by=signal.reported_by, recorded_at=signal.recorded_at)


def full(signal: Signal, referrals: list[Referral], personal: PersonalData | None = None,
         *, consent: list[standing.Entry] | None = None) -> SignalRead:
    entries = consent if consent is not None else intake_consent(signal)
    return SignalRead.model_validate({
        **_facts(signal, None), "referrals": [referral_summary(r) for r in referrals],
        "outcomes": [outcome_summary(r) for r in referrals if r.outcome],
        "consents": standing.consents(entries), "objections": standing.objections(entries),
        "personal_data": personal,
    })


class UnreadablePersonalData(ProblemError):
    """A ciphertext fails authentication (tampered or moved) or its key is gone."""

    status = 500
    title = "Personal data unreadable"


def decrypt_personal(signal: Signal, cipher: FieldCipher) -> PersonalData:
    """All personal fields of a signal in plaintext (caller logs the read)."""
    try:
        return _decrypt(signal, cipher)
    except FieldCipherError as exc:
        raise UnreadablePersonalData(
            f"the personal data of signal {signal.id} cannot be decrypted: {exc}") from None


def _decrypt(signal: Signal, cipher: FieldCipher) -> PersonalData:
    rid = str(signal.id)
    data = PersonalData()
    if signal.address_ciphertext:
        place = orjson.loads(cipher.decrypt(signal.address_ciphertext, record_id=rid,
                                            field="address"))
        unit_ref = place.pop("unitRef", None)
        data.address = AddressRead.model_validate(place) if place else None
        data.unit_ref = unit_ref
    if signal.note_ciphertext:
        data.note = cipher.decrypt(signal.note_ciphertext, record_id=rid, field="note")
    if signal.arrears_ciphertext:
        arrears = orjson.loads(cipher.decrypt(signal.arrears_ciphertext, record_id=rid,
                                              field="arrears"))
        data.arrears_amount_cents = arrears.get("amountCents")
        since = arrears.get("since")
        data.arrears_since = date.fromisoformat(since) if since else None
    return data


# What an access-log entry names when a history's reasons were read.
REASON_LOGGED_AS = "statusChangeReason"


def reason_field(version: int) -> str:
    """The associated-data field of a status change's reason: a ciphertext moved to another
    signal or another change of the same signal fails to decrypt."""
    return f"reason-v{version}"


def seal_reason(cipher: FieldCipher, signal_id: uuid.UUID, version: int,
                reason: str | None) -> str | None:
    if reason is None:
        return None
    return cipher.encrypt(reason, record_id=str(signal_id), field=reason_field(version))


def status_change(row: StatusChange, cipher: FieldCipher | None) -> StatusChangeRead:
    """A history entry; its reason in plaintext only with a cipher (the caller logs that)."""
    reason = None
    if cipher is not None and row.reason_ciphertext is not None:
        try:
            reason = cipher.decrypt(row.reason_ciphertext, record_id=str(row.signal_id),
                                    field=reason_field(row.version))
        except FieldCipherError as exc:
            raise UnreadablePersonalData(
                f"a status-change reason of signal {row.signal_id} cannot be decrypted: "
                f"{exc}") from None
    return StatusChangeRead(
        version=row.version, from_status=row.from_status, to_status=row.to_status,
        reason=reason, reason_given=row.reason_ciphertext is not None,
        outcome=row.outcome, referral_id=row.referral_id, referral_step=row.referral_step,
        referral_reason=row.referral_reason, changed_by=row.changed_by,
        changed_by_organisation=row.changed_by_organisation, changed_at=row.changed_at)


def present_personal_fields(data: PersonalData) -> list[str]:
    """API names of the personal fields that hold a value (what an access-log entry lists)."""
    return sorted(k for k, v in data.model_dump(by_alias=True).items() if v is not None)
