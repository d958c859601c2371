"""Covenants and referral rules: may this signal go to that partner, for that purpose, and what
does the partner then see? Configuration in `covenants.toml`, checked against the taxonomy.

`check_referral` applies, in this order, collecting every refusal reason it finds:
1. the organisation and purpose are known, and the organisation's covenant names the purpose;
2. the category is known, listed for the purpose, and its partner type may receive it
   (taxonomy); a purpose's subcategory narrowing and minimum severity hold;
3. a consent-based purpose needs a standing consent for that very purpose, and a purpose the
   resident objected to is refused;
4. special categories (care-need) need a purpose with a GDPR art. 9(2) exemption, and never go
   to the police except as an acute threat: vital interests and severity `acute`;
5. rent arrears on any basis other than consent follow Besluit gemeentelijke
   schuldhulpverlening art. 2 (vroegsignalering): personal contact attempted, tenant pointed to
   debt help, a written reminder sent, tenant did not object; then only the contact details
   (`address`, `contact`) and the amount (`arrearsAmountCents`) go. `arrearsSince` stays home:
   art. 2 names the amount, not the date.
Rules 4 and 5 are keyed on properties (sensitivity, legal basis, partner type), not on purpose
codes, so a renamed or added purpose cannot slip past them; the loader refuses a covenant whose
fields exceed the art. 2 limit.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, Field, ValidationError
from pydantic.alias_generators import to_camel

from services.signals.casework.workflow import Severity
from services.signals.categories.taxonomy import (
    Category,
    Code,
    Label,
    Sensitivity,
    Taxonomy,
    load_taxonomy,
)
from services.signals.schemas_common import Frozen
from shared.auth import Role

DEFAULT_COVENANTS_PATH = Path(__file__).with_name("covenants.toml")
POLICE = "police"
RENT_ARREARS = "rent-arrears"
ROLES = frozenset(r.value for r in Role)


class LegalBasis(StrEnum):
    """GDPR art. 6(1) grounds."""

    CONSENT = "consent"
    LEGAL_OBLIGATION = "legal-obligation"
    VITAL_INTERESTS = "vital-interests"
    PUBLIC_TASK = "public-task"
    LEGITIMATE_INTERESTS = "legitimate-interests"


class ReferralField(StrEnum):
    """Groups of a signal's fields a referral may expose (camelCase, as in the API)."""

    CATEGORY = "category"
    SUBCATEGORY = "subcategory"
    SEVERITY = "severity"
    AREA_CODE = "areaCode"
    OBSERVED_AT = "observedAt"
    ADDRESS = "address"
    CONTACT = "contact"
    NOTE = "note"
    ARREARS_AMOUNT_CENTS = "arrearsAmountCents"
    ARREARS_SINCE = "arrearsSince"


#: Besluit gemeentelijke schuldhulpverlening art. 2: "de contactgegevens van de huurder en de
#: hoogte van de achterstand", nothing else.
RENT_ARREARS_STATUTORY_FIELDS: frozenset[ReferralField] = frozenset(
    {ReferralField.ADDRESS, ReferralField.CONTACT, ReferralField.ARREARS_AMOUNT_CENTS}
)


class CovenantModel(Frozen):
    """A part of the covenants, as read from covenants.toml."""


class Purpose(CovenantModel):
    code: Code
    label_nl: Label
    label_en: Label
    partner_type: Code
    legal_basis: LegalBasis
    reference: str = Field(min_length=1)
    special_category_basis: str | None = None
    categories: tuple[Code, ...] = Field(min_length=1)
    subcategories: dict[Code, tuple[Code, ...]] = Field(default_factory=dict)
    min_severity: Severity | None = None


class Covenant(CovenantModel):
    organisation: Code
    name: Label
    partner_types: tuple[Code, ...] = ()
    purposes: dict[Code, frozenset[ReferralField]] = Field(default_factory=dict)


class ReadPurpose(CovenantModel):
    """Why someone of the reporting organisation reads a signal's personal data."""

    code: Code
    label_nl: Label
    label_en: Label
    roles: tuple[Code, ...] = Field(min_length=1)


class CovenantConfigError(ValueError):
    """The covenants file is missing, unreadable or inconsistent with the taxonomy."""


