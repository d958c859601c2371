"""The life cycle of a signal: statuses, who may move it where, and how it may end.

```
new -> triaged -> referred -> in-progress -> resolved
  \\        \\          \\            \\-----> closed-no-action
   \\        \\          \\---> triaged   (a partner hands it back: not its domain)
    \\        \\---> in-progress          (the corporation acts itself, no referral)
     \\---------> closed-no-action        (duplicate, entered by mistake)
resolved | closed-no-action -> triaged   (reopen)
```

Decisions:
- Reopening goes to `triaged`, not `new`: the triage (category, severity, routing) is still
  known and a coordinator reopens with a reason; `new` means "nobody has looked at it yet".
- A field worker makes one transition only: withdrawing their own signal while it is still
  `new` (`new -> closed-no-action`, a duplicate or a mistake). Everything after the doorstep
  is the coordinator's work, so field staff cannot refer or close cases.
- A partner moves a signal only while it is referred to its own organisation: accept it
  (`in-progress`), hand it back (`triaged`), or close it with an outcome.
- The coordinator may make every allowed transition.
- Entering `resolved` or `closed-no-action` requires an outcome that fits it; other
  statuses take none (a partner's feedback on a referral belongs to the referral).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class SignalStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    REFERRED = "referred"
    IN_PROGRESS = "in-progress"
    RESOLVED = "resolved"
    CLOSED_NO_ACTION = "closed-no-action"

    @property
    def is_closed(self) -> bool:
        return self in CLOSED_STATUSES


CLOSED_STATUSES: frozenset[SignalStatus] = frozenset(
    {SignalStatus.RESOLVED, SignalStatus.CLOSED_NO_ACTION}
)


class Severity(StrEnum):
    """How urgent a signal is. Compare with `rank` or `at_least`, never with `<` (str order)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ACUTE = "acute"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK: dict[Severity, int] = {s: i for i, s in enumerate(Severity)}


class Outcome(StrEnum):
    CONTACT_MADE = "contact-made"
    HELP_ACCEPTED = "help-accepted"
    HELP_DECLINED = "help-declined"
    NO_CONTACT = "no-contact"
    NOT_OUR_DOMAIN = "not-our-domain"


class WorkflowRole(StrEnum):
    """The workflow's view of an actor; the API maps token roles onto these."""

    COORDINATOR = "coordinator"
    FIELD_WORKER = "field-worker"
    PARTNER = "partner"


_S = SignalStatus

allowed_transitions: Mapping[SignalStatus, frozenset[SignalStatus]] = {
    _S.NEW: frozenset({_S.TRIAGED, _S.CLOSED_NO_ACTION}),
    _S.TRIAGED: frozenset({_S.REFERRED, _S.IN_PROGRESS, _S.RESOLVED, _S.CLOSED_NO_ACTION}),
    _S.REFERRED: frozenset({_S.IN_PROGRESS, _S.TRIAGED, _S.RESOLVED, _S.CLOSED_NO_ACTION}),
    _S.IN_PROGRESS: frozenset({_S.RESOLVED, _S.CLOSED_NO_ACTION}),
    _S.RESOLVED: frozenset({_S.TRIAGED}),
    _S.CLOSED_NO_ACTION: frozenset({_S.TRIAGED}),
}

#: Transitions a role may make on a signal that is its own (see `check_transition_by`).
#: The coordinator is absent: it may make every allowed transition on any signal.
_OWN_TRANSITIONS: Mapping[WorkflowRole, frozenset[tuple[SignalStatus, SignalStatus]]] = {
    WorkflowRole.FIELD_WORKER: frozenset({(_S.NEW, _S.CLOSED_NO_ACTION)}),
    WorkflowRole.PARTNER: frozenset(
        {
            (_S.REFERRED, _S.IN_PROGRESS),
            (_S.REFERRED, _S.TRIAGED),
            (_S.REFERRED, _S.RESOLVED),
            (_S.REFERRED, _S.CLOSED_NO_ACTION),
            (_S.IN_PROGRESS, _S.RESOLVED),
            (_S.IN_PROGRESS, _S.CLOSED_NO_ACTION),
        }
    ),
}

