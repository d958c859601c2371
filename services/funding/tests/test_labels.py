"""Every code of the funding service a person reads has a Dutch and an English label."""

from __future__ import annotations

from enum import StrEnum

import pytest

from services.funding.allocation import InfeasibleConstraint
from services.funding.models import ScenarioStatus
from services.funding.programmes.schemas import AllocationLevel, BaseKind
from services.funding.scenarios.schemas import ScenarioSummary
from shared import i18n

ENUMS: dict[str, type[StrEnum]] = {
    "scenario-status": ScenarioStatus, "allocation-level": AllocationLevel,
    "base-kind": BaseKind, "infeasible-constraint": InfeasibleConstraint,
}


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_every_code_has_both_labels(name: str) -> None:
    labels = i18n.catalogue().labels[name]
    assert set(labels) == {str(m) for m in ENUMS[name]}
    assert all(texts["nl"] and texts["en"] for texts in labels.values())


def test_a_scenario_shows_its_status_label_in_the_answers_language() -> None:
    import uuid
    summary = ScenarioSummary(id=uuid.uuid4(), name="x", status=ScenarioStatus.APPROVED,
                              version=1)
    assert summary.model_dump(by_alias=True)["statusLabel"] == "Goedgekeurd"  # nl default
    token = i18n._language.set("en")
    try:
        assert summary.model_dump(by_alias=True)["statusLabel"] == "Approved"
    finally:
        i18n._language.reset(token)
