"""The taxonomy: what can be reported, how sensitive it is, how long it is kept."""

from __future__ import annotations

from fastapi import APIRouter

from services.signals.categories.taxonomy import Taxonomy, load_taxonomy
from services.signals.dependencies import CurrentPrincipal

router = APIRouter(tags=["categories"])


@router.get("/categories", response_model=Taxonomy)
async def list_categories(_: CurrentPrincipal) -> Taxonomy:
    """Signal categories with labels, sensitivity, retention, SLA and partner types."""
    return load_taxonomy()
