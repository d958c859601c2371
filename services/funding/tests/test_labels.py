"""Every code of the funding service a person reads has a Dutch and an English label."""

from __future__ import annotations

from enum import StrEnum

import pytest

from services.funding.allocation import Binding, InfeasibleConstraint
from services.funding.codelists import LISTS
from services.funding.demo import THEMES
from services.funding.models import ScenarioStatus
from services.funding.programmes.schemas import AllocationLevel, BaseKind
from services.funding.scenarios.schemas import ScenarioSummary
from shared import i18n

ENUMS: dict[str, type[StrEnum]] = {
    "scenario-status": ScenarioStatus, "allocation-level": AllocationLevel,
    "base-kind": BaseKind, "infeasible-constraint": InfeasibleConstraint,
    "binding-constraint": Binding,
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


def test_the_demo_programmes_themes_have_labels() -> None:
    themes = i18n.catalogue().labels["theme"]
    assert {t["code"] for t in THEMES} <= set(themes)
    assert all(texts["nl"] and texts["en"] for texts in themes.values())


async def test_code_lists_in_dutch_and_english(start_service, auth) -> None:
    async with start_service("funding", consumer_enabled=False, relay_enabled=False) as client:
        analyst = auth("analyst")
        r = await client.get("/v1/code-lists", headers=analyst)
        assert r.status_code == 200, r.text
        assert r.headers["content-language"] == "nl" and r.headers["etag"]
        body = r.json()
        assert list(body["lists"]) == list(LISTS)
        assert {"code": "cap", "label": "Plafond", "labelNl": "Plafond",
                "labelEn": "Cap"} in body["lists"]["binding-constraint"]
        en = (await client.get("/v1/code-lists",
                               headers={**analyst, "Accept-Language": "en"})).json()
        assert {i["code"]: i["label"] for i in en["lists"]["theme"]}["safety"] == "Safety"
        assert (await client.get("/v1/code-lists")).status_code == 401
