"""The API documentation page, `/v1/docs`: Swagger UI served from here, under a strict CSP.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, so on a
machine without internet, or in a locked-down government network, it is a blank page, and it
cannot run under a Content-Security-Policy without `'unsafe-inline'`. Here the Swagger UI files
come from a pinned package (`fastapi-offline`, its `static/` folder; nothing of it is
committed), the start-up script is a file of our own, and the page's policy allows scripts,
styles, fonts and requests from this origin only. Swagger UI's validator badge (a request to
an outside service) is off.
"""

from __future__ import annotations

import functools
import html
from importlib.resources import files
from typing import Final

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from shared.problems import NotFound

DOCS: Final = "/v1/docs"
OPENAPI: Final = "/v1/openapi.json"
#: Everything from this origin only; no inline script or style, no frames, no forms.
CSP: Final = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'none'")
ASSETS_MAX_AGE_S: Final = 86400  # the files change only with the pinned package

# name -> media type: the Swagger UI files the page may load (nothing else is served).
PACKAGED: Final = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}

INIT_JS: Final = f"""\
"use strict";
// Starts Swagger UI; a file of its own so the page needs no inline script (CSP).
window.addEventListener("load", function () {{
  window.ui = SwaggerUIBundle({{
    url: "{OPENAPI}",
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null
  }});
}});
"""


def page(title: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} - API documentation</title>
<link rel="icon" type="image/png" href="{DOCS}/favicon.png">
<link rel="stylesheet" href="{DOCS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS}/swagger-ui-bundle.js"></script>
<script src="{DOCS}/init.js"></script>
</body>
</html>
"""


@functools.cache
def packaged(name: str) -> bytes:
    """A Swagger UI file from the pinned package, read once."""
    return (files("fastapi_offline") / "static" / name).read_bytes()


def docs_router(title: str) -> APIRouter:
    """The page and its files, outside the OpenAPI document."""
    router = APIRouter(include_in_schema=False)
    text = page(title)

    @router.get(DOCS, response_class=HTMLResponse)
    async def docs() -> Response:
        return HTMLResponse(text, headers={"Content-Security-Policy": CSP,
                                           "Cache-Control": "public, max-age=300"})

    @router.get(DOCS + "/{asset}")
    async def docs_asset(asset: str) -> Response:
        if asset == "init.js":
            content, media_type = INIT_JS.encode(), "text/javascript; charset=utf-8"
        elif asset in PACKAGED:
            content, media_type = packaged(asset), PACKAGED[asset]
        else:
            raise NotFound("no such file of the documentation page")
        return Response(content, media_type=media_type, headers={
            "Content-Security-Policy": CSP,
            "Cache-Control": f"public, max-age={ASSETS_MAX_AGE_S}"})

    return router
