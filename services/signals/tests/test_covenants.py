import copy
import tomllib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.signals.casework.workflow import Severity
from services.signals.categories.taxonomy import Sensitivity, load_taxonomy
from services.signals.covenants.registry import (
    DEFAULT_COVENANTS_PATH,
    RENT_ARREARS_STATUTORY_FIELDS,
    CovenantConfigError,
    LegalBasis,
    ReferralField,
    ReferralSubject,
    RefusalCode,
    RentArrearsPreconditions,
    check_referral,
    load_covenants,
    parse_covenants,
)

F = ReferralField
R = RefusalCode
T = datetime(2025, 2, 1, tzinfo=UTC)
WIJKTEAM = frozenset({"wijkteam-support"})
REGISTRY = load_covenants()
TAXONOMY = load_taxonomy()
DONE = RentArrearsPreconditions(
    personal_contact_attempted_at=T, debt_help_pointed_at=T, written_reminder_at=T
)


def raw_config():
    with DEFAULT_COVENANTS_PATH.open("rb") as f:
        return tomllib.load(f)


def codes(decision):
    return {r.code for r in decision.reasons}


def arrears(pre=DONE, **kw):
    return ReferralSubject(
        "rent-arrears", Severity.MEDIUM, has_address=True, rent_arrears=pre, **kw
    )


def test_demo_organisations_and_purposes():
    assert {
        "demo-corp-a",
        "demo-corp-b",
        "demo-municipality",
        "demo-ggz",
        "demo-police",
    } <= set(REGISTRY.organisations)
    municipality = REGISTRY.covenant("demo-municipality")
    assert municipality is not None
    assert {"wijkteam", "debt-help"} <= set(municipality.partner_types)
    assert REGISTRY.purpose("vroegsignalering-schulden").legal_basis is LegalBasis.LEGAL_OBLIGATION
    assert (
        "Besluit gemeentelijke schuldhulpverlening"
        in REGISTRY.purposes["vroegsignalering-schulden"].reference
    )
    assert load_covenants() is load_covenants()


# --------------------------------------------------------------------------- vroegsignalering


def test_vroegsignalering_with_all_preconditions_exposes_only_contact_and_amount():
    decision = check_referral(arrears(), "demo-municipality", "vroegsignalering-schulden")
    assert decision.allowed and decision.reasons == ()
    assert decision.exposed_fields == {F.ADDRESS, F.CONTACT, F.ARREARS_AMOUNT_CENTS}
    assert F.ARREARS_SINCE not in decision.exposed_fields
    assert decision.purpose is not None and decision.purpose.code == "vroegsignalering-schulden"


@pytest.mark.parametrize(
    ("missing", "camel"),
    [
        ("personal_contact_attempted_at", "personalContactAttemptedAt"),
        ("debt_help_pointed_at", "debtHelpPointedAt"),
        ("written_reminder_at", "writtenReminderAt"),
    ],
)
def test_vroegsignalering_refused_without_each_precondition(missing, camel):
    pre = DONE.model_copy(update={missing: None})
    decision = check_referral(arrears(pre), "demo-municipality", "vroegsignalering-schulden")
    assert not decision.allowed and decision.exposed_fields == frozenset()
    assert codes(decision) == {R.RENT_ARREARS_PRECONDITION_MISSING}
    assert camel in decision.messages[0] and "art. 2" in decision.messages[0]


def test_vroegsignalering_refused_when_tenant_objected_or_no_contact_details():
    objected = DONE.model_copy(update={"tenant_objected": True})
    decision = check_referral(arrears(objected), "demo-municipality", "vroegsignalering-schulden")
    assert codes(decision) == {R.TENANT_OBJECTED}
    nothing = ReferralSubject("rent-arrears", Severity.LOW, rent_arrears=DONE)
    decision = check_referral(nothing, "demo-municipality", "vroegsignalering-schulden")
    assert codes(decision) == {R.NO_CONTACT_DETAILS}


