"""The taxonomy: what can be reported, how sensitive it is, how long it is kept; and every
code list of the API with its Dutch and English labels."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import Field

from services.signals.categories.taxonomy import Taxonomy, load_taxonomy
from services.signals.covenants.registry import load_covenants
from services.signals.dependencies import CurrentPrincipal
from services.signals.labels import SUBCATEGORY, code_lists
from services.signals.schemas_common import Body
from shared.http_cache import cacheable
from shared.i18n import current_language

router = APIRouter(tags=["categories"])


@router.get("/categories", response_model=Taxonomy)
async def list_categories(_: CurrentPrincipal, response: Response) -> Taxonomy:
    """Signal categories with labels, sensitivity, retention, SLA and partner types.

    Cacheable for five minutes by any cache (`Cache-Control: public, max-age=300`): the same
    for every caller, no personal data; the taxonomy's `version` is in the body, so its ETag
    changes with it. Revalidate with `If-None-Match` (304)."""
    cacheable(response)
    return load_taxonomy()


class CodeItem(Body):
    code: str
    label: str = Field(description="In the language of the answer (Content-Language)")
    label_nl: str
    label_en: str
    category: str | None = Field(default=None, description="Of a subcategory: its category")
    roles: list[str] | None = Field(default=None, description=(
        "Of a read purpose: the roles that may give it (GET /v1/signals/{signalId}?purpose=)"))


class CodeLists(Body):
    """Every code list; a response field `xLabel` beside a code `x` takes its label here."""

    language: str = Field(description="The language of `label`: nl (default) or en")
    lists: dict[str, list[CodeItem]] = Field(description=(
        "By list: signal-status, signal-sort, severity, outcome, referral-status, "
        "referral-step, hand-back-reason, withdrawal-reason, sensitivity, consent-status, "
        "refusal, legal-basis, role, access-outcome, erasure-kind, erasure-reason, category, "
        "subcategory, partner-type, purpose, read-purpose"))


@router.get("/code-lists", response_model=CodeLists)
async def list_codes(_: CurrentPrincipal) -> CodeLists:
    """Every code the API shows, with its label in Dutch and English, for apps and consoles.

    `label` follows `Accept-Language` (nl by default, en on request); `labelNl` and
    `labelEn` are always both there. Codes are the contract; labels may be reworded."""
    lang = current_language()
    read_roles = {p.code: list(p.roles) for p in load_covenants().read_purposes.values()}
    lists: dict[str, list[CodeItem]] = {}
    for name, codes in code_lists().items():
        items = []
        for code, texts in codes.items():
            parent, own = code.rsplit("/", 1) if name == SUBCATEGORY else ("", code)
            items.append(CodeItem(code=own, label=texts[lang], label_nl=texts["nl"],
                                  label_en=texts["en"], category=parent or None,
                                  roles=read_roles.get(own) if name == "read-purpose" else None))
        lists[name] = items
    return CodeLists(language=lang, lists=lists)
