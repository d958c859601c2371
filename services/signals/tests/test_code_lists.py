"""Labels in Dutch and English: every code has both, answers label their codes in the
request's language, GET /v1/code-lists lists them all, problems come in Dutch by default."""

from __future__ import annotations

from enum import StrEnum
from typing import get_args

import pytest

from services.signals.accesslog.chain import AccessOutcome
from services.signals.casework.ordering import SignalSort
from services.signals.casework.workflow import Outcome, Severity, SignalStatus
from services.signals.categories.taxonomy import Sensitivity, load_taxonomy
from services.signals.covenants.registry import LegalBasis, RefusalCode, load_covenants
from services.signals.datasubjects.schemas import ErasureKind
from services.signals.datasubjects.service import ERASURE_REASON
from services.signals.labels import OWN_LISTS, code_lists
from services.signals.referrals.lifecycle import (
    HandBackReason,
    ReferralStatus,
    ReferralStep,
    ResidentWithdrawalReason,
    WithdrawalReason,
)
from services.signals.retention.purge import CLOSED_PAST_RETENTION, OPEN_PAST_MAX_AGE
from services.signals.tests.conftest import create, move
from shared.auth import Role

ENUMS: dict[str, list[type[StrEnum]]] = {
    "signal-status": [SignalStatus], "signal-sort": [SignalSort], "severity": [Severity],
    "outcome": [Outcome],
    "referral-status": [ReferralStatus], "referral-step": [ReferralStep],
    "hand-back-reason": [HandBackReason],
    "withdrawal-reason": [WithdrawalReason, ResidentWithdrawalReason],
    "sensitivity": [Sensitivity], "refusal": [RefusalCode], "legal-basis": [LegalBasis],
    "role": [Role], "access-outcome": [AccessOutcome],
}


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_every_code_of_an_enum_has_both_labels(name: str) -> None:
    codes = {str(member) for enum in ENUMS[name] for member in enum}
    listed = code_lists()[name]
    assert set(listed) == codes  # nothing missing, nothing stale
    for code, texts in listed.items():
        assert texts["nl"].strip() and texts["en"].strip(), (name, code)


def test_every_erasure_kind_and_reason_has_both_labels() -> None:
    """Plain codes, not enums: the erasure record's `kind` and `reason`."""
    lists = code_lists()
    assert set(lists["erasure-kind"]) == set(get_args(ErasureKind))
    assert set(lists["erasure-reason"]) == {ERASURE_REASON, CLOSED_PAST_RETENTION,
                                            OPEN_PAST_MAX_AGE}


def test_configuration_codes_have_both_labels() -> None:
    lists = code_lists()
    taxonomy, covenants = load_taxonomy(), load_covenants()
    assert set(lists["category"]) == {c.code for c in taxonomy.categories}
    assert set(lists["subcategory"]) == {f"{c.code}/{s.code}" for c in taxonomy.categories
                                         for s in c.subcategories}
    assert set(lists["purpose"]) == set(covenants.purposes)
    assert set(lists["read-purpose"]) == set(covenants.read_purposes)
    assert set(OWN_LISTS) < set(lists)
    for name, codes in lists.items():
        for code, texts in codes.items():
            assert set(texts) == {"nl", "en"} and all(texts.values()), (name, code)


def test_the_referral_status_words_agree() -> None:
    """lifecycle.py's Dutch words (in IllegalStep's message) are the labels, lower-cased."""
    for status in ReferralStatus:
        assert code_lists()["referral-status"][status]["nl"].lower() == status.label_nl


async def test_code_lists_in_dutch_and_english(signals_service, auth) -> None:
    async with signals_service() as client:
        r = await client.get("/v1/code-lists", headers=auth("field-worker"))
        assert r.status_code == 200, r.text
        assert r.headers["content-language"] == "nl"
        assert "Accept-Language" in r.headers["vary"]
        body = r.json()
        assert body["language"] == "nl"
        statuses = {i["code"]: i for i in body["lists"]["signal-status"]}
        assert statuses["in-progress"] == {"code": "in-progress", "label": "In behandeling",
                                           "labelNl": "In behandeling",
                                           "labelEn": "In progress", "category": None,
                                           "roles": None}
        # A read purpose says who may give it (covenants.toml), so a console offers only those.
        read = {i["code"]: i["roles"] for i in body["lists"]["read-purpose"]}
        assert read["triage"] == ["coordinator"]
        assert read["data-subject-access"] == ["privacy-officer"]
        subs = [i for i in body["lists"]["subcategory"] if i["code"] == "noise"]
        assert subs and subs[0]["category"] == "nuisance"
        assert set(body["lists"]) == set(code_lists())
        english = await client.get("/v1/code-lists",
                                   headers={**auth("field-worker"), "Accept-Language": "en"})
        assert english.headers["content-language"] == "en"
        assert {i["code"]: i["label"] for i in english.json()["lists"]["severity"]}[
            "acute"] == "Acute"
        documented = (await client.get("/v1/openapi.json")).json()
        assert "/code-lists" in documented["paths"]


