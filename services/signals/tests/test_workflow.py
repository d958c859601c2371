import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.signals.casework.workflow import (
    CLOSED_STATUSES,
    InvalidOutcome,
    InvalidTransition,
    Outcome,
    Severity,
    SignalStatus,
    TransitionNotPermitted,
    WorkflowRole,
    allowed_transitions,
    can_transition,
    check_outcome,
    check_transition,
    check_transition_by,
    closing_outcomes,
    transitions_for,
)

S = SignalStatus
ALL_PAIRS = list(itertools.product(SignalStatus, SignalStatus))


def test_enum_values_are_kebab_case():
    assert [s.value for s in SignalStatus] == [
        "new",
        "triaged",
        "referred",
        "in-progress",
        "resolved",
        "closed-no-action",
    ]
    assert {o.value for o in Outcome} == {
        "contact-made",
        "help-accepted",
        "help-declined",
        "no-contact",
        "not-our-domain",
    }
    assert [s.value for s in Severity] == ["low", "medium", "high", "acute"]


def test_every_status_has_an_entry_and_no_self_loops():
    assert set(allowed_transitions) == set(SignalStatus)
    for status, targets in allowed_transitions.items():
        assert status not in targets


@pytest.mark.parametrize(
    "path",
    [
        [S.NEW, S.TRIAGED, S.REFERRED, S.IN_PROGRESS, S.RESOLVED],
        [S.NEW, S.TRIAGED, S.REFERRED, S.IN_PROGRESS, S.CLOSED_NO_ACTION],
        [S.NEW, S.TRIAGED, S.IN_PROGRESS, S.RESOLVED],
        [S.NEW, S.CLOSED_NO_ACTION, S.TRIAGED, S.REFERRED, S.TRIAGED],
        [S.NEW, S.TRIAGED, S.RESOLVED, S.TRIAGED],
    ],
)
def test_happy_paths(path):
    for current, target in itertools.pairwise(path):
        check_transition(current, target)


def test_reopen_goes_to_triaged_only():
    for closed in CLOSED_STATUSES:
        assert allowed_transitions[closed] == {S.TRIAGED}


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.NEW, S.REFERRED), (S.NEW, S.RESOLVED), (S.RESOLVED, S.NEW), (S.IN_PROGRESS, S.REFERRED)],
)
def test_invalid_transition_message_names_the_way_out(current, target):
    with pytest.raises(InvalidTransition) as info:
        check_transition(current, target)
    assert info.value.code == "invalid-transition"
    assert f"'{current}' to '{target}'" in str(info.value)
    for allowed in allowed_transitions[current]:
        assert allowed in str(info.value)


@given(st.sampled_from(ALL_PAIRS), st.sampled_from(WorkflowRole), st.booleans())
def test_roles_never_exceed_the_status_machine(pair, role, is_own):
    current, target = pair
    if can_transition(role, current, target, is_own=is_own):
        check_transition(current, target)
    assert transitions_for(role, current, is_own=is_own) <= allowed_transitions[current]


def test_coordinator_may_take_every_edge_on_any_signal():
    for current, targets in allowed_transitions.items():
        for target in targets:
            check_transition_by(WorkflowRole.COORDINATOR, current, target, is_own=False)


def test_field_worker_may_only_withdraw_their_own_new_signal():
    allowed = {
        (c, t) for c, t in ALL_PAIRS if can_transition(WorkflowRole.FIELD_WORKER, c, t, is_own=True)
    }
    assert allowed == {(S.NEW, S.CLOSED_NO_ACTION)}
    assert not can_transition(WorkflowRole.FIELD_WORKER, S.NEW, S.CLOSED_NO_ACTION, is_own=False)
    with pytest.raises(TransitionNotPermitted) as info:
        check_transition_by(WorkflowRole.FIELD_WORKER, S.NEW, S.TRIAGED, is_own=True)
    assert info.value.code == "transition-not-permitted"
    assert "field-worker" in str(info.value)


def test_partner_acts_only_on_signals_referred_to_it():
    assert transitions_for(WorkflowRole.PARTNER, S.REFERRED, is_own=True) == {
        S.IN_PROGRESS,
        S.TRIAGED,
        S.RESOLVED,
        S.CLOSED_NO_ACTION,
    }
    assert transitions_for(WorkflowRole.PARTNER, S.REFERRED, is_own=False) == frozenset()
    assert transitions_for(WorkflowRole.PARTNER, S.NEW, is_own=True) == frozenset()
    assert transitions_for(WorkflowRole.PARTNER, S.RESOLVED, is_own=True) == frozenset()


def test_missing_edge_wins_over_role_refusal():
    with pytest.raises(InvalidTransition):
        check_transition_by(WorkflowRole.FIELD_WORKER, S.NEW, S.RESOLVED, is_own=True)


def test_closing_needs_a_fitting_outcome():
    check_outcome(S.RESOLVED, Outcome.HELP_ACCEPTED)
    check_outcome(S.CLOSED_NO_ACTION, Outcome.NO_CONTACT)
    check_outcome(S.TRIAGED, None)
    with pytest.raises(InvalidOutcome, match="needs an outcome"):
        check_outcome(S.RESOLVED, None)
    with pytest.raises(InvalidOutcome, match="does not fit"):
        check_outcome(S.RESOLVED, Outcome.HELP_DECLINED)
    with pytest.raises(InvalidOutcome, match="only when a signal is closed"):
        check_outcome(S.IN_PROGRESS, Outcome.CONTACT_MADE)


def test_every_outcome_closes_somewhere():
    assert set(closing_outcomes) == CLOSED_STATUSES
    assert set().union(*closing_outcomes.values()) == set(Outcome)


def test_severity_order_is_by_rank_not_by_string():
    assert Severity.ACUTE.at_least(Severity.HIGH)
    assert not Severity.HIGH.at_least(Severity.ACUTE)
    assert [s.rank for s in Severity] == [0, 1, 2, 3]
