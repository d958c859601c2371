"""The indicators service: area register, neighbourhood indicators, vulnerability index."""

from __future__ import annotations

from fastapi import FastAPI

from services.indicators.cbs_csv import MAX_KERNCIJFERS_BYTES
from services.indicators.maps.endpoints import router as maps_router
from services.indicators.maps.geometries import MAX_GEOMETRY_BYTES
from services.indicators.publication.endpoints import router as publication_router
from services.indicators.register.endpoints import router as register_router
from services.indicators.reporting.endpoints import router as reporting_router
from services.indicators.runtime import IndicatorsRuntime
from services.indicators.settings import Settings
from shared.api import create_app


def build(settings: Settings | None = None) -> FastAPI:
    s = settings or Settings()
    return create_app(
        s,
        title="Dicht de kloof: indicators",
        description="The register of areas with open statistics, neighbourhood indicators "
        "computed from the signal stream, and a composite vulnerability index. Every output "
        "for a non-admin is under disclosure control (docs/disclosure.md): counts of 1-4 are "
        "withheld (`small-count`), other counts carry a consistent cell-key perturbation of at "
        "most 4, rates on fewer than 20 dwellings or shares of fewer than 100 households are "
        "refused (`small-denominator`), and further cells are withheld (`secondary`: 1 or "
        "more) so that no withheld count can be worked out from other figures. Those who "
        "record signals read every organisation's figures of final periods only.",
        routers=[register_router, reporting_router, publication_router, maps_router],
        runtime=lambda: IndicatorsRuntime.of(s),
        # A whole CBS Kerncijfers file: larger than an API body, still bounded on the bytes read.
        body_limits={"/v1/areas/import": MAX_KERNCIJFERS_BYTES,
                     "/v1/area-geometries/import": MAX_GEOMETRY_BYTES},
    )


def app() -> FastAPI:
    """uvicorn factory: `uvicorn --factory services.indicators.app:app`."""
    return build()