def test_all_missing_preconditions_are_reported_at_once():
    decision = check_referral(
        arrears(RentArrearsPreconditions(tenant_objected=True)),
        "demo-municipality",
        "vroegsignalering-schulden",
    )
    assert len(decision.reasons) == 4
    assert all(str(r) == r.message for r in decision.reasons)


def test_rent_arrears_with_consent_goes_without_the_statutory_limits():
    subject = ReferralSubject("rent-arrears", Severity.MEDIUM,
                              consented=frozenset({"debt-help-referral"}))
    decision = check_referral(subject, "demo-municipality", "debt-help-referral")
    assert decision.allowed
    assert {F.NOTE, F.ARREARS_SINCE} <= decision.exposed_fields


def test_a_covenant_cannot_widen_the_statutory_fields():
    data = raw_config()
    data["organisations"]["demo-municipality"]["purposes"]["vroegsignalering-schulden"].append(
        "note"
    )
    with pytest.raises(CovenantConfigError, match="only contact details and the amount"):
        parse_covenants(data, TAXONOMY)


def test_renamed_statutory_purpose_keeps_its_limits():
    data = raw_config()
    data["purposes"]["vroeg-2"] = copy.deepcopy(data["purposes"]["vroegsignalering-schulden"])
    data["organisations"]["demo-municipality"]["purposes"]["vroeg-2"] = ["address", "note"]
    with pytest.raises(CovenantConfigError, match="vroeg-2 exposes note"):
        parse_covenants(data, TAXONOMY)


# --------------------------------------------------------------------------- care data and police


@pytest.mark.parametrize("severity", [Severity.LOW, Severity.MEDIUM, Severity.HIGH])
def test_care_need_never_goes_to_police_unless_acute(severity):
    subject = ReferralSubject("care-need", severity, subcategory="confused-behaviour")
    for purpose in ("police-acute-threat", "police-crime-report"):
        decision = check_referral(subject, "demo-police", purpose)
        assert not decision.allowed and decision.exposed_fields == frozenset()
    decision = check_referral(subject, "demo-police", "police-acute-threat")
    assert R.CARE_DATA_TO_POLICE in codes(decision)


def test_acute_care_need_goes_to_police_with_details():
    subject = ReferralSubject("care-need", Severity.ACUTE, subcategory="confused-behaviour")
    decision = check_referral(subject, "demo-police", "police-acute-threat")
    assert decision.allowed
    assert {F.NOTE, F.SUBCATEGORY} <= decision.exposed_fields
    # Still not as a crime report, whatever the severity.
    report = check_referral(subject, "demo-police", "police-crime-report")
    assert {R.CATEGORY_NOT_FOR_PURPOSE, R.CARE_DATA_TO_POLICE} <= codes(report)


def test_acute_threat_purpose_needs_acute_severity():
    subject = ReferralSubject("unsafe-situation", Severity.HIGH, subcategory="danger")
    assert codes(check_referral(subject, "demo-police", "police-acute-threat")) == {
        R.SEVERITY_TOO_LOW
    }


def test_special_category_needs_an_art_9_basis():
    data = raw_config()
    del data["purposes"]["ggz-care-referral"]["special_category_basis"]
    with pytest.raises(CovenantConfigError, match="needs a special_category_basis"):
        parse_covenants(data, TAXONOMY)


# --------------------------------------------------------------------------- general rules


