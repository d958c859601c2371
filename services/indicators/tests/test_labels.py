"""Every code of the indicators service a person reads has a Dutch and an English label."""

from __future__ import annotations

from enum import StrEnum

import pytest

from services.indicators.composite import Direction, Domain, Normalisation
from services.indicators.disclosure import SuppressionReason
from shared import i18n
from shared.areacodes import AreaLevel

ENUMS: dict[str, type[StrEnum]] = {
    "suppression-reason": SuppressionReason, "domain": Domain, "direction": Direction,
    "normalisation": Normalisation, "area-level": AreaLevel,
}


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_every_code_has_both_labels(name: str) -> None:
    labels = i18n.catalogue().labels[name]
    assert set(labels) == {str(m) for m in ENUMS[name]}
    assert all(texts["nl"] and texts["en"] for texts in labels.values())