class CovenantRegistry(CovenantModel):
    purposes: dict[Code, Purpose]
    organisations: dict[Code, Covenant]
    read_purposes: dict[Code, ReadPurpose] = Field(default_factory=dict)

    def read_purposes_for(self, role: str) -> list[str]:
        """The closed list of read purposes of a role, sorted."""
        return sorted(p.code for p in self.read_purposes.values() if role in p.roles)

    def purpose(self, code: str) -> Purpose | None:
        return self.purposes.get(code)

    def covenant(self, organisation: str) -> Covenant | None:
        return self.organisations.get(organisation)


def _problems(registry: CovenantRegistry, taxonomy: Taxonomy) -> list[str]:
    """Every inconsistency between the covenants and the taxonomy (empty: consistent)."""
    problems: list[str] = []
    known_types = {p.code for p in taxonomy.partner_types}
    for p in registry.purposes.values():
        if p.partner_type not in known_types:
            problems.append(f"purpose {p.code}: unknown partner type {p.partner_type!r}")
        for code in p.categories:
            category = taxonomy.find(code)
            if category is None:
                problems.append(f"purpose {p.code}: unknown category {code!r}")
            elif not category.may_receive(p.partner_type):
                problems.append(f"purpose {p.code}: {p.partner_type} may not receive {code}")
            elif category.sensitivity is Sensitivity.SPECIAL and not p.special_category_basis:
                problems.append(f"purpose {p.code}: {code} needs a special_category_basis")
        for code, subs in p.subcategories.items():
            if code not in p.categories:
                problems.append(f"purpose {p.code}: narrows {code!r}, which it does not list")
            problems.extend(
                f"purpose {p.code}: unknown subcategory {code}/{sub}"
                for sub in subs
                if not taxonomy.is_valid(code, sub)
            )
    problems.extend(
        f"read purpose {p.code}: unknown role {role!r}"
        for p in registry.read_purposes.values() for role in p.roles if role not in ROLES)
    problems.extend(
        f"read purpose {code}: also a referral purpose"
        for code in registry.read_purposes if code in registry.purposes)
    for c in registry.organisations.values():
        problems.extend(
            f"organisation {c.organisation}: unknown partner type {t!r}"
            for t in c.partner_types
            if t not in known_types
        )
        for code, fields in c.purposes.items():
            purpose = registry.purposes.get(code)
            if purpose is None:
                problems.append(f"organisation {c.organisation}: unknown purpose {code!r}")
                continue
            if purpose.partner_type not in c.partner_types:
                problems.append(
                    f"organisation {c.organisation}: purpose {code} is for partner type "
                    f"{purpose.partner_type}, which the organisation is not"
                )
            if not fields:
                problems.append(f"organisation {c.organisation}: purpose {code} exposes nothing")
            if RENT_ARREARS in purpose.categories and purpose.legal_basis is not LegalBasis.CONSENT:
                extra = sorted(fields - RENT_ARREARS_STATUTORY_FIELDS)
                if extra:
                    problems.append(
                        f"organisation {c.organisation}: purpose {code} exposes {', '.join(extra)}"
                        " for rent arrears; Besluit gemeentelijke schuldhulpverlening art. 2 "
                        "allows only contact details and the amount"
                    )
    return problems


def parse_covenants(data: Mapping[str, Any], taxonomy: Taxonomy) -> CovenantRegistry:
    """Validate the TOML document (tables keyed by code) and its consistency with `taxonomy`."""

    def keyed(table: object, key: str) -> dict[str, Any]:
        if not isinstance(table, Mapping):
            return {}
        return {code: {key: code, **body} for code, body in table.items()}

    registry = CovenantRegistry.model_validate(
        {
            "purposes": keyed(data.get("purposes", {}), "code"),
            "organisations": keyed(data.get("organisations", {}), "organisation"),
            "read_purposes": keyed(data.get("read_purposes", {}), "code"),
        }
    )
    problems = _problems(registry, taxonomy)
    if problems:
        raise CovenantConfigError("; ".join(problems))
    return registry