@pytest.mark.parametrize(
    ("subject", "org", "purpose", "code"),
    [
        (arrears(), "demo-nobody", "vroegsignalering-schulden", R.UNKNOWN_ORGANISATION),
        (arrears(), "demo-municipality", "fishing", R.UNKNOWN_PURPOSE),
        (arrears(), "demo-police", "vroegsignalering-schulden", R.PURPOSE_NOT_IN_COVENANT),
        (arrears(), "demo-corp-b", "vroegsignalering-schulden", R.PURPOSE_NOT_IN_COVENANT),
        (
            ReferralSubject("knitting", Severity.LOW),
            "demo-municipality",
            "wijkteam-support",
            R.UNKNOWN_CATEGORY,
        ),
        (
            ReferralSubject("loneliness", Severity.LOW, consented=WIJKTEAM),
            "demo-municipality",
            "woonoverlast-aanpak",
            R.CATEGORY_NOT_FOR_PURPOSE,
        ),
        (
            ReferralSubject("nuisance", Severity.HIGH, subcategory="noise"),
            "demo-police",
            "police-crime-report",
            R.SUBCATEGORY_NOT_FOR_PURPOSE,
        ),
        (
            ReferralSubject("nuisance", Severity.HIGH),
            "demo-police",
            "police-crime-report",
            R.SUBCATEGORY_NOT_FOR_PURPOSE,
        ),
        (
            ReferralSubject("loneliness", Severity.LOW),
            "demo-municipality",
            "wijkteam-support",
            R.CONSENT_MISSING,
        ),
    ],
)
def test_refusals(subject, org, purpose, code):
    decision = check_referral(subject, org, purpose)
    assert not decision.allowed
    assert code in codes(decision)
    assert decision.exposed_fields == frozenset()
    assert all(r.message for r in decision.reasons)


def test_allowed_referrals_expose_the_covenant_fields():
    dv = ReferralSubject("unsafe-situation", Severity.HIGH, subcategory="domestic-violence")
    decision = check_referral(dv, "demo-veilig-thuis", "veilig-thuis-melding")
    assert decision.allowed
    assert (
        decision.exposed_fields
        == REGISTRY.organisations["demo-veilig-thuis"].purposes["veilig-thuis-melding"]
    )
    lonely = ReferralSubject("loneliness", Severity.LOW, consented=WIJKTEAM)
    decision = check_referral(lonely, "demo-municipality", "wijkteam-support")
    assert decision.allowed and F.NOTE in decision.exposed_fields


def test_taxonomy_receivers_are_checked_at_run_time_too():
    data = raw_config()
    narrower = load_taxonomy().model_copy(deep=True)
    registry = parse_covenants(data, narrower)
    # A taxonomy that no longer lets wijkteam receive loneliness refuses at run time.
    categories = tuple(
        c.model_copy(update={"partner_types": ()}) if c.code == "loneliness" else c
        for c in narrower.categories
    )
    changed = narrower.model_copy(update={"categories": categories})
    lonely = ReferralSubject("loneliness", Severity.LOW, consented=WIJKTEAM)
    decision = check_referral(
        lonely, "demo-municipality", "wijkteam-support", registry=registry, taxonomy=changed
    )
    assert codes(decision) == {R.CATEGORY_NOT_FOR_PARTNER_TYPE}


def purpose(d):
    return d["purposes"]


def orgs(d):
    return d["organisations"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: purpose(d)["wijkteam-support"].update(partner_type="bakery"),
            "unknown partner type",
        ),
        (
            lambda d: purpose(d)["wijkteam-support"]["categories"].append("knitting"),
            "unknown category",
        ),
        (
            lambda d: purpose(d)["ggz-care-referral"]["categories"].append("rent-arrears"),
            "ggz may not receive rent-arrears",
        ),
        (
            lambda d: purpose(d)["police-crime-report"]["subcategories"].update(nuisance=["mould"]),
            "unknown subcategory",
        ),
        (
            lambda d: purpose(d)["veilig-thuis-melding"]["subcategories"].update(
                nuisance=["noise"]
            ),
            "does not list",
        ),
        (lambda d: orgs(d)["demo-ggz"]["purposes"].update(fishing=["note"]), "unknown purpose"),
        (
            lambda d: orgs(d)["demo-ggz"]["purposes"].update({"police-acute-threat": ["note"]}),
            "which the organisation is not",
        ),
        (
            lambda d: orgs(d)["demo-ggz"]["purposes"].update({"ggz-care-referral": []}),
            "exposes nothing",
        ),
        (
            lambda d: orgs(d)["demo-ggz"].update(partner_types=["ggz", "bakery"]),
            "unknown partner type",
        ),
    ],
)
def test_inconsistent_config_is_rejected(mutate, message):
    data = raw_config()
    mutate(data)
    with pytest.raises(CovenantConfigError, match=message):
        parse_covenants(data, TAXONOMY)


