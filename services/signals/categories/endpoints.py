"""The taxonomy: what can be reported, how sensitive it is, how long it is kept."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.signals.categories.taxonomy import Taxonomy, load_taxonomy
from services.signals.dependencies import CurrentPrincipal
from shared.http_cache import cacheable

router = APIRouter(tags=["categories"])


@router.get("/categories", response_model=Taxonomy)
async def list_categories(_: CurrentPrincipal, response: Response) -> Taxonomy:
    """Signal categories with labels, sensitivity, retention, SLA and partner types.

    Cacheable for five minutes by any cache (`Cache-Control: public, max-age=300`): the same
    for every caller, no personal data; the taxonomy's `version` is in the body, so its ETag
    changes with it. Revalidate with `If-None-Match` (304)."""
    cacheable(response)
    return load_taxonomy()
