"""Need to know: who may read which signal's personal data, for which purpose, until when.

Pure rules, no database:
- **Purposes are a closed list per role** (`read_purposes` in covenants.toml); any other value
  is invalid input.
- **Field workers** read the personal data of the signals they reported (the token `sub` that
  recorded it); **coordinators** that of every signal of their organisation. There is no
  assignment of signals to field workers yet; when there is, it widens `staff_refusal`.
- **Partners** read a referral's personal fields only as a user of the purpose's partner type
  (the token's `team` claim; without it, the organisation's only partner type if it has one),
  and only while the referral is open: until its outcome, or the signal's closure, plus a grace
  period; a withdrawn referral (consent withdrawn) ends at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from services.signals.covenants.registry import Covenant, CovenantRegistry, LegalBasis, Purpose
from shared.auth import Principal, Role


class RefusalReason(StrEnum):
    NOT_OWN_SIGNAL = "not-own-signal"
    OTHER_TEAM = "other-team"
    REFERRAL_ENDED = "referral-ended"
    REFERRAL_WITHDRAWN = "referral-withdrawn"


def staff_role(principal: Principal) -> Role:
    """The role a staff member reads in: coordinator wins over field worker."""
    return Role.COORDINATOR if principal.has(Role.COORDINATOR) else Role.FIELD_WORKER


def disallowed_purpose(registry: CovenantRegistry, role: Role, purpose: str) -> list[str] | None:
    """None when `purpose` is on the role's closed list; else that list (to show the caller)."""
    allowed = registry.read_purposes_for(role.value)
    return None if purpose in allowed else allowed


def staff_refusal(principal: Principal, reported_by: str) -> RefusalReason | None:
    """Why this staff member may not read the signal's personal data (None: they may)."""
    if principal.has(Role.COORDINATOR) or reported_by == principal.subject:
        return None
    return RefusalReason.NOT_OWN_SIGNAL


def partner_teams(principal: Principal, covenant: Covenant | None) -> frozenset[str]:
    """The partner types a partner user works for: the `team` claim, or the organisation's
    single partner type (a token without the claim in a one-team organisation)."""
    if principal.teams:
        return principal.teams
    if covenant is not None and len(covenant.partner_types) == 1:
        return frozenset(covenant.partner_types)
    return frozenset()


def team_purposes(registry: CovenantRegistry, teams: frozenset[str]) -> list[str]:
    """The referral purposes of these partner types (what such a user's inbox holds)."""
    return sorted(p.code for p in registry.purposes.values() if p.partner_type in teams)


def personal_data_until(*, withdrawn_at: datetime | None, outcome_at: datetime | None,
                        closed_at: datetime | None, grace: timedelta) -> datetime | None:
    """Until when a partner reads the referral's personal fields (None: open, no end yet)."""
    if withdrawn_at is not None:
        return withdrawn_at
    ends = [t for t in (outcome_at, closed_at) if t is not None]
    return min(ends) + grace if ends else None


def objectable(purpose: Purpose) -> bool:
    """GDPR art. 21 (public task, legitimate interests) and Besluit gemeentelijke
    schuldhulpverlening art. 2 d (the statutory rent-arrears referral): the resident may
    object. Consent is withdrawn instead; vital interests override an objection."""
    return purpose.legal_basis in (LegalBasis.PUBLIC_TASK, LegalBasis.LEGITIMATE_INTERESTS,
                                   LegalBasis.LEGAL_OBLIGATION)
