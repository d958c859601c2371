"""The signals service's code lists, labelled in Dutch and English.

Codes are contracts; labels are for people and follow the request's language
(`shared.i18n.current_language`). The labels live with their codes' configuration:
`labels.toml` next to this module (statuses, severities, outcomes, reasons, ...),
`categories/taxonomy.toml` (categories, subcategories, partner types) and
`covenants/covenants.toml` (purposes, read purposes). `GET /v1/code-lists` serves them all.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, computed_field
from pydantic.alias_generators import to_camel

from shared import i18n

#: The lists of labels.toml, in the order the code-lists document shows them.
OWN_LISTS = ("signal-status", "signal-sort", "severity", "outcome", "referral-status",
             "referral-step", "hand-back-reason", "withdrawal-reason", "sensitivity",
             "consent-status", "refusal", "legal-basis", "role", "access-outcome",
             "erasure-kind", "erasure-reason")
#: A subcategory is labelled within its category: "category/subcategory".
SUBCATEGORY = "subcategory"


@functools.cache
def code_lists() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """Every list: name -> code -> {"nl": ..., "en": ...}; read once per process."""
    from services.signals.categories.taxonomy import load_taxonomy
    from services.signals.covenants.registry import load_covenants

    book = i18n.catalogue().labels
    lists: dict[str, dict[str, dict[str, str]]] = {name: dict(book[name]) for name in OWN_LISTS}
    taxonomy, covenants = load_taxonomy(), load_covenants()
    lists["category"] = {c.code: _pair(c.label_nl, c.label_en) for c in taxonomy.categories}
    lists[SUBCATEGORY] = {f"{c.code}/{s.code}": _pair(s.label_nl, s.label_en)
                          for c in taxonomy.categories for s in c.subcategories}
    lists["partner-type"] = {p.code: _pair(p.label_nl, p.label_en)
                             for p in taxonomy.partner_types}
    lists["purpose"] = {p.code: _pair(p.label_nl, p.label_en)
                        for p in covenants.purposes.values()}
    lists["read-purpose"] = {p.code: _pair(p.label_nl, p.label_en)
                             for p in covenants.read_purposes.values()}
    return lists


def _pair(nl: str, en: str) -> dict[str, str]:
    return {"nl": nl, "en": en}


def label(list_name: str, code: str | None) -> str | None:
    """The code's label in the request's language; None for no code or an unlisted one."""
    if code is None:
        return None
    texts = code_lists()[list_name].get(str(code))
    return None if texts is None else texts[i18n.current_language()]


def subcategory_label(category: str | None, subcategory: str | None) -> str | None:
    if category is None or subcategory is None:
        return None
    return label(SUBCATEGORY, f"{category}/{subcategory}")


LABEL = "The label of {} in the language of the answer (Content-Language); see /code-lists"


def code_label(field: str, *lists: str, note: str = "") -> Any:
    """A schema's computed `<field>Label`: the label of its code `field` in the first of `lists`
    that has it, in the answer's language."""

    def of(model: BaseModel) -> str | None:
        code = getattr(model, field)
        return next((text for name in lists if (text := label(name, code)) is not None), None)

    return computed_field(description=LABEL.format(to_camel(field)) + note)(property(of))
