"""Every code the funding service shows, with its Dutch and English labels (labels.toml).

The console shows a label, never a code; it fetches these lists like the signals service's
(`GET /v1/code-lists`, the same shape) and keeps them a few minutes per language. A theme is
a code a programme chooses itself: the `theme` list labels the usual ones, and a code it does
not know shows as the code.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from services.funding.programmes.schemas import Camel
from shared.auth import CurrentPrincipal
from shared.i18n import catalogue, current_language

router = APIRouter(tags=["code-lists"])

#: The lists of labels.toml, in the order the answer shows them.
LISTS = ("scenario-status", "allocation-level", "base-kind", "infeasible-constraint",
         "binding-constraint", "theme")


class CodeItem(Camel):
    code: str
    label: str = Field(description="In the language of the answer (Content-Language)")
    label_nl: str
    label_en: str


class CodeLists(Camel):
    """Every code list; a code not listed (a programme's own theme) shows as itself."""

    language: str = Field(description="The language of `label`: nl (default) or en")
    lists: dict[str, list[CodeItem]] = Field(description="By list: " + ", ".join(LISTS))


@router.get("/code-lists", response_model=CodeLists)
async def list_codes(_: CurrentPrincipal) -> CodeLists:
    """Every code the API shows, with its label in Dutch and English, for consoles.

    `label` follows `Accept-Language` (nl by default, en on request); `labelNl` and
    `labelEn` are always both there. Codes are the contract; labels may be reworded."""
    lang, book = current_language(), catalogue().labels
    return CodeLists(language=lang, lists={
        name: [CodeItem(code=code, label=texts[lang], label_nl=texts["nl"],
                        label_en=texts["en"]) for code, texts in book[name].items()]
        for name in LISTS})
