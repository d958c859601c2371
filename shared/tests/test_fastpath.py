"""The speed-ups of shared.fastpath fail these tests when what they lean on changes."""

from __future__ import annotations

import gc

import httpx
from fastapi import FastAPI
from starlette.responses import PlainTextResponse

from shared.fastpath import (
    FLAT_COPIED,
    FLAT_SET_HERE,
    DirectRoute,
    api_route_parameters,
    freeze_startup_objects,
)


def test_include_flat_passes_on_every_parameter_of_api_route():
    """A parameter FastAPI adds to APIRoute.__init__ would otherwise be dropped silently
    from every route: copy it in include_flat (FLAT_COPIED), then adjust this test."""
    assert api_route_parameters() == set(FLAT_COPIED) | set(FLAT_SET_HERE)


async def test_a_direct_route_calls_its_endpoint_with_the_request_itself():
    """FastAPI's request handler would read the unannotated parameter as a required query
    parameter and answer 422: a 200 shows `get_route_handler` is what serves the route."""

    async def endpoint(req):  # type: ignore[no-untyped-def]
        return PlainTextResponse(f"{req.method} {req.url.path}")

    app = FastAPI()
    app.router.add_api_route("/direct", endpoint, methods=["POST"],
                             route_class_override=DirectRoute)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        r = await client.post("/direct")
    assert (r.status_code, r.text) == (200, "POST /direct")


def test_objects_of_start_up_are_frozen():
    before = gc.get_freeze_count()
    freeze_startup_objects()
    try:
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
