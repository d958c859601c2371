"""The life cycle of a referral: its statuses, the steps between them, and their reasons.

```
sent ──accept──> accepted ──outcome──> completed
  │  \\______________outcome___________/^
  │                    │
  ├──hand back─────────┴──> handed-back   (the partner gives it back, with a reason)
  └──withdraw──────────┴──> withdrawn     (the reporting corporation takes it back)
```

Decisions:
- An outcome may be recorded on a `sent` referral too: a partner system that reports
  `no-contact` never accepted anything, and outcomes were recorded this way before acceptance
  existed.
- `handed-back`, `withdrawn` and `completed` are final; the coordinator refers again instead
  (a new referral with its own covenant check).
- The same step again, with the same details, is a replay (a retried request), not a conflict.
- Reasons are codes (non-personal, stored plainly); the optional text beside them is about a
  household and is stored encrypted like a status change's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ReferralStatus(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    HANDED_BACK = "handed-back"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES

    @property
    def label_nl(self) -> str:
        return _LABELS_NL[self]


OPEN_STATUSES: frozenset[ReferralStatus] = frozenset(
    {ReferralStatus.SENT, ReferralStatus.ACCEPTED})

_LABELS_NL = {
    ReferralStatus.SENT: "verstuurd",
    ReferralStatus.ACCEPTED: "in behandeling",
    ReferralStatus.COMPLETED: "afgerond",
    ReferralStatus.HANDED_BACK: "teruggegeven",
    ReferralStatus.WITHDRAWN: "ingetrokken",
}


class ReferralStep(StrEnum):
    """What happened to a referral: a history entry and an event each."""

    SENT = "sent"
    ACCEPTED = "accepted"
    OUTCOME_RECORDED = "outcome-recorded"
    HANDED_BACK = "handed-back"
    WITHDRAWN = "withdrawn"


_R = ReferralStatus

#: For each step: the statuses it may start from and the status it leads to.
STEPS: Mapping[ReferralStep, tuple[frozenset[ReferralStatus], ReferralStatus]] = {
    ReferralStep.ACCEPTED: (frozenset({_R.SENT}), _R.ACCEPTED),
    ReferralStep.OUTCOME_RECORDED: (frozenset({_R.SENT, _R.ACCEPTED}), _R.COMPLETED),
    ReferralStep.HANDED_BACK: (frozenset({_R.SENT, _R.ACCEPTED}), _R.HANDED_BACK),
    ReferralStep.WITHDRAWN: (frozenset({_R.SENT, _R.ACCEPTED}), _R.WITHDRAWN),
}


class HandBackReason(StrEnum):
    """Why a partner gives a referral back."""

    NOT_OUR_DOMAIN = "not-our-domain"  # niet ons domein
    NO_CAPACITY = "no-capacity"  # geen capaciteit
    INSUFFICIENT_INFORMATION = "insufficient-information"  # te weinig informatie
    ALREADY_IN_CARE = "already-in-care"  # al in zorg of begeleiding elders
    OTHER = "other"  # anders (toelichting verplicht)


class WithdrawalReason(StrEnum):
    """Why the reporting corporation's coordinator takes a referral back."""

    RESOLVED_OTHERWISE = "resolved-otherwise"  # op een andere manier opgelost
    REFERRED_ELSEWHERE = "referred-elsewhere"  # naar een andere partner verwezen
    ENTERED_BY_MISTAKE = "entered-by-mistake"  # per vergissing verwezen
    OTHER = "other"  # anders (toelichting verplicht)


class ResidentWithdrawalReason(StrEnum):
    """Withdrawals nobody chooses: they follow from a consent record (consents/)."""

    CONSENT_WITHDRAWN = "consent-withdrawn"
    OBJECTION = "objection"


#: A reason code that needs its explanation beside it.
EXPLAIN = "other"


_DONE = {ReferralStep.SENT: "sent", ReferralStep.ACCEPTED: "accepted",
         ReferralStep.OUTCOME_RECORDED: "given an outcome",
         ReferralStep.HANDED_BACK: "handed back", ReferralStep.WITHDRAWN: "withdrawn"}


class IllegalStep(Exception):
    """The referral's status does not allow the step (an API maps this to 409)."""

    def __init__(self, current: ReferralStatus, step: ReferralStep) -> None:
        self.current = current
        self.step = step
        super().__init__(
            f"the referral is {current} ({current.label_nl}): it cannot be {_DONE[step]} now"
            + ("" if current.is_open else "; refer the signal again instead"))


def target_of(current: ReferralStatus, step: ReferralStep) -> ReferralStatus:
    """The status `step` leads to from `current`, or `IllegalStep`."""
    sources, target = STEPS[step]
    if current not in sources:
        raise IllegalStep(current, step)
    return target
