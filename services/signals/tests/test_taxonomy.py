import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.signals.casework.workflow import Severity
from services.signals.categories import taxonomy
from services.signals.categories.taxonomy import (
    DEFAULT_TAXONOMY_PATH,
    Sensitivity,
    TaxonomyConfigError,
    UnknownCategory,
    load_taxonomy,
    parse_taxonomy,
)

TAXONOMY = load_taxonomy()
CATEGORY_CODES = [c.code for c in TAXONOMY.categories]


def raw_config():
    with DEFAULT_TAXONOMY_PATH.open("rb") as f:
        return tomllib.load(f)


def test_required_categories_and_subcategories_are_present():
    expected = {
        "rent-arrears": set(),
        "financial-worries": set(),
        "nuisance": {"noise", "aggression", "drugs", "odour"},
        "neglect": {"home-neglect", "hoarding", "pollution"},
        "unsafe-situation": {"danger", "suspected-crime", "domestic-violence"},
        "care-need": {"confused-behaviour", "mental-health", "self-neglect"},
        "loneliness": set(),
        "youth-concern": set(),
        "housing-quality": {"damp", "mould", "defects"},
        "other": set(),
    }
    for code, subcategories in expected.items():
        assert {s.code for s in taxonomy.get(code).subcategories} == subcategories


def test_partner_types():
    codes = {p.code for p in TAXONOMY.partner_types}
    assert {"wijkteam", "debt-help", "ggz", "police", "municipality"} <= codes
    assert TAXONOMY.partner_type("ggz") is not None
    assert TAXONOMY.partner_type("nope") is None


def test_only_care_need_is_special():
    special = {c.code for c in TAXONOMY.categories if c.sensitivity is Sensitivity.SPECIAL}
    assert special == {"care-need"}


def test_every_category_has_labels_retention_and_sla():
    for category in TAXONOMY.categories:
        assert category.label_nl and category.label_en and category.description
        assert category.retention_days > 0 and category.sla_days > 0


def test_json_shape_is_camel_case():
    dumped = taxonomy.get("care-need").model_dump(by_alias=True, mode="json")
    assert {
        "code",
        "labelNl",
        "labelEn",
        "description",
        "sensitivity",
        "retentionDays",
        "slaDays",
        "maxOpenDays",
        "partnerTypes",
        "subcategories",
        "subcategoryRequired",
        "escalateAt",
    } == set(dumped)
    assert dumped["sensitivity"] == "special"
    assert dumped["subcategories"][0] == {
        "code": "confused-behaviour",
        "labelNl": "Verward gedrag",
        "labelEn": "Confused behaviour",
    }


def test_models_are_frozen():
    with pytest.raises(ValidationError):
        taxonomy.get("nuisance").sla_days = 99


def test_load_is_cached():
    assert load_taxonomy() is load_taxonomy()


@pytest.mark.parametrize(
    ("category", "subcategory", "valid"),
    [
        ("nuisance", "noise", True),
        ("nuisance", None, True),  # subcategories are optional by default
        ("nuisance", "mould", False),  # belongs to another category
        ("loneliness", None, True),
        ("loneliness", "noise", False),  # category without subcategories
        ("care-need", "mental-health", True),
        ("unknown", None, False),
        ("Nuisance", "noise", False),
    ],
)
def test_is_valid(category, subcategory, valid):
    assert taxonomy.is_valid(category, subcategory) is valid


def test_unknown_category_raises():
    with pytest.raises(UnknownCategory, match="'nope'"):
        taxonomy.get("nope")
    assert TAXONOMY.find("nope") is None
    with pytest.raises(UnknownCategory):
        taxonomy.escalates("nope", Severity.ACUTE)


@given(st.sampled_from(CATEGORY_CODES), st.sampled_from(Severity))
def test_escalates_only_acute_unsafe_situations_and_care_needs(category, severity):
    expected = category in {"unsafe-situation", "care-need"} and severity is Severity.ACUTE
    assert taxonomy.escalates(category, severity) is expected


def test_subcategory_required_is_enforced_when_configured():
    data = raw_config()
    for category in data["categories"]:
        if category["code"] == "nuisance":
            category["subcategory_required"] = True
    strict = parse_taxonomy(data)
    assert not strict.is_valid("nuisance", None)
    assert strict.is_valid("nuisance", "drugs")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["categories"].append(dict(d["categories"][0])), "duplicate category"),
        (lambda d: d["categories"][0].update(partner_types=["bakery"]), "unknown partner types"),
        (lambda d: d["categories"][0].update(code="Rent_Arrears"), "pattern"),
        (lambda d: d["categories"][0].update(retention_days=0), "greater than 0"),
        (lambda d: d["categories"][0].update(sensitivity="secret"), "sensitivity"),
        (lambda d: d["categories"][0].update(subcategory_required=True), "requires a subcategory"),
        (lambda d: d["categories"][0].update(colour="red"), "Extra inputs"),
        (
            lambda d: d["categories"][2]["subcategories"].append(
                dict(d["categories"][2]["subcategories"][0])
            ),
            "duplicate subcategory",
        ),
    ],
)
def test_invalid_config_is_rejected(mutate, message):
    data = raw_config()
    mutate(data)
    with pytest.raises(ValidationError, match=message):
        parse_taxonomy(data)


def test_unreadable_file_is_a_config_error(tmp_path):
    broken = tmp_path / "taxonomy.toml"
    broken.write_text("version = ")
    with pytest.raises(TaxonomyConfigError, match="invalid taxonomy"):
        load_taxonomy(broken)
    with pytest.raises(TaxonomyConfigError):
        load_taxonomy(tmp_path / "missing.toml")