@functools.cache
def load_covenants(path: Path = DEFAULT_COVENANTS_PATH) -> CovenantRegistry:
    """Read and validate the covenants once per path against the default taxonomy."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
        return parse_covenants(data, load_taxonomy())
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CovenantConfigError(f"invalid covenants {path}: {exc}") from exc


# --------------------------------------------------------------------------- referral check


class RentArrearsPreconditions(CovenantModel):
    """What Besluit gemeentelijke schuldhulpverlening art. 2 (a-d) asks of a landlord first."""

    personal_contact_attempted_at: AwareDatetime | None = None
    debt_help_pointed_at: AwareDatetime | None = None
    written_reminder_at: AwareDatetime | None = None
    #: Answer to the reminder's offer to pass contact details on (art. 2 d).
    tenant_objected: bool = False

    def missing(self) -> list[str]:
        """The camelCase names of preconditions not yet recorded."""
        return [
            to_camel(name)
            for name in (
                "personal_contact_attempted_at",
                "debt_help_pointed_at",
                "written_reminder_at",
            )
            if getattr(self, name) is None
        ]


@dataclass(frozen=True, slots=True)
class ReferralSubject:
    """What the rules need to know about a signal (never its personal content)."""

    category: str
    severity: Severity
    subcategory: str | None = None
    has_address: bool = False
    has_contact: bool = False
    #: Purposes the resident consented to and has not withdrawn (one consent, one purpose).
    consented: frozenset[str] = frozenset()
    #: Purposes the resident objected to (besides art. 2 d in `rent_arrears`).
    objected: frozenset[str] = frozenset()
    rent_arrears: RentArrearsPreconditions = field(default_factory=RentArrearsPreconditions)


class RefusalCode(StrEnum):
    UNKNOWN_ORGANISATION = "unknown-organisation"
    UNKNOWN_PURPOSE = "unknown-purpose"
    PURPOSE_NOT_IN_COVENANT = "purpose-not-in-covenant"
    UNKNOWN_CATEGORY = "unknown-category"
    CATEGORY_NOT_FOR_PURPOSE = "category-not-for-purpose"
    CATEGORY_NOT_FOR_PARTNER_TYPE = "category-not-for-partner-type"
    SUBCATEGORY_NOT_FOR_PURPOSE = "subcategory-not-for-purpose"
    SEVERITY_TOO_LOW = "severity-too-low"
    CONSENT_MISSING = "consent-missing"
    SPECIAL_CATEGORY_WITHOUT_BASIS = "special-category-without-basis"
    CARE_DATA_TO_POLICE = "care-data-to-police"
    RENT_ARREARS_PRECONDITION_MISSING = "rent-arrears-precondition-missing"
    TENANT_OBJECTED = "tenant-objected"
    NO_CONTACT_DETAILS = "no-contact-details"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: RefusalCode
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ReferralDecision:
    allowed: bool
    reasons: tuple[Refusal, ...] = ()
    exposed_fields: frozenset[ReferralField] = frozenset()
    #: The purpose as configured (legal basis and reference to record on the referral).
    purpose: Purpose | None = None

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.reasons]


def _statutory_rent_arrears(purpose: Purpose, category: str) -> bool:
    return category == RENT_ARREARS and purpose.legal_basis is not LegalBasis.CONSENT


_R = RefusalCode


def _refused(reasons: Iterable[Refusal], purpose: Purpose | None = None) -> ReferralDecision:
    return ReferralDecision(allowed=False, reasons=tuple(reasons), purpose=purpose)


def check_referral(
    signal: ReferralSubject,
    partner_org: str,
    purpose: str,
    *,
    registry: CovenantRegistry | None = None,
    taxonomy: Taxonomy | None = None,
) -> ReferralDecision:
    """Decide whether `signal` may be referred to `partner_org` for `purpose` (see module)."""
    registry = registry if registry is not None else load_covenants()
    taxonomy = taxonomy if taxonomy is not None else load_taxonomy()
    covenant, found = registry.covenant(partner_org), registry.purpose(purpose)
    if covenant is None:
        return _refused([Refusal(_R.UNKNOWN_ORGANISATION, f"No covenant with {partner_org!r}.")])
    if found is None:
        return _refused([Refusal(_R.UNKNOWN_PURPOSE, f"Unknown purpose {purpose!r}.")])
    if purpose not in covenant.purposes:
        why = f"The covenant with {covenant.name} does not include the purpose '{purpose}'."
        return _refused([Refusal(_R.PURPOSE_NOT_IN_COVENANT, why)], found)
    category = taxonomy.find(signal.category)
    if category is None:
        why = f"Unknown category {signal.category!r}."
        return _refused([Refusal(_R.UNKNOWN_CATEGORY, why)], found)
    exposed = covenant.purposes[purpose]
    reasons = [
        *_scope_refusals(signal, category, found),
        *_basis_refusals(signal, category, found),
    ]
    if _statutory_rent_arrears(found, category.code):
        reasons.extend(_rent_arrears_refusals(signal))
        exposed = exposed & RENT_ARREARS_STATUTORY_FIELDS
    if reasons:
        return _refused(reasons, found)
    return ReferralDecision(allowed=True, exposed_fields=frozenset(exposed), purpose=found)


def _scope_refusals(signal: ReferralSubject, category: Category, p: Purpose) -> Iterator[Refusal]:
    """Does the purpose, and the partner type behind it, cover this kind of signal?"""
    if category.code not in p.categories:
        yield Refusal(
            _R.CATEGORY_NOT_FOR_PURPOSE, f"Purpose '{p.code}' does not cover {category.code}."
        )
    if not category.may_receive(p.partner_type):
        why = f"A {p.partner_type} partner may not receive {category.code} (taxonomy)."
        yield Refusal(_R.CATEGORY_NOT_FOR_PARTNER_TYPE, why)
    narrowed = p.subcategories.get(category.code)
    if narrowed is not None and signal.subcategory not in narrowed:
        why = f"Purpose '{p.code}' covers {category.code} only as {' or '.join(narrowed)}."
        yield Refusal(_R.SUBCATEGORY_NOT_FOR_PURPOSE, why)
    if p.min_severity is not None and not signal.severity.at_least(p.min_severity):
        why = f"Purpose '{p.code}' needs severity {p.min_severity}; this is {signal.severity}."
        yield Refusal(_R.SEVERITY_TOO_LOW, why)


def _basis_refusals(signal: ReferralSubject, category: Category, p: Purpose) -> Iterator[Refusal]:
    """Does the legal basis carry this signal: consent, and special-category data?"""
    if p.legal_basis is LegalBasis.CONSENT and p.code not in signal.consented:
        why = (f"Purpose '{p.code}' rests on consent, and no consent for it is recorded "
               f"(POST /v1/signals/{{id}}/consents).")
        yield Refusal(_R.CONSENT_MISSING, why)
    # The intake's objection (art. 2 d) is reported by the rent-arrears rule already.
    if p.code in signal.objected and not (
            signal.rent_arrears.tenant_objected and _statutory_rent_arrears(p, category.code)):
        yield Refusal(_R.TENANT_OBJECTED, f"The resident objected to purpose '{p.code}'.")
    if category.sensitivity is not Sensitivity.SPECIAL:
        return
    if not p.special_category_basis:
        why = (
            f"{category.code} is special-category data (GDPR art. 9) and purpose '{p.code}' "
            "names no exemption for it."
        )
        yield Refusal(_R.SPECIAL_CATEGORY_WITHOUT_BASIS, why)
    acute_threat = p.legal_basis is LegalBasis.VITAL_INTERESTS and signal.severity is Severity.ACUTE
    if p.partner_type == POLICE and not acute_threat:
        why = (
            "Care information goes to the police only for an acute threat to life or safety "
            "(police-acute-threat, severity acute)."
        )
        yield Refusal(_R.CARE_DATA_TO_POLICE, why)


_BESLUIT = "Besluit gemeentelijke schuldhulpverlening art. 2"


def _rent_arrears_refusals(signal: ReferralSubject) -> Iterator[Refusal]:
    """Rent arrears without consent: the vroegsignalering preconditions (art. 2 a-d)."""
    pre = signal.rent_arrears
    for name in pre.missing():
        why = f"{name} is not recorded; {_BESLUIT} requires it before arrears go without consent."
        yield Refusal(_R.RENT_ARREARS_PRECONDITION_MISSING, why)
    if pre.tenant_objected:
        why = f"The tenant objected to passing on their details ({_BESLUIT} d)."
        yield Refusal(_R.TENANT_OBJECTED, why)
    if not (signal.has_address or signal.has_contact):
        why = f"No contact details are recorded; {_BESLUIT} passes on exactly those."
        yield Refusal(_R.NO_CONTACT_DETAILS, why)