#: Which outcomes may close a signal into which closed status.
closing_outcomes: Mapping[SignalStatus, frozenset[Outcome]] = {
    _S.RESOLVED: frozenset({Outcome.CONTACT_MADE, Outcome.HELP_ACCEPTED}),
    _S.CLOSED_NO_ACTION: frozenset(
        {
            Outcome.CONTACT_MADE,
            Outcome.HELP_DECLINED,
            Outcome.NO_CONTACT,
            Outcome.NOT_OUR_DOMAIN,
        }
    ),
}


class WorkflowError(Exception):
    """Base of the workflow's refusals; `code` is stable for API problem details."""

    code = "workflow-error"


class InvalidTransition(WorkflowError):
    """The status machine has no such edge (an API maps this to 409 Conflict)."""

    code = "invalid-transition"

    def __init__(self, current: SignalStatus, target: SignalStatus) -> None:
        self.current = current
        self.target = target
        allowed = ", ".join(sorted(allowed_transitions[current])) or "none"
        super().__init__(
            f"A signal cannot go from '{current}' to '{target}'; from '{current}' it may go to: "
            f"{allowed}."
        )


class TransitionNotPermitted(WorkflowError):
    """The edge exists but this role may not take it (an API maps this to 403 Forbidden)."""

    code = "transition-not-permitted"

    def __init__(
        self, role: WorkflowRole, current: SignalStatus, target: SignalStatus, is_own: bool
    ) -> None:
        self.role = role
        self.current = current
        self.target = target
        whose = "its own" if is_own else "another's"
        super().__init__(f"A {role} may not move {whose} signal from '{current}' to '{target}'.")


class InvalidOutcome(WorkflowError):
    code = "invalid-outcome"


def check_transition(current: SignalStatus, target: SignalStatus) -> None:
    """Raise `InvalidTransition` unless the status machine allows `current -> target`."""
    if target not in allowed_transitions[current]:
        raise InvalidTransition(current, target)


def can_transition(
    role: WorkflowRole, current: SignalStatus, target: SignalStatus, *, is_own: bool
) -> bool:
    """Whether `role` may take an allowed edge.

    `is_own`: for a field worker, the signal is one they reported; for a partner, the signal is
    referred to the partner's organisation. The coordinator's reach does not depend on it.
    """
    if target not in allowed_transitions[current]:
        return False
    if role is WorkflowRole.COORDINATOR:
        return True
    return is_own and (current, target) in _OWN_TRANSITIONS[role]


def check_transition_by(
    role: WorkflowRole, current: SignalStatus, target: SignalStatus, *, is_own: bool
) -> None:
    """Raise `InvalidTransition` for a missing edge, `TransitionNotPermitted` for the role."""
    check_transition(current, target)
    if not can_transition(role, current, target, is_own=is_own):
        raise TransitionNotPermitted(role, current, target, is_own)


def transitions_for(
    role: WorkflowRole, current: SignalStatus, *, is_own: bool
) -> frozenset[SignalStatus]:
    """The statuses `role` may move a signal to from `current` (for UI affordances)."""
    return frozenset(
        t for t in allowed_transitions[current] if can_transition(role, current, t, is_own=is_own)
    )


def check_outcome(target: SignalStatus, outcome: Outcome | None) -> None:
    """A closed status needs an outcome that fits it; any other status takes none."""
    if not target.is_closed:
        if outcome is not None:
            raise InvalidOutcome(
                f"An outcome is recorded only when a signal is closed, not on '{target}'."
            )
        return
    fitting = closing_outcomes[target]
    if outcome is None:
        raise InvalidOutcome(
            f"Closing a signal as '{target}' needs an outcome: one of {', '.join(sorted(fitting))}."
        )
    if outcome not in fitting:
        raise InvalidOutcome(
            f"Outcome '{outcome}' does not fit '{target}'; use one of {', '.join(sorted(fitting))}."
        )
