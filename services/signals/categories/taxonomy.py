"""The signal taxonomy, loaded from `taxonomy.toml` into frozen, validated models.

The taxonomy is configuration: categories, their subcategories, sensitivity, retention, SLA
and which partner types may receive them. The models double as the `GET /v1/categories`
response (camelCase by alias: `model_dump(by_alias=True)`).

Decision: a subcategory is optional, also for categories that have subcategories. Field staff
report from a doorstep and should not have to guess (is it confused behaviour or a
mental-health problem?); triage refines it. A category may still demand one with
`subcategory_required = true`. A subcategory that does not belong to the category is invalid,
and so is any subcategory on a category without subcategories.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, ValidationError, model_validator

from services.signals.casework.workflow import Severity
from services.signals.schemas_common import Frozen

DEFAULT_TAXONOMY_PATH = Path(__file__).with_name("taxonomy.toml")

#: Lower-case kebab-case, the shape of every code in the taxonomy and the API.
KEBAB_CASE = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
Code = Annotated[str, Field(pattern=KEBAB_CASE, max_length=64)]
Label = Annotated[str, Field(min_length=1, max_length=120)]


class Sensitivity(StrEnum):
    NORMAL = "normal"
    #: A special category of personal data (GDPR art. 9): health and care.
    SPECIAL = "special"


class TaxonomyModel(Frozen):
    """A part of the taxonomy, as read from taxonomy.toml."""


class PartnerType(TaxonomyModel):
    code: Code
    label_nl: Label
    label_en: Label
    description: str = ""


class Subcategory(TaxonomyModel):
    code: Code
    label_nl: Label
    label_en: Label


class Category(TaxonomyModel):
    code: Code
    label_nl: Label
    label_en: Label
    description: str
    sensitivity: Sensitivity
    retention_days: int = Field(
        gt=0, description="Days the personal part of a signal is kept after it is closed."
    )
    sla_days: int = Field(gt=0, description="Days from intake to the first action.")
    max_open_days: int = Field(
        default=730, gt=0, description="Days from intake after which a signal that was never "
        "closed loses its personal part all the same."
    )
    partner_types: tuple[Code, ...] = Field(
        description="Partner types that may receive a referral of this category; none: the "
        "reporting corporation handles it itself."
    )
    subcategories: tuple[Subcategory, ...] = ()
    subcategory_required: bool = False
    escalate_at: Severity | None = Field(
        default=None, description="From this severity on, a signal raises an escalation."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        codes = [s.code for s in self.subcategories]
        if len(codes) != len(set(codes)):
            raise ValueError(f"category {self.code!r}: duplicate subcategory codes")
        if len(self.partner_types) != len(set(self.partner_types)):
            raise ValueError(f"category {self.code!r}: duplicate partner types")
        if self.subcategory_required and not self.subcategories:
            raise ValueError(f"category {self.code!r}: requires a subcategory but has none")
        return self

    def subcategory(self, code: str) -> Subcategory | None:
        return next((s for s in self.subcategories if s.code == code), None)

    def may_receive(self, partner_type: str) -> bool:
        return partner_type in self.partner_types


class UnknownCategory(LookupError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"Unknown signal category {code!r}.")


class TaxonomyConfigError(ValueError):
    """The taxonomy file is missing, unreadable or inconsistent."""


class Taxonomy(TaxonomyModel):
    version: str
    partner_types: tuple[PartnerType, ...] = Field(min_length=1)
    categories: tuple[Category, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, codes in (
            ("partner type", [p.code for p in self.partner_types]),
            ("category", [c.code for c in self.categories]),
        ):
            duplicates = sorted({c for c in codes if codes.count(c) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} codes: {', '.join(duplicates)}")
        known = {p.code for p in self.partner_types}
        for category in self.categories:
            unknown = sorted(set(category.partner_types) - known)
            if unknown:
                raise ValueError(
                    f"category {category.code!r} names unknown partner types: {', '.join(unknown)}"
                )
        return self

    # Lookups scan the tuple: ten categories, and no cached index that `model_copy` could
    # carry over stale.
    def find(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def get(self, code: str) -> Category:
        category = self.find(code)
        if category is None:
            raise UnknownCategory(code)
        return category

    def partner_type(self, code: str) -> PartnerType | None:
        return next((p for p in self.partner_types if p.code == code), None)

    def is_valid(self, category: str, subcategory: str | None = None) -> bool:
        """Whether the pair may be recorded on a signal (see the module docstring)."""
        found = self.find(category)
        if found is None:
            return False
        if subcategory is None:
            return not found.subcategory_required
        return found.subcategory(subcategory) is not None

    def escalates(self, category: str, severity: Severity) -> bool:
        """Whether a signal of this category and severity raises an escalation."""
        threshold = self.get(category).escalate_at
        return threshold is not None and severity.at_least(threshold)


def parse_taxonomy(data: Mapping[str, Any]) -> Taxonomy:
    """Validate the TOML document's shape (partner types are a table keyed by code)."""
    raw = dict(data)
    partner_types = raw.get("partner_types", {})
    if isinstance(partner_types, Mapping):
        raw["partner_types"] = [
            {"code": code, **(fields if isinstance(fields, Mapping) else {})}
            for code, fields in partner_types.items()
        ]
    return Taxonomy.model_validate(raw)


@functools.cache
def load_taxonomy(path: Path = DEFAULT_TAXONOMY_PATH) -> Taxonomy:
    """Read and validate the taxonomy once per path; raises `TaxonomyConfigError`."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
        return parse_taxonomy(data)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise TaxonomyConfigError(f"invalid taxonomy {path}: {exc}") from exc


def get(code: str) -> Category:
    """The category with this code from the default taxonomy; raises `UnknownCategory`."""
    return load_taxonomy().get(code)


def is_valid(category: str, subcategory: str | None = None) -> bool:
    return load_taxonomy().is_valid(category, subcategory)


def escalates(category: str, severity: Severity) -> bool:
    return load_taxonomy().escalates(category, severity)