def test_unknown_field_name_is_rejected():
    data = raw_config()
    data["organisations"]["demo-ggz"]["purposes"]["ggz-care-referral"].append("bsn")
    with pytest.raises(ValueError, match="bsn"):
        parse_covenants(data, TAXONOMY)


def test_unreadable_file_is_a_config_error(tmp_path):
    broken = tmp_path / "covenants.toml"
    broken.write_text("[purposes\n")
    with pytest.raises(CovenantConfigError, match="invalid covenants"):
        load_covenants(broken)


# --------------------------------------------------------------------------- properties

optional_time = st.none() | st.just(T)
subjects = st.builds(
    ReferralSubject,
    category=st.sampled_from([c.code for c in TAXONOMY.categories]),
    severity=st.sampled_from(Severity),
    subcategory=st.none()
    | st.sampled_from(sorted({s.code for c in TAXONOMY.categories for s in c.subcategories})),
    has_address=st.booleans(),
    has_contact=st.booleans(),
    consented=st.frozensets(st.sampled_from(sorted(REGISTRY.purposes)), max_size=3),
    objected=st.frozensets(st.sampled_from(sorted(REGISTRY.purposes)), max_size=2),
    rent_arrears=st.builds(
        RentArrearsPreconditions,
        personal_contact_attempted_at=optional_time,
        debt_help_pointed_at=optional_time,
        written_reminder_at=optional_time,
        tenant_objected=st.booleans(),
    ),
)
targets = st.sampled_from(
    [(org, purpose) for org, c in REGISTRY.organisations.items() for purpose in c.purposes]
    + [("demo-corp-a", "wijkteam-support"), ("demo-police", "ggz-care-referral")]
)


@given(subjects, targets)
def test_decision_invariants(subject, target):
    org, purpose_code = target
    decision = check_referral(subject, org, purpose_code)
    assert decision.allowed == (not decision.reasons)
    if not decision.allowed:
        assert decision.exposed_fields == frozenset()
        return
    purpose = REGISTRY.purposes[purpose_code]
    category = TAXONOMY.get(subject.category)
    assert decision.exposed_fields <= REGISTRY.organisations[org].purposes[purpose_code]
    assert subject.category in purpose.categories
    assert category.may_receive(purpose.partner_type)
    if purpose.legal_basis is LegalBasis.CONSENT:
        assert purpose_code in subject.consented  # that purpose's own consent, no other
    assert purpose_code not in subject.objected
    if category.sensitivity is Sensitivity.SPECIAL and purpose.partner_type == "police":
        assert subject.severity is Severity.ACUTE
    if subject.category == "rent-arrears" and purpose.legal_basis is not LegalBasis.CONSENT:
        pre = subject.rent_arrears
        assert not pre.missing() and not pre.tenant_objected
        assert decision.exposed_fields <= RENT_ARREARS_STATUTORY_FIELDS


def test_one_consent_unlocks_only_its_own_purpose():
    lonely = ReferralSubject("rent-arrears", Severity.LOW, has_address=True,
                             consented=frozenset({"debt-help-referral"}))
    assert check_referral(lonely, "demo-municipality", "debt-help-referral").allowed
    refused = check_referral(lonely, "demo-municipality", "wijkteam-support")
    assert codes(refused) == {R.CONSENT_MISSING}


def test_read_purposes_are_a_closed_list_per_role():
    assert REGISTRY.read_purposes_for("field-worker") == [
        "case-handling", "debt-outreach", "outreach"]
    assert REGISTRY.read_purposes_for("coordinator") == [
        "case-handling", "debt-outreach", "outreach", "triage"]
    assert REGISTRY.read_purposes_for("partner") == []
    assert REGISTRY.read_purposes_for("privacy-officer") == ["data-subject-access"]
    data = raw_config()
    data["read_purposes"]["snooping"] = {"label_nl": "x", "label_en": "x", "roles": ["janitor"]}
    with pytest.raises(CovenantConfigError, match="unknown role 'janitor'"):
        parse_covenants(data, TAXONOMY)