async def test_answers_label_their_codes_in_the_requested_language(signals_service,
                                                                   auth) -> None:
    async with signals_service() as client:
        fw, coord = auth("field-worker"), auth("coordinator")
        signal = await create(client, fw, severity="high")
        # Codes unchanged, labels beside them (Dutch by default, also for the POST's answer).
        assert (signal["status"], signal["statusLabel"]) == ("new", "Nieuw")
        assert (signal["severity"], signal["severityLabel"]) == ("high", "Hoog")
        assert signal["categoryLabel"] == code_lists()["category"][signal["category"]]["nl"]
        assert signal["subcategoryLabel"] == code_lists()["subcategory"][
            f"{signal['category']}/{signal['subcategory']}"]["nl"]
        assert (await move(client, signal["id"], coord, "triaged")).status_code == 201
        english = await client.get(f"/v1/signals/{signal['id']}",
                                   headers={**coord, "Accept-Language": "en;q=0.9, nl;q=0.1"})
        assert english.headers["content-language"] == "en"
        read = english.json()
        assert (read["status"], read["statusLabel"], read["severityLabel"]) == (
            "triaged", "Triaged", "High")
        history = (await client.get(f"/v1/signals/{signal['id']}/history",
                                    headers=coord)).json()["items"]
        last = history[-1]
        assert (last["toStatus"], last["toStatusLabel"], last["fromStatusLabel"]) == (
            "triaged", "Beoordeeld", "Nieuw")
        listed = (await client.get("/v1/signals", headers={**fw, "Accept-Language": "en"}
                                   )).json()["items"]
        assert {i["statusLabel"] for i in listed} == {"Triaged"}
        read = await client.get(f"/v1/signals/{signal['id']}", params={"purpose": "triage"},
                                headers=coord)
        assert read.status_code == 200, read.text
        log = (await client.get("/v1/access-log", headers=auth("privacy-officer"))).json()
        entry = log["items"][-1]
        assert (entry["roleLabel"], entry["purposeLabel"], entry["outcomeLabel"]) == (
            "Coördinator", "Beoordeling en doorverwijzing", "Toegestaan")


async def test_problems_are_dutch_unless_english_is_asked(signals_service, auth) -> None:
    async with signals_service() as client:
        coord = auth("coordinator")
        missing = "00000000-0000-4000-8000-000000000000"
        r = await client.get(f"/v1/signals/{missing}", headers=coord)
        assert r.status_code == 404 and r.headers["content-language"] == "nl"
        assert (r.json()["title"], r.json()["detail"]) == (
            "Niet gevonden", f"geen signaal {missing} in uw organisatie")
        r = await client.get(f"/v1/signals/{missing}", headers={**coord, "Accept-Language": "en"})
        assert (r.json()["title"], r.json()["detail"]) == (
            "Not found", f"no signal {missing} in your organisation")
        bad = await client.post("/v1/signals", json={"category": "nonsense"},
                                headers={**auth("field-worker"), "Accept-Language": "fr"})
        assert bad.status_code == 400 and bad.headers["content-language"] == "nl"
        reasons = {p["name"]: (p["code"], p["reason"]) for p in bad.json()["invalidParams"]}
        assert reasons["body.category"] == ("unknown_category",
                                            "geen categorie van GET /v1/categories")


async def test_covenant_refusals_are_dutch_with_their_codes_kept(signals_service, auth) -> None:
    async with signals_service() as client:
        coord = auth("coordinator")
        signal = await create(client, auth("field-worker"))
        assert (await move(client, signal["id"], coord, "triaged")).status_code == 201
        body = {"partnerOrganisation": "demo-police", "purpose": "wijkteam-support"}
        path = f"/v1/signals/{signal['id']}/referrals"
        dutch = await client.post(path, json=body, headers=coord)
        english = await client.post(path, json=body, headers={**coord, "Accept-Language": "en"})
        assert dutch.status_code == english.status_code == 422, dutch.text
        nl, en = dutch.json(), english.json()
        assert [r["code"] for r in nl["refusals"]] == [r["code"] for r in en["refusals"]]
        assert nl["title"] == "Kan niet worden verwerkt"
        assert nl["detail"].startswith("het convenant staat deze verwijzing niet toe: Het ")
        assert en["detail"].startswith("the covenant does not allow this referral: The ")
        assert all(a["message"] != b["message"] for a, b in zip(nl["refusals"], en["refusals"],
                                                                strict=True))
