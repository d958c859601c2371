"""A signal's consents and objections per purpose, from its records and its intake fields.

Consent is specific: one consent covers one purpose. The intake fields map onto this model:
- `consentRecordedAt` is a consent, given then and recorded by the reporter, to the one
  consent-based purpose that covers the signal's category; where several could (rent arrears:
  debt help and wijkteam), the timestamp names none of them and unlocks nothing until a
  consent per purpose is recorded (`POST /v1/signals/{id}/consents`).
- `tenantObjected` is the objection of Besluit gemeentelijke schuldhulpverlening art. 2 d:
  an objection to the statutory rent-arrears purposes (the covenant check applies it).
The latest consent or withdrawal of a purpose decides whether consent stands; objections
stand once recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.signals.casework.schemas import ConsentRead, ObjectionRead
from services.signals.covenants.registry import RENT_ARREARS, CovenantRegistry, LegalBasis

CONSENT, WITHDRAWAL, OBJECTION = "consent", "withdrawal", "objection"


@dataclass(frozen=True, slots=True)
class Entry:
    """One consent, withdrawal or objection (a `consent_records` row or an intake field)."""

    purpose: str
    kind: str
    given_at: datetime
    recorded_by: str
    recorded_at: datetime


def intake_consent_purpose(registry: CovenantRegistry, category: str) -> str | None:
    """The consent-based purpose an unspecific intake consent stands for, if only one fits."""
    fits = [p.code for p in registry.purposes.values()
            if p.legal_basis is LegalBasis.CONSENT and category in p.categories]
    return fits[0] if len(fits) == 1 else None


def statutory_rent_arrears_purposes(registry: CovenantRegistry) -> list[str]:
    return sorted(p.code for p in registry.purposes.values()
                  if RENT_ARREARS in p.categories and p.legal_basis is not LegalBasis.CONSENT)


def intake_entries(registry: CovenantRegistry, *, category: str,
                   consent_recorded_at: datetime | None, tenant_objected: bool,
                   reported_by: str, recorded_at: datetime) -> list[Entry]:
    entries = []
    purpose = intake_consent_purpose(registry, category) if consent_recorded_at else None
    if purpose is not None and consent_recorded_at is not None:
        entries.append(Entry(purpose, CONSENT, consent_recorded_at, reported_by, recorded_at))
    if tenant_objected and category == RENT_ARREARS:
        entries.extend(Entry(p, OBJECTION, recorded_at, reported_by, recorded_at)
                       for p in statutory_rent_arrears_purposes(registry))
    return entries


def consents(entries: Iterable[Entry]) -> list[ConsentRead]:
    """Per purpose (sorted), the consent as it stands after the entries in order."""
    standing: dict[str, ConsentRead] = {}
    for e in entries:
        if e.kind == CONSENT:
            standing[e.purpose] = ConsentRead(
                purpose=e.purpose, status="given", given_at=e.given_at,
                recorded_by=e.recorded_by, recorded_at=e.recorded_at)
        elif e.kind == WITHDRAWAL and e.purpose in standing:
            standing[e.purpose] = standing[e.purpose].model_copy(update={
                "status": "withdrawn", "withdrawn_at": e.given_at,
                "withdrawn_by": e.recorded_by})
    return [standing[p] for p in sorted(standing)]


def objections(entries: Iterable[Entry]) -> list[ObjectionRead]:
    return [ObjectionRead(purpose=e.purpose, objected_at=e.given_at, recorded_by=e.recorded_by,
                          recorded_at=e.recorded_at) for e in entries if e.kind == OBJECTION]


def consented(entries: Iterable[Entry]) -> frozenset[str]:
    return frozenset(c.purpose for c in consents(entries) if c.status == "given")
